/**
 * Trino, really running, on tables the engine wrote to the S3 server: after a
 * seeded `lakehouse run` (with `--serve`, which is checked while it runs),
 * `lakehouse serve` serves the catalog Trino's `lakehouse` catalog points at.
 * Trino's answers to a query set (counts and sums by status, a point lookup,
 * orders per hour, rejects per kind, a `FOR VERSION AS OF` time travel) must
 * equal pyiceberg's through the REST catalog, `lakehouse query`'s, our own
 * scan's and a ground truth computed from the generator's output. Then Trino
 * writes through the catalog: CREATE TABLE AS, INSERT and DELETE (position
 * deletes) on its own table, and a DELETE on orders_rejects, each visible to
 * our scan and pyiceberg. Trino's memory and the query set's latency are
 * printed.
 */
import assert from "node:assert/strict";
import {
  expectedCurrent,
  generated,
  micros as toMicros,
  place,
  produceOrders,
} from "./_current.ts";
import {
  freePort,
  ourScan,
  requireRestAddressFree,
  requireTrino,
  REST_URI,
  restListen,
  restRows,
  rssMib,
  S3_ACCESS_KEY,
  S3_SECRET_KEY,
  type ScanTarget,
  trino,
} from "./_rest.ts";
import { requireKafka, requireS3, runCli, S3_ENDPOINT } from "./_services.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const COUNT = 20_000;
const BAD_RATE = 0.01;
const SEED = "trino";

type Row = Record<string, unknown>;

/** `62.78` -> 6278n: decimals summed exactly. */
function cents(value: unknown): bigint {
  const [whole, fraction = ""] = String(value).split(".");
  const sign = whole.startsWith("-") ? -1n : 1n;
  return sign *
    (BigInt(whole.replace("-", "")) * 100n + BigInt(fraction.padEnd(2, "0").slice(0, 2)));
}

function money(value: bigint): string {
  const sign = value < 0n ? "-" : "";
  const abs = value < 0n ? -value : value;
  return `${sign}${abs / 100n}.${String(abs % 100n).padStart(2, "0")}`;
}

function sorted<T extends unknown[]>(rows: T[]): T[] {
  return rows.sort((a, b) => JSON.stringify(a) < JSON.stringify(b) ? -1 : 1);
}

/** The query set, computed from a table's rows (pyiceberg's or our scan's). */
const fromRows = {
  byStatus: (current: Row[]) => {
    const groups = new Map<string, { n: number; sum: bigint }>();
    for (const r of current) {
      const g = groups.get(r.status as string) ?? { n: 0, sum: 0n };
      g.n++;
      g.sum += cents(r.total_amount);
      groups.set(r.status as string, g);
    }
    return sorted([...groups].map(([status, g]) => [status, g.n, money(g.sum)]));
  },
  lookup: (current: Row[], orderId: string) =>
    current.filter((r) => r.order_id === orderId).map((r) => [
      r.order_id,
      r.user_id,
      r.status,
      money(cents(r.total_amount)),
      r.created_at,
      r.updated_at,
      (r.items as unknown[] | null)?.length ?? 0,
    ]),
  perHour: (events: Row[]) => {
    const hours = new Map<number, Set<string>>();
    for (const r of events) {
      const hour = Math.floor(Number(r.event_timestamp) / 3_600_000_000) * 3600;
      hours.set(hour, (hours.get(hour) ?? new Set()).add(r.order_id as string));
    }
    return sorted([...hours].map(([hour, orders]) => [hour, orders.size]));
  },
  rejectsByKind: (rejects: Row[]) => {
    const kinds = new Map<string, number>();
    for (const r of rejects) {
      kinds.set(r.reject_kind as string, (kinds.get(r.reject_kind as string) ?? 0) + 1);
    }
    return sorted([...kinds]);
  },
  travel: (events: Row[]) => [[events.length, new Set(events.map((r) => r.order_id)).size]],
};

