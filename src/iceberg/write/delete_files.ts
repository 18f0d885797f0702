/**
 * Position delete files: (file_path, pos) rows with the reserved field ids,
 * sorted by path then position, one file per partition of the data files
 * they target (a delete applies only within its own partition), with
 * `referenced_data_file` set when a file targets a single data file and
 * exact (untruncated) bounds on both columns.
 */
import { join } from "node:path";
import { LakehouseError } from "../../core/errors.ts";
import { type DuckDb, sqlString } from "../../duckdb/duckdb.ts";
import type { ObjectStore } from "../../storage/store.ts";
import { NOTHING_STAGED, type StagedDataFiles, uploadDataFiles } from "./data_files.ts";
import { encodeBound } from "../spec/bounds.ts";
import {
  type DataFile,
  FileContent,
  POS_DELETE_FILE_PATH_ID,
  POS_DELETE_POS_ID,
} from "../spec/types.ts";

export interface WritePositionDeletesOptions {
  readonly duckdb: DuckDb;
  readonly store: ObjectStore;
  /** Relation with columns file_path VARCHAR, pos BIGINT (duplicates are removed). */
  readonly source: string;
  /** The live data files the positions point into, by path (for their partitions). */
  readonly dataFiles: ReadonlyMap<string, DataFile>;
  readonly location: string;
  readonly tempDir: string;
}

/** Stages the delete files (stagePositionDeletes), uploads them, and disposes of the local copies. */
export async function writePositionDeletes(
  options: WritePositionDeletesOptions,
): Promise<DataFile[]> {
  const staged = await stagePositionDeletes({
    ...options,
    partitionOf: (path) => options.dataFiles.get(path)?.partition,
  });
  try {
    return await uploadDataFiles(options.store, staged);
  } finally {
    await staged.dispose();
  }
}

export interface StagePositionDeletesOptions {
  readonly duckdb: DuckDb;
  /** Relation with columns file_path VARCHAR, pos BIGINT (duplicates are removed). */
  readonly source: string;
  /** The partition of a data file the positions point into; undefined: not a live data file. */
  readonly partitionOf: (path: string) => DataFile["partition"] | undefined;
  readonly location: string;
  readonly tempDir: string;
}

/**
 * Writes the position delete files to local scratch (one per partition of
 * the data files they target), with statistics and table paths; nothing
 * leaves the machine. The caller uploads and disposes.
 *
 * A batch of orders_current touches every partition, so this runs once per
 * batch for about 16 files. The counts and bounds come from one aggregate
 * over the source (per target file, ordered as DuckDB orders strings, which
 * is the byte order the bounds compare in), the rows from one sorted copy of
 * it, and the files from one multi-statement COPY: each statement has a
 * fixed cost (planning, a Parquet writer), which a file read back per
 * partition doubled (93-138 ms per batch, BENCHMARKS.md). One partitioned
 * COPY would be cheaper still, but DuckDB does not keep the rows' order
 * inside partitioned output, and delete files must be sorted by path and
 * position.
 */
