/**
 * A SQL file's output columns are its table's columns. Against a real local
 * warehouse and SQLite catalog, fed in-process, read back by pyiceberg:
 * an edited events.sql that adds a derived column and a field the producer
 * started sending (read from payload_json) evolves the schema of a table
 * that already holds data (old rows read the new columns as NULL); a dropped
 * column leaves the current schema; an illegal type change or dropping the
 * partition column stops start-up naming the file, the column and the types;
 * rows a WHERE leaves out are counted.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { RawRecord } from "../src/batch/types.ts";
import { FakeClock } from "../src/core/clock.ts";
import { createLogger } from "../src/core/log.ts";
import { EventSource } from "../src/generate/source.ts";
import { type EngineConfig, startEngine } from "../src/streams/engine.ts";
import { openCatalog } from "../src/catalog/mod.ts";
import { DuckDb } from "../src/duckdb/duckdb.ts";
import { planScan } from "../src/iceberg/scan/plan.ts";
import { createScanView } from "../src/iceberg/scan/view.ts";
import { loadTable, ManifestReader } from "../src/iceberg/table.ts";
import { openStore } from "../src/storage/mod.ts";
import { readWithPyiceberg } from "./_iceberg.ts";

const TOPIC = "orders";
const ENCODER = new TextEncoder();
const DECODER = new TextDecoder();

/** Seeded valid events on two partitions from `offset`; `coupon` adds a field beyond the contract. */
function feed(
  seed: string,
  count: number,
  from: bigint,
  coupon?: (i: number) => string,
): RawRecord[] {
  const source = new EventSource({
    seed,
    startTimeMs: Date.UTC(2026, 0, 1),
    badRate: 0,
    clock: new FakeClock(),
  });
  const next = [from, from];
  return source.take(count).map((m, i) => {
    let value = m.value;
    if (coupon) {
      const event = JSON.parse(DECODER.decode(value));
      value = ENCODER.encode(JSON.stringify({ ...event, coupon: coupon(i) }));
    }
    return {
      topic: TOPIC,
      partition: i % 2,
      offset: next[i % 2]++,
      key: ENCODER.encode(m.key),
      value,
      timestampMs: 1_767_225_600_000 + i,
    };
  });
}

function config(dir: string, sqlDir?: string): EngineConfig {
  return {
    warehouse: join(dir, "wh"),
    catalog: join(dir, "wh", "catalog.db"),
    topic: TOPIC,
    sqlDir,
    tempDir: join(dir, "tmp"),
    stateDir: join(dir, "state"),
    targetFileSizeBytes: 128 << 20,
    batchRecordsMax: 250,
    batchBytesMax: 1 << 30,
    triggerIntervalMs: 3_600_000,
    queuedBatchesMax: 1,
    decodeInline: true,
    clock: new FakeClock(1_767_225_600_000),
    logger: createLogger("silent"),
  };
}

async function run(dir: string, records: RawRecord[], sqlDir?: string) {
  const engine = await startEngine(config(dir, sqlDir));
  try {
    await engine.pipeline.offer(records);
    await engine.pipeline.flush();
    return { ...engine.pipeline.stats };
  } finally {
    await engine.close();
  }
}

/** A copy of the shipped SQL files with events.sql edited by `edit`. */
async function sqlDir(dir: string, name: string, edit: (sql: string) => string): Promise<string> {
  const out = join(dir, name);
  await Deno.mkdir(out);
  const shipped = new URL("../sql/", import.meta.url);
  const events = await Deno.readTextFile(new URL("events.sql", shipped));
  const edited = edit(events);
  assert.notEqual(edited, events, "events.sql no longer has the text this test edits");
  await Deno.writeTextFile(join(out, "events.sql"), edited);
  for (const name of ["rejects.sql", "current_changes.sql", "current_merge.sql"]) {
    await Deno.copyFile(new URL(name, shipped), join(out, name));
  }
  return out;
}

/** `sql` over orders_events (as `t`) read by lakehouse's own scan. */
async function ownScan(dir: string, sql: string): Promise<Record<string, unknown>[]> {
  const catalog = await openCatalog(join(dir, "wh", "catalog.db"));
  const store = openStore(`file://${join(dir, "wh")}`, undefined);
  const duckdb = await DuckDb.open();
  try {
    const table = await loadTable(catalog, store, { namespace: ["shop"], name: "orders_events" });
    const plan = await planScan(table.metadata, new ManifestReader(store));
    await createScanView(plan, { duckdb, store, cacheDir: join(dir, "cache"), name: "t" });
    return await duckdb.query(sql);
  } finally {
    duckdb.close();
    await catalog.close();
  }
}

