import assert from "node:assert/strict";
import { DuckDb } from "./duckdb.ts";

Deno.test("a second connection shares the database's tables, not its temporary ones, and closes alone", async () => {
  const first = await DuckDb.open({ threads: 1 });
  const second = await first.connect();
  try {
    assert.equal(second.database, first.database);
    const main = await first.mainSchema();
    await first.run(`CREATE TABLE ${main}.shared AS SELECT range AS x FROM range(1000)`);
    await first.run("CREATE TEMP TABLE shared AS SELECT 1 AS x");
    // The first connection's temporary table hides the shared one there only
    // (a bare main.shared would name it too: the temporary catalog has a main).
    const [bare] = await first.query<{ n: bigint }>(
      "SELECT count(*)::BIGINT AS n FROM main.shared",
    );
    assert.equal(bare.n, 1n);
    const [own] = await first.query<{ n: bigint }>("SELECT count(*)::BIGINT AS n FROM shared");
    const [seen] = await second.query<{ n: bigint }>("SELECT count(*)::BIGINT AS n FROM shared");
    assert.equal(own.n, 1n);
    assert.equal(seen.n, 1000n);
    // Statements of the two run side by side, each on its own connection.
    const [a, b] = await Promise.all([
      first.query<{ s: bigint }>(`SELECT sum(x)::BIGINT AS s FROM ${main}.shared`),
      second.query<{ s: bigint }>("SELECT sum(x)::BIGINT AS s FROM shared"),
    ]);
    assert.deepEqual([a[0].s, b[0].s], [499500n, 499500n]);
  } finally {
    second.close();
  }
  // Closing the second connection left the database open.
  const [row] = await first.query<{ n: bigint }>(
    `SELECT count(*)::BIGINT AS n FROM ${await first.mainSchema()}.shared`,
  );
  assert.equal(row.n, 1000n);
  first.close();
});

Deno.test("int64Columns gives BIGINT and UBIGINT columns as little-endian words over many chunks, and refuses NULL", async () => {
  const duckdb = await DuckDb.open();
  try {
    // 5,000 rows: three chunks, with values past 2^32 and 2^63 and negative ones.
    const { rows, columns } = await duckdb.int64Columns(
      `SELECT (i * 4294967311)::BIGINT - 7 AS a, hash(i) AS h FROM range(5000) t(i) ORDER BY i`,
    );
    assert.equal(rows, 5000);
    const expected = await duckdb.query<{ a: bigint; h: bigint }>(
      `SELECT (i * 4294967311)::BIGINT - 7 AS a, hash(i) AS h FROM range(5000) t(i) ORDER BY i`,
    );
    const a = new BigInt64Array(columns[0].buffer, 0, rows);
    const h = new BigUint64Array(columns[1].buffer, 0, rows);
    for (let i = 0; i < rows; i++) {
      assert.equal(a[i], expected[i].a, `row ${i}`);
      assert.equal(h[i], expected[i].h, `row ${i}`);
    }
    assert.ok(h.some((v) => v >= 2n ** 63n), "some hashes use the top bit");
    const empty = await duckdb.int64Columns("SELECT 1::BIGINT AS a WHERE false");
    assert.equal(empty.rows, 0);
    await assert.rejects(
      duckdb.int64Columns(
        "SELECT CASE WHEN i = 3000 THEN NULL ELSE i END AS a FROM range(4000) t(i)",
      ),
      /got NULL at row 3000$/,
    );
    await assert.rejects(duckdb.int64Columns("SELECT 'x' AS a"), /expected BIGINT or UBIGINT/);
  } finally {
    duckdb.close();
  }
});
