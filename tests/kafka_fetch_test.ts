/**
 * The engine's own Fetch path against the real broker: what it reads from a
 * topic holding plain, keyless, header-carrying, gzip-compressed and
 * transactional records (one transaction aborted, one committed) is
 * exactly what kafkajs's consumer reads, offset for offset.
 */
import assert from "node:assert/strict";
import { CompressionTypes, Kafka, logLevel } from "kafkajs";
import { Fetcher } from "../src/kafka/fetcher.ts";
import { requireKafka } from "./_services.ts";

interface Seen {
  partition: number;
  offset: string;
  key: string | null;
  value: string | null;
  timestamp: string;
}

const dec = new TextDecoder();
const bytesText = (b: Uint8Array | null) => (b === null ? null : dec.decode(b));

Deno.test("our Fetch path reads exactly the records kafkajs reads (gzip, headers, transactions)", async () => {
  const brokers = await requireKafka();
  const topic = `fetch-${crypto.randomUUID()}`;
  const kafka = new Kafka({
    brokers: [brokers],
    clientId: "fetch-test",
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    await producer.send({
      topic,
      messages: Array.from({ length: 300 }, (_, i) => ({
        key: i % 7 === 0 ? null : `order-${i % 40}`,
        value: i % 11 === 0 ? null : JSON.stringify({ i, text: "Zürich 東京 ".repeat(i % 5) }),
        headers: i % 3 === 0 ? { source: "test", n: String(i) } : undefined,
      })),
    });
    await producer.send({
      topic,
      compression: CompressionTypes.GZIP,
      messages: Array.from({ length: 200 }, (_, i) => ({ key: `gz-${i}`, value: `gzip ${i}` })),
    });
    await producer.disconnect();
    const transactional = kafka.producer({
      transactionalId: `fetch-test-${crypto.randomUUID()}`,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await transactional.connect();
    const aborted = await transactional.transaction();
    await aborted.send({
      topic,
      messages: Array.from({ length: 30 }, (_, i) => ({ key: `tx-${i}`, value: `aborted ${i}` })),
    });
    await aborted.abort();
    const committed = await transactional.transaction();
    await committed.send({
      topic,
      messages: Array.from({ length: 30 }, (_, i) => ({ key: `tx-${i}`, value: `committed ${i}` })),
    });
    await committed.commit();
    await transactional.disconnect();

    const ends = new Map(
      (await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, BigInt(p.high)]),
    );

    // kafkajs's view (READ_COMMITTED, its default).
    const theirs: Seen[] = [];
    const consumer = kafka.consumer({ groupId: `fetch-test-${crypto.randomUUID()}` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const expectedCount = 300 + 200 + 30;
    const all = Promise.withResolvers<void>();
    await consumer.run({
      eachMessage: ({ partition, message }) => {
        theirs.push({
          partition,
          offset: message.offset,
          key: message.key === null ? null : message.key.toString(),
          value: message.value === null ? null : message.value.toString(),
          timestamp: message.timestamp,
        });
        if (theirs.length >= expectedCount) all.resolve();
        return Promise.resolve();
      },
    });
    await Promise.race([
      all.promise,
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error("kafkajs read too little")), 60_000)
      ),
    ]);
    await consumer.disconnect();

    // Ours, fetching until every partition reaches its end.
    const fetcher = new Fetcher({
      brokers: [brokers],
      clientId: "fetch-test",
      connectTimeoutMs: 5_000,
      topic,
      fetchBytesPerPartitionMax: 4096, // several fetches per partition
      maxWaitMs: 100,
    });
    fetcher.assign(new Map([...ends.keys()].map((p) => [p, 0n])));
    const ours: Seen[] = [];
    const positions = new Map([...ends.keys()].map((p) => [p, 0n]));
    try {
      for (let round = 0; [...positions].some(([p, at]) => at < ends.get(p)!); round++) {
        assert.ok(round < 1_000, "our fetches reached the partitions' ends");
        for (const f of await fetcher.fetch()) {
          positions.set(f.partition, f.next);
          for (const r of f.records) {
            ours.push({
              partition: r.partition,
              offset: String(r.offset),
              key: bytesText(r.key),
              value: bytesText(r.value),
              timestamp: String(r.timestampMs),
            });
          }
        }
      }
    } finally {
      fetcher.close();
    }

    const order = (a: Seen, b: Seen) =>
      a.partition - b.partition || Number(a.offset) - Number(b.offset);
    theirs.sort(order);
    ours.sort(order);
    assert.equal(theirs.length, expectedCount, "kafkajs read every committed record");
    assert.equal(ours.length, theirs.length);
    assert.deepEqual(ours, theirs);
    assert.ok(
      ours.some((r) => r.value === "committed 0") &&
        !ours.some((r) => r.value?.startsWith("aborted")),
    );
    assert.ok(ours.some((r) => r.value === "gzip 199"));
  } finally {
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin.disconnect();
  }
});
