/**
 * Schema evolution by example: given a table's current schema and the
 * columns a writer now produces (a SQL file's output), the new schema under
 * Iceberg's rules. Columns are matched by name at every level: a match keeps
 * its field id (so data files written before read it), a new column gets a
 * fresh id above `last-column-id` and is optional (old files read it as
 * NULL), a column no longer produced is dropped from the schema (old files
 * keep it). A type may only be promoted as Iceberg allows (int -> long,
 * float -> double, a decimal's precision widened at the same scale); a
 * column produced narrower than the table's type (int for a long column)
 * keeps the table's type, since its values widen on write. Pure: no I/O.
 */
import { LakehouseError } from "../../core/errors.ts";
import { parseDecimal } from "./schema.ts";
import type { IcebergType, NestedField, Schema, StructType } from "./types.ts";

/** A change the table's rules refuse: it names the column, the old and the new type. */
export class SchemaChangeError extends LakehouseError {
  constructor(message: string) {
    super(message);
    this.name = "SchemaChangeError";
  }
}

export interface EvolveOptions {
  /** Field ids the partition spec reads (and identifier fields): they cannot be dropped. */
  readonly keptIds: ReadonlyMap<number, string>;
}

export interface Evolution {
  /** The evolved schema (`schema-id` = nextSchemaId), or the current one when nothing changed. */
  readonly schema: Schema;
  readonly lastColumnId: number;
  /** One line per change, for the log: `added column coupon (string)`. */
  readonly changes: readonly string[];
}

/** Assigns ids depth-first from 1 to a table's first schema; `required` names required top-level columns. */
export function firstSchema(
  desired: StructType,
  required: ReadonlySet<string>,
): { schema: Schema; lastColumnId: number } {
  const ids = { last: 0 };
  const fields = desired.fields.map((f) => fresh(f, ids, required.has(f.name)));
  return { schema: { type: "struct", "schema-id": 0, fields }, lastColumnId: ids.last };
}

export function evolveSchema(
  current: Schema,
  desired: StructType,
  lastColumnId: number,
  nextSchemaId: number,
  options: EvolveOptions,
): Evolution {
  const ids = { last: lastColumnId };
  const changes: string[] = [];
  const fields = reconcileFields("", current.fields, desired.fields, ids, changes, options);
  if (changes.length === 0) return { schema: current, lastColumnId, changes };
  const schema: Schema = {
    type: "struct",
    "schema-id": nextSchemaId,
    fields,
    ...(current["identifier-field-ids"]
      ? { "identifier-field-ids": current["identifier-field-ids"] }
      : {}),
  };
  return { schema, lastColumnId: ids.last, changes };
}

function reconcileFields(
  prefix: string,
  current: readonly NestedField[],
  desired: readonly NestedField[],
  ids: { last: number },
  changes: string[],
  options: EvolveOptions,
): NestedField[] {
  const byName = new Map(current.map((f) => [f.name, f]));
  const seen = new Set<string>();
  const out: NestedField[] = [];
  for (const d of desired) {
    if (seen.has(d.name)) {
      throw new SchemaChangeError(`column ${prefix}${d.name} is produced twice`);
    }
    seen.add(d.name);
    const old = byName.get(d.name);
    if (old === undefined) {
      const added = fresh(d, ids, false);
      changes.push(`added column ${prefix}${d.name} (${typeText(added.type)})`);
      out.push(added);
      continue;
    }
    const type = reconcile(`${prefix}${d.name}`, old.type, d.type, ids, changes, options);
    out.push({ ...old, type });
  }
  for (const old of current) {
    if (seen.has(old.name)) continue;
    for (const id of idsOf(old)) {
      const why = options.keptIds.get(id);
      if (why !== undefined) {
        throw new SchemaChangeError(`column ${prefix}${old.name} cannot be dropped: ${why}`);
      }
    }
    changes.push(`dropped column ${prefix}${old.name} (older data files keep it)`);
  }
  if (changes.length === 0 && out.some((f, i) => f.name !== current[i]?.name)) {
    changes.push(`reordered the columns of ${prefix === "" ? "the table" : prefix.slice(0, -1)}`);
  }
  return out;
}

