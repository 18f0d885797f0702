/**
 * Avro object container files (Avro spec, "Object Container Files"), the
 * format of Iceberg manifests and manifest lists. Records are encoded by
 * avsc; the framing is written here so output needs no Node streams and is
 * a pure function of its input (apart from the random sync marker).
 *
 * Layout: magic `Obj\x01`, a metadata map (string -> bytes, holding
 * `avro.schema`, `avro.codec` and the caller's keys), a 16-byte sync marker,
 * then blocks of (record count, byte size, codec-compressed records, sync
 * marker).
 *
 * Avro longs are decoded as bigint: snapshot ids and sequence numbers exceed
 * 2^53, and avsc's default long type silently rounds them.
 */
import avsc from "avsc";
import { Buffer } from "node:buffer";
import { deflateRawSync, inflateRawSync } from "node:zlib";
import { LakehouseError } from "../../core/errors.ts";
import { describeJsonSyntaxError } from "../../core/json_syntax.ts";
import type { AvroSchema } from "./schemas.ts";

/** A file that is not a valid Avro container, or is cut short or damaged. */
export class AvroFormatError extends LakehouseError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = "AvroFormatError";
  }
}

const MAGIC = new Uint8Array([0x4f, 0x62, 0x6a, 0x01]); // "Obj" 1
const SYNC_SIZE = 16;
/** Uncompressed bytes per block before starting a new one; Java's default sync interval. */
const DEFAULT_BLOCK_BYTES = 64_000;

export type AvroCodec = "null" | "deflate";

export interface WriteContainerOptions {
  /** Default "deflate", which Iceberg writers use for manifests. */
  readonly codec?: AvroCodec;
  /** Extra file metadata; keys starting with `avro.` are reserved. */
  readonly metadata?: Readonly<Record<string, string>>;
  /** 16 bytes; random by default. */
  readonly syncMarker?: Uint8Array;
  /** Target uncompressed size of a block. */
  readonly blockBytes?: number;
}

export interface ContainerContents {
  /** The writer's schema, parsed from `avro.schema`. */
  readonly schema: AvroSchema;
  readonly codec: string;
  /** All metadata entries, `avro.schema` and `avro.codec` included, decoded as UTF-8. */
  readonly metadata: Record<string, string>;
  /**
   * Decoded records: objects keyed by Avro field name, longs as bigint,
   * bytes and fixed as Node Buffers that may share memory (copy to keep).
   */
  readonly records: unknown[];
}

/** Zigzag varint bytes of one long, reused across calls (avsc copies them out at once). */
const VARINT = new Uint8Array(10);
const VARINT_OUT = Array.from({ length: 11 }, (_, n) => Buffer.alloc(n));
/** Below this magnitude, zigzag arithmetic on numbers is exact and much faster than on bigint. */
const NUMBER_PATH_LIMIT = 2n ** 51n;

