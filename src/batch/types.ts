/**
 * Records and micro-batches as the consumer hands them to the writers. Kept
 * free of any Kafka client type so the batch code runs without a broker.
 */
import type { PackedBatch } from "./packed.ts";

/** One Kafka record as fetched: bytes exactly as received, nothing decoded yet. */
export interface RawRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly key: Uint8Array | null;
  readonly value: Uint8Array | null;
  /** Kafka record timestamp, epoch milliseconds. */
  readonly timestampMs: number;
}

/** The offsets of one partition a batch covers. */
export interface PartitionRange {
  readonly partition: number;
  readonly firstOffset: bigint;
  /** Last offset in the batch + 1: where the next batch of this partition starts. */
  readonly nextOffset: bigint;
}

/** What closed a batch: its record or byte limit, its trigger interval, or an explicit flush. */
export type CloseReason = "records" | "bytes" | "time" | "flush";

export interface Batch {
  /** The records, packed: per partition in offset order, partitions interleaved as they arrived. */
  readonly packed: PackedBatch;
  readonly count: number;
  /** Sum of value and key lengths. */
  readonly bytes: number;
  /** One range per partition present, sorted by partition. */
  readonly ranges: readonly PartitionRange[];
  readonly openedAtMs: number;
  readonly closedAtMs: number;
  readonly reason: CloseReason;
}

/**
 * A closed batch once its records went to the decoder (its packed buffers
 * move to the worker): what stays is each record's lineage, for offset
 * bookkeeping and freshness.
 */
export interface ReleasedBatch extends Omit<Batch, "packed"> {
  readonly partitions: Int32Array;
  readonly offsets: BigInt64Array;
  /** Kafka record timestamps, epoch milliseconds. */
  readonly timestamps: Float64Array;
}

/** The batch's lineage, copied: call before its packed buffers move to the worker. */
export function releaseRecords(batch: Batch): ReleasedBatch {
  const { packed, ...rest } = batch;
  return {
    ...rest,
    partitions: packed.partitions.slice(),
    offsets: packed.offsets.slice(),
    timestamps: packed.timestamps.slice(),
  };
}
