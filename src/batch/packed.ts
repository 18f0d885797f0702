/**
 * A batch as a few flat buffers: payload and key bytes back to back,
 * lineage in typed arrays. Records are copied in as they arrive (the
 * batcher packs each one when it is added), so a batch holds no object per
 * record: the fetched records and the fetch responses they point into are
 * garbage as soon as they were added, young, instead of living in the batch
 * for seconds and being promoted and traced by every garbage collection in
 * between. The buffers are moved, not copied, to the decode worker.
 */
import { grown } from "../core/typed_arrays.ts";
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
 * Payload buffers past this size grow in steps of it, not by doubling: a
 * buffer kept as a spare is at most a step bigger than the batch it grew
 * for. Below it they double from VALUES_INITIAL (a batch closed early by
 * its trigger interval stays small).
 */
const VALUES_ROUNDING = 16 << 20;
const VALUES_INITIAL = 64 << 10;
/** Room for this many records first; the columns double as needed. */
const INITIAL_RECORDS = 1024;
const INITIAL_KEY_BYTES = 16 << 10;
/** Room made for an expected batch beyond its size: the next batch is rarely much bigger. */
const EXPECTED_SLACK = 1 + 1 / 16;

/** A batch's size, the expected size of the next one (BatchPacker). */
export interface BatchSizes {
  readonly records: number;
  readonly valueBytes: number;
  readonly keyBytes: number;
}

/**
 * Where a packer may find a batch the decode worker is done with, whose
 * buffers it packs the next batch into (see WorkerDecoder).
 */
export type SpareBuffers = () => PackedBatch | undefined;

/**
 * Builds one PackedBatch record by record. The first record brings in a
 * spare batch when there is one: its columns, keys and payload buffers,
 * filled again from the start. A fresh buffer the size of a batch (the
 * payloads alone are about 70 MB at 200,000 events, the columns and keys
 * 13 MB more) costs a page fault per 4 KiB each time, counts as external
 * memory towards the main thread's next full garbage collection, and waits
 * for one in the worker to be freed. Without a spare (the first batches:
 * the worker gives none back before it has decoded one) the buffers are
 * made once at the `expected` size, or without one start small and grow
 * (columns double; the payload buffer doubles from VALUES_INITIAL, then
 * grows in VALUES_ROUNDING steps), each growth a copy of what they hold.
 * Of a spare too small for the expected batch only the buffers with room
 * for it are taken.
 */
export class BatchPacker {
  readonly #spares: SpareBuffers | undefined;
  readonly #expected: BatchSizes | undefined;
  #count = 0;
  #topics: string[] = [];
  #lastTopic = "";
  #lastTopicIndex = -1;
  #values: Uint8Array = new Uint8Array(0);
  #valueBytes = 0;
  #keys: Uint8Array = new Uint8Array(0);
  #keyBytes = 0;
  #ends: Uint32Array = new Uint32Array(0);
  #nulls: Uint8Array = new Uint8Array(0);
  #keyEnds: Uint32Array = new Uint32Array(0);
  #keyNulls: Uint8Array = new Uint8Array(0);
  #partitions: Int32Array = new Int32Array(0);
  #offsets: BigInt64Array = new BigInt64Array(0);
  #timestamps: Float64Array = new Float64Array(0);
  #topicIndex: Uint16Array = new Uint16Array(0);

  /** `expected`: the size the batch will likely reach (the batch before's). */
  constructor(spares?: SpareBuffers, expected?: BatchSizes) {
    this.#spares = spares;
    this.#expected = expected;
  }

  get count(): number {
    return this.#count;
  }

