/**
 * Where batches are decoded: in a worker thread (the engine's default, so
 * validation overlaps with fetching and writing) or inline (tests, tools).
 * Both run the same decodeBatch over a packed batch (the batcher packs
 * records as they arrive), so the two paths cannot drift apart. Staging
 * that fails in a way that may heal (a full or read-only scratch disk) is
 * retried through `retry`.
 */
import { join } from "node:path";
import { errorMessage, LakehouseError } from "../core/errors.ts";
import { isTransientIoError } from "../core/io_errors.ts";
import { decodeBatch, type DecodedBatch } from "./decode.ts";
import type { DecodeRequest } from "./decode_worker.ts";
import { type PackedBatch, packedBuffers } from "./packed.ts";

/** Runs a decode attempt until it succeeds (the engine's outage retry), or once. */
export type DecodeRetry = <T>(attempt: () => Promise<T>) => Promise<T>;

const ONCE: DecodeRetry = (attempt) => attempt();

export interface BatchDecoder {
  /**
   * Decodes a batch, staging its accepted records in a new file under the
   * decoder's directory, and its rejected ones in a second (see decodeBatch).
   */
  decode(packed: PackedBatch, ingestedAtMs: number): Promise<DecodedBatch>;
  /**
   * A decoded batch whose buffers are no longer needed, for the next batch
   * to be packed into (BatchPacker), if there is one.
   */
  takeSpare(): PackedBatch | undefined;
  close(): void;
}

function stagedPath(dir: string): string {
  return join(dir, `batch-${crypto.randomUUID()}`);
}

export class InlineDecoder implements BatchDecoder {
  readonly #dir: string;
  readonly #retry: DecodeRetry;
  constructor(dir: string, retry: DecodeRetry = ONCE) {
    this.#dir = dir;
    this.#retry = retry;
  }
  decode(packed: PackedBatch, ingestedAtMs: number): Promise<DecodedBatch> {
    return this.#retry(() => {
      const path = stagedPath(this.#dir);
      try {
        return Promise.resolve(decodeBatch(packed, ingestedAtMs, path));
      } catch (error) {
        for (const suffix of [".ndjson", ".rejects.ndjson"]) {
          Deno.remove(path + suffix).catch(() => {});
        }
        return Promise.reject(stagingError(errorMessage(error), isTransientIoError(error), error));
      }
    });
  }
  /** Inline, the batch's buffers stay with the caller: none comes back. */
  takeSpare(): undefined {
    return undefined;
  }
  close(): void {}
}

function stagingError(message: string, retriable: boolean, cause?: unknown): LakehouseError {
  return new LakehouseError(`cannot stage a batch in the scratch directory: ${message}`, {
    cause,
    retriable,
  });
}

type FailedReply = { id: number; error: string; retriable: boolean; packed: PackedBatch };
type Reply =
  | { id: number; decoded: DecodedBatch; spare: PackedBatch }
  | FailedReply;

/** One worker; requests are answered in order. */
export class WorkerDecoder implements BatchDecoder {
  readonly #worker: Worker;
  readonly #pending = new Map<
    number,
    { resolve: (d: DecodedBatch) => void; reject: (e: Error | FailedReply) => void }
  >();
  #next = 0;
  #failure: Error | undefined;
  /** The batch the worker last gave back, its buffers for the next batch (takeSpare). */
  #spare: PackedBatch | undefined;
  /** The payload buffer takeSpare handed out last: a batch that arrives in it reused it. */
  #handedOut: ArrayBuffer | undefined;
  /** Batches packed into a buffer an earlier batch brought back. */
  buffersReused = 0;
  readonly #dir: string;
  readonly #retry: DecodeRetry;

  constructor(dir: string, retry: DecodeRetry = ONCE) {
    this.#dir = dir;
    this.#retry = retry;
    this.#worker = new Worker(new URL("./decode_worker.ts", import.meta.url), { type: "module" });
    this.#worker.onmessage = (event: MessageEvent<Reply>) => {
      const reply = event.data;
      const waiter = this.#pending.get(reply.id);
      if (!waiter) return;
      this.#pending.delete(reply.id);
      if ("error" in reply) waiter.reject(reply);
      else {
        this.#spare = reply.spare;
        waiter.resolve(reply.decoded);
      }
    };
    this.#worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      this.#fail(new LakehouseError(`decode worker crashed: ${event.message}`));
    };
  }

  takeSpare(): PackedBatch | undefined {
    const spare = this.#spare;
    this.#spare = undefined;
    if (spare !== undefined) this.#handedOut = spare.values.buffer as ArrayBuffer;
    return spare;
  }

  decode(packed: PackedBatch, ingestedAtMs: number): Promise<DecodedBatch> {
    if (this.#handedOut !== undefined && packed.values.buffer === this.#handedOut) {
      this.#handedOut = undefined;
      this.buffersReused++;
    }
    return this.#retry(async () => {
      try {
        return await this.#send(packed, ingestedAtMs);
      } catch (failure) {
        if (failure instanceof Error) throw failure;
        // The worker gave the batch back with the error: send it again next attempt.
        const reply = failure as FailedReply;
        packed = reply.packed;
        throw stagingError(`decode worker: ${reply.error}`, reply.retriable);
      }
    });
  }

  #send(packed: PackedBatch, ingestedAtMs: number): Promise<DecodedBatch> {
    if (this.#failure) return Promise.reject(this.#failure);
    const id = this.#next++;
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
