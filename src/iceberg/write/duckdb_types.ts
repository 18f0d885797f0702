/**
 * Iceberg types as DuckDB SQL (column types and the COPY ... FIELD_IDS
 * clause), and DuckDB types as Iceberg types (a SQL file's output columns).
 */
import { sqlIdent } from "../../duckdb/duckdb.ts";
import type { IcebergType, NestedField, PrimitiveType, Schema } from "../spec/types.ts";

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

/** A DuckDB type with no Iceberg equivalent, named as DuckDB prints it. */
export class UnsupportedTypeError extends Error {
  constructor(readonly duckdbType: string) {
    super(`DuckDB type ${duckdbType} has no Iceberg type (CAST it to one that does)`);
    this.name = "UnsupportedTypeError";
  }
}

const FROM_DUCKDB: Record<string, PrimitiveType> = {
  BOOLEAN: "boolean",
  TINYINT: "int",
  SMALLINT: "int",
  INTEGER: "int",
  UTINYINT: "int",
  USMALLINT: "int",
  BIGINT: "long",
  UINTEGER: "long",
  FLOAT: "float",
  DOUBLE: "double",
  DATE: "date",
  TIME: "time",
  TIMESTAMP: "timestamp",
  "TIMESTAMP WITH TIME ZONE": "timestamptz",
  TIMESTAMPTZ: "timestamptz",
  VARCHAR: "string",
  JSON: "string",
  UUID: "uuid",
  BLOB: "binary",
};

/**
 * The Iceberg type of a DuckDB type as DESCRIBE prints it (`INTEGER`,
 * `DECIMAL(12,2)`, `STRUCT(sku VARCHAR, "a b" INTEGER)[]`, `MAP(VARCHAR,
 * BIGINT)`), with every field, element, key and value id 0: ids are
 * assigned by the table's schema (src/iceberg/spec/evolve.ts). Nested
 * fields, elements and values are optional.
 */
export function icebergTypeOfDuckdb(text: string): IcebergType {
  const parser = new TypeParser(text);
  const type = parser.type();
  parser.end();
  return type;
}

class TypeParser {
  #at = 0;
  constructor(readonly text: string) {}

  type(): IcebergType {
    let type = this.#base();
    for (;;) {
      this.#space();
      if (this.text.startsWith("[]", this.#at)) {
        this.#at += 2;
        type = { type: "list", "element-id": 0, element: type, "element-required": false };
      } else if (this.text[this.#at] === "[") {
        throw new UnsupportedTypeError(this.text); // fixed-size ARRAY
      } else return type;
    }
  }

  end(): void {
    this.#space();
    if (this.#at !== this.text.length) throw new UnsupportedTypeError(this.text);
  }

  #base(): IcebergType {
    this.#space();
    const word = /^[A-Za-z_][A-Za-z0-9_]*(?: WITH TIME ZONE)?/.exec(this.text.slice(this.#at));
    if (!word) throw new UnsupportedTypeError(this.text);
    const name = word[0].toUpperCase();
    this.#at += word[0].length;
    if (name === "DECIMAL" || name === "NUMERIC") {
      const args = this.#args();
      const [p, s] = args.length === 0 ? [18, 3] : [Number(args[0]), Number(args[1] ?? 0)];
      if (!(p >= 1 && p <= 38 && s >= 0 && s <= p)) throw new UnsupportedTypeError(this.text);
      return `decimal(${p}, ${s})`;
    }
    if (name === "STRUCT") {
      this.#expect("(");
      const fields: NestedField[] = [];
      for (;;) {
        this.#space();
        const fieldName = this.#name();
        const type = this.type();
        fields.push({ id: 0, name: fieldName, required: false, type });
        this.#space();
        if (this.text[this.#at] === ",") this.#at++;
        else break;
      }
      this.#expect(")");
      return { type: "struct", fields };
    }
    if (name === "MAP") {
      this.#expect("(");
      const key = this.type();
      this.#expect(",");
      const value = this.type();
      this.#expect(")");
      return {
        type: "map",
        "key-id": 0,
        key,
        "value-id": 0,
        value,
        "value-required": false,
      };
    }
    const primitive = FROM_DUCKDB[name];
    if (primitive === undefined) throw new UnsupportedTypeError(this.text);
    return primitive;
  }

  /** A field name: an identifier or a double-quoted name ("" for a quote). */
  #name(): string {
    if (this.text[this.#at] === '"') {
      let name = "";
      for (let i = this.#at + 1; i < this.text.length; i++) {
        if (this.text[i] !== '"') name += this.text[i];
        else if (this.text[i + 1] === '"') name += this.text[i++];
        else {
          this.#at = i + 1;
          return name;
        }
      }
      throw new UnsupportedTypeError(this.text);
    }
    const word = /^[^\s,()"]+/.exec(this.text.slice(this.#at));
    if (!word) throw new UnsupportedTypeError(this.text);
    this.#at += word[0].length;
    return word[0];
  }

  #args(): string[] {
    this.#space();
    if (this.text[this.#at] !== "(") return [];
    const close = this.text.indexOf(")", this.#at);
    if (close === -1) throw new UnsupportedTypeError(this.text);
    const args = this.text.slice(this.#at + 1, close).split(",").map((a) => a.trim());
    this.#at = close + 1;
    return args;
  }

  #expect(c: string): void {
    this.#space();
    if (this.text[this.#at] !== c) throw new UnsupportedTypeError(this.text);
    this.#at++;
  }

  #space(): void {
    while (this.text[this.#at] === " ") this.#at++;
  }
}
