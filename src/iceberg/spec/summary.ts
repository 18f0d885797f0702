/**
 * Snapshot summaries with Java's standard keys, so that engines and tools
 * that show table history (Spark `snapshots` table, Trino `$snapshots`,
 * pyiceberg) see the usual counts and running totals.
 */
import { LakehouseError } from "../../core/errors.ts";
import {
  type DataFile,
  FileContent,
  type Operation,
  type PartitionValue,
  type Snapshot,
} from "./types.ts";

/** Every key Java's `SnapshotSummary` defines; custom keys may not reuse them. */
const STANDARD_KEYS: ReadonlySet<string> = new Set([
  "operation",
  "added-data-files",
  "deleted-data-files",
  "total-data-files",
  "added-delete-files",
  "removed-delete-files",
  "total-delete-files",
  "added-equality-delete-files",
  "removed-equality-delete-files",
  "added-position-delete-files",
  "removed-position-delete-files",
  "added-dvs",
  "removed-dvs",
  "added-records",
  "deleted-records",
  "total-records",
  "added-files-size",
  "removed-files-size",
  "total-files-size",
  "added-position-deletes",
  "removed-position-deletes",
  "total-position-deletes",
  "added-equality-deletes",
  "removed-equality-deletes",
  "total-equality-deletes",
  "deleted-duplicate-files",
  "changed-partition-count",
  "partition-summaries-included",
]);

/** [total key, added key, removed key] in the order Java writes totals. */
const TOTALS: readonly (readonly [string, string, string])[] = [
  ["total-records", "added-records", "deleted-records"],
  ["total-files-size", "added-files-size", "removed-files-size"],
  ["total-data-files", "added-data-files", "deleted-data-files"],
  ["total-delete-files", "added-delete-files", "removed-delete-files"],
  ["total-position-deletes", "added-position-deletes", "removed-position-deletes"],
  ["total-equality-deletes", "added-equality-deletes", "removed-equality-deletes"],
];

interface Counts {
  dataFiles: bigint;
  deleteFiles: bigint;
  posDeleteFiles: bigint;
  eqDeleteFiles: bigint;
  records: bigint;
  size: bigint;
  posDeletes: bigint;
  eqDeletes: bigint;
}

const zero = (): Counts => ({
  dataFiles: 0n,
  deleteFiles: 0n,
  posDeleteFiles: 0n,
  eqDeleteFiles: 0n,
  records: 0n,
  size: 0n,
  posDeletes: 0n,
  eqDeletes: 0n,
});

/** Accumulates the files a commit adds and removes, then renders its summary. */
export class SummaryBuilder {
  readonly #added = zero();
  readonly #removed = zero();
  readonly #partitions = new Set<string>();

  /** A data or delete file the snapshot adds; `specId` is the spec it was written with. */
  addFile(file: DataFile, specId = 0): this {
    count(this.#added, file);
    this.#partitions.add(partitionKey(specId, file.partition));
    return this;
  }

  /** A data or delete file the snapshot removes from the table. */
  removeFile(file: DataFile, specId = 0): this {
    count(this.#removed, file);
    this.#partitions.add(partitionKey(specId, file.partition));
    return this;
  }

  /**
   * The summary of a snapshot whose parent has `previous` as summary
   * (undefined for the table's first snapshot). Added and removed counts
   * that are zero are left out, as Java does. A total is left out when the
   * parent has no usable value for it, since any number would be a guess.
   * `extra` carries custom keys (stream offsets, writer id); reusing a
   * standard key throws.
   */
  build(
    operation: Operation,
    previous: Readonly<Record<string, string>> | undefined,
    extra: Readonly<Record<string, string>> = {},
  ): Snapshot["summary"] {
    for (const key of Object.keys(extra)) {
      if (STANDARD_KEYS.has(key)) {
        throw new LakehouseError(`custom snapshot summary key ${key} is a standard Iceberg key`);
      }
    }
    const a = this.#added;
    const r = this.#removed;
    const counts: [string, bigint][] = [
      ["added-data-files", a.dataFiles],
      ["deleted-data-files", r.dataFiles],
      ["added-equality-delete-files", a.eqDeleteFiles],
      ["removed-equality-delete-files", r.eqDeleteFiles],
      ["added-position-delete-files", a.posDeleteFiles],
      ["removed-position-delete-files", r.posDeleteFiles],
      ["added-delete-files", a.deleteFiles],
      ["removed-delete-files", r.deleteFiles],
      ["added-records", a.records],
      ["deleted-records", r.records],
      ["added-files-size", a.size],
      ["removed-files-size", r.size],
      ["added-position-deletes", a.posDeletes],
      ["removed-position-deletes", r.posDeletes],
      ["added-equality-deletes", a.eqDeletes],
      ["removed-equality-deletes", r.eqDeletes],
    ];
    const summary: Record<string, string> = { operation };
    const values = new Map(counts);
    for (const [key, value] of counts) if (value > 0n) summary[key] = value.toString();
    summary["changed-partition-count"] = String(this.#partitions.size);
    for (const [totalKey, addedKey, removedKey] of TOTALS) {
      const before = previous === undefined ? 0n : parseCount(previous[totalKey]);
      if (before === undefined) continue;
      const total = before + values.get(addedKey)! - values.get(removedKey)!;
      // A negative total means the parent's totals were wrong; do not propagate them.
      if (total >= 0n) summary[totalKey] = total.toString();
    }
    return { ...summary, ...extra, operation };
  }
}

function count(c: Counts, file: DataFile): void {
  c.size += file.fileSizeInBytes;
  switch (file.content) {
    case FileContent.Data:
      c.dataFiles++;
      c.records += file.recordCount;
      break;
    case FileContent.PositionDeletes:
      c.deleteFiles++;
      c.posDeleteFiles++;
      c.posDeletes += file.recordCount;
      break;
    case FileContent.EqualityDeletes:
      c.deleteFiles++;
      c.eqDeleteFiles++;
      c.eqDeletes += file.recordCount;
      break;
  }
}

function parseCount(text: string | undefined): bigint | undefined {
  return text !== undefined && /^\d+$/.test(text) ? BigInt(text) : undefined;
}

/** A key that is equal exactly for equal (spec, partition tuple) pairs. */
function partitionKey(specId: number, values: readonly PartitionValue[]): string {
  const parts = values.map((v) => {
    if (v === null) return "n";
    if (v instanceof Uint8Array) {
      return `x${Array.from(v, (b) => b.toString(16).padStart(2, "0")).join("")}`;
    }
    switch (typeof v) {
      case "string":
        return `s${JSON.stringify(v)}`;
      case "bigint":
        return `l${v}`;
      case "number":
        return `d${Object.is(v, -0) ? "-0" : v}`;
      default:
        return `b${v}`;
    }
  });
  return `${specId}:${parts.join(",")}`;
}
