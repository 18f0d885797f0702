/**
 * Object storage: the ObjectStore contract and its file://, s3:// and
 * memory:// implementations.
 */
import { LakehouseError } from "../core/errors.ts";
import { FileStore } from "./file.ts";
import { MemoryStore } from "./memory.ts";
import { type S3Config, S3Store, type S3StoreOptions } from "./s3.ts";
import type { ObjectStore } from "./store.ts";

export * from "./store.ts";
export * from "./file.ts";
export * from "./memory.ts";
export * from "./s3.ts";

/**
 * Opens the store serving `uri` (its root): file:///abs/dir (or an absolute
 * path), s3://bucket/prefix, or memory://name (a new, empty store per call).
 * `config` and `options` apply to s3:// only; unset fields take DEFAULT_S3_CONFIG.
 */
export function openStore(
  uri: string,
  config: Partial<S3Config> | undefined,
  options: Pick<S3StoreOptions, "signal" | "onRetry"> = {},
): ObjectStore {
  if (uri.startsWith("file:") || uri.startsWith("/")) return new FileStore(uri);
  if (uri.startsWith("s3://") || uri.startsWith("s3a://")) {
    return new S3Store(uri, config ?? {}, options);
  }
  if (uri.startsWith("memory://")) return new MemoryStore({ root: uri });
  throw new LakehouseError(
    `cannot open storage at "${uri}": unknown scheme (expected file:///absolute/dir, s3://bucket/prefix or memory://name)`,
  );
}
