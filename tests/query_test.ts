/**
 * `lakehouse query` as a user runs it: over a warehouse written by
 * `lakehouse demo` (all three tables, several snapshots each), its results
 * compared with what pyiceberg reads; time travel; the output formats; the
 * sandbox (no writes, no other files or URLs, no extensions or settings); the
 * time limit; errors; the prompt; and one warehouse on the S3 server.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { CommandContext } from "../src/cli/command.ts";
import { queryCommandFor } from "../src/cli/query.ts";
import { openStore } from "../src/storage/mod.ts";
import { readWithPyiceberg } from "./_iceberg.ts";
import { requireKafka, requireS3, runCli, S3_ENDPOINT } from "./_services.ts";

const dir = await Deno.makeTempDir({ prefix: "query-test-" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
const WAREHOUSE = join(dir, "wh");

/** The demo's warehouse, written once for all tests: several commits per table. */
let written: Promise<void> | undefined;
function warehouse(): Promise<void> {
  written ??= (async () => {
    const out = await runCli([
      "demo",
      ...["--seed", "query-test", "--count", "12000", "--bad-rate", "0.01"],
      ...["--max-records-per-trigger", "4000", "--warehouse", WAREHOUSE, "--log-level", "warn"],
    ]);
    assert.equal(out.code, 0, out.stderr);
  })();
  return written;
}

async function query(args: string[], env: Record<string, string> = {}) {
  await warehouse();
  return await runCli(["query", "--warehouse", WAREHOUSE, ...args], { TMPDIR: dir, ...env });
}

/** Rows of a CSV result (no quoted fields expected). */
function csvRows(text: string): string[][] {
  return text.trimEnd().split("\n").map((line) => line.split(","));
}

const PYICEBERG = {
  catalog_uri: `sqlite:///${WAREHOUSE}/catalog.db`,
  warehouse: `file://${WAREHOUSE}`,
};

Deno.test("query reads what pyiceberg reads: row counts of the three tables, orders per status", async () => {
  const out = await query([
    "--format",
    "json",
    `SELECT (SELECT count(*) FROM shop.orders_events) AS events,
            (SELECT count(*) FROM shop.orders_current) AS current,
            (SELECT count(*) FROM shop.orders_rejects) AS rejects`,
  ]);
  assert.equal(out.code, 0, out.stderr);
  const [counts] = JSON.parse(out.stdout);
  const read = async (table: string) =>
    (await readWithPyiceberg({ ...PYICEBERG, table })).rows as Record<string, unknown>[];
  const [events, current, rejects] = await Promise.all(
    ["shop.orders_events", "shop.orders_current", "shop.orders_rejects"].map(read),
  );
  assert.ok(events.length > 0 && current.length > 0 && rejects.length > 0);
  assert.deepEqual(counts, {
    events: events.length,
    current: current.length,
    rejects: rejects.length,
  });

  // orders_current has position deletes: each order once, in its latest status.
  const byStatus = await query([
    "--format",
    "csv",
    "SELECT status, count(*) AS n FROM orders_current GROUP BY status ORDER BY status",
  ]);
  assert.equal(byStatus.code, 0, byStatus.stderr);
  const expected = new Map<string, number>();
  for (const row of current) {
    expected.set(row.status as string, (expected.get(row.status as string) ?? 0) + 1);
  }
  assert.deepEqual(
    csvRows(byStatus.stdout).slice(1),
    [...expected].sort(([a], [b]) => a < b ? -1 : 1).map(([s, n]) => [s, String(n)]),
  );
});

Deno.test("views over the tables' local files read after the lock-down", async () => {
  const out = await query([
    "--format",
    "csv",
    `SELECT current_setting('enable_external_access') AS external_access,
            current_setting('lock_configuration') AS locked,
            (SELECT count(*) > 0 FROM shop.orders_events) AS rows_read`,
  ]);
  assert.equal(out.code, 0, out.stderr);
  assert.deepEqual(csvRows(out.stdout), [
    ["external_access", "locked", "rows_read"],
    ["false", "true", "true"],
  ]);
});

