/**
 * Request bodies of the Iceberg REST catalog, read into the commit layer's
 * own vocabulary (`TableRequirement`, `TableUpdate`, schemas, specs, sort
 * orders, snapshots). Every shape is checked as it is read: a wrong field is
 * a 400 naming its JSON path (`updates[2].snapshot.snapshot-id must be an
 * integer`). Ids that are 64-bit in the spec (snapshot ids, sequence
 * numbers) are read losslessly as bigint.
 */
import type { TableIdentifier } from "../catalog/catalog.ts";
import type { TableRequirement, TableUpdate } from "../iceberg/commit/updates.ts";
import { parseMetadataJson } from "../iceberg/spec/json.ts";
import { jsonTypeOf } from "../iceberg/spec/metadata.ts";
import { parsePrimitiveType } from "../iceberg/spec/schema.ts";
import { parseTransform } from "../iceberg/spec/transforms.ts";
import type {
  IcebergType,
  NestedField,
  PartitionField,
  PartitionSpec,
  Schema,
  Snapshot,
  SortField,
  SortOrder,
} from "../iceberg/spec/types.ts";
import { badRequest, type RestError } from "./errors.ts";

type Json = Record<string, unknown>;

/** Parses a request body; bigint for 64-bit ids and any integer beyond 2^53. */
export function parseBody(text: string): unknown {
  if (text.trim() === "") throw badRequest("the request body is empty; a JSON object is expected");
  try {
    return parseMetadataJson(text);
  } catch {
    throw badRequest("the request body is not valid JSON");
  }
}

function at(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  return path === "" ? key : `${path}.${key}`;
}

function fail(path: string, problem: string): RestError {
  return badRequest(`${path === "" ? "the request body" : path} ${problem}`);
}

export function object(value: unknown, path: string): Json {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw fail(path, `must be a JSON object, got ${jsonTypeOf(value)}`);
  }
  return value as Json;
}

function required(o: Json, key: string, path: string): unknown {
  const value = o[key];
  if (value === undefined || value === null) throw fail(at(path, key), "is missing");
  return value;
}

function present(o: Json, key: string): boolean {
  return o[key] !== undefined && o[key] !== null;
}

export function string(o: Json, key: string, path: string): string {
  const value = required(o, key, path);
  if (typeof value !== "string") {
    throw fail(at(path, key), `must be a string, got ${jsonTypeOf(value)}`);
  }
  return value;
}

function optionalString(o: Json, key: string, path: string): string | undefined {
  return present(o, key) ? string(o, key, path) : undefined;
}

function boolean(o: Json, key: string, path: string): boolean {
  const value = required(o, key, path);
  if (typeof value !== "boolean") {
    throw fail(at(path, key), `must be true or false, got ${jsonTypeOf(value)}`);
  }
  return value;
}

function toInt(value: unknown, path: string): number {
  const n = typeof value === "bigint" ? Number(value) : value;
  if (typeof n !== "number" || !Number.isSafeInteger(n)) {
    throw fail(path, `must be an integer, got ${jsonTypeOf(value)}`);
  }
  return n;
}

function int(o: Json, key: string, path: string): number {
  return toInt(required(o, key, path), at(path, key));
}

function optionalInt(o: Json, key: string, path: string): number | undefined {
  return present(o, key) ? int(o, key, path) : undefined;
}

function toLong(value: unknown, path: string): bigint {
  if (typeof value === "bigint") return value;
  if (typeof value === "number" && Number.isSafeInteger(value)) return BigInt(value);
  throw fail(path, `must be an integer, got ${jsonTypeOf(value)}`);
}

function long(o: Json, key: string, path: string): bigint {
  return toLong(required(o, key, path), at(path, key));
}

function array(o: Json, key: string, path: string): unknown[] {
  const value = required(o, key, path);
  if (!Array.isArray(value)) {
    throw fail(at(path, key), `must be an array, got ${jsonTypeOf(value)}`);
  }
  return value;
}

export function stringMap(value: unknown, path: string): Record<string, string> {
  const o = object(value, path);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(o)) {
    if (typeof v !== "string") throw fail(at(path, k), `must be a string, got ${jsonTypeOf(v)}`);
    out[k] = v;
  }
  return out;
}

