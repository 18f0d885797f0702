/**
 * The engine's record path from Kafka: Fetch requests of our own for the
 * partitions the group assigned to this member, each response read once
 * into one buffer and its record batches decoded into columns of numbers
 * over it (RecordColumns), from which each partition's RawRecords, their
 * keys and values views of that buffer, are made when the feed hands that
 * partition over. kafkajs, which turns every
 * record into several objects, Long arithmetic and strings (3.7 us of CPU
 * per record against 1.1 us here, BENCHMARKS.md), keeps the group:
 * joins, heartbeats, assignments and the group's offsets.
 *
 * Reads committed records only (isolation READ_COMMITTED, aborted
 * transactions and control batches skipped), uncompressed or gzip batches.
 */
import { gunzipSync } from "node:zlib";
import type { RawRecord } from "../batch/types.ts";
import { LakehouseError } from "../core/errors.ts";
import { grown } from "../core/typed_arrays.ts";
import {
  errorName,
  frameRequest,
  METADATA_API,
  Reader,
  readMetadata,
  writeMetadataRequest,
  type Writer,
} from "./wire.ts";

const API_FETCH = 1;
/** Fetch v4: record batches, isolation level, aborted transactions (no sessions). */
const FETCH_VERSION = 4;

/** Per-partition errors a leader change or a restarting broker causes: metadata again, retry. */
const RETRIABLE = new Set([3, 5, 6, 13, 56, 74, 75]);

/** A Kafka error of one partition; `retriable` ones heal with fresh metadata. */
export class FetchError extends LakehouseError {
  constructor(
    readonly partition: number,
    readonly code: number,
    message: string,
  ) {
    super(message, { retriable: RETRIABLE.has(code) });
  }
}

/**
 * Whether a failed fetch is worth retrying: Kafka's retriable error codes,
 * a lost or refused connection, a timeout are; a LakehouseError that says it
 * is not (a codec we cannot read) and an error of the kind only a bug in
 * this program raises (a TypeError and the like) are not: retrying those
 * would repeat the failure forever.
 */
export function fetchRetriable(error: unknown): boolean {
  if (error instanceof LakehouseError) return error.retriable;
  return !(error instanceof TypeError || error instanceof RangeError ||
    error instanceof ReferenceError || error instanceof SyntaxError);
}

export interface FetcherOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly connectTimeoutMs: number;
  readonly topic: string;
  /** Bytes fetched per partition per request. */
  readonly fetchBytesPerPartitionMax: number;
  /** How long the broker may hold a fetch that has nothing to return. */
  readonly maxWaitMs: number;
}

/** One fetch's records of one partition, in offset order. */
export interface FetchedPartition {
  readonly partition: number;
  /**
   * The records, made when asked for: a fetch decodes every
   * partition's records into columns (RecordColumns) and the feed asks for
   * one partition's objects at a time, so the objects of the partitions
   * still waiting for the writers do not exist meanwhile (they would live
   * through garbage collections and be promoted).
   */
  readonly records: RawRecord[];
  /** Where the partition's next fetch starts (past skipped control and aborted batches too). */
  readonly next: bigint;
}

/**
 * A FetchedPartition whose records are made from their columns each time
 * they are asked for (not kept: the partition stays referenced by the
 * fetch's list until the feed is through all of them).
 */
class ColumnsPartition implements FetchedPartition {
  constructor(
    readonly partition: number,
    readonly next: bigint,
    readonly columns: RecordColumns,
  ) {}

  get records(): RawRecord[] {
    return this.columns.records();
  }
}

/**
 * Records of one partition's fetch as columns of numbers over the response
 * bytes (and the inflated bytes of gzip batches): no object per record.
 * `records()` makes the RawRecords, their keys and values views of those
 * bytes.
 */
