/**
 * The few pieces of the Kafka wire protocol the fast producer needs: request
 * framing, a growable big-endian writer, a reader for responses, RecordBatch
 * v2 encoding with CRC-32C, and zig-zag varints. Written against the protocol
 * guide (kafka.apache.org/protocol); only non-flexible request versions are
 * used, which every Kafka from 2.1 to 4.x accepts.
 */

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256 * 8);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[i] = c >>> 0;
  }
  // Slicing-by-8 tables: eight bytes per step instead of one.
  for (let i = 0; i < 256; i++) {
    let c = table[i];
    for (let t = 1; t < 8; t++) {
      c = table[c & 0xff] ^ (c >>> 8);
      table[t * 256 + i] = c >>> 0;
    }
  }
  return table;
})();

/** CRC-32C (Castagnoli), the checksum of Kafka record batches. */
export function crc32c(bytes: Uint8Array, start = 0, end = bytes.length): number {
  const t = CRC32C_TABLE;
  let crc = 0xffffffff;
  let i = start;
  for (; i + 8 <= end; i += 8) {
    crc ^= bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    crc = t[1792 + (crc & 0xff)] ^ t[1536 + ((crc >>> 8) & 0xff)] ^
      t[1280 + ((crc >>> 16) & 0xff)] ^ t[1024 + (crc >>> 24)] ^
      t[768 + bytes[i + 4]] ^ t[512 + bytes[i + 5]] ^ t[256 + bytes[i + 6]] ^ t[bytes[i + 7]];
  }
  for (; i < end; i++) crc = t[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** Appends big-endian values into one growing buffer. */
export class Writer {
  buf: Uint8Array;
  view: DataView;
  pos = 0;

  constructor(capacity = 1 << 16) {
    this.buf = new Uint8Array(capacity);
    this.view = new DataView(this.buf.buffer);
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  int8(v: number): void {
    this.ensure(1);
    this.view.setInt8(this.pos, v);
    this.pos += 1;
  }
  int16(v: number): void {
    this.ensure(2);
    this.view.setInt16(this.pos, v);
    this.pos += 2;
  }
  int32(v: number): void {
    this.ensure(4);
    this.view.setInt32(this.pos, v);
    this.pos += 4;
  }
  int64(v: bigint): void {
    this.ensure(8);
    this.view.setBigInt64(this.pos, v);
    this.pos += 8;
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  /** Kafka STRING: int16 length + UTF-8; null as -1. */
  string(s: string | null): void {
    if (s === null) return this.int16(-1);
    const b = ENCODER.encode(s);
    this.int16(b.length);
    this.bytes(b);
  }
  /** Zig-zag varint (Kafka records use these for lengths and deltas). */
  varint(v: number): void {
    let z = ((v << 1) ^ (v >> 31)) >>> 0;
    this.ensure(5);
    while (z >= 0x80) {
      this.buf[this.pos++] = (z & 0x7f) | 0x80;
      z >>>= 7;
    }
    this.buf[this.pos++] = z;
  }
  setInt32(at: number, v: number): void {
    this.view.setInt32(at, v);
  }
  setUint32(at: number, v: number): void {
    this.view.setUint32(at, v);
  }
  result(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}

const ENCODER = new TextEncoder();
const DECODER = new TextDecoder();

/** Reads big-endian values from a response body. */
export class Reader {
  readonly #view: DataView;
  readonly #buf: Uint8Array;
  pos = 0;

  constructor(buf: Uint8Array) {
    this.#buf = buf;
    this.#view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  /** The bytes read from (for views into a response, e.g. record batches). */
  get bytes(): Uint8Array {
    return this.#buf;
  }
  int8(): number {
    return this.#view.getInt8(this.pos++);
  }
  int16(): number {
    const v = this.#view.getInt16(this.pos);
    this.pos += 2;
    return v;
  }
  int32(): number {
    const v = this.#view.getInt32(this.pos);
    this.pos += 4;
    return v;
  }
  int64(): bigint {
    const v = this.#view.getBigInt64(this.pos);
    this.pos += 8;
    return v;
  }
  bool(): boolean {
    return this.int8() !== 0;
  }
  string(): string | null {
    const n = this.int16();
    if (n < 0) return null;
    const s = DECODER.decode(this.#buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return s;
  }
  array<T>(item: () => T): T[] {
    const n = this.int32();
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(item());
    return out;
  }
}

export interface WireRecord {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

export interface BatchHeader {
  readonly producerId: bigint;
  readonly producerEpoch: number;
  readonly baseSequence: number;
  readonly timestampMs: number;
}

/**
 * Appends one uncompressed RecordBatch (magic 2) holding `records` to `w`,
 * stamped with the producer id/epoch/sequence that make it idempotent.
 */
export function writeRecordBatch(w: Writer, records: readonly WireRecord[], h: BatchHeader): void {
  const start = w.pos;
  w.int64(0n); // base offset: assigned by the broker
  const lengthAt = w.pos;
  w.int32(0); // batch length, patched below
  w.int32(-1); // partition leader epoch
  w.int8(2); // magic
  const crcAt = w.pos;
  w.int32(0); // crc, patched below
  const crcFrom = w.pos;
  w.int16(0); // attributes: no compression, create time, not transactional
  w.int32(records.length - 1); // last offset delta
  w.int64(BigInt(h.timestampMs));
  w.int64(BigInt(h.timestampMs));
  w.int64(h.producerId);
  w.int16(h.producerEpoch);
  w.int32(h.baseSequence);
  w.int32(records.length);
  for (let i = 0; i < records.length; i++) {
    const { key, value } = records[i];
    const bodySize = 1 + 1 + varintSize(i) + varintSize(key.length) + key.length +
      varintSize(value.length) + value.length + 1;
    w.varint(bodySize);
    w.ensure(bodySize);
    w.int8(0); // record attributes
    w.varint(0); // timestamp delta
    w.varint(i); // offset delta
    w.varint(key.length);
    w.bytes(key);
    w.varint(value.length);
    w.bytes(value);
    w.varint(0); // headers
  }
  w.setInt32(lengthAt, w.pos - lengthAt - 4);
  w.setUint32(crcAt, crc32c(w.buf, crcFrom, w.pos));
  void start;
}

export function varintSize(v: number): number {
  let z = ((v << 1) ^ (v >> 31)) >>> 0;
  let n = 1;
  while (z >= 0x80) {
    z >>>= 7;
    n++;
  }
  return n;
}

/** A request frame: size, API key and version, correlation id, client id, then `body`. */
export function frameRequest(
  apiKey: number,
  version: number,
  correlationId: number,
  clientId: string,
  body: (w: Writer) => void,
  size = 256,
): Uint8Array {
  const w = new Writer(size + 64);
  w.int32(0);
  w.int16(apiKey);
  w.int16(version);
  w.int32(correlationId);
  w.string(clientId);
  body(w);
  w.setInt32(0, w.pos - 4);
  return w.result();
}

/** What a Metadata v8 response says about one topic. */
export interface TopicMetadata {
  /** Broker id -> host and port. */
  readonly brokers: Map<number, [string, number]>;
  /** Partition -> leader broker id, for the partitions that have one and no error. */
  readonly leaders: Map<number, number>;
  /** Every partition of the topic. */
  readonly partitions: number[];
  /** The topic's error code (3, UNKNOWN_TOPIC_OR_PARTITION, when it is not in the response). */
  readonly error: number;
}

/** API key and version of the Metadata request readMetadata reads the answer of. */
export const METADATA_API = { key: 3, version: 8 } as const;

/** The body of a Metadata v8 request for one topic (never creating it). */
export function writeMetadataRequest(w: Writer, topic: string): void {
  w.int32(1);
  w.string(topic);
  w.int8(0); // allow_auto_topic_creation
  w.int8(0); // include cluster authorized operations
  w.int8(0); // include topic authorized operations
}

/** Reads a Metadata v8 response (after its correlation id) for `topic`. */
export function readMetadata(meta: Reader, topic: string): TopicMetadata {
  meta.int32(); // throttle
  const brokers = new Map<number, [string, number]>();
  const brokerCount = meta.int32();
  for (let i = 0; i < brokerCount; i++) {
    const id = meta.int32();
    const host = meta.string()!;
    const port = meta.int32();
    meta.string(); // rack
    brokers.set(id, [host, port]);
  }
  meta.string(); // cluster id
  meta.int32(); // controller
  const leaders = new Map<number, number>();
  const partitions: number[] = [];
  let error = 3;
  const topics = meta.int32();
  for (let t = 0; t < topics; t++) {
    const topicError = meta.int16();
    const name = meta.string();
    meta.bool(); // internal
    const count = meta.int32();
    for (let i = 0; i < count; i++) {
      const partitionError = meta.int16();
      const index = meta.int32();
      const leader = meta.int32();
      meta.int32(); // leader epoch
      for (let k = 0; k < 3; k++) meta.array(() => meta.int32()); // replicas, isr, offline
      if (name !== topic) continue;
      partitions.push(index);
      if (partitionError === 0 && leader >= 0) leaders.set(index, leader);
    }
    meta.int32(); // authorized operations
    if (name === topic) error = topicError;
  }
  return { brokers, leaders, partitions, error };
}

/** Names of the Kafka error codes the engine and the generator meet (others by number). */
const ERROR_NAMES: Record<number, string> = {
  1: "OFFSET_OUT_OF_RANGE",
  2: "CORRUPT_MESSAGE",
  3: "UNKNOWN_TOPIC_OR_PARTITION",
  5: "LEADER_NOT_AVAILABLE",
  6: "NOT_LEADER_OR_FOLLOWER",
  7: "REQUEST_TIMED_OUT",
  10: "MESSAGE_TOO_LARGE",
  13: "NETWORK_EXCEPTION",
  14: "COORDINATOR_LOAD_IN_PROGRESS",
  15: "COORDINATOR_NOT_AVAILABLE",
  16: "NOT_COORDINATOR",
  19: "NOT_ENOUGH_REPLICAS",
  20: "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
  29: "TOPIC_AUTHORIZATION_FAILED",
  45: "OUT_OF_ORDER_SEQUENCE_NUMBER",
  46: "DUPLICATE_SEQUENCE_NUMBER",
  47: "INVALID_PRODUCER_EPOCH",
  56: "KAFKA_STORAGE_ERROR",
  59: "UNKNOWN_PRODUCER_ID",
  74: "FENCED_LEADER_EPOCH",
  75: "UNKNOWN_LEADER_EPOCH",
};

/** A Kafka error code's name, e.g. 6 -> NOT_LEADER_OR_FOLLOWER. */
export function errorName(code: number): string {
  return ERROR_NAMES[code] ?? `error code ${code}`;
}
