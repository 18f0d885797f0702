import assert from "node:assert/strict";
import { NoSuchTableError, type TableIdentifier } from "../../catalog/catalog.ts";
import { MemoryCatalog } from "../../catalog/memory.ts";
import { backoffDelayMs } from "../../core/backoff.ts";
import { FakeClock } from "../../core/clock.ts";
import { Random } from "../../core/random.ts";
import { MemoryStore } from "../../storage/memory.ts";
import { HOUR_SPEC, TEST_SCHEMA } from "../_fixtures.ts";
import { parseMetadataVersion } from "../spec/metadata.ts";
import type { Schema, SortOrder } from "../spec/types.ts";
import { createTable, loadTable } from "../table.ts";
import { commitChange, newSnapshotId } from "./commit.ts";
import { type CommitContext, commitTable } from "./commit_table.ts";
import {
  InvalidUpdateError,
  RequirementFailedError,
  type TableUpdate,
  UnsupportedUpdateError,
} from "./updates.ts";

const ID: TableIdentifier = { namespace: ["shop"], name: "orders" };
const LOCATION = "memory://wh/shop/orders";

const BY_TS: SortOrder = {
  "order-id": 0,
  fields: [{ transform: "hour", "source-id": 3, direction: "desc", "null-order": "nulls-last" }],
};

/** TEST_SCHEMA with one more optional column, as schema evolution makes it. */
const WITH_COUPON: Schema = {
  ...TEST_SCHEMA,
  fields: [...TEST_SCHEMA.fields, { id: 12, name: "coupon", required: false, type: "string" }],
};

async function newTable(): Promise<
  CommitContext & { catalog: MemoryCatalog; store: MemoryStore; first: string }
> {
  const catalog = new MemoryCatalog();
  const store = new MemoryStore({ root: "memory://wh/" });
  const table = await createTable(catalog, store, {
    id: ID,
    location: LOCATION,
    schema: TEST_SCHEMA,
    spec: HOUR_SPEC,
  });
  return { catalog, store, id: ID, first: table.metadataLocation };
}

Deno.test("commitTable applies the updates in one swap and logs the metadata it replaced", async () => {
  const t = await newTable();
  const before = (await loadTable(t.catalog, t.store, ID)).metadata;
  const result = await commitTable(t, [
    { type: "assert-table-uuid", uuid: before["table-uuid"] },
    { type: "assert-current-schema-id", "current-schema-id": 0 },
    { type: "assert-default-sort-order-id", "default-sort-order-id": 0 },
  ], [
    { action: "add-sort-order", "sort-order": BY_TS },
    { action: "set-default-sort-order", "sort-order-id": -1 },
    { action: "set-properties", updates: { "write.target-file-size-bytes": "1048576" } },
  ]);
  assert.equal(result.attempts, 1);
  const pointer = await t.catalog.loadTable(ID);
  assert.equal(pointer.metadataLocation, result.metadataLocation);
  assert.equal(pointer.previousMetadataLocation, t.first);
  assert.equal(parseMetadataVersion(result.metadataLocation), 1);
  const after = (await loadTable(t.catalog, t.store, ID)).metadata;
  assert.deepEqual(after, result.metadata);
  assert.equal(after["default-sort-order-id"], 1);
  assert.deepEqual(after["sort-orders"][1].fields, BY_TS.fields);
  assert.equal(after.properties["write.target-file-size-bytes"], "1048576");
  assert.deepEqual(after["metadata-log"], [{
    "timestamp-ms": before["last-updated-ms"],
    "metadata-file": t.first,
  }]);
});

Deno.test("a requirement that fails is named, retriable, and leaves the table as it was", async () => {
  const t = await newTable();
  const objects = t.store.size;
  await assert.rejects(
    commitTable(t, [{ type: "assert-ref-snapshot-id", ref: "main", "snapshot-id": 42n }], [
      { action: "set-properties", updates: { a: "1" } },
    ]),
    (error: unknown) => {
      assert.ok(error instanceof RequirementFailedError, String(error));
      assert.equal(error.retriable, true);
      assert.equal(
        error.message,
        "requirement assert-ref-snapshot-id failed: ref main does not exist, expected it at snapshot 42",
      );
      assert.equal(error.requirement.type, "assert-ref-snapshot-id");
      return true;
    },
  );
  assert.equal((await t.catalog.loadTable(ID)).metadataLocation, t.first);
  assert.equal(t.store.size, objects, "nothing was written");
});