Deno.test('time travel: --as-of SNAPSHOT_ID, --as-of TIME and "table@SNAPSHOT_ID" read an older snapshot', async () => {
  const snapshots = await query([
    "--format",
    "csv",
    `SELECT snapshot_id, committed_at, summary['total-records'] AS total
     FROM shop."orders_events$snapshots" ORDER BY committed_at`,
  ]);
  assert.equal(snapshots.code, 0, snapshots.stderr);
  const rows = csvRows(snapshots.stdout).slice(1);
  assert.ok(rows.length >= 3, `expected several snapshots:\n${snapshots.stdout}`);
  const [id, committedAt, total] = rows[0];
  const [latestId, , latestTotal] = rows.at(-1)!;
  assert.ok(Number(total) < Number(latestTotal));
  const older = await readWithPyiceberg({
    ...PYICEBERG,
    table: "shop.orders_events",
    snapshot_id: id,
  });
  assert.equal(older.rows.length, Number(total), "pyiceberg at the first snapshot");
  assert.equal(older.snapshot_id, latestId);

  const count = async (args: string[], sql: string) => {
    const out = await query(["--format", "csv", ...args, sql]);
    assert.equal(out.code, 0, out.stderr);
    return Number(csvRows(out.stdout)[1][0]);
  };
  assert.equal(await count([], "SELECT count(*) FROM orders_events"), Number(latestTotal));
  assert.equal(await count(["--as-of", id], "SELECT count(*) FROM orders_events"), Number(total));
  assert.equal(
    await count(["--as-of", committedAt], "SELECT count(*) FROM shop.orders_events"),
    Number(total),
  );
  assert.equal(
    await count(["--as-of", String(Date.parse(committedAt))], "SELECT count(*) FROM orders_events"),
    Number(total),
  );
  assert.equal(
    await count([], `SELECT count(*) FROM shop."orders_events@${id}"`),
    Number(total),
  );
  // Both snapshots in one query.
  const diff = await query([
    "--format",
    "csv",
    `SELECT (SELECT count(*) FROM shop.orders_events) - (SELECT count(*) FROM shop."orders_events@${id}")`,
  ]);
  assert.equal(Number(csvRows(diff.stdout)[1][0]), Number(latestTotal) - Number(total));

  const missing = await query(['SELECT * FROM shop."orders_events@1234567890123456789"']);
  assert.equal(missing.code, 1);
  assert.match(
    missing.stderr,
    /^lakehouse query: shop\.orders_events has no snapshot 1234567890123456789 .*\$snapshots/,
  );
});

