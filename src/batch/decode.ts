/**
 * Decode + validate of a whole batch, shaped to run in a worker: the batch
 * travels as a few flat buffers (payload and key bytes back to back, lineage
 * in typed arrays) that are moved, not copied, between threads. The result
 * is two files in the scratch directory, the staged NDJSON of the accepted
 * records and the rejected records (payload as received, reason, kind,
 * lineage) as NDJSON for the dead-letter table, with the list of rejections.
 */
import { acceptedHasLineBreak, fastAccepts } from "./fast_accept.ts";
import { encodeRejects, type RejectedRecord, StagedWriter } from "./staged.ts";
import type { RawRecord } from "./types.ts";
import { type RejectKind, validateRecord } from "./validate.ts";

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

export interface Rejection {
  /** Index of the record in its batch. */
  readonly index: number;
  readonly kind: RejectKind;
  readonly reason: string;
}

export interface BlankedPayload {
  /** Line of the staged file (0-based). */
  readonly line: number;
  readonly value: Uint8Array;
}

export interface DecodedBatch {
  /** File with one StagedWriter line per accepted record, in batch order; the caller removes it. */
  readonly stagedPath: string;
  readonly accepted: number;
  readonly rejections: readonly Rejection[];
  /**
   * Exact payloads of the staged lines whose CR/LF whitespace was blanked
   * (rare), by line number: with the staged file they give back every
   * accepted payload as received (for a record a table write fails on).
   */
  readonly blanked: readonly BlankedPayload[];
  /** File with one encodeRejects line per rejection (undefined when none); the caller removes it. */
  readonly rejectsPath: string | undefined;
  readonly rejectsBytes: number;
}

/**
 * Packs a batch. `spare`: a buffer a previous batch's payloads travelled in
 * (the worker hands it back), reused when big enough: a fresh buffer the
 * size of a batch (about 120 MB at 200,000 events) costs a page fault per
 * 4 KiB each time, and waits for a garbage collection in the worker to be
 * freed.
 */
export function packBatch(records: readonly RawRecord[], spare?: ArrayBuffer): PackedBatch {
  const n = records.length;
  let bytes = 0;
  let keyBytes = 0;
  for (const r of records) {
    if (r.value !== null) bytes += r.value.length;
    if (r.key !== null) keyBytes += r.key.length;
  }
  const values = spare !== undefined && spare.byteLength >= bytes
    ? new Uint8Array(spare, 0, bytes)
    : new Uint8Array(
      new ArrayBuffer(Math.ceil(bytes / VALUES_ROUNDING) * VALUES_ROUNDING),
      0,
      bytes,
    );
  const ends = new Uint32Array(n);
  const nulls = new Uint8Array(n);
  const keys = new Uint8Array(keyBytes);
  const keyEnds = new Uint32Array(n);
  const keyNulls = new Uint8Array(n);
  const partitions = new Int32Array(n);
  const offsets = new BigInt64Array(n);
  const timestamps = new Float64Array(n);
  const topicIndex = new Uint16Array(n);
  const topics: string[] = [];
  let topic = "";
  let current = -1;
  let at = 0;
  let keyAt = 0;
  for (let i = 0; i < n; i++) {
    const r = records[i];
    if (r.topic !== topic || current === -1) {
      topic = r.topic;
      current = topics.indexOf(topic);
      if (current === -1) current = topics.push(topic) - 1;
    }
    topicIndex[i] = current;
    if (r.value === null) nulls[i] = 1;
    else {
      values.set(r.value, at);
      at += r.value.length;
    }
    ends[i] = at;
    if (r.key === null) keyNulls[i] = 1;
    else {
      keys.set(r.key, keyAt);
      keyAt += r.key.length;
    }
    keyEnds[i] = keyAt;
    partitions[i] = r.partition;
    offsets[i] = r.offset;
    timestamps[i] = r.timestampMs;
  }
  return {
    topics,
    topicIndex,
    values,
    ends,
    nulls,
    keys,
    keyEnds,
    keyNulls,
    partitions,
    offsets,
    timestamps,
  };
}

