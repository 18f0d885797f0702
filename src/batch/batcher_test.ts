import assert from "node:assert/strict";
import { AssertionError } from "../core/assert.ts";
import { Random } from "../core/random.ts";
import { type BatchLimits, MicroBatcher } from "./batcher.ts";
import { unpackRecords } from "./packed.ts";
import type { Batch, RawRecord } from "./types.ts";

const LIMITS: BatchLimits = {
  batchRecordsMax: 1000,
  batchBytesMax: 1 << 20,
  triggerIntervalMs: 1000,
};

function record(
  partition: number,
  offset: number | bigint,
  bytes = 10,
  timestampMs = 0,
): RawRecord {
  return {
    topic: "orders",
    partition,
    offset: BigInt(offset),
    key: null,
    value: new Uint8Array(bytes),
    timestampMs,
  };
}

/** Adds records at one instant and returns every batch closed on the way. */
function addAll(batcher: MicroBatcher, records: readonly RawRecord[], nowMs = 0): Batch[] {
  const out: Batch[] = [];
  for (const r of records) out.push(...batcher.add(r, nowMs));
  return out;
}

/** A closed batch's records, unpacked. */
function recs(batch: Batch): RawRecord[] {
  return unpackRecords(batch.packed);
}

function offsets(batch: Batch): string[] {
  return recs(batch).map((r) => `${r.partition}:${r.offset}`);
}

Deno.test("MicroBatcher closes at exactly batchRecordsMax", () => {
  const batcher = new MicroBatcher({ ...LIMITS, batchRecordsMax: 3 });
  assert.deepEqual(batcher.add(record(0, 0), 0), []);
  assert.deepEqual(batcher.add(record(0, 1), 0), []);
  const [batch, ...rest] = batcher.add(record(0, 2), 5);
  assert.equal(rest.length, 0);
  assert.equal(batch.reason, "records");
  assert.equal(recs(batch).length, 3);
  assert.equal(batch.bytes, 30);
  assert.equal(batch.openedAtMs, 0);
  assert.equal(batch.closedAtMs, 5);
  assert.equal(batcher.pendingRecords, 0);
  assert.equal(batcher.pendingBytes, 0);
  assert.equal(batcher.flush(6), undefined);
});

Deno.test("MicroBatcher splits an exact multiple into full batches and no empty one", () => {
  const batcher = new MicroBatcher(LIMITS);
  const records = Array.from({ length: 3000 }, (_, i) => record(i % 4, Math.floor(i / 4)));
  const batches = addAll(batcher, records);
  assert.equal(batches.length, 3);
  for (const b of batches) {
    assert.equal(recs(b).length, 1000);
    assert.equal(b.reason, "records");
  }
  assert.deepEqual(batches.flatMap((b) => recs(b)), records);
  assert.equal(batcher.pendingRecords, 0);
  assert.equal(batcher.flush(0), undefined);
  assert.equal(batcher.poll(1e9), undefined);
});

Deno.test("MicroBatcher closes before a record that would exceed batchBytesMax", () => {
  const batcher = new MicroBatcher({ ...LIMITS, batchBytesMax: 100 });
  assert.deepEqual(addAll(batcher, [record(0, 0, 40), record(0, 1, 40)]), []);
  const [batch, ...rest] = batcher.add(record(0, 2, 40), 7);
  assert.equal(rest.length, 0);
  assert.equal(batch.reason, "bytes");
  assert.equal(batch.bytes, 80);
  assert.deepEqual(offsets(batch), ["0:0", "0:1"]);
  assert.equal(batcher.pendingRecords, 1);
  assert.equal(batcher.pendingBytes, 40);
});

Deno.test("MicroBatcher closes a batch that reaches batchBytesMax exactly", () => {
  const batcher = new MicroBatcher({ ...LIMITS, batchBytesMax: 100 });
  assert.deepEqual(batcher.add(record(0, 0, 60), 0), []);
  const [batch] = batcher.add(record(0, 1, 40), 0);
  assert.equal(batch.reason, "bytes");
  assert.equal(batch.bytes, 100);
  assert.equal(batcher.pendingRecords, 0);
});

Deno.test("MicroBatcher puts a record larger than batchBytesMax in a batch alone", () => {
  const batcher = new MicroBatcher({ ...LIMITS, batchBytesMax: 100 });
  batcher.add(record(0, 0, 10), 0);
  const [before, alone, ...rest] = batcher.add(record(0, 1, 500), 1);
  assert.equal(rest.length, 0);
  assert.deepEqual(offsets(before), ["0:0"]);
  assert.equal(before.reason, "bytes");
  assert.deepEqual(offsets(alone), ["0:1"]);
  assert.equal(alone.reason, "bytes");
  assert.equal(alone.bytes, 500);
  assert.equal(batcher.pendingRecords, 0);
  // Into an empty batcher it closes at once too.
  const [single] = batcher.add(record(0, 2, 500), 2);
  assert.deepEqual(offsets(single), ["0:2"]);
});

