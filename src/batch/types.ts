/**
 * Records and micro-batches as the consumer hands them to the writers. Kept
 * free of any Kafka client type so the batch code runs without a broker.
 */

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
  /** Per partition in offset order; partitions interleaved as they arrived. */
  readonly records: readonly RawRecord[];
  /** Sum of value and key lengths. */
  readonly bytes: number;
  /** One range per partition present, sorted by partition. */
  readonly ranges: readonly PartitionRange[];
  readonly openedAtMs: number;
  readonly closedAtMs: number;
  readonly reason: CloseReason;
}

/**
 * A closed batch once its records went to the decoder: the payloads are
 * released (they may pin whole fetch responses), what stays is each record's
 * lineage, for offset bookkeeping and freshness.
 */
export interface ReleasedBatch extends Omit<Batch, "records"> {
  readonly count: number;
  readonly partitions: Int32Array;
  readonly offsets: BigInt64Array;
  /** Kafka record timestamps, epoch milliseconds. */
  readonly timestamps: Float64Array;
}

export function releaseRecords(batch: Batch): ReleasedBatch {
  const n = batch.records.length;
  const partitions = new Int32Array(n);
  const offsets = new BigInt64Array(n);
  const timestamps = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const r = batch.records[i];
    partitions[i] = r.partition;
    offsets[i] = r.offset;
    timestamps[i] = r.timestampMs;
  }
  const { records: _, ...rest } = batch;
  return { ...rest, count: n, partitions, offsets, timestamps };
}