/** The same query set in Trino's SQL; timestamps as epoch microseconds, decimals as text. */
const micros = (c: string) => `CAST(round(to_unixtime(${c}) * 1e6) AS bigint)`;
const inTrino = {
  byStatus:
    "SELECT status, count(*), CAST(sum(total_amount) AS varchar) FROM orders_current GROUP BY status",
  lookup: (orderId: string) =>
    `SELECT order_id, user_id, status, CAST(total_amount AS varchar), ${micros("created_at")}, ${
      micros("updated_at")
    }, coalesce(cardinality(items), 0) FROM orders_current WHERE order_id = '${orderId}'`,
  perHour:
    "SELECT CAST(to_unixtime(date_trunc('hour', event_timestamp)) AS bigint), count(DISTINCT order_id) FROM orders_events GROUP BY 1",
  rejectsByKind: "SELECT reject_kind, count(*) FROM orders_rejects GROUP BY reject_kind",
  travel: (snapshot: string) =>
    `SELECT count(*), count(DISTINCT order_id) FROM orders_events FOR VERSION AS OF ${snapshot}`,
};

/** The same query set in `lakehouse query`'s SQL (DuckDB over the tables' views). */
const inQuery = {
  byStatus:
    "SELECT status, count(*) AS n, CAST(sum(total_amount) AS VARCHAR) AS s FROM shop.orders_current GROUP BY status",
  lookup: (orderId: string) =>
    `SELECT order_id, user_id, status, CAST(total_amount AS VARCHAR) AS a, epoch_us(created_at) AS c,
            epoch_us(updated_at) AS u, coalesce(len(items), 0) AS n
       FROM shop.orders_current WHERE order_id = '${orderId}'`,
  perHour:
    "SELECT CAST(floor(epoch_us(event_timestamp) / 3600000000) * 3600 AS BIGINT) AS h, count(DISTINCT order_id) AS n FROM shop.orders_events GROUP BY 1",
  rejectsByKind: "SELECT reject_kind, count(*) AS n FROM shop.orders_rejects GROUP BY reject_kind",
  travel: (snapshot: string) =>
    `SELECT count(*) AS n, count(DISTINCT order_id) AS d FROM shop."orders_events@${snapshot}"`,
};

/**
 * The query set's answers computed from the generator's own output: the
 * final state of each order by the independent model of tests/_current.ts,
 * the valid events, and the bad records' kinds (each is rejected as its kind).
 */
function groundTruth(orderId: string) {
  const messages = generated(SEED, COUNT, BAD_RATE);
  const current = [...expectedCurrent(place(messages)).values()] as unknown as Row[];
  const decoder = new TextDecoder();
  const events = messages.filter((m) => m.kind === "valid").map((m) => {
    const e = JSON.parse(decoder.decode(m.value));
    return { order_id: e.order_id, event_timestamp: toMicros(e.event_timestamp) };
  });
  const rejects = messages.filter((m) => m.kind !== "valid").map((m) => ({ reject_kind: m.kind }));
  return {
    byStatus: fromRows.byStatus(current),
    lookup: fromRows.lookup(current, orderId),
    perHour: fromRows.perHour(events),
    rejectsByKind: fromRows.rejectsByKind(rejects),
  };
}

