/**
 * Merge cost against table size: orders_current is seeded with N orders
 * (written directly as one append, then the state store built from a scan,
 * as after a restart), then batches of --batch events are merged through the
 * engine (in-process, orders_current only; bench/_seed_current.ts): half of
 * them PAID events for existing orders (updates: a new row plus a position
 * delete), half CREATED events for new orders (inserts). --recent is the
 * share of updates for orders the previous batch created (as in a live
 * stream, where an order's next event follows its last within minutes);
 * the rest pick any order (0, the default: every update a random order). Reports, per N, the median wall
 * time and engine CPU (user + sys of this process) per batch, the state
 * store's size, and the process's RSS.
 *
 *   deno task bench merge [--orders 1000000,10000000] [--batch 100000] [--batches 5]
 *                         [--recent 0.99]
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { systemClock } from "../src/core/clock.ts";
import { createLogger } from "../src/core/log.ts";
import { startEngine } from "../src/streams/engine.ts";
import { mergeBatch, seedCurrent } from "./_seed_current.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    orders: { type: "string", default: "1000000,10000000" },
    batch: { type: "string", default: "100000" },
    batches: { type: "string", default: "5" },
    recent: { type: "string", default: "0" },
  },
});
const recent = Number(values.recent);
if (!(recent >= 0 && recent <= 1)) {
  console.error(`--recent must be a share between 0 and 1, not ${JSON.stringify(values.recent)}`);
  Deno.exit(2);
}
const sizes = values.orders!.split(",").map(Number);
const batchSize = Number(values.batch);
const batches = Number(values.batches);

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
    await seedCurrent(config, n);
    const seededS = (performance.now() - seeding) / 1000;
    // 2. A restart: the state store is caught up with the seeded snapshot.
    const opening = performance.now();
    const engine = await startEngine(config);
    const openS = (performance.now() - opening) / 1000;
    const stateRows = await engine.current!.state.count();
    // 3. Batches: half updates of existing orders, half new orders.
    const walls: number[] = [];
    const cpus: number[] = [];
    const next = { offset: 0n, fresh: n };
    for (let b = 0; b < batches; b++) {
      const cpu0 = cpuSeconds();
      walls.push(await mergeBatch(engine, batchSize, next, recent));
      cpus.push(cpuSeconds() - cpu0);
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
