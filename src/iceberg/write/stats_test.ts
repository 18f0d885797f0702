import assert from "node:assert/strict";
import { join } from "node:path";
import { DuckDb, type Row, sqlString } from "../../duckdb/duckdb.ts";
import { encodeBound } from "../spec/bounds.ts";
import type { Schema } from "../spec/types.ts";
import { fieldIdsClause } from "./duckdb_types.ts";
import { computeFileStats, temporalNumber } from "./stats.ts";

// Every primitive type the writer bounds, values at the edges of how the
// writer prints its statistics: strings past its 256-byte cut (ASCII and
// not), negative decimals with trailing zeros, instants before 1970 with
// microseconds, dates, booleans, and a file where a column is only NULL.
const SCHEMA: Schema = {
  type: "struct",
  "schema-id": 0,
  fields: [
    { id: 1, name: "p", required: true, type: "int" },
    { id: 2, name: "id", required: true, type: "long" },
    { id: 3, name: "s", required: false, type: "string" },
    { id: 4, name: "amount", required: false, type: "decimal(12, 2)" },
    { id: 5, name: "ts", required: false, type: "timestamp" },
    { id: 6, name: "tz", required: false, type: "timestamptz" },
    { id: 7, name: "d", required: false, type: "date" },
    { id: 8, name: "ok", required: false, type: "boolean" },
    { id: 9, name: 'Odd "name"', required: false, type: "string" },
    {
      id: 10,
      name: "items",
      required: false,
      type: {
        type: "list",
        "element-id": 11,
        "element-required": false,
        element: {
          type: "struct",
          fields: [{ id: 12, name: "sku", required: false, type: "string" }],
        },
      },
    },
  ],
};

const rows = (longText: string) =>
  `(SELECT i % 3 AS p, i::BIGINT AS id,
    CASE WHEN i % 3 = 2 THEN NULL
      WHEN i % 7 = 0 THEN ${longText}
      WHEN i % 7 = 1 THEN repeat('z', 300) || i::VARCHAR
      WHEN i % 7 = 2 THEN '東京 🧾 ' || i::VARCHAR
      ELSE 'key-' || (i * 7919 % 1000)::VARCHAR END AS s,
    CASE WHEN i % 5 = 0 THEN NULL ELSE ((i * 37 % 2001) - 1000)::DECIMAL(12, 2) / 4 END AS amount,
    TIMESTAMP '1969-12-31 23:59:59.999999' + to_microseconds(i * 1234567891) AS ts,
    TIMESTAMPTZ '1960-01-01 00:00:00.000001+00' + to_microseconds(i * 98765432101) AS tz,
    DATE '1969-06-01' + (i * 13)::INTEGER AS d,
    i % 4 = 0 AS ok,
    CASE WHEN i % 2 = 0 THEN 'x' || i::VARCHAR END AS "Odd ""name""",
    [{'sku': 'SKU-' || i::VARCHAR}] AS items
  FROM range(0, 3000) t(i))`;

