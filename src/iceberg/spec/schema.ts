/**
 * Schema navigation: flattening nested types into field ids and dotted names,
 * and parsing the parameterised primitive types (decimal, fixed).
 */
import { LakehouseError } from "../../core/errors.ts";
import type { IcebergType, NestedField, PrimitiveType, StructType } from "./types.ts";

/** One field of a flattened schema, including list elements and map keys/values. */
export interface SchemaField {
  readonly id: number;
  /** Full dotted name as Iceberg indexes it: `items.element.sku`, `attrs.key`. */
  readonly name: string;
  readonly type: IcebergType;
  readonly required: boolean;
  /** Id of the enclosing field; absent for top-level fields. */
  readonly parentId?: number;
}

const SIMPLE_PRIMITIVES: ReadonlySet<string> = new Set([
  "boolean",
  "int",
  "long",
  "float",
  "double",
  "date",
  "time",
  "timestamp",
  "timestamptz",
  "string",
  "uuid",
  "binary",
]);

const DECIMAL = /^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$/;
const FIXED = /^fixed\[\s*(\d+)\s*\]$/;

/** Iceberg limits decimals to 38 digits (a 16-byte unscaled value). */
const MAX_DECIMAL_PRECISION = 38;

export function isPrimitive(type: IcebergType): type is PrimitiveType {
  return typeof type === "string";
}

/**
 * Every field of a struct in pre-order (parents before children), with list
 * elements named `element` and map entries `key` / `value` as Java does.
 */
export function allFields(struct: StructType): SchemaField[] {
  const out: SchemaField[] = [];
  const visit = (type: IcebergType, prefix: string, parentId: number | undefined): void => {
    if (isPrimitive(type)) return;
    const add = (id: number, name: string, t: IcebergType, required: boolean) => {
      const full = prefix === "" ? name : `${prefix}.${name}`;
      out.push(
        parentId === undefined ? { id, name: full, type: t, required } : {
          id,
          name: full,
          type: t,
          required,
          parentId,
        },
      );
      visit(t, full, id);
    };
    switch (type.type) {
      case "struct":
        for (const f of type.fields) add(f.id, f.name, f.type, f.required);
        break;
      case "list":
        add(type["element-id"], "element", type.element, type["element-required"]);
        break;
      case "map":
        add(type["key-id"], "key", type.key, true);
        add(type["value-id"], "value", type.value, type["value-required"]);
        break;
    }
  };
  visit(struct, "", undefined);
  return out;
}

export function findField(struct: StructType, id: number): SchemaField | undefined {
  return allFields(struct).find((f) => f.id === id);
}

/** Highest field id anywhere inside a type; 0 when it has none. */
export function maxFieldId(type: IcebergType): number {
  if (isPrimitive(type)) return 0;
  switch (type.type) {
    case "struct":
      return type.fields.reduce(
        (max, f: NestedField) => Math.max(max, f.id, maxFieldId(f.type)),
        0,
      );
    case "list":
      return Math.max(type["element-id"], maxFieldId(type.element));
    case "map":
      return Math.max(
        type["key-id"],
        type["value-id"],
        maxFieldId(type.key),
        maxFieldId(type.value),
      );
  }
}

/**
 * The primitive type of field `id`, for code that encodes its values
 * (partition sources, column bounds). Throws when the field is missing or nested.
 */
export function primitiveTypeOf(struct: StructType, id: number): PrimitiveType {
  const field = findField(struct, id);
  if (field === undefined) throw new LakehouseError(`schema has no field with id ${id}`);
  if (!isPrimitive(field.type)) {
    throw new LakehouseError(
      `field ${field.name} (id ${id}) is a ${field.type.type}, not a primitive`,
    );
  }
  return field.type;
}

/**
 * Recognises a primitive type name and normalises the spacing of decimals to
 * Java's `decimal(P, S)`; undefined when `text` is not a primitive type.
 */
export function parsePrimitiveType(text: string): PrimitiveType | undefined {
  if (SIMPLE_PRIMITIVES.has(text)) return text as PrimitiveType;
  const decimal = DECIMAL.exec(text);
  if (decimal !== null) {
    const precision = Number(decimal[1]);
    const scale = Number(decimal[2]);
    if (precision < 1 || precision > MAX_DECIMAL_PRECISION) return undefined;
    return `decimal(${precision}, ${scale})`;
  }
  const fixed = FIXED.exec(text);
  if (fixed !== null) return `fixed[${Number(fixed[1])}]`;
  return undefined;
}

/** `decimal(12, 2)` or `decimal(12,2)` -> `{ precision: 12, scale: 2 }`. */
export function parseDecimal(type: string): { precision: number; scale: number } {
  const match = DECIMAL.exec(type);
  const precision = Number(match?.[1]);
  const scale = Number(match?.[2]);
  if (match === null || precision < 1 || precision > MAX_DECIMAL_PRECISION) {
    throw new LakehouseError(
      `not a decimal type: ${JSON.stringify(type)} (expected decimal(P, S) with P from 1 to 38)`,
    );
  }
  return { precision, scale };
}

/** `fixed[16]` -> 16. */
export function parseFixed(type: string): number {
  const match = FIXED.exec(type);
  if (match === null) throw new LakehouseError(`not a fixed type: ${JSON.stringify(type)}`);
  return Number(match[1]);
}
