/**
 * The object-store contract the Iceberg writer and reader are written
 * against, and the compactor and orphan cleanup (not built yet) will be.
 * Objects are immutable once written: a table never rewrites a file in place,
 * it writes a new one and swaps a metadata pointer in the catalog. So the
 * contract needs whole-object puts (optionally "only if absent"), reads,
 * listing (for orphan cleanup) and deletes, and nothing like appends or
 * renames.
 */
import { LakehouseError } from "../core/errors.ts";

export interface ObjectInfo {
  /** Full URI of the object, in the same form `put` and `get` accept. */
  readonly path: string;
  /** Size in bytes. */
  readonly size: number;
  /** Last modification time, milliseconds since the Unix epoch. */
  readonly lastModifiedMs: number;
}

export interface PutOptions {
  /**
   * Write only if no object exists at the URI yet; otherwise fail with
   * PreconditionFailedError and leave the existing object untouched.
   */
  readonly ifNoneMatch?: boolean;
}

export interface ObjectStore {
  /** URI prefix the store was opened at, ending in "/", e.g. "s3://warehouse/". */
  readonly root: string;
  /** Writes a whole object. `uri` may be any URI of this store's scheme, not only under `root`. */
  put(uri: string, data: Uint8Array, options?: PutOptions): Promise<void>;
  /** Reads a whole object; throws NotFoundError when it does not exist. */
  get(uri: string): Promise<Uint8Array>;
  /**
   * Reads exactly `length` bytes starting at `offset`. A range that does not
   * lie inside the object is an error, never a silently shorter result.
   */
  getRange(uri: string, offset: number, length: number): Promise<Uint8Array>;
  /** Size and time of an object, or undefined when it does not exist. */
  head(uri: string): Promise<ObjectInfo | undefined>;
  /** Every object whose URI starts with `prefixUri` (not only direct children), sorted by path. */
  list(prefixUri: string): AsyncIterable<ObjectInfo>;
  /** Removes an object; removing one that does not exist is not an error. */
  delete(uri: string): Promise<void>;
  /** Removes many objects (batched where the backend allows); missing ones are ignored. */
  deleteMany(uris: readonly string[]): Promise<void>;
  /** Uploads a local file (large objects: multipart on S3), for Parquet files written by DuckDB. */
  putFile(uri: string, localPath: string): Promise<void>;
  /**
   * Downloads an object to a local path (for reading remote Parquet with
   * DuckDB through a cache). The file appears complete or not at all.
   */
  getFile(uri: string, localPath: string): Promise<void>;
  /** Releases connections; the store must not be used afterwards. */
  close(): Promise<void>;
}

/** The operations a store offers, as named in fault injection and error messages. */
export type StoreOp =
  | "put"
  | "get"
  | "getRange"
  | "head"
  | "list"
  | "delete"
  | "deleteMany"
  | "putFile"
  | "getFile";

/** The object does not exist. Callers branch on it (a missing metadata file, a cache miss). */
export class NotFoundError extends LakehouseError {
  readonly uri: string;

  constructor(uri: string, action = "read", options: { cause?: unknown } = {}) {
    super(`cannot ${action} ${uri}: no such object`, { cause: options.cause, retriable: false });
    this.name = "NotFoundError";
    this.uri = uri;
  }
}

/**
 * A conditional write lost: an object already exists at the URI. Retrying the
 * same write cannot succeed, so it is not retriable; the caller picks a new
 * name or reloads what the winner wrote.
 */
export class PreconditionFailedError extends LakehouseError {
  readonly uri: string;

  constructor(uri: string, options: { cause?: unknown } = {}) {
    super(`cannot create ${uri}: an object already exists there (write was conditional)`, {
      cause: options.cause,
      retriable: false,
    });
    this.name = "PreconditionFailedError";
    this.uri = uri;
  }
}

/** Throws RangeError unless offset and length are non-negative safe integers. */
export function checkRange(uri: string, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new RangeError(`cannot read ${uri}: offset must be an integer >= 0, got ${offset}`);
  }
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new RangeError(`cannot read ${uri}: length must be an integer >= 0, got ${length}`);
  }
}

/** The error for a range that does not lie inside the object. */
export function rangeOutsideObject(
  uri: string,
  offset: number,
  length: number,
  size: number,
): LakehouseError {
  return new LakehouseError(
    `cannot read bytes ${offset}..${offset + length} of ${uri}: the object is ${size} bytes`,
  );
}

/** Appends "/" unless present, so a root is always a directory-like prefix. */
export function withTrailingSlash(uri: string): string {
  return uri.endsWith("/") ? uri : `${uri}/`;
}
