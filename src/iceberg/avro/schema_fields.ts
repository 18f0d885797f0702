/**
 * Field lookup by Iceberg field id in a writer's Avro schema. Files written
 * by other engines may name records and fields differently (and older ones
 * may lack fields), but the ids are fixed by the spec, so readers go by id.
 */
import { AvroFormatError } from "./container.ts";
import type { AvroComplexSchema, AvroSchema } from "./schemas.ts";

const NAMED = new Set(["record", "error", "fixed", "enum"]);

export type NamedTypes = Map<string, AvroComplexSchema>;

export function isComplex(type: AvroSchema): type is AvroComplexSchema {
  return typeof type === "object" && type !== null && !Array.isArray(type);
}

/** Named types defined anywhere in `schema`, so later references by name can be resolved. */
export function collectNamedTypes(schema: AvroSchema, out: NamedTypes = new Map()): NamedTypes {
  if (Array.isArray(schema)) {
    for (const branch of schema) collectNamedTypes(branch, out);
    return out;
  }
  if (typeof schema !== "object" || schema === null) return out;
  const complex = schema as AvroComplexSchema;
  if (NAMED.has(complex.type) && typeof complex.name === "string") {
    out.set(complex.name, complex);
    if (typeof complex.namespace === "string" && complex.namespace) {
      out.set(`${complex.namespace}.${complex.name}`, complex);
    }
  }
  if (Array.isArray(complex.fields)) {
    for (const field of complex.fields as { type: AvroSchema }[]) {
      collectNamedTypes(field.type, out);
    }
  }
  if (complex.items !== undefined) collectNamedTypes(complex.items as AvroSchema, out);
  if (complex.values !== undefined) collectNamedTypes(complex.values as AvroSchema, out);
  if (typeof complex.type === "object") collectNamedTypes(complex.type as AvroSchema, out);
  return out;
}

/** Resolves a named reference and strips the null branch of an optional union. */
export function resolveType(type: AvroSchema, named: NamedTypes): AvroSchema {
  if (typeof type === "string") return named.get(type) ?? type;
  if (Array.isArray(type)) {
    const branches = (type as readonly AvroSchema[]).filter((t) => t !== "null");
    return branches.length === 1 ? resolveType(branches[0], named) : type;
  }
  const complex = type as AvroComplexSchema;
  // `{"type": "long", "logicalType": ...}` and `{"type": {...}}` wrap another type.
  if (typeof complex.type === "object") return resolveType(complex.type as AvroSchema, named);
  return type;
}

export interface FieldRef {
  readonly name: string;
  readonly id: number;
  /** Resolved, without the null branch. */
  readonly type: AvroSchema;
}

/** The record's fields that carry a field id, in declaration order. */
export function recordFields(type: AvroSchema, named: NamedTypes, what: string): FieldRef[] {
  const record = resolveType(type, named);
  if (!isComplex(record) || record.type !== "record") {
    throw new AvroFormatError(`unexpected Avro schema: ${what} is not a record`);
  }
  const fields = record.fields as {
    name: string;
    type: AvroSchema;
    "field-id"?: unknown;
  }[];
  const out: FieldRef[] = [];
  for (const field of fields) {
    const id = field["field-id"];
    if (typeof id === "number") {
      out.push({ name: field.name, id, type: resolveType(field.type, named) });
    }
  }
  return out;
}

/** A record's fields by field id. */
export class FieldsById {
  readonly #byId: Map<number, FieldRef>;

  constructor(type: AvroSchema, named: NamedTypes, readonly what: string) {
    this.#byId = new Map(recordFields(type, named, what).map((f) => [f.id, f]));
  }

  field(id: number): FieldRef | undefined {
    return this.#byId.get(id);
  }

  required(id: number, name: string): FieldRef {
    const field = this.#byId.get(id);
    if (!field) {
      throw new AvroFormatError(
        `unexpected Avro schema: ${this.what} has no field ${id} (${name})`,
      );
    }
    return field;
  }

  /** The field's value, null when the value is null, undefined when the writer has no such field. */
  get(record: Record<string, unknown>, id: number): unknown {
    const field = this.#byId.get(id);
    return field ? record[field.name] ?? null : undefined;
  }
}
