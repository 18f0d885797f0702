import assert from "node:assert/strict";
import { LakehouseError } from "../../core/errors.ts";
import { newTableMetadata } from "../spec/metadata.ts";
import type { Schema, Snapshot, TableMetadata } from "../spec/types.ts";
import {
  applyUpdates,
  checkRequirements,
  RequirementFailedError,
  type TableUpdate,
} from "./updates.ts";

const UUID = "0b7c1d0e-5d5e-4b8e-9a36-2a1f3c4d5e6f";
const SCHEMA: Schema = {
  type: "struct",
  "schema-id": 0,
  fields: [{ id: 1, name: "id", required: true, type: "long" }],
};
const T0 = 1_700_000_000_000;

function emptyTable(properties: Record<string, string> = {}): TableMetadata {
  return newTableMetadata({
    location: "memory://wh/t",
    schema: SCHEMA,
    spec: { "spec-id": 0, fields: [] },
    properties,
    tableUuid: UUID,
    nowMs: T0,
  });
}

function snapshot(id: bigint, sequenceNumber: bigint, timestampMs: number, parent?: bigint) {
  return {
    "snapshot-id": id,
    ...(parent === undefined ? {} : { "parent-snapshot-id": parent }),
    "sequence-number": sequenceNumber,
    "timestamp-ms": timestampMs,
    "manifest-list": `memory://wh/t/metadata/snap-${id}.avro`,
    summary: { operation: "append" },
    "schema-id": 0,
  } satisfies Snapshot;
}

function commitMain(s: Snapshot): TableUpdate[] {
  return [
    { action: "add-snapshot", snapshot: s },
    {
      action: "set-snapshot-ref",
      "ref-name": "main",
      type: "branch",
      "snapshot-id": s["snapshot-id"],
    },
  ];
}

/** Commits snapshots 1..n on main, each from the metadata file `v<i>.json`. */
function history(n: number, properties: Record<string, string> = {}): TableMetadata {
  let m = emptyTable(properties);
  for (let i = 1; i <= n; i++) {
    const parent = i === 1 ? undefined : BigInt(i - 1);
    m = applyUpdates(m, commitMain(snapshot(BigInt(i), BigInt(i), T0 + i * 1000, parent)), {
      nowMs: T0 + i * 1000,
      baseLocation: `memory://wh/t/metadata/v${i - 1}.json`,
    });
  }
  return m;
}

Deno.test("add-snapshot with set-snapshot-ref main makes the snapshot current and logs it", () => {
  const base = emptyTable();
  const before = structuredClone(base);
  const s = snapshot(11n, 1n, T0 + 500);
  const next = applyUpdates(base, commitMain(s), {
    nowMs: T0 + 700,
    baseLocation: "memory://wh/t/metadata/00000-a.metadata.json",
  });
  assert.equal(next["current-snapshot-id"], 11n);
  assert.deepEqual(next.refs, { main: { "snapshot-id": 11n, type: "branch" } });
  assert.equal(next["last-sequence-number"], 1n);
  assert.deepEqual(next.snapshots, [s]);
  assert.deepEqual(next["snapshot-log"], [{ "timestamp-ms": T0 + 500, "snapshot-id": 11n }]);
  assert.deepEqual(next["metadata-log"], [{
    "timestamp-ms": T0,
    "metadata-file": "memory://wh/t/metadata/00000-a.metadata.json",
  }]);
  assert.equal(next["last-updated-ms"], T0 + 700);
  // Pure: the base metadata is untouched.
  assert.deepEqual(base, before);
});

