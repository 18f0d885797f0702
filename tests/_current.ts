/**
 * Shared pieces of the orders_current acceptance tests: seeded messages whose
 * orders reach every outcome (paid, shipped, cancelled before and after
 * payment, returned after shipping, abandoned) within a few thousand events,
 * their placement on Kafka partitions and offsets, an independent model of
 * every order's final row (plain TypeScript over the generator's own output,
 * not the production SQL), the table as pyiceberg reads it, and the state
 * store compared with the table.
 *
 * The model, per order, over its events in Kafka order (valid records only):
 * status and attributes from the latest applied event; each lifecycle step's
 * time is that of the first event of its type; updated_at, last_event_* and
 * last_kafka_* from the latest applied event; event_count counts applied
 * events; once an order is in a terminal status, later events are ignored.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { RawRecord } from "../src/batch/types.ts";
import { openCatalog } from "../src/catalog/mod.ts";
import { FakeClock, systemClock } from "../src/core/clock.ts";
import { createLogger } from "../src/core/log.ts";
import { DuckDb, sqlIdent, sqlString } from "../src/duckdb/duckdb.ts";
import {
  DEFAULT_SEEDED_START_MS,
  EventSource,
  type GeneratedMessage,
} from "../src/generate/source.ts";
import { planScan } from "../src/iceberg/scan/plan.ts";
import { createScanView } from "../src/iceberg/scan/view.ts";
import { currentSchema, currentSnapshot } from "../src/iceberg/spec/metadata.ts";
import { loadTable, ManifestReader, type TableHandle } from "../src/iceberg/table.ts";
import { partitionForKey } from "../src/kafka/murmur2.ts";
import { openStore } from "../src/storage/mod.ts";
import type { ObjectStore } from "../src/storage/store.ts";
import type { EngineConfig } from "../src/streams/engine.ts";
import { PARTITIONS, type TablesAt } from "./_engine.ts";
import { readWithPyiceberg } from "./_iceberg.ts";
import { runCli } from "./_services.ts";

/**
 * New orders per second of simulated time. The generator's default (50)
 * keeps 20,000 orders in flight, so a short stream holds no shipped or
 * returned order; at one order every 100 s, 8,000 events span days of
 * event time and every outcome occurs.
 */
export const ORDERS_PER_SECOND = 0.01;

export const S3_ACCESS_KEY = "lakehouse";
export const S3_SECRET_KEY = "lakehouse-secret";

const DECODER = new TextDecoder();
const ENCODER = new TextEncoder();
const TERMINAL = ["CANCELLED", "RETURNED"] as const;

/** Exactly the messages `lakehouse generate --seed --count --bad-rate --orders-per-second` sends. */
export function generated(seed: string, count: number, badRate: number): GeneratedMessage[] {
  return new EventSource({
    seed,
    startTimeMs: DEFAULT_SEEDED_START_MS,
    badRate,
    clock: systemClock,
    lifecycle: { ordersPerSecond: ORDERS_PER_SECOND },
  }).take(count);
}

/** `lakehouse generate` of the same messages into `topic`. */
export async function produceOrders(
  brokers: string,
  topic: string,
  seed: string,
  count: number,
  badRate: number,
): Promise<void> {
  const out = await runCli([
    "generate",
    ...["--seed", seed, "--count", String(count), "--bad-rate", String(badRate)],
    ...["--orders-per-second", String(ORDERS_PER_SECOND), "--rate", "0"],
    ...["--brokers", brokers, "--topic", topic, "--partitions", String(PARTITIONS)],
  ]);
  assert.equal(out.code, 0, out.stderr);
}

/** A message where Kafka puts it: the default partitioner's partition, the next offset there. */
export interface KafkaRecord {
  readonly partition: number;
  readonly offset: bigint;
  readonly key: string;
  readonly value: Uint8Array;
  readonly valid: boolean;
}

/**
 * The messages in the order one producer sends them, on `partitions`
 * partitions by key, numbered per partition from `next` (updated).
 */
export function place(
  messages: readonly { key: string; value: Uint8Array; kind?: string }[],
  next: Map<number, bigint> = new Map(),
  partitions = PARTITIONS,
): KafkaRecord[] {
  return messages.map((m) => {
    const partition = partitionForKey(m.key, partitions);
    const offset = next.get(partition) ?? 0n;
    next.set(partition, offset + 1n);
    return {
      partition,
      offset,
      key: m.key,
      value: m.value,
      valid: m.kind === undefined || m.kind === "valid",
    };
  });
}

