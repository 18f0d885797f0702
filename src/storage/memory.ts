/**
 * An object store in a Map, for tests (the demo writes to a local directory
 * through FileStore). It can fail on demand — before an operation takes effect, or after (a write that landed
 * but whose response was lost) — so commit races, retries and unknown
 * outcomes are testable without services.
 */
import { type Clock, systemClock } from "../core/clock.ts";
import { LakehouseError } from "../core/errors.ts";
import { writeBytesAtomic } from "./_local.ts";
import {
  checkRange,
  NotFoundError,
  type ObjectInfo,
  type ObjectStore,
  PreconditionFailedError,
  type PutOptions,
  rangeOutsideObject,
  type StoreOp,
  withTrailingSlash,
} from "./store.ts";

/**
 * A failure to inject. A bare Error is thrown before the operation has any
 * effect; with `afterApply` the operation takes effect first, modelling a
 * write that succeeded although the caller saw an error.
 */
export type Fault = Error | { readonly error: Error; readonly afterApply: boolean };

/** Consulted before every operation (once per URI for deleteMany); undefined lets it run. */
export type FaultHook = (op: StoreOp, uri: string) => Fault | undefined;

export interface MemoryStoreOptions {
  /** Defaults to "memory://store/". */
  readonly root?: string;
  /** Source of `lastModifiedMs`. */
  readonly clock?: Clock;
  readonly faults?: FaultHook;
}

interface Entry {
  readonly data: Uint8Array;
  readonly lastModifiedMs: number;
}

const SCHEME = "memory://";

export class MemoryStore implements ObjectStore {
  readonly root: string;
  /** Replaceable at any time by a test. */
  faults: FaultHook | undefined;
  readonly #objects = new Map<string, Entry>();
  readonly #clock: Clock;
  readonly #pending: { op: StoreOp; fault: Fault }[] = [];
  #closed = false;

  constructor(options: MemoryStoreOptions = {}) {
    const root = withTrailingSlash(options.root ?? `${SCHEME}store/`);
    checkUri(root);
    this.root = root;
    this.#clock = options.clock ?? systemClock;
    this.faults = options.faults;
  }

  /** Makes the next `op` fail with `error` (queued: several calls fail several operations). */
  failNext(op: StoreOp, error: Error, options: { afterApply?: boolean } = {}): void {
    this.#pending.push({ op, fault: { error, afterApply: options.afterApply ?? false } });
  }

  /** Number of stored objects. */
  get size(): number {
    return this.#objects.size;
  }

  put(uri: string, data: Uint8Array, options: PutOptions = {}): Promise<void> {
    return this.#run("put", uri, () => {
      if (options.ifNoneMatch && this.#objects.has(uri)) throw new PreconditionFailedError(uri);
      this.#store(uri, data);
    });
  }

  get(uri: string): Promise<Uint8Array> {
    return this.#run("get", uri, () => this.#entry(uri, "read").data.slice());
  }

  getRange(uri: string, offset: number, length: number): Promise<Uint8Array> {
    return this.#run("getRange", uri, () => {
      checkRange(uri, offset, length);
      const { data } = this.#entry(uri, "read");
      if (offset + length > data.length) {
        throw rangeOutsideObject(uri, offset, length, data.length);
      }
      return data.slice(offset, offset + length);
    });
  }

  head(uri: string): Promise<ObjectInfo | undefined> {
    return this.#run("head", uri, () => {
      const entry = this.#objects.get(uri);
      return entry && info(uri, entry);
    });
  }

  async *list(prefixUri: string): AsyncIterable<ObjectInfo> {
    const matches = await this.#run("list", prefixUri, () => {
      const found: ObjectInfo[] = [];
      for (const [uri, entry] of this.#objects) {
        if (uri.startsWith(prefixUri)) found.push(info(uri, entry));
      }
      return found.sort((a, b) => compare(a.path, b.path));
    });
    yield* matches;
  }

  delete(uri: string): Promise<void> {
    return this.#run("delete", uri, () => {
      this.#objects.delete(uri);
    });
  }

  async deleteMany(uris: readonly string[]): Promise<void> {
    for (const uri of uris) {
      await this.#run("deleteMany", uri, () => {
        this.#objects.delete(uri);
      });
    }
  }

  async putFile(uri: string, localPath: string): Promise<void> {
    checkUri(uri);
    const data = await readLocal(uri, localPath);
    await this.#run("putFile", uri, () => this.#store(uri, data));
  }

  async getFile(uri: string, localPath: string): Promise<void> {
    const data = await this.#run("getFile", uri, () => this.#entry(uri, "download").data);
    try {
      await writeBytesAtomic(localPath, data);
    } catch (error) {
      throw new LakehouseError(
        `cannot download ${uri} to ${localPath}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }

  #store(uri: string, data: Uint8Array): void {
    this.#objects.set(uri, {
      data: data.slice(),
      lastModifiedMs: Math.floor(this.#clock.now()),
    });
  }

  #entry(uri: string, action: string): Entry {
    const entry = this.#objects.get(uri);
    if (!entry) throw new NotFoundError(uri, action);
    return entry;
  }

  /** Applies injected faults around `apply`; async so a fault never throws synchronously. */
  // deno-lint-ignore require-await
  async #run<T>(op: StoreOp, uri: string, apply: () => T): Promise<T> {
    if (this.#closed) throw new LakehouseError(`cannot ${op} ${uri}: the store is closed`);
    checkUri(uri);
    const fault = this.#takeFault(op, uri);
    if (fault && !(fault instanceof Error) && fault.afterApply) {
      apply();
      throw fault.error;
    }
    if (fault) throw fault instanceof Error ? fault : fault.error;
    return apply();
  }

  #takeFault(op: StoreOp, uri: string): Fault | undefined {
    const index = this.#pending.findIndex((p) => p.op === op);
    if (index >= 0) return this.#pending.splice(index, 1)[0].fault;
    return this.faults?.(op, uri);
  }
}

function checkUri(uri: string): void {
  if (!uri.startsWith(SCHEME)) {
    throw new LakehouseError(`memory store cannot serve ${uri}: the URI must start with ${SCHEME}`);
  }
}

function info(uri: string, entry: Entry): ObjectInfo {
  return { path: uri, size: entry.data.length, lastModifiedMs: entry.lastModifiedMs };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

async function readLocal(uri: string, localPath: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(localPath);
  } catch (error) {
    throw new LakehouseError(
      `cannot upload ${localPath} to ${uri}: ${(error as Error).message}`,
      { cause: error },
    );
  }
}
