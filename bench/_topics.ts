/** Benchmarks write gigabytes per run: their topics are removed afterwards. */
import { Kafka, logLevel } from "kafkajs";

export async function deleteTopic(brokers: string, topic: string): Promise<void> {
  const admin = new Kafka({ brokers: [brokers], clientId: "bench", logLevel: logLevel.NOTHING })
    .admin();
  try {
    await admin.connect();
    await admin.deleteTopics({ topics: [topic] });
  } catch (error) {
    console.error(`could not delete topic ${topic}: ${(error as Error).message}`);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Produces `count` seeded events (0.1% bad records, as fast as the broker
 * takes them) into `topic` with `lakehouse generate`.
 */
export async function preloadTopic(
  brokers: string,
  topic: string,
  count: number,
  seed: string,
): Promise<void> {
  console.log(`preloading ${count} events into ${topic}...`);
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      new URL("../main.ts", import.meta.url).pathname,
      "generate",
      ...["--seed", seed, "--count", String(count), "--bad-rate", "0.001", "--rate", "0"],
      ...["--brokers", brokers, "--topic", topic],
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
}
