/**
 * Append: new data files, nothing removed, nothing deleted. Appends never
 * conflict with other commits; a writer that must not commit past another
 * (stream offsets) says so in `validate`.
 */
import type { PendingChange } from "../commit/change.ts";
import { type DataFile, FileContent } from "../spec/types.ts";
import { expectContent, expectDistinct } from "./_files.ts";

export interface AppendOptions {
  readonly summary?: PendingChange["summary"];
  readonly validate?: PendingChange["validate"];
}

/** The append of `files` (written, not yet committed). */
export function appendFiles(
  files: readonly DataFile[],
  options: AppendOptions = {},
): PendingChange {
  expectContent("append", "the files", files, [FileContent.Data]);
  expectDistinct("append", files);
  return {
    operation: "append",
    added: files,
    ...(options.summary === undefined ? {} : { summary: options.summary }),
    ...(options.validate === undefined ? {} : { validate: options.validate }),
  };
}
