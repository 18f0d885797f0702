/**
 * Partition transforms (spec section "Partition Transforms"), bit-exact with
 * Java so that readers can prune with partition values we wrote and so that
 * bucket numbers match tables written by Spark, Trino and pyiceberg.
 */
import { LakehouseError } from "../../core/errors.ts";
import { isPrimitive, parseDecimal } from "./schema.ts";
import type { PartitionValue, PrimitiveType, Transform } from "./types.ts";
import {
  decimalToBytes,
  toBytes,
  toInt32,
  toInt64,
  toText,
  toUnscaled,
  uuidToBytes,
} from "./values.ts";

export type TransformName =
  | "identity"
  | "bucket"
  | "truncate"
  | "year"
  | "month"
  | "day"
  | "hour"
  | "void";

export interface ParsedTransform {
  readonly name: TransformName;
  /** Bucket count or truncation width. */
  readonly param?: number;
}

const MICROS_PER_HOUR = 3_600_000_000n;
const MICROS_PER_DAY = 86_400_000_000n;
const utf8 = new TextEncoder();

/** Validates a transform string: `identity`, `bucket[16]`, `truncate[4]`, ... */
export function parseTransform(transform: string): ParsedTransform {
  switch (transform) {
    case "identity":
    case "year":
    case "month":
    case "day":
    case "hour":
    case "void":
      return { name: transform };
  }
  const match = /^(bucket|truncate)\[(\d+)\]$/.exec(transform);
  const param = Number(match?.[2]);
  if (match === null || param < 1 || param > 2 ** 31 - 1) {
    throw new LakehouseError(`unknown partition transform ${JSON.stringify(transform)}`);
  }
  return { name: match[1] as "bucket" | "truncate", param };
}