async function untilReady(url: string, ms: number, ready: (r: Response) => Promise<boolean>) {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      const response = await fetch(url);
      if (await ready(response)) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`${url} not ready within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

Deno.test("Trino reads the engine's tables through the REST catalog: same answers as pyiceberg, lakehouse query, our scan and the ground truth; its writes are visible to both", async () => {
  const brokers = await requireKafka();
  await requireS3();
  await requireTrino();
  await requireRestAddressFree();
  const tag = crypto.randomUUID().slice(0, 8);
  const topic = `it-trino-${tag}`;
  const warehouse = `s3://warehouse/trino-${tag}`;
  const dir = await Deno.makeTempDir();
  const env = { NO_COLOR: "1", LAKEHOUSE_S3_SECRET_KEY: S3_SECRET_KEY };
  const s3Flags = ["--s3-endpoint", S3_ENDPOINT, "--s3-access-key", S3_ACCESS_KEY];
  const target: ScanTarget = {
    catalog: `${dir}/catalog.db`,
    warehouse,
    s3: {
      endpoint: S3_ENDPOINT,
      region: "us-east-1",
      accessKeyId: S3_ACCESS_KEY,
      secretAccessKey: S3_SECRET_KEY,
    },
  };
  let serve: Deno.ChildProcess | undefined;
  try {
    await produceOrders(brokers, topic, SEED, COUNT, BAD_RATE);

    // The engine, serving its catalog while it runs.
    const port = freePort();
    const run = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        MAIN,
        "run",
        "--brokers",
        brokers,
        "--topic",
        topic,
        "--group-id",
        `g-${topic}`,
        "--warehouse",
        warehouse,
        ...s3Flags,
        "--catalog",
        `${dir}/catalog.db`,
        "--state-dir",
        `${dir}/state`,
        "--trigger-interval",
        "300ms",
        "--max-records-per-trigger",
        "4000",
        "--memory-limit",
        "512MB",
        "--idle-exit",
        "5s",
        "--serve",
        `127.0.0.1:${port}`,
      ],
      env,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const runOutput = run.output();
    await untilReady(
      `http://127.0.0.1:${port}/v1/namespaces/shop/tables/orders_events`,
      60_000,
      async (r) => r.ok && (await r.json()).metadata["current-snapshot-id"] !== -1,
    );
    const ran = await runOutput;
    assert.equal(ran.code, 0, new TextDecoder().decode(ran.stderr));

    // `lakehouse serve` where Trino's catalog looks.
    serve = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        MAIN,
        "serve",
        "--listen",
        restListen(),
        "--warehouse",
        warehouse,
        ...s3Flags,
        "--catalog",
        `${dir}/catalog.db`,
      ],
      env,
      stdout: "null",
      stderr: "piped",
    }).spawn();
    await untilReady(`${REST_URI}/v1/config`, 30_000, async (r) => {
      await r.body?.cancel();
      return r.ok;
    });

    // pyiceberg through the REST catalog (S3 keys of its own: the server
    // hands out only the endpoint and region) and our scan, row for row.
    const py = { uri: REST_URI, s3: { access_key: S3_ACCESS_KEY, secret_key: S3_SECRET_KEY } };
    const tables: Record<string, Row[]> = {};
    let snapshots: string[] = [];
    for (const name of ["orders_current", "orders_events", "orders_rejects"]) {
      const theirs = await restRows({ ...py, table: `shop.${name}` });
      const ours = await ourScan(target, { namespace: ["shop"], name }, (s) => s.rows());
      assert.ok(theirs.rows.length > 0, `${name} is empty`);
      assert.deepEqual(
        theirs.rows,
        ours.map((r) => r.items === null ? { ...r, items: [] } : r),
        `${name}: pyiceberg (REST) vs our scan`,
      );
      tables[name] = ours;
      if (name === "orders_events") snapshots = theirs.snapshots;
    }
    assert.ok(snapshots.length >= 3, `orders_events has only ${snapshots.length} snapshots`);
    const pastSnapshot = snapshots[1];
    const past = await restRows({ ...py, table: "shop.orders_events", snapshot_id: pastSnapshot });
    const pastOurs = await ourScan(
      target,
      { namespace: ["shop"], name: "orders_events" },
      (s) => s.rows(),
      BigInt(pastSnapshot),
    );
    assert.deepEqual(past.rows.length, pastOurs.length);
    assert.ok(pastOurs.length < tables.orders_events.length);
    const orderId = tables.orders_current
      .map((r) => r.order_id as string).sort()[Math.floor(tables.orders_current.length / 2)];

    const expected = {
      byStatus: fromRows.byStatus(tables.orders_current),
      lookup: fromRows.lookup(tables.orders_current, orderId),
      perHour: fromRows.perHour(tables.orders_events),
      rejectsByKind: fromRows.rejectsByKind(tables.orders_rejects),
      travel: fromRows.travel(pastOurs),
    };
    assert.equal(expected.lookup.length, 1);
    // What the tables hold equals what the generator sent.
    const truth = groundTruth(orderId);
    for (const [name, rows] of Object.entries(truth)) {
      assert.deepEqual(
        expected[name as keyof typeof expected],
        rows,
        `${name}: the tables differ from the ground truth`,
      );
    }
    assert.ok(truth.byStatus.length >= 4, `too few statuses: ${JSON.stringify(truth.byStatus)}`);

    // `lakehouse query` over the same catalog and warehouse.
    const queried: Record<string, number> = {};
    const lakehouseQuery = async (name: string, sql: string) => {
      const started = performance.now();
      const out = await runCli([
        "query",
        ...["--warehouse", warehouse, "--catalog", `${dir}/catalog.db`, ...s3Flags],
        ...["--format", "ndjson", sql],
      ], env);
      queried[name] = Math.round(performance.now() - started);
      assert.equal(out.code, 0, out.stderr);
      return out.stdout.trim().split("\n").filter((l) => l !== "").map((l) =>
        Object.values(JSON.parse(l) as Row).map((v) => typeof v === "string" ? v : Number(v))
      );
    };
    const ourAnswers = {
      byStatus: await lakehouseQuery("byStatus", inQuery.byStatus),
      lookup: await lakehouseQuery("lookup", inQuery.lookup(orderId)),
      perHour: await lakehouseQuery("perHour", inQuery.perHour),
      rejectsByKind: await lakehouseQuery("rejectsByKind", inQuery.rejectsByKind),
      travel: await lakehouseQuery("travel", inQuery.travel(pastSnapshot)),
    };
    for (const [name, rows] of Object.entries(ourAnswers)) {
      assert.deepEqual(
        sorted(rows),
        expected[name as keyof typeof expected],
        `lakehouse query ${name} differs from pyiceberg and our scan`,
      );
    }
    assert.deepEqual(fromRows.travel(past.rows), expected.travel, "time travel: pyiceberg");
    const querySet = async () => {
      const results = {
        byStatus: await trino(inTrino.byStatus),
        lookup: await trino(inTrino.lookup(orderId)),
        perHour: await trino(inTrino.perHour),
        rejectsByKind: await trino(inTrino.rejectsByKind),
        travel: await trino(inTrino.travel(pastSnapshot)),
      };
      for (const [name, result] of Object.entries(results)) {
        assert.deepEqual(
          sorted(result.rows),
          expected[name as keyof typeof expected],
          `Trino ${name} differs from pyiceberg and our scan`,
        );
      }
      return Object.fromEntries(
        Object.entries(results).map(([name, r]) => [name, Math.round(r.ms)]),
      );
    };
    const cold = await querySet();
    const warm = await querySet();
    const trinoPid = Number(
      Deno.readTextFileSync(
        `${Deno.env.get("LAKEHOUSE_CACHE") ?? `${Deno.env.get("HOME")}/.cache/lakehouse`}` +
          "/services/trino/trino.pid",
      ).trim(),
    );
    const total = (ms: Record<string, number>) => Object.values(ms).reduce((a, b) => a + b, 0);
    console.log(
      `trino: query set over ${COUNT} events: first run ${total(cold)} ms ${
        JSON.stringify(cold)
      }, second run ${total(warm)} ms ${
        JSON.stringify(warm)
      }; lakehouse query (a process per query) ${total(queried)} ms ${
        JSON.stringify(queried)
      }; Trino RSS ${rssMib(trinoPid)} MiB, lakehouse serve RSS ${rssMib(serve.pid)} MiB`,
    );

    // Trino writes through the catalog.
    await trino(
      "CREATE TABLE trino_orders AS SELECT order_id, status, total_amount FROM orders_current " +
        "WHERE status = 'PAID'",
    );
    const paid = tables.orders_current.filter((r) => r.status === "PAID");
    await trino("INSERT INTO trino_orders VALUES ('trino-1', 'CREATED', DECIMAL '1.50')");
    await trino(`DELETE FROM trino_orders WHERE order_id = '${paid[0].order_id}'`);
    const written = await ourScan(
      target,
      { namespace: ["shop"], name: "trino_orders" },
      async (s) =>
        (await s.duckdb.query<{ n: bigint; s: string }>(
          "SELECT count(*) AS n, CAST(sum(total_amount) AS VARCHAR) AS s FROM t",
        ))[0],
    );
    const paidSum = paid.slice(1).reduce((sum, r) => sum + cents(r.total_amount), 150n);
    assert.deepEqual([Number(written.n), written.s], [paid.length, money(paidSum)]);
    const writtenPy = await restRows({ ...py, table: "shop.trino_orders" });
    assert.equal(writtenPy.rows.length, paid.length);

    const oversized = tables.orders_rejects.filter((r) => r.reject_kind === "oversized").length;
    assert.ok(oversized > 0);
    await trino("DELETE FROM orders_rejects WHERE reject_kind = 'oversized'");
    const rejectsAfter = await ourScan(
      target,
      { namespace: ["shop"], name: "orders_rejects" },
      (s) => s.rows(),
    );
    assert.equal(rejectsAfter.length, tables.orders_rejects.length - oversized);
    assert.ok(rejectsAfter.every((r) => r.reject_kind !== "oversized"));
    const rejectsPy = await restRows({ ...py, table: "shop.orders_rejects" });
    assert.equal(rejectsPy.rows.length, rejectsAfter.length);
  } finally {
    if (serve) {
      serve.kill("SIGTERM");
      const status = await serve.status;
      const stderr = await new Response(serve.stderr).text();
      assert.equal(status.code, 0, stderr);
    }
    await Deno.remove(dir, { recursive: true });
  }
});