/** Records as the Kafka feed hands them to the pipeline (in-process tests). */
export function rawRecords(records: readonly KafkaRecord[], topic: string): RawRecord[] {
  return records.map((r, i) => ({
    topic,
    partition: r.partition,
    offset: r.offset,
    key: ENCODER.encode(r.key),
    value: r.value,
    timestampMs: 1_767_225_600_000 + i,
  }));
}

/** One order's row, in the canonical form readWithPyiceberg returns. */
export interface OrderRow {
  order_id: string;
  user_id: string;
  status: string;
  /** Decimal as text, two places. */
  total_amount: string;
  currency: string;
  payment_method: string;
  items: { sku: string; quantity: number; unit_price: string; category: string }[];
  /** Epoch microseconds. */
  created_at: number | null;
  paid_at: number | null;
  shipped_at: number | null;
  cancelled_at: number | null;
  returned_at: number | null;
  updated_at: number;
  last_event_id: string;
  last_event_type: string;
  event_count: number;
  last_kafka_partition: number;
  last_kafka_offset: number;
}

const STEP_COLUMN: Record<string, keyof OrderRow> = {
  ORDER_CREATED: "created_at",
  ORDER_PAID: "paid_at",
  ORDER_SHIPPED: "shipped_at",
  ORDER_CANCELLED: "cancelled_at",
  ORDER_RETURNED: "returned_at",
};

export interface ModelOptions {
  /** Statuses after which an order takes no more events (default CANCELLED and RETURNED). */
  readonly terminal?: readonly string[];
}

/** Epoch microseconds of an event_timestamp in seconds, as the tables store it. */
export function micros(seconds: number): number {
  return Math.round(seconds * 1_000_000);
}

/**
 * Applies `records` (Kafka order per partition, hence per order) to `state`
 * (order_id -> row); invalid records are skipped. Returns the events applied.
 */
export function applyEvents(
  state: Map<string, OrderRow>,
  records: Iterable<KafkaRecord>,
  options: ModelOptions = {},
): number {
  const terminal = options.terminal ?? TERMINAL;
  let applied = 0;
  for (const r of records) {
    if (!r.valid) continue;
    const e = JSON.parse(DECODER.decode(r.value));
    const row = state.get(e.order_id);
    if (row && terminal.includes(row.status)) continue;
    const time = micros(e.event_timestamp);
    const next: OrderRow = {
      order_id: e.order_id,
      user_id: e.user_id,
      status: e.current_status,
      total_amount: e.total_amount.toFixed(2),
      currency: e.currency,
      payment_method: e.payment_method,
      items: e.items.map((
        i: { sku: string; quantity: number; unit_price: number; category: string },
      ) => ({
        sku: i.sku,
        quantity: i.quantity,
        unit_price: i.unit_price.toFixed(2),
        category: i.category,
      })),
      created_at: row?.created_at ?? null,
      paid_at: row?.paid_at ?? null,
      shipped_at: row?.shipped_at ?? null,
      cancelled_at: row?.cancelled_at ?? null,
      returned_at: row?.returned_at ?? null,
      updated_at: time,
      last_event_id: e.event_id,
      last_event_type: e.event_type,
      event_count: (row?.event_count ?? 0) + 1,
      last_kafka_partition: r.partition,
      last_kafka_offset: Number(r.offset),
    };
    const step = STEP_COLUMN[e.event_type];
    if (next[step] === null) (next as unknown as Record<string, unknown>)[step] = time;
    state.set(e.order_id, next);
    applied++;
  }
  return applied;
}

/** Every order's expected final row. */
export function expectedCurrent(
  records: Iterable<KafkaRecord>,
  options: ModelOptions = {},
): Map<string, OrderRow> {
  const state = new Map<string, OrderRow>();
  applyEvents(state, records, options);
  return state;
}

/** Orders per outcome in the expected rows: the cases the ground truth must contain. */
export function outcomes(expected: ReadonlyMap<string, OrderRow>) {
  const rows = [...expected.values()];
  const end = Math.max(...rows.map((r) => r.updated_at));
  const DAY_US = 86_400_000_000;
  return {
    /** PAID, then CANCELLED. */
    cancelledAfterPayment: rows.filter((r) => r.status === "CANCELLED" && r.paid_at !== null)
      .length,
    cancelledUnpaid: rows.filter((r) => r.status === "CANCELLED" && r.paid_at === null).length,
    /** SHIPPED, then RETURNED. */
    returnedAfterShipping: rows.filter((r) => r.status === "RETURNED" && r.shipped_at !== null)
      .length,
    /**
     * Only a CREATED, a day of event time before the stream's end: a payment
     * (mean delay 3 min) or cancellation (20 min) would have come long before.
     */
    abandoned:
      rows.filter((r) =>
        r.status === "CREATED" && r.event_count === 1 && r.created_at! < end - DAY_US
      ).length,
    shipped: rows.filter((r) => r.status === "SHIPPED").length,
  };
}

