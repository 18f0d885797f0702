/** Iceberg types as DuckDB SQL: column types and the COPY ... FIELD_IDS clause. */
import { sqlIdent } from "../../duckdb/duckdb.ts";
import type { IcebergType, Schema } from "../spec/types.ts";

const PRIMITIVES: Record<string, string> = {
  boolean: "BOOLEAN",
  int: "INTEGER",
  long: "BIGINT",
  float: "FLOAT",
  double: "DOUBLE",
  date: "DATE",
  time: "TIME",
  timestamp: "TIMESTAMP",
  // Microsecond precision with UTC adjustment, which is what Iceberg's timestamptz is.
  timestamptz: "TIMESTAMPTZ",
  string: "VARCHAR",
  uuid: "UUID",
  binary: "BLOB",
};

export function duckdbType(type: IcebergType): string {
  if (typeof type === "string") {
    const decimal = /^decimal\((\d+),\s*(\d+)\)$/.exec(type);
    if (decimal) return `DECIMAL(${decimal[1]}, ${decimal[2]})`;
    const primitive = PRIMITIVES[type];
    if (!primitive) throw new RangeError(`no DuckDB type for Iceberg type ${type}`);
    return primitive;
  }
  switch (type.type) {
    case "list":
      return `${duckdbType(type.element)}[]`;
    case "map":
      return `MAP(${duckdbType(type.key)}, ${duckdbType(type.value)})`;
    case "struct":
      return `STRUCT(${
        type.fields.map((f) => `${sqlIdent(f.name)} ${duckdbType(f.type)}`).join(", ")
      })`;
  }
}

/** `{a: 1, items: {__duckdb_field_id: 2, element: {__duckdb_field_id: 3, sku: 4}}}` for COPY. */
export function fieldIdsClause(schema: Schema): string {
  return `{${
    schema.fields.map((f) => `${sqlIdent(f.name)}: ${nodeIds(f.id, f.type)}`).join(", ")
  }}`;
}

function nodeIds(id: number, type: IcebergType): string {
  if (typeof type === "string") return String(id);
  switch (type.type) {
    case "list":
      return `{__duckdb_field_id: ${id}, element: ${nodeIds(type["element-id"], type.element)}}`;
    case "map":
      return `{__duckdb_field_id: ${id}, key: ${nodeIds(type["key-id"], type.key)}, value: ${
        nodeIds(type["value-id"], type.value)
      }}`;
    case "struct":
      return `{__duckdb_field_id: ${id}, ${
        type.fields.map((f) => `${sqlIdent(f.name)}: ${nodeIds(f.id, f.type)}`).join(", ")
      }}`;
  }
}

/**
 * Parquet column paths as DuckDB's parquet_metadata() prints them
 * (`items, list, element, sku`) -> Iceberg field id of the leaf.
 */
export function leafPathIds(schema: Schema): Map<string, number> {
  const out = new Map<string, number>();
  const walk = (path: string, id: number, type: IcebergType) => {
    if (typeof type === "string") {
      out.set(path, id);
      return;
    }
    if (type.type === "list") walk(`${path}, list, element`, type["element-id"], type.element);
    else if (type.type === "map") {
      walk(`${path}, key_value, key`, type["key-id"], type.key);
      walk(`${path}, key_value, value`, type["value-id"], type.value);
    } else for (const f of type.fields) walk(`${path}, ${f.name}`, f.id, f.type);
  };
  for (const f of schema.fields) walk(f.name, f.id, f.type);
  return out;
}