Deno.test("formats: json parses with exact values, csv has a header, ndjson a line per row, table aligns", async () => {
  const sql = `SELECT order_id, status, total_amount, created_at, paid_at, last_kafka_offset
    FROM shop.orders_current ORDER BY order_id LIMIT 5`;
  const json = await query(["--format", "json", sql]);
  assert.equal(json.code, 0, json.stderr);
  const rows = JSON.parse(json.stdout) as Record<string, unknown>[];
  assert.equal(rows.length, 5);
  for (const row of rows) {
    assert.deepEqual(Object.keys(row), [
      "order_id",
      "status",
      "total_amount",
      "created_at",
      "paid_at",
      "last_kafka_offset",
    ]);
    assert.match(row.total_amount as string, /^\d+\.\d{2}$/, "decimals are strings");
    assert.match(row.created_at as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    assert.ok(row.paid_at === null || typeof row.paid_at === "string");
    assert.equal(typeof row.last_kafka_offset, "number");
  }
  // A BIGINT beyond 2^53 keeps every digit in the JSON text.
  const big = await query([
    "--format",
    "json",
    `SELECT snapshot_id FROM shop."orders_events$snapshots" ORDER BY committed_at LIMIT 1`,
  ]);
  const ids = await query([
    "--format",
    "csv",
    `SELECT snapshot_id FROM shop."orders_events$snapshots" ORDER BY committed_at LIMIT 1`,
  ]);
  assert.match(big.stdout, new RegExp(`"snapshot_id":${csvRows(ids.stdout)[1][0]}\\}`));

  const csv = await query(["--format", "csv", sql]);
  const lines = csvRows(csv.stdout);
  assert.deepEqual(lines[0], [
    "order_id",
    "status",
    "total_amount",
    "created_at",
    "paid_at",
    "last_kafka_offset",
  ]);
  assert.equal(lines.length, 6);
  assert.deepEqual(lines[1][0], rows[0].order_id);

  const ndjson = await query(["--format", "ndjson", sql]);
  assert.deepEqual(ndjson.stdout.trimEnd().split("\n").map((l) => JSON.parse(l)), rows);

  const table = await query([
    "--format",
    "table",
    `SELECT status, count(*) AS orders, NULL::VARCHAR AS nothing
     FROM orders_current GROUP BY 1 ORDER BY 1`,
  ]);
  assert.equal(table.code, 0, table.stderr);
  const [header, rule, ...body] = table.stdout.trimEnd().split("\n");
  assert.match(header, /^ status +\| orders \| nothing$/);
  assert.match(rule, /^-+\+-+\+-+$/);
  assert.match(body.at(-1)!, /^\(\d+ rows\)$/);
  const bars = (line: string) => [...line.matchAll(/\|/g)].map((m) => m.index);
  for (const line of body.slice(0, -1)) {
    assert.match(line, /^ [A-Z]+ +\| +\d+ \| NULL$/, "numbers right-aligned, NULL shown");
    assert.deepEqual(bars(line), bars(header), "columns aligned");
  }
});

Deno.test("the sandbox refuses writes, other files and URLs, extensions and settings: exit 1, one line", async () => {
  const target = join(dir, "copied.csv");
  const cases: [string, RegExp][] = [
    [`COPY (SELECT 1) TO '${target}'`, /COPY statements are not allowed: queries are read-only/],
    [
      "INSERT INTO shop.orders_events SELECT * FROM shop.orders_events",
      /INSERT statements are not allowed/,
    ],
    [`ATTACH '${join(dir, "x.db")}' AS x`, /ATTACH statements are not allowed/],
    ["ATTACH ':memory:' AS m", /ATTACH statements are not allowed/],
    ["CREATE TABLE t AS SELECT 1", /CREATE statements are not allowed/],
    ["EXPLAIN ANALYZE CREATE TABLE t AS SELECT 1", /EXPLAIN of CREATE statements is not allowed/],
    [
      "WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x",
      /WITH \.\.\. INSERT statements are not allowed/,
    ],
    ["PRAGMA enable_profiling", /PRAGMA statements are not allowed/],
    [
      "SELECT * FROM read_csv('/etc/passwd')",
      /cannot read "\/etc\/passwd": queries read the tables \(shop\.\*\) and no other files or URLs/,
    ],
    [
      "SELECT * FROM read_parquet('http://127.0.0.1:1/x.parquet')",
      /cannot read "http:\/\/127\.0\.0\.1:1\/x\.parquet": queries read the tables/,
    ],
    [`SELECT * FROM read_text('${WAREHOUSE}/catalog.db')`, /cannot read ".*catalog\.db"/],
    ["INSTALL httpfs", /INSTALL statements are not allowed/],
    ["LOAD httpfs", /LOAD statements are not allowed/],
    ["SET enable_external_access=true", /SET statements are not allowed/],
    ["SELECT 1; DETACH memory", /statement 2: DETACH statements are not allowed/],
  ];
  await warehouse();
  // DuckDB itself would let a query write to the table files it may read.
  const dataFile = [...Deno.readDirSync(join(WAREHOUSE, "shop/orders_rejects/data"))]
    .flatMap((d) =>
      [...Deno.readDirSync(join(WAREHOUSE, "shop/orders_rejects/data", d.name))]
        .map((f) => join(WAREHOUSE, "shop/orders_rejects/data", d.name, f.name))
    )[0];
  const before = await Deno.readFile(dataFile);
  cases.push([
    `COPY (SELECT 1) TO '${dataFile}' (FORMAT parquet, USE_TMP_FILE false)`,
    /COPY statements are not allowed/,
  ]);
  const results = await Promise.all(cases.map(([sql]) => query([sql])));
  for (const [i, [sql, expected]] of cases.entries()) {
    const out = results[i];
    assert.equal(out.code, 1, `${sql}\n${out.stderr}`);
    assert.equal(out.stdout, "", sql);
    assert.match(out.stderr, /^lakehouse query: [^\n]+\n$/, `one line for ${sql}`);
    assert.match(out.stderr, expected, sql);
  }
  await assert.rejects(Deno.stat(target), Deno.errors.NotFound);
  assert.deepEqual(await Deno.readFile(dataFile), before, "the table file is unchanged");
});

Deno.test("a runaway query is stopped by --timeout with a clear error", async () => {
  await warehouse();
  const started = Date.now();
  // DuckDB 1.5 has no range(DOUBLE): 1e12 is cast to BIGINT.
  const out = await query(["--timeout", "2s", "SELECT count(*) FROM range(1e12::BIGINT)"]);
  assert.equal(out.code, 1, out.stderr);
  assert.equal(
    out.stderr,
    "lakehouse query: query stopped: it ran longer than --timeout 2s\n",
  );
  assert.ok(Date.now() - started < 60_000, "it ended long before the query could have");
});

Deno.test("a query larger than --memory-limit spills to the scratch directory and completes", async () => {
  // A local warehouse fetches no files, so nothing else makes the scratch
  // directory before DuckDB spills under it.
  const out = await query([
    ...["--memory-limit", "64MiB", "--format", "csv"],
    "SELECT count(*) AS n FROM (SELECT i FROM range(8000000) t(i) ORDER BY hash(i) DESC)",
  ]);
  assert.equal(out.code, 0, out.stderr);
  assert.equal(out.stdout, "n\n8000000\n");
});

Deno.test("an unknown table is reported with the tables that exist", async () => {
  const out = await query(["SELECT * FROM shop.orders"]);
  assert.equal(out.code, 1);
  assert.equal(
    out.stderr,
    'lakehouse query: table "orders" does not exist: the tables are shop.orders_current, ' +
      "shop.orders_events, shop.orders_rejects\n",
  );
  const typo = await query(['SELECT * FROM shop."orders@123"']);
  assert.equal(typo.code, 1);
  assert.match(
    typo.stderr,
    /table "orders@123" does not exist: the tables are shop\.orders_current/,
  );
});

Deno.test("usage errors exit 2", async () => {
  await warehouse();
  const cases: [string[], RegExp][] = [
    [["query", "SELECT 1", "SELECT 2"], /give the SQL as one argument/],
    [["query", "--warehouse", join(dir, "none"), "SELECT 1"], /--warehouse does not exist/],
    [["query", "--warehouse", "s3://warehouse/x", "SELECT 1"], /needs --catalog PATH/],
    [
      ["query", "--warehouse", WAREHOUSE, "--format", "xml", "SELECT 1"],
      /--format must be one of table, json, csv, ndjson/,
    ],
    [
      ["query", "--warehouse", WAREHOUSE, "--as-of", "yesterday", "SELECT 1"],
      /--as-of must be a snapshot id/,
    ],
    [
      ["query", "--warehouse", WAREHOUSE, "--memory-limit", "80%", "SELECT 1"],
      /--memory-limit must be a size/,
    ],
    [
      ["query", "--warehouse", WAREHOUSE, "--s3-secret-key", "x", "SELECT 1"],
      /not accepted on the command line/,
    ],
    [["query", "--warehouse", WAREHOUSE, "-f", join(dir, "none.sql")], /cannot read -f/],
    [["query", "--warehouse", WAREHOUSE, "-f", join(dir, "none.sql"), "SELECT 1"], /not both/],
    [["query", "--warehouse", WAREHOUSE, "-- just a comment"], /no SQL statement in the argument/],
  ];
  for (const [args, expected] of cases) {
    const out = await runCli(args, { TMPDIR: dir });
    assert.equal(out.code, 2, `${args.join(" ")}\n${out.stderr}`);
    assert.match(out.stderr, expected, args.join(" "));
  }
});

Deno.test("-f FILE and standard input run several statements against one pinning", async () => {
  const file = join(dir, "report.sql");
  await Deno.writeTextFile(
    file,
    `-- two results
SELECT count(*) AS events FROM shop.orders_events;
SELECT count(*) AS rejects FROM shop.orders_rejects; -- trailing comment
`,
  );
  const out = await query(["--format", "csv", "-f", file]);
  assert.equal(out.code, 0, out.stderr);
  const [first, second] = out.stdout.trimEnd().split("\n\n");
  assert.match(first, /^events\n\d+$/);
  assert.match(second, /^rejects\n\d+$/);
  const commented = await query(["--format", "csv", "-- a leading comment\nSELECT 1 AS one"]);
  assert.equal(commented.stdout, "one\n1\n", commented.stderr);

  await warehouse();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      ...["run", "-A", new URL("../main.ts", import.meta.url).pathname, "query"],
      ...["--warehouse", WAREHOUSE, "--format", "ndjson"],
    ],
    env: { TMPDIR: dir, NO_COLOR: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode("SELECT 1 AS one;\nSELECT 2 AS two"));
  await writer.close();
  const piped = await child.output();
  const decoder = new TextDecoder();
  assert.equal(piped.code, 0, decoder.decode(piped.stderr));
  assert.equal(decoder.decode(piped.stdout), '{"one":1}\n{"two":2}\n');
});

