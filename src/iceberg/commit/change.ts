/**
 * A data change to commit (files already written: what it adds, what it
 * removes) and the rules it must satisfy against the table it lands on,
 * Iceberg's validations for row deltas and rewrites. Pure: the committer
 * reads the table's live files and later deletes, these functions decide.
 */
import { assert } from "../../core/assert.ts";
import { LakehouseError } from "../../core/errors.ts";
import { decodeBound } from "../spec/bounds.ts";
import {
  type DataFile,
  EntryStatus,
  FileContent,
  type ManifestEntry,
  type Operation,
  POS_DELETE_POS_ID,
  type TableMetadata,
} from "../spec/types.ts";
import type { LoadedManifest } from "../table.ts";
import { partitionKey } from "../write/delete_files.ts";

/** The change could not be applied to the table as it now is; replan from fresh metadata. */
export class ValidationError extends LakehouseError {
  constructor(message: string) {
    super(message, { retriable: false });
    this.name = "ValidationError";
  }
}

/** What the actions in src/iceberg/transaction build and `commitChange` commits. */
export interface PendingChange {
  readonly operation: Operation;
  /** New data and position delete files. */
  readonly added: readonly DataFile[];
  /** Live data or delete files this change removes (matched by path). */
  readonly removed?: readonly DataFile[];
  /**
   * Custom snapshot summary keys (stream offsets, writer id); a function is
   * called per attempt with the metadata the attempt builds on.
   */
  readonly summary?:
    | Readonly<Record<string, string>>
    | ((base: TableMetadata) => Readonly<Record<string, string>>);
  /** Data files the new position deletes point into: each must still be live. */
  readonly referencedDataFiles?: readonly string[];
  /**
   * The snapshot the change was planned from. With removed data files, a
   * position delete committed after it that applies to one of them fails the
   * commit (otherwise a concurrent delete would be lost).
   */
  readonly startingSnapshotId?: bigint;
  /** Called with the metadata of each attempt; throw ValidationError to abort. */
  readonly validate?: (base: TableMetadata, live: LiveFiles) => void;
  /**
   * Data sequence number for the added files (compaction keeps the starting
   * one so older deletes still apply); default: the new snapshot's.
   */
  readonly dataSequenceNumber?: bigint;
}

/** Live files of a snapshot, by path, with their data sequence numbers. */
export interface LiveFiles {
  readonly data: ReadonlyMap<string, ManifestEntry>;
  readonly deletes: ReadonlyMap<string, ManifestEntry>;
}

export function liveFiles(manifests: readonly LoadedManifest[]): LiveFiles {
  const data = new Map<string, ManifestEntry>();
  const deletes = new Map<string, ManifestEntry>();
  for (const m of manifests) {
    for (const e of m.entries) {
      if (e.status === EntryStatus.Deleted) continue;
      (e.dataFile.content === FileContent.Data ? data : deletes).set(e.dataFile.filePath, e);
    }
  }
  return { data, deletes };
}

/** Whether the commit must look at the table's live files for this change. */
export function needsLiveFiles(change: PendingChange): boolean {
  return (change.removed?.length ?? 0) > 0 || (change.referencedDataFiles?.length ?? 0) > 0 ||
    change.validate !== undefined;
}

/**
 * What removes must still be there, what deletes point into must still be
 * live (not rewritten or removed meanwhile), and the change's own check.
 */
export function validateAgainstLive(
  change: PendingChange,
  base: TableMetadata,
  live: LiveFiles,
): void {
  const removed = new Set((change.removed ?? []).map((f) => f.filePath));
  for (const path of removed) {
    if (!live.data.has(path) && !live.deletes.has(path)) {
      throw new ValidationError(`cannot remove ${path}: it is no longer a live file of the table`);
    }
  }
  const addedData = new Set(
    change.added.filter((f) => f.content === FileContent.Data).map((f) => f.filePath),
  );
  for (const path of change.referencedDataFiles ?? []) {
    if (addedData.has(path)) continue;
    if (!live.data.has(path)) {
      throw new ValidationError(
        `position deletes reference ${path}, which is no longer live (a concurrent rewrite removed it)`,
      );
    }
  }
  change.validate?.(base, live);
}

/**
 * The first delete file added after the change's starting snapshot that
 * applies to a data file the change removes: one naming that file, or one
 * without a single referenced file in the same partition (it may). Such a
 * change would drop the newer delete with the file and bring its rows back.
 */
export function conflictingDelete(
  change: PendingChange,
  deletesSinceStart: readonly DataFile[],
): DataFile | undefined {
  const removedData = (change.removed ?? []).filter((f) => f.content === FileContent.Data);
  if (removedData.length === 0) return undefined;
  const paths = new Set(removedData.map((f) => f.filePath));
  const partitions = new Set(removedData.map((f) => partitionKey(f.partition)));
  return deletesSinceStart.find((d) => {
    const ref = d.referencedDataFile;
    return ref !== undefined ? paths.has(ref) : partitions.has(partitionKey(d.partition));
  });
}

/**
 * Invariant: a position delete file aimed at one data file deletes only
 * positions that exist in it (`pos` < its record count). A position beyond
 * means the writer planned against other data than it names.
 */
export function assertPositionsInBounds(
  deletes: readonly DataFile[],
  dataFile: (path: string) => DataFile | undefined,
): void {
  for (const d of deletes) {
    if (d.content !== FileContent.PositionDeletes || d.referencedDataFile === undefined) continue;
    const target = dataFile(d.referencedDataFile);
    const upper = d.upperBounds?.get(POS_DELETE_POS_ID);
    if (target === undefined || upper === undefined) continue;
    const maxPos = decodeBound("long", upper) as bigint;
    assert(
      maxPos < target.recordCount,
      `position delete file ${d.filePath} deletes position ${maxPos} of ${target.filePath}, which has ${target.recordCount} rows`,
    );
  }
}
