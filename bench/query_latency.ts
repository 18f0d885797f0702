/**
 * Query latency on orders_current with N orders (default 10 million) on the
 * S3 server: the table is seeded as one append and then merged into by a few
 * 100,000-event batches (so it has position delete files, as a live table
 * does; bench/_seed_current.ts). The query set (orders and amounts per
 * status, a point lookup by order_id, the busiest day) then runs
 *
 * - in `lakehouse query`'s session (src/query/): cold = a new session each
 *   time (the table's files are fetched from S3 into its scratch directory
 *   first), warm = the same session again; and as a process per query
 *   (`lakehouse query "SQL"`, what a user types: start-up included);
 * - in Trino through `lakehouse serve` (the catalog Trino's `lakehouse`
 *   catalog points at): the first run after the table was created, then warm.
 *
 * Medians of --runs runs. Needs the S3 server and
 * Trino (`bash scripts/services.sh up trino`); 127.0.0.1:8181 must be free.
 *
 *   deno task bench query [--orders 10000000] [--batches 3] [--runs 5]
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { systemClock } from "../src/core/clock.ts";
import { createLogger } from "../src/core/log.ts";
import { QuerySession } from "../src/query/session.ts";
import { startEngine } from "../src/streams/engine.ts";
import { mergeBatch, orderId, seedCurrent } from "./_seed_current.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    orders: { type: "string", default: "10000000" },
    batches: { type: "string", default: "3" },
    runs: { type: "string", default: "5" },
  },
});
const n = Number(values.orders);
const batches = Number(values.batches);
const runs = Number(values.runs);

const S3 = {
  endpoint: Deno.env.get("LAKEHOUSE_S3_ENDPOINT") ?? "http://127.0.0.1:9000",
  accessKeyId: Deno.env.get("LAKEHOUSE_S3_ACCESS_KEY") ?? "lakehouse",
  secretAccessKey: Deno.env.get("LAKEHOUSE_S3_SECRET_KEY") ?? "lakehouse-secret",
};
const TRINO = `http://127.0.0.1:${Deno.env.get("LAKEHOUSE_TRINO_PORT") ?? "8080"}`;
const REST_LISTEN = "127.0.0.1:8181";
const MAIN = new URL("../main.ts", import.meta.url).pathname;

const lookupId = orderId(Math.floor(n / 3));
/** The query set, in DuckDB's SQL and Trino's. */
const QUERIES: { name: string; duckdb: string; trino: string }[] = [
  {
    name: "orders per status",
    duckdb: "SELECT status, count(*) FROM shop.orders_current GROUP BY status",
    trino: "SELECT status, count(*) FROM orders_current GROUP BY status",
  },
  {
    name: "amount per status",
    duckdb: "SELECT status, sum(total_amount) FROM shop.orders_current GROUP BY status",
    trino: "SELECT status, sum(total_amount) FROM orders_current GROUP BY status",
  },
  {
    name: "point lookup",
    duckdb: `SELECT * FROM shop.orders_current WHERE order_id = '${lookupId}'`,
    trino: `SELECT * FROM orders_current WHERE order_id = '${lookupId}'`,
  },
  {
    name: "busiest day",
    duckdb: "SELECT CAST(updated_at AS DATE) AS d, count(*) AS n FROM shop.orders_current " +
      "GROUP BY d ORDER BY n DESC, d LIMIT 1",
    trino: "SELECT CAST(updated_at AS DATE) AS d, count(*) AS n FROM orders_current " +
      "GROUP BY 1 ORDER BY n DESC, d LIMIT 1",
  },
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function trino(sql: string): Promise<{ rows: unknown[][]; ms: number }> {
  const started = performance.now();
  let response = await fetch(`${TRINO}/v1/statement`, {
    method: "POST",
    headers: {
      "X-Trino-User": "bench",
      "X-Trino-Catalog": "lakehouse",
      "X-Trino-Schema": "shop",
    },
    body: sql,
  });
  const rows: unknown[][] = [];
  for (;;) {
    if (!response.ok) throw new Error(`Trino answered ${response.status} to ${sql}`);
    const page = await response.json();
    if (page.data) rows.push(...page.data);
    if (page.error) throw new Error(`Trino failed on ${sql}: ${page.error.message}`);
    if (!page.nextUri) break;
    response = await fetch(page.nextUri);
  }
  return { rows, ms: performance.now() - started };
}

function rssMiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Math.round(Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024);
}

