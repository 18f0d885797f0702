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
  /** Smallest Kafka timestamp in the batch, for freshness (record time -> visible). */
  readonly oldestTimestampMs: number;
}