Deno.test("invalid and unsupported updates fail before anything is written", async () => {
  const t = await newTable();
  const objects = t.store.size;
  await assert.rejects(
    commitTable(t, [], [{ action: "set-current-schema", "schema-id": 3 }]),
    InvalidUpdateError,
  );
  await assert.rejects(
    commitTable(t, [], [{ action: "set-statistics" } as unknown as TableUpdate]),
    (error: unknown) => {
      assert.ok(error instanceof UnsupportedUpdateError);
      assert.match(error.message, /^set-statistics: not supported/);
      return true;
    },
  );
  assert.equal((await t.catalog.loadTable(ID)).metadataLocation, t.first);
  assert.equal(t.store.size, objects);
});

Deno.test("a rival commit between write and swap: the retry checks the requirements again", async () => {
  const t = await newTable();
  // A rival that changes something else: the commit lands on top of it.
  t.catalog.beforeSwap = async () => {
    t.catalog.beforeSwap = undefined;
    await commitTable(t, [], [{ action: "set-properties", updates: { rival: "1" } }]);
  };
  const uuid = (await loadTable(t.catalog, t.store, ID)).metadata["table-uuid"];
  const mine = await commitTable(t, [{ type: "assert-table-uuid", uuid }], [
    { action: "set-properties", updates: { mine: "1" } },
  ], { clock: new FakeClock(Date.now()) });
  assert.equal(mine.attempts, 2);
  assert.deepEqual(mine.metadata.properties, { rival: "1", mine: "1" });
  assert.equal(mine.metadata["metadata-log"].length, 2);

  // A rival that evolves the schema this commit assumed: the retry fails the requirement.
  t.catalog.beforeSwap = async () => {
    t.catalog.beforeSwap = undefined;
    await commitTable(t, [], [
      { action: "add-schema", schema: WITH_COUPON, "last-column-id": 12 },
      { action: "set-current-schema", "schema-id": -1 },
    ]);
  };
  const pointer = () => t.catalog.loadTable(ID).then((p) => p.metadataLocation);
  await assert.rejects(
    commitTable(
      t,
      [
        { type: "assert-current-schema-id", "current-schema-id": 0 },
        { type: "assert-last-assigned-field-id", "last-assigned-field-id": 11 },
      ],
      [{ action: "set-properties", updates: { late: "1" } }],
      {
        clock: new FakeClock(Date.now()),
      },
    ),
    /requirement assert-current-schema-id failed: current-schema-id is 1, expected 0/,
  );
  const now = (await loadTable(t.catalog, t.store, ID)).metadata;
  assert.equal(now["current-schema-id"], 1);
  assert.equal(now.properties.late, undefined);
  assert.equal(parseMetadataVersion(await pointer()), 3, "the rival's metadata is current");
});

Deno.test("schema evolution (add-schema, set-current-schema -1); later snapshots record the new schema", async () => {
  const t = await newTable();
  const evolved = await commitTable(t, [
    { type: "assert-current-schema-id", "current-schema-id": 0 },
    { type: "assert-last-assigned-field-id", "last-assigned-field-id": 11 },
  ], [
    { action: "add-schema", schema: WITH_COUPON, "last-column-id": 12 },
    { action: "set-current-schema", "schema-id": -1 },
  ]);
  assert.equal(evolved.metadata["current-schema-id"], 1);
  assert.equal(evolved.metadata["last-column-id"], 12);
  const committed = await commitChange(t, { operation: "append", added: [] });
  assert.equal(committed.snapshot["schema-id"], 1);
  // Undoing the change makes schema 0 current again rather than adding a copy.
  const undone = await commitTable(t, [], [
    { action: "add-schema", schema: TEST_SCHEMA },
    { action: "set-current-schema", "schema-id": -1 },
  ]);
  assert.equal(undone.metadata["current-schema-id"], 0);
  assert.equal(undone.metadata.schemas.length, 2);
  assert.equal(undone.metadata["last-column-id"], 12);
});