/** A namespace as the JSON bodies carry it: an array of level names. */
export function namespaceOf(value: unknown, path: string): string[] {
  if (!Array.isArray(value)) {
    throw fail(path, `must be an array of strings, got ${jsonTypeOf(value)}`);
  }
  if (value.length === 0) throw fail(path, "must have at least one level");
  return value.map((v, i) => {
    if (typeof v !== "string" || v === "") throw fail(at(path, i), "must be a non-empty string");
    return v;
  });
}

/** `{"namespace": [...], "name": "..."}`. */
export function tableIdentifierOf(value: unknown, path: string): TableIdentifier {
  const o = object(value, path);
  const name = string(o, "name", path);
  if (name === "") throw fail(at(path, "name"), "must not be empty");
  return { namespace: namespaceOf(required(o, "namespace", path), at(path, "namespace")), name };
}

// ------------------------------------------------------------ schemas ----

export function typeOf(value: unknown, path: string): IcebergType {
  if (typeof value === "string") {
    const primitive = parsePrimitiveType(value);
    if (primitive === undefined) {
      throw fail(path, `is not a type this catalog supports (${JSON.stringify(value)})`);
    }
    return primitive;
  }
  const o = object(value, path);
  const kind = string(o, "type", path);
  switch (kind) {
    case "struct":
      return {
        type: "struct",
        fields: array(o, "fields", path).map((f, i) => fieldOf(f, at(at(path, "fields"), i))),
      };
    case "list":
      return {
        type: "list",
        "element-id": int(o, "element-id", path),
        element: typeOf(required(o, "element", path), at(path, "element")),
        "element-required": boolean(o, "element-required", path),
      };
    case "map":
      return {
        type: "map",
        "key-id": int(o, "key-id", path),
        key: typeOf(required(o, "key", path), at(path, "key")),
        "value-id": int(o, "value-id", path),
        value: typeOf(required(o, "value", path), at(path, "value")),
        "value-required": boolean(o, "value-required", path),
      };
  }
  throw fail(at(path, "type"), `must be struct, list or map, got ${JSON.stringify(kind)}`);
}

function fieldOf(value: unknown, path: string): NestedField {
  const o = object(value, path);
  const doc = optionalString(o, "doc", path);
  return {
    id: int(o, "id", path),
    name: string(o, "name", path),
    required: boolean(o, "required", path),
    type: typeOf(required(o, "type", path), at(path, "type")),
    ...(doc === undefined ? {} : { doc }),
  };
}

export function schemaOf(value: unknown, path: string): Schema {
  const o = object(value, path);
  if (present(o, "type") && o.type !== "struct") throw fail(at(path, "type"), 'must be "struct"');
  const ids = present(o, "identifier-field-ids")
    ? array(o, "identifier-field-ids", path).map((v, i) =>
      toInt(v, at(at(path, "identifier-field-ids"), i))
    )
    : [];
  return {
    type: "struct",
    "schema-id": optionalInt(o, "schema-id", path) ?? 0,
    ...(ids.length === 0 ? {} : { "identifier-field-ids": ids }),
    fields: array(o, "fields", path).map((f, i) => fieldOf(f, at(at(path, "fields"), i))),
  };
}

function transformOf(o: Json, path: string): string {
  const transform = string(o, "transform", path);
  try {
    parseTransform(transform);
  } catch {
    throw fail(at(path, "transform"), `is not a known transform (${JSON.stringify(transform)})`);
  }
  return transform;
}

/**
 * A partition spec; a field without `field-id` gets `firstFieldId` + its
 * position (what a new table assigns), or is refused when that is undefined.
 */
export function specOf(value: unknown, path: string, firstFieldId?: number): PartitionSpec {
  const o = object(value, path);
  const fields = array(o, "fields", path).map((v, i): PartitionField => {
    const p = at(at(path, "fields"), i);
    const f = object(v, p);
    const id = optionalInt(f, "field-id", p) ??
      (firstFieldId === undefined ? int(f, "field-id", p) : firstFieldId + i);
    return {
      name: string(f, "name", p),
      transform: transformOf(f, p) as PartitionField["transform"],
      "source-id": int(f, "source-id", p),
      "field-id": id,
    };
  });
  return { "spec-id": optionalInt(o, "spec-id", path) ?? 0, fields };
}