Deno.test("a chain of commits keeps parents, sequence numbers and both logs in order", () => {
  const m = history(4);
  assert.equal(m["current-snapshot-id"], 4n);
  assert.equal(m["last-sequence-number"], 4n);
  assert.deepEqual(m.snapshots.map((s) => s["parent-snapshot-id"]), [undefined, 1n, 2n, 3n]);
  assert.deepEqual(m["snapshot-log"].map((e) => e["snapshot-id"]), [1n, 2n, 3n, 4n]);
  assert.deepEqual(
    m["metadata-log"].map((e) => e["metadata-file"]),
    [0, 1, 2, 3].map((i) => `memory://wh/t/metadata/v${i}.json`),
  );
  // Each metadata-log entry carries the time its file was written (its last-updated-ms).
  assert.deepEqual(m["metadata-log"].map((e) => e["timestamp-ms"]), [
    T0,
    T0 + 1000,
    T0 + 2000,
    T0 + 3000,
  ]);
});

Deno.test("metadata-log keeps only write.metadata.previous-versions-max entries, newest last", () => {
  const m = history(6, { "write.metadata.previous-versions-max": "3" });
  assert.deepEqual(
    m["metadata-log"].map((e) => e["metadata-file"]),
    [3, 4, 5].map((i) => `memory://wh/t/metadata/v${i}.json`),
  );
  // The option overrides the property.
  const next = applyUpdates(m, [], {
    nowMs: T0 + 10_000,
    baseLocation: "memory://wh/t/metadata/v6.json",
    metadataLogMax: 1,
  });
  assert.deepEqual(next["metadata-log"].map((e) => e["metadata-file"]), [
    "memory://wh/t/metadata/v6.json",
  ]);
  // Without a property the log holds up to 100 entries.
  assert.equal(history(105)["metadata-log"].length, 100);
});

Deno.test("the snapshot log and last-updated-ms never go back in time", () => {
  const m = history(2);
  // A snapshot stamped before the last log entry (a writer with a slow clock).
  const late = applyUpdates(m, commitMain(snapshot(3n, 3n, T0 - 5000, 2n)), { nowMs: T0 - 5000 });
  assert.deepEqual(late["snapshot-log"].at(-1), { "timestamp-ms": T0 + 2000, "snapshot-id": 3n });
  assert.ok(late["last-updated-ms"] >= m["last-updated-ms"]);
});

Deno.test("add-snapshot rejects a sequence number that does not exceed the table's", () => {
  const m = history(3);
  for (const seq of [3n, 2n, 0n]) {
    assert.throws(
      () => applyUpdates(m, commitMain(snapshot(99n, seq, T0 + 9000, 3n)), { nowMs: T0 + 9000 }),
      (error: unknown) => {
        assert.ok(error instanceof LakehouseError);
        assert.match(error.message, new RegExp(`sequence number ${seq} must exceed the table's 3`));
        return true;
      },
    );
  }
  // A snapshot id that already exists is rejected too.
  assert.throws(
    () => applyUpdates(m, commitMain(snapshot(2n, 4n, T0 + 9000, 3n)), { nowMs: T0 + 9000 }),
    /snapshot 2 already exists/,
  );
});

Deno.test("set-snapshot-ref rejects an unknown snapshot; a tag does not move main", () => {
  const m = history(2);
  assert.throws(
    () =>
      applyUpdates(m, [{
        action: "set-snapshot-ref",
        "ref-name": "main",
        type: "branch",
        "snapshot-id": 42n,
      }], { nowMs: T0 + 9000 }),
    /cannot point main at unknown snapshot 42/,
  );
  const tagged = applyUpdates(m, [{
    action: "set-snapshot-ref",
    "ref-name": "audit",
    type: "tag",
    "snapshot-id": 1n,
  }], { nowMs: T0 + 9000 });
  assert.equal(tagged["current-snapshot-id"], 2n);
  assert.deepEqual(tagged.refs.audit, { "snapshot-id": 1n, type: "tag" });
  assert.deepEqual(tagged["snapshot-log"], m["snapshot-log"]);
});

