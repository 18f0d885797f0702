/**
 * Groups consumed records into micro-batches bounded by a record count, a
 * byte size and a trigger interval. Each batch becomes one commit of the
 * events table (the dead-letter table gathers rejects across batches and
 * commits them every 10 s or so), so the limits trade commit overhead
 * against freshness and memory. Time is passed in by the caller, which
 * keeps the batcher pure and testable. Records are packed as they are added
 * (packed.ts): the batch keeps no record objects.
 */
import { assert } from "../core/assert.ts";
import { BatchPacker, type BatchSizes, packedRecord, type SpareBuffers } from "./packed.ts";
import type { Batch, CloseReason, PartitionRange, RawRecord } from "./types.ts";

export interface BatchLimits {
  /** A batch closes as soon as it holds this many records. */
  readonly batchRecordsMax: number;
  /** A batch never grows past this many bytes, except a single larger record alone. */
  readonly batchBytesMax: number;
  /** A non-empty batch closes once it has been open this long. */
  readonly triggerIntervalMs: number;
}

const LIMIT_NAMES = ["batchRecordsMax", "batchBytesMax", "triggerIntervalMs"] as const;

/** Offsets of one partition within the open batch. */
interface OpenRange {
  readonly firstOffset: bigint;
  lastOffset: bigint;
}

export class MicroBatcher {
  readonly limits: Readonly<BatchLimits>;
  readonly #spares: SpareBuffers | undefined;
  #packer: BatchPacker;
  /** The last closed batch's size: the next packer makes its buffers for about as much. */
  #sizes: BatchSizes | undefined;
  #bytes = 0;
  #openedAtMs = 0;
  /** Ranges of the open batch, by partition. */
  #ranges = new Map<number, OpenRange>();
  /**
   * Last offset added per partition, across batches: a consumer that
   * re-delivers or reorders records would otherwise commit duplicates.
   */
  readonly #lastOffsets = new Map<number, bigint>();

  /** `spares`: batches the decoder is done with, whose buffers new ones are packed into. */
  constructor(limits: BatchLimits, spares?: SpareBuffers) {
    for (const name of LIMIT_NAMES) {
      const value = limits[name];
      if (!Number.isSafeInteger(value) || value < 1) {
        throw new RangeError(`${name} must be a positive integer, got ${String(value)}`);
      }
    }
    this.limits = Object.freeze({
      batchRecordsMax: limits.batchRecordsMax,
      batchBytesMax: limits.batchBytesMax,
      triggerIntervalMs: limits.triggerIntervalMs,
    });
    this.#spares = spares;
    this.#packer = new BatchPacker(spares);
  }

  /** The offset after the last one added for a partition, or undefined if none was (or it was revoked). */
  nextOffset(partition: number): bigint | undefined {
    const last = this.#lastOffsets.get(partition);
    return last === undefined ? undefined : last + 1n;
  }

  get pendingRecords(): number {
    return this.#packer.count;
  }

  get pendingBytes(): number {
    return this.#bytes;
  }

