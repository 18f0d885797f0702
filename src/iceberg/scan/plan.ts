/**
 * Scan planning: the live data files of a snapshot, each with the position
 * delete files that apply to it, pruned by partition values and column
 * bounds for simple predicates.
 */
import { LakehouseError } from "../../core/errors.ts";
import { decodeBound } from "../spec/bounds.ts";
import { currentSnapshot, snapshotAsOf, snapshotById } from "../spec/metadata.ts";
import { applyTransform } from "../spec/transforms.ts";
import {
  type DataFile,
  EntryStatus,
  FileContent,
  type PrimitiveType,
  type Schema,
  type Snapshot,
  type TableMetadata,
} from "../spec/types.ts";
import type { ManifestReader } from "../table.ts";
import { partitionKey } from "../write/delete_files.ts";
import { schemaById, specById } from "../spec/metadata.ts";

export type PredicateOp = "=" | "<" | "<=" | ">" | ">=";

/** `column op value`; values as bounds decode them: bigint for long/timestamps, number, string. */
export interface Predicate {
  readonly column: string;
  readonly op: PredicateOp;
  readonly value: number | bigint | string | boolean;
}

export interface ScanOptions {
  readonly snapshotId?: bigint;
  /** Time travel: the snapshot that was current at this instant. */
  readonly asOfMs?: number;
  /** Conjunction of predicates used only to skip files (rows are not filtered here). */
  readonly filter?: readonly Predicate[];
}

export interface ScanTask {
  readonly file: DataFile;
  readonly dataSequenceNumber: bigint;
  readonly deletes: readonly DataFile[];
}

export interface ScanPlan {
  readonly snapshot: Snapshot | undefined;
  readonly schema: Schema;
  readonly tasks: readonly ScanTask[];
  /** Files skipped by the filter. */
  readonly prunedFiles: number;
}

export function resolveSnapshot(m: TableMetadata, options: ScanOptions): Snapshot | undefined {
  if (options.snapshotId !== undefined) {
    const s = snapshotById(m, options.snapshotId);
    if (!s) {
      throw new LakehouseError(
        `snapshot ${options.snapshotId} does not exist (it may have expired)`,
      );
    }
    return s;
  }
  if (options.asOfMs !== undefined) {
    const s = snapshotAsOf(m, options.asOfMs);
    if (!s) {
      throw new LakehouseError(
        `no snapshot was current at ${
          new Date(options.asOfMs).toISOString()
        } (before the first commit, or expired)`,
      );
    }
    return s;
  }
  return currentSnapshot(m);
}

export async function planScan(
  metadata: TableMetadata,
  reader: ManifestReader,
  options: ScanOptions = {},
): Promise<ScanPlan> {
  const snapshot = resolveSnapshot(metadata, options);
  const schemaId = snapshot?.["schema-id"] ?? metadata["current-schema-id"];
  const schema = schemaById(metadata, schemaId) ??
    schemaById(metadata, metadata["current-schema-id"])!;
  const data: { file: DataFile; seq: bigint; specId: number }[] = [];
  const deletes: { file: DataFile; seq: bigint; specId: number }[] = [];
  let pruned = 0;
  for (const m of await reader.manifests(snapshot)) {
    for (const e of m.entries) {
      if (e.status === EntryStatus.Deleted) continue;
      const item = { file: e.dataFile, seq: e.sequenceNumber!, specId: m.file.partitionSpecId };
      if (e.dataFile.content === FileContent.Data) {
        if (
          options.filter && !mayMatch(metadata, schema, item.specId, e.dataFile, options.filter)
        ) {
          pruned++;
          continue;
        }
        data.push(item);
      } else if (e.dataFile.content === FileContent.PositionDeletes) deletes.push(item);
      else {
        throw new LakehouseError(
          `${e.dataFile.filePath} is an equality delete file, which this reader does not apply`,
        );
      }
    }
  }
  const byPartition = new Map<string, typeof deletes>();
  for (const d of deletes) {
    const key = `${d.specId}/${partitionKey(d.file.partition)}`;
    const group = byPartition.get(key);
    if (group) group.push(d);
    else byPartition.set(key, [d]);
  }
  const tasks = data.map((d) => {
    const candidates = byPartition.get(`${d.specId}/${partitionKey(d.file.partition)}`) ?? [];
    // A position delete applies to data files of its partition that are not newer than it.
    const applicable = candidates.filter((x) =>
      d.seq <= x.seq &&
      (x.file.referencedDataFile === undefined || x.file.referencedDataFile === d.file.filePath)
    );
    return { file: d.file, dataSequenceNumber: d.seq, deletes: applicable.map((x) => x.file) };
  });
  return { snapshot, schema, tasks, prunedFiles: pruned };
}

/** False only when the file's bounds or partition prove no row can match. */
function mayMatch(
  metadata: TableMetadata,
  schema: Schema,
  specId: number,
  file: DataFile,
  filter: readonly Predicate[],
): boolean {
  for (const p of filter) {
    const field = schema.fields.find((f) => f.name === p.column);
    if (!field || typeof field.type !== "string") continue;
    const type = field.type as PrimitiveType;
    const lo = file.lowerBounds?.get(field.id);
    const hi = file.upperBounds?.get(field.id);
    if (lo && hi && type !== "string") {
      const lower = decodeBound(type, lo);
      const upper = decodeBound(type, hi);
      if (!rangeMayMatch(lower, upper, p)) return false;
    }
    if (
      file.valueCounts?.get(field.id) !== undefined &&
      file.valueCounts.get(field.id) === file.nullValueCounts?.get(field.id)
    ) {
      return false; // all nulls: no comparison matches
    }
    const spec = specById(metadata, specId);
    for (const [i, pf] of (spec?.fields ?? []).entries()) {
      if (pf["source-id"] !== field.id || file.partition[i] === null) continue;
      const t = pf.transform;
      const part = file.partition[i] as number;
      if (
        p.op === "=" && (t === "identity" || t.startsWith("bucket[") || t === "hour" || t === "day")
      ) {
        if (applyTransform(t, type, p.value) !== part) return false;
      } else if ((t === "hour" || t === "day") && p.op !== "=") {
        const v = applyTransform(t, type, p.value) as number;
        if ((p.op === "<" || p.op === "<=") && part > v) return false;
        if ((p.op === ">" || p.op === ">=") && part < v) return false;
      }
    }
  }
  return true;
}

function rangeMayMatch(lower: unknown, upper: unknown, p: Predicate): boolean {
  const v = p.value as never;
  const lo = lower as never;
  const hi = upper as never;
  switch (p.op) {
    case "=":
      return !(v < lo || v > hi);
    case "<":
      return lo < v;
    case "<=":
      return lo <= v;
    case ">":
      return hi > v;
    case ">=":
      return hi >= v;
  }
}
