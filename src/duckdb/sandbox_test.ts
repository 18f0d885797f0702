/**
 * What the query sandbox relies on in DuckDB itself: after lockDown, views
 * over read_parquet of the allowed files still read, every other file or URL
 * is refused, settings stay as they are; statement types come from DuckDB's
 * parser; interrupt stops a running query; cells keep exact values.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DuckDb } from "./duckdb.ts";
import { type Cell, interrupt, lockDown, prepareStatements, SqlError } from "./sandbox.ts";

async function rows(duckdb: DuckDb, sql: string): Promise<Cell[][]> {
  const [statement] = await prepareStatements(duckdb, sql);
  try {
    const out: Cell[][] = [];
    for await (const chunk of (await statement.run()).chunks) out.push(...chunk);
    return out;
  } finally {
    statement.close();
  }
}

async function withLockedDb(fn: (duckdb: DuckDb, dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  const duckdb = await DuckDb.open({ memoryLimit: "256MB" });
  try {
    const allowed = join(dir, "allowed.parquet");
    const other = join(dir, "other.parquet");
    await duckdb.run(`COPY (SELECT range AS i FROM range(10)) TO '${allowed}' (FORMAT parquet)`);
    await duckdb.run(`COPY (SELECT 42 AS secret) TO '${other}' (FORMAT parquet)`);
    await duckdb.run(`CREATE VIEW v AS SELECT * FROM read_parquet(['${allowed}'])`);
    await lockDown(duckdb, { allowedPaths: [allowed], tempDirectory: join(dir, "spill") });
    await fn(duckdb, dir);
  } finally {
    duckdb.close();
    await Deno.remove(dir, { recursive: true });
  }
}

async function refused(duckdb: DuckDb, sql: string, pattern: RegExp): Promise<void> {
  await assert.rejects(rows(duckdb, sql), (error) => {
    assert.ok(error instanceof SqlError, String(error));
    assert.match(error.message, pattern, sql);
    return true;
  });
}

Deno.test("after lockDown a view over an allowed Parquet file reads, other files and URLs do not", async () => {
  await withLockedDb(async (duckdb, dir) => {
    assert.deepEqual(await rows(duckdb, "SELECT count(*), sum(i) FROM v"), [[10n, 45n]]);
    assert.deepEqual(
      await rows(
        duckdb,
        "SELECT current_setting('enable_external_access'), current_setting('lock_configuration')",
      ),
      [[false, true]],
    );
    const denied = /^Permission Error: Cannot access (file|directory)/;
    await refused(duckdb, "SELECT * FROM read_csv('/etc/passwd')", denied);
    await refused(duckdb, "SELECT * FROM read_text('/etc/hostname')", denied);
    await refused(duckdb, `SELECT * FROM read_parquet('${join(dir, "other.parquet")}')`, denied);
    await refused(duckdb, `SELECT * FROM glob('${dir}/*')`, denied);
    await refused(duckdb, "SELECT * FROM read_parquet('http://127.0.0.1:1/x.parquet')", denied);
    await refused(duckdb, `SELECT * FROM read_text('${dir}/../../etc/passwd')`, denied);
  });
});

Deno.test("after lockDown no setting changes, and file-touching statements fail in DuckDB too", async () => {
  await withLockedDb(async (duckdb, dir) => {
    // The statement-type check refuses these first; DuckDB refuses them as well.
    for (const sql of ["SET enable_external_access = true", "RESET lock_configuration"]) {
      await assert.rejects(duckdb.run(sql), /the configuration has been locked/);
    }
    await assert.rejects(duckdb.run("SET allowed_paths = ['/etc/passwd']"), /locked/);
    await assert.rejects(duckdb.run(`COPY (SELECT 1) TO '${dir}/out.csv'`), /Permission Error/);
    await assert.rejects(duckdb.run(`ATTACH '${dir}/x.db' AS x`), /Permission Error/);
    await assert.rejects(duckdb.run("INSTALL httpfs"), /Permission Error/);
    await assert.rejects(duckdb.run("LOAD httpfs"), /disabled/);
    await assert.rejects(Deno.stat(join(dir, "out.csv")), Deno.errors.NotFound);
  });
});

Deno.test("the lock-down alone does not stop writes to the allowed files: the statement type must", async () => {
  await withLockedDb(async (duckdb, dir) => {
    const allowed = join(dir, "allowed.parquet");
    // Were DuckDB to refuse this one day, the statement check would be the second line instead.
    await duckdb.run(`COPY (SELECT 99 AS i) TO '${allowed}' (FORMAT parquet, USE_TMP_FILE false)`);
    assert.deepEqual(await rows(duckdb, `SELECT i FROM read_parquet('${allowed}')`), [[99]]);
    const [copy] = await prepareStatements(duckdb, `COPY (SELECT 1) TO '${allowed}'`);
    assert.equal(copy.kind, "COPY");
    copy.close();
  });
});

Deno.test("statement types come from DuckDB's parser", async () => {
  await withLockedDb(async (duckdb) => {
    const kinds = async (sql: string) => {
      const prepared = await prepareStatements(duckdb, sql);
      const out = prepared.map((p) => p.kind);
      for (const p of prepared) p.close();
      return out;
    };
    for (
      const sql of [
        "SELECT 1",
        "FROM v",
        "VALUES (1)",
        "TABLE v",
        "DESCRIBE v",
        "SUMMARIZE v",
        "SHOW TABLES",
        "PRAGMA version",
        "WITH x AS (SELECT 1) SELECT * FROM x",
      ]
    ) {
      assert.deepEqual(await kinds(sql), ["SELECT"], sql);
    }
    assert.deepEqual(await kinds("EXPLAIN SELECT 1; SELECT 2"), ["EXPLAIN", "SELECT"]);
    // Not blocked by the lock-down itself: the caller refuses them by type.
    assert.deepEqual(await kinds("PRAGMA enable_profiling"), ["PRAGMA"]);
    assert.deepEqual(await kinds("ATTACH ':memory:' AS y"), ["ATTACH"]);
    assert.deepEqual(await kinds("CREATE TABLE t (a INTEGER)"), ["CREATE"]);
    assert.deepEqual(await kinds("SET threads = 1"), ["SET"]);
    assert.deepEqual(await kinds("CHECKPOINT"), ["CALL"]);
  });
});

Deno.test("interrupt stops a running query", async () => {
  await withLockedDb(async (duckdb) => {
    const timer = setTimeout(() => interrupt(duckdb), 300);
    try {
      await refused(duckdb, "SELECT count(*) FROM range(1000000000000)", /^INTERRUPT Error/);
    } finally {
      clearTimeout(timer);
    }
    assert.deepEqual(await rows(duckdb, "SELECT 1"), [[1]], "usable after an interrupt");
  });
});

Deno.test("cells: exact decimals and big integers, ISO-8601 UTC timestamps, nested values", async () => {
  await withLockedDb(async (duckdb) => {
    const [row] = await rows(
      duckdb,
      `SELECT 12345678901234567.89::DECIMAL(19,2), 9223372036854775807::BIGINT,
        170141183460469231731687303715884105727::HUGEINT, 7::INTEGER, 'NaN'::DOUBLE, NULL,
        TIMESTAMPTZ '2026-01-02 03:04:05.123456+00', TIMESTAMP '1969-12-31 23:59:59.5',
        TIMESTAMP_MS '2026-01-01 00:00:00.25', TIMESTAMP_S '2026-01-01 00:00:01',
        TIMESTAMPTZ 'infinity', DATE '2026-01-02',
        [1, 2], {'a': 1.50::DECIMAL(4,2)}, MAP {'k': 'v'}, true`,
    );
    assert.deepEqual(row, [
      "12345678901234567.89",
      9223372036854775807n,
      170141183460469231731687303715884105727n,
      7,
      NaN,
      null,
      "2026-01-02T03:04:05.123456Z",
      "1969-12-31T23:59:59.500Z",
      "2026-01-01T00:00:00.250Z",
      "2026-01-01T00:00:01Z",
      "infinity",
      "2026-01-02",
      [1, 2],
      { a: "1.50" },
      { k: "v" },
      true,
    ]);
  });
});
