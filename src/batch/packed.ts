/**
 * A batch as a few flat buffers: payload and key bytes back to back,
 * lineage in typed arrays. Records are copied in as they arrive (the
 * batcher packs each one when it is added), so a batch holds no object per
 * record: the fetched records and the fetch responses they point into are
 * garbage as soon as they were added, young, instead of living in the batch
 * for seconds and being promoted and traced by every garbage collection in
 * between. The buffers are moved, not copied, to the decode worker.
 */
import type { RawRecord } from "./types.ts";

export interface PackedBatch {
  /** Distinct topics; `topicIndex` points into it. */
  readonly topics: readonly string[];
  readonly topicIndex: Uint16Array;
  /** Every non-null payload, back to back. */
  readonly values: Uint8Array;
  /** Record i's payload is values[ends[i-1] .. ends[i]) (from 0 for i = 0). */
  readonly ends: Uint32Array;
  /** 1 where the record has no payload (a tombstone). */
  readonly nulls: Uint8Array;
  /** Every non-null key, back to back (keys are checked against the payload's order_id). */
  readonly keys: Uint8Array;
  /** Record i's key is keys[keyEnds[i-1] .. keyEnds[i]) (from 0 for i = 0). */
  readonly keyEnds: Uint32Array;
  /** 1 where the record has no key. */
  readonly keyNulls: Uint8Array;
  readonly partitions: Int32Array;
  readonly offsets: BigInt64Array;
  readonly timestamps: Float64Array;
}

/**
 * Payload buffers past this size grow in steps of it, so that the next
 * batch, a little bigger, fits in the spare too; below it they double from
 * VALUES_INITIAL (a batch closed early by its trigger interval stays small).
 */
const VALUES_ROUNDING = 16 << 20;
const VALUES_INITIAL = 64 << 10;
/** Room for this many records first; the columns double as needed. */
const INITIAL_RECORDS = 1024;
const INITIAL_KEY_BYTES = 16 << 10;

/** Where a packer may find a payload buffer an earlier batch is done with (see WorkerDecoder). */
export type SpareBuffers = () => ArrayBuffer | undefined;

/**
 * Builds one PackedBatch record by record. Columns grow by doubling; the
 * payload buffer starts as a spare one when there is one (a fresh buffer
 * the size of a batch, about 70 MB at 200,000 events, costs a page fault
 * per 4 KiB each time, and waits for a garbage collection in the worker to
 * be freed), else small, and doubles, then grows in VALUES_ROUNDING steps.
 */
export class BatchPacker {
  readonly #spares: SpareBuffers | undefined;
  #count = 0;
  #topics: string[] = [];
  #lastTopic = "";
  #lastTopicIndex = -1;
  #values = new Uint8Array(0);
  #valueBytes = 0;
  #keys = new Uint8Array(0);
  #keyBytes = 0;
  #ends = new Uint32Array(0);
  #nulls = new Uint8Array(0);
  #keyEnds = new Uint32Array(0);
  #keyNulls = new Uint8Array(0);
  #partitions = new Int32Array(0);
  #offsets = new BigInt64Array(0);
  #timestamps = new Float64Array(0);
  #topicIndex = new Uint16Array(0);

  constructor(spares?: SpareBuffers) {
    this.#spares = spares;
  }

  get count(): number {
    return this.#count;
  }

