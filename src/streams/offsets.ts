/**
 * Kafka offsets stored in Iceberg snapshot summaries: the exactly-once
 * bookkeeping. A table's summary records the topic and, per partition, the
 * next offset to read. Maintenance commits (compaction, expiry) do not carry
 * the key, so readers walk the snapshot ancestry to the newest one that does.
 */
import type { PartitionRange } from "../batch/types.ts";
import { assert } from "../core/assert.ts";
import { LakehouseError } from "../core/errors.ts";
import { type PendingChange, ValidationError } from "../iceberg/commit/commit.ts";
import { describeJsonSyntaxError } from "../core/json_syntax.ts";
import { ancestorsOf, currentSnapshot } from "../iceberg/spec/metadata.ts";
import type { TableMetadata } from "../iceberg/spec/types.ts";

export const OFFSETS_KEY = "lakehouse.kafka.offsets";

export interface TableOffsets {
  readonly topic: string;
  /** Partition -> next offset to read. */
  readonly next: ReadonlyMap<number, bigint>;
}

export function encodeOffsets(offsets: TableOffsets): string {
  const next: Record<string, string> = {};
  for (const [p, o] of [...offsets.next].sort((a, b) => a[0] - b[0])) {
    next[String(p)] = o.toString();
  }
  return JSON.stringify({ topic: offsets.topic, next });
}

export function decodeOffsets(text: string, where: string): TableOffsets {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // The location and what is wrong, never the summary's text.
    throw new LakehouseError(
      `${where}: ${OFFSETS_KEY} is not valid JSON: ${describeJsonSyntaxError(text)}`,
    );
  }
  const { topic, next } = (value ?? {}) as { topic?: unknown; next?: unknown };
  if (
    typeof topic !== "string" || typeof next !== "object" || next === null || Array.isArray(next)
  ) {
    throw new LakehouseError(
      `${where}: ${OFFSETS_KEY} must be {"topic": string, "next": {partition: offset}}`,
    );
  }
  const offsets = new Map<number, bigint>();
  for (const [p, o] of Object.entries(next)) {
    if (!/^(0|[1-9]\d{0,9})$/.test(p) || typeof o !== "string" || !/^(0|[1-9]\d{0,18})$/.test(o)) {
      throw new LakehouseError(
        `${where}: ${OFFSETS_KEY}.next must map partition numbers to offsets in decimal strings`,
      );
    }
    offsets.set(Number(p), BigInt(o));
  }
  return { topic, next: offsets };
}

/** The offsets of the newest snapshot (in the current ancestry) that recorded them. */
export function readOffsets(metadata: TableMetadata, topic: string): Map<number, bigint> {
  const current = currentSnapshot(metadata);
  if (!current) return new Map();
  for (const snapshot of ancestorsOf(metadata, current["snapshot-id"])) {
    const text = snapshot.summary[OFFSETS_KEY];
    if (text === undefined) continue;
    const offsets = decodeOffsets(text, `snapshot ${snapshot["snapshot-id"]}`);
    if (offsets.topic !== topic) {
      throw new LakehouseError(
        `table ${metadata.location} holds offsets of topic ${offsets.topic}, not ${topic}: refusing to mix topics`,
      );
    }
    return new Map(offsets.next);
  }
  return new Map();
}

/**
 * The part of any commit (an append, a row delta, a compaction's replace)
 * that carries a batch's offsets exactly once: the summary entry, merged per
 * attempt with what the table already records, and the check that no other
 * writer committed these partitions past the offsets the batch was selected
 * with (`expected`), which fails the attempt with ValidationError.
 */
export function withOffsets(options: {
  readonly table: string;
  readonly topic: string;
  /** The batch's partition ranges. */
  readonly ranges: readonly PartitionRange[];
  /** The table's offsets the batch's rows were selected with. */
  readonly expected: ReadonlyMap<number, bigint>;
}): Pick<PendingChange, "summary" | "validate"> {
  const { table, topic, ranges, expected } = options;
  return {
    summary: (base) => {
      const merged = readOffsets(base, topic);
      for (const r of ranges) {
        const now = merged.get(r.partition) ?? 0n;
        // Offsets only move forward: a batch never takes a partition back.
        assert(
          r.nextOffset >= (expected.get(r.partition) ?? 0n),
          "a batch range ends before its start",
        );
        if (now < r.nextOffset) merged.set(r.partition, r.nextOffset);
      }
      return { [OFFSETS_KEY]: encodeOffsets({ topic, next: merged }) };
    },
    validate: (base) => {
      const committed = readOffsets(base, topic);
      for (const r of ranges) {
        const now = committed.get(r.partition) ?? 0n;
        const mine = expected.get(r.partition) ?? 0n;
        if (now > mine) {
          throw new ValidationError(
            `${table}: partition ${r.partition} was committed up to ${now} by another writer (this batch assumed ${mine})`,
          );
        }
      }
    },
  };
}