function longToVarint(value: bigint | number): Buffer {
  let len = 0;
  if (
    typeof value === "number" || (value < NUMBER_PATH_LIMIT && value > -NUMBER_PATH_LIMIT)
  ) {
    const x = Number(value);
    let v = x >= 0 ? x * 2 : -x * 2 - 1;
    while (v >= 0x80) {
      VARINT[len++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    VARINT[len++] = v;
  } else {
    let v = BigInt.asUintN(64, (value << 1n) ^ (value >> 63n));
    while (v >= 0x80n) {
      VARINT[len++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    VARINT[len++] = Number(v);
  }
  const out = VARINT_OUT[len];
  for (let i = 0; i < len; i++) out[i] = VARINT[i];
  return out;
}

function longFromVarint(bytes: Uint8Array): bigint {
  if (bytes.length <= 7) {
    let v = 0;
    for (let i = bytes.length - 1; i >= 0; i--) v = v * 0x80 + (bytes[i] & 0x7f);
    return BigInt(v % 2 === 0 ? v / 2 : -(v + 1) / 2);
  }
  if (bytes.length > 10) throw new Error(`long varint of ${bytes.length} bytes`);
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 7n) | BigInt(bytes[i] & 0x7f);
  return BigInt.asIntN(64, (v >> 1n) ^ -(v & 1n));
}

/**
 * Long values as bigint in both directions; plain integer numbers are accepted
 * on write. avsc hands over the raw varint bytes (`noUnpack`), which are
 * decoded here without its per-value 8-byte buffer allocations.
 */
const BIGINT_LONG = avsc.types.LongType.__with({
  fromBuffer: longFromVarint,
  toBuffer: longToVarint,
  fromJSON: (value: unknown) => BigInt(value as string | number),
  toJSON: (value: bigint) => value.toString(),
  isValid: (value: unknown) =>
    (typeof value === "bigint" && BigInt.asIntN(64, value) === value) ||
    (typeof value === "number" && Number.isSafeInteger(value)),
  compare: (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0),
}, true);

/**
 * Routes every long to BIGINT_LONG, including `{"type": "long", "logicalType": ...}`
 * (timestamps, times), which avsc would otherwise build as its lossy native long.
 */
function bigintLongHook(schema: avsc.Schema): avsc.Type | undefined {
  const isLong = schema === "long" ||
    (typeof schema === "object" && !Array.isArray(schema) &&
      (schema as { type?: unknown }).type === "long");
  return isLong ? BIGINT_LONG : undefined;
}

const typeCache = new Map<string, avsc.Type>();
const TYPE_CACHE_LIMIT = 64;

/** Parsed avsc type for a schema, cached because scans read many files with the same schema. */
function avroType(schema: AvroSchema): avsc.Type {
  const key = JSON.stringify(schema);
  let type = typeCache.get(key);
  if (type) return type;
  try {
    type = avsc.Type.forSchema(schema as avsc.Schema, { typeHook: bigintLongHook });
  } catch (error) {
    throw new AvroFormatError(`invalid Avro schema: ${(error as Error).message}`, { cause: error });
  }
  if (typeCache.size >= TYPE_CACHE_LIMIT) typeCache.delete(typeCache.keys().next().value!);
  typeCache.set(key, type);
  return type;
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Growable byte sink for the container framing. */
class ByteWriter {
  #chunks: Uint8Array[] = [];
  #length = 0;

  bytes(data: Uint8Array): void {
    this.#chunks.push(data);
    this.#length += data.byteLength;
  }

  /** Avro long: zigzag then base-128 varint, low groups first. */
  long(value: number): void {
    let n = value >= 0 ? value * 2 : -value * 2 - 1;
    const out: number[] = [];
    while (n >= 0x80) {
      out.push((n % 0x80) | 0x80);
      n = Math.floor(n / 0x80);
    }
    out.push(n);
    this.bytes(new Uint8Array(out));
  }

  /** Length-prefixed bytes (Avro `bytes` and, after UTF-8 encoding, `string`). */
  lengthPrefixed(data: Uint8Array): void {
    this.long(data.byteLength);
    this.bytes(data);
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.#length);
    let pos = 0;
    for (const chunk of this.#chunks) {
      out.set(chunk, pos);
      pos += chunk.byteLength;
    }
    return out;
  }
}

/**
 * What a value is, for errors: its type and size, never its content (records
 * carry table data: partition values, bounds, paths).
 */
export function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "nothing";
  if (typeof value === "bigint") {
    return BigInt.asIntN(64, value) === value ? "an integer" : "an integer beyond 64 bits";
  }
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return "a non-finite number";
    if (!Number.isInteger(value)) return "a number with a fraction";
    return Number.isSafeInteger(value) ? "an integer" : "an integer beyond 2^53";
  }
  if (typeof value === "string") return `a string of ${value.length} characters`;
  if (typeof value === "boolean") return "a boolean";
  if (value instanceof Uint8Array) return `${value.byteLength} bytes`;
  if (Array.isArray(value)) return `an array of ${value.length} items`;
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

function typeLabel(type: avsc.Type): string {
  const branches = (type as unknown as { types?: avsc.Type[] }).types;
  if (branches) return branches.map(typeLabel).join(" or ");
  return type.typeName === "abstract:long" ? "long" : type.typeName;
}

function encodeRecord(type: avsc.Type, record: unknown, index: number): Buffer {
  try {
    return type.toBuffer(record);
  } catch (error) {
    // avsc's own message dumps the whole record; report the offending field instead.
    const problems: string[] = [];
    type.isValid(record, {
      errorHook: (path: string[], value: unknown, fieldType: avsc.Type) => {
        const where = path.length ? path.join(".") : "(record)";
        problems.push(
          `field ${where}: ${describeValue(value)} is not a valid ${typeLabel(fieldType)}`,
        );
      },
    });
    // avsc's own message quotes the record; it is used only when no field is named.
    const detail = problems.length ? problems.join("; ") : "it does not fit the schema";
    throw new LakehouseError(`cannot encode Avro record #${index}: ${detail}`, { cause: error });
  }
}

function compress(codec: string, data: Uint8Array): Uint8Array {
  if (codec === "null") return data;
  if (codec === "deflate") return new Uint8Array(deflateRawSync(data));
  throw new LakehouseError(`unsupported Avro codec ${JSON.stringify(codec)} for writing`);
}

/** Writes `records` (plain objects matching `schema`) as an Avro object container file. */
export function writeContainer(
  schema: AvroSchema,
  records: Iterable<unknown>,
  options: WriteContainerOptions = {},
): Uint8Array {
  const codec = options.codec ?? "deflate";
  const blockBytes = options.blockBytes ?? DEFAULT_BLOCK_BYTES;
  const sync = options.syncMarker ?? crypto.getRandomValues(new Uint8Array(SYNC_SIZE));
  if (sync.byteLength !== SYNC_SIZE) {
    throw new LakehouseError(`Avro sync marker must be ${SYNC_SIZE} bytes`);
  }
  const type = avroType(schema);
  const utf8 = new TextEncoder();

  const out = new ByteWriter();
  out.bytes(MAGIC);
  const metadata: [string, string][] = [
    ["avro.schema", JSON.stringify(schema)],
    ["avro.codec", codec],
  ];
  for (const [key, value] of Object.entries(options.metadata ?? {})) {
    if (key.startsWith("avro.")) {
      throw new LakehouseError(`Avro metadata key ${key} is reserved`);
    }
    metadata.push([key, value]);
  }
  out.long(metadata.length);
  for (const [key, value] of metadata) {
    out.lengthPrefixed(utf8.encode(key));
    out.lengthPrefixed(utf8.encode(value));
  }
  out.long(0);
  out.bytes(sync);

  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  const flush = () => {
    if (pending.length === 0) return;
    const raw = new Uint8Array(pendingBytes);
    let pos = 0;
    for (const chunk of pending) {
      raw.set(chunk, pos);
      pos += chunk.byteLength;
    }
    const data = compress(codec, raw);
    out.long(pending.length);
    out.long(data.byteLength);
    out.bytes(data);
    out.bytes(sync);
    pending = [];
    pendingBytes = 0;
  };
  let index = 0;
  for (const record of records) {
    const encoded = encodeRecord(type, record, index++);
    pending.push(encoded);
    pendingBytes += encoded.byteLength;
    if (pendingBytes >= blockBytes) flush();
  }
  flush();
  return out.finish();
}

/** Sequential reader over the container bytes that names what is missing when input ends early. */
class ByteReader {
  pos = 0;
  constructor(readonly data: Uint8Array) {}

  get remaining(): number {
    return this.data.byteLength - this.pos;
  }

  long(what: string): number {
    const start = this.pos;
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.data.byteLength) {
        throw new AvroFormatError(
          `truncated Avro file: ${what} at byte ${start} runs past the end of the file ` +
            `(${this.data.byteLength} bytes)`,
        );
      }
      const b = this.data[this.pos++];
      result |= BigInt(b & 0x7f) << shift;
      shift += 7n;
      if ((b & 0x80) === 0) break;
      if (shift >= 70n) {
        throw new AvroFormatError(
          `corrupt Avro file: ${what} at byte ${start} is not a valid long`,
        );
      }
    }
    const value = (result >> 1n) ^ -(result & 1n);
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new AvroFormatError(`corrupt Avro file: ${what} at byte ${start} is ${value}`);
    }
    return Number(value);
  }

  take(length: number, what: string): Uint8Array {
    if (length < 0) {
      throw new AvroFormatError(
        `corrupt Avro file: ${what} at byte ${this.pos} has length ${length}`,
      );
    }
    if (length > this.remaining) {
      throw new AvroFormatError(
        `truncated Avro file: ${what} at byte ${this.pos} needs ${length} bytes ` +
          `but only ${this.remaining} remain`,
      );
    }
    const out = this.data.subarray(this.pos, this.pos + length);
    this.pos += length;
    return out;
  }
}

