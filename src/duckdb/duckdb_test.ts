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
