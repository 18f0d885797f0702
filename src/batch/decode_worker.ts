/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
/**
 * The decode worker: validates batches and stages the accepted and the
 * rejected records off the main thread, which stays free to fetch from Kafka
 * and drive DuckDB.
 * A batch it could not stage (a full disk, say) goes back to the caller with
 * the error, so that it can be sent again.
 */
import { isTransientIoError } from "../core/io_errors.ts";
import { decodeBatch } from "./decode.ts";
import { type PackedBatch, packedBuffers } from "./packed.ts";

export interface DecodeRequest {
  readonly id: number;
  readonly packed: PackedBatch;
  readonly ingestedAtMs: number;
  readonly stagedPath: string;
}

self.onmessage = (event: MessageEvent<DecodeRequest>) => {
  const { id, packed, ingestedAtMs, stagedPath } = event.data;
  try {
    const decoded = decodeBatch(packed, ingestedAtMs, stagedPath);
    // Nothing decoded refers to the batch's buffers any more: they go back
    // to be filled with a later batch.
    self.postMessage({ id, decoded, spare: packed }, packedBuffers(packed));
  } catch (error) {
    for (const suffix of [".ndjson", ".rejects.ndjson"]) {
      try {
        Deno.removeSync(stagedPath + suffix);
      } catch {
        // Not written, or not removable: scratch is swept at exit.
      }
    }
    self.postMessage({
      id,
      error: error instanceof Error ? error.stack ?? error.message : String(error),
      retriable: isTransientIoError(error),
      packed,
    }, packedBuffers(packed));
  }
};
