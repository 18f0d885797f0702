/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
/**
 * The decode worker: validates batches and stages the accepted records off
 * the main thread, which stays free to fetch from Kafka and drive DuckDB.
 */
import { decodeBatch, type PackedBatch } from "./decode.ts";

export interface DecodeRequest {
  readonly id: number;
  readonly packed: PackedBatch;
  readonly ingestedAtMs: number;
  readonly stagedPath: string;
}

self.onmessage = (event: MessageEvent<DecodeRequest>) => {
  const { id, packed, ingestedAtMs, stagedPath } = event.data;
  try {
    self.postMessage({ id, decoded: decodeBatch(packed, ingestedAtMs, stagedPath) });
  } catch (error) {
    self.postMessage({
      id,
      error: error instanceof Error ? error.stack ?? error.message : String(error),
    });
  }
};
