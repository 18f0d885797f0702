import assert from "node:assert/strict";
import { join } from "node:path";
import { systemClock } from "../core/clock.ts";
import { EventSource } from "../generate/source.ts";
import { encodeStaged } from "./_fixtures.ts";
import { encodeRejects } from "./staged.ts";
import { decodeBatch } from "./decode.ts";
import { packBatch } from "./packed.ts";
import { InlineDecoder, WorkerDecoder } from "./decoder.ts";
import type { RawRecord } from "./types.ts";
import { validateRecord } from "./validate.ts";

const ENCODER = new TextEncoder();

/**
 * Seeded events with every bad-record kind mixed in, on 3 partitions, plus a
 * tombstone; keyed by order_id, but some records have no key, another key,
 * no timestamp (-1) or an impossible one.
 */
function records(count: number): RawRecord[] {
  const source = new EventSource({
    seed: "decode",
    startTimeMs: Date.UTC(2026, 0, 1),
    badRate: 0.2,
    clock: systemClock,
  });
  const out: RawRecord[] = source.take(count).map((m, i) => ({
    topic: i % 7 === 0 ? "other" : "orders",
    partition: i % 3,
    offset: BigInt(100 + i),
    key: i % 53 === 0 ? null : i % 59 === 0 ? ENCODER.encode(`${m.key}x`) : ENCODER.encode(m.key),
    value: m.value,
    timestampMs: i % 61 === 0 ? -1 : i % 67 === 0 ? -1e17 : 1_767_225_600_000 + i,
  }));
  out.push({ ...out[0], offset: 99n, value: null });
  return out;
}

/** The staged and rejects output of the same records through the per-record functions. */
function expected(rs: readonly RawRecord[], ingestedAtMs: number) {
  const staged = [];
  const rejects = [];
  for (const [i, record] of rs.entries()) {
    const result = validateRecord(record.value, record.key, record.timestampMs);
    if (result.ok) staged.push({ record, event: result.event });
    else rejects.push({ index: i, record, reason: result.reason, kind: result.kind });
  }
  return {
    staged: encodeStaged(staged, ingestedAtMs),
    rejects: encodeRejects(rejects, ingestedAtMs),
    rejections: rejects.map(({ index, reason, kind }) => ({ index, kind, reason })),
  };
}