Deno.test("the prompt runs each statement ending with ; until .quit; errors do not end it", async () => {
  await warehouse();
  const lines = [
    "SELECT count(*) AS n",
    "FROM shop.orders_events;",
    "COPY (SELECT 1) TO 'x';",
    ".tables",
    "SELECT 'still here' AS s;",
    ".quit",
    "SELECT 'never run';",
  ];
  let stdout = "";
  let stderr = "";
  const command = queryCommandFor({
    stdinIsTerminal: () => true,
    stdoutIsTerminal: () => true,
    lines: async function* () {
      yield* lines;
    },
    readAll: () => Promise.reject(new Error("a terminal is read line by line")),
  });
  const cleanups: (() => void)[] = [];
  const context: CommandContext = {
    args: ["--warehouse", WAREHOUSE],
    env: (name) => name === "TMPDIR" ? dir : Deno.env.get(name),
    readFile: (path) => Deno.readTextFileSync(path),
    signal: new AbortController().signal,
    stdout: (text) => stdout += text,
    stderr: (text) => stderr += text,
    isTerminal: true,
    atExit: (cleanup) => cleanups.push(cleanup),
    exit: (code) => {
      throw new Error(`exit ${code}`);
    },
  };
  try {
    assert.equal(await command.run(context), 0);
  } finally {
    for (const cleanup of cleanups) cleanup();
  }
  assert.match(stdout, /^lakehouse query: tables shop\.orders_current, shop\.orders_events/);
  assert.match(stdout, /lakehouse> +-> +n\n-+\n +\d+\n\(1 row\)\nTime: \d+\.\d{3} s\n/);
  assert.match(stdout, / shop\.orders_events +\| +\d+ \| \d{4}-\d\d-\d\dT[\d:.]+Z \| +\d+\n/);
  assert.match(stdout, / still here\n/);
  assert.doesNotMatch(stdout, /never run/);
  assert.equal(
    stderr,
    "Error: COPY statements are not allowed: queries are read-only (SELECT, WITH, VALUES, " +
      "FROM, TABLE, SHOW, DESCRIBE, SUMMARIZE, PIVOT, UNPIVOT, EXPLAIN)\n",
  );
});

