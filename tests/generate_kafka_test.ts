/**
 * The generator against the real Kafka broker: every message arrives exactly
 * once, on the partition its key maps to, in per-order lifecycle order, and
 * byte-identical to the file sink's output for the same seed.
 */
import assert from "node:assert/strict";
import { Kafka, logLevel } from "kafkajs";
import { DEFAULT_SEEDED_START_MS, EventSource } from "../src/generate/source.ts";
import { isValidTransition, type OrderEvent, type OrderStatus } from "../src/events/contract.ts";
import { systemClock } from "../src/core/clock.ts";
import { partitionForKey } from "../src/kafka/murmur2.ts";
import { requireKafka, runCli } from "./_services.ts";

const SEED = "kafka-it";
const COUNT = 20_000;
const BAD_RATE = 0.02;
const PARTITIONS = 4;

function expectedMessages() {
  const source = new EventSource({
    seed: SEED,
    startTimeMs: DEFAULT_SEEDED_START_MS,
    badRate: BAD_RATE,
    clock: systemClock,
  });
  return Array.from({ length: COUNT }, () => source.next());
}

interface Consumed {
  partition: number;
  offset: string;
  key: string;
  value: Uint8Array;
}

async function consumeAll(brokers: string, topic: string, expected: number): Promise<Consumed[]> {
  const kafka = new Kafka({
    brokers: [brokers],
    clientId: "test-reader",
    logLevel: logLevel.NOTHING,
  });
  const consumer = kafka.consumer({ groupId: `test-reader-${crypto.randomUUID()}` });
  const got: Consumed[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    let resolveDone!: () => void;
    const done = new Promise<void>((resolve) => (resolveDone = resolve));
    await consumer.run({
      eachBatch: ({ batch }) => {
        for (const m of batch.messages) {
          got.push({
            partition: batch.partition,
            offset: m.offset,
            key: m.key?.toString() ?? "",
            value: new Uint8Array(m.value ?? []),
          });
        }
        if (got.length >= expected) resolveDone();
        return Promise.resolve();
      },
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, 60_000)));
    await Promise.race([done, timeout]);
    clearTimeout(timer);
    // Linger briefly: anything beyond `expected` would be a duplicate.
    await new Promise((resolve) => setTimeout(resolve, 1500));
  } finally {
    await consumer.disconnect();
  }
  return got;
}

Deno.test("generate into Kafka delivers every message exactly once, keyed, in order, same as the file sink", async () => {
  const brokers = await requireKafka();
  const topic = `it-generate-${crypto.randomUUID().slice(0, 8)}`;
  const dir = await Deno.makeTempDir();
  try {
    const common = ["--seed", SEED, "--count", String(COUNT), "--bad-rate", String(BAD_RATE)];
    const toKafka = await runCli([
      "generate",
      ...common,
      "--rate",
      "0",
      "--brokers",
      brokers,
      "--topic",
      topic,
      "--partitions",
      String(PARTITIONS),
    ]);
    assert.equal(toKafka.code, 0, toKafka.stderr);
    const toFile = await runCli([
      "generate",
      ...common,
      "--rate",
      "0",
      "--out",
      `${dir}/out.ndjson`,
    ]);
    assert.equal(toFile.code, 0, toFile.stderr);

    const expected = expectedMessages();
    const consumed = await consumeAll(brokers, topic, COUNT);
    assert.equal(consumed.length, COUNT, "message count (duplicates or losses)");

    // File sink: one value per line, byte-identical, in generation order.
    const fileBytes = await Deno.readFile(`${dir}/out.ndjson`);
    const lines: Uint8Array[] = [];
    let start = 0;
    for (let i = 0; i < fileBytes.length; i++) {
      if (fileBytes[i] === 0x0a) {
        lines.push(fileBytes.subarray(start, i));
        start = i + 1;
      }
    }
    assert.equal(lines.length, COUNT);
    for (let i = 0; i < COUNT; i++) assert.deepEqual(lines[i], expected[i].value, `file line ${i}`);

    // Kafka: per partition, exactly the expected messages whose key maps there, in generation order.
    for (let p = 0; p < PARTITIONS; p++) {
      const want = expected.filter((m) => partitionForKey(m.key, PARTITIONS) === p);
      const have = consumed.filter((m) => m.partition === p)
        .sort((a, b) => Number(BigInt(a.offset) - BigInt(b.offset)));
      assert.equal(have.length, want.length, `partition ${p} count`);
      for (let i = 0; i < want.length; i++) {
        assert.equal(have[i].key, want[i].key, `partition ${p} #${i} key`);
        assert.deepEqual(have[i].value, want[i].value, `partition ${p} #${i} value`);
      }
    }

    // Per-order lifecycle order as read back from Kafka.
    const status = new Map<string, OrderStatus>();
    const lastTime = new Map<string, number>();
    const decoder = new TextDecoder();
    const badKeys = new Set(expected.filter((m) => m.kind !== "valid").map((m) => m.key));
    let valid = 0;
    for (
      const m of consumed.sort((a, b) =>
        a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset))
      )
    ) {
      if (badKeys.has(m.key)) continue;
      const event = JSON.parse(decoder.decode(m.value)) as OrderEvent;
      assert.equal(event.order_id, m.key);
      const previous = status.get(event.order_id) ?? null;
      assert.ok(
        isValidTransition(previous, event.current_status),
        `${previous} -> ${event.current_status}`,
      );
      assert.ok(event.event_timestamp >= (lastTime.get(event.order_id) ?? 0));
      status.set(event.order_id, event.current_status);
      lastTime.set(event.order_id, event.event_timestamp);
      valid++;
    }
    assert.equal(valid, expected.filter((m) => m.kind === "valid").length);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