/** Payload buffers are allocated in these steps, so that the next batch, a little bigger, fits too. */
const VALUES_ROUNDING = 16 << 20;

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

/**
 * The staged lines are written through one reused buffer per thread (a
 * buffer per batch, the size of the batch, cost a page fault per 4 KiB on
 * every batch); decodeBatch is synchronous, so nothing else uses it meanwhile.
 */
const SCRATCH_BYTES = 4 << 20;
let scratch: Uint8Array | undefined;

/**
 * Validates every record and writes the accepted ones, staged, to
 * `<pathPrefix>.ndjson` and the rejected ones to `<pathPrefix>.rejects.ndjson`
 * (synchronously: in the worker that costs nobody else time).
 */
export function decodeBatch(
  p: PackedBatch,
  ingestedAtMs: number,
  pathPrefix: string,
): DecodedBatch {
  const n = p.ends.length;
  const stagedPath = `${pathPrefix}.ndjson`;
  const file = Deno.openSync(stagedPath, { write: true, create: true, truncate: true });
  const write = (chunk: Uint8Array) => {
    for (let at = 0; at < chunk.length;) at += file.writeSync(chunk.subarray(at));
  };
  const rejections: Rejection[] = [];
  const blanked: BlankedPayload[] = [];
  let accepted = 0;
  try {
    const out = new StagedWriter(scratch ??= new Uint8Array(SCRATCH_BYTES), ingestedAtMs, write);
    let start = 0;
    let keyStart = 0;
    for (let i = 0; i < n; i++) {
      const end = p.ends[i];
      const value = p.nulls[i] === 1 ? null : p.values.subarray(start, end);
      start = end;
      const keyEnd = p.keyEnds[i];
      const key = p.keyNulls[i] === 1 ? null : p.keys.subarray(keyStart, keyEnd);
      keyStart = keyEnd;
      // The plain common record is decided in one pass over its bytes; the
      // rest (and every reject, with its reason) by validateRecord.
      let lineBreaks: boolean | undefined;
      if (fastAccepts(value, key, p.timestamps[i])) lineBreaks = acceptedHasLineBreak();
      else {
        const result = validateRecord(value, key, p.timestamps[i]);
        if (!result.ok) {
          rejections.push({ index: i, kind: result.kind, reason: result.reason });
          continue;
        }
      }
      const topic = p.topics[p.topicIndex[i]];
      if (out.line(topic, p.partitions[i], p.offsets[i], p.timestamps[i], value!, lineBreaks)) {
        blanked.push({ line: accepted, value: value!.slice() });
      }
      accepted++;
    }
    write(out.finish());
  } finally {
    file.close();
  }
  let rejectsPath: string | undefined;
  let rejectsBytes = 0;
  if (rejections.length > 0) {
    rejectsPath = `${pathPrefix}.rejects.ndjson`;
    const lines = encodeRejects(rejections.map((r) => rejected(p, r)), ingestedAtMs);
    Deno.writeFileSync(rejectsPath, lines);
    rejectsBytes = lines.length;
  }
  return {
    stagedPath,
    accepted,
    rejections,
    blanked,
    rejectsPath,
    rejectsBytes,
  };
}

function rejected(p: PackedBatch, r: Rejection): RejectedRecord {
  const i = r.index;
  const value = p.nulls[i] === 1 ? null : p.values.subarray(i === 0 ? 0 : p.ends[i - 1], p.ends[i]);
  const key = p.keyNulls[i] === 1
    ? null
    : p.keys.subarray(i === 0 ? 0 : p.keyEnds[i - 1], p.keyEnds[i]);
  return {
    record: {
      topic: p.topics[p.topicIndex[i]],
      partition: p.partitions[i],
      offset: p.offsets[i],
      key,
      value,
      timestampMs: p.timestamps[i],
    },
    reason: r.reason,
    kind: r.kind,
  };
}
