/**
 * Object store over a local directory tree, the embedded default. Objects are
 * files; every write goes through a temporary file and a rename, so a crash
 * (kill -9 or power loss) never leaves a half-written object under its name.
 * Failures that may heal (permission denied, disk full, I/O errors) are
 * marked retriable; callers retry them.
 *
 * URIs map to paths literally ("file:///a%20b" is the file "/a%20b"), without
 * percent-decoding: a listed URI is then byte-identical to the one written,
 * which orphan cleanup (not built yet) needs to compare listings with the
 * locations a table references.
 */
import { errorMessage, LakehouseError } from "../core/errors.ts";
import { isTransientIoError } from "../core/io_errors.ts";
import { isTempName, readFull, writeBytesAtomic, writeFileAtomic } from "./_local.ts";
import {
  checkRange,
  NotFoundError,
  type ObjectInfo,
  type ObjectStore,
  PreconditionFailedError,
  type PutOptions,
  rangeOutsideObject,
  withTrailingSlash,
} from "./store.ts";

/**
 * Local path of a `file:///abs/path` URI (also `file:/abs/path`, as Hadoop
 * writes it, and a plain absolute path).
 */
export function filePath(uri: string): string {
  let path: string;
  if (uri.startsWith("file://")) path = uri.slice("file://".length);
  else if (uri.startsWith("file:/")) path = uri.slice("file:".length);
  else if (uri.startsWith("/")) path = uri;
  else {
    throw new LakehouseError(
      `file store cannot serve ${uri}: expected file:///absolute/path or an absolute path`,
    );
  }
  if (!path.startsWith("/")) {
    throw new LakehouseError(
      `file store cannot serve ${uri}: only local absolute paths are allowed`,
    );
  }
  if (path.includes("\0")) throw new LakehouseError(`file store cannot serve ${uri}: NUL in path`);
  return path;
}

/** The canonical URI of a local absolute path. */
export function fileUri(path: string): string {
  return `file://${path}`;
}

/** Rejects paths that name a file in more than one way, since listings would not round-trip. */
function objectPath(uri: string, action: string): string {
  const path = filePath(uri);
  const segments = path.slice(1).split("/");
  if (segments.some((s) => s === "" || s === "." || s === "..")) {
    throw new LakehouseError(
      `cannot ${action} ${uri}: an object path must not end in "/" or contain empty, "." or ".." segments`,
    );
  }
  return path;
}

export class FileStore implements ObjectStore {
  readonly root: string;
  #closed = false;

  /** `root`: a file:// URI or absolute path of the directory the store is opened at. */
  constructor(root: string) {
    this.root = withTrailingSlash(fileUri(filePath(root)));
  }

  async put(uri: string, data: Uint8Array, options: PutOptions = {}): Promise<void> {
    const path = this.#path(uri, "write");
    try {
      await writeBytesAtomic(path, data, { createNew: options.ifNoneMatch ?? false });
    } catch (error) {
      if (options.ifNoneMatch && error instanceof Deno.errors.AlreadyExists) {
        throw new PreconditionFailedError(uri, { cause: error });
      }
      throw failed("write", uri, error);
    }
  }

  async get(uri: string): Promise<Uint8Array> {
    const path = this.#path(uri, "read");
    try {
      return await Deno.readFile(path);
    } catch (error) {
      throw failed("read", uri, error);
    }
  }

  async getRange(uri: string, offset: number, length: number): Promise<Uint8Array> {
    const path = this.#path(uri, "read");
    checkRange(uri, offset, length);
    try {
      using file = await Deno.open(path, { read: true });
      const { size } = await file.stat();
      if (offset + length > size) throw rangeOutsideObject(uri, offset, length, size);
      await file.seek(offset, Deno.SeekMode.Start);
      const data = new Uint8Array(length);
      const n = await readFull(file, data);
      // The file shrank between stat and read: objects are immutable, so something else wrote it.
      if (n < length) throw rangeOutsideObject(uri, offset, length, offset + n);
      return data;
    } catch (error) {
      throw failed("read", uri, error);
    }
  }

  async head(uri: string): Promise<ObjectInfo | undefined> {
    const path = this.#path(uri, "inspect");
    try {
      const stat = await Deno.stat(path);
      if (!stat.isFile) return undefined;
      return { path: uri, size: stat.size, lastModifiedMs: stat.mtime?.getTime() ?? 0 };
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw failed("inspect", uri, error);
    }
  }