Deno.test("decodeBatch stages and rejects exactly what the per-record path does", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const rs = records(2_000);
    const want = expected(rs, 1_767_300_000_000);
    const got = decodeBatch(packBatch(rs), 1_767_300_000_000, join(dir, "b"));
    assert.ok(want.rejections.length > 300, "the sample has rejects of every kind");
    for (const kind of ["invalid_key", "invalid_record", "null_value", "oversized"]) {
      assert.ok(want.rejections.some((r) => r.kind === kind), kind);
    }
    // A record without a timestamp is accepted and staged with a null one.
    assert.ok(
      rs.some((r, i) => r.timestampMs === -1 && !want.rejections.some((x) => x.index === i)),
    );
    assert.deepEqual(
      new Set(want.rejections.map((r) => r.kind)),
      new Set(got.rejections.map((r) => r.kind)),
    );
    assert.deepEqual(got.rejections, want.rejections);
    assert.equal(got.accepted, rs.length - want.rejections.length);
    assert.deepEqual(await Deno.readFile(got.stagedPath), want.staged);
    assert.deepEqual(await Deno.readFile(got.rejectsPath!), want.rejects);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("decodeBatch of only valid records writes no rejects file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const value = ENCODER.encode(
      '{"event_id":"03c0c431-0e5c-44e4-9e42-7e32469f94a7","event_type":"ORDER_CREATED",' +
        '"event_timestamp":1767225600,"order_id":"o-1","user_id":"u-1","total_amount":2.5,' +
        '"currency":"USD","payment_method":null,"items":[{"sku":"S","quantity":2,' +
        '"unit_price":1.25,"category":"c"}],"current_status":"CREATED"}',
    );
    const r: RawRecord = {
      topic: "orders",
      partition: 5,
      offset: 2n ** 60n,
      key: ENCODER.encode("o-1"),
      value,
      timestampMs: 1,
    };
    const got = decodeBatch(packBatch([r]), 7, join(dir, "b"));
    assert.equal(got.rejectsPath, undefined);
    assert.deepEqual(got.rejections, []);
    const line = JSON.parse(new TextDecoder().decode(await Deno.readFile(got.stagedPath)));
    assert.equal(line.kafka_partition, 5);
    assert.equal(line.ingested_at_ms, 7);
    // Offsets beyond 2^53 are written exactly.
    assert.match(
      new TextDecoder().decode(await Deno.readFile(got.stagedPath)),
      /"kafka_offset":1152921504606846976,/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the decode worker produces byte-identical output to inline decoding", async () => {
  const dir = await Deno.makeTempDir();
  const worker = new WorkerDecoder(dir);
  const inline = new InlineDecoder(dir);
  try {
    const rs = records(3_000);
    // Two batches in flight at once: answers must match their requests.
    const [a, b] = await Promise.all([
      worker.decode(packBatch(rs), 42),
      worker.decode(packBatch(rs.slice(0, 10)), 43),
    ]);
    const want = await inline.decode(packBatch(rs), 42);
    assert.deepEqual(a.rejections, want.rejections);
    assert.equal(a.accepted, want.accepted);
    assert.deepEqual(await Deno.readFile(a.stagedPath), await Deno.readFile(want.stagedPath));
    assert.deepEqual(await Deno.readFile(a.rejectsPath!), await Deno.readFile(want.rejectsPath!));
    assert.equal(b.accepted + b.rejections.length, 10);
    // The records are still usable by the caller after the batch moved to the worker.
    assert.ok(rs[1].value!.length > 0);
  } finally {
    worker.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the worker's payload buffer comes back and carries later batches unchanged", async () => {
  const dir = await Deno.makeTempDir();
  const worker = new WorkerDecoder(dir);
  const inline = new InlineDecoder(dir);
  try {
    const all = records(3_000);
    // A big batch, then smaller ones written over its buffer (stale bytes
    // beyond the new payloads), then a bigger one again: each staged file
    // and each reject must be what inline decoding of that batch gives.
    for (const [from, to] of [[0, 3_000], [5, 200], [1_000, 1_001], [10, 2_500], [0, 3_000]]) {
      const rs = all.slice(from, to);
      const got = await worker.decode(packBatch(rs, worker.takeSpare()), 42);
      const want = await inline.decode(packBatch(rs), 42);
      assert.equal(got.accepted, want.accepted);
      assert.deepEqual(got.rejections, want.rejections);
      assert.deepEqual(await Deno.readFile(got.stagedPath), await Deno.readFile(want.stagedPath));
      if (want.rejectsPath === undefined) assert.equal(got.rejectsPath, undefined);
      else {
        assert.deepEqual(
          await Deno.readFile(got.rejectsPath!),
          await Deno.readFile(want.rejectsPath),
        );
      }
    }
    // Every batch after the first travelled in the buffer the one before brought back.
    assert.equal(worker.buffersReused, 4);
    // A spare too small grows like a new buffer, leaving room for a bigger batch.
    const packed = packBatch(all, packBatch(all.slice(0, 2)));
    const room = packed.values.buffer.byteLength;
    assert.ok(room > packed.values.length && room % (16 << 20) === 0, `buffer of ${room} bytes`);
    assert.equal(packBatch(all.slice(0, 10), packed).values.buffer, packed.values.buffer);
  } finally {
    worker.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a closed decode worker fails requests instead of hanging", async () => {
  const dir = await Deno.makeTempDir();
  const worker = new WorkerDecoder(dir);
  try {
    worker.close();
    await assert.rejects(worker.decode(packBatch(records(5)), 0), /decode worker closed/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("decodeBatch checks each record's own key and timestamp against its payload", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const event = (orderId: string) =>
      ENCODER.encode(
        '{"event_id":"03c0c431-0e5c-44e4-9e42-7e32469f94a7","event_type":"ORDER_CREATED",' +
          `"event_timestamp":1767225600,"order_id":${JSON.stringify(orderId)},"user_id":"u",` +
          '"total_amount":1,"currency":"USD","payment_method":null,"items":[{"sku":"S",' +
          '"quantity":1,"unit_price":1,"category":"c"}],"current_status":"CREATED"}',
      );
    const base = { topic: "orders", partition: 0, timestampMs: 5 };
    // Keys of other records next to each one: a shifted key end would show.
    const rs: RawRecord[] = [
      { ...base, offset: 0n, key: ENCODER.encode("a"), value: event("a") },
      { ...base, offset: 1n, key: null, value: event("b") },
      { ...base, offset: 2n, key: ENCODER.encode(""), value: event("c") },
      { ...base, offset: 3n, key: ENCODER.encode("dd"), value: event("d") },
      { ...base, offset: 4n, key: ENCODER.encode("é"), value: event("é") },
      { ...base, offset: 5n, key: ENCODER.encode("f"), value: null },
      { ...base, offset: 6n, key: ENCODER.encode("g"), value: event("g"), timestampMs: -1 },
      { ...base, offset: 7n, key: ENCODER.encode("h"), value: event("h"), timestampMs: -2 },
    ];
    const got = decodeBatch(packBatch(rs), 0, join(dir, "b"));
    assert.deepEqual(got.rejections.map((r) => [r.index, r.kind]), [
      [1, "invalid_key"],
      [2, "invalid_key"],
      [3, "invalid_key"],
      [5, "null_value"],
      [7, "invalid_record"],
    ]);
    assert.equal(got.rejections[2].reason, 'record key "dd" does not match order_id "d"');
    const staged = new TextDecoder().decode(await Deno.readFile(got.stagedPath)).trim().split("\n")
      .map((l) => JSON.parse(l));
    assert.deepEqual(staged.map((l) => [l.kafka_offset, l.kafka_timestamp_ms]), [
      [0, 5],
      [4, 5],
      [6, null],
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("packBatch carries keys back to back with null flags, through the worker too", async () => {
  const rs: RawRecord[] = [
    null,
    new Uint8Array(0),
    new Uint8Array([1, 2, 3]),
    null,
    new Uint8Array([9]),
  ]
    .map((key, i) => ({
      topic: "t",
      partition: 0,
      offset: BigInt(i),
      key,
      value: null,
      timestampMs: 0,
    }));
  const p = packBatch(rs);
  assert.deepEqual([...p.keyNulls], [1, 0, 0, 1, 0]);
  assert.deepEqual([...p.keyEnds], [0, 0, 3, 3, 4]);
  assert.deepEqual([...p.keys], [1, 2, 3, 9]);
  const dir = await Deno.makeTempDir();
  const worker = new WorkerDecoder(dir);
  try {
    const decoded = await worker.decode(packBatch(rs), 0);
    assert.equal(decoded.rejections.length, 5);
  } finally {
    worker.close();
    await Deno.remove(dir, { recursive: true });
  }
});