  add(r: RawRecord): void {
    const i = this.#count;
    if (i === this.#ends.length) this.#growColumns();
    if (r.topic !== this.#lastTopic || this.#lastTopicIndex === -1) {
      this.#lastTopic = r.topic;
      let t = this.#topics.indexOf(r.topic);
      if (t === -1) t = this.#topics.push(r.topic) - 1;
      this.#lastTopicIndex = t;
    }
    this.#topicIndex[i] = this.#lastTopicIndex;
    const value = r.value;
    if (value === null) this.#nulls[i] = 1;
    else {
      if (this.#valueBytes + value.length > this.#values.length) this.#growValues(value.length);
      this.#values.set(value, this.#valueBytes);
      this.#valueBytes += value.length;
    }
    this.#ends[i] = this.#valueBytes;
    const key = r.key;
    if (key === null) this.#keyNulls[i] = 1;
    else {
      if (this.#keyBytes + key.length > this.#keys.length) this.#growKeys(key.length);
      this.#keys.set(key, this.#keyBytes);
      this.#keyBytes += key.length;
    }
    this.#keyEnds[i] = this.#keyBytes;
    this.#partitions[i] = r.partition;
    this.#offsets[i] = r.offset;
    this.#timestamps[i] = r.timestampMs;
    this.#count = i + 1;
  }

  /** The batch so far; the packer must not be used afterwards. */
  finish(): PackedBatch {
    const n = this.#count;
    return {
      topics: this.#topics,
      topicIndex: this.#topicIndex.subarray(0, n),
      values: this.#values.subarray(0, this.#valueBytes),
      ends: this.#ends.subarray(0, n),
      nulls: this.#nulls.subarray(0, n),
      keys: this.#keys.subarray(0, this.#keyBytes),
      keyEnds: this.#keyEnds.subarray(0, n),
      keyNulls: this.#keyNulls.subarray(0, n),
      partitions: this.#partitions.subarray(0, n),
      offsets: this.#offsets.subarray(0, n),
      timestamps: this.#timestamps.subarray(0, n),
    };
  }

  #growColumns(): void {
    const capacity = Math.max(INITIAL_RECORDS, this.#ends.length * 2);
    const grow = <T extends Uint8Array | Uint16Array | Uint32Array | Int32Array>(
      old: T,
      make: (n: number) => T,
    ): T => {
      const next = make(capacity);
      next.set(old as never);
      return next;
    };
    this.#ends = grow(this.#ends, (n) => new Uint32Array(n));
    this.#nulls = grow(this.#nulls, (n) => new Uint8Array(n));
    this.#keyEnds = grow(this.#keyEnds, (n) => new Uint32Array(n));
    this.#keyNulls = grow(this.#keyNulls, (n) => new Uint8Array(n));
    this.#partitions = grow(this.#partitions, (n) => new Int32Array(n));
    this.#topicIndex = grow(this.#topicIndex, (n) => new Uint16Array(n));
    const offsets = new BigInt64Array(capacity);
    offsets.set(this.#offsets);
    this.#offsets = offsets;
    const timestamps = new Float64Array(capacity);
    timestamps.set(this.#timestamps);
    this.#timestamps = timestamps;
  }

  #growValues(more: number): void {
    const needed = this.#valueBytes + more;
    if (this.#values.length === 0) {
      const spare = this.#spares?.();
      if (spare !== undefined && spare.byteLength >= needed) {
        this.#values = new Uint8Array(spare);
        return;
      }
    }
    const wanted = Math.max(needed, this.#values.length * 2, VALUES_INITIAL);
    const size = wanted <= VALUES_ROUNDING
      ? wanted
      : Math.ceil(wanted / VALUES_ROUNDING) * VALUES_ROUNDING;
    const next = new Uint8Array(size);
    next.set(this.#values.subarray(0, this.#valueBytes));
    this.#values = next;
  }

  #growKeys(more: number): void {
    const next = new Uint8Array(
      Math.max(INITIAL_KEY_BYTES, this.#keys.length * 2, this.#keyBytes + more),
    );
    next.set(this.#keys.subarray(0, this.#keyBytes));
    this.#keys = next;
  }
}

/** Packs records at once (tests, tools, the inline decoder's callers). */
export function packBatch(records: readonly RawRecord[], spare?: ArrayBuffer): PackedBatch {
  let given = spare;
  const packer = new BatchPacker(() => {
    const s = given;
    given = undefined;
    return s;
  });
  for (const r of records) packer.add(r);
  return packer.finish();
}

/** Record i of a packed batch, its key and value views of the batch's buffers. */
export function packedRecord(p: PackedBatch, i: number): RawRecord {
  return {
    topic: p.topics[p.topicIndex[i]],
    partition: p.partitions[i],
    offset: p.offsets[i],
    key: p.keyNulls[i] === 1 ? null : p.keys.subarray(i === 0 ? 0 : p.keyEnds[i - 1], p.keyEnds[i]),
    value: p.nulls[i] === 1 ? null : p.values.subarray(i === 0 ? 0 : p.ends[i - 1], p.ends[i]),
    timestampMs: p.timestamps[i],
  };
}

/** Every record of a packed batch (tests, and the rare paths that need records back). */
export function unpackRecords(p: PackedBatch): RawRecord[] {
  return Array.from({ length: p.ends.length }, (_, i) => packedRecord(p, i));
}

/** The buffers of a packed batch, to transfer it to a worker. */
export function packedBuffers(p: PackedBatch): ArrayBuffer[] {
  return [
    p.topicIndex,
    p.values,
    p.ends,
    p.nulls,
    p.keys,
    p.keyEnds,
    p.keyNulls,
    p.partitions,
    p.offsets,
    p.timestamps,
  ].map((a) => a.buffer as ArrayBuffer);
}
