/**
 * Checks of the paths options name, run after the options are resolved and
 * before a command does anything: each returns what is wrong in words, or
 * undefined; the caller names the option, where it came from and the value.
 *
 * "Writable" is tested by creating a uniquely named, empty probe file
 * (`.lakehouse-probe-<pid>-<uuid>`, created with O_EXCL so no existing file is
 * ever touched) in the directory and removing it at once: the only side effect
 * of these checks, leaving nothing behind (the directory's modification time
 * changes). Comparing mode bits with the effective uid and gid would be wrong
 * whenever the kernel decides otherwise: root with CAP_DAC_OVERRIDE writes
 * into a 0555 directory and root without it does not, and ACLs, read-only
 * mounts and root-squashing NFS servers are invisible in the mode bits. Deno
 * has no access(2); the probe asks the kernel the real question.
 */
import { dirname, join, resolve } from "node:path";
import { osErrorText } from "../core/os_errors.ts";

export type Look =
  | { readonly kind: "found"; readonly info: Deno.FileInfo }
  | { readonly kind: "missing" }
  | { readonly kind: "error"; readonly reason: string };

/** The two calls `look` makes, replaceable in tests to stage a race. */
export interface StatCalls {
  stat(path: string): Deno.FileInfo;
  lstat(path: string): Deno.FileInfo;
}

const SYSTEM_STAT: StatCalls = { stat: Deno.statSync, lstat: Deno.lstatSync };

/**
 * stat(2) of `path` (symbolic links followed). When stat finds nothing, lstat
 * tells a missing path from a dangling link. Another process may create the
 * path between the two calls (a second group member creating the shared
 * catalog.db): what lstat then finds is no link, and is the answer, since
 * lstat and stat agree on anything that is not a link.
 */
export function look(path: string, calls: StatCalls = SYSTEM_STAT): Look {
  try {
    return { kind: "found", info: calls.stat(path) };
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory)) {
      return { kind: "error", reason: osErrorText(error) };
    }
  }
  let link: Deno.FileInfo;
  try {
    link = calls.lstat(path);
  } catch {
    return { kind: "missing" };
  }
  if (!link.isSymlink) return { kind: "found", info: link };
  // A link whose target appeared after the first stat is not dangling.
  try {
    return { kind: "found", info: calls.stat(path) };
  } catch {
    return { kind: "error", reason: "it is a symbolic link to nothing" };
  }
}

/** `a regular file`, `a directory`, `a special file (...)`. */
function kindOf(info: Deno.FileInfo): string {
  if (info.isFile) return "a regular file";
  if (info.isDirectory) return "a directory";
  return "a special file (device, FIFO or socket)";
}

/**
 * Whether this process can create files in `dir`: undefined if so, else the
 * reason (`permission denied`, `read-only file system`). See the module doc.
 */
export function probeWritable(dir: string): string | undefined {
  const probe = join(dir, `.lakehouse-probe-${Deno.pid}-${crypto.randomUUID()}`);
  try {
    Deno.openSync(probe, { write: true, createNew: true }).close();
  } catch (error) {
    return osErrorText(error);
  }
  try {
    Deno.removeSync(probe);
  } catch (error) {
    return `a probe file was created but could not be removed (${osErrorText(error)}): ${probe}`;
  }
  return undefined;
}

/**
 * For a missing path that would be created with its missing parents: the
 * nearest existing ancestor must be a directory this process can write to.
 */
function creatableProblem(path: string): string | undefined {
  let ancestor = dirname(path);
  for (;;) {
    const found = look(ancestor);
    if (found.kind === "error") {
      return `cannot be created: ${ancestor} cannot be examined (${found.reason})`;
    }
    if (found.kind === "found") {
      if (!found.info.isDirectory) {
        return `cannot be created: ${ancestor} is ${kindOf(found.info)}, not a directory`;
      }
      const denied = probeWritable(ancestor);
      return denied === undefined
        ? undefined
        : `cannot be created: ${ancestor} is not writable (${denied})`;
    }
    const parent = dirname(ancestor);
    if (parent === ancestor) return "cannot be created: no existing directory above it";
    ancestor = parent;
  }
}

/**
 * A directory the program writes into, created (with missing parents) when
 * absent: if it exists it must be a writable directory, else its nearest
 * existing ancestor must be.
 */
export function directoryProblem(path: string): string | undefined {
  const absolute = resolve(path);
  const found = look(absolute);
  if (found.kind === "error") return `cannot be examined (${found.reason})`;
  if (found.kind === "missing") return creatableProblem(absolute);
  if (!found.info.isDirectory) return `is ${kindOf(found.info)}, not a directory`;
  const denied = probeWritable(absolute);
  return denied === undefined
    ? undefined
    : `is a directory this process cannot write to (${denied})`;
}