Deno.test("query reads a warehouse on the S3 server", async () => {
  const brokers = await requireKafka();
  await requireS3();
  const access = Deno.env.get("LAKEHOUSE_S3_ACCESS_KEY") ?? "lakehouse";
  const secret = Deno.env.get("LAKEHOUSE_S3_SECRET_KEY") ?? "lakehouse-secret";
  const bucket = Deno.env.get("LAKEHOUSE_S3_BUCKET") ?? "warehouse";
  const id = crypto.randomUUID().slice(0, 8);
  const topic = `it-query-${id}`;
  const prefix = `s3://${bucket}/it-query-${id}`;
  const catalog = join(dir, `s3-${id}.db`);
  const s3Args = ["--warehouse", prefix, "--catalog", catalog, "--s3-endpoint", S3_ENDPOINT];
  const env = {
    TMPDIR: dir,
    LAKEHOUSE_S3_ACCESS_KEY: access,
    LAKEHOUSE_S3_SECRET_KEY: secret,
  };
  const count = 3000;
  try {
    const produced = await runCli([
      "generate",
      ...["--seed", `query-s3-${id}`, "--count", String(count), "--bad-rate", "0"],
      ...["--rate", "0", "--brokers", brokers, "--topic", topic],
    ]);
    assert.equal(produced.code, 0, produced.stderr);
    const ran = await runCli([
      "run",
      ...s3Args,
      ...["--brokers", brokers, "--topic", topic, "--group-id", `g-${topic}`],
      ...["--state-dir", join(dir, `state-${id}`), "--stop-after", String(count)],
      ...["--max-records-per-trigger", "1000", "--memory-limit", "512MB", "--log-level", "warn"],
    ], env);
    assert.equal(ran.code, 0, ran.stderr);

    const out = await runCli([
      "query",
      ...s3Args,
      "--format",
      "json",
      `SELECT (SELECT count(*) FROM shop.orders_events) AS events,
              (SELECT count(*) FROM shop.orders_current) AS current`,
    ], env);
    assert.equal(out.code, 0, out.stderr);
    const s3 = { endpoint: S3_ENDPOINT, access_key: access, secret_key: secret };
    const read = (table: string) =>
      readWithPyiceberg({ catalog_uri: `sqlite:///${catalog}`, warehouse: prefix, s3, table });
    const [events, current] = await Promise.all([
      read("shop.orders_events"),
      read("shop.orders_current"),
    ]);
    assert.equal(events.rows.length, count);
    assert.deepEqual(JSON.parse(out.stdout), [
      { events: events.rows.length, current: current.rows.length },
    ]);
    // The secret never appears, and the downloaded copies went with the process.
    assert.doesNotMatch(out.stderr + out.stdout, new RegExp(secret));
    const left = [...Deno.readDirSync(dir)].filter((e) => /^lakehouse-\d+$/.test(e.name));
    assert.deepEqual(left, []);
  } finally {
    const store = openStore(prefix, {
      endpoint: S3_ENDPOINT,
      accessKeyId: access,
      secretAccessKey: secret,
    });
    const keys: string[] = [];
    for await (const o of store.list(prefix)) keys.push(o.path);
    await store.deleteMany(keys);
    await store.close();
  }
});