Deno.test("MicroBatcher counts key and value bytes, null as zero", () => {
  const batcher = new MicroBatcher(LIMITS);
  batcher.add({ ...record(0, 0), key: new Uint8Array(7), value: new Uint8Array(5) }, 0);
  batcher.add({ ...record(0, 1), key: null, value: null }, 0);
  assert.equal(batcher.pendingBytes, 12);
  assert.equal(batcher.flush(0)!.bytes, 12);
});

Deno.test("MicroBatcher.poll closes a non-empty batch once triggerIntervalMs has passed", () => {
  const batcher = new MicroBatcher({ ...LIMITS, triggerIntervalMs: 500 });
  assert.equal(batcher.poll(10_000), undefined);
  batcher.add(record(0, 0), 1000);
  batcher.add(record(0, 1), 1200);
  assert.equal(batcher.poll(1200), undefined);
  assert.equal(batcher.poll(1499), undefined);
  const batch = batcher.poll(1500)!;
  assert.equal(batch.reason, "time");
  assert.equal(batch.openedAtMs, 1000);
  assert.equal(batch.closedAtMs, 1500);
  assert.equal(recs(batch).length, 2);
  assert.equal(batcher.poll(5000), undefined);
  // The next batch's interval starts at its first record.
  batcher.add(record(0, 2), 4000);
  assert.equal(batcher.poll(4499), undefined);
  assert.equal(batcher.poll(4500)?.openedAtMs, 4000);
});

Deno.test("MicroBatcher.add closes an overdue batch before adding", () => {
  const batcher = new MicroBatcher({ ...LIMITS, triggerIntervalMs: 500 });
  batcher.add(record(0, 0), 0);
  const [due] = batcher.add(record(0, 1), 600);
  assert.equal(due.reason, "time");
  assert.deepEqual(offsets(due), ["0:0"]);
  assert.equal(batcher.pendingRecords, 1);
  assert.equal(batcher.poll(1099), undefined);
  assert.deepEqual(offsets(batcher.poll(1100)!), ["0:1"]);
});

Deno.test("MicroBatcher.add with holdDue keeps a due batch open until its limits", () => {
  const b = new MicroBatcher({ ...LIMITS, batchRecordsMax: 3 });
  assert.deepEqual(b.add(record(0, 0), 0, true), []);
  // Long overdue, but the writers are busy: the batch keeps filling...
  assert.deepEqual(b.add(record(0, 1), 5_000, true), []);
  // ...and still closes at its record limit.
  const [full] = b.add(record(0, 2), 6_000, true);
  assert.equal(full.reason, "records");
  assert.deepEqual(offsets(full), ["0:0", "0:1", "0:2"]);
  // Without holdDue an overdue batch closes before the next record.
  b.add(record(0, 3), 7_000, true);
  const [due] = b.add(record(0, 4), 9_000);
  assert.equal(due.reason, "time");
  assert.deepEqual(offsets(due), ["0:3"]);
});

Deno.test("MicroBatcher.flush closes any non-empty batch and returns undefined when empty", () => {
  const batcher = new MicroBatcher(LIMITS);
  assert.equal(batcher.flush(0), undefined);
  batcher.add(record(1, 5), 10);
  const batch = batcher.flush(11)!;
  assert.equal(batch.reason, "flush");
  assert.equal(batch.closedAtMs, 11);
  assert.equal(batcher.flush(12), undefined);
});

Deno.test("MicroBatcher ranges cover each partition's first and next offset, sorted", () => {
  const batcher = new MicroBatcher(LIMITS);
  addAll(batcher, [
    record(3, 100),
    record(1, 7),
    record(3, 101),
    record(0, 0),
    record(1, 9), // offsets may skip (compaction, transaction markers)
    record(3, 105),
  ]);
  const batch = batcher.flush(0)!;
  assert.deepEqual(batch.ranges, [
    { partition: 0, firstOffset: 0n, nextOffset: 1n },
    { partition: 1, firstOffset: 7n, nextOffset: 10n },
    { partition: 3, firstOffset: 100n, nextOffset: 106n },
  ]);
  assert.deepEqual(offsets(batch), ["3:100", "1:7", "3:101", "0:0", "1:9", "3:105"]);
});