export function sortOrderOf(value: unknown, path: string): SortOrder {
  const o = object(value, path);
  const fields = array(o, "fields", path).map((v, i): SortField => {
    const p = at(at(path, "fields"), i);
    const f = object(v, p);
    const direction = string(f, "direction", p);
    if (direction !== "asc" && direction !== "desc") {
      throw fail(at(p, "direction"), "must be asc or desc");
    }
    const nullOrder = string(f, "null-order", p);
    if (nullOrder !== "nulls-first" && nullOrder !== "nulls-last") {
      throw fail(at(p, "null-order"), "must be nulls-first or nulls-last");
    }
    return {
      transform: transformOf(f, p) as SortField["transform"],
      "source-id": int(f, "source-id", p),
      direction,
      "null-order": nullOrder,
    };
  });
  return { "order-id": optionalInt(o, "order-id", path) ?? (fields.length === 0 ? 0 : 1), fields };
}

function snapshotOf(value: unknown, path: string): Snapshot {
  const o = object(value, path);
  const summary = stringMap(required(o, "summary", path), at(path, "summary"));
  if (summary.operation === undefined) throw fail(at(path, "summary.operation"), "is missing");
  const parent = present(o, "parent-snapshot-id") ? long(o, "parent-snapshot-id", path) : undefined;
  const schemaId = optionalInt(o, "schema-id", path);
  return {
    "snapshot-id": long(o, "snapshot-id", path),
    ...(parent === undefined ? {} : { "parent-snapshot-id": parent }),
    "sequence-number": long(o, "sequence-number", path),
    "timestamp-ms": int(o, "timestamp-ms", path),
    "manifest-list": string(o, "manifest-list", path),
    summary: summary as Snapshot["summary"],
    ...(schemaId === undefined ? {} : { "schema-id": schemaId }),
  };
}

// ------------------------------------------------- requirements, updates ----

export function requirementOf(value: unknown, path: string): TableRequirement {
  const o = object(value, path);
  const type = string(o, "type", path);
  switch (type) {
    case "assert-create":
      return { type };
    case "assert-table-uuid":
      return { type, uuid: string(o, "uuid", path) };
    case "assert-ref-snapshot-id": {
      const id = o["snapshot-id"];
      return {
        type,
        ref: string(o, "ref", path),
        "snapshot-id": id === undefined || id === null ? null : toLong(id, at(path, "snapshot-id")),
      };
    }
    case "assert-last-assigned-field-id":
      return { type, "last-assigned-field-id": int(o, "last-assigned-field-id", path) };
    case "assert-current-schema-id":
      return { type, "current-schema-id": int(o, "current-schema-id", path) };
    case "assert-last-assigned-partition-id":
      return { type, "last-assigned-partition-id": int(o, "last-assigned-partition-id", path) };
    case "assert-default-spec-id":
      return { type, "default-spec-id": int(o, "default-spec-id", path) };
    case "assert-default-sort-order-id":
      return { type, "default-sort-order-id": int(o, "default-sort-order-id", path) };
  }
  throw fail(at(path, "type"), `is not a known requirement type (${JSON.stringify(type)})`);
}

