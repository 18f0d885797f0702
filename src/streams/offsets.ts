/**
 * Kafka offsets stored in Iceberg snapshot summaries: the exactly-once
 * bookkeeping. A table's summary records the topic and, per partition, the
 * next offset to read. Maintenance commits (compaction, expiry) do not carry
 * the key, so readers walk the snapshot ancestry to the newest one that does.
 */
import { LakehouseError } from "../core/errors.ts";
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
  let value: { topic?: unknown; next?: Record<string, unknown> };
  try {
    value = JSON.parse(text);
  } catch {
    throw new LakehouseError(`${where}: ${OFFSETS_KEY} is not JSON: ${text.slice(0, 100)}`);
  }
  if (typeof value.topic !== "string" || typeof value.next !== "object" || value.next === null) {
    throw new LakehouseError(`${where}: ${OFFSETS_KEY} lacks topic or next: ${text.slice(0, 100)}`);
  }
  const next = new Map<number, bigint>();
  for (const [p, o] of Object.entries(value.next)) next.set(Number(p), BigInt(o as string));
  return { topic: value.topic, next };
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