Deno.test("MicroBatcher ranges of consecutive batches are contiguous per partition", () => {
  const batcher = new MicroBatcher({ ...LIMITS, batchRecordsMax: 7 });
  const records = Array.from({ length: 40 }, (_, i) => record(i % 3, 1000 + Math.floor(i / 3)));
  const batches = addAll(batcher, records);
  batches.push(batcher.flush(0)!);
  const next = new Map<number, bigint>();
  for (const b of batches) {
    for (const r of b.ranges) {
      if (next.has(r.partition)) assert.equal(r.firstOffset, next.get(r.partition));
      next.set(r.partition, r.nextOffset);
    }
  }
  assert.deepEqual([...next], [[0, 1014n], [1, 1013n], [2, 1013n]]);
  assert.equal(batches.reduce((n, b) => n + recs(b).length, 0), 40);
});

Deno.test("MicroBatcher rejects an offset that does not increase within its partition", () => {
  const batcher = new MicroBatcher(LIMITS);
  batcher.add(record(0, 5), 0);
  batcher.add(record(1, 2), 0);
  assert.throws(() => batcher.add(record(0, 5), 0), AssertionError);
  assert.throws(() => batcher.add(record(0, 4), 0), /offset 4 of partition 0 does not follow 5/);
  // Across batches too: a re-delivery after a close is a duplicate as well.
  batcher.flush(0);
  assert.throws(() => batcher.add(record(1, 2), 0), AssertionError);
  assert.equal(batcher.pendingRecords, 0);
  batcher.add(record(1, 3), 0);
  batcher.add(record(2, 0), 0);
  assert.equal(batcher.pendingRecords, 2);
});

Deno.test("MicroBatcher.revoke drops only the revoked partitions and fixes the ranges", () => {
  const batcher = new MicroBatcher({ ...LIMITS, triggerIntervalMs: 100 });
  addAll(batcher, [
    record(0, 10, 10),
    record(1, 20, 20),
    record(2, 30, 30),
    record(0, 11, 10),
    record(1, 21, 20),
  ], 1000);
  batcher.revoke([1, 7]);
  assert.equal(batcher.pendingRecords, 3);
  assert.equal(batcher.pendingBytes, 50);
  assert.equal(batcher.poll(1099), undefined);
  const batch = batcher.poll(1100)!;
  assert.equal(batch.openedAtMs, 1000, "the batch keeps its opening time");
  assert.deepEqual(offsets(batch), ["0:10", "2:30", "0:11"]);
  assert.equal(batch.bytes, 50);
  assert.deepEqual(batch.ranges, [
    { partition: 0, firstOffset: 10n, nextOffset: 12n },
    { partition: 2, firstOffset: 30n, nextOffset: 31n },
  ]);
});

Deno.test("MicroBatcher.revoke forgets the offsets of revoked partitions", () => {
  const batcher = new MicroBatcher(LIMITS);
  addAll(batcher, [record(0, 10), record(1, 10)]);
  batcher.revoke([0]);
  // Reassigned later, the partition resumes at a table's committed offset,
  // possibly below what this consumer had buffered.
  batcher.add(record(0, 3), 0);
  assert.throws(() => batcher.add(record(1, 10), 0), AssertionError);
  const batch = batcher.flush(0)!;
  assert.deepEqual(batch.ranges, [
    { partition: 0, firstOffset: 3n, nextOffset: 4n },
    { partition: 1, firstOffset: 10n, nextOffset: 11n },
  ]);
});

Deno.test("MicroBatcher.revoke of everything leaves an empty batcher", () => {
  const batcher = new MicroBatcher(LIMITS);
  addAll(batcher, [record(0, 0), record(1, 0)], 0);
  batcher.revoke([0, 1]);
  assert.equal(batcher.pendingRecords, 0);
  assert.equal(batcher.pendingBytes, 0);
  assert.equal(batcher.poll(1e9), undefined);
  assert.equal(batcher.flush(0), undefined);
  // A new batch opens at its own first record.
  batcher.add(record(0, 1), 5000);
  assert.equal(batcher.poll(5999), undefined);
  const batch = batcher.poll(6000)!;
  assert.equal(batch.openedAtMs, 5000);
  assert.deepEqual(offsets(batch), ["0:1"]);
});

Deno.test("MicroBatcher batches are frozen and independent of later adds", () => {
  const batcher = new MicroBatcher({ ...LIMITS, batchRecordsMax: 2 });
  const [batch] = addAll(batcher, [record(0, 0), record(0, 1)]);
  addAll(batcher, [record(0, 2)]);
  assert.equal(recs(batch).length, 2);
  assert.ok(Object.isFrozen(batch));
  assert.ok(Object.isFrozen(batch.ranges));
});