export async function stagePositionDeletes(
  options: StagePositionDeletesOptions,
): Promise<StagedDataFiles> {
  const { duckdb } = options;
  const targets = await duckdb.query<
    { file_path: string; n: bigint; min_pos: bigint; max_pos: bigint; no_pos: bigint }
  >(
    `SELECT file_path::VARCHAR AS file_path, count(DISTINCT pos)::BIGINT AS n,
       min(pos)::BIGINT AS min_pos, max(pos)::BIGINT AS max_pos,
       count(*) FILTER (WHERE pos IS NULL)::BIGINT AS no_pos
     FROM ${options.source} GROUP BY ALL ORDER BY file_path`,
  );
  if (targets.length === 0) return NOTHING_STAGED;
  const groups = new Map<string, DeleteGroup>();
  for (const t of targets) {
    if (t.file_path === null || t.no_pos > 0n) {
      throw new LakehouseError(
        `position delete with a NULL ${
          t.file_path === null ? "file_path" : `pos (in ${t.file_path})`
        }: refusing to write it`,
      );
    }
    const partition = options.partitionOf(t.file_path);
    if (!partition) {
      throw new LakehouseError(
        `position delete targets ${t.file_path}, which is not a live data file of the table`,
      );
    }
    const key = partitionKey(partition);
    const group = groups.get(key) ?? { partition, targets: [] };
    group.targets.push(t);
    groups.set(key, group);
  }
  const outDir = join(options.tempDir, `deletes-${crypto.randomUUID()}`);
  const sorted = `__deletes_${crypto.randomUUID().replaceAll("-", "")}`;
  await Deno.mkdir(outDir, { recursive: true });
  const dispose = () => Deno.remove(outDir, { recursive: true }).catch(() => {});
  try {
    await duckdb.run(
      `CREATE TEMP TABLE ${sorted} AS SELECT DISTINCT file_path::VARCHAR AS file_path,
         pos::BIGINT AS pos FROM ${options.source} ORDER BY file_path, pos`,
    );
    const written = [...groups.values()].map((group) => ({
      group,
      local: join(outDir, `${crypto.randomUUID()}.parquet`),
    }));
    // A scan of one table with a filter keeps the table's order, and so does
    // COPY. Not `file_path IN (...)`: DuckDB turns a list of constants into
    // a join, which does not keep it (seen with 9 paths).
    await duckdb.run(
      written.map(({ group, local }) =>
        `COPY (SELECT file_path, pos FROM ${sorted} WHERE list_contains([${
          group.targets.map((t) => sqlString(t.file_path)).join(", ")
        }], file_path)) TO ${sqlString(local)} (FORMAT parquet, COMPRESSION zstd,
           FIELD_IDS {file_path: ${POS_DELETE_FILE_PATH_ID}, pos: ${POS_DELETE_POS_ID}})`
      ).join(";\n"),
    );
    // The files' own row counts (their footers) against the aggregate.
    const counted = new Map(
      (await duckdb.query<{ file_name: string; n: bigint }>(
        `SELECT file_name, num_rows::BIGINT AS n FROM parquet_file_metadata([${
          written.map((w) => sqlString(w.local)).join(", ")
        }])`,
      )).map((r) => [r.file_name, r.n]),
    );
    const files: DataFile[] = [];
    for (const { group, local } of written) {
      const { targets: paths } = group;
      const n = paths.reduce((sum, t) => sum + t.n, 0n);
      if (counted.get(local) !== n) {
        throw new LakehouseError(
          `position delete file ${local} holds ${
            counted.get(local)
          } rows where ${n} were written: refusing to commit`,
        );
      }
      const minPos = paths.reduce((m, t) => (t.min_pos < m ? t.min_pos : m), paths[0].min_pos);
      const maxPos = paths.reduce((m, t) => (t.max_pos > m ? t.max_pos : m), paths[0].max_pos);
      const size = (await Deno.stat(local)).size;
      files.push({
        content: FileContent.PositionDeletes,
        filePath: `${
          options.location.replace(/\/$/, "")
        }/data/deletes/${crypto.randomUUID()}-deletes.parquet`,
        fileFormat: "PARQUET",
        partition: group.partition,
        recordCount: n,
        fileSizeInBytes: BigInt(size),
        valueCounts: new Map([[POS_DELETE_FILE_PATH_ID, n], [POS_DELETE_POS_ID, n]]),
        nullValueCounts: new Map([[POS_DELETE_FILE_PATH_ID, 0n], [POS_DELETE_POS_ID, 0n]]),
        // Exact bounds: the paths are in DuckDB's (byte) order.
        lowerBounds: new Map([
          [POS_DELETE_FILE_PATH_ID, encodeBound("string", paths[0].file_path)],
          [POS_DELETE_POS_ID, encodeBound("long", minPos)],
        ]),
        upperBounds: new Map([
          [POS_DELETE_FILE_PATH_ID, encodeBound("string", paths[paths.length - 1].file_path)],
          [POS_DELETE_POS_ID, encodeBound("long", maxPos)],
        ]),
        referencedDataFile: paths.length === 1 ? paths[0].file_path : undefined,
      });
    }
    const rows = files.reduce((n, f) => n + f.recordCount, 0n);
    return { files, localPaths: written.map((w) => w.local), rows, dispose };
  } catch (error) {
    await dispose();
    throw error;
  } finally {
    await duckdb.run(`DROP TABLE IF EXISTS ${sorted}`).catch(() => {});
  }
}

interface DeleteGroup {
  readonly partition: DataFile["partition"];
  /** The group's target files, in DuckDB's order of their paths. */
  readonly targets: { file_path: string; n: bigint; min_pos: bigint; max_pos: bigint }[];
}

/** Stable text key of a partition tuple (bigint-safe). */
export function partitionKey(values: DataFile["partition"]): string {
  return JSON.stringify(
    values,
    (_k, v) => typeof v === "bigint" ? `${v}n` : v instanceof Uint8Array ? [...v] : v,
  );
}
