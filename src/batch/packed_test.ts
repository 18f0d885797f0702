import assert from "node:assert/strict";
import { Random } from "../core/random.ts";
import {
  BatchPacker,
  type BatchSizes,
  packBatch,
  type PackedBatch,
  packedBuffers,
  unpackRecords,
} from "./packed.ts";
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

/** Packs `rs` with `spare` offered at the first record (and `expected` as the batch's size), counting the asks. */
function packWith(rs: readonly RawRecord[], spare: PackedBatch, expected?: BatchSizes) {
  let asked = 0;
  const packer = new BatchPacker(() => (asked++ === 0 ? spare : undefined), expected);
  for (const r of rs) packer.add(r);
  return { packed: packer.finish(), asked };
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

Deno.test("BatchPacker grows a full payload buffer past 16 MiB by 16 MiB, not by doubling", () => {
  // 40 payloads of 1 MiB: doubling up to 16 MiB, then 32 and 48 MiB (doubling would stop at 64).
  const rs: RawRecord[] = Array.from({ length: 40 }, (_, i) => ({
    topic: "t",
    partition: 0,
    offset: BigInt(i),
    key: null,
    value: new Uint8Array(1 << 20).fill(i),
    timestampMs: 0,
  }));
  const p = packBatch(rs);
  assert.equal(p.values.buffer.byteLength, 48 << 20);
  assert.deepEqual(unpackRecords(p), rs);
});

Deno.test("BatchPacker without a spare makes its buffers once at the expected size", () => {
  const rs = records("expected", 3_000);
  const plain = packBatch(rs);
  const expected = {
    records: rs.length,
    valueBytes: plain.values.length,
    keyBytes: plain.keys.length,
  };
  const packer = new BatchPacker(() => undefined, expected);
  for (const r of rs) packer.add(r);
  const p = packer.finish();
  assert.deepEqual(unpackRecords(p), rs);
  // The expected size and a sixteenth more, where growth from small ends at powers of two.
  assert.equal(p.values.buffer.byteLength, Math.ceil(expected.valueBytes * (17 / 16)));
  const grownSize = plain.values.buffer.byteLength;
  assert.equal(grownSize & (grownSize - 1), 0, `grown from small: ${grownSize}, a power of two`);
  assert.equal(p.keys.buffer.byteLength, Math.ceil(expected.keyBytes * (17 / 16)));
  assert.equal(p.ends.length, rs.length);
  assert.equal(p.ends.buffer.byteLength / 4, Math.ceil(rs.length * (17 / 16)));
  // A bigger batch than expected still fits: its buffers grow.
  const more = records("more than expected", 4_000);
  const big = new BatchPacker(undefined, expected);
  for (const r of more) big.add(r);
  assert.deepEqual(unpackRecords(big.finish()), more);
});

Deno.test("BatchPacker takes a spare's buffers only where they have room for the expected batch", () => {
  const small = packBatch(records("small spare", 100));
  const rs = records("bigger", 3_000);
  const plain = packBatch(rs);
  const expected = {
    records: rs.length,
    valueBytes: plain.values.length,
    keyBytes: plain.keys.length,
  };
  const { packed: p, asked } = packWith(rs, small, expected);
  assert.equal(asked, 1, "the spare was asked for once");
  assert.notEqual(p.values.buffer, small.values.buffer);
  assert.notEqual(p.ends.buffer, small.ends.buffer);
  assert.equal(p.values.buffer.byteLength, Math.ceil(expected.valueBytes * (17 / 16)));
  assert.deepEqual(unpackRecords(p), rs);
  // A spare with room is taken whole.
  const roomy = packBatch(records("roomy", 4_000));
  const { packed: q } = packWith(rs, roomy, expected);
  assert.equal(q.values.buffer, roomy.values.buffer);
  assert.deepEqual(unpackRecords(q), rs);
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
  const { packed: p, asked } = packWith(rs, old);
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