const fmt = (ms: number) => `${Math.round(ms)} ms`;
const dir = await Deno.makeTempDir({ prefix: "bench-query-" });
const warehouse = `s3://warehouse/bench-query-${crypto.randomUUID().slice(0, 8)}`;
const catalog = join(dir, "catalog.db");
let serve: Deno.ChildProcess | undefined;
try {
  const config = {
    warehouse,
    s3: S3,
    catalog,
    topic: "orders",
    tempDir: join(dir, "tmp"),
    stateDir: join(dir, "state"),
    tables: ["current" as const],
    targetFileSizeBytes: 128 << 20,
    batchRecordsMax: 100_000,
    batchBytesMax: 1 << 30,
    triggerIntervalMs: 3_600_000,
    queuedBatchesMax: 1,
    duckdbThreads: 1,
    memoryLimit: "2GB",
    clock: systemClock,
    logger: createLogger("warn"),
  };
  const building = performance.now();
  await seedCurrent(config, n);
  const engine = await startEngine(config);
  const next = { offset: 0n, fresh: n };
  for (let b = 0; b < batches; b++) await mergeBatch(engine, 100_000, next);
  await engine.close();
  console.log(
    `orders_current on ${warehouse}: ${n} seeded orders + ${batches} merged batches of 100000 ` +
      `events (${n + (batches * 100_000) / 2} orders) in ${
        ((performance.now() - building) / 1000).toFixed(0)
      } s`,
  );

  // Embedded: the session, cold and warm.
  const sessionOptions = {
    warehouse,
    catalog: `sqlite:${catalog}`,
    s3: S3,
    memoryLimit: "1GB",
    timeoutMs: 0,
    logger: createLogger("warn"),
  };
  const runIn = async (session: QuerySession, sql: string) => {
    const started = performance.now();
    let rows = 0;
    await session.run(sql, async (result) => {
      for await (const chunk of result.chunks) rows += chunk.length;
    });
    if (rows === 0) throw new Error(`no rows from ${sql}`);
    return performance.now() - started;
  };
  for (const q of QUERIES) {
    const cold: number[] = [];
    const warm: number[] = [];
    for (let r = 0; r < runs; r++) {
      const scratchDir = await Deno.makeTempDir({ dir, prefix: "query-" });
      const session = await QuerySession.open({ ...sessionOptions, scratchDir });
      try {
        cold.push(await runIn(session, q.duckdb));
        warm.push(await runIn(session, q.duckdb));
      } finally {
        await session.close();
        await Deno.remove(scratchDir, { recursive: true });
      }
    }
    const processes: number[] = [];
    for (let r = 0; r < runs; r++) {
      const started = performance.now();
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          ...["run", "--allow-all", MAIN, "query", "--warehouse", warehouse],
          ...["--catalog", catalog, "--s3-endpoint", S3.endpoint],
          ...["--s3-access-key", S3.accessKeyId, "--format", "csv", q.duckdb],
        ],
        env: { LAKEHOUSE_S3_SECRET_KEY: S3.secretAccessKey, TMPDIR: dir },
        stdout: "null",
        stderr: "piped",
      }).output();
      if (out.code !== 0) throw new Error(new TextDecoder().decode(out.stderr));
      processes.push(performance.now() - started);
    }
    console.log(
      `lakehouse query  ${q.name.padEnd(18)} cold ${fmt(median(cold))}, warm ${
        fmt(median(warm))
      }, a process per query ${fmt(median(processes))}`,
    );
  }

  // Trino through lakehouse serve.
  serve = new Deno.Command(Deno.execPath(), {
    args: [
      ...["run", "--allow-all", MAIN, "serve", "--listen", REST_LISTEN, "--warehouse", warehouse],
      ...["--catalog", catalog, "--s3-endpoint", S3.endpoint, "--s3-access-key", S3.accessKeyId],
      ...["--log-level", "warn"],
    ],
    env: { LAKEHOUSE_S3_SECRET_KEY: S3.secretAccessKey },
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  for (let i = 0;; i++) {
    try {
      const r = await fetch(`http://${REST_LISTEN}/v1/config`);
      await r.body?.cancel();
      if (r.ok) break;
    } catch {
      if (i > 150) throw new Error(`lakehouse serve did not answer on ${REST_LISTEN}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  for (const q of QUERIES) {
    const first = await trino(q.trino);
    if (first.rows.length === 0) throw new Error(`no rows from Trino for ${q.trino}`);
    const warm: number[] = [];
    for (let r = 0; r < runs; r++) warm.push((await trino(q.trino)).ms);
    console.log(
      `Trino            ${q.name.padEnd(18)} first ${fmt(first.ms)}, warm ${fmt(median(warm))}`,
    );
  }
  const trinoPid = Number(
    Deno.readTextFileSync(
      `${Deno.env.get("LAKEHOUSE_CACHE") ?? `${Deno.env.get("HOME")}/.cache/lakehouse`}` +
        "/services/trino/trino.pid",
    ).trim(),
  );
  console.log(`Trino RSS ${rssMiB(trinoPid)} MiB, lakehouse serve RSS ${rssMiB(serve.pid)} MiB`);
} finally {
  if (serve) {
    serve.kill("SIGTERM");
    await serve.status;
  }
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
