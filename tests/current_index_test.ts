/**
 * orders_current's state store (its index of rows and positions) is derived
 * data, recovered from the table:
 * - its files deleted between runs: the next start rebuilds it from a scan
 *   and the stream goes on to the same result;
 * - a commit to orders_current from outside (a correction of one order: its
 *   row rewritten as a new row, the old one deleted by position, through our
 *   Iceberg core as another writer would): the next start catches the store
 *   up to it, new events for that order merge into the corrected row, and
 *   the table ends equal to what a run whose store was rebuilt from scratch
 *   produces, and to the model with the correction applied.
 * In-process engines on a local warehouse; tables read back with pyiceberg.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { openCatalog } from "../src/catalog/mod.ts";
import { DuckDb, sqlString } from "../src/duckdb/duckdb.ts";
import { commitChange } from "../src/iceberg/commit/commit.ts";
import { planScan } from "../src/iceberg/scan/plan.ts";
import { createScanView } from "../src/iceberg/scan/view.ts";
import { currentSchema, defaultSpec } from "../src/iceberg/spec/metadata.ts";
import { loadTable, ManifestReader } from "../src/iceberg/table.ts";
import { rowDelta } from "../src/iceberg/transaction/mod.ts";
import { stageDataFiles, uploadDataFiles } from "../src/iceberg/write/data_files.ts";
import { stagePositionDeletes } from "../src/iceberg/write/delete_files.ts";
import { openStore } from "../src/storage/mod.ts";
import { startEngine } from "../src/streams/engine.ts";
import type { RawRecord } from "../src/batch/types.ts";
import {
  applyEvents,
  assertCurrentRows,
  assertStateMatchesTable,
  engineConfig,
  expectedCurrent,
  generated,
  type KafkaRecord,
  localWarehouse,
  type OrderRow,
  place,
  rawRecords,
  readCurrent,
  stateDump,
} from "./_current.ts";

const SPLIT = 3_000;

/** Runs an in-process engine over `records`; returns its log lines. */
async function feed(dir: string, records: readonly RawRecord[]): Promise<string[]> {
  const log: string[] = [];
  const engine = await startEngine(engineConfig(dir, { log }));
  try {
    await engine.pipeline.offer(records);
    await engine.pipeline.flush();
    return log;
  } finally {
    await engine.close();
  }
}

async function removeState(dir: string): Promise<number> {
  let removed = 0;
  for await (const e of Deno.readDir(join(dir, "state"))) {
    await Deno.remove(join(dir, "state", e.name));
    removed++;
  }
  return removed;
}