/** Murmur3 x86 32-bit as a signed int, like Guava's `murmur3_32_fixed().hashBytes().asInt()`. */
export function murmur3_32(bytes: Uint8Array, seed = 0): number {
  const length = bytes.length;
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  let h = seed | 0;
  const blocks = length >>> 2;
  for (let i = 0; i < blocks; i++) {
    const o = i * 4;
    let k = bytes[o] | (bytes[o + 1] << 8) | (bytes[o + 2] << 16) | (bytes[o + 3] << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = blocks * 4;
  let k = 0;
  switch (length & 3) {
    case 3:
      k ^= bytes[tail + 2] << 16;
    // falls through
    case 2:
      k ^= bytes[tail + 1] << 8;
    // falls through
    case 1:
      k ^= bytes[tail];
      k = Math.imul(k, c1);
      k = (k << 15) | (k >>> 17);
      k = Math.imul(k, c2);
      h ^= k;
  }
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

/**
 * The spec's 32-bit hash of a value. Integers of every width (and dates,
 * times, timestamps) hash as 8-byte little-endian longs, so int 34 and long
 * 34 land in the same bucket and type promotion keeps buckets stable.
 */
export function bucketHash(value: unknown, type: PrimitiveType): number {
  return murmur3_32(hashBytes(type, value));
}

/**
 * `bucket[n]` of a string or binary value given its bytes (a string's UTF-8):
 * the spec hashes exactly those bytes, so a caller that holds them skips
 * the string.
 */
export function bucketOfBytes(bytes: Uint8Array, n: number): number {
  return (murmur3_32(bytes) & 0x7fffffff) % n;
}

/**
 * Strings are encoded into one reused buffer (bucketing a batch hashes every
 * key of it); the view returned is only valid until the next call.
 */
let utf8Scratch = new Uint8Array(256);
function utf8Bytes(text: string): Uint8Array {
  // UTF-8 takes at most 3 bytes per UTF-16 code unit.
  if (utf8Scratch.length < text.length * 3) utf8Scratch = new Uint8Array(text.length * 3);
  return utf8Scratch.subarray(0, utf8.encodeInto(text, utf8Scratch).written);
}

function hashBytes(type: PrimitiveType, value: unknown): Uint8Array {
  switch (type) {
    case "int":
    case "date":
      return longBytes(BigInt(toInt32(type, value)));
    case "long":
    case "time":
    case "timestamp":
    case "timestamptz":
      return longBytes(toInt64(type, value));
    case "string":
      return utf8Bytes(toText(type, value));
    case "uuid":
      return uuidToBytes(value);
    case "binary":
      return toBytes(type, value);
  }
  if (type.startsWith("decimal")) {
    return decimalToBytes(toUnscaled(type, parseDecimal(type).precision, value));
  }
  if (type.startsWith("fixed")) return toBytes(type, value);
  throw new LakehouseError(`cannot bucket values of type ${type}`);
}

function longBytes(v: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigInt64(0, v, true);
  return out;
}

/**
 * The type of a transform's result for a source type; throws when the
 * transform does not apply (e.g. `hour` of a date, `bucket` of a double).
 */
export function transformResultType(
  transform: Transform,
  sourceType: PrimitiveType,
): PrimitiveType {
  const { name } = parseTransform(transform);
  if (!isPrimitive(sourceType)) throw notApplicable(transform, sourceType);
  const isTimestamp = sourceType === "timestamp" || sourceType === "timestamptz";
  switch (name) {
    case "identity":
    case "void":
      return sourceType;
    case "bucket":
      if (sourceType === "boolean" || sourceType === "float" || sourceType === "double") break;
      return "int";
    case "truncate":
      if (
        sourceType === "int" || sourceType === "long" || sourceType === "string" ||
        sourceType === "binary" || sourceType.startsWith("decimal")
      ) return sourceType;
      break;
    case "year":
    case "month":
      if (isTimestamp || sourceType === "date") return "int";
      break;
    case "day":
      if (isTimestamp || sourceType === "date") return "date";
      break;
    case "hour":
      if (isTimestamp) return "int";
      break;
  }
  throw notApplicable(transform, sourceType);
}

function notApplicable(transform: string, sourceType: unknown): LakehouseError {
  return new LakehouseError(
    `partition transform ${transform} does not apply to type ${JSON.stringify(sourceType)}`,
  );
}

/**
 * Applies a transform to one source value (JavaScript representation: see
 * values.ts). Null stays null. Time transforms floor, so instants before 1970
 * fall into negative partitions (1969-12-31T23:59:59.999999 is hour -1).
 */
export function applyTransform(
  transform: Transform,
  type: PrimitiveType,
  value: unknown,
): PartitionValue {
  const { name, param } = parseTransform(transform);
  transformResultType(transform, type);
  if (value === null || value === undefined) return null;
  switch (name) {
    case "identity":
      return identityValue(type, value);
    case "void":
      return null;
    case "bucket":
      return (bucketHash(value, type) & 0x7fffffff) % param!;
    case "truncate":
      return truncateValue(type, param!, value);
    case "hour":
      return Number(floorDiv(toInt64(type, value), MICROS_PER_HOUR));
    case "day":
      return epochDay(type, value);
    case "month": {
      const { year, month } = civilFromDays(epochDay(type, value));
      return (year - 1970) * 12 + month - 1;
    }
    case "year":
      return civilFromDays(epochDay(type, value)).year - 1970;
  }
}

function identityValue(type: PrimitiveType, value: unknown): PartitionValue {
  switch (type) {
    case "boolean":
      if (typeof value === "boolean") return value;
      throw new LakehouseError(`bad boolean value ${String(value)}`);
    case "int":
    case "date":
      return toInt32(type, value);
    case "long":
    case "time":
    case "timestamp":
    case "timestamptz":
      return toInt64(type, value);
    case "float":
    case "double":
      if (typeof value === "number") return value;
      throw new LakehouseError(`bad ${type} value ${String(value)}`);
    case "string":
      return toText(type, value);
    case "uuid":
      uuidToBytes(value);
      return value as string | Uint8Array;
    case "binary":
      return toBytes(type, value);
  }
  if (type.startsWith("decimal")) return toUnscaled(type, parseDecimal(type).precision, value);
  return toBytes(type, value);
}

function truncateValue(type: PrimitiveType, width: number, value: unknown): PartitionValue {
  switch (type) {
    case "int": {
      const v = toInt32(type, value);
      return v - (((v % width) + width) % width);
    }
    case "long": {
      const v = toInt64(type, value);
      const w = BigInt(width);
      return v - (((v % w) + w) % w);
    }
    case "string": {
      // Width counts code points, not UTF-16 units, so pairs are never split.
      const s = toText(type, value);
      const points = Array.from(s);
      return points.length <= width ? s : points.slice(0, width).join("");
    }
    case "binary": {
      const b = toBytes(type, value);
      return b.length <= width ? b : b.slice(0, width);
    }
  }
  // Decimals truncate the unscaled value: truncate[50] of 10.65 (1065) is 10.50.
  const v = toUnscaled(type, parseDecimal(type).precision, value);
  const w = BigInt(width);
  return v - (((v % w) + w) % w);
}

/** Days since 1970-01-01 of a date (already days) or a timestamp (micros). */
function epochDay(type: PrimitiveType, value: unknown): number {
  if (type === "date") return toInt32(type, value);
  return Number(floorDiv(toInt64(type, value), MICROS_PER_DAY));
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return (a % b !== 0n && (a < 0n) !== (b < 0n)) ? q - 1n : q;
}

/** Proleptic Gregorian year and month (1-12) of a day count, valid for negative days. */
function civilFromDays(days: number): { year: number; month: number } {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month };
}

/**
 * Default partition field name as Java's `PartitionSpec.Builder` (and so
 * Spark and Trino) derive it: `order_id_bucket`, `event_timestamp_hour`,
 * `sku_trunc`, identity keeps the source name.
 */
export function partitionFieldName(sourceName: string, transform: Transform): string {
  const { name } = parseTransform(transform);
  switch (name) {
    case "identity":
      return sourceName;
    case "truncate":
      return `${sourceName}_trunc`;
    case "void":
      return `${sourceName}_null`;
    default:
      return `${sourceName}_${name}`;
  }
}
