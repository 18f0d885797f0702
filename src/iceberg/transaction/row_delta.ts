/**
 * Row delta: row-level changes in one snapshot, as a merge-on-read writer
 * makes them: new rows (data files), rows deleted by position (position
 * delete files), and optionally whole data files or obsolete delete files
 * removed. Committing it checks Iceberg's rules against the table as it
 * then is: every data file the deletes point into is still live (a
 * concurrent rewrite did not replace it), and no data file it removes got
 * deletes after the starting snapshot.
 */
import { LakehouseError } from "../../core/errors.ts";
import type { PendingChange } from "../commit/change.ts";
import { type DataFile, FileContent, type Operation } from "../spec/types.ts";
import { expectContent, expectDistinct } from "./_files.ts";

export interface RowDeltaOptions {
  /** New data files: inserted rows, or the new versions of updated ones. */
  readonly rows?: readonly DataFile[];
  /** New position delete files. */
  readonly deletes?: readonly DataFile[];
  /**
   * Data files the deletes point into. Each delete file naming a single data
   * file (`referencedDataFile`) adds it; a delete file spanning several data
   * files needs them listed here.
   */
  readonly referencedDataFiles?: readonly string[];
  /** Live data files removed whole (every row of them deleted). */
  readonly removedRows?: readonly DataFile[];
  /** Live delete files this change makes obsolete. */
  readonly removedDeletes?: readonly DataFile[];
  /** The snapshot the delta was planned from; required when it removes data files. */
  readonly startingSnapshotId?: bigint;
  readonly summary?: PendingChange["summary"];
  readonly validate?: PendingChange["validate"];
}

/**
 * The row delta of files written (not yet committed). Its operation is
 * Java's: `append` when it only adds rows, `delete` when it adds none,
 * `overwrite` otherwise.
 */
export function rowDelta(options: RowDeltaOptions): PendingChange {
  const rows = options.rows ?? [];
  const deletes = options.deletes ?? [];
  const removedRows = options.removedRows ?? [];
  const removedDeletes = options.removedDeletes ?? [];
  const action = "row delta";
  expectContent(action, "rows", rows, [FileContent.Data]);
  expectContent(action, "deletes", deletes, [FileContent.PositionDeletes]);
  expectContent(action, "removedRows", removedRows, [FileContent.Data]);
  expectContent(action, "removedDeletes", removedDeletes, [FileContent.PositionDeletes]);
  expectDistinct(action, rows, deletes, removedRows, removedDeletes);
  const referenced = new Set(options.referencedDataFiles ?? []);
  for (const d of deletes) {
    if (d.referencedDataFile !== undefined) referenced.add(d.referencedDataFile);
    else if (options.referencedDataFiles === undefined) {
      throw new LakehouseError(
        `${action}: delete file ${d.filePath} spans several data files; list them in referencedDataFiles`,
      );
    }
  }
  for (const f of removedRows) {
    if (referenced.has(f.filePath)) {
      throw new LakehouseError(
        `${action}: deletes point into ${f.filePath}, which the same delta removes`,
      );
    }
  }
  if (removedRows.length > 0 && options.startingSnapshotId === undefined) {
    throw new LakehouseError(
      `${action}: removing data files needs startingSnapshotId, to check for deletes committed since`,
    );
  }
  const operation: Operation = removedRows.length === 0 && deletes.length === 0 &&
      removedDeletes.length === 0
    ? "append"
    : rows.length === 0
    ? "delete"
    : "overwrite";
  const removed = [...removedRows, ...removedDeletes];
  return {
    operation,
    added: [...rows, ...deletes],
    ...(removed.length === 0 ? {} : { removed }),
    ...(referenced.size === 0 ? {} : { referencedDataFiles: [...referenced].sort() }),
    ...(options.startingSnapshotId === undefined
      ? {}
      : { startingSnapshotId: options.startingSnapshotId }),
    ...(options.summary === undefined ? {} : { summary: options.summary }),
    ...(options.validate === undefined ? {} : { validate: options.validate }),
  };
}
