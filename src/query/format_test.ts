import assert from "node:assert/strict";
import type { Cell, QueryStream, ResultColumn } from "../duckdb/sandbox.ts";
import { type Format, writeResult } from "./format.ts";

const COLUMNS: ResultColumn[] = [
  { name: "status", type: "VARCHAR", numeric: false },
  { name: "orders", type: "BIGINT", numeric: true },
  { name: "amount", type: "DECIMAL(12,2)", numeric: true },
  { name: "at", type: "TIMESTAMP WITH TIME ZONE", numeric: false },
];

const ROWS: Cell[][] = [
  ["PAID", 9007199254740993n, "1234.50", "2026-01-01T00:00:00.123456Z"],
  [null, 7n, null, null],
  ['say "hi", ok', 0n, "-0.01", "2026-01-02T00:00:00Z"],
];

function stream(rows: Cell[][], columns = COLUMNS): QueryStream {
  return {
    columns,
    chunks: (async function* () {
      yield rows.slice(0, 2);
      yield rows.slice(2);
    })(),
  };
}

async function render(format: Format, rows = ROWS, columns = COLUMNS, max?: number) {
  let out = "";
  const count = await writeResult(stream(rows, columns), format, (t) => out += t, {
    tableRowsMax: max,
  });
  return { out, count };
}

Deno.test("table: headers, numbers right-aligned, NULL shown, row count", async () => {
  const { out, count } = await render("table");
  assert.equal(count, 3);
  assert.equal(
    out,
    [
      " status       | orders           | amount  | at",
      "--------------+------------------+---------+-----------------------------",
      " PAID         | 9007199254740993 | 1234.50 | 2026-01-01T00:00:00.123456Z",
      " NULL         |                7 |    NULL | NULL",
      ' say "hi", ok |                0 |   -0.01 | 2026-01-02T00:00:00Z',
      "(3 rows)",
      "",
    ].join("\n"),
  );
});

Deno.test("table: multi-line cells, escaped controls, a cap on shown rows", async () => {
  const columns: ResultColumn[] = [{ name: "t", type: "VARCHAR", numeric: false }];
  const { out } = await render("table", [["a\nbb"], ["x\u0007y"], ["z"]], columns, 2);
  assert.equal(
    out,
    " t\n----------\n a\n bb\n x\\u0007y\n(3 rows; the first 2 shown: --format csv, json or ndjson writes them all)\n",
  );
});

Deno.test("csv: header, quoting, NULL as an empty field, the empty string quoted", async () => {
  const { out } = await render("csv", [...ROWS, ["", 1n, "1.00", null]]);
  assert.equal(
    out,
    "status,orders,amount,at\n" +
      "PAID,9007199254740993,1234.50,2026-01-01T00:00:00.123456Z\n" +
      ",7,,\n" +
      '"say ""hi"", ok",0,-0.01,2026-01-02T00:00:00Z\n' +
      '"",1,1.00,\n',
  );
});

Deno.test("json: an array of objects; decimals as strings, big integers exact", async () => {
  const { out } = await render("json");
  const parsed = JSON.parse(out);
  assert.deepEqual(parsed[1], { status: null, orders: 7, amount: null, at: null });
  assert.equal(parsed[0].amount, "1234.50");
  assert.equal(parsed[0].at, "2026-01-01T00:00:00.123456Z");
  // Every digit is in the text (JSON.parse itself would round it to a double).
  const exact = JSON.parse(
    out,
    (_key, value, context?: { source?: string }) =>
      typeof value === "number" && context?.source !== undefined ? BigInt(context.source) : value,
  );
  assert.equal(exact[0].orders, 9007199254740993n);
  assert.equal((await render("json", [])).out, "[]\n");
});

Deno.test("ndjson: one object per line; repeated names and non-finite numbers", async () => {
  const columns: ResultColumn[] = [
    { name: "a", type: "DOUBLE", numeric: true },
    { name: "a", type: "DOUBLE", numeric: true },
    { name: "l", type: "INTEGER[]", numeric: false },
  ];
  const { out } = await render("ndjson", [[NaN, -Infinity, [1, null]], [1.5, 2, []]], columns);
  assert.deepEqual(out.trimEnd().split("\n").map((l) => JSON.parse(l)), [
    { a: "NaN", a_2: "-Infinity", l: [1, null] },
    { a: 1.5, a_2: 2, l: [] },
  ]);
});