Deno.test("a deleted state store is rebuilt from the table at the next start, and the stream ends in the same state", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const placed = place(generated("current-index-rebuild", 6_000, 0.02));
    const records = rawRecords(placed, "orders");
    await feed(dir, records.slice(0, SPLIT));
    const before = await stateDump(join(dir, "state"));
    assert.ok((await removeState(dir)) >= 1, "no state store file to delete");

    const log = await feed(dir, records.slice(SPLIT));
    const built = log.find((l) => /state store .* built from a scan of the table/.test(l));
    assert.ok(built, log.join("\n"));
    // Rebuilt with exactly the rows the deleted store held.
    assert.match(built, new RegExp(`\\(a new store\\): ${before.rows.length} rows`));
    const at = localWarehouse(dir);
    assertCurrentRows(await readCurrent(at), expectedCurrent(placed));
    await assertStateMatchesTable(join(dir, "state"), at, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** What an outside writer changes in one order's row. */
const CORRECTION = {
  /** The order was created an hour earlier than its event said. */
  createdShiftUs: -3_600_000_000,
  /** Events counted by a system before this one. */
  eventCountAdded: 1_000,
  paymentMethod: "gift_card",
};

/**
 * Rewrites `orderId`'s row of orders_current as another writer would: the
 * corrected row appended in a new data file, the old one deleted by position,
 * one row delta, no Kafka offsets in its summary.
 */
async function correctOrder(dir: string, orderId: string): Promise<void> {
  const catalog = await openCatalog(join(dir, "wh", "catalog.db"));
  const store = openStore(`file://${join(dir, "wh")}`, undefined);
  const duckdb = await DuckDb.open();
  const tempDir = await Deno.makeTempDir({ dir });
  try {
    const id = { namespace: ["shop"], name: "orders_current" };
    const { metadata } = await loadTable(catalog, store, id);
    const plan = await planScan(metadata, new ManifestReader(store));
    await createScanView(plan, { duckdb, store, cacheDir: tempDir, name: "t", positions: true });
    const old = await duckdb.query<{ _file: string; _pos: bigint }>(
      `SELECT _file, _pos FROM t WHERE order_id = ${sqlString(orderId)}`,
    );
    assert.equal(old.length, 1, `order ${orderId} has ${old.length} rows`);
    const rows = await stageDataFiles({
      duckdb,
      store,
      schema: currentSchema(metadata),
      spec: defaultSpec(metadata),
      source: `(SELECT * EXCLUDE (_file, _pos) REPLACE (
          created_at + to_microseconds(${CORRECTION.createdShiftUs}) AS created_at,
          event_count + ${CORRECTION.eventCountAdded} AS event_count,
          ${sqlString(CORRECTION.paymentMethod)} AS payment_method)
        FROM t WHERE order_id = ${sqlString(orderId)})`,
      location: metadata.location,
      targetFileSizeBytes: 128 << 20,
      tempDir,
    });
    await duckdb.run(
      `CREATE TEMP TABLE old_row AS SELECT _file AS file_path, _pos AS pos FROM t
       WHERE order_id = ${sqlString(orderId)}`,
    );
    const deletes = await stagePositionDeletes({
      duckdb,
      source: "old_row",
      partitionOf: (path) => plan.tasks.find((task) => task.file.filePath === path)?.file.partition,
      location: metadata.location,
      tempDir,
    });
    try {
      await commitChange(
        { catalog, store, id },
        rowDelta({
          rows: await uploadDataFiles(store, rows),
          deletes: await uploadDataFiles(store, deletes),
          referencedDataFiles: [old[0]._file],
        }),
      );
    } finally {
      await rows.dispose();
      await deletes.dispose();
    }
  } finally {
    duckdb.close();
    await catalog.close();
    await Deno.remove(tempDir, { recursive: true });
  }
}

/**
 * The first part of the stream, an outside correction of one order that has
 * events in the second part, then (with the store kept, or deleted first)
 * the second part. Returns the table's rows, the corrected order, the log
 * of the second run and the expected rows.
 */
async function correctedRun(dir: string, placed: readonly KafkaRecord[], dropState: boolean) {
  const records = rawRecords(placed, "orders");
  await feed(dir, records.slice(0, SPLIT));
  const expected = new Map<string, OrderRow>();
  applyEvents(expected, placed.slice(0, SPLIT));
  // A paid order whose next event is in the second part.
  const later = expectedCurrent(placed.slice(SPLIT));
  const order = [...later.keys()].find((id) => expected.get(id)?.status === "PAID");
  assert.ok(order, "no paid order has events in the second part");
  await correctOrder(dir, order);
  const row = expected.get(order)!;
  expected.set(order, {
    ...row,
    created_at: row.created_at! + CORRECTION.createdShiftUs,
    event_count: row.event_count + CORRECTION.eventCountAdded,
    payment_method: CORRECTION.paymentMethod,
  });
  if (dropState) assert.ok((await removeState(dir)) >= 1);
  const log = await feed(dir, records.slice(SPLIT));
  applyEvents(expected, placed.slice(SPLIT));
  return { rows: await readCurrent(localWarehouse(dir)), order, log, expected };
}

Deno.test("a commit to orders_current from outside is caught up by the state store; new events merge into the corrected row as a rebuilt store would", async () => {
  const kept = await Deno.makeTempDir();
  const rebuilt = await Deno.makeTempDir();
  try {
    const placed = place(generated("current-index-outside", 6_000, 0.02));
    const a = await correctedRun(kept, placed, false);
    // The store replayed the outside commit (its new row and position delete) at start-up.
    assert.ok(
      a.log.some((l) => /orders_current: state store caught up 1 snapshot\(s\)/.test(l)),
      a.log.join("\n"),
    );
    assert.ok(!a.log.some((l) => /built from a scan/.test(l)), a.log.join("\n"));
    // The corrected order took its new events on top of the correction.
    assertCurrentRows(a.rows, a.expected);
    const truth = a.expected.get(a.order)!;
    assert.ok(truth.event_count > CORRECTION.eventCountAdded + 2, JSON.stringify(truth));
    assert.notEqual(truth.status, "PAID");
    const row = a.rows.find((r) => r.order_id === a.order)!;
    assert.equal(row.created_at, truth.created_at);
    assert.equal(row.event_count, truth.event_count);
    await assertStateMatchesTable(join(kept, "state"), localWarehouse(kept), kept);

    // The same with the store deleted before the second part: rebuilt from the table.
    const b = await correctedRun(rebuilt, placed, true);
    assert.ok(b.log.some((l) => /built from a scan of the table/.test(l)), b.log.join("\n"));
    assert.equal(b.order, a.order);
    assert.deepEqual(a.rows, b.rows, "catching up and rebuilding the store gave different tables");
    await assertStateMatchesTable(join(rebuilt, "state"), localWarehouse(rebuilt), rebuilt);
  } finally {
    await Deno.remove(kept, { recursive: true });
    await Deno.remove(rebuilt, { recursive: true });
  }
});