  async *list(prefixUri: string): AsyncIterable<ObjectInfo> {
    this.#checkOpen("list", prefixUri);
    const prefix = filePath(prefixUri);
    const start = prefix.slice(0, prefix.lastIndexOf("/") + 1);
    try {
      yield* walk(start, prefix);
    } catch (error) {
      throw failed("list", prefixUri, error);
    }
  }

  async delete(uri: string): Promise<void> {
    const path = this.#path(uri, "delete");
    try {
      await Deno.remove(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return;
      throw failed("delete", uri, error);
    }
    // Empty directories are left in place: removing them would race with a
    // concurrent put that has just created the directory for its temp file.
  }

  async deleteMany(uris: readonly string[]): Promise<void> {
    for (const uri of uris) await this.delete(uri);
  }

  async putFile(uri: string, localPath: string): Promise<void> {
    const path = this.#path(uri, "upload");
    try {
      await writeFileAtomic(path, (_, tempPath) => Deno.copyFile(localPath, tempPath));
    } catch (error) {
      throw failed("upload", uri, error, `from ${localPath}`);
    }
  }

  async getFile(uri: string, localPath: string): Promise<void> {
    const path = this.#path(uri, "download");
    try {
      await Deno.stat(path);
    } catch (error) {
      throw failed("download", uri, error);
    }
    try {
      await writeFileAtomic(localPath, (_, tempPath) => Deno.copyFile(path, tempPath));
    } catch (error) {
      throw failed("download", uri, error, `to ${localPath}`);
    }
  }

  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }

  #path(uri: string, action: string): string {
    this.#checkOpen(action, uri);
    return objectPath(uri, action);
  }

  #checkOpen(action: string, uri: string): void {
    if (this.#closed) throw new LakehouseError(`cannot ${action} ${uri}: the store is closed`);
  }
}

/**
 * Yields files under `dir` (ending in "/") whose path starts with `prefix`, in
 * the byte order S3 lists keys: a directory sorts as its name plus "/", so
 * "a-b" (0x2d) comes before everything inside "a/" (0x2f).
 */
async function* walk(dir: string, prefix: string): AsyncGenerator<ObjectInfo> {
  let entries: { key: string; path: string; isDirectory: boolean }[];
  try {
    entries = [];
    for await (const entry of Deno.readDir(dir)) {
      if (isTempName(entry.name)) continue;
      let isDirectory = entry.isDirectory;
      if (entry.isSymlink) {
        const target = await Deno.stat(dir + entry.name).catch(() => undefined);
        // A link to a directory could form a cycle; only links to files count as objects.
        if (!target?.isFile) continue;
        isDirectory = false;
      }
      const path = dir + entry.name + (isDirectory ? "/" : "");
      if (!(path.startsWith(prefix) || (isDirectory && prefix.startsWith(path)))) continue;
      entries.push({ key: path, path, isDirectory });
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  for (const entry of entries) {
    if (entry.isDirectory) {
      yield* walk(entry.path, prefix);
      continue;
    }
    let stat: Deno.FileInfo;
    try {
      stat = await Deno.stat(entry.path);
    } catch (error) {
      // Deleted between readDir and stat: it is no longer an object.
      if (error instanceof Deno.errors.NotFound) continue;
      throw error;
    }
    yield {
      path: fileUri(entry.path),
      size: stat.size,
      lastModifiedMs: stat.mtime?.getTime() ?? 0,
    };
  }
}

function failed(action: string, uri: string, error: unknown, detail = ""): LakehouseError {
  if (error instanceof LakehouseError) return error;
  // With a detail the failing file may be the local one, which is not a missing object.
  if (error instanceof Deno.errors.NotFound && !detail) {
    return new NotFoundError(uri, action, { cause: error });
  }
  const where = detail ? `${uri} ${detail}` : uri;
  // Permission taken away, a full disk, an I/O error: they may heal, and
  // the engine retries them through the outage.
  return new LakehouseError(`cannot ${action} ${where}: ${errorMessage(error)}`, {
    cause: error,
    retriable: isTransientIoError(error),
  });
}