/** Avro's codec names: a file's codec is named in errors only when it is one of these. */
const KNOWN_CODECS: ReadonlySet<string> = new Set([
  "null",
  "deflate",
  "snappy",
  "bzip2",
  "xz",
  "zstandard",
]);

function decompress(codec: string, data: Uint8Array, block: number): Uint8Array {
  if (codec === "null") return data;
  if (codec === "deflate") {
    try {
      return new Uint8Array(inflateRawSync(data));
    } catch (error) {
      throw new AvroFormatError(
        `corrupt Avro file: block ${block} does not inflate (deflate codec): ${
          (error as Error).message
        }`,
        { cause: error },
      );
    }
  }
  const named = KNOWN_CODECS.has(codec) ? JSON.stringify(codec) : "of an unknown name";
  throw new AvroFormatError(`unsupported Avro codec ${named} (supported: null, deflate)`);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Reads an Avro object container file with its writer's schema (codecs null
 * and deflate). Errors say where the file is damaged and what was expected,
 * never what it holds (a foreign file's text could be anything).
 */
export function readContainer(bytes: Uint8Array): ContainerContents {
  const input = new ByteReader(bytes);
  if (bytes.byteLength < MAGIC.byteLength || !sameBytes(bytes.subarray(0, 4), MAGIC)) {
    throw new AvroFormatError(
      bytes.byteLength < MAGIC.byteLength
        ? `truncated Avro file: ${bytes.byteLength} bytes, shorter than the 4-byte magic`
        : "not an Avro object container file: missing magic bytes 'Obj\\x01'",
    );
  }
  input.pos = MAGIC.byteLength;

  const utf8 = new TextDecoder();
  const metadata: Record<string, string> = {};
  for (let entry = 0;;) {
    let count = input.long("metadata block count");
    if (count === 0) break;
    if (count < 0) {
      count = -count;
      input.long("metadata block size");
    }
    for (let i = 0; i < count; i++, entry++) {
      const key = utf8.decode(
        input.take(
          input.long(`key length of metadata entry ${entry}`),
          `key of metadata entry ${entry}`,
        ),
      );
      const value = input.take(
        input.long(`value length of metadata entry ${entry}`),
        `value of metadata entry ${entry}`,
      );
      metadata[key] = utf8.decode(value);
    }
  }
  const sync = input.take(SYNC_SIZE, "header sync marker");

  const schemaText = metadata["avro.schema"];
  if (schemaText === undefined) {
    throw new AvroFormatError("not a valid Avro container: header has no avro.schema");
  }
  let schema: AvroSchema;
  try {
    schema = JSON.parse(schemaText);
  } catch (error) {
    throw new AvroFormatError(
      `corrupt Avro file: avro.schema is not valid JSON: ${describeJsonSyntaxError(schemaText)}`,
      { cause: error },
    );
  }
  const codec = metadata["avro.codec"] ?? "null";
  let type: avsc.Type;
  try {
    type = avroType(schema);
  } catch (error) {
    // avsc's message quotes the schema's names and types.
    throw new AvroFormatError("corrupt Avro file: avro.schema is not a valid Avro schema", {
      cause: error,
    });
  }

  const records: unknown[] = [];
  for (let block = 0; input.remaining > 0; block++) {
    const count = input.long(`record count of block ${block}`);
    const size = input.long(`byte size of block ${block}`);
    if (count < 0) {
      throw new AvroFormatError(`corrupt Avro file: block ${block} has record count ${count}`);
    }
    const data = input.take(size, `data of block ${block}`);
    const marker = input.pos;
    if (input.remaining < SYNC_SIZE) {
      throw new AvroFormatError(
        `truncated Avro file: sync marker after block ${block} (byte ${marker}) is missing; ` +
          `only ${input.remaining} of ${SYNC_SIZE} bytes remain`,
      );
    }
    if (!sameBytes(input.take(SYNC_SIZE, "sync marker"), sync)) {
      throw new AvroFormatError(
        `corrupt Avro file: sync marker after block ${block} (byte ${marker}) ` +
          `does not match the header's`,
      );
    }
    const raw = asBuffer(decompress(codec, data, block));
    let offset = 0;
    for (let i = 0; i < count; i++) {
      let decoded: { value: unknown; offset: number };
      try {
        decoded = type.decode(raw, offset);
      } catch (error) {
        // avsc's message may quote what it read (an enum symbol, a union index).
        throw new AvroFormatError(
          `corrupt Avro file: record ${i} of block ${block} does not decode with the file's schema`,
          { cause: error },
        );
      }
      if (decoded.offset < 0) {
        throw new AvroFormatError(
          `corrupt Avro file: block ${block} declares ${count} records but its data ends ` +
            `inside record ${i}`,
        );
      }
      records.push(decoded.value);
      offset = decoded.offset;
    }
    if (offset !== raw.byteLength) {
      throw new AvroFormatError(
        `corrupt Avro file: block ${block} has ${raw.byteLength - offset} bytes left ` +
          `after its ${count} records`,
      );
    }
  }
  return { schema, codec, metadata, records };
}
