/**
 * Local-file helpers shared by the stores: every store's `getFile` (and the
 * FileStore itself) must never leave a half-written file at the target path,
 * because a crashed download would otherwise look like a valid cache entry.
 */

/** Temporary files live beside their target so the final rename stays on one filesystem. */
const TEMP_SUFFIX = ".lakehouse-tmp";

export function isTempName(name: string): boolean {
  return name.startsWith(".") && name.endsWith(TEMP_SUFFIX);
}

export function dirname(path: string): string {
  const slash = path.lastIndexOf("/");
  if (slash <= 0) return "/";
  return path.slice(0, slash);
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

function tempPathFor(path: string): string {
  const random = crypto.getRandomValues(new Uint32Array(2));
  const tag = `${random[0].toString(36)}${random[1].toString(36)}`;
  return `${dirname(path)}/.${basename(path)}.${tag}${TEMP_SUFFIX}`;
}

export interface AtomicWriteOptions {
  /**
   * Publish with a hard link instead of a rename, so the write fails with
   * Deno.errors.AlreadyExists when the target exists instead of replacing it.
   */
  readonly createNew?: boolean;
}

/**
 * Writes a file so that readers see either nothing (or the previous file) or
 * the complete new content: the bytes go to a temporary file in the same
 * directory, are flushed to disk, and only then is the file published under
 * its name. Parent directories are created as needed.
 */
export async function writeFileAtomic(
  path: string,
  fill: (file: Deno.FsFile, tempPath: string) => Promise<void>,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const dir = dirname(path);
  await Deno.mkdir(dir, { recursive: true });
  const temp = tempPathFor(path);
  const file = await Deno.open(temp, { write: true, createNew: true });
  let published = false;
  try {
    try {
      await fill(file, temp);
      // Without this a power loss after the rename can leave a named but empty file.
      await file.syncData();
    } finally {
      file.close();
    }
    if (options.createNew) {
      await Deno.link(temp, path);
    } else {
      await Deno.rename(temp, path);
      published = true;
    }
    await syncDirectory(dir);
  } finally {
    if (!published) await Deno.remove(temp).catch(() => {});
  }
}

export async function writeBytesAtomic(
  path: string,
  data: Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  await writeFileAtomic(path, (file) => writeAll(file, data), options);
}

export async function writeAll(file: Deno.FsFile, data: Uint8Array): Promise<void> {
  let written = 0;
  while (written < data.length) written += await file.write(data.subarray(written));
}

/** Reads until `buffer` is full or the file ends; returns the number of bytes read. */
export async function readFull(file: Deno.FsFile, buffer: Uint8Array): Promise<number> {
  let filled = 0;
  while (filled < buffer.length) {
    const n = await file.read(buffer.subarray(filled));
    if (n === null) break;
    filled += n;
  }
  return filled;
}

/** Makes a rename durable; best effort because not every platform can open a directory. */
async function syncDirectory(dir: string): Promise<void> {
  let handle: Deno.FsFile | undefined;
  try {
    handle = await Deno.open(dir, { read: true });
    await handle.sync();
  } catch {
    // The data itself is already synced; only the directory entry may be lost on power failure.
  } finally {
    handle?.close();
  }
}
