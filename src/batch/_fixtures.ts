/** Shared test fixtures: staged lines of whole batches in memory. */
import { assert } from "../core/assert.ts";
import { StagedWriter } from "./staged.ts";
import type { RawRecord } from "./types.ts";
import type { ValidEvent } from "./validate.ts";

export interface StagedRecord {
  readonly record: RawRecord;
  /** The validated event; its presence is the proof that record.value is a valid payload. */
  readonly event: ValidEvent;
}

/**
 * The staged lines of `records` (StagedWriter's format), one per record in
 * order: what decodeBatch writes to its staged file for the records it
 * accepts.
 */
export function encodeStaged(records: readonly StagedRecord[], ingestedAtMs: number): Uint8Array {
  let capacity = 0;
  for (const { record } of records) capacity += (record.value?.length ?? 0) + 160;
  const out = new StagedWriter(capacity, ingestedAtMs);
  for (const { record } of records) {
    assert(record.value !== null, `staged record at offset ${record.offset} has no payload`);
    out.line(record.topic, record.partition, record.offset, record.timestampMs, record.value);
  }
  return out.finish();
}

/** read_json's `columns` for a staged events file whose payload is read as `payloadType`. */
export function stagedColumns(payloadType: string): string {
  return `{kafka_topic: 'VARCHAR', kafka_partition: 'INTEGER', ` +
    `kafka_offset: 'BIGINT', kafka_timestamp_ms: 'BIGINT', ingested_at_ms: 'BIGINT', ` +
    `payload: '${payloadType}'}`;
}
