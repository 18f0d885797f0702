/**
 * Generator throughput: the in-process event source alone (the ceiling), the
 * file sink, and the Kafka sink into the local broker (the number that
 * matters: the generator must never be the bottleneck of a 50,000 events/s
 * pipeline). Each Kafka run uses a fresh 4-partition topic. Prints medians.
 *
 *   deno task bench generate [--count N] [--runs R] [--brokers HOST:PORT]
 */
import { parseArgs } from "node:util";
import { deleteTopic } from "./_topics.ts";
import { Buffer } from "node:buffer";
import { Kafka, logLevel } from "kafkajs";
import { systemClock } from "../src/core/clock.ts";
import { DEFAULT_SEEDED_START_MS, EventSource } from "../src/generate/source.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    count: { type: "string", default: "1000000" },
    runs: { type: "string", default: "3" },
    brokers: { type: "string", default: Deno.env.get("LAKEHOUSE_BROKERS") ?? "127.0.0.1:9092" },
  },
});
const count = Number(values.count);
const runs = Number(values.runs);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function sourceOnly(): number {
  const source = new EventSource({
    seed: "bench",
    startTimeMs: DEFAULT_SEEDED_START_MS,
    badRate: 0,
    clock: systemClock,
  });
  const start = performance.now();
  let bytes = 0;
  for (let i = 0; i < count; i++) bytes += source.next().value.length;
  const seconds = (performance.now() - start) / 1000;
  if (bytes === 0) throw new Error("no bytes generated");
  return count / seconds;
}

async function viaCli(args: string[]): Promise<number> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      new URL("../main.ts", import.meta.url).pathname,
      "generate",
      ...args,
    ],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  if (output.code !== 0) throw new Error(`generate failed:\n${stderr}`);
  const match = / = (\d+)\/s into/.exec(stderr);
  if (!match) throw new Error(`no rate in output:\n${stderr}`);
  return Number(match[1]);
}

/**
 * The client's own ceiling: kafkajs sending prebuilt 344-byte messages with
 * the same producer settings (idempotent, one request in flight), no
 * generation cost. The generator's Kafka rate is judged against this.
 */
async function rawKafkajs(): Promise<number> {
  const kafka = new Kafka({
    brokers: [values.brokers!],
    clientId: "bench-raw",
    logLevel: logLevel.NOTHING,
  });
  const topic = `bench-raw-${Date.now()}`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 4 }], waitForLeaders: true });
  await admin.disconnect();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const value = Buffer.from("x".repeat(344));
  const batch = Array.from(
    { length: 2000 },
    (_, i) => ({ key: crypto.randomUUID(), value, partition: i % 4 }),
  );
  const start = performance.now();
  for (let sent = 0; sent < count; sent += batch.length) {
    await producer.sendBatch({ topicMessages: [{ topic, messages: batch }], acks: -1 });
  }
  const rate = count / ((performance.now() - start) / 1000);
  await producer.disconnect();
  await deleteTopic(values.brokers!, topic);
  return rate;
}

const results: Record<string, number[]> = { source: [], file: [], kafka: [], "kafkajs-raw": [] };
const dir = await Deno.makeTempDir();
try {
  for (let run = 1; run <= runs; run++) {
    results.source.push(sourceOnly());
    results.file.push(
      await viaCli([
        "--seed",
        "bench",
        "--count",
        String(count),
        "--rate",
        "0",
        "--out",
        `${dir}/out.ndjson`,
      ]),
    );
    const topic = `bench-generate-${Date.now()}-${run}`;
    results.kafka.push(
      await viaCli([
        "--seed",
        "bench",
        "--count",
        String(count),
        "--rate",
        "0",
        "--brokers",
        values.brokers!,
        "--topic",
        topic,
      ]),
    );
    await deleteTopic(values.brokers!, topic);
    results["kafkajs-raw"].push(await rawKafkajs());
    console.log(
      `run ${run}: kafkajs-raw ${Math.round(results["kafkajs-raw"].at(-1)!)}/s, source ${
        Math.round(results.source.at(-1)!)
      }/s, file ${results.file.at(-1)}/s, kafka ${results.kafka.at(-1)}/s`,
    );
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
console.log(`\ngenerator, ${count} events per run, ${runs} runs, median events/s:`);
for (const [name, xs] of Object.entries(results)) {
  console.log(
    `  ${name.padEnd(7)} ${Math.round(median(xs)).toLocaleString("en-US")}  (runs: ${
      xs.map(Math.round).join(", ")
    })`,
  );
}
const ratio = (a: string, b: string) => (median(results[a]) / median(results[b])).toFixed(2);
console.log(
  `  kafka / kafkajs-raw: ${ratio("kafka", "kafkajs-raw")}  kafka / source: ${
    ratio("kafka", "source")
  }`,
);