/** The rows of shop.orders_current as pyiceberg reads them. */
export async function readCurrent(at: TablesAt, snapshotId?: string) {
  const result = await readWithPyiceberg({
    catalog_uri: `sqlite:///${at.catalog}`,
    warehouse: at.warehouse,
    table: "shop.orders_current",
    ...(at.s3 ? { s3: at.s3 } : {}),
    ...(snapshotId ? { snapshot_id: snapshotId } : {}),
  });
  return result.rows as Record<string, unknown>[];
}

/** A local warehouse as readTables and readCurrent take it: `dir`/wh with its catalog.db. */
export function localWarehouse(dir: string): TablesAt {
  return { catalog: `${dir}/wh/catalog.db`, warehouse: `file://${dir}/wh` };
}

/**
 * The table holds exactly one row per expected order, equal to it in every
 * column (`extra` adds expected columns beyond the shipped ones).
 */
export function assertCurrentRows(
  actual: readonly Record<string, unknown>[],
  expected: ReadonlyMap<string, OrderRow>,
  extra: (row: OrderRow) => Record<string, unknown> = () => ({}),
): void {
  const seen = new Map<string, number>();
  for (const r of actual) seen.set(r.order_id as string, (seen.get(r.order_id as string) ?? 0) + 1);
  const duplicated = [...seen].filter(([, n]) => n > 1);
  assert.deepEqual(
    duplicated.slice(0, 5),
    [],
    `${duplicated.length} orders have more than one row in orders_current`,
  );
  const missing = [...expected.keys()].filter((id) => !seen.has(id));
  const unknown = [...seen.keys()].filter((id) => !expected.has(id));
  assert.deepEqual(
    { missing: missing.slice(0, 5), unknown: unknown.slice(0, 5) },
    { missing: [], unknown: [] },
    `orders_current has ${actual.length} rows for ${expected.size} orders: ${missing.length} ` +
      `missing, ${unknown.length} not in the ground truth`,
  );
  const wrong: string[] = [];
  for (const row of actual) {
    const truth = expected.get(row.order_id as string)!;
    const want = canonicalRow({ ...truth, ...extra(truth) });
    const got = canonicalRow(row);
    if (JSON.stringify(got) === JSON.stringify(want)) continue;
    if (wrong.length < 5) {
      const columns = [...new Set([...Object.keys(got), ...Object.keys(want)])].sort();
      const diff = columns.filter((c) => JSON.stringify(got[c]) !== JSON.stringify(want[c]))
        .map((c) => `${c}: table ${JSON.stringify(got[c])}, truth ${JSON.stringify(want[c])}`);
      wrong.push(`order ${row.order_id}: ${diff.join("; ")}`);
    } else wrong.push("");
  }
  assert.equal(
    wrong.length,
    0,
    `${wrong.length} of ${actual.length} rows differ from the ground truth:\n${
      wrong.filter((w) => w !== "").join("\n")
    }`,
  );
}

/** Keys sorted at every level (items compared in their order). */
function canonicalRow(row: object): Record<string, unknown> {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (v !== null && typeof v === "object") {
      return Object.fromEntries(
        Object.keys(v).sort().map((k) => [k, sort((v as Record<string, unknown>)[k])]),
      );
    }
    return v;
  };
  return sort(row) as Record<string, unknown>;
}

function storeOf(lake: TablesAt): ObjectStore {
  return openStore(
    lake.warehouse,
    lake.s3
      ? {
        endpoint: lake.s3.endpoint,
        accessKeyId: lake.s3.access_key,
        secretAccessKey: lake.s3.secret_key,
      }
      : undefined,
  );
}

/** The table's metadata (cheap: no data files read). */
export async function loadCurrent(lake: TablesAt): Promise<TableHandle> {
  const catalog = await openCatalog(lake.catalog);
  const store = storeOf(lake);
  try {
    return await loadTable(catalog, store, { namespace: ["shop"], name: "orders_current" });
  } finally {
    await catalog.close();
    await store.close();
  }
}