  add(r: RawRecord): void {
    const i = this.#count;
    if (i === this.#ends.length) {
      const spare = i === 0 ? this.#spares?.() : undefined;
      if (spare !== undefined) this.#adopt(spare);
      else if (i === 0 && this.#expected !== undefined) this.#adopt(undefined);
      else this.#growColumns();
    }
    if (r.topic !== this.#lastTopic || this.#lastTopicIndex === -1) {
      this.#lastTopic = r.topic;
      let t = this.#topics.indexOf(r.topic);
      if (t === -1) t = this.#topics.push(r.topic) - 1;
      this.#lastTopicIndex = t;
    }
    this.#topicIndex[i] = this.#lastTopicIndex;
    // Every column is written for every record: a spare holds an earlier batch's values.
    const value = r.value;
    if (value === null) this.#nulls[i] = 1;
    else {
      this.#nulls[i] = 0;
      if (this.#valueBytes + value.length > this.#values.length) this.#growValues(value.length);
      this.#values.set(value, this.#valueBytes);
      this.#valueBytes += value.length;
    }
    this.#ends[i] = this.#valueBytes;
    const key = r.key;
    if (key === null) this.#keyNulls[i] = 1;
    else {
      this.#keyNulls[i] = 0;
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

  /**
   * Makes the empty packer's buffers: `spare`'s where they have room for the
   * expected batch (all of them without an expectation), new ones of the
   * expected size otherwise.
   */
  #adopt(spare: PackedBatch | undefined): void {
    const expected = this.#expected;
    const rows = expected === undefined ? 0 : Math.ceil(expected.records * EXPECTED_SLACK);
    const valueBytes = expected === undefined ? 0 : roundedValues(expected.valueBytes);
    const keyBytes = expected === undefined ? 0 : Math.ceil(expected.keyBytes * EXPECTED_SLACK);
    const spareRows = spare === undefined ? 0 : Math.min(
      // The columns grew together; the fewest records any of them has room for.
      ...[
        spare.topicIndex,
        spare.ends,
        spare.nulls,
        spare.keyEnds,
        spare.keyNulls,
        spare.partitions,
        spare.offsets,
        spare.timestamps,
      ].map((c) => c.buffer.byteLength / c.BYTES_PER_ELEMENT),
    );
    if (spare !== undefined && spareRows > 0 && spareRows >= rows) {
      this.#topicIndex = new Uint16Array(spare.topicIndex.buffer, 0, spareRows);
      this.#ends = new Uint32Array(spare.ends.buffer, 0, spareRows);
      this.#nulls = new Uint8Array(spare.nulls.buffer, 0, spareRows);
      this.#keyEnds = new Uint32Array(spare.keyEnds.buffer, 0, spareRows);
      this.#keyNulls = new Uint8Array(spare.keyNulls.buffer, 0, spareRows);
      this.#partitions = new Int32Array(spare.partitions.buffer, 0, spareRows);
      this.#offsets = new BigInt64Array(spare.offsets.buffer, 0, spareRows);
      this.#timestamps = new Float64Array(spare.timestamps.buffer, 0, spareRows);
    } else if (rows > 0) {
      this.#topicIndex = new Uint16Array(rows);
      this.#ends = new Uint32Array(rows);
      this.#nulls = new Uint8Array(rows);
      this.#keyEnds = new Uint32Array(rows);
      this.#keyNulls = new Uint8Array(rows);
      this.#partitions = new Int32Array(rows);
      this.#offsets = new BigInt64Array(rows);
      this.#timestamps = new Float64Array(rows);
    } else {
      this.#growColumns();
    }
    const spareKeys = spare?.keys.buffer.byteLength ?? 0;
    if (spare !== undefined && spareKeys >= keyBytes) {
      this.#keys = new Uint8Array(spare.keys.buffer);
    } else if (keyBytes > 0) this.#keys = new Uint8Array(Math.max(INITIAL_KEY_BYTES, keyBytes));
    const spareValues = spare?.values.buffer.byteLength ?? 0;
    if (spare !== undefined && spareValues >= valueBytes) {
      this.#values = new Uint8Array(spare.values.buffer);
    } else if (valueBytes > 0) this.#values = new Uint8Array(valueBytes);
  }

  #growColumns(): void {
    const capacity = Math.max(INITIAL_RECORDS, this.#ends.length * 2);
    this.#ends = grown(this.#ends, capacity);
    this.#nulls = grown(this.#nulls, capacity);
    this.#keyEnds = grown(this.#keyEnds, capacity);
    this.#keyNulls = grown(this.#keyNulls, capacity);
    this.#partitions = grown(this.#partitions, capacity);
    this.#topicIndex = grown(this.#topicIndex, capacity);
    this.#offsets = grown(this.#offsets, capacity);
    this.#timestamps = grown(this.#timestamps, capacity);
  }

  #growValues(more: number): void {
    const needed = this.#valueBytes + more;
    const doubled = Math.max(needed, this.#values.length * 2, VALUES_INITIAL);
    const size = doubled <= VALUES_ROUNDING
      ? doubled
      : Math.ceil(Math.max(needed, this.#values.length + 1) / VALUES_ROUNDING) * VALUES_ROUNDING;
    this.#values = grown(this.#values.subarray(0, this.#valueBytes), size);
  }

  #growKeys(more: number): void {
    this.#keys = grown(
      this.#keys.subarray(0, this.#keyBytes),
      Math.max(INITIAL_KEY_BYTES, this.#keys.length * 2, this.#keyBytes + more),
    );
  }
}

/** A payload buffer for `bytes` with the slack, in VALUES_ROUNDING steps past that size. */
function roundedValues(bytes: number): number {
  const wanted = Math.max(VALUES_INITIAL, Math.ceil(bytes * EXPECTED_SLACK));
  return wanted <= VALUES_ROUNDING ? wanted : Math.ceil(wanted / VALUES_ROUNDING) * VALUES_ROUNDING;
}

/** Packs records at once (tests, tools, the inline decoder's callers). */
export function packBatch(records: readonly RawRecord[], spare?: PackedBatch): PackedBatch {
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
