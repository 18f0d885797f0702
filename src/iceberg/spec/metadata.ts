/**
 * Table metadata files: reading them strictly (a metadata file is the root of
 * every read, so a wrong field must fail loudly with its name), writing them
 * in Java's layout, creating the first metadata of a table, the checks a
 * schema, partition spec or sort order must pass before a table takes it,
 * and the lookups readers and committers need (current snapshot, time
 * travel, ancestry).
 */
import { LakehouseError } from "../../core/errors.ts";
import { describeJsonSyntaxError } from "../../core/json_syntax.ts";
import { parseMetadataJson, stringifyJson } from "./json.ts";
import { allFields, maxFieldId, parsePrimitiveType, type SchemaField } from "./schema.ts";
import { parseTransform, transformResultType } from "./transforms.ts";
import type {
  IcebergType,
  NestedField,
  Operation,
  PartitionField,
  PartitionSpec,
  Schema,
  Snapshot,
  SnapshotRef,
  SortField,
  SortOrder,
  TableMetadata,
} from "./types.ts";

type Json = Record<string, unknown>;

const OPERATIONS: ReadonlySet<string> = new Set(["append", "replace", "overwrite", "delete"]);
const DIRECTIONS: ReadonlySet<string> = new Set(["asc", "desc"]);
const NULL_ORDERS: ReadonlySet<string> = new Set(["nulls-first", "nulls-last"]);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const URI = /^[a-z][a-z0-9+.-]*:/i;
/** Java tolerates this much clock skew between log entries and last-updated-ms. */
const ONE_MINUTE_MS = 60_000;
/** Partition field ids start above this. */
export const PARTITION_ID_BASE = 999;

/**
 * Builds "invalid table metadata <source>: <path> <problem>" errors. They
 * name the file, the JSON path and what was expected, and of the file's
 * content at most the JSON type found and integers of the structural keys
 * (ids, versions, sequence numbers, timestamps), once they were read as
 * integers: never a string of the file, which for a location that does not
 * point at metadata could be anything, secrets included.
 */
class Reader {
  constructor(readonly source: string | undefined) {}

  fail(path: string, problem: string): LakehouseError {
    const where = this.source === undefined ? "" : ` ${this.source}`;
    return new LakehouseError(`invalid table metadata${where}: ${path} ${problem}`);
  }

  object(value: unknown, path: string): Json {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw this.fail(path, `must be an object, got ${jsonTypeOf(value)}`);
    }
    return value as Json;
  }

  array(value: unknown, path: string): unknown[] {
    if (!Array.isArray(value)) throw this.fail(path, `must be an array, got ${jsonTypeOf(value)}`);
    return value;
  }

  required(o: Json, key: string, path: string): unknown {
    const value = o[key];
    if (value === undefined || value === null) throw this.fail(join(path, key), "is missing");
    return value;
  }

  string(o: Json, key: string, path: string): string {
    const value = this.required(o, key, path);
    if (typeof value !== "string") {
      throw this.fail(join(path, key), `must be a string, got ${jsonTypeOf(value)}`);
    }
    return value;
  }

  boolean(o: Json, key: string, path: string): boolean {
    const value = this.required(o, key, path);
    if (typeof value !== "boolean") {
      throw this.fail(join(path, key), `must be a boolean, got ${jsonTypeOf(value)}`);
    }
    return value;
  }

  int(o: Json, key: string, path: string): number {
    return this.toInt(this.required(o, key, path), join(path, key));
  }

  toInt(value: unknown, path: string): number {
    const n = typeof value === "bigint" ? Number(value) : value;
    if (typeof n !== "number" || !Number.isSafeInteger(n)) {
      throw this.fail(path, `must be an integer, got ${describeNumber(value)}`);
    }
    return n;
  }

  long(o: Json, key: string, path: string): bigint {
    const value = this.required(o, key, path);
    if (typeof value === "bigint") return value;
    if (typeof value === "number" && Number.isSafeInteger(value)) return BigInt(value);
    throw this.fail(join(path, key), `must be an integer, got ${describeNumber(value)}`);
  }

  optional<T>(o: Json, key: string, read: () => T): T | undefined {
    return o[key] === undefined || o[key] === null ? undefined : read();
  }

  /** Required array of items. */
  list<T>(o: Json, key: string, path: string, item: (v: unknown, path: string) => T): T[] {
    const p = join(path, key);
    return this.array(this.required(o, key, path), p).map((v, i) => item(v, `${p}[${i}]`));
  }

  /** Optional array of items, empty when absent. */
  optionalList<T>(o: Json, key: string, path: string, item: (v: unknown, path: string) => T): T[] {
    return this.optional(o, key, () => this.list(o, key, path, item)) ?? [];
  }

  stringMap(value: unknown, path: string): Record<string, string> {
    const o = this.object(value, path);
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(o)) {
      if (typeof v !== "string") {
        throw this.fail(join(path, k), `must be a string, got ${jsonTypeOf(v)}`);
      }
      out[k] = v;
    }
    return out;
  }
}

