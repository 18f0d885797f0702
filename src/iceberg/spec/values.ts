/**
 * How primitive Iceberg values are represented in JavaScript, and the checks
 * and byte conversions shared by the bound encoding and the bucket hash:
 *
 * - boolean: boolean
 * - int, date (days since epoch): number
 * - long, time, timestamp, timestamptz (micros since epoch): bigint (a safe
 *   integer number is accepted too)
 * - float, double: number
 * - string: string
 * - decimal(P, S): bigint unscaled value (14.20 in decimal(4, 2) is 1420n)
 * - uuid: canonical string `f79c3e09-677c-4bbd-a479-3f349cb785e7` or 16 bytes
 * - fixed[L], binary: Uint8Array
 *
 * Bad values are input errors (they come from data), so they raise
 * LakehouseError naming the type and the value.
 */
import { LakehouseError } from "../../core/errors.ts";
import type { PrimitiveType } from "./types.ts";

export type PrimitiveValue = boolean | number | bigint | string | Uint8Array;

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function describeValue(value: unknown): string {
  if (typeof value === "bigint") return `${value}n`;
  if (value instanceof Uint8Array) return `<${value.length} bytes>`;
  if (typeof value === "string") {
    return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
  }
  return String(value);
}

function badValue(type: string, value: unknown, expected: string): LakehouseError {
  return new LakehouseError(`bad ${type} value ${describeValue(value)}: expected ${expected}`);
}

export function toInt32(type: PrimitiveType, value: unknown): number {
  if (
    typeof value === "number" && Number.isInteger(value) && value >= INT32_MIN && value <= INT32_MAX
  ) {
    return value;
  }
  throw badValue(type, value, "a 32-bit integer number");
}

export function toInt64(type: PrimitiveType, value: unknown): bigint {
  const v = typeof value === "number" && Number.isSafeInteger(value) ? BigInt(value) : value;
  if (typeof v === "bigint" && v >= INT64_MIN && v <= INT64_MAX) return v;
  throw badValue(type, value, "a 64-bit integer bigint");
}

/** A decimal's unscaled bigint, checked against the type's precision. */
export function toUnscaled(type: PrimitiveType, precision: number, value: unknown): bigint {
  if (typeof value !== "bigint") throw badValue(type, value, "the unscaled value as a bigint");
  const abs = value < 0n ? -value : value;
  if (abs >= 10n ** BigInt(precision)) throw badValue(type, value, `at most ${precision} digits`);
  return value;
}

export function toBytes(type: PrimitiveType, value: unknown, length?: number): Uint8Array {
  if (value instanceof Uint8Array && (length === undefined || value.length === length)) {
    return value;
  }
  throw badValue(
    type,
    value,
    length === undefined ? "a Uint8Array" : `a Uint8Array of ${length} bytes`,
  );
}

/** Strings must be well-formed: a lone surrogate would be written as U+FFFD and mislead readers. */
export function toText(type: PrimitiveType, value: unknown): string {
  if (typeof value === "string" && value.isWellFormed()) return value;
  throw badValue(type, value, "a string without lone surrogates");
}

/** Minimal big-endian two's complement, like Java's `BigInteger.toByteArray()`. */
export function decimalToBytes(unscaled: bigint): Uint8Array {
  let length = 1;
  while (unscaled < -(1n << BigInt(8 * length - 1)) || unscaled >= 1n << BigInt(8 * length - 1)) {
    length++;
  }
  const out = new Uint8Array(length);
  let v = BigInt.asUintN(8 * length, unscaled);
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

export function decimalFromBytes(bytes: Uint8Array): bigint {
  if (bytes.length === 0) throw new LakehouseError("bad decimal bytes: empty");
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return BigInt.asIntN(8 * bytes.length, v);
}

export function uuidToBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array && value.length === 16) return value;
  if (typeof value !== "string" || !UUID.test(value)) {
    throw badValue("uuid", value, "a canonical UUID string or 16 bytes");
  }
  const hex = value.replaceAll("-", "");
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function uuidFromBytes(bytes: Uint8Array): string {
  if (bytes.length !== 16) {
    throw new LakehouseError(`bad uuid bytes: ${bytes.length} bytes, expected 16`);
  }
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${
    hex.slice(20)
  }`;
}
