/**
 * Replace (rewrite, compaction): data files rewritten into new ones holding
 * their live rows, with the delete files that applied only to them. The
 * caller reads the live rows (deletes applied) from a scan of the starting
 * snapshot and writes the new files; this builds the change. Committing it
 * fails if a rewritten file is gone or got new deletes meanwhile.
 */
import { LakehouseError } from "../../core/errors.ts";
import type { PendingChange } from "../commit/change.ts";
import type { ScanPlan } from "../scan/plan.ts";
import { type DataFile, FileContent } from "../spec/types.ts";
import { expectContent, expectDistinct } from "./_files.ts";

export interface ReplaceOptions {
  /** The full (unfiltered) scan plan of the snapshot the rows were read from. */
  readonly plan: ScanPlan;
  /** Live data files of the plan being rewritten. */
  readonly rewritten: readonly DataFile[];
  /** The new data files with their live rows (none if every row was deleted). */
  readonly added: readonly DataFile[];
  /**
   * Give the new files the starting snapshot's data sequence number, so
   * that deletes committed before it keep applying as they did (Java's
   * rewrite with `useStartingSequenceNumber`).
   */
  readonly keepSequenceNumber?: boolean;
  readonly summary?: PendingChange["summary"];
}

/**
 * Delete files of the plan that apply only to files in `rewritten`: once
 * those are replaced by files without the deleted rows, nothing needs them.
 */
export function obsoleteDeleteFiles(plan: ScanPlan, rewritten: readonly DataFile[]): DataFile[] {
  const paths = new Set(rewritten.map((f) => f.filePath));
  const targets = new Map<string, { file: DataFile; dataFiles: Set<string> }>();
  for (const task of plan.tasks) {
    for (const d of task.deletes) {
      const entry = targets.get(d.filePath) ?? { file: d, dataFiles: new Set<string>() };
      entry.dataFiles.add(task.file.filePath);
      targets.set(d.filePath, entry);
    }
  }
  return [...targets.values()]
    .filter((t) => [...t.dataFiles].every((p) => paths.has(p)))
    .map((t) => t.file);
}

/** The replace of `rewritten` by `added`, removing the delete files only they needed. */
export function replaceFiles(options: ReplaceOptions): PendingChange {
  const { plan, rewritten, added } = options;
  const action = "replace";
  const start = plan.snapshot;
  if (start === undefined) {
    throw new LakehouseError(
      `${action}: the plan is of an empty table; there is nothing to rewrite`,
    );
  }
  if (plan.prunedFiles > 0) {
    // A pruned data file may share a delete file with the rewritten ones,
    // which would then look obsolete and be dropped with its deletes.
    throw new LakehouseError(
      `${action}: the plan was filtered (${plan.prunedFiles} data files pruned); obsolete delete files can only be found from a full plan`,
    );
  }
  expectContent(action, "rewritten files", rewritten, [FileContent.Data]);
  expectContent(action, "added files", added, [FileContent.Data]);
  expectDistinct(action, rewritten, added);
  if (rewritten.length === 0) throw new LakehouseError(`${action}: no data files to rewrite`);
  const live = new Set(plan.tasks.map((t) => t.file.filePath));
  for (const f of rewritten) {
    if (!live.has(f.filePath)) {
      throw new LakehouseError(
        `${action}: ${f.filePath} is not a live data file of snapshot ${start["snapshot-id"]}`,
      );
    }
  }
  return {
    operation: "replace",
    added,
    removed: [...rewritten, ...obsoleteDeleteFiles(plan, rewritten)],
    startingSnapshotId: start["snapshot-id"],
    ...(options.keepSequenceNumber ? { dataSequenceNumber: start["sequence-number"] } : {}),
    ...(options.summary === undefined ? {} : { summary: options.summary }),
  };
}