/** The current snapshot id of orders_current (undefined: no commit yet). */
export async function currentSnapshotId(lake: TablesAt): Promise<string | undefined> {
  const table = await loadCurrent(lake);
  return currentSnapshot(table.metadata)?.["snapshot-id"].toString();
}

/** The one state store file in `stateDir` (a store is one DuckDB file, plus its WAL). */
export async function stateFile(stateDir: string): Promise<string> {
  const files: string[] = [];
  for await (const e of Deno.readDir(stateDir)) {
    if (e.isFile && e.name.endsWith(".duckdb")) files.push(join(stateDir, e.name));
  }
  assert.equal(files.length, 1, `state stores in ${stateDir}: ${files.join(", ")}`);
  return files[0];
}

/**
 * The snapshot a state store is stamped with ("" for an empty table);
 * undefined when there is no store yet, or a process was killed while it
 * created one (its meta table is missing).
 */
export async function stateStamp(stateDir: string): Promise<string | undefined> {
  try {
    await Deno.stat(stateDir);
  } catch {
    return undefined;
  }
  try {
    return (await stateDump(stateDir, false)).meta.snapshot_id;
  } catch (error) {
    if (/meta does not exist/.test(String(error))) return undefined;
    throw error;
  }
}

/** A state store's meta and its rows as JSON text, ordered (read-only, its WAL included). */
export async function stateDump(
  stateDir: string,
  withRows = true,
): Promise<{ meta: Record<string, string>; rows: string[] }> {
  const file = await stateFile(stateDir);
  const duckdb = await DuckDb.open();
  try {
    await duckdb.run(`ATTACH ${sqlString(file)} AS s (READ_ONLY)`);
    const meta = Object.fromEntries(
      (await duckdb.query<{ key: string; value: string }>("SELECT key, value FROM s.meta"))
        .map((r) => [r.key, r.value]),
    );
    if (!withRows) return { meta, rows: [] };
    const rows = await duckdb.query<{ j: string }>(
      // _seq is the store's write order, not content: a rebuilt store numbers its rows anew.
      "SELECT to_json(r)::VARCHAR AS j FROM (SELECT * EXCLUDE (_seq) FROM s.current_rows) r ORDER BY order_id",
    );
    return { meta, rows: rows.map((r) => r.j) };
  } finally {
    duckdb.close();
  }
}

/** The table's columns the state store keeps (its own _key, _file, _pos and _seq left out). */
export async function storeColumns(stateDir: string): Promise<string[]> {
  const duckdb = await DuckDb.open();
  try {
    await duckdb.run(`ATTACH ${sqlString(await stateFile(stateDir))} AS s (READ_ONLY)`);
    return (await duckdb.describe("SELECT * FROM s.current_rows")).map((c) => c.name)
      .filter((n) => !["_key", "_file", "_pos", "_seq"].includes(n));
  } finally {
    duckdb.close();
  }
}

/**
 * The state store equals the table at its current snapshot: stamped with it,
 * and holding exactly its live rows, each with the data file and position it
 * is at (what a position delete of it needs) and its hashed key.
 */