Deno.test("MicroBatcher rejects limits that are not positive integers", () => {
  for (const name of ["batchRecordsMax", "batchBytesMax", "triggerIntervalMs"] as const) {
    for (const bad of [0, -1, 1.5, NaN, Infinity, 2 ** 53]) {
      assert.throws(
        () => new MicroBatcher({ ...LIMITS, [name]: bad }),
        (e: unknown) =>
          e instanceof RangeError &&
          e.message === `${name} must be a positive integer, got ${String(bad)}`,
      );
    }
  }
  assert.throws(
    () => new MicroBatcher({ ...LIMITS, batchBytesMax: "5" as unknown as number }),
    RangeError,
  );
  assert.equal(new MicroBatcher({ ...LIMITS, batchRecordsMax: 1 }).limits.batchRecordsMax, 1);
});

Deno.test("MicroBatcher with batchRecordsMax 1 closes every record alone", () => {
  const batcher = new MicroBatcher({ ...LIMITS, batchRecordsMax: 1 });
  const batches = addAll(batcher, [record(0, 0), record(1, 0), record(0, 1)]);
  assert.deepEqual(batches.map(offsets), [["0:0"], ["1:0"], ["0:1"]]);
});

Deno.test("MicroBatcher matches a simple model over a seeded random run", () => {
  for (const seed of ["a", "b", "c", "d"]) {
    const random = new Random(`batcher/${seed}`);
    const limits = {
      batchRecordsMax: random.intBetween(1, 20),
      batchBytesMax: random.intBetween(1, 400),
      triggerIntervalMs: random.intBetween(1, 50),
    };
    const batcher = new MicroBatcher(limits);
    // The model: records added and not revoked, in order; closed batches
    // must partition exactly that sequence.
    const expected: RawRecord[] = [];
    const closed: Batch[] = [];
    const closedIds = new Set<string>();
    const id = (r: RawRecord) => `${r.partition}:${r.offset}`;
    const close = (batches: readonly (Batch | undefined)[]) => {
      for (const b of batches) {
        if (b === undefined) continue;
        closed.push(b);
        for (const r of recs(b)) closedIds.add(id(r));
      }
    };
    const next = [0, 0, 0, 0];
    let now = 0;
    for (let step = 0; step < 5000; step++) {
      now += random.int(5);
      const action = random.int(100);
      if (action < 85) {
        const p = random.int(4);
        next[p] += 1 + random.int(3);
        const r = record(p, next[p], random.int(100), random.int(1e6));
        expected.push(r);
        close(batcher.add(r, now));
      } else if (action < 93) {
        close([batcher.poll(now)]);
      } else if (action < 97) {
        close([batcher.flush(now)]);
      } else {
        const p = random.int(4);
        for (let i = expected.length - 1; i >= 0; i--) {
          if (expected[i].partition === p && !closedIds.has(id(expected[i]))) expected.splice(i, 1);
        }
        batcher.revoke([p]);
      }
    }
    close([batcher.flush(now)]);
    assert.deepEqual(closed.flatMap((b) => recs(b)), expected);
    for (const b of closed) {
      assert.ok(recs(b).length >= 1 && recs(b).length <= limits.batchRecordsMax);
      const bytes = recs(b).reduce((n, r) => n + r.value!.length, 0);
      assert.equal(b.bytes, bytes);
      assert.ok(bytes <= limits.batchBytesMax || recs(b).length === 1);
      const openMs = b.closedAtMs - b.openedAtMs;
      if (b.reason === "time") assert.ok(openMs >= limits.triggerIntervalMs);
      if (b.reason === "records" || b.reason === "bytes") {
        assert.ok(openMs < limits.triggerIntervalMs, "an overdue batch closes for time first");
      }
      if (b.reason === "records") assert.equal(recs(b).length, limits.batchRecordsMax);
      const partitions = [...new Set(recs(b).map((r) => r.partition))].sort();
      assert.deepEqual(
        b.ranges,
        partitions.map((p) => {
          const own = recs(b).filter((r) => r.partition === p);
          return {
            partition: p,
            firstOffset: own[0].offset,
            nextOffset: own[own.length - 1].offset + 1n,
          };
        }),
      );
    }
  }
});

Deno.test("MicroBatcher makes each new batch's buffers for the size of the batch before", () => {
  const batcher = new MicroBatcher({ ...LIMITS, batchRecordsMax: 2_000, batchBytesMax: 1 << 30 });
  const first = addAll(batcher, Array.from({ length: 2_000 }, (_, i) => record(0, i, 500)));
  assert.equal(first.length, 1);
  // Grown from small: a power of two.
  assert.equal(first[0].packed.values.buffer.byteLength, 1 << 20);
  const second = addAll(
    batcher,
    Array.from({ length: 2_000 }, (_, i) => record(0, 2_000 + i, 500)),
  );
  assert.equal(second.length, 1);
  assert.equal(second[0].packed.values.buffer.byteLength, Math.ceil(1_000_000 * (17 / 16)));
  assert.deepEqual(offsets(second[0]), Array.from({ length: 2_000 }, (_, i) => `0:${2_000 + i}`));
});
