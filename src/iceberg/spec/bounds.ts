/**
 * Column bounds: Iceberg's single-value binary encoding (spec appendix D),
 * the orderings readers use to compare bounds, and Java-compatible truncation
 * of long string and binary bounds.
 */
import { LakehouseError } from "../../core/errors.ts";
import { parseDecimal, parseFixed } from "./schema.ts";
import type { PrimitiveType } from "./types.ts";
import {
  decimalFromBytes,
  decimalToBytes,
  type PrimitiveValue,
  toBytes,
  toInt32,
  toInt64,
  toText,
  toUnscaled,
  uuidFromBytes,
  uuidToBytes,
} from "./values.ts";

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Encodes one value of `type` (JavaScript representation: see values.ts). */
export function encodeBound(type: PrimitiveType, value: unknown): Uint8Array {
  switch (type) {
    case "boolean":
      if (typeof value !== "boolean") throw badBound(type, value);
      return Uint8Array.of(value ? 1 : 0);
    case "int":
    case "date": {
      const out = new Uint8Array(4);
      new DataView(out.buffer).setInt32(0, toInt32(type, value), true);
      return out;
    }
    case "long":
    case "time":
    case "timestamp":
    case "timestamptz": {
      const out = new Uint8Array(8);
      new DataView(out.buffer).setBigInt64(0, toInt64(type, value), true);
      return out;
    }
    case "float": {
      if (typeof value !== "number") throw badBound(type, value);
      const out = new Uint8Array(4);
      new DataView(out.buffer).setFloat32(0, value, true);
      return out;
    }
    case "double": {
      if (typeof value !== "number") throw badBound(type, value);
      const out = new Uint8Array(8);
      new DataView(out.buffer).setFloat64(0, value, true);
      return out;
    }
    case "string":
      return utf8Encoder.encode(toText(type, value));
    case "uuid":
      return uuidToBytes(value).slice();
    case "binary":
      return toBytes(type, value).slice();
  }
  if (type.startsWith("decimal")) {
    return decimalToBytes(toUnscaled(type, parseDecimal(type).precision, value));
  }
  if (type.startsWith("fixed")) return toBytes(type, value, parseFixed(type)).slice();
  throw new LakehouseError(`no bound encoding for type ${type}`);
}

/**
 * Decodes a bound of `type`. Also reads bounds written before a type
 * promotion (int -> long, float -> double), which keep their old width.
 */
export function decodeBound(type: PrimitiveType, bytes: Uint8Array): PrimitiveValue {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const need = (...lengths: number[]) => {
    if (!lengths.includes(bytes.length)) {
      throw new LakehouseError(
        `bad ${type} bound: ${bytes.length} bytes, expected ${lengths.join(" or ")}`,
      );
    }
  };
  switch (type) {
    case "boolean":
      need(1);
      return bytes[0] !== 0;
    case "int":
    case "date":
      need(4);
      return view.getInt32(0, true);
    case "long":
      need(4, 8);
      return bytes.length === 4 ? BigInt(view.getInt32(0, true)) : view.getBigInt64(0, true);
    case "time":
    case "timestamp":
    case "timestamptz":
      need(8);
      return view.getBigInt64(0, true);
    case "float":
      need(4);
      return view.getFloat32(0, true);
    case "double":
      need(4, 8);
      return bytes.length === 4 ? view.getFloat32(0, true) : view.getFloat64(0, true);
    case "string":
      try {
        return utf8Decoder.decode(bytes);
      } catch (cause) {
        throw new LakehouseError("bad string bound: not valid UTF-8", { cause });
      }
    case "uuid":
      return uuidFromBytes(bytes);
    case "binary":
      return bytes.slice();
  }
  if (type.startsWith("decimal")) return decimalFromBytes(bytes);
  if (type.startsWith("fixed")) {
    need(parseFixed(type));
    return bytes.slice();
  }
  throw new LakehouseError(`no bound encoding for type ${type}`);
}

function badBound(type: PrimitiveType, value: unknown): LakehouseError {
  return new LakehouseError(`bad ${type} value ${String(value)}: expected a ${typeof value}`);
}

/** Lexicographic order of unsigned bytes; a prefix sorts first. */
export function compareBytesUnsigned(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}

/**
 * Orders strings by code point, which equals the order of their UTF-8 bytes.
 * JavaScript's `<` compares UTF-16 units, which puts U+10000.. (surrogate
 * pairs, 0xD800..) before U+E000..U+FFFF: the opposite of every other engine.
 */
export function compareStrings(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // Shared prefix, so both units are lead surrogates or neither is a trail:
    // lifting surrogates above U+E000..U+FFFF yields code point order.
    if (x >= 0xd800 && y >= 0xd800) {
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}

/** The first `length` code points: a lower bound of `s`. */
export function truncateStringLower(s: string, length: number): string {
  const end = codePointOffset(s, length);
  return end === undefined ? s : s.slice(0, end);
}

/**
 * The shortest upper bound of `s` with at most `length` code points: the
 * first `length` code points with the last one incremented (carrying into the
 * previous one when it is U+10FFFF), like Java's `UnicodeUtil.truncateStringMax`.
 * Surrogate code points are skipped since they are not valid in UTF-8.
 * Undefined when no such bound exists (every code point is U+10FFFF).
 */
export function truncateStringUpper(s: string, length: number): string | undefined {
  const end = codePointOffset(s, length);
  if (end === undefined) return s;
  const points = Array.from(s.slice(0, end), (c) => c.codePointAt(0)!);
  for (let i = points.length - 1; i >= 0; i--) {
    let next = points[i] + 1;
    if (next >= 0xd800 && next <= 0xdfff) next = 0xe000;
    if (next <= 0x10ffff) return String.fromCodePoint(...points.slice(0, i), next);
  }
  return undefined;
}

/** The first `length` bytes: a lower bound of `bytes`. */
export function truncateBinaryLower(bytes: Uint8Array, length: number): Uint8Array {
  return bytes.length <= length ? bytes : bytes.slice(0, length);
}

/**
 * The first `length` bytes with the last byte below 0xFF incremented (later
 * bytes dropped), like Java's `BinaryUtil.truncateBinaryMax`; undefined when
 * no upper bound exists.
 */
export function truncateBinaryUpper(bytes: Uint8Array, length: number): Uint8Array | undefined {
  if (bytes.length <= length) return bytes;
  for (let i = length - 1; i >= 0; i--) {
    if (bytes[i] !== 0xff) {
      const out = bytes.slice(0, i + 1);
      out[i]++;
      return out;
    }
  }
  return undefined;
}

/** UTF-16 offset just after `count` code points; undefined when `s` is not longer. */
function codePointOffset(s: string, count: number): number | undefined {
  if (!Number.isInteger(count) || count < 1) {
    throw new RangeError(`truncation length must be a positive integer, got ${count}`);
  }
  if (s.length <= count) return undefined;
  let offset = 0;
  for (let n = 0; n < count; n++) {
    if (offset >= s.length) return undefined;
    offset += s.codePointAt(offset)! > 0xffff ? 2 : 1;
  }
  return offset >= s.length ? undefined : offset;
}
