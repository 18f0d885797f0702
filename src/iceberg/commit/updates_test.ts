import assert from "node:assert/strict";
import { LakehouseError } from "../../core/errors.ts";
import { newTableMetadata, tableMetadataFromJson, tableMetadataToJson } from "../spec/metadata.ts";
import type { PartitionSpec, Schema, Snapshot, SortOrder, TableMetadata } from "../spec/types.ts";
import {
  applyUpdates,
  checkRequirements,
  InvalidUpdateError,
  RequirementFailedError,
  type TableRequirement,
  type TableUpdate,
  UNSUPPORTED_ACTIONS,
  UnsupportedUpdateError,
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

// ---------------------------------------------------------------------------
// Requirements
// ---------------------------------------------------------------------------

/** A table with two snapshots, a tag, two schemas, a partitioned spec and a sort order. */
function richTable(): TableMetadata {
  return applyUpdates(history(2), [
    { action: "add-schema", schema: SCHEMA_V1 },
    { action: "set-current-schema", "schema-id": -1 },
    { action: "add-spec", spec: DAY_SPEC },
    { action: "set-default-spec", "spec-id": -1 },
    { action: "add-sort-order", "sort-order": BY_TS },
    { action: "set-default-sort-order", "sort-order-id": -1 },
    { action: "set-snapshot-ref", "ref-name": "audit", type: "tag", "snapshot-id": 1n },
  ], { nowMs: T0 + 5000 });
}

const SCHEMA_V1: Schema = {
  type: "struct",
  "schema-id": 42, // ignored: the table assigns ids
  fields: [
    { id: 1, name: "id", required: true, type: "long" },
    { id: 2, name: "ts", required: false, type: "timestamptz" },
  ],
};

const DAY_SPEC: PartitionSpec = {
  "spec-id": 7, // ignored
  fields: [{ "source-id": 2, "field-id": 1000, name: "ts_day", transform: "day" }],
};

const BY_TS: SortOrder = {
  "order-id": 9, // ignored
  fields: [{
    transform: "identity",
    "source-id": 2,
    direction: "asc",
    "null-order": "nulls-first",
  }],
};

Deno.test("checkRequirements: every requirement holds on the table it describes", () => {
  const m = richTable();
  assert.equal(m["current-schema-id"], 1);
  assert.equal(m["default-spec-id"], 1);
  assert.equal(m["default-sort-order-id"], 1);
  checkRequirements(m, [
    { type: "assert-table-uuid", uuid: UUID.toUpperCase() },
    { type: "assert-ref-snapshot-id", ref: "main", "snapshot-id": 2n },
    { type: "assert-ref-snapshot-id", ref: "audit", "snapshot-id": 1n },
    { type: "assert-ref-snapshot-id", ref: "other", "snapshot-id": null },
    { type: "assert-last-assigned-field-id", "last-assigned-field-id": 2 },
    { type: "assert-current-schema-id", "current-schema-id": 1 },
    { type: "assert-last-assigned-partition-id", "last-assigned-partition-id": 1000 },
    { type: "assert-default-spec-id", "default-spec-id": 1 },
    { type: "assert-default-sort-order-id", "default-sort-order-id": 1 },
  ]);
  checkRequirements(emptyTable(), [
    { type: "assert-ref-snapshot-id", ref: "main", "snapshot-id": null },
  ]);
  checkRequirements(undefined, [{ type: "assert-create" }]);
  checkRequirements(m, []);
});

Deno.test("checkRequirements: a failed requirement is retriable and names itself and the field", () => {
  const m = richTable();
  const cases: [TableMetadata | undefined, TableRequirement, string][] = [
    [m, { type: "assert-create" }, "assert-create failed: the table already exists"],
    [
      m,
      { type: "assert-table-uuid", uuid: "ffffffff-5d5e-4b8e-9a36-2a1f3c4d5e6f" },
      `assert-table-uuid failed: table-uuid is ${UUID}, expected ffffffff-5d5e-4b8e-9a36-2a1f3c4d5e6f`,
    ],
    [
      m,
      { type: "assert-ref-snapshot-id", ref: "main", "snapshot-id": 1n },
      "assert-ref-snapshot-id failed: branch main is at snapshot 2, expected 1",
    ],
    [
      m,
      { type: "assert-ref-snapshot-id", ref: "audit", "snapshot-id": 2n },
      "assert-ref-snapshot-id failed: tag audit is at snapshot 1, expected 2",
    ],
    [
      m,
      { type: "assert-ref-snapshot-id", ref: "main", "snapshot-id": null },
      "assert-ref-snapshot-id failed: branch main exists at snapshot 2, expected no such ref",
    ],
    [
      emptyTable(),
      { type: "assert-ref-snapshot-id", ref: "main", "snapshot-id": 1n },
      "assert-ref-snapshot-id failed: ref main does not exist, expected it at snapshot 1",
    ],
    [
      m,
      { type: "assert-last-assigned-field-id", "last-assigned-field-id": 1 },
      "assert-last-assigned-field-id failed: last-column-id is 2, expected 1",
    ],
    [
      m,
      { type: "assert-current-schema-id", "current-schema-id": 0 },
      "assert-current-schema-id failed: current-schema-id is 1, expected 0",
    ],
    [
      m,
      { type: "assert-last-assigned-partition-id", "last-assigned-partition-id": 999 },
      "assert-last-assigned-partition-id failed: last-partition-id is 1000, expected 999",
    ],
    [
      m,
      { type: "assert-default-spec-id", "default-spec-id": 0 },
      "assert-default-spec-id failed: default-spec-id is 1, expected 0",
    ],
    [
      m,
      { type: "assert-default-sort-order-id", "default-sort-order-id": 0 },
      "assert-default-sort-order-id failed: default-sort-order-id is 1, expected 0",
    ],
    [
      undefined,
      { type: "assert-current-schema-id", "current-schema-id": 0 },
      "assert-current-schema-id failed: the table does not exist",
    ],
  ];
  for (const [base, requirement, message] of cases) {
    assert.throws(
      // The first failing requirement is reported, after those that hold.
      () => checkRequirements(base, [{ type: "assert-table-uuid", uuid: UUID }, requirement]),
      (error: unknown) => {
        if (base === undefined && requirement.type !== "assert-create") {
          // The uuid requirement fails first on a missing table.
          assert.ok(error instanceof RequirementFailedError);
          assert.match(error.message, /the table does not exist/);
          return true;
        }
        assert.ok(error instanceof RequirementFailedError, String(error));
        assert.equal(error.retriable, true);
        assert.equal(error.message, `requirement ${message}`);
        assert.deepEqual(error.requirement, requirement);
        return true;
      },
    );
    assert.throws(() => checkRequirements(base, [requirement]), (error: unknown) => {
      assert.ok(error instanceof RequirementFailedError);
      assert.equal(error.message, `requirement ${message}`);
      return true;
    });
  }
  assert.throws(
    () => checkRequirements(m, [{ type: "assert-nothing" } as unknown as TableRequirement]),
    (error: unknown) => {
      assert.ok(error instanceof LakehouseError && !(error instanceof RequirementFailedError));
      assert.equal(error.retriable, false);
      assert.match(error.message, /unknown table requirement type "assert-nothing"/);
      return true;
    },
  );
});

// ---------------------------------------------------------------------------
// Updates
// ---------------------------------------------------------------------------

/** Asserts that applying `updates` to `base` fails with InvalidUpdateError and `message`. */
function rejects(
  base: TableMetadata | undefined,
  updates: readonly TableUpdate[],
  message: string | RegExp,
): void {
  assert.throws(() => applyUpdates(base, updates, { nowMs: T0 + 9000 }), (error: unknown) => {
    assert.ok(error instanceof InvalidUpdateError, String(error));
    assert.equal(error.retriable, false);
    if (typeof message === "string") assert.equal(error.message, message);
    else assert.match(error.message, message);
    return true;
  });
}

Deno.test("assign-uuid keeps the table's uuid and refuses another", () => {
  const m = emptyTable();
  assert.equal(
    applyUpdates(m, [{ action: "assign-uuid", uuid: UUID.toUpperCase() }], { nowMs: T0 })[
      "table-uuid"
    ],
    UUID,
  );
  rejects(
    m,
    [{ action: "assign-uuid", uuid: "ffffffff-5d5e-4b8e-9a36-2a1f3c4d5e6f" }],
    `assign-uuid: uuid ffffffff-5d5e-4b8e-9a36-2a1f3c4d5e6f differs from the table's ${UUID}; a table's uuid never changes`,
  );
  rejects(
    m,
    [{ action: "assign-uuid", uuid: "nope" }],
    'assign-uuid: uuid must be a UUID, got "nope"',
  );
});

Deno.test("upgrade-format-version accepts 2 and refuses every other version", () => {
  const m = emptyTable();
  assert.deepEqual(
    applyUpdates(m, [{ action: "upgrade-format-version", "format-version": 2 }], { nowMs: T0 }),
    m,
  );
  rejects(
    m,
    [{ action: "upgrade-format-version", "format-version": 3 }],
    "upgrade-format-version: format-version 3 is not supported; this build writes format version 2 only",
  );
  rejects(
    m,
    [{ action: "upgrade-format-version", "format-version": 1 }],
    "upgrade-format-version: cannot downgrade format-version 2 to 1",
  );
});

Deno.test("add-schema assigns the next id, raises last-column-id and reuses an equal schema", () => {
  const base = emptyTable();
  const m = applyUpdates(base, [{ action: "add-schema", schema: SCHEMA_V1, "last-column-id": 5 }], {
    nowMs: T0 + 1,
  });
  assert.deepEqual(m.schemas.map((s) => s["schema-id"]), [0, 1]);
  assert.deepEqual(m.schemas[1].fields, SCHEMA_V1.fields);
  assert.equal(m["last-column-id"], 5);
  assert.equal(m["current-schema-id"], 0, "adding a schema does not make it current");
  // Without last-column-id, the schema's highest field id.
  assert.equal(
    applyUpdates(base, [{ action: "add-schema", schema: SCHEMA_V1 }], { nowMs: T0 })[
      "last-column-id"
    ],
    2,
  );
  // The same fields (keys in another order, another schema id): the existing schema, made current by -1.
  const again = applyUpdates(m, [
    {
      action: "add-schema",
      schema: {
        fields: [SCHEMA_V1.fields[0], { type: "timestamptz", required: false, name: "ts", id: 2 }],
        "schema-id": 3,
        type: "struct",
      },
    },
    { action: "set-current-schema", "schema-id": -1 },
  ], { nowMs: T0 + 2 });
  assert.equal(again.schemas.length, 2);
  assert.equal(again["current-schema-id"], 1);
  // Identifier fields make a schema different.
  const keyed = applyUpdates(m, [
    { action: "add-schema", schema: { ...SCHEMA_V1, "identifier-field-ids": [1] } },
  ], { nowMs: T0 + 3 });
  assert.deepEqual(keyed.schemas.map((s) => s["schema-id"]), [0, 1, 2]);
  assert.deepEqual(keyed.schemas[2]["identifier-field-ids"], [1]);

  rejects(
    m,
    [{ action: "add-schema", schema: SCHEMA_V1, "last-column-id": 4 }],
    "add-schema: last-column-id 4 is below the table's last-column-id 5",
  );
  rejects(
    base,
    [{ action: "add-schema", schema: SCHEMA_V1, "last-column-id": 1 }],
    "add-schema: last-column-id 1 is below the schema's highest field id 2",
  );
  rejects(
    base,
    [{
      action: "add-schema",
      schema: {
        ...SCHEMA_V1,
        fields: [...SCHEMA_V1.fields, { id: 2, name: "x", required: false, type: "int" }],
      },
    }],
    "add-schema: schema field x reuses id 2 of ts",
  );
  rejects(
    base,
    [{ action: "add-schema", schema: { ...SCHEMA_V1, "identifier-field-ids": [2] } }],
    "add-schema: identifier field id 2 (ts) is optional",
  );
  rejects(
    base,
    [{ action: "add-schema", schema: { ...SCHEMA_V1, "identifier-field-ids": [9] } }],
    "add-schema: identifier field id 9 matches no field of the schema",
  );
});

/** SCHEMA_V1 with ts dropped and a column added. */
const WITHOUT_TS: Schema = {
  type: "struct",
  "schema-id": 0,
  fields: [SCHEMA_V1.fields[0], { id: 3, name: "note", required: false, type: "string" }],
};

Deno.test("set-current-schema takes an id or -1 and keeps the default spec and sort order readable", () => {
  const m = richTable();
  // Schema 0 lacks the column of the partitioned spec and sorted order: those go first.
  const back = applyUpdates(m, [
    { action: "set-default-spec", "spec-id": 0 },
    { action: "set-default-sort-order", "sort-order-id": 0 },
    { action: "set-current-schema", "schema-id": 0 },
  ], { nowMs: T0 + 9000 });
  assert.equal(back["current-schema-id"], 0);
  rejects(
    history(1),
    [{ action: "set-current-schema", "schema-id": -1 }],
    "set-current-schema: schema-id -1 means the one added last in this commit, but no add-schema came before it",
  );
  rejects(
    m,
    [{ action: "set-current-schema", "schema-id": 5 }],
    "set-current-schema: schema-id 5 matches no schema of the table (it has 0, 1)",
  );
  // Dropping the column the default spec and sort order read.
  rejects(
    m,
    [
      {
        action: "add-schema",
        schema: WITHOUT_TS,
      },
      { action: "set-current-schema", "schema-id": -1 },
    ],
    "set-current-schema: partition field ts_day of spec 1 reads column id 2, which schema 2 does not have",
  );
  const unpartitioned = applyUpdates(m, [{ action: "set-default-spec", "spec-id": 0 }], {
    nowMs: T0 + 9000,
  });
  rejects(
    unpartitioned,
    [
      {
        action: "add-schema",
        schema: WITHOUT_TS,
      },
      { action: "set-current-schema", "schema-id": -1 },
    ],
    "set-current-schema: sort field 0 of sort order 1 has unknown source-id 2 in schema 2",
  );
});

Deno.test("add-spec assigns the next id and last-partition-id; field ids keep their meaning", () => {
  const base = applyUpdates(emptyTable(), [
    { action: "add-schema", schema: SCHEMA_V1 },
    { action: "set-current-schema", "schema-id": -1 },
  ], { nowMs: T0 + 1 });
  const m = applyUpdates(base, [
    { action: "add-spec", spec: DAY_SPEC },
    { action: "set-default-spec", "spec-id": -1 },
  ], { nowMs: T0 + 2 });
  assert.deepEqual(m["partition-specs"].map((s) => s["spec-id"]), [0, 1]);
  assert.equal(m["default-spec-id"], 1);
  assert.equal(m["last-partition-id"], 1000);
  // An equal spec is the existing one.
  const again = applyUpdates(m, [{ action: "add-spec", spec: DAY_SPEC }], { nowMs: T0 + 3 });
  assert.equal(again["partition-specs"].length, 2);
  // Evolving to hour partitions takes a new field id.
  const hourly = applyUpdates(m, [
    {
      action: "add-spec",
      spec: {
        "spec-id": 0,
        fields: [{ "source-id": 2, "field-id": 1001, name: "ts_hour", transform: "hour" }],
      },
    },
    { action: "set-default-spec", "spec-id": -1 },
  ], { nowMs: T0 + 4 });
  assert.equal(hourly["default-spec-id"], 2);
  assert.equal(hourly["last-partition-id"], 1001);

  rejects(
    m,
    [{
      action: "add-spec",
      spec: {
        "spec-id": 0,
        fields: [{ "source-id": 2, "field-id": 1000, name: "ts_hour", transform: "hour" }],
      },
    }],
    "add-spec: partition field ts_hour reuses field-id 1000 of ts_day in spec 1, which has another source or transform",
  );
  rejects(
    hourly,
    [{
      action: "add-spec",
      spec: {
        "spec-id": 0,
        fields: [{ "source-id": 1, "field-id": 999, name: "id_bucket", transform: "bucket[8]" }],
      },
    }],
    "add-spec: partition field id_bucket has field-id 999; ids start at 1000",
  );
  rejects(
    hourly,
    [{
      action: "add-spec",
      spec: {
        "spec-id": 0,
        fields: [{ "source-id": 9, "field-id": 1002, name: "p", transform: "identity" }],
      },
    }],
    "add-spec: partition field p has unknown source-id 9",
  );
  rejects(
    hourly,
    [{
      action: "add-spec",
      spec: {
        "spec-id": 0,
        fields: [{ "source-id": 1, "field-id": 1002, name: "p", transform: "hour" }],
      },
    }],
    /^add-spec: partition field p .*hour/,
  );
  // A table whose ids went up to 1001 never reuses 1001 for something else.
  const dropped = {
    ...hourly,
    "partition-specs": hourly["partition-specs"].slice(0, 2),
    "default-spec-id": 1,
  };
  rejects(
    dropped,
    [{
      action: "add-spec",
      spec: {
        "spec-id": 0,
        fields: [{ "source-id": 1, "field-id": 1001, name: "id_b", transform: "bucket[4]" }],
      },
    }],
    "add-spec: partition field id_b has field-id 1001, which was assigned before; new partition fields take ids above last-partition-id 1001",
  );
  rejects(
    undefined,
    [{ action: "add-spec", spec: DAY_SPEC }],
    "add-spec: the table has no current schema yet (add-schema, then set-current-schema)",
  );
});

Deno.test("set-default-spec takes an id or -1", () => {
  const m = richTable();
  assert.equal(
    applyUpdates(m, [{ action: "set-default-spec", "spec-id": 0 }], { nowMs: T0 + 9000 })[
      "default-spec-id"
    ],
    0,
  );
  rejects(
    m,
    [{ action: "set-default-spec", "spec-id": 4 }],
    "set-default-spec: spec-id 4 matches no partition spec of the table (it has 0, 1)",
  );
  rejects(
    m,
    [{ action: "set-default-spec", "spec-id": -1 }],
    "set-default-spec: spec-id -1 means the one added last in this commit, but no add-spec came before it",
  );
});

Deno.test("add-sort-order: unsorted is order 0, sorted orders count from 1, equal ones are reused", () => {
  const m = richTable();
  assert.deepEqual(m["sort-orders"], [
    { "order-id": 0, fields: [] },
    { "order-id": 1, fields: BY_TS.fields },
  ]);
  const desc: SortOrder = {
    "order-id": 0,
    fields: [{ transform: "day", "source-id": 2, direction: "desc", "null-order": "nulls-last" }],
  };
  const two = applyUpdates(m, [
    { action: "add-sort-order", "sort-order": desc },
    { action: "set-default-sort-order", "sort-order-id": -1 },
  ], { nowMs: T0 + 9000 });
  assert.equal(two["default-sort-order-id"], 2);
  const unsorted = applyUpdates(two, [
    { action: "add-sort-order", "sort-order": { "order-id": 5, fields: [] } },
    { action: "set-default-sort-order", "sort-order-id": -1 },
  ], { nowMs: T0 + 9000 });
  assert.equal(unsorted["default-sort-order-id"], 0);
  assert.equal(unsorted["sort-orders"].length, 3);
  const same = applyUpdates(two, [{ action: "add-sort-order", "sort-order": BY_TS }, {
    action: "set-default-sort-order",
    "sort-order-id": -1,
  }], { nowMs: T0 + 9000 });
  assert.equal(same["default-sort-order-id"], 1);
  rejects(
    m,
    [{
      action: "add-sort-order",
      "sort-order": { "order-id": 0, fields: [{ ...BY_TS.fields[0], "source-id": 7 }] },
    }],
    "add-sort-order: sort field 0 has unknown source-id 7",
  );
  rejects(
    m,
    [{
      action: "add-sort-order",
      "sort-order": { "order-id": 0, fields: [{ ...BY_TS.fields[0], direction: "up" as "asc" }] },
    }],
    "add-sort-order: sort field 0 has a direction other than asc or desc",
  );
});

Deno.test("set-default-sort-order takes an id or -1", () => {
  const m = richTable();
  assert.equal(
    applyUpdates(m, [{ action: "set-default-sort-order", "sort-order-id": 0 }], {
      nowMs: T0 + 9000,
    })["default-sort-order-id"],
    0,
  );
  rejects(
    m,
    [{ action: "set-default-sort-order", "sort-order-id": 3 }],
    "set-default-sort-order: sort-order-id 3 matches no sort order of the table (it has 0, 1)",
  );
  rejects(
    m,
    [{ action: "set-default-sort-order", "sort-order-id": -1 }],
    "set-default-sort-order: sort-order-id -1 means the one added last in this commit, but no add-sort-order came before it",
  );
});

Deno.test("add-snapshot refuses an unknown schema id or operation", () => {
  const m = history(1);
  rejects(
    m,
    [{ action: "add-snapshot", snapshot: { ...snapshot(5n, 2n, T0 + 9000, 1n), "schema-id": 3 } }],
    "add-snapshot: snapshot 5: schema-id 3 matches no schema of the table",
  );
  rejects(
    m,
    [{
      action: "add-snapshot",
      snapshot: { ...snapshot(5n, 2n, T0 + 9000, 1n), summary: { operation: "merge" as "append" } },
    }],
    "add-snapshot: snapshot 5: summary.operation must be append, replace, overwrite or delete",
  );
});

Deno.test("set-snapshot-ref: retention settings, main is a branch, a rollback is logged at commit time", () => {
  const m = history(3);
  const kept = applyUpdates(m, [{
    action: "set-snapshot-ref",
    "ref-name": "main",
    type: "branch",
    "snapshot-id": 3n,
    "min-snapshots-to-keep": 5,
    "max-snapshot-age-ms": 86_400_000,
  }], { nowMs: T0 + 9000 });
  assert.deepEqual(kept.refs.main, {
    "snapshot-id": 3n,
    type: "branch",
    "min-snapshots-to-keep": 5,
    "max-snapshot-age-ms": 86_400_000,
  });
  // Main did not move: no snapshot-log entry.
  assert.deepEqual(kept["snapshot-log"], m["snapshot-log"]);
  // The same ref again changes nothing.
  assert.deepEqual(
    applyUpdates(kept, [{
      action: "set-snapshot-ref",
      "ref-name": "main",
      type: "branch",
      "snapshot-id": 3n,
      "max-snapshot-age-ms": 86_400_000,
      "min-snapshots-to-keep": 5,
    }], { nowMs: T0 + 9500 })["snapshot-log"],
    m["snapshot-log"],
  );
  // A rollback to snapshot 1 is logged when it happened, not at snapshot 1's time.
  const rolledBack = applyUpdates(m, [{
    action: "set-snapshot-ref",
    "ref-name": "main",
    type: "branch",
    "snapshot-id": 1n,
  }], { nowMs: T0 + 9000 });
  assert.equal(rolledBack["current-snapshot-id"], 1n);
  assert.deepEqual(rolledBack["snapshot-log"].at(-1), {
    "timestamp-ms": T0 + 9000,
    "snapshot-id": 1n,
  });
  assert.deepEqual(tableMetadataFromJson(tableMetadataToJson(kept)), kept);

  const ref = (extra: object) => [{
    action: "set-snapshot-ref",
    "ref-name": "t",
    type: "tag",
    "snapshot-id": 1n,
    ...extra,
  } as TableUpdate];
  rejects(
    m,
    ref({ "min-snapshots-to-keep": 2 }),
    "set-snapshot-ref: tag t cannot have min-snapshots-to-keep (branches only)",
  );
  rejects(
    m,
    ref({ "max-ref-age-ms": 0 }),
    "set-snapshot-ref: ref t: max-ref-age-ms must be a positive integer, got 0",
  );
  rejects(m, ref({ "ref-name": "main" }), "set-snapshot-ref: main must be a branch, not a tag");
  rejects(m, ref({ "ref-name": "" }), "set-snapshot-ref: ref-name must not be empty");
});

Deno.test("set-location takes a full URI without trailing slashes", () => {
  const m = emptyTable();
  assert.equal(
    applyUpdates(m, [{ action: "set-location", location: "s3://b/db/t//" }], { nowMs: T0 })
      .location,
    "s3://b/db/t",
  );
  rejects(
    m,
    [{ action: "set-location", location: "/tmp/t" }],
    'set-location: location must be a full URI (scheme://...), got "/tmp/t"',
  );
});

Deno.test("set-properties refuses a value that is not a string", () => {
  rejects(
    emptyTable(),
    [{ action: "set-properties", updates: { a: 1 as unknown as string } }],
    "set-properties: updates.a must be a string",
  );
});

Deno.test("views, statistics, encryption keys and schema/spec removal are refused as not supported", () => {
  const m = history(1);
  assert.ok(UNSUPPORTED_ACTIONS.size >= 10);
  for (const [action, reason] of UNSUPPORTED_ACTIONS) {
    assert.throws(
      () => applyUpdates(m, [{ action } as unknown as TableUpdate], { nowMs: T0 + 9000 }),
      (error: unknown) => {
        assert.ok(error instanceof UnsupportedUpdateError, String(error));
        assert.equal(error.action, action);
        assert.equal(error.message, `${action}: not supported (${reason})`);
        return true;
      },
    );
  }
  rejects(
    m,
    [{ action: "rename-everything" } as unknown as TableUpdate],
    "rename-everything: unknown table update action",
  );
});

Deno.test("a failing update leaves nothing half-applied: the base is untouched", () => {
  const m = richTable();
  const before = structuredClone(m);
  rejects(m, [
    { action: "set-properties", updates: { x: "1" } },
    { action: "add-schema", schema: SCHEMA_V1 },
    { action: "set-current-schema", "schema-id": 9 },
  ], /schema-id 9 matches no schema/);
  assert.deepEqual(m, before);
});

Deno.test("metadata built by every kind of update round-trips through its JSON", () => {
  const m = applyUpdates(richTable(), [
    { action: "set-properties", updates: { "commit.retry.num-retries": "4" } },
    {
      action: "set-snapshot-ref",
      "ref-name": "dev",
      type: "branch",
      "snapshot-id": 1n,
      "max-ref-age-ms": 1000,
    },
    { action: "remove-snapshot-ref", "ref-name": "audit" },
    { action: "set-location", location: "s3://other/t" },
  ], { nowMs: T0 + 9000, baseLocation: "s3://b/t/metadata/v2.json" });
  const text = tableMetadataToJson(m);
  assert.deepEqual(tableMetadataFromJson(text), m);
  assert.deepEqual(JSON.parse(text)["sort-orders"][1].fields, [
    { transform: "identity", "source-id": 2, direction: "asc", "null-order": "nulls-first" },
  ]);
});

// ---------------------------------------------------------------------------
// A new table from updates alone (a REST create transaction)
// ---------------------------------------------------------------------------

const CREATE: TableUpdate[] = [
  { action: "assign-uuid", uuid: UUID },
  { action: "upgrade-format-version", "format-version": 2 },
  { action: "add-schema", schema: SCHEMA_V1, "last-column-id": 2 },
  { action: "set-current-schema", "schema-id": -1 },
  { action: "add-spec", spec: DAY_SPEC },
  { action: "set-default-spec", "spec-id": -1 },
  { action: "add-sort-order", "sort-order": BY_TS },
  { action: "set-default-sort-order", "sort-order-id": -1 },
  { action: "set-location", location: "s3://b/db/t" },
  { action: "set-properties", updates: { owner: "lakehouse" } },
];

Deno.test("a new table is built from the updates of a create transaction", () => {
  const m = applyUpdates(undefined, CREATE, { nowMs: T0 });
  assert.equal(m["table-uuid"], UUID);
  assert.equal(m.location, "s3://b/db/t");
  assert.deepEqual(m.schemas, [{ ...SCHEMA_V1, "schema-id": 0 }]);
  assert.equal(m["current-schema-id"], 0);
  assert.deepEqual(m["partition-specs"], [{ ...DAY_SPEC, "spec-id": 0 }]);
  assert.equal(m["last-partition-id"], 1000);
  // As Java's new tables: only the given order (sorted orders count from 1).
  assert.deepEqual(m["sort-orders"].map((o) => o["order-id"]), [1]);
  assert.equal(m["default-sort-order-id"], 1);
  assert.equal(m["last-updated-ms"], T0);
  assert.deepEqual(m["metadata-log"], []);
  assert.deepEqual(tableMetadataFromJson(tableMetadataToJson(m)), m);

  // Without a spec or sort order: unpartitioned and unsorted; the uuid from the options.
  const plain = applyUpdates(
    undefined,
    CREATE.filter((u) =>
      !["assign-uuid", "add-spec", "set-default-spec", "add-sort-order", "set-default-sort-order"]
        .includes(u.action)
    ),
    { nowMs: T0, newTableUuid: "11111111-5d5e-4b8e-9a36-2a1f3c4d5e6f" },
  );
  assert.equal(plain["table-uuid"], "11111111-5d5e-4b8e-9a36-2a1f3c4d5e6f");
  assert.deepEqual(plain["partition-specs"], [{ "spec-id": 0, fields: [] }]);
  assert.deepEqual(plain["sort-orders"], [{ "order-id": 0, fields: [] }]);

  const without = (action: string) => CREATE.filter((u) => u.action !== action);
  rejects(undefined, without("set-location"), "set-location: a new table needs a location");
  rejects(
    undefined,
    without("set-current-schema"),
    "add-spec: the table has no current schema yet (add-schema, then set-current-schema)",
  );
  rejects(
    undefined,
    without("set-default-spec"),
    "set-default-spec: a new table with partition specs needs a default one (set-default-spec -1)",
  );
  rejects(undefined, without("assign-uuid"), "assign-uuid: a new table needs a uuid");
});
