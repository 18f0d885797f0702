/**
 * Partition values between the shared model (`PartitionValue`), Avro
 * (manifest `partition` records) and Iceberg's single-value binary encoding
 * (manifest-list partition bounds).
 *
 * Representations in the model, by partition result type:
 * int/date: number; long/time/timestamp/timestamptz: bigint (number accepted
 * on write); float/double: number; string; boolean; binary/fixed: Uint8Array;
 * uuid: canonical string (16 bytes accepted on write); decimal: the unscaled
 * bigint (two's-complement big-endian bytes accepted on write).
 */
import { Buffer } from "node:buffer";
import { LakehouseError } from "../../core/errors.ts";
import { compareBytesUnsigned, compareStrings, encodeBound } from "../spec/bounds.ts";
import type { IcebergType, PartitionValue, PrimitiveType } from "../spec/types.ts";
import { decimalFromBytes, uuidFromBytes, uuidToBytes } from "../spec/values.ts";
import { type AvroSchema, decimalRequiredBytes } from "./schemas.ts";
import { describeValue } from "./container.ts";

type Kind = "int" | "long" | "float" | "string" | "boolean" | "bytes" | "uuid" | "decimal";

const DECIMAL = /^decimal\((\d+),\s*(\d+)\)$/;
const FIXED = /^fixed\[(\d+)\]$/;

function kindOf(type: IcebergType): Kind {
  if (typeof type !== "string") {
    throw new LakehouseError(`partition result type must be primitive, got ${type.type}`);
  }
  switch (type) {
    case "int":
    case "date":
      return "int";
    case "long":
    case "time":
    case "timestamp":
    case "timestamptz":
      return "long";
    case "float":
    case "double":
      return "float";
    case "string":
    case "boolean":
    case "uuid":
      return type;
    case "binary":
      return "bytes";
  }
  if (DECIMAL.test(type)) return "decimal";
  if (FIXED.test(type)) return "bytes";
  throw new LakehouseError(`unknown Iceberg primitive type ${JSON.stringify(type)}`);
}

function invalid(where: string, type: IcebergType, value: unknown): LakehouseError {
  const shown = typeof value === "bigint"
    ? `${value}n`
    : value instanceof Uint8Array
    ? `${value.byteLength} bytes`
    : JSON.stringify(value);
  return new LakehouseError(`${where}: ${shown} is not a valid ${String(type)} partition value`);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Two's-complement big-endian bytes of `value` in exactly `size` bytes. */
function bigintToBytes(value: bigint, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let v = BigInt.asUintN(8 * size, value);
  for (let i = size - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** The value in its canonical model form, or a clear error for a value of the wrong type. */
export function normalizePartitionValue(
  type: IcebergType,
  value: PartitionValue,
  where: string,
): PartitionValue {
  if (value === null) return null;
  switch (kindOf(type)) {
    case "int":
      if (typeof value === "number" && Number.isInteger(value) && value === (value | 0)) {
        return value;
      }
      break;
    case "long":
      if (typeof value === "bigint" && BigInt.asIntN(64, value) === value) return value;
      if (typeof value === "number" && Number.isSafeInteger(value)) return BigInt(value);
      break;
    case "float":
      if (typeof value === "number") return value;
      break;
    case "string":
      // A lone surrogate would be written as U+FFFD, silently changing the value.
      if (typeof value === "string" && value.isWellFormed()) return value;
      break;
    case "boolean":
      if (typeof value === "boolean") return value;
      break;
    case "bytes": {
      const size = FIXED.exec(type as string)?.[1];
      if (value instanceof Uint8Array && (!size || value.byteLength === Number(size))) {
        return value;
      }
      break;
    }
    case "uuid":
      if (typeof value === "string" && UUID.test(value)) return value.toLowerCase();
      if (value instanceof Uint8Array && value.byteLength === 16) return uuidFromBytes(value);
      break;
    case "decimal": {
      const precision = Number(DECIMAL.exec(type as string)![1]);
      const limit = 10n ** BigInt(precision);
      const unscaled = typeof value === "bigint"
        ? value
        : typeof value === "number" && Number.isSafeInteger(value)
        ? BigInt(value)
        : value instanceof Uint8Array && value.byteLength > 0
        ? decimalFromBytes(value)
        : undefined;
      if (unscaled !== undefined && unscaled < limit && unscaled > -limit) return unscaled;
      break;
    }
  }
  throw invalid(where, type, value);
}

/** The value as avsc encodes it for the Avro type `primitiveAvroType(type)` returns. */
export function toAvroPartitionValue(
  type: IcebergType,
  value: PartitionValue,
  where: string,
): unknown {
  const v = normalizePartitionValue(type, value, where);
  if (v === null) return null;
  switch (kindOf(type)) {
    case "bytes":
      return Buffer.from(v as Uint8Array);
    case "uuid":
      return Buffer.from(uuidToBytes(v));
    case "decimal": {
      const precision = Number(DECIMAL.exec(type as string)![1]);
      return Buffer.from(bigintToBytes(v as bigint, decimalRequiredBytes(precision)));
    }
    default:
      return v;
  }
}

/**
 * A decoded Avro partition value in model form, driven by the writer's Avro
 * type (the reader has no Iceberg type at hand; logical types carry it).
 */
export function fromAvroPartitionValue(
  avroType: AvroSchema,
  value: unknown,
  where = "manifest",
): PartitionValue {
  if (value === null || value === undefined) return null;
  const logical = typeof avroType === "object" && !Array.isArray(avroType)
    ? (avroType as { logicalType?: unknown }).logicalType
    : undefined;
  if (value instanceof Uint8Array) {
    const bytes = new Uint8Array(value); // copy: avsc slices share a pool
    if (logical === "decimal" && bytes.byteLength > 0) return decimalFromBytes(bytes);
    if (logical === "uuid" && bytes.byteLength === 16) return uuidFromBytes(bytes);
    return bytes;
  }
  if (
    typeof value === "number" || typeof value === "bigint" || typeof value === "string" ||
    typeof value === "boolean"
  ) {
    return value;
  }
  throw new LakehouseError(`${where}: unsupported partition value (${describeValue(value)})`);
}

/** Iceberg single-value binary encoding (spec appendix D) of a partition value. */
export function encodePartitionBound(type: IcebergType, value: PartitionValue): Uint8Array {
  const v = normalizePartitionValue(type, value, "partition bound");
  if (v === null) throw new LakehouseError("a null partition value has no bound encoding");
  return encodeBound(type as PrimitiveType, v);
}

/**
 * Orders two non-null, non-NaN normalized values of `type` by value, as
 * Iceberg's comparators do (floats order -0 before 0).
 */
export function comparePartitionValues(
  type: IcebergType,
  a: Exclude<PartitionValue, null>,
  b: Exclude<PartitionValue, null>,
): number {
  switch (kindOf(type)) {
    case "int":
    case "float": {
      const x = a as number;
      const y = b as number;
      if (x !== y) return x < y ? -1 : 1;
      return Object.is(x, -0) === Object.is(y, -0) ? 0 : Object.is(x, -0) ? -1 : 1;
    }
    case "long":
    case "decimal":
      return (a as bigint) < (b as bigint) ? -1 : (a as bigint) > (b as bigint) ? 1 : 0;
    case "string":
      return compareStrings(a as string, b as string);
    case "boolean":
      return Number(a) - Number(b);
    case "bytes":
      return compareBytesUnsigned(a as Uint8Array, b as Uint8Array);
    case "uuid":
      return compareBytesUnsigned(uuidToBytes(a), uuidToBytes(b));
  }
}
