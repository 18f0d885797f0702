/**
 * Merge cost against table size: orders_current is seeded with N orders
 * (written directly as one append, then the state store built from a scan,
 * as after a restart), then batches of --batch events are merged through the
 * engine (in-process, orders_current only): half of them PAID events for
 * random existing orders (updates: a new row plus a position delete), half
 * CREATED events for new orders (inserts). Reports, per N, the median wall
 * time and engine CPU (user + sys of this process) per batch, the state
 * store's size, and the process's RSS.
 *
 *   deno task bench merge [--orders 1000000,10000000] [--batch 100000] [--batches 5]
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { FakeClock, systemClock } from "../src/core/clock.ts";
import { createLogger } from "../src/core/log.ts";
import { DuckDb } from "../src/duckdb/duckdb.ts";
import { commitChange } from "../src/iceberg/commit/commit.ts";
import { appendFiles } from "../src/iceberg/transaction/mod.ts";
import { stageDataFiles, uploadDataFiles } from "../src/iceberg/write/data_files.ts";
import { duckdbType } from "../src/iceberg/write/duckdb_types.ts";
import { startEngine } from "../src/streams/engine.ts";
import type { RawRecord } from "../src/batch/types.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    orders: { type: "string", default: "1000000,10000000" },
    batch: { type: "string", default: "100000" },
    batches: { type: "string", default: "5" },
  },
});
const sizes = values.orders!.split(",").map(Number);
const batchSize = Number(values.batch);
const batches = Number(values.batches);
const ENCODER = new TextEncoder();

/** The i-th seeded order's id: a valid UUID text, reproducible here and in SQL. */
function orderId(i: number): string {
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

function cpuSeconds(): number {
  const fields = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, clock ticks
}

function rss(): { rssMiB: number; hwmMiB: number } {
  const status = Deno.readTextFileSync("/proc/self/status");
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)![1]);
  return { rssMiB: Math.round(kb("VmRSS") / 1024), hwmMiB: Math.round(kb("VmHWM") / 1024) };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

for (const n of sizes) {
  const dir = await Deno.makeTempDir({ prefix: "bench-merge-" });
  try {
    const config = {
      warehouse: join(dir, "wh"),
      catalog: join(dir, "catalog.db"),
      topic: "orders",
      tempDir: join(dir, "tmp"),
      stateDir: join(dir, "state"),
      tables: ["current" as const],
      targetFileSizeBytes: 128 << 20,
      batchRecordsMax: batchSize,
      batchBytesMax: 1 << 30,
      triggerIntervalMs: 3_600_000,
      queuedBatchesMax: 1,
      duckdbThreads: 1,
      memoryLimit: "2GB",
      clock: systemClock,
      logger: createLogger((Deno.env.get("LAKEHOUSE_LOG_LEVEL") ?? "warn") as "warn"),
    };
    // 1. The table with N orders, written as one append.
    const seeding = performance.now();
    {
      const engine = await startEngine({ ...config, clock: new FakeClock(0) });
      const writer = engine.current!.writer;
      const duckdb = await DuckDb.open({ threads: 1, memoryLimit: "2GB" });
      const columns = writer.schema.fields.map((f) => {
        const value: Record<string, string> = {
          order_id: ORDER_ID_SQL,
          user_id: "'user-' || (i % 100000)::VARCHAR",
          status: "'CREATED'",
          total_amount: "25.98",
          currency: "'EUR'",
          payment_method: "'card'",
          items: "[{'sku': 'SKU-00001', 'quantity': 2, 'unit_price': 12.99, 'category': 'books'}]",
          created_at: "TIMESTAMPTZ '2026-01-01 00:00:00+00'",
          updated_at: "TIMESTAMPTZ '2026-01-01 00:00:00+00'",
          last_event_id: "uuid()::VARCHAR",
          last_event_type: "'ORDER_CREATED'",
          event_count: "1",
          last_kafka_partition: "0",
          last_kafka_offset: "-1",
        };
        return `CAST(${value[f.name] ?? "NULL"} AS ${duckdbType(f.type)}) AS "${f.name}"`;
      });
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
      duckdb.close();
      await engine.close();
    }
    const seededS = (performance.now() - seeding) / 1000;
    // 2. A restart: the state store is caught up with the seeded snapshot.
    const opening = performance.now();
    const engine = await startEngine(config);
    const openS = (performance.now() - opening) / 1000;
    const stateRows = await engine.current!.state.count();
    // 3. Batches: half updates of random existing orders, half new orders.
    const walls: number[] = [];
    const cpus: number[] = [];
    let offset = 0n;
    let fresh = n;
    for (let b = 0; b < batches; b++) {
      const records: RawRecord[] = [];
      for (let k = 0; k < batchSize; k++) {
        const update = k % 2 === 0;
        const id = update ? orderId(Math.floor(Math.random() * n)) : orderId(fresh++);
        records.push({
          topic: "orders",
          partition: 0,
          offset: offset++,
          key: ENCODER.encode(id),
          value: event(id, update ? "ORDER_PAID" : "ORDER_CREATED", k),
          timestampMs: Date.now(),
        });
      }
      const before = engine.pipeline.stats.batches;
      const cpu0 = cpuSeconds();
      const t0 = performance.now();
      await engine.pipeline.offer(records);
      await engine.pipeline.flush();
      walls.push((performance.now() - t0) / 1000);
      cpus.push(cpuSeconds() - cpu0);
      if (engine.pipeline.stats.batches !== before + 1) throw new Error("expected one batch");
    }
    const stateFile = engine.current!.state.path;
    await engine.close();
    const stateMiB = Math.round((await Deno.stat(stateFile)).size / 1024 / 1024);
    const memory = rss();
    console.log(
      `orders ${n}: seeded in ${seededS.toFixed(1)} s, state store ${stateRows} rows ` +
        `(${stateMiB} MiB on disk) built in ${openS.toFixed(1)} s; per ${batchSize}-event batch: ` +
        `median ${median(walls).toFixed(2)} s wall, ${median(cpus).toFixed(2)} s CPU ` +
        `(walls ${walls.map((w) => w.toFixed(2)).join(" ")}); RSS ${memory.rssMiB} MiB, ` +
        `peak ${memory.hwmMiB} MiB`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
