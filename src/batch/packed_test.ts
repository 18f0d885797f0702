import assert from "node:assert/strict";
import { Random } from "../core/random.ts";
import { BatchPacker, packBatch, packedBuffers, unpackRecords } from "./packed.ts";
import type { RawRecord } from "./types.ts";

/** Seeded records of every shape: null and empty keys and values, two topics, sizes of 0-5,000 bytes. */
function records(seed: string, n: number): RawRecord[] {
  const random = new Random(seed);
  const bytes = (max: number) => {
    const b = new Uint8Array(random.int(max + 1));
    for (let i = 0; i < b.length; i++) b[i] = random.int(256);
    return b;
  };
  return Array.from({ length: n }, (_, i) => ({
    topic: random.int(10) === 0 ? "other" : "orders",
    partition: random.int(8),
    offset: BigInt(i) * 3n + 2n ** 40n,
    key: random.int(20) === 0 ? null : bytes(40),
    value: random.int(30) === 0 ? null : bytes(random.int(50) === 0 ? 5_000 : 400),
    timestampMs: random.int(20) === 0 ? -1 : 1_767_225_600_000 + i,
  }));
}

Deno.test("packBatch and unpackRecords give back every record, through every growth step", () => {
  // 6,000 records: columns grow from 1,024 rows, payloads from 64 KiB past 1 MiB.
  const rs = records("packed", 6_000);
  const p = packBatch(rs);
  assert.equal(p.ends.length, rs.length);
  assert.deepEqual(unpackRecords(p), rs);
  assert.deepEqual(p.topics, ["orders", "other"]);
  // Every column in a buffer of its own: they are transferred to the worker one by one.
  const buffers = packedBuffers(p);
  assert.equal(new Set(buffers).size, buffers.length);
});

Deno.test("BatchPacker grows a payload buffer past 16 MiB in 16 MiB steps, copying what it holds", () => {
  const big = new Uint8Array(20 << 20).fill(7);
  const rs: RawRecord[] = [
    {
      topic: "t",
      partition: 0,
      offset: 0n,
      key: null,
      value: Uint8Array.of(1, 2, 3),
      timestampMs: 0,
    },
    { topic: "t", partition: 0, offset: 1n, key: null, value: big, timestampMs: 0 },
    { topic: "t", partition: 0, offset: 2n, key: null, value: Uint8Array.of(4), timestampMs: 0 },
  ];
  const p = packBatch(rs);
  assert.equal(p.values.buffer.byteLength, 32 << 20);
  assert.deepEqual(unpackRecords(p), rs);
});

Deno.test("BatchPacker packs into a spare batch's buffers, asks for one only once, leaves nothing of it behind", () => {
  // The spare held more records, with other nulls, keys and payloads, than the batch packed into it.
  const old = packBatch(records("old", 3_000));
  const rs = records("spare", 500);
  let asked = 0;
  const packer = new BatchPacker(() => {
    asked++;
    return asked === 1 ? old : undefined;
  });
  for (const r of rs) packer.add(r);
  const p = packer.finish();
  assert.equal(asked, 1);
  const reused = (a: { buffer: ArrayBufferLike }, b: { buffer: ArrayBufferLike }) =>
    assert.equal(a.buffer, b.buffer);
  for (const column of ["values", "keys", "ends", "nulls", "keyEnds", "keyNulls"] as const) {
    reused(p[column], old[column]);
  }
  for (const column of ["partitions", "offsets", "timestamps", "topicIndex"] as const) {
    reused(p[column], old[column]);
  }
  assert.deepEqual(unpackRecords(p), rs);
  // Past the spare's room the columns and buffers grow as without one.
  const more = records("more", 5_000);
  const q = packBatch(more, packBatch(records("small", 3)));
  assert.deepEqual(unpackRecords(q), more);
});
