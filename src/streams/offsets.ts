/**
 * Kafka offsets stored in Iceberg snapshot summaries: the exactly-once
 * bookkeeping. A table's summary records the topic and, per partition, the
 * next offset to read. Maintenance commits (compaction, expiry) do not carry
 * the key, so readers walk the snapshot ancestry to the newest one that does.
 */
import { LakehouseError } from "../core/errors.ts";
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