function join(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

/** What a value found where an integer was expected is, without the value. */
function describeNumber(value: unknown): string {
  if (typeof value === "bigint") return "an integer beyond 2^53";
  if (typeof value !== "number") return jsonTypeOf(value);
  return Number.isInteger(value) ? "an integer beyond 2^53" : "a number with a fraction";
}

/** The JSON type of a value found where another was expected; never the value. */
export function jsonTypeOf(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (typeof value === "bigint" || typeof value === "number") return "a number";
  if (typeof value === "string") return "a string";
  if (typeof value === "boolean") return "a boolean";
  if (Array.isArray(value)) return "an array";
  return "an object";
}

/**
 * Parses and validates a metadata file. `source` (the file's location) is
 * named in errors. `current-snapshot-id` -1 reads as absent; missing optional
 * arrays read as empty; a table without `refs` gets the `main` branch Java
 * derives from `current-snapshot-id`. Keys the model does not hold (e.g.
 * `statistics`) are dropped.
 */
export function tableMetadataFromJson(text: string, source?: string): TableMetadata {
  const r = new Reader(source);
  let parsed: unknown;
  try {
    parsed = parseMetadataJson(text);
  } catch (cause) {
    // V8's SyntaxError quotes the text around the error: say where instead.
    const problem = cause instanceof SyntaxError
      ? `is not valid JSON: ${describeJsonSyntaxError(text)}`
      : `cannot be parsed: ${(cause as Error).message}`;
    const where = source === undefined ? "" : ` ${source}`;
    throw new LakehouseError(`invalid table metadata${where}: the file ${problem}`, { cause });
  }
  const o = r.object(parsed, "(root)");
  const formatVersion = r.int(o, "format-version", "");
  if (formatVersion !== 2) {
    // A small version number is a fact about the format, not content worth hiding.
    const found = formatVersion >= 0 && formatVersion < 100 ? `is ${formatVersion}` : "is not 2";
    throw r.fail("format-version", `${found}; only format version 2 is supported`);
  }
  const tableUuid = r.string(o, "table-uuid", "");
  if (!UUID.test(tableUuid)) throw r.fail("table-uuid", "must be a UUID string");

  const snapshotIdOrNone = r.optional(
    o,
    "current-snapshot-id",
    () => r.long(o, "current-snapshot-id", ""),
  );
  const currentSnapshotId = snapshotIdOrNone === -1n ? undefined : snapshotIdOrNone;
  const refs = r.optional(o, "refs", () => readRefs(r, o.refs)) ??
    (currentSnapshotId === undefined
      ? {}
      : { main: { "snapshot-id": currentSnapshotId, type: "branch" as const } });

  const metadata: TableMetadata = {
    "format-version": 2,
    "table-uuid": tableUuid,
    location: r.string(o, "location", ""),
    "last-sequence-number": r.long(o, "last-sequence-number", ""),
    "last-updated-ms": r.int(o, "last-updated-ms", ""),
    "last-column-id": r.int(o, "last-column-id", ""),
    schemas: r.list(o, "schemas", "", (v, p) => readSchema(r, v, p)),
    "current-schema-id": r.int(o, "current-schema-id", ""),
    "partition-specs": r.list(o, "partition-specs", "", (v, p) => readSpec(r, v, p)),
    "default-spec-id": r.int(o, "default-spec-id", ""),
    "last-partition-id": r.int(o, "last-partition-id", ""),
    properties: r.optional(o, "properties", () => r.stringMap(o.properties, "properties")) ?? {},
    ...(currentSnapshotId === undefined ? {} : { "current-snapshot-id": currentSnapshotId }),
    snapshots: r.optionalList(o, "snapshots", "", (v, p) => readSnapshot(r, v, p)),
    "snapshot-log": r.optionalList(o, "snapshot-log", "", (v, p) => {
      const e = r.object(v, p);
      return {
        "timestamp-ms": r.int(e, "timestamp-ms", p),
        "snapshot-id": r.long(e, "snapshot-id", p),
      };
    }),
    "metadata-log": r.optionalList(o, "metadata-log", "", (v, p) => {
      const e = r.object(v, p);
      return {
        "timestamp-ms": r.int(e, "timestamp-ms", p),
        "metadata-file": r.string(e, "metadata-file", p),
      };
    }),
    "sort-orders": r.list(o, "sort-orders", "", (v, p) => readSortOrder(r, v, p)),
    "default-sort-order-id": r.int(o, "default-sort-order-id", ""),
    refs,
  };
  checkMetadata(r, metadata);
  return metadata;
}

function readType(r: Reader, value: unknown, path: string): IcebergType {
  if (typeof value === "string") {
    const primitive = parsePrimitiveType(value);
    if (primitive === undefined) throw r.fail(path, "is not a known Iceberg type");
    return primitive;
  }
  const o = r.object(value, path);
  const kind = r.string(o, "type", path);
  switch (kind) {
    case "struct":
      return { type: "struct", fields: r.list(o, "fields", path, (v, p) => readField(r, v, p)) };
    case "list":
      return {
        type: "list",
        "element-id": r.int(o, "element-id", path),
        element: readType(r, r.required(o, "element", path), join(path, "element")),
        "element-required": r.boolean(o, "element-required", path),
      };
    case "map":
      return {
        type: "map",
        "key-id": r.int(o, "key-id", path),
        key: readType(r, r.required(o, "key", path), join(path, "key")),
        "value-id": r.int(o, "value-id", path),
        value: readType(r, r.required(o, "value", path), join(path, "value")),
        "value-required": r.boolean(o, "value-required", path),
      };
  }
  throw r.fail(join(path, "type"), "must be struct, list or map");
}

function readField(r: Reader, value: unknown, path: string): NestedField {
  const o = r.object(value, path);
  const doc = r.optional(o, "doc", () => r.string(o, "doc", path));
  return {
    id: r.int(o, "id", path),
    name: r.string(o, "name", path),
    required: r.boolean(o, "required", path),
    type: readType(r, r.required(o, "type", path), join(path, "type")),
    ...(doc === undefined ? {} : { doc }),
  };
}

function readSchema(r: Reader, value: unknown, path: string): Schema {
  const o = r.object(value, path);
  const type = r.optional(o, "type", () => r.string(o, "type", path));
  if (type !== undefined && type !== "struct") {
    throw r.fail(join(path, "type"), 'must be "struct"');
  }
  const identifiers = r.optional(
    o,
    "identifier-field-ids",
    () => r.list(o, "identifier-field-ids", path, (v, p) => r.toInt(v, p)),
  );
  return {
    type: "struct",
    "schema-id": r.int(o, "schema-id", path),
    ...(identifiers === undefined || identifiers.length === 0
      ? {}
      : { "identifier-field-ids": identifiers }),
    fields: r.list(o, "fields", path, (v, p) => readField(r, v, p)),
  };
}

function readSpec(r: Reader, value: unknown, path: string): PartitionSpec {
  const o = r.object(value, path);
  return {
    "spec-id": r.int(o, "spec-id", path),
    fields: r.list(o, "fields", path, (v, p): PartitionField => {
      const f = r.object(v, p);
      const transform = r.string(f, "transform", p);
      try {
        parseTransform(transform);
      } catch {
        throw r.fail(join(p, "transform"), "is not a known partition transform");
      }
      return {
        name: r.string(f, "name", p),
        transform: transform as PartitionField["transform"],
        "source-id": r.int(f, "source-id", p),
        "field-id": r.int(f, "field-id", p),
      };
    }),
  };
}

function readSortOrder(r: Reader, value: unknown, path: string): SortOrder {
  const o = r.object(value, path);
  return {
    "order-id": r.int(o, "order-id", path),
    fields: r.list(o, "fields", path, (v, p): SortField => {
      const f = r.object(v, p);
      const transform = r.string(f, "transform", p);
      try {
        parseTransform(transform);
      } catch {
        throw r.fail(join(p, "transform"), "is not a known transform");
      }
      const direction = r.string(f, "direction", p);
      if (!DIRECTIONS.has(direction)) throw r.fail(join(p, "direction"), "must be asc or desc");
      const nullOrder = r.string(f, "null-order", p);
      if (!NULL_ORDERS.has(nullOrder)) {
        throw r.fail(join(p, "null-order"), "must be nulls-first or nulls-last");
      }
      return {
        transform: transform as SortField["transform"],
        "source-id": r.int(f, "source-id", p),
        direction: direction as SortField["direction"],
        "null-order": nullOrder as SortField["null-order"],
      };
    }),
  };
}

function readSnapshot(r: Reader, value: unknown, path: string): Snapshot {
  const o = r.object(value, path);
  const summary = r.stringMap(r.required(o, "summary", path), join(path, "summary"));
  const operation = summary.operation;
  if (!OPERATIONS.has(operation)) {
    throw r.fail(
      join(path, "summary.operation"),
      `must be append, replace, overwrite or delete, got ${
        operation === undefined ? "nothing" : "another value"
      }`,
    );
  }
  const parent = r.optional(o, "parent-snapshot-id", () => r.long(o, "parent-snapshot-id", path));
  const schemaId = r.optional(o, "schema-id", () => r.int(o, "schema-id", path));
  return {
    "snapshot-id": r.long(o, "snapshot-id", path),
    ...(parent === undefined ? {} : { "parent-snapshot-id": parent }),
    "sequence-number": r.long(o, "sequence-number", path),
    "timestamp-ms": r.int(o, "timestamp-ms", path),
    "manifest-list": r.string(o, "manifest-list", path),
    summary: summary as Snapshot["summary"],
    ...(schemaId === undefined ? {} : { "schema-id": schemaId }),
  };
}

function readRefs(r: Reader, value: unknown): Record<string, SnapshotRef> {
  const refs: Record<string, SnapshotRef> = {};
  for (const [name, v] of Object.entries(r.object(value, "refs"))) {
    const p = `refs.${name}`;
    const o = r.object(v, p);
    const type = r.string(o, "type", p);
    if (type !== "branch" && type !== "tag") {
      throw r.fail(join(p, "type"), "must be branch or tag");
    }
    const ref: { -readonly [K in keyof SnapshotRef]: SnapshotRef[K] } = {
      "snapshot-id": r.long(o, "snapshot-id", p),
      type,
    };
    for (const key of ["max-ref-age-ms", "max-snapshot-age-ms", "min-snapshots-to-keep"] as const) {
      const n = r.optional(o, key, () => r.int(o, key, p));
      if (n !== undefined) ref[key] = n;
    }
    refs[name] = ref;
  }
  return refs;
}

/** The consistency rules Java's `TableMetadata` enforces, so we never write what Java rejects. */
function checkMetadata(r: Reader, m: TableMetadata): void {
  const unique = <T>(items: readonly T[], id: (item: T) => number | bigint, what: string) => {
    const seen = new Set<number | bigint>();
    for (const item of items) {
      const v = id(item);
      if (seen.has(v)) throw r.fail(what, `has duplicate id ${v}`);
      seen.add(v);
    }
  };
  unique(m.schemas, (s) => s["schema-id"], "schemas");
  unique(m["partition-specs"], (s) => s["spec-id"], "partition-specs");
  unique(m["sort-orders"], (s) => s["order-id"], "sort-orders");
  unique(m.snapshots, (s) => s["snapshot-id"], "snapshots");
  if (!m.schemas.some((s) => s["schema-id"] === m["current-schema-id"])) {
    throw r.fail("current-schema-id", `${m["current-schema-id"]} matches no schema`);
  }
  if (!m["partition-specs"].some((s) => s["spec-id"] === m["default-spec-id"])) {
    throw r.fail("default-spec-id", `${m["default-spec-id"]} matches no partition spec`);
  }
  if (!m["sort-orders"].some((s) => s["order-id"] === m["default-sort-order-id"])) {
    throw r.fail("default-sort-order-id", `${m["default-sort-order-id"]} matches no sort order`);
  }
  if (m["last-sequence-number"] < 0n) throw r.fail("last-sequence-number", "is negative");
  m.snapshots.forEach((s, i) => {
    if (s["sequence-number"] > m["last-sequence-number"]) {
      throw r.fail(
        `snapshots[${i}].sequence-number`,
        `${s["sequence-number"]} is greater than last-sequence-number ${m["last-sequence-number"]}`,
      );
    }
  });
  const current = m["current-snapshot-id"];
  if (current !== undefined && snapshotById(m, current) === undefined) {
    throw r.fail("current-snapshot-id", `${current} matches no snapshot`);
  }
  for (const [name, ref] of Object.entries(m.refs)) {
    if (snapshotById(m, ref["snapshot-id"]) === undefined) {
      throw r.fail(`refs.${name}.snapshot-id`, `${ref["snapshot-id"]} matches no snapshot`);
    }
  }
  const main = m.refs.main;
  if (main !== undefined && main["snapshot-id"] !== current) {
    throw r.fail(
      "refs.main.snapshot-id",
      `${main["snapshot-id"]} differs from current-snapshot-id ${current ?? -1}`,
    );
  }
  for (const key of ["snapshot-log", "metadata-log"] as const) {
    let last: number | undefined;
    m[key].forEach((entry, i) => {
      const t = entry["timestamp-ms"];
      if (last !== undefined && t - last < -ONE_MINUTE_MS) {
        throw r.fail(`${key}[${i}].timestamp-ms`, `${t} is before the previous entry (${last})`);
      }
      last = t;
    });
    if (last !== undefined && last - m["last-updated-ms"] > ONE_MINUTE_MS) {
      throw r.fail(
        "last-updated-ms",
        `${m["last-updated-ms"]} is before the last ${key} entry (${last})`,
      );
    }
  }
}

/**
 * Writes metadata in the key order of Java's `TableMetadataParser`, with
 * `current-snapshot-id` -1 when there is none and without the deprecated v1
 * keys. Fails on metadata that Java would reject.
 */
export function tableMetadataToJson(m: TableMetadata): string {
  checkMetadata(new Reader(undefined), m);
  const out = {
    "format-version": 2,
    "table-uuid": m["table-uuid"],
    location: m.location,
    "last-sequence-number": m["last-sequence-number"],
    "last-updated-ms": m["last-updated-ms"],
    "last-column-id": m["last-column-id"],
    "current-schema-id": m["current-schema-id"],
    schemas: m.schemas.map(schemaJson),
    "default-spec-id": m["default-spec-id"],
    "partition-specs": m["partition-specs"].map((s) => ({
      "spec-id": s["spec-id"],
      fields: s.fields.map((f) => ({
        name: f.name,
        transform: f.transform,
        "source-id": f["source-id"],
        "field-id": f["field-id"],
      })),
    })),
    "last-partition-id": m["last-partition-id"],
    "default-sort-order-id": m["default-sort-order-id"],
    "sort-orders": m["sort-orders"].map((s) => ({
      "order-id": s["order-id"],
      fields: s.fields.map((f) => ({
        transform: f.transform,
        "source-id": f["source-id"],
        direction: f.direction,
        "null-order": f["null-order"],
      })),
    })),
    properties: m.properties,
    "current-snapshot-id": m["current-snapshot-id"] ?? -1,
    refs: Object.fromEntries(Object.entries(m.refs).map(([name, ref]) => [name, refJson(ref)])),
    snapshots: m.snapshots.map(snapshotJson),
    statistics: [],
    "partition-statistics": [],
    "snapshot-log": m["snapshot-log"].map((e) => ({
      "timestamp-ms": e["timestamp-ms"],
      "snapshot-id": e["snapshot-id"],
    })),
    "metadata-log": m["metadata-log"].map((e) => ({
      "timestamp-ms": e["timestamp-ms"],
      "metadata-file": e["metadata-file"],
    })),
  };
  return stringifyJson(out, 2);
}

function typeJson(type: IcebergType): unknown {
  if (typeof type === "string") return type;
  switch (type.type) {
    case "struct":
      return { type: "struct", fields: type.fields.map(fieldJson) };
    case "list":
      return {
        type: "list",
        "element-id": type["element-id"],
        element: typeJson(type.element),
        "element-required": type["element-required"],
      };
    case "map":
      return {
        type: "map",
        "key-id": type["key-id"],
        key: typeJson(type.key),
        "value-id": type["value-id"],
        value: typeJson(type.value),
        "value-required": type["value-required"],
      };
  }
}

function fieldJson(f: NestedField): unknown {
  return {
    id: f.id,
    name: f.name,
    required: f.required,
    type: typeJson(f.type),
    ...(f.doc === undefined ? {} : { doc: f.doc }),
  };
}

function schemaJson(s: Schema): unknown {
  const ids = s["identifier-field-ids"];
  return {
    type: "struct",
    "schema-id": s["schema-id"],
    ...(ids === undefined || ids.length === 0 ? {} : { "identifier-field-ids": ids }),
    fields: s.fields.map(fieldJson),
  };
}

function refJson(ref: SnapshotRef): unknown {
  return {
    "snapshot-id": ref["snapshot-id"],
    type: ref.type,
    "min-snapshots-to-keep": ref["min-snapshots-to-keep"],
    "max-snapshot-age-ms": ref["max-snapshot-age-ms"],
    "max-ref-age-ms": ref["max-ref-age-ms"],
  };
}

function snapshotJson(s: Snapshot): unknown {
  const { operation, ...rest } = s.summary;
  return {
    "sequence-number": s["sequence-number"],
    "snapshot-id": s["snapshot-id"],
    "parent-snapshot-id": s["parent-snapshot-id"],
    "timestamp-ms": s["timestamp-ms"],
    summary: { operation, ...rest },
    "manifest-list": s["manifest-list"],
    "schema-id": s["schema-id"],
  };
}

export interface NewTableMetadataOptions {
  /** Full URI of the table directory (`s3://bucket/db/orders`, `file:///wh/orders`). */
  readonly location: string;
  /** The schema with its field ids and schema id already assigned. */
  readonly schema: Schema;
  readonly spec: PartitionSpec;
  readonly properties?: Readonly<Record<string, string>>;
  readonly tableUuid: string;
  readonly nowMs: number;
}

/**
 * The metadata of a new, empty table: no snapshots, unsorted, with
 * `last-column-id` / `last-partition-id` taken from the schema and spec.
 * Rejects schemas with duplicate field ids and specs that do not fit the
 * schema, since every later file would inherit the mistake.
 */
export function newTableMetadata(options: NewTableMetadataOptions): TableMetadata {
  const { schema, spec } = options;
  const r = new Reader(undefined);
  if (!URI.test(options.location)) {
    throw new LakehouseError(
      `table location must be a full URI, got ${JSON.stringify(options.location)}`,
    );
  }
  if (!UUID.test(options.tableUuid)) {
    throw new LakehouseError(`table uuid must be a UUID, got ${JSON.stringify(options.tableUuid)}`);
  }
  const fail = (where: string, problem: string) => r.fail(where, problem);
  checkSchema(schema, fail);
  checkPartitionSpec(schema, spec, fail);
  const sortOrder: SortOrder = { "order-id": 0, fields: [] };
  const metadata: TableMetadata = {
    "format-version": 2,
    "table-uuid": options.tableUuid,
    location: options.location.replace(/\/+$/, ""),
    "last-sequence-number": 0n,
    "last-updated-ms": options.nowMs,
    "last-column-id": maxFieldId(schema),
    schemas: [schema],
    "current-schema-id": schema["schema-id"],
    "partition-specs": [spec],
    "default-spec-id": spec["spec-id"],
    "last-partition-id": Math.max(PARTITION_ID_BASE, ...spec.fields.map((f) => f["field-id"])),
    properties: { ...options.properties },
    snapshots: [],
    "snapshot-log": [],
    "metadata-log": [],
    "sort-orders": [sortOrder],
    "default-sort-order-id": 0,
    refs: {},
  };
  checkMetadata(r, metadata);
  return metadata;
}

/** Makes the error for a problem found at `where` ("partition field ts_hour"). */
export type Fail = (where: string, problem: string) => Error;

/**
 * A schema's field ids are positive and unique, and its identifier fields
 * are required primitive columns reachable through required structs only
 * (Java's rules). Returns the fields by id.
 */
export function checkSchema(schema: Schema, fail: Fail): Map<number, SchemaField> {
  const byId = new Map<number, SchemaField>();
  for (const f of allFields(schema)) {
    if (!Number.isSafeInteger(f.id) || f.id < 1) {
      throw fail(`schema field ${f.name}`, `has bad id ${f.id}`);
    }
    if (byId.has(f.id)) {
      throw fail(`schema field ${f.name}`, `reuses id ${f.id} of ${byId.get(f.id)!.name}`);
    }
    byId.set(f.id, f);
  }
  const seen = new Set<number>();
  for (const id of schema["identifier-field-ids"] ?? []) {
    const where = `identifier field id ${id}`;
    if (seen.has(id)) throw fail(where, "is listed twice");
    seen.add(id);
    const field = byId.get(id);
    if (field === undefined) throw fail(where, "matches no field of the schema");
    const name = field.name;
    if (typeof field.type !== "string") throw fail(where, `(${name}) is not a primitive column`);
    if (field.type === "float" || field.type === "double") {
      throw fail(where, `(${name}) is a ${field.type}, which cannot identify a row`);
    }
    if (!field.required) throw fail(where, `(${name}) is optional`);
    // Every enclosing field must be a required struct.
    for (let parentId = field.parentId; parentId !== undefined;) {
      const parent = byId.get(parentId)!;
      if (typeof parent.type === "string" || parent.type.type !== "struct") {
        throw fail(where, `(${name}) lies within ${parent.name}, which is not a struct`);
      }
      if (!parent.required) throw fail(where, `(${name}) lies within optional ${parent.name}`);
      parentId = parent.parentId;
    }
  }
  return byId;
}

/**
 * A partition spec fits a schema: each source is a primitive column of it
 * whose type the transform takes, field ids are above 999 and unique, names
 * are unique and do not take a column's name (except as its identity).
 */
export function checkPartitionSpec(schema: Schema, spec: PartitionSpec, fail: Fail): void {
  const fields = allFields(schema);
  const byId = new Map(fields.map((f) => [f.id, f]));
  const partitionIds = new Set<number>();
  const partitionNames = new Set<string>();
  for (const p of spec.fields) {
    const where = `partition field ${p.name}`;
    const source = byId.get(p["source-id"]);
    if (source === undefined) throw fail(where, `has unknown source-id ${p["source-id"]}`);
    if (typeof source.type !== "string") {
      throw fail(where, `has a nested source field ${source.name}`);
    }
    try {
      transformResultType(p.transform, source.type);
    } catch (error) {
      throw fail(where, (error as Error).message);
    }
    if (!Number.isSafeInteger(p["field-id"]) || p["field-id"] <= PARTITION_ID_BASE) {
      throw fail(where, `has field-id ${p["field-id"]}; ids start at 1000`);
    }
    if (partitionIds.has(p["field-id"])) throw fail(where, `reuses field-id ${p["field-id"]}`);
    if (partitionNames.has(p.name)) throw fail(where, "is defined twice");
    // Java allows a partition to share a column's name only as that column's identity.
    const clash = fields.find((f) => f.name === p.name);
    if (clash !== undefined && (p.transform !== "identity" || clash.id !== p["source-id"])) {
      throw fail(where, `has the name of schema field ${clash.name}`);
    }
    partitionIds.add(p["field-id"]);
    partitionNames.add(p.name);
  }
}

/** A sort order fits a schema: each source is a primitive column the transform takes. */
export function checkSortOrder(schema: Schema, order: SortOrder, fail: Fail): void {
  const byId = new Map(allFields(schema).map((f) => [f.id, f]));
  order.fields.forEach((f, i) => {
    const where = `sort field ${i}`;
    const source = byId.get(f["source-id"]);
    if (source === undefined) throw fail(where, `has unknown source-id ${f["source-id"]}`);
    if (typeof source.type !== "string") {
      throw fail(where, `sorts by ${source.name}, which is not a primitive column`);
    }
    try {
      transformResultType(f.transform, source.type);
    } catch (error) {
      throw fail(where, (error as Error).message);
    }
    if (!DIRECTIONS.has(f.direction)) throw fail(where, "has a direction other than asc or desc");
    if (!NULL_ORDERS.has(f["null-order"])) {
      throw fail(where, "has a null-order other than nulls-first or nulls-last");
    }
  });
}

/** `00001-<uuid>.metadata.json`: the name of metadata version `version`. */
export function metadataFileName(version: number, uuid: string): string {
  if (!Number.isSafeInteger(version) || version < 0) {
    throw new RangeError(`metadata version must be a non-negative integer, got ${version}`);
  }
  return `${String(version).padStart(5, "0")}-${uuid}.metadata.json`;
}

/**
 * The version of a metadata file from its path: `00012-<uuid>.metadata.json`
 * (also `.gz.metadata.json`) or Hadoop tables' `v12.metadata.json`;
 * undefined for any other name.
 */
export function parseMetadataVersion(path: string): number | undefined {
  const name = path.slice(path.lastIndexOf("/") + 1);
  const match = /^(\d+)-.+\.metadata\.json$/.exec(name) ??
    /^v(\d+)(?:\.gz)?\.metadata\.json$/.exec(name);
  if (match === null) return undefined;
  const version = Number(match[1]);
  return Number.isSafeInteger(version) ? version : undefined;
}

export function snapshotById(m: TableMetadata, id: bigint): Snapshot | undefined {
  return m.snapshots.find((s) => s["snapshot-id"] === id);
}

export function currentSnapshot(m: TableMetadata): Snapshot | undefined {
  const id = m["current-snapshot-id"];
  return id === undefined ? undefined : snapshotById(m, id);
}

/**
 * The snapshot that was current at `timestampMs`, from the snapshot log (so
 * rollbacks count, unlike snapshot timestamps alone). Undefined when the table
 * had no snapshot then, or that snapshot has since been expired.
 */
export function snapshotAsOf(m: TableMetadata, timestampMs: number): Snapshot | undefined {
  let id: bigint | undefined;
  for (const entry of m["snapshot-log"]) {
    if (entry["timestamp-ms"] <= timestampMs) id = entry["snapshot-id"];
  }
  return id === undefined ? undefined : snapshotById(m, id);
}

/** Snapshot `id` and its parents, newest first, up to the first expired or missing one. */
export function ancestorsOf(m: TableMetadata, id: bigint): Snapshot[] {
  const out: Snapshot[] = [];
  const seen = new Set<bigint>();
  let next: bigint | undefined = id;
  while (next !== undefined && !seen.has(next)) {
    const snapshot = snapshotById(m, next);
    if (snapshot === undefined) break;
    out.push(snapshot);
    seen.add(next);
    next = snapshot["parent-snapshot-id"];
  }
  return out;
}

export function schemaById(m: TableMetadata, id: number): Schema | undefined {
  return m.schemas.find((s) => s["schema-id"] === id);
}

export function specById(m: TableMetadata, id: number): PartitionSpec | undefined {
  return m["partition-specs"].find((s) => s["spec-id"] === id);
}

export function currentSchema(m: TableMetadata): Schema {
  const schema = schemaById(m, m["current-schema-id"]);
  if (schema === undefined) {
    throw new LakehouseError(
      `table metadata has no schema with current-schema-id ${m["current-schema-id"]}`,
    );
  }
  return schema;
}

export function defaultSpec(m: TableMetadata): PartitionSpec {
  const spec = specById(m, m["default-spec-id"]);
  if (spec === undefined) {
    throw new LakehouseError(
      `table metadata has no partition spec with default-spec-id ${m["default-spec-id"]}`,
    );
  }
  return spec;
}

/** Operations a snapshot summary may name. */
export function isOperation(value: string): value is Operation {
  return OPERATIONS.has(value);
}
