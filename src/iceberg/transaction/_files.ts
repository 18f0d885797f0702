/** Argument checks the actions share: what kind of file each list may hold. */
import { LakehouseError } from "../../core/errors.ts";
import { type DataFile, FileContent } from "../spec/types.ts";

const KIND: Readonly<Record<number, string>> = {
  [FileContent.Data]: "data file",
  [FileContent.PositionDeletes]: "position delete file",
  [FileContent.EqualityDeletes]: "equality delete file",
};

/** Throws unless every file of `files` (the `what` of `action`) has one of `contents`. */
export function expectContent(
  action: string,
  what: string,
  files: readonly DataFile[],
  contents: readonly DataFile["content"][],
): void {
  for (const f of files) {
    if (!contents.includes(f.content)) {
      throw new LakehouseError(
        `${action}: ${what} must be ${
          contents.map((c) => `${KIND[c]}s`).join(" or ")
        }, but ${f.filePath} is ${withArticle(KIND[f.content] ?? `file of content ${f.content}`)}`,
      );
    }
  }
}

function withArticle(noun: string): string {
  return `${/^[aeiou]/.test(noun) ? "an" : "a"} ${noun}`;
}

/** Throws if a path appears twice across the lists (a file added twice, or added and removed). */
export function expectDistinct(action: string, ...lists: readonly (readonly DataFile[])[]): void {
  const seen = new Set<string>();
  for (const list of lists) {
    for (const f of list) {
      if (seen.has(f.filePath)) {
        throw new LakehouseError(`${action}: ${f.filePath} is given twice`);
      }
      seen.add(f.filePath);
    }
  }
}
