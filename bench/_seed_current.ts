/**
 * An orders_current table of N orders for benchmarks: written directly as
 * one append (statuses and amounts spread over the orders), then merged into
 * through the engine by batches of events, half PAID events for random
 * existing orders (updates: a new row plus a position delete), half CREATED
 * events for new orders.
 */
import { FakeClock } from "../src/core/clock.ts";
import { DuckDb } from "../src/duckdb/duckdb.ts";
import { commitChange } from "../src/iceberg/commit/commit.ts";
import { appendFiles } from "../src/iceberg/transaction/mod.ts";
import { stageDataFiles, uploadDataFiles } from "../src/iceberg/write/data_files.ts";
import { duckdbType } from "../src/iceberg/write/duckdb_types.ts";
import { type EngineConfig, type RunningEngine, startEngine } from "../src/streams/engine.ts";
import type { RawRecord } from "../src/batch/types.ts";

const ENCODER = new TextEncoder();

/** The i-th seeded order's id: a valid UUID text, reproducible here and in SQL. */
export function orderId(i: number): string {
  return `${i.toString(16).padStart(8, "0")}-0000-4000-8000-${i.toString(16).padStart(12, "0")}`;
}
const ORDER_ID_SQL = "printf('%08x-0000-4000-8000-%012x', i, i)";

function event(id: string, type: "ORDER_CREATED" | "ORDER_PAID", n: number): Uint8Array {
  return ENCODER.encode(JSON.stringify({
    event_id: crypto.randomUUID(),
    event_type: type,
    event_timestamp: 1_767_225_600 + n / 1000,
    order_id: id,
    user_id: `user-${n % 100000}`,
    total_amount: 25.98,
    currency: "EUR",
    payment_method: "card",
    items: [{ sku: "SKU-00001", quantity: 2, unit_price: 12.99, category: "books" }],
    current_status: type === "ORDER_CREATED" ? "CREATED" : "PAID",
  }));
}

/** Writes `n` orders into the (empty) orders_current of `config` as one append. */
export async function seedCurrent(config: EngineConfig, n: number): Promise<void> {
  const engine = await startEngine({ ...config, clock: new FakeClock(0) });
  try {
    const writer = engine.current!.writer;
    const duckdb = await DuckDb.open({ threads: 1, memoryLimit: "2GB" });
    try {
      const value: Record<string, string> = {
        order_id: ORDER_ID_SQL,
        user_id: "'user-' || (i % 100000)::VARCHAR",
        status: "['CREATED', 'PAID', 'SHIPPED', 'CANCELLED', 'RETURNED'][1 + i % 5]",
        total_amount: "1 + (i % 50000) / 100",
        currency: "'EUR'",
        payment_method: "'card'",
        items: "[{'sku': 'SKU-00001', 'quantity': 2, 'unit_price': 12.99, 'category': 'books'}]",
        created_at: "TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_seconds(i % 2592000)",
        updated_at: "TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_seconds(i % 2592000)",
        last_event_id: "uuid()::VARCHAR",
        last_event_type: "'ORDER_CREATED'",
        event_count: "1",
        last_kafka_partition: "0",
        last_kafka_offset: "-1",
      };
      const columns = writer.schema.fields.map((f) =>
        `CAST(${value[f.name] ?? "NULL"} AS ${duckdbType(f.type)}) AS "${f.name}"`
      );
      await duckdb.run(
        `CREATE OR REPLACE TEMP VIEW seed AS SELECT ${columns.join(", ")} FROM range(${n}) t(i)`,
      );
      const staged = await stageDataFiles({
        duckdb,
        store: engine.store,
        schema: writer.schema,
        spec: writer.metadata["partition-specs"][0],
        source: "seed",
        location: writer.metadata.location,
        targetFileSizeBytes: 128 << 20,
        tempDir: config.tempDir,
      });
      const files = await uploadDataFiles(engine.store, staged);
      await staged.dispose();
      await commitChange(
        { catalog: engine.catalog, store: engine.store, id: writer.options.id },
        appendFiles(files),
      );
    } finally {
      duckdb.close();
    }
  } finally {
    await engine.close();
  }
}

/**
 * Merges one batch of `size` events into orders_current: half updates of
 * existing orders (a `recent` share of them for the previous batch's new
 * orders, the rest for any order), half new orders numbered from
 * `next.fresh` (the seeded orders are 0 .. fresh - 1). Returns the batch's
 * wall seconds.
 */
export async function mergeBatch(
  engine: RunningEngine,
  size: number,
  next: { offset: bigint; fresh: number },
  /** Share of updates for orders created in the previous batch (the rest: any order). */
  recent = 0,
): Promise<number> {
  const records: RawRecord[] = [];
  // The previous batch's new orders (the first batch: the last seeded ones).
  const pool = Math.max(1, Math.floor(size / 2));
  const poolEnd = next.fresh;
  for (let k = 0; k < size; k++) {
    const update = k % 2 === 0;
    const id = !update
      ? orderId(next.fresh++)
      : Math.random() < recent
      ? orderId(poolEnd - 1 - Math.floor(Math.random() * Math.min(pool, poolEnd)))
      : orderId(Math.floor(Math.random() * next.fresh));
    records.push({
      topic: "orders",
      partition: 0,
      offset: next.offset++,
      key: ENCODER.encode(id),
      value: event(id, update ? "ORDER_PAID" : "ORDER_CREATED", k),
      timestampMs: Date.now(),
    });
  }
  const before = engine.pipeline.stats.batches;
  const t0 = performance.now();
  await engine.pipeline.offer(records);
  await engine.pipeline.flush();
  const wall = (performance.now() - t0) / 1000;
  if (engine.pipeline.stats.batches !== before + 1) throw new Error("expected one batch");
  return wall;
}
