import assert from "node:assert/strict";
import { codeOnly, loadSqlFile, oneStatement } from "./sql_files.ts";

Deno.test("oneStatement keeps -- and ; inside strings, names and dollar quotes", () => {
  const text = `-- a comment; not a statement
SELECT 'a -- b; c' AS "x;--y", $$ ; -- $$ AS z, 'it''s' AS q /* ; */
FROM batch;
-- trailing comment
`;
  const body = oneStatement(text, "events.sql");
  assert.ok(body.includes("'a -- b; c'"));
  assert.ok(body.includes(`"x;--y"`));
  assert.ok(body.includes("FROM batch\n"));
  assert.ok(body.startsWith("-- a comment; not a statement\n"), "comments stay, so lines match");
  assert.ok(!/batch;/.test(body));
});

Deno.test("oneStatement refuses a second statement, naming the line where the first ends", () => {
  assert.throws(
    () => oneStatement("SELECT 1\nFROM batch;\nSELECT 2;\n", "/x/events.sql"),
    /^LakehouseError: SQL file \/x\/events\.sql:2: a statement ends here and another follows; a SQL file holds exactly one statement$/,
  );
  assert.throws(() => oneStatement("SELECT 1;; ", "f.sql"), /f\.sql:1: a statement ends here/);
});

Deno.test("oneStatement refuses an empty file and unterminated strings and comments", () => {
  assert.throws(
    () => oneStatement("-- nothing\n/* here */\n", "f.sql"),
    /SQL file f\.sql holds no statement/,
  );
  assert.throws(
    () => oneStatement("SELECT 'abc\nFROM t", "f.sql"),
    /f\.sql:1: unterminated string/,
  );
  assert.throws(() => oneStatement("SELECT 1\n/* open", "f.sql"), /f\.sql:2: unterminated comment/);
  assert.throws(() => oneStatement('SELECT "a', "f.sql"), /unterminated quoted name/);
});

Deno.test("codeOnly blanks comments and string literals, keeping names and line breaks", () => {
  const text =
    "-- payload_json in a comment\nSELECT 'payload_json' AS a, payload_json /* x */ FROM t\n";
  const code = codeOnly(text, "f.sql");
  assert.equal(code.length, text.length);
  assert.equal(code.split("\n").length, text.split("\n").length);
  assert.equal(code.match(/payload_json/g)?.length, 1);
  assert.ok(code.includes("AS a, payload_json"));
});

Deno.test("the shipped events.sql reads no payload_json (the typed read is the cheaper one)", async () => {
  const events = await loadSqlFile("events.sql");
  assert.ok(events.text.includes("payload_json"), "the header comment documents payload_json");
  assert.ok(!events.code.includes("payload_json"));
});
