import assert from "node:assert/strict";
import { Partitioners } from "kafkajs";
import { partitionForKey } from "./murmur2.ts";
import { crc32c, Reader, varintSize, Writer, writeRecordBatch } from "./wire.ts";

Deno.test("crc32c matches the Castagnoli check value", () => {
  assert.equal(crc32c(new TextEncoder().encode("123456789")), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(0)), 0);
  // Slicing-by-8 and the byte loop must agree at every length and offset.
  const data = Uint8Array.from({ length: 100 }, (_, i) => (i * 31 + 7) & 0xff);
  for (let n = 0; n < 40; n++) {
    let crc = 0xffffffff;
    for (let i = 3; i < 3 + n; i++) {
      crc ^= data[i];
      for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
    }
    assert.equal(crc32c(data, 3, 3 + n), (crc ^ 0xffffffff) >>> 0, `length ${n}`);
  }
});

Deno.test("Writer.varint uses zig-zag encoding like Kafka records", () => {
  const cases: [number, number[]][] = [[0, [0]], [-1, [1]], [1, [2]], [63, [0x7e]], [64, [
    0x80,
    0x01,
  ]], [
    -65,
    [0x81, 0x01],
  ], [300, [0xd8, 0x04]]];
  for (const [value, bytes] of cases) {
    const w = new Writer(4);
    w.varint(value);
    assert.deepEqual([...w.result()], bytes, `varint ${value}`);
    assert.equal(varintSize(value), bytes.length);
  }
});

Deno.test("writeRecordBatch lays out a v2 batch with a valid crc and record count", () => {
  const w = new Writer(16);
  const enc = new TextEncoder();
  const records = [
    { key: enc.encode("a"), value: enc.encode("hello") },
    { key: enc.encode("bb"), value: new Uint8Array(300) },
  ];
  writeRecordBatch(w, records, {
    producerId: 42n,
    producerEpoch: 3,
    baseSequence: 7,
    timestampMs: 1000,
  });
  const bytes = w.result();
  const r = new Reader(bytes);
  assert.equal(r.int64(), 0n);
  assert.equal(r.int32(), bytes.length - 12);
  assert.equal(r.int32(), -1);
  assert.equal(r.int8(), 2);
  const crc = r.int32() >>> 0;
  assert.equal(crc, crc32c(bytes, 21));
  assert.equal(r.int16(), 0);
  assert.equal(r.int32(), 1);
  assert.equal(r.int64(), 1000n);
  assert.equal(r.int64(), 1000n);
  assert.equal(r.int64(), 42n);
  assert.equal(r.int16(), 3);
  assert.equal(r.int32(), 7);
  assert.equal(r.int32(), 2);
});

Deno.test("partitionForKey agrees with kafkajs's Java-compatible partitioner", () => {
  const partitioner = Partitioners.DefaultPartitioner();
  for (const partitions of [1, 4, 16, 7]) {
    const partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({
      partitionId,
      leader: 0,
      partitionErrorCode: 0,
      replicas: [0],
      isr: [0],
    }));
    for (let i = 0; i < 500; i++) {
      const key = i % 3 === 0 ? crypto.randomUUID() : `key-${i}-ü-${"x".repeat(i % 9)}`;
      const expected = partitioner({
        topic: "t",
        partitionMetadata,
        message: { key, value: null },
      });
      assert.equal(partitionForKey(key, partitions), expected, key);
    }
  }
});