Deno.test("remove-snapshots refuses a snapshot a ref points to and drops others from the log", () => {
  const m = history(3);
  assert.throws(
    () => applyUpdates(m, [{ action: "remove-snapshots", "snapshot-ids": [3n] }], { nowMs: T0 }),
    /cannot remove snapshot 3: ref main points to it/,
  );
  const tagged = applyUpdates(m, [{
    action: "set-snapshot-ref",
    "ref-name": "keep",
    type: "tag",
    "snapshot-id": 1n,
  }], { nowMs: T0 + 9000 });
  assert.throws(
    () =>
      applyUpdates(tagged, [{ action: "remove-snapshots", "snapshot-ids": [1n, 2n] }], {
        nowMs: T0,
      }),
    /cannot remove snapshot 1: ref keep points to it/,
  );
  const pruned = applyUpdates(m, [{ action: "remove-snapshots", "snapshot-ids": [1n, 2n] }], {
    nowMs: T0 + 9000,
  });
  assert.deepEqual(pruned.snapshots.map((s) => s["snapshot-id"]), [3n]);
  assert.deepEqual(pruned["snapshot-log"].map((e) => e["snapshot-id"]), [3n]);
  assert.equal(pruned["current-snapshot-id"], 3n);
  // The sequence number is a high-water mark: it stays even when older snapshots go.
  assert.equal(pruned["last-sequence-number"], 3n);
});

Deno.test("remove-snapshot-ref main leaves the table without a current snapshot", () => {
  const m = applyUpdates(history(2), [{ action: "remove-snapshot-ref", "ref-name": "main" }], {
    nowMs: T0 + 9000,
  });
  assert.equal(m["current-snapshot-id"], undefined);
  assert.deepEqual(m.refs, {});
  assert.equal(m.snapshots.length, 2);
});

Deno.test("set-properties and remove-properties", () => {
  const base = emptyTable({ a: "1", b: "2" });
  const m = applyUpdates(base, [
    { action: "set-properties", updates: { b: "20", c: "3" } },
    { action: "remove-properties", removals: ["a", "absent"] },
  ], { nowMs: T0 + 1 });
  assert.deepEqual(m.properties, { b: "20", c: "3" });
  assert.deepEqual(base.properties, { a: "1", b: "2" });
  assert.equal(m["last-updated-ms"], T0 + 1);
  // Without a base location the metadata log is left alone.
  assert.deepEqual(m["metadata-log"], []);
});

Deno.test("checkRequirements: table uuid and ref snapshot id", () => {
  const empty = emptyTable();
  const m = history(2);
  checkRequirements(m, [
    { type: "assert-table-uuid", uuid: UUID },
    { type: "assert-ref-snapshot-id", ref: "main", "snapshot-id": 2n },
    { type: "assert-ref-snapshot-id", ref: "other", "snapshot-id": null },
  ]);
  checkRequirements(empty, [{ type: "assert-ref-snapshot-id", ref: "main", "snapshot-id": null }]);
  const fails = (
    base: TableMetadata,
    requirement: Parameters<typeof checkRequirements>[1][0],
    message: RegExp,
  ) =>
    assert.throws(() => checkRequirements(base, [requirement]), (error: unknown) => {
      assert.ok(error instanceof RequirementFailedError);
      assert.equal(error.retriable, true);
      assert.match(error.message, message);
      return true;
    });
  fails(
    m,
    { type: "assert-table-uuid", uuid: "ffffffff-5d5e-4b8e-9a36-2a1f3c4d5e6f" },
    new RegExp(`table uuid is ${UUID}`),
  );
  fails(
    m,
    { type: "assert-ref-snapshot-id", ref: "main", "snapshot-id": 1n },
    /branch main is at snapshot 2, expected 1/,
  );
  fails(
    m,
    { type: "assert-ref-snapshot-id", ref: "main", "snapshot-id": null },
    /branch main is at snapshot 2, expected none/,
  );
  fails(
    empty,
    { type: "assert-ref-snapshot-id", ref: "main", "snapshot-id": 1n },
    /branch main is at snapshot none, expected 1/,
  );
});
