/**
 * Where batches are decoded: in a worker thread (the engine's default, so
 * validation overlaps with fetching and writing) or inline (tests, tools).
 * Both run the same decodeBatch; a batch is packed into flat buffers either
 * way, so the two paths cannot drift apart.
 */
import { join } from "node:path";
import { LakehouseError } from "../core/errors.ts";
import {
  decodeBatch,
  type DecodedBatch,
  packBatch,
  type PackedBatch,
  packedBuffers,
} from "./decode.ts";
import type { DecodeRequest } from "./decode_worker.ts";
import type { RawRecord } from "./types.ts";

export interface BatchDecoder {
  /** Decodes a batch, staging its accepted records in a new file under the decoder's directory. */
  decode(records: readonly RawRecord[], ingestedAtMs: number): Promise<DecodedBatch>;
  close(): void;
}

function stagedPath(dir: string): string {
  return join(dir, `batch-${crypto.randomUUID()}`);
}

export class InlineDecoder implements BatchDecoder {
  readonly #dir: string;
  constructor(dir: string) {
    this.#dir = dir;
  }
  decode(records: readonly RawRecord[], ingestedAtMs: number): Promise<DecodedBatch> {
    return Promise.resolve(decodeBatch(packBatch(records), ingestedAtMs, stagedPath(this.#dir)));
  }
  close(): void {}
}

type Reply = { id: number; decoded: DecodedBatch } | { id: number; error: string };

/** One worker; requests are answered in order. */
export class WorkerDecoder implements BatchDecoder {
  readonly #worker: Worker;
  readonly #pending = new Map<
    number,
    { resolve: (d: DecodedBatch) => void; reject: (e: Error) => void }
  >();
  #next = 0;
  #failure: Error | undefined;
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
    this.#worker = new Worker(new URL("./decode_worker.ts", import.meta.url), { type: "module" });
    this.#worker.onmessage = (event: MessageEvent<Reply>) => {
      const reply = event.data;
      const waiter = this.#pending.get(reply.id);
      if (!waiter) return;
      this.#pending.delete(reply.id);
      if ("error" in reply) waiter.reject(new LakehouseError(`decode worker: ${reply.error}`));
      else waiter.resolve(reply.decoded);
    };
    this.#worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      this.#fail(new LakehouseError(`decode worker crashed: ${event.message}`));
    };
  }

  decode(records: readonly RawRecord[], ingestedAtMs: number): Promise<DecodedBatch> {
    if (this.#failure) return Promise.reject(this.#failure);
    const id = this.#next++;
    const packed: PackedBatch = packBatch(records);
    const request: DecodeRequest = { id, packed, ingestedAtMs, stagedPath: stagedPath(this.#dir) };
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage(request, packedBuffers(packed));
    });
  }

  close(): void {
    this.#worker.terminate();
    this.#fail(new LakehouseError("decode worker closed"));
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    for (const waiter of this.#pending.values()) waiter.reject(error);
    this.#pending.clear();
  }
}
