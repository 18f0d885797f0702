/**
 * Test fixtures shared by the Iceberg unit tests, the commit harness and
 * the integration tests (tests/_iceberg.ts re-exports them): a schema with
 * every type the lakehouse tables use (decimals, timestamptz, a nested list
 * of structs, nullable columns, non-ASCII text), two partition specs, and
 * deterministic rows as SQL, and the canonical row form in which our scan
 * and pyiceberg's are compared.
 */
import { type DuckDb, sqlIdent } from "../duckdb/duckdb.ts";
import type { IcebergType, PartitionSpec, Schema } from "./spec/types.ts";

export const TEST_SCHEMA: Schema = {
  type: "struct",
  "schema-id": 0,
  fields: [
    { id: 1, name: "id", required: true, type: "long" },
    { id: 2, name: "order_id", required: true, type: "string" },
    { id: 3, name: "ts", required: true, type: "timestamptz" },
    { id: 4, name: "amount", required: false, type: "decimal(12, 2)" },
    { id: 5, name: "note", required: false, type: "string" },
    { id: 6, name: "qty", required: false, type: "int" },
    {
      id: 7,
      name: "items",
      required: false,
      type: {
        type: "list",
        "element-id": 8,
        "element-required": false,
        element: {
          type: "struct",
          fields: [
            { id: 9, name: "sku", required: false, type: "string" },
            { id: 10, name: "quantity", required: false, type: "int" },
            { id: 11, name: "unit_price", required: false, type: "decimal(12, 2)" },
          ],
        },
      },
    },
  ],
};

export const HOUR_SPEC: PartitionSpec = {
  "spec-id": 0,
  fields: [{ "source-id": 3, "field-id": 1000, name: "ts_hour", transform: "hour" }],
};

export const BUCKET_SPEC: PartitionSpec = {
  "spec-id": 0,
  fields: [{ "source-id": 2, "field-id": 1000, name: "order_id_bucket", transform: "bucket[16]" }],
};

/** SQL producing `n` deterministic rows starting at id `from`, spread over hours and order ids. */
export function testRowsSql(from: number, n: number): string {
  return `(SELECT
      i::BIGINT AS id,
      'ord-' || (i % 97)::VARCHAR AS order_id,
      TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_microseconds((i * 137000000)::BIGINT) AS ts,
      CASE WHEN i % 11 = 0 THEN NULL ELSE ((i * 7919) % 100000 / 100.0)::DECIMAL(12, 2) END AS amount,
      CASE WHEN i % 5 = 0 THEN NULL WHEN i % 5 = 1 THEN 'Zürich – 東京 ' || i::VARCHAR ELSE 'note ' || i::VARCHAR END AS note,
      CASE WHEN i % 7 = 0 THEN NULL ELSE (i % 13)::INTEGER END AS qty,
      CASE WHEN i % 9 = 0 THEN NULL ELSE [
        {'sku': 'SKU-' || (i % 50)::VARCHAR, 'quantity': (i % 3 + 1)::INTEGER, 'unit_price': ((i % 400) / 4.0)::DECIMAL(12, 2)},
        {'sku': NULL, 'quantity': 1::INTEGER, 'unit_price': 0.99::DECIMAL(12, 2)}
      ] END AS items
    FROM range(${from}, ${from + n}) t(i))`;
}

/** A DuckDB SQL expression rendering a column like tests/_read_pyiceberg.py's canonical form. */
function canonicalExpr(expr: string, type: IcebergType): string {
  if (typeof type === "string") {
    if (type.startsWith("decimal")) return `CAST(${expr} AS VARCHAR)`;
    if (type === "timestamptz" || type === "timestamp") return `epoch_us(${expr})`;
    return expr;
  }
  if (type.type === "list") {
    return `list_transform(${expr}, x -> ${canonicalExpr("x", type.element)})`;
  }
  if (type.type === "struct") {
    return `{${
      type.fields.map((f) =>
        `${sqlIdent(f.name)}: ${canonicalExpr(`${expr}.${sqlIdent(f.name)}`, f.type)}`
      ).join(", ")
    }}`;
  }
  return expr;
}

/** Rows of a DuckDB relation in the canonical form, sorted like the Python side. */
export async function canonicalRows(
  duckdb: DuckDb,
  relation: string,
  schema: Schema,
): Promise<unknown[]> {
  const struct = `{${
    schema.fields.map((f) => `${sqlIdent(f.name)}: ${canonicalExpr(sqlIdent(f.name), f.type)}`)
      .join(", ")
  }}`;
  const rows = await duckdb.query<{ j: string }>(
    `SELECT to_json(${struct})::VARCHAR AS j FROM ${relation}`,
  );
  return rows.map((r) => normalizeJson(JSON.parse(r.j))).sort(compareJson);
}

export function normalizeJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalizeJson);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value).sort().map((
        k,
      ) => [k, normalizeJson((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

export function compareJson(a: unknown, b: unknown): number {
  const x = stableStringify(a);
  const y = stableStringify(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

function stableStringify(v: unknown): string {
  return JSON.stringify(normalizeJson(v));
}