export async function assertStateMatchesTable(stateDir: string, lake: TablesAt, tempDir: string) {
  const file = await stateFile(stateDir);
  const catalog = await openCatalog(lake.catalog);
  const store = storeOf(lake);
  const duckdb = await DuckDb.open();
  try {
    const table = await loadTable(catalog, store, { namespace: ["shop"], name: "orders_current" });
    const plan = await planScan(table.metadata, new ManifestReader(store));
    await createScanView(plan, {
      duckdb,
      store,
      cacheDir: join(tempDir, `scan-cache-${crypto.randomUUID()}`),
      name: "t",
      positions: true,
    });
    await duckdb.run(`ATTACH ${sqlString(file)} AS s (READ_ONLY)`);
    const meta = Object.fromEntries(
      (await duckdb.query<{ key: string; value: string }>("SELECT key, value FROM s.meta"))
        .map((r) => [r.key, r.value]),
    );
    assert.equal(
      meta.snapshot_id,
      currentSnapshot(table.metadata)?.["snapshot-id"].toString() ?? "",
      "the state store is not stamped with the table's current snapshot",
    );
    assert.equal(meta.table_uuid, table.metadata["table-uuid"]);
    // The table's columns the store keeps (it may leave out what the merge never reads).
    const kept = new Set(
      (await duckdb.describe("SELECT * FROM s.current_rows")).map((c) => c.name),
    );
    const columns = [
      ...currentSchema(table.metadata).fields.map((f) => f.name).filter((n) => kept.has(n)),
      "_file",
      "_pos",
    ].map(sqlIdent).join(", ");
    const [diff] = await duckdb.query<
      { missing: bigint; extra: bigint; rows: bigint; bad: bigint; seqs: bigint }
    >(
      `SELECT
         (SELECT count(*) FROM (SELECT ${columns} FROM t EXCEPT ALL
           SELECT ${columns} FROM s.current_rows))::BIGINT AS missing,
         (SELECT count(*) FROM (SELECT ${columns} FROM s.current_rows EXCEPT ALL
           SELECT ${columns} FROM t))::BIGINT AS extra,
         (SELECT count(*) FROM s.current_rows)::BIGINT AS rows,
         (SELECT count(*) FROM s.current_rows WHERE _key <> hash(order_id))::BIGINT AS bad,
         (SELECT count(DISTINCT _seq) FROM s.current_rows)::BIGINT AS seqs`,
    );
    assert.deepEqual(
      {
        missing: diff.missing,
        extra: diff.extra,
        badKeys: diff.bad,
        duplicateSeqs: diff.rows - diff.seqs,
      },
      { missing: 0n, extra: 0n, badKeys: 0n, duplicateSeqs: 0n },
      `state store ${file} (${diff.rows} rows) differs from the table: ${diff.missing} table ` +
        `rows not in it, ${diff.extra} rows the table does not hold`,
    );
    return { rows: Number(diff.rows), snapshot: meta.snapshot_id };
  } finally {
    duckdb.close();
    await catalog.close();
    await store.close();
  }
}

/** An in-process engine's configuration over `dir` (local warehouse `dir`/wh, catalog inside). */
export function engineConfig(
  dir: string,
  options: {
    readonly sqlDir?: string;
    readonly stateDir?: string;
    readonly log?: string[];
    readonly batchRecordsMax?: number;
    /** The level of the lines `log` collects (default info). */
    readonly logLevel?: "info" | "debug";
    readonly stateOldRowCost?: number;
  } = {},
): EngineConfig {
  const log = options.log;
  return {
    warehouse: join(dir, "wh"),
    catalog: join(dir, "wh", "catalog.db"),
    topic: "orders",
    sqlDir: options.sqlDir,
    tempDir: join(dir, `tmp-${crypto.randomUUID().slice(0, 8)}`),
    stateDir: options.stateDir ?? join(dir, "state"),
    targetFileSizeBytes: 128 << 20,
    batchRecordsMax: options.batchRecordsMax ?? 500,
    batchBytesMax: 1 << 30,
    triggerIntervalMs: 3_600_000,
    queuedBatchesMax: 1,
    decodeInline: true,
    memoryLimit: "512MB",
    stateOldRowCost: options.stateOldRowCost,
    clock: new FakeClock(1_767_225_600_000),
    logger: log
      ? createLogger(options.logLevel ?? "info", (line) => log.push(line))
      : createLogger("silent"),
  };
}

/** A copy of the shipped SQL files in `dir`/`name`, `edits` applied (each must change its file). */
export async function editedSqlDir(
  dir: string,
  name: string,
  edits: Readonly<Record<string, (sql: string) => string>>,
): Promise<string> {
  const out = join(dir, name);
  await Deno.mkdir(out, { recursive: true });
  const shipped = new URL("../sql/", import.meta.url);
  for (const file of ["events.sql", "rejects.sql", "current_changes.sql", "current_merge.sql"]) {
    const text = await Deno.readTextFile(new URL(file, shipped));
    const edit = edits[file] as ((sql: string) => string) | undefined;
    const edited = edit ? edit(text) : text;
    if (edit) assert.notEqual(edited, text, `${file} no longer has the text this test edits`);
    await Deno.writeTextFile(join(out, file), edited);
  }
  return out;
}

/** An event JSON for an order, as a producer would send it (for events the generator never makes). */
export function orderEvent(
  row: OrderRow,
  type: string,
  seconds: number,
): { key: string; value: Uint8Array } {
  const event = {
    event_id: crypto.randomUUID(),
    event_type: type,
    event_timestamp: seconds,
    order_id: row.order_id,
    user_id: row.user_id,
    total_amount: Number(row.total_amount),
    currency: row.currency,
    payment_method: row.payment_method,
    items: row.items.map((i) => ({ ...i, unit_price: Number(i.unit_price) })),
    current_status: type.replace(/^ORDER_/, ""),
  };
  return { key: row.order_id, value: ENCODER.encode(JSON.stringify(event)) };
}
