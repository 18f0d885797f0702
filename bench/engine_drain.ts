/**
 * Drain rate: preload a fresh topic with N seeded events, then time (a) a
 * plain kafkajs consumer reading them all (the ceiling: no decoding, no
 * writing) and (b) `lakehouse run` committing them all to its three tables
 * (orders_events, orders_current, orders_rejects), in the same run. Prints
 * events/s for both and the ratio.
 *
 *   deno task bench drain [--count N] [--brokers HOST:PORT]
 */
import { parseArgs } from "node:util";
import { deleteTopic } from "./_topics.ts";
import { Kafka, logLevel } from "kafkajs";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    count: { type: "string", default: "5000000" },
    brokers: { type: "string", default: Deno.env.get("LAKEHOUSE_BROKERS") ?? "127.0.0.1:9092" },
    "max-records-per-trigger": { type: "string", default: "200000" },
  },
});
const count = Number(values.count);
const brokers = values.brokers!;
const main = new URL("../main.ts", import.meta.url).pathname;

async function cli(args: string[]): Promise<{ stderr: string; seconds: number }> {
  const start = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", main, ...args],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  if (out.code !== 0) throw new Error(`lakehouse ${args[0]} failed:\n${stderr}`);
  return { stderr, seconds: (performance.now() - start) / 1000 };
}

async function rawConsume(topic: string): Promise<number> {
  const kafka = new Kafka({
    brokers: [brokers],
    clientId: "bench-drain",
    logLevel: logLevel.NOTHING,
  });
  const consumer = kafka.consumer({
    groupId: `bench-raw-${crypto.randomUUID()}`,
    maxBytesPerPartition: 8 * 1024 * 1024,
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let seen = 0;
  let start = 0;
  let resolveDone!: () => void;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  await consumer.run({
    eachBatch: ({ batch }) => {
      if (start === 0) start = performance.now();
      seen += batch.messages.length;
      if (seen >= count) resolveDone();
      return Promise.resolve();
    },
  });
  await done;
  const seconds = (performance.now() - start) / 1000;
  await consumer.disconnect();
  return count / seconds;
}

const topic = `bench-drain-${Date.now()}`;
const dir = await Deno.makeTempDir();
try {
  console.log(`preloading ${count} events into ${topic}...`);
  await cli([
    "generate",
    "--seed",
    "drain",
    "--count",
    String(count),
    "--bad-rate",
    "0.001",
    "--rate",
    "0",
    "--brokers",
    brokers,
    "--topic",
    topic,
  ]);
  const raw = await rawConsume(topic);
  console.log(`raw kafkajs consumer: ${Math.round(raw)} events/s`);
  const run = await cli([
    "run",
    "--brokers",
    brokers,
    "--topic",
    topic,
    "--group-id",
    `bench-${topic}`,
    "--warehouse",
    `${dir}/wh`,
    "--state-dir",
    `${dir}/state`,
    "--stop-after",
    String(count),
    "--max-records-per-trigger",
    values["max-records-per-trigger"]!,
  ]);
  const match = /stopped: (\d+) records committed in ([\d.]+)s.*peak RSS (\d+) MiB/.exec(
    run.stderr,
  );
  if (!match || Number(match[1]) !== count) {
    throw new Error(`unexpected engine output:\n${run.stderr}`);
  }
  const engineRate = count / Number(match[2]);
  console.log(
    `engine (run, commit to Iceberg): ${Math.round(engineRate)} events/s (${
      match[2]
    } s from start to last commit), peak RSS ${match[3]} MiB`,
  );
  console.log(`engine / raw consumer: ${(engineRate / raw).toFixed(2)}`);
} finally {
  await deleteTopic(brokers, topic);
  await Deno.remove(dir, { recursive: true });
}