async function events(dir: string) {
  const result = await readWithPyiceberg({
    catalog_uri: `sqlite:///${dir}/wh/catalog.db`,
    warehouse: `file://${dir}/wh`,
    table: "shop.orders_events",
  });
  return result.rows as Record<string, unknown>[];
}

Deno.test("an events.sql with new columns evolves the table; pyiceberg reads old rows with NULLs", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const first = feed("sql-v1", 300, 0n);
    await run(dir, first);
    const before = await events(dir);
    assert.equal(before.length, 300);
    assert.ok(!("coupon" in before[0]));

    // A derived column and a field the producer started sending, by SQL alone.
    const v2 = await sqlDir(dir, "v2", (sql) =>
      sql.replace(
        /^FROM batch/m,
        `  , CAST(round(payload.total_amount * 100) AS BIGINT) AS total_cents
  , payload_json->>'$.coupon'                    AS coupon
FROM batch`,
      ));
    const second = feed("sql-v2", 200, 150n, (i) => `SAVE${i % 7}`);
    await run(dir, second, v2);
    const after = await events(dir);
    assert.equal(after.length, 500);
    const old = after.filter((r) => r.coupon === null);
    const fresh = after.filter((r) => r.coupon !== null);
    assert.equal(old.length, 300);
    assert.equal(fresh.length, 200);
    for (const r of old) assert.equal(r.total_cents, null);
    for (const r of fresh) {
      assert.match(String(r.coupon), /^SAVE[0-6]$/);
      assert.equal(Number(r.total_cents), Math.round(Number(r.total_amount) * 100));
    }
    // Our own scan matches files to the schema by field id as well.
    const own = await ownScan(
      dir,
      "SELECT count(*) FILTER (coupon IS NULL) AS old, count(coupon) AS fresh FROM t",
    );
    assert.deepEqual(own, [{ old: 300n, fresh: 200n }]);

    // Dropping a column leaves it out of the current schema; old files keep it.
    const v3 = await sqlDir(dir, "v3", (sql) => sql.replace(/^.*AS current_status,?\n/m, ""));
    await run(dir, feed("sql-v3", 20, 250n), v3);
    const dropped = await events(dir);
    assert.equal(dropped.length, 520);
    assert.ok(!("current_status" in dropped[0]), "current_status is still in the schema");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an illegal type change or dropping the partition column stops start-up, naming file, column and types", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await run(dir, feed("sql-bad", 50, 0n));
    const retyped = await sqlDir(dir, "retyped", (sql) =>
      sql.replace(
        /kafka_partition(\s+)AS kafka_partition/,
        "CAST(kafka_partition AS VARCHAR)$1AS kafka_partition",
      ));
    await assert.rejects(startEngine(config(dir, retyped)), (error: Error) => {
      assert.equal(
        error.message,
        `${retyped}/events.sql: table orders_events: column kafka_partition cannot change from ` +
          "int to string (Iceberg allows int -> long, float -> double and a wider decimal " +
          "precision; to change a column otherwise, write it under a new name)",
      );
      return true;
    });
    const noTime = await sqlDir(
      dir,
      "no-time",
      (sql) => sql.replace(/^.*AS event_timestamp,\n/m, ""),
    );
    await assert.rejects(
      startEngine(config(dir, noTime)),
      new RegExp(
        `^LakehouseError: ${noTime}/events\\.sql: table orders_events: column event_timestamp ` +
          "cannot be dropped: it is the source of partition field event_timestamp_hour$",
      ),
    );
    // Nothing was changed by the refused starts.
    assert.equal((await events(dir)).length, 50);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("rows the events.sql WHERE leaves out are counted, and the offsets still advance", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const records = feed("sql-where", 400, 0n);
    const eur = records.filter((r) => JSON.parse(DECODER.decode(r.value!)).currency === "EUR");
    assert.ok(eur.length > 0 && eur.length < 400, `${eur.length} EUR events`);
    const where = await sqlDir(
      dir,
      "where",
      (sql) => sql.replace(/^FROM batch$/m, "FROM batch WHERE payload.currency <> 'EUR'"),
    );
    const stats = await run(dir, records, where);
    assert.equal(stats.filtered, eur.length);
    assert.equal((await events(dir)).length, 400 - eur.length);
    // A second run over the same records finds them all committed.
    const again = await run(dir, records, where);
    assert.equal(again.skipped, 400);
    assert.equal(again.filtered, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