Deno.test("assert-create makes a table from updates alone; a second create fails the requirement", async () => {
  const catalog = new MemoryCatalog();
  const store = new MemoryStore({ root: "memory://wh/" });
  await catalog.ensureNamespace(["shop"]);
  const context = { catalog, store, id: ID };
  const updates: TableUpdate[] = [
    { action: "upgrade-format-version", "format-version": 2 },
    { action: "add-schema", schema: TEST_SCHEMA, "last-column-id": 11 },
    { action: "set-current-schema", "schema-id": -1 },
    { action: "add-spec", spec: HOUR_SPEC },
    { action: "set-default-spec", "spec-id": -1 },
    { action: "add-sort-order", "sort-order": { "order-id": 0, fields: [] } },
    { action: "set-default-sort-order", "sort-order-id": -1 },
    { action: "set-location", location: LOCATION },
    { action: "set-properties", updates: { "write.format.default": "parquet" } },
  ];
  // Without assert-create a missing table is an error, as everywhere.
  await assert.rejects(commitTable(context, [], updates), NoSuchTableError);
  const created = await commitTable(context, [{ type: "assert-create" }], updates);
  assert.equal(created.attempts, 1);
  assert.equal(parseMetadataVersion(created.metadataLocation), 0);
  assert.ok(created.metadataLocation.startsWith(`${LOCATION}/metadata/`));
  const table = await loadTable(catalog, store, ID);
  assert.deepEqual(table.metadata, created.metadata);
  assert.match(table.metadata["table-uuid"], /^[0-9a-f-]{36}$/);
  assert.deepEqual(table.metadata["partition-specs"], [HOUR_SPEC]);
  // The new table takes commits like any other.
  const appended = await commitChange(context, { operation: "append", added: [] });
  assert.equal(appended.snapshot["sequence-number"], 1n);
  await assert.rejects(
    commitTable(context, [{ type: "assert-create" }], updates),
    /requirement assert-create failed: the table already exists/,
  );
});

Deno.test("commitChange keeps main's retention settings when it moves main", async () => {
  const t = await newTable();
  const first = await commitChange(t, { operation: "append", added: [] });
  await commitTable(t, [], [{
    action: "set-snapshot-ref",
    "ref-name": "main",
    type: "branch",
    "snapshot-id": first.snapshot["snapshot-id"],
    "min-snapshots-to-keep": 10,
  }]);
  const second = await commitChange(t, { operation: "append", added: [] });
  assert.deepEqual(second.metadata.refs.main, {
    "snapshot-id": second.snapshot["snapshot-id"],
    type: "branch",
    "min-snapshots-to-keep": 10,
  });
});

Deno.test("with a seeded Random, snapshot ids and retry backoff are reproducible", async () => {
  const run = async (seed: number) => {
    const t = await newTable();
    const clock = new FakeClock(0);
    t.catalog.failNextSwap("conflict");
    const result = await commitChange(t, { operation: "append", added: [] }, {
      random: new Random(seed),
      clock,
      backoffBaseMs: 100,
    });
    assert.equal(result.attempts, 2);
    return { id: result.snapshot["snapshot-id"], sleptMs: clock.now() };
  };
  const a = await run(7);
  const b = await run(7);
  assert.deepEqual(a, b);
  // The same draws, in order: the snapshot id, then the jitter of the one retry.
  const r = new Random(7);
  assert.equal(a.id, newSnapshotId(r));
  assert.equal(
    a.sleptMs,
    backoffDelayMs({ firstDelayMs: 100, delayMaxMs: 2_000, factor: 2 }, 1, () => r.float()),
  );
  assert.ok(a.id > 0n && a.id < 2n ** 63n);
  assert.notEqual((await run(8)).id, a.id);
});

Deno.test("commitChange refuses equality delete files instead of dropping them", async () => {
  const t = await newTable();
  const equality = {
    content: 2 as const,
    filePath: `${LOCATION}/data/eq.parquet`,
    fileFormat: "PARQUET" as const,
    partition: [1],
    recordCount: 1n,
    fileSizeInBytes: 10n,
    equalityIds: [1],
  };
  await assert.rejects(
    commitChange(t, { operation: "delete", added: [equality] }),
    /equality delete files are not supported/,
  );
  assert.equal((await t.catalog.loadTable(ID)).metadataLocation, t.first);
});
