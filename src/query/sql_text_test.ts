import assert from "node:assert/strict";
import {
  endsStatement,
  lex,
  namedTables,
  readOnlyProblem,
  splitStatements,
  timeTravelNames,
} from "./sql_text.ts";

const problem = (sql: string) => {
  const statements = splitStatements(sql);
  assert.equal(statements.length, 1, sql);
  return readOnlyProblem(statements[0].tokens);
};

Deno.test("queries pass the read-only check", () => {
  for (
    const sql of [
      "SELECT 1",
      "select * from shop.orders_current",
      "  ((SELECT 1))",
      "FROM shop.orders_events LIMIT 3",
      "VALUES (1), (2)",
      "TABLE shop.orders_events",
      "SHOW TABLES",
      "DESCRIBE shop.orders_current",
      "SUMMARIZE shop.orders_events",
      "PIVOT shop.orders_current ON status USING count(*)",
      "EXPLAIN SELECT 1",
      "EXPLAIN ANALYZE SELECT count(*) FROM shop.orders_events",
      "EXPLAIN (FORMAT json) SELECT 1",
      "WITH x AS (SELECT 1) SELECT * FROM x",
      "WITH x(a) AS (SELECT 1), y AS MATERIALIZED (SELECT 2) FROM x, y",
      "WITH RECURSIVE t(n) USING KEY (n) AS (SELECT 1 UNION SELECT n + 1 FROM t) SELECT * FROM t",
      "WITH x AS (SELECT 1) (SELECT * FROM x)",
      "-- a comment\nSELECT 1 /* nested /* comment */ still */",
    ]
  ) {
    assert.equal(problem(sql), undefined, sql);
  }
});

Deno.test("everything else is refused, naming the statement", () => {
  const cases: [string, string][] = [
    ["COPY (SELECT 1) TO '/tmp/x'", "COPY statements are not allowed"],
    ["insert into t values (1)", "INSERT statements are not allowed"],
    ["UPDATE t SET a = 1", "UPDATE statements are not allowed"],
    ["DELETE FROM t", "DELETE statements are not allowed"],
    ["CREATE TABLE t AS SELECT 1", "CREATE statements are not allowed"],
    ["ATTACH ':memory:' AS m", "ATTACH statements are not allowed"],
    ["DETACH m", "DETACH statements are not allowed"],
    ["INSTALL httpfs", "INSTALL statements are not allowed"],
    ["LOAD httpfs", "LOAD statements are not allowed"],
    ["SET enable_external_access = true", "SET statements are not allowed"],
    ["RESET lock_configuration", "RESET statements are not allowed"],
    ["PRAGMA enable_profiling", "PRAGMA statements are not allowed"],
    ["CALL checkpoint()", "CALL statements are not allowed"],
    ["EXPORT DATABASE '/tmp/x'", "EXPORT statements are not allowed"],
    ["USE shop", "USE statements are not allowed"],
    ["'SELECT 1'", `"SELECT 1" statements are not allowed`],
    ["(INSERT INTO t VALUES (1))", "INSERT statements are not allowed"],
    ["WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", "WITH ... INSERT statements"],
    ["WITH x(a) AS (SELECT 1) DELETE FROM t", "WITH ... DELETE statements"],
    ["EXPLAIN ANALYZE CREATE TABLE t AS SELECT 1", "EXPLAIN of CREATE statements"],
    ["EXPLAIN (FORMAT json) COPY (SELECT 1) TO 'x'", "EXPLAIN of COPY statements"],
    ["/* SELECT */ COPY x TO 'y'", "COPY statements are not allowed"],
  ];
  for (const [sql, expected] of cases) {
    const found = problem(sql);
    assert.ok(found?.startsWith(expected), `${sql}: ${found}`);
  }
});

Deno.test("statements split at semicolons outside strings, names and comments", () => {
  const sql = `SELECT ';' AS a; SELECT "x;y" FROM t -- ; not here
  ; SELECT E'it\\'s; fine', $$a;b$$ /* ; */;;`;
  assert.deepEqual(splitStatements(sql).map((s) => s.text), [
    "SELECT ';' AS a",
    'SELECT "x;y" FROM t -- ; not here',
    "SELECT E'it\\'s; fine', $$a;b$$ /* ; */",
  ]);
  assert.deepEqual(splitStatements(" -- only a comment\n ; ;"), []);
  // A hidden second statement is found by the check: a string cannot hide a `;`.
  const tricky = splitStatements("SELECT E'\\'';COPY (SELECT 1) TO 'x'");
  assert.equal(tricky.length, 2);
  assert.match(readOnlyProblem(tricky[1].tokens)!, /^COPY/);
});

Deno.test("a prompt's input ends a statement at a ; outside strings and comments", () => {
  assert.equal(endsStatement("SELECT 1;"), true);
  assert.equal(endsStatement("SELECT 1; -- done\n"), true);
  assert.equal(endsStatement("SELECT 1"), false);
  assert.equal(endsStatement("SELECT ';"), false);
  assert.equal(endsStatement("SELECT 1 /* ; */"), false);
  assert.equal(endsStatement("SELECT 1 /* ;"), false);
  assert.equal(endsStatement('SELECT "a;'), false);
  assert.equal(endsStatement(""), false);
});

Deno.test("table names used by the SQL, and time-travel names", () => {
  const { tokens } = lex(
    `SELECT * FROM shop.Orders_Current c JOIN shop."orders_events@123" e USING (order_id)
     WHERE 'orders_rejects' <> '' -- orders_rejects`,
  );
  const tables = ["orders_current", "orders_events", "orders_rejects"];
  assert.deepEqual([...namedTables(tokens, tables)].sort(), ["orders_current", "orders_events"]);
  assert.deepEqual(timeTravelNames(tokens), [
    { name: "orders_events@123", table: "orders_events", at: "123" },
  ]);
  const snapshots = lex('SELECT * FROM shop."orders_rejects$snapshots"').tokens;
  assert.deepEqual([...namedTables(snapshots, tables)], ["orders_rejects"]);
});