export class RecordColumns {
  count = 0;
  /** 0: the response's bytes; k: the k-th inflated gzip batch (inflated[k - 1]). */
  readonly inflated: Uint8Array[] = [];
  #source = new Int32Array(INITIAL_COLUMN_ROWS);
  #keyStart = new Int32Array(INITIAL_COLUMN_ROWS);
  /** -1 for a null key. */
  #keyLength = new Int32Array(INITIAL_COLUMN_ROWS);
  #valueStart = new Int32Array(INITIAL_COLUMN_ROWS);
  /** -1 for a null value. */
  #valueLength = new Int32Array(INITIAL_COLUMN_ROWS);
  #offsets = new BigInt64Array(INITIAL_COLUMN_ROWS);
  #timestamps = new Float64Array(INITIAL_COLUMN_ROWS);

  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly bytes: Uint8Array,
  ) {}

  push(
    source: number,
    keyStart: number,
    keyLength: number,
    valueStart: number,
    valueLength: number,
    offset: bigint,
    timestampMs: number,
  ): void {
    const i = this.count;
    if (i === this.#source.length) this.#grow();
    this.#source[i] = source;
    this.#keyStart[i] = keyStart;
    this.#keyLength[i] = keyLength;
    this.#valueStart[i] = valueStart;
    this.#valueLength[i] = valueLength;
    this.#offsets[i] = offset;
    this.#timestamps[i] = timestampMs;
    this.count = i + 1;
  }

  records(): RawRecord[] {
    const out: RawRecord[] = new Array(this.count);
    const { topic, partition } = this;
    for (let i = 0; i < this.count; i++) {
      const data = this.#source[i] === 0 ? this.bytes : this.inflated[this.#source[i] - 1];
      const keyLength = this.#keyLength[i];
      const valueLength = this.#valueLength[i];
      const keyStart = this.#keyStart[i];
      const valueStart = this.#valueStart[i];
      out[i] = {
        topic,
        partition,
        offset: this.#offsets[i],
        key: keyLength < 0 ? null : data.subarray(keyStart, keyStart + keyLength),
        value: valueLength < 0 ? null : data.subarray(valueStart, valueStart + valueLength),
        timestampMs: this.#timestamps[i],
      };
    }
    return out;
  }

  #grow(): void {
    const n = this.#source.length * 2;
    this.#source = grown(this.#source, n);
    this.#keyStart = grown(this.#keyStart, n);
    this.#keyLength = grown(this.#keyLength, n);
    this.#valueStart = grown(this.#valueStart, n);
    this.#valueLength = grown(this.#valueLength, n);
    this.#offsets = grown(this.#offsets, n);
    this.#timestamps = grown(this.#timestamps, n);
  }
}

const INITIAL_COLUMN_ROWS = 1024;

/**
 * Fetches the assigned partitions from their leaders. Not safe for
 * concurrent use: one fetch at a time (the feed's loop).
 */
export class Fetcher {
  readonly #o: FetcherOptions;
  readonly #connections = new Map<number, Connection>();
  #brokers = new Map<number, [string, number]>();
  #leaders = new Map<number, number>();
  #positions = new Map<number, bigint>();
  #generation = 0;

  constructor(options: FetcherOptions) {
    this.#o = options;
  }

  /** Which partitions to read and from where; a new generation (fetches of the old one are void). */
  assign(positions: ReadonlyMap<number, bigint>): void {
    this.#positions = new Map(positions);
    this.#generation++;
  }

  /** Changes with every assign(): a fetch begun in another generation is dropped. */
  get generation(): number {
    return this.#generation;
  }

