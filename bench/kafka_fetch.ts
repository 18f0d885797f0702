/**
 * The fetch path's CPU per record: kafkajs's consumer (as the engine used it
 * before its own Fetch path: eachBatch, each message's offset, time and
 * value read) against the engine's Fetch path (src/kafka/fetcher.ts:
 * record batches decoded into records viewing the response buffer), over
 * the same preloaded topic, alternately in one process. CPU is this
 * process's user + sys.
 *
 *   deno task bench fetch -- --topic T [--rounds 3] [--brokers 127.0.0.1:9092]
 *     [--fetch-bytes 8388608]
 */
import { parseArgs } from "node:util";
import { Kafka, logLevel } from "kafkajs";
import { Fetcher } from "../src/kafka/fetcher.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    topic: { type: "string" },
    rounds: { type: "string", default: "3" },
    brokers: { type: "string", default: "127.0.0.1:9092" },
    "fetch-bytes": { type: "string", default: String(8 << 20) },
  },
});
if (!values.topic) {
  console.error("--topic is required: a topic preloaded with `lakehouse generate --rate 0`");
  Deno.exit(2);
}
const topic = values.topic;
const rounds = Number(values.rounds);
const fetchBytes = Number(values["fetch-bytes"]);

function cpuSeconds(): number {
  const fields = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const kafka = new Kafka({
  brokers: [values.brokers!],
  clientId: "bench",
  logLevel: logLevel.NOTHING,
});
const admin = kafka.admin();
await admin.connect();
const ends = new Map(
  (await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, BigInt(p.high)]),
);
await admin.disconnect();
const total = Number([...ends.values()].reduce((a, b) => a + b, 0n));
console.log(`${topic}: ${ends.size} partitions, ${total} records`);

/** kafkajs's consumer reading every record once, as the engine's feed does. */
async function viaKafkajs(round: number): Promise<number> {
  const consumer = kafka.consumer({
    groupId: `bench-fetch-${Date.now()}-${round}`,
    maxBytesPerPartition: fetchBytes,
    maxBytes: fetchBytes * 8,
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let seen = 0;
  let sum = 0;
  const done = Promise.withResolvers<void>();
  await consumer.run({
    autoCommit: false,
    eachBatch: ({ batch }) => {
      for (const m of batch.messages) {
        const offset = BigInt(m.offset);
        const time = Number(m.timestamp);
        const value = m.value
          ? new Uint8Array(m.value.buffer, m.value.byteOffset, m.value.length)
          : null;
        sum += Number(offset & 1n) + (time & 1) + (value?.length ?? 0);
      }
      seen += batch.messages.length;
      if (seen >= total) done.resolve();
      return Promise.resolve();
    },
  });
  await done.promise;
  await consumer.disconnect();
  return sum;
}

/** The engine's Fetch path (src/kafka/fetcher.ts) reading every partition to its end. */
async function viaFetch(): Promise<number> {
  const fetcher = new Fetcher({
    brokers: [values.brokers!],
    clientId: "bench",
    connectTimeoutMs: 10_000,
    topic,
    fetchBytesPerPartitionMax: fetchBytes,
    maxWaitMs: 100,
  });
  const positions = new Map([...ends.keys()].map((p) => [p, 0n]));
  fetcher.assign(positions);
  let seen = 0;
  let sum = 0;
  try {
    while ([...positions].some(([p, at]) => at < ends.get(p)!)) {
      for (const { partition, records, next } of await fetcher.fetch()) {
        positions.set(partition, next);
        for (const r of records) {
          sum += Number(r.offset & 1n) + (r.timestampMs & 1) + (r.value?.length ?? 0);
        }
        seen += records.length;
      }
    }
  } finally {
    fetcher.close();
  }
  if (seen < total) throw new Error(`read ${seen} of ${total} records`);
  return sum;
}

const results: Record<string, number[]> = { kafkajs: [], fetch: [] };
for (let round = 1; round <= rounds; round++) {
  for (const [name, run] of [["kafkajs", () => viaKafkajs(round)], ["fetch", viaFetch]] as const) {
    const before = cpuSeconds();
    const t0 = performance.now();
    const sum = await run();
    const cpu = cpuSeconds() - before;
    const us = cpu / total * 1e6;
    results[name].push(us);
    console.log(
      `round ${round} ${name}: ${us.toFixed(2)} us/record CPU, ${
        Math.round(total / ((performance.now() - t0) / 1000))
      } records/s wall (checksum ${sum})`,
    );
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(
  `medians over ${rounds} rounds: kafkajs ${median(results.kafkajs).toFixed(2)} us/record, ` +
    `own Fetch path ${median(results.fetch).toFixed(2)} us/record`,
);