function reconcile(
  path: string,
  old: IcebergType,
  desired: IcebergType,
  ids: { last: number },
  changes: string[],
  options: EvolveOptions,
): IcebergType {
  if (typeof old === "string" && typeof desired === "string") {
    if (old === desired) return old;
    if (promotes(old, desired)) {
      changes.push(`promoted column ${path} from ${old} to ${desired}`);
      return desired;
    }
    if (promotes(desired, old)) return old; // narrower values widen on write
    throw illegal(path, old, desired);
  }
  if (typeof old === "string" || typeof desired === "string" || old.type !== desired.type) {
    throw illegal(path, old, desired);
  }
  if (old.type === "struct" && desired.type === "struct") {
    return {
      type: "struct",
      fields: reconcileFields(`${path}.`, old.fields, desired.fields, ids, changes, options),
    };
  }
  if (old.type === "list" && desired.type === "list") {
    return {
      ...old,
      element: reconcile(`${path}.element`, old.element, desired.element, ids, changes, options),
    };
  }
  if (old.type === "map" && desired.type === "map") {
    const before = changes.length;
    const key = reconcile(`${path}.key`, old.key, desired.key, ids, changes, options);
    if (changes.length !== before) {
      throw new SchemaChangeError(`column ${path}: the key type of a map cannot change`);
    }
    return {
      ...old,
      key,
      value: reconcile(`${path}.value`, old.value, desired.value, ids, changes, options),
    };
  }
  throw illegal(path, old, desired);
}

/** Whether Iceberg lets a column of type `from` become `to`. */
export function promotes(from: string, to: string): boolean {
  if (from === "int" && to === "long") return true;
  if (from === "float" && to === "double") return true;
  if (from.startsWith("decimal(") && to.startsWith("decimal(")) {
    const a = parseDecimal(from);
    const b = parseDecimal(to);
    return a.scale === b.scale && b.precision > a.precision;
  }
  return false;
}

function illegal(path: string, old: IcebergType, desired: IcebergType): SchemaChangeError {
  return new SchemaChangeError(
    `column ${path} cannot change from ${typeText(old)} to ${typeText(desired)} ` +
      "(Iceberg allows int -> long, float -> double and a wider decimal precision; " +
      "to change a column otherwise, write it under a new name)",
  );
}

/** A field and everything under it with fresh ids, depth-first. */
function fresh(field: NestedField, ids: { last: number }, required: boolean): NestedField {
  const id = ++ids.last;
  return { id, name: field.name, required, type: freshType(field.type, ids) };
}

function freshType(type: IcebergType, ids: { last: number }): IcebergType {
  if (typeof type === "string") return type;
  switch (type.type) {
    case "struct":
      return { type: "struct", fields: type.fields.map((f) => fresh(f, ids, false)) };
    case "list": {
      const elementId = ++ids.last;
      return { ...type, "element-id": elementId, element: freshType(type.element, ids) };
    }
    case "map": {
      const keyId = ++ids.last;
      const valueId = ++ids.last;
      return {
        ...type,
        "key-id": keyId,
        key: freshType(type.key, ids),
        "value-id": valueId,
        value: freshType(type.value, ids),
      };
    }
  }
}

function idsOf(field: NestedField): number[] {
  const out = [field.id];
  const walk = (type: IcebergType) => {
    if (typeof type === "string") return;
    if (type.type === "struct") {
      for (const f of type.fields) out.push(...idsOf(f));
    } else if (type.type === "list") {
      out.push(type["element-id"]);
      walk(type.element);
    } else {
      out.push(type["key-id"], type["value-id"]);
      walk(type.key);
      walk(type.value);
    }
  };
  walk(field.type);
  return out;
}

/** A type as people read it: `list<struct<sku: string, quantity: int>>`. */
export function typeText(type: IcebergType): string {
  if (typeof type === "string") return type;
  switch (type.type) {
    case "struct":
      return `struct<${type.fields.map((f) => `${f.name}: ${typeText(f.type)}`).join(", ")}>`;
    case "list":
      return `list<${typeText(type.element)}>`;
    case "map":
      return `map<${typeText(type.key)}, ${typeText(type.value)}>`;
  }
}