/** A directory that must already exist and be writable (scratch space). */
export function existingDirectoryProblem(path: string): string | undefined {
  const absolute = resolve(path);
  const found = look(absolute);
  if (found.kind === "error") return `cannot be examined (${found.reason})`;
  if (found.kind === "missing") return "does not exist";
  if (!found.info.isDirectory) return `is ${kindOf(found.info)}, not a directory`;
  const denied = probeWritable(absolute);
  return denied === undefined ? undefined : `is not writable (${denied})`;
}

const SQLITE_HEADER = new TextEncoder().encode("SQLite format 3\0");

/**
 * The SQLite catalog file: if it exists, a regular file this process can open
 * for reading and writing, empty or starting with SQLite's header, in a
 * directory where SQLite can create its rollback journal (`-journal`, the
 * catalog's journal mode); if not, a path that can be created (missing
 * parent directories are created).
 */
export function sqliteFileProblem(path: string): string | undefined {
  const absolute = resolve(path);
  const found = look(absolute);
  if (found.kind === "error") return `cannot be examined (${found.reason})`;
  if (found.kind === "missing") return creatableProblem(absolute);
  if (found.info.isDirectory) return "is a directory, not a file";
  if (!found.info.isFile) return `is ${kindOf(found.info)}, not a regular file`;
  let header: Uint8Array;
  try {
    const file = Deno.openSync(absolute, { read: true, write: true });
    try {
      header = new Uint8Array(SQLITE_HEADER.length);
      const read = file.readSync(header) ?? 0;
      header = header.subarray(0, read);
    } finally {
      file.close();
    }
  } catch (error) {
    return `cannot be opened for reading and writing (${osErrorText(error)})`;
  }
  if (header.length > 0 && !header.every((b, i) => b === SQLITE_HEADER[i])) {
    return "is not an SQLite database";
  }
  const directory = dirname(absolute);
  const denied = probeWritable(directory);
  return denied === undefined
    ? undefined
    : `is in ${directory}, where SQLite cannot create its -journal file (${denied})`;
}

/** A directory of files the program reads: it and each of `names` must exist and be readable. */
export function readableFilesProblem(path: string, names: readonly string[]): string | undefined {
  const absolute = resolve(path);
  const found = look(absolute);
  if (found.kind === "error") return `cannot be examined (${found.reason})`;
  if (found.kind === "missing") return "does not exist";
  if (!found.info.isDirectory) return `is ${kindOf(found.info)}, not a directory`;
  for (const name of names) {
    const file = look(join(absolute, name));
    if (file.kind === "missing") return `has no ${name}`;
    if (file.kind === "error") return `holds ${name}, but it cannot be examined (${file.reason})`;
    if (!file.info.isFile) {
      return `holds ${name}, but it is ${kindOf(file.info)}, not a regular file`;
    }
    try {
      Deno.openSync(join(absolute, name), { read: true }).close();
    } catch (error) {
      return `holds ${name}, but it cannot be read (${osErrorText(error)})`;
    }
  }
  return undefined;
}

/**
 * A file the program writes (created or truncated later): `-` (stdout), an
 * existing file it can open for writing, or a new file in an existing
 * writable directory. Missing directories are not created.
 */
export function outputFileProblem(path: string): string | undefined {
  if (path === "-") return undefined;
  const absolute = resolve(path);
  const found = look(absolute);
  if (found.kind === "error") return `cannot be examined (${found.reason})`;
  if (found.kind === "found") {
    if (found.info.isDirectory) return "is a directory, not a file";
    // Opening a FIFO for writing would wait for a reader: only regular files are opened here.
    if (!found.info.isFile) return undefined;
    try {
      Deno.openSync(absolute, { write: true }).close();
      return undefined;
    } catch (error) {
      return `cannot be opened for writing (${osErrorText(error)})`;
    }
  }
  const directory = dirname(absolute);
  const parent = look(directory);
  if (parent.kind === "error") {
    return `cannot be created: ${directory} cannot be examined (${parent.reason})`;
  }
  if (parent.kind === "missing") return `is in a directory that does not exist (${directory})`;
  if (!parent.info.isDirectory) {
    return `cannot be created: ${directory} is ${kindOf(parent.info)}, not a directory`;
  }
  const denied = probeWritable(directory);
  return denied === undefined
    ? undefined
    : `cannot be created: ${directory} is not writable (${denied})`;
}