async function statistics(
  longText: string,
  check: (
    duckdb: DuckDb,
    paths: string[],
    copied: Row[],
  ) => Promise<void>,
): Promise<void> {
  const duckdb = await DuckDb.open();
  const dir = await Deno.makeTempDir();
  try {
    const copied = await duckdb.query(
      `COPY ${rows(longText)} TO ${sqlString(dir)} (FORMAT parquet, PARTITION_BY (p),
         WRITE_PARTITION_COLUMNS true, FIELD_IDS ${fieldIdsClause(SCHEMA)}, RETURN_STATS)`,
    );
    const paths = copied.map((r) => r.filename as string).sort();
    assert.equal(paths.length, 3);
    assert.ok(paths.every((p) => p.startsWith(join(dir, "p="))), "the writer names the files");
    const fromWriter = await computeFileStats(duckdb, SCHEMA, paths, copied);
    const readBack = await computeFileStats(duckdb, SCHEMA, paths);
    for (const path of paths) {
      assert.deepEqual(fromWriter.get(path), readBack.get(path), path);
    }
    // The file whose `s` is only NULL has no bounds for it, a null count for all rows.
    const nulls = readBack.get(paths.find((p) => p.includes("p=2"))!)!;
    assert.equal(nulls.nullValueCounts.get(3), nulls.recordCount);
    assert.equal(nulls.lowerBounds.has(3), false);
    await check(duckdb, paths, copied);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The upper bound of `id` in the first file when the writer's max of it is changed. */
async function tamperedMax(duckdb: DuckDb, paths: string[], copied: Row[]): Promise<Uint8Array> {
  type Stats = { key: string; value: { key: string; value: unknown }[] }[];
  const tampered: Row[] = copied.map((r) => ({
    ...r,
    column_statistics: (r.column_statistics as Stats).map((c) =>
      c.key === '"id"'
        ? {
          ...c,
          value: c.value.map((kv) => kv.key === "max" ? { ...kv, value: "123456789" } : kv),
        }
        : c
    ),
  }));
  const used = await computeFileStats(duckdb, SCHEMA, paths, tampered);
  return used.get(paths[0])!.upperBounds.get(2)!;
}

Deno.test("statistics from the writer's RETURN_STATS equal the statistics read back from the files", async () => {
  // Non-ASCII strings up to 240 bytes, ASCII ones past 256: the writer keeps bounds of both.
  await statistics("repeat('ü', 100 + i % 20)", async (duckdb, paths, copied) => {
    assert.deepEqual(
      await tamperedMax(duckdb, paths, copied),
      encodeBound("long", 123456789n),
      "the writer's statistics are used",
    );
  });
});

Deno.test("files with strings the writer keeps no bounds of are read back", async () => {
  // A non-ASCII string over 256 bytes: DuckDB drops the column's min and max.
  await statistics("repeat('ü', 200 + i)", async (duckdb, paths, copied) => {
    const stats = copied.find((r) => r.filename === paths[0])!.column_statistics as {
      key: string;
      value: { key: string }[];
    }[];
    const s = stats.find((c) => c.key === '"s"')!.value.map((kv) => kv.key);
    assert.equal(s.includes("min"), false, "no bounds from the writer");
    assert.notDeepEqual(
      await tamperedMax(duckdb, paths, copied),
      encodeBound("long", 123456789n),
      "read back instead",
    );
  });
});

Deno.test("temporalNumber reads DuckDB's text of dates and timestamps as DuckDB's casts do", async () => {
  const duckdb = await DuckDb.open();
  try {
    // DuckDB's own text of values across the calendar (leap days, year 1,
    // 9999, before 1970, every fraction length), in zones with odd offsets.
    const texts: { type: string; text: string }[] = [];
    for (const zone of ["UTC", "Asia/Kathmandu", "America/St_Johns", "Pacific/Chatham"]) {
      await duckdb.run(`SET TimeZone = ${sqlString(zone)}`);
      const rows = await duckdb.query<{ d: string; ts: string; tz: string }>(
        `SELECT v::DATE::VARCHAR AS d, v::VARCHAR AS ts, v::TIMESTAMPTZ::VARCHAR AS tz FROM (
           SELECT TIMESTAMP '0001-01-01 00:00:00' + to_microseconds(
             (hash(i, ${sqlString(zone)}) % 315537897599999999)::BIGINT) AS v FROM range(3000) t(i)
           UNION ALL SELECT * FROM (VALUES (TIMESTAMP '2024-02-29 23:59:59.999999'),
             (TIMESTAMP '1970-01-01 00:00:00'), (TIMESTAMP '1969-12-31 23:59:59.5'),
             (TIMESTAMP '9999-12-31 23:59:59.999999'), (TIMESTAMP '1900-03-01 00:00:00.01'))
         )`,
      );
      for (const r of rows) {
        texts.push({ type: "date", text: r.d }, { type: "timestamp", text: r.ts }, {
          type: "timestamptz",
          text: r.tz,
        });
      }
      const cast = (type: string, text: string) =>
        type === "date"
          ? `(CAST(${sqlString(text)} AS DATE) - DATE '1970-01-01')::BIGINT`
          : `epoch_us(CAST(${sqlString(text)} AS ${
            type === "timestamp" ? "TIMESTAMP" : "TIMESTAMPTZ"
          }))`;
      const chunk = texts.splice(0);
      const [expected] = await duckdb.query(
        `SELECT ${chunk.map((t, i) => `${cast(t.type, t.text)} AS v${i}`).join(", ")}`,
      );
      for (const [i, t] of chunk.entries()) {
        assert.equal(
          temporalNumber(t.type, t.text),
          expected[`v${i}`],
          `${t.type} ${t.text} (${zone})`,
        );
      }
    }
    // Anything else is left to DuckDB.
    for (
      const [type, text] of [
        ["date", "2023-02-29"],
        ["date", "12345-01-01"],
        ["date", "0044-03-15 (BC)"],
        ["date", "infinity"],
        ["timestamp", "2026-12-01 24:00:00"],
        ["timestamp", "2026-12-01 10:00:00.1234567"],
        ["timestamp", "2026-12-01 10:00:00+00"],
        ["timestamptz", "2026-12-01 10:00:00"],
        ["timestamptz", "2026-12-01T10:00:00Z"],
        ["timestamptz", "1890-01-01 10:00:00-03:30:52"],
      ]
    ) {
      assert.equal(temporalNumber(type, text), undefined, `${type} ${text}`);
    }
  } finally {
    duckdb.close();
  }
});