  /**
   * Adds a record and returns the batches this closed (zero, one or two), in
   * order. An open batch that is already due closes first, so a busy feed
   * whose timer runs late still honours the trigger interval; one the record
   * would push past batchBytesMax closes too. The batch holding the record
   * closes once it reaches batchRecordsMax records or batchBytesMax bytes,
   * which is how a record larger than the byte limit ends up alone.
   *
   * With `holdDue` (the writers are still busy with earlier batches) a due
   * batch stays open and keeps filling up to its limits: closing it could
   * not make it visible sooner, and a small batch costs nearly as much to
   * write as a full one. The caller closes it with poll once they are free.
   */
  add(record: RawRecord, nowMs: number, holdDue = false): Batch[] {
    const last = this.#lastOffsets.get(record.partition);
    assert(
      last === undefined || record.offset > last,
      `offset ${record.offset} of partition ${record.partition} does not follow ${last}`,
    );
    const size = recordBytes(record);
    const closed: Batch[] = [];
    if (this.#packer.count > 0) {
      if (!holdDue && nowMs - this.#openedAtMs >= this.limits.triggerIntervalMs) {
        closed.push(this.#close(nowMs, "time"));
      } else if (this.#bytes + size > this.limits.batchBytesMax) {
        closed.push(this.#close(nowMs, "bytes"));
      }
    }
    if (this.#packer.count === 0) this.#openedAtMs = nowMs;
    this.#packer.add(record);
    this.#bytes += size;
    this.#lastOffsets.set(record.partition, record.offset);
    const range = this.#ranges.get(record.partition);
    if (range === undefined) {
      this.#ranges.set(record.partition, {
        firstOffset: record.offset,
        lastOffset: record.offset,
      });
    } else {
      range.lastOffset = record.offset;
    }
    if (this.#packer.count >= this.limits.batchRecordsMax) {
      closed.push(this.#close(nowMs, "records"));
    } else if (this.#bytes >= this.limits.batchBytesMax) {
      closed.push(this.#close(nowMs, "bytes"));
    }
    return closed;
  }

  /** Closes the open batch if it holds records and its trigger interval has passed. */
  poll(nowMs: number): Batch | undefined {
    if (this.#packer.count === 0) return undefined;
    if (nowMs - this.#openedAtMs < this.limits.triggerIntervalMs) return undefined;
    return this.#close(nowMs, "time");
  }

  /** Closes the open batch now whatever its size (shutdown, rebalance); undefined if empty. */
  flush(nowMs: number): Batch | undefined {
    if (this.#packer.count === 0) return undefined;
    return this.#close(nowMs, "flush");
  }

  /**
   * Drops buffered records of partitions this consumer lost in a rebalance:
   * their new owner reads them again from the tables' committed offsets, so
   * committing them here would duplicate them. The open batch keeps its
   * opening time, and the offset check of those partitions starts afresh in
   * case they come back.
   */
  revoke(partitions: readonly number[]): void {
    if (partitions.length === 0) return;
    const revoked = new Set(partitions);
    for (const p of revoked) {
      this.#lastOffsets.delete(p);
      this.#ranges.delete(p);
    }
    // Rare (a rebalance): the open batch is packed again without them.
    const old = this.#packer.finish();
    const kept = new BatchPacker(this.#spares, this.#sizes);
    let bytes = 0;
    for (let i = 0; i < old.ends.length; i++) {
      if (revoked.has(old.partitions[i])) continue;
      const r = packedRecord(old, i);
      kept.add(r);
      bytes += recordBytes(r);
    }
    this.#packer = kept;
    this.#bytes = bytes;
  }

  #close(nowMs: number, reason: CloseReason): Batch {
    assert(this.#packer.count > 0, "closing an empty batch");
    const ranges: PartitionRange[] = [];
    for (const [partition, r] of this.#ranges) {
      ranges.push(
        Object.freeze({ partition, firstOffset: r.firstOffset, nextOffset: r.lastOffset + 1n }),
      );
    }
    ranges.sort((a, b) => a.partition - b.partition);
    const batch: Batch = Object.freeze({
      packed: this.#packer.finish(),
      count: this.#packer.count,
      bytes: this.#bytes,
      ranges: Object.freeze(ranges),
      openedAtMs: this.#openedAtMs,
      closedAtMs: nowMs,
      reason,
    });
    // The closed batch keeps the packer's buffers: a new packer.
    this.#sizes = {
      records: batch.count,
      valueBytes: batch.packed.values.length,
      keyBytes: batch.packed.keys.length,
    };
    this.#packer = new BatchPacker(this.#spares, this.#sizes);
    this.#bytes = 0;
    this.#ranges = new Map();
    return batch;
  }
}

function recordBytes(record: RawRecord): number {
  return (record.value?.length ?? 0) + (record.key?.length ?? 0);
}