export function updateOf(value: unknown, path: string): TableUpdate {
  const o = object(value, path);
  const action = string(o, "action", path);
  switch (action) {
    case "assign-uuid":
      return { action, uuid: string(o, "uuid", path) };
    case "upgrade-format-version":
      return { action, "format-version": int(o, "format-version", path) };
    case "add-schema": {
      const last = optionalInt(o, "last-column-id", path);
      return {
        action,
        schema: schemaOf(required(o, "schema", path), at(path, "schema")),
        ...(last === undefined ? {} : { "last-column-id": last }),
      };
    }
    case "set-current-schema":
      return { action, "schema-id": int(o, "schema-id", path) };
    case "add-spec":
      return { action, spec: specOf(required(o, "spec", path), at(path, "spec")) };
    case "set-default-spec":
      return { action, "spec-id": int(o, "spec-id", path) };
    case "add-sort-order":
      return {
        action,
        "sort-order": sortOrderOf(required(o, "sort-order", path), at(path, "sort-order")),
      };
    case "set-default-sort-order":
      return { action, "sort-order-id": int(o, "sort-order-id", path) };
    case "add-snapshot":
      return { action, snapshot: snapshotOf(required(o, "snapshot", path), at(path, "snapshot")) };
    case "set-snapshot-ref": {
      const type = string(o, "type", path);
      if (type !== "branch" && type !== "tag") {
        throw fail(at(path, "type"), "must be branch or tag");
      }
      const retention: Record<string, number> = {};
      for (const key of ["max-ref-age-ms", "max-snapshot-age-ms", "min-snapshots-to-keep"]) {
        const v = optionalInt(o, key, path);
        if (v !== undefined) retention[key] = v;
      }
      return {
        action,
        "ref-name": string(o, "ref-name", path),
        type,
        "snapshot-id": long(o, "snapshot-id", path),
        ...retention,
      };
    }
    case "remove-snapshots":
      return {
        action,
        "snapshot-ids": array(o, "snapshot-ids", path).map((v, i) =>
          toLong(v, at(at(path, "snapshot-ids"), i))
        ),
      };
    case "remove-snapshot-ref":
      return { action, "ref-name": string(o, "ref-name", path) };
    case "set-location":
      return { action, location: string(o, "location", path) };
    case "set-properties":
      return { action, updates: stringMap(required(o, "updates", path), at(path, "updates")) };
    case "remove-properties":
      return {
        action,
        removals: array(o, "removals", path).map((v, i) => {
          if (typeof v !== "string") throw fail(at(at(path, "removals"), i), "must be a string");
          return v;
        }),
      };
  }
  // The commit layer names actions it refuses (views, statistics) and
  // unknown ones, with the reason.
  return { action } as unknown as TableUpdate;
}

export interface CommitRequest {
  readonly identifier?: TableIdentifier;
  readonly requirements: TableRequirement[];
  readonly updates: TableUpdate[];
}

export function commitRequestOf(body: unknown): CommitRequest {
  const o = object(body, "");
  const identifier = present(o, "identifier")
    ? tableIdentifierOf(o.identifier, "identifier")
    : undefined;
  const requirements = present(o, "requirements")
    ? array(o, "requirements", "").map((r, i) => requirementOf(r, at("requirements", i)))
    : [];
  const updates = array(o, "updates", "").map((u, i) => updateOf(u, at("updates", i)));
  return { ...(identifier ? { identifier } : {}), requirements, updates };
}

export interface CreateTableRequest {
  readonly name: string;
  readonly location?: string;
  readonly schema: Schema;
  readonly spec?: PartitionSpec;
  readonly order?: SortOrder;
  readonly stageCreate: boolean;
  readonly properties: Record<string, string>;
}

/** Partition field ids of a new table start above this (Java's PARTITION_DATA_ID_START - 1). */
const NEW_TABLE_PARTITION_ID_START = 1000;

export function createTableRequestOf(body: unknown): CreateTableRequest {
  const o = object(body, "");
  const name = string(o, "name", "");
  if (name === "") throw fail("name", "must not be empty");
  const location = optionalString(o, "location", "");
  const stage = o["stage-create"];
  if (stage !== undefined && stage !== null && typeof stage !== "boolean") {
    throw fail("stage-create", "must be true or false");
  }
  return {
    name,
    ...(location === undefined || location === "" ? {} : { location }),
    schema: schemaOf(required(o, "schema", ""), "schema"),
    ...(present(o, "partition-spec")
      ? { spec: specOf(o["partition-spec"], "partition-spec", NEW_TABLE_PARTITION_ID_START) }
      : {}),
    ...(present(o, "write-order") ? { order: sortOrderOf(o["write-order"], "write-order") } : {}),
    stageCreate: stage === true,
    properties: present(o, "properties") ? stringMap(o.properties, "properties") : {},
  };
}
