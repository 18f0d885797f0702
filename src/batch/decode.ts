/**
 * Decode + validate of a whole batch, shaped to run in a worker: the batch
 * travels packed (packed.ts), in a few flat buffers moved, not copied,
 * between threads. The result is two files in the scratch directory, the
 * staged NDJSON of the accepted records and the rejected records (payload
 * as received, reason, kind, lineage) as NDJSON for the dead-letter table,
 * with the list of rejections.
 */
import { acceptedHasLineBreak, fastAccepts } from "./fast_accept.ts";
import { encodeRejects, type RejectedRecord, StagedWriter } from "./staged.ts";
import { type PackedBatch, packedRecord } from "./packed.ts";
import { type RejectKind, validateRecord } from "./validate.ts";

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
  return { record: packedRecord(p, r.index), reason: r.reason, kind: r.kind };
}