  /** Moves a partition's position (after OFFSET_OUT_OF_RANGE, to where the log starts). */
  seek(partition: number, offset: bigint): void {
    if (this.#positions.has(partition)) this.#positions.set(partition, offset);
  }

  get assigned(): number[] {
    return [...this.#positions.keys()];
  }

  /**
   * One fetch from every leader of the assigned partitions. Positions move
   * past what is returned. Throws FetchError for a partition's error (the
   * retriable ones after dropping the metadata), and connection errors.
   */
  async fetch(): Promise<FetchedPartition[]> {
    if (this.#positions.size === 0) return [];
    if ([...this.#positions.keys()].some((p) => !this.#leaders.has(p))) {
      await this.#refreshMetadata();
    }
    const generation = this.#generation;
    const byLeader = new Map<number, [number, bigint][]>();
    for (const [partition, offset] of this.#positions) {
      const leader = this.#leaders.get(partition);
      if (leader === undefined) {
        throw new FetchError(
          partition,
          5,
          `partition ${partition} of ${this.#o.topic} has no leader`,
        );
      }
      const list = byLeader.get(leader) ?? byLeader.set(leader, []).get(leader)!;
      list.push([partition, offset]);
    }
    let results: FetchedPartition[][];
    try {
      results = await Promise.all(
        [...byLeader].map(([leader, parts]) => this.#fetchFrom(leader, parts)),
      );
    } catch (error) {
      if (!(error instanceof FetchError) || error.retriable) this.#forget();
      throw error;
    }
    if (generation !== this.#generation) return [];
    const out = results.flat();
    for (const f of out) {
      if (this.#positions.has(f.partition)) this.#positions.set(f.partition, f.next);
    }
    return out;
  }

  close(): void {
    this.#forget();
  }

  /** Drops connections and leaders: the next fetch asks for metadata again. */
  #forget(): void {
    for (const c of this.#connections.values()) c.close();
    this.#connections.clear();
    this.#leaders.clear();
  }

  async #connection(id: number): Promise<Connection> {
    const open = this.#connections.get(id);
    if (open && !open.closed) return open;
    const address = this.#brokers.get(id);
    if (!address) {
      throw new LakehouseError(`broker ${id} is not in the metadata`, { retriable: true });
    }
    const c = await Connection.open(address[0], address[1], this.#o);
    this.#connections.set(id, c);
    return c;
  }

  async #refreshMetadata(): Promise<void> {
    let lastError: unknown;
    for (const broker of this.#o.brokers) {
      const i = broker.lastIndexOf(":");
      let c: Connection | undefined;
      try {
        c = await Connection.open(
          broker.slice(0, i).replace(/^\[|\]$/g, ""),
          Number(broker.slice(i + 1)),
          this.#o,
        );
        const meta = await c.request(
          METADATA_API.key,
          METADATA_API.version,
          (w) => writeMetadataRequest(w, this.#o.topic),
        );
        const { brokers, leaders, error } = readMetadata(meta, this.#o.topic);
        if (error !== 0) {
          throw new FetchError(
            -1,
            error,
            `Kafka has no metadata for topic ${this.#o.topic}: ${errorName(error)}`,
          );
        }
        this.#brokers = brokers;
        this.#leaders = leaders;
        return;
      } catch (error) {
        if (error instanceof FetchError) throw error;
        lastError = error;
      } finally {
        c?.close();
      }
    }
    throw new LakehouseError(
      `cannot read metadata of ${this.#o.topic} from ${this.#o.brokers.join(",")}: ${
        String(lastError)
      }`,
      { retriable: true, cause: lastError },
    );
  }

  async #fetchFrom(leader: number, parts: [number, bigint][]): Promise<FetchedPartition[]> {
    const c = await this.#connection(leader);
    const body = await c.request(API_FETCH, FETCH_VERSION, (w) => {
      w.int32(-1); // replica id: a consumer
      w.int32(this.#o.maxWaitMs);
      w.int32(1); // min bytes
      w.int32(this.#o.fetchBytesPerPartitionMax * 8);
      w.int8(1); // READ_COMMITTED
      w.int32(1);
      w.string(this.#o.topic);
      w.int32(parts.length);
      for (const [partition, offset] of parts) {
        w.int32(partition);
        w.int64(offset);
        w.int32(this.#o.fetchBytesPerPartitionMax);
      }
    });
    const requested = new Map(parts);
    body.int32(); // throttle time
    const out: FetchedPartition[] = [];
    const topics = body.int32();
    for (let t = 0; t < topics; t++) {
      body.string();
      const partitions = body.int32();
      for (let i = 0; i < partitions; i++) {
        const partition = body.int32();
        const code = body.int16();
        body.int64(); // high watermark
        body.int64(); // last stable offset
        const abortedCount = body.int32();
        const aborted: { producerId: bigint; firstOffset: bigint }[] = [];
        for (let a = 0; a < abortedCount; a++) {
          aborted.push({ producerId: body.int64(), firstOffset: body.int64() });
        }
        const size = body.int32();
        const start = body.pos;
        body.pos += Math.max(size, 0);
        if (code !== 0) {
          throw new FetchError(
            partition,
            code,
            `Kafka refused a fetch of partition ${partition} of ${this.#o.topic}: ${
              errorName(code)
            }`,
          );
        }
        const from = requested.get(partition);
        if (from === undefined || size <= 0) continue;
        const columns = new RecordColumns(this.#o.topic, partition, body.bytes);
        const next = decodeRecordBatches(body.bytes, start, start + size, from, aborted, columns);
        out.push(new ColumnsPartition(partition, next, columns));
      }
    }
    return out;
  }
}

/**
 * Decodes the record batches (magic 2) of bytes [start, end) of
 * `target.bytes` into `target`: records at `from` or later, committed
 * (batches of aborted transactions and control batches skipped). Returns
 * the offset after the last whole batch (a response may end in a partial
 * one). Every error a batch can raise is raised here, not when the records
 * are made later.
 */
export function decodeRecordBatches(
  bytes: Uint8Array,
  start: number,
  end: number,
  from: bigint,
  aborted: readonly { producerId: bigint; firstOffset: bigint }[],
  target: RecordColumns,
): bigint {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const pending = [...aborted].sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : 1));
  const abortedProducers = new Set<bigint>();
  let next = from;
  let at = start;
  while (at + BATCH_HEADER <= end) {
    const baseOffset = view.getBigInt64(at);
    const length = view.getInt32(at + 8);
    const batchEnd = at + 12 + length;
    if (length < BATCH_HEADER - 12 || batchEnd > end) break; // partial batch at the end
    const magic = bytes[at + 16];
    if (magic !== 2) {
      throw new LakehouseError(
        `partition ${target.partition} of ${target.topic}: record batch at offset ${baseOffset} ` +
          `has message format ${magic}; only format 2 (Kafka 0.11 and later) is read`,
      );
    }
    const attributes = view.getInt16(at + 21);
    const lastOffset = baseOffset + BigInt(view.getInt32(at + 23));
    const producerId = view.getBigInt64(at + 43);
    const count = view.getInt32(at + 57);
    while (pending.length > 0 && pending[0].firstOffset <= lastOffset) {
      abortedProducers.add(pending.shift()!.producerId);
    }
    const transactional = (attributes & 0x10) !== 0;
    const control = (attributes & 0x20) !== 0;
    if (control) {
      // An ABORT marker ends the producer's aborted transaction.
      if (transactional && count > 0 && isAbortMarker(bytes, view, at + BATCH_HEADER, batchEnd)) {
        abortedProducers.delete(producerId);
      }
    } else if (!(transactional && abortedProducers.has(producerId))) {
      decodeRecords(bytes, view, at, batchEnd, baseOffset, attributes, count, from, target);
    }
    next = lastOffset + 1n > next ? lastOffset + 1n : next;
    at = batchEnd;
  }
  return next;
}

/** Bytes of a record batch before its records. */
const BATCH_HEADER = 61;

function decodeRecords(
  bytes: Uint8Array,
  view: DataView,
  at: number,
  batchEnd: number,
  baseOffset: bigint,
  attributes: number,
  count: number,
  from: bigint,
  target: RecordColumns,
): void {
  const codec = attributes & 0x07;
  let data = bytes;
  let source = 0;
  let p = at + BATCH_HEADER;
  let end = batchEnd;
  if (codec === 1) {
    try {
      data = new Uint8Array(gunzipSync(bytes.subarray(p, batchEnd)));
    } catch (error) {
      throw new LakehouseError(
        `partition ${target.partition} of ${target.topic}: the gzip record batch at offset ` +
          `${baseOffset} does not decompress (${error instanceof Error ? error.message : error})`,
      );
    }
    p = 0;
    end = data.length;
    source = target.inflated.push(data);
  } else if (codec !== 0) {
    const name = ["none", "gzip", "snappy", "lz4", "zstd"][codec] ?? `codec ${codec}`;
    throw new LakehouseError(
      `partition ${target.partition} of ${target.topic}: the record batch at offset ${baseOffset} ` +
        `is compressed with ${name}; the engine reads uncompressed and gzip batches ` +
        `(set the producer's compression.type to none or gzip)`,
    );
  }
  const baseTime = Number(view.getBigInt64(at + 27));
  const cursor = { p };
  for (let i = 0; i < count; i++) {
    varint(data, cursor); // record length
    cursor.p++; // attributes
    const timeDelta = varint(data, cursor);
    const offsetDelta = varint(data, cursor);
    const keyLength = varint(data, cursor);
    const keyStart = cursor.p;
    if (keyLength > 0) cursor.p += keyLength;
    const valueLength = varint(data, cursor);
    const valueStart = cursor.p;
    if (valueLength > 0) cursor.p += valueLength;
    const headers = varint(data, cursor);
    for (let h = 0; h < headers && cursor.p <= end; h++) {
      // Read the length first: `cursor.p += varint(...)` would add it to
      // the position from before the varint.
      const keyBytes = varint(data, cursor);
      cursor.p += Math.max(keyBytes, 0);
      const valueBytes = varint(data, cursor);
      cursor.p += Math.max(valueBytes, 0);
    }
    if (cursor.p > end) {
      throw new LakehouseError(
        `partition ${target.partition} of ${target.topic}: record batch at offset ${baseOffset} ` +
          `is corrupt (a record runs past its end)`,
      );
    }
    const offset = baseOffset + BigInt(offsetDelta);
    if (offset < from) continue;
    target.push(
      source,
      keyStart,
      keyLength < 0 ? -1 : keyLength,
      valueStart,
      valueLength < 0 ? -1 : valueLength,
      offset,
      baseTime + timeDelta,
    );
  }
}

/** Whether a control batch's first record is an ABORT marker (key: version int16, type int16 = 0). */
function isAbortMarker(bytes: Uint8Array, view: DataView, p: number, end: number): boolean {
  const cursor = { p };
  varint(bytes, cursor); // length
  cursor.p++; // attributes
  varint(bytes, cursor); // timestamp delta
  varint(bytes, cursor); // offset delta
  const keyLength = varint(bytes, cursor);
  if (keyLength < 4 || cursor.p + 4 > end) return false;
  return view.getInt16(cursor.p + 2) === 0;
}

/** A zigzag varint at `cursor.p`, which moves past it. */
function varint(b: Uint8Array, cursor: { p: number }): number {
  let byte = b[cursor.p++];
  let raw = byte & 0x7f;
  let scale = 128;
  while (byte >= 0x80) {
    byte = b[cursor.p++];
    raw += (byte & 0x7f) * scale;
    scale *= 128;
  }
  return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
}

/** One TCP connection to a broker, one request at a time; each response read once into its own buffer. */
class Connection {
  readonly #conn: Deno.TcpConn;
  readonly #clientId: string;
  #nextId = 1;
  closed = false;

  private constructor(conn: Deno.TcpConn, clientId: string) {
    this.#conn = conn;
    this.#clientId = clientId;
    conn.setNoDelay(true);
  }

  static async open(host: string, port: number, o: FetcherOptions): Promise<Connection> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const conn = await Promise.race([
        Deno.connect({ hostname: host, port }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new Error(`connect to ${host}:${port} timed out after ${o.connectTimeoutMs} ms`),
              ),
            o.connectTimeoutMs,
          );
        }),
      ]);
      return new Connection(conn, o.clientId);
    } finally {
      clearTimeout(timer);
    }
  }

  async request(apiKey: number, version: number, body: (w: Writer) => void): Promise<Reader> {
    try {
      const id = this.#nextId++;
      const bytes = frameRequest(apiKey, version, id, this.#clientId, body);
      for (let off = 0; off < bytes.length;) off += await this.#conn.write(bytes.subarray(off));
      const head = await this.#read(4);
      const size = new DataView(head.buffer).getInt32(0);
      const frame = await this.#read(size);
      const reader = new Reader(frame);
      const answered = reader.int32();
      if (answered !== id) throw new Error(`response ${answered} does not match request ${id}`);
      return reader;
    } catch (error) {
      this.close();
      throw error;
    }
  }

  async #read(n: number): Promise<Uint8Array> {
    const out = new Uint8Array(n);
    for (let at = 0; at < n;) {
      const got = await this.#conn.read(out.subarray(at));
      if (got === null) throw new Error("the broker closed the connection");
      at += got;
    }
    return out;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }
}
