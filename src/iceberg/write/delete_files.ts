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
import { type StagedDataFiles, uploadDataFiles } from "./data_files.ts";
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
 */
export async function stagePositionDeletes(
  options: StagePositionDeletesOptions,
): Promise<StagedDataFiles> {
  const { duckdb } = options;
  const targets = await duckdb.query<{ file_path: string }>(
    `SELECT DISTINCT file_path FROM ${options.source} ORDER BY file_path`,
  );
  const groups = new Map<string, { partition: DataFile["partition"]; paths: string[] }>();
  for (const { file_path } of targets) {
    const partition = options.partitionOf(file_path);
    if (!partition) {
      throw new LakehouseError(
        `position delete targets ${file_path}, which is not a live data file of the table`,
      );
    }
    const key = partitionKey(partition);
    const group = groups.get(key) ?? { partition, paths: [] };
    group.paths.push(file_path);
    groups.set(key, group);
  }
  const outDir = join(options.tempDir, `deletes-${crypto.randomUUID()}`);
  await Deno.mkdir(outDir, { recursive: true });
  const dispose = () => Deno.remove(outDir, { recursive: true }).catch(() => {});
  const files: DataFile[] = [];
  const localPaths: string[] = [];
  try {
    for (const group of groups.values()) {
      const local = join(outDir, `${crypto.randomUUID()}.parquet`);
      const inList = group.paths.map(sqlString).join(", ");
      await duckdb.run(
        `COPY (SELECT DISTINCT file_path::VARCHAR AS file_path, pos::BIGINT AS pos FROM ${options.source}
               WHERE file_path IN (${inList}) ORDER BY file_path, pos)
         TO ${sqlString(local)} (FORMAT parquet, COMPRESSION zstd,
           FIELD_IDS {file_path: ${POS_DELETE_FILE_PATH_ID}, pos: ${POS_DELETE_POS_ID}})`,
      );
      const [s] = await duckdb.query<
        { n: bigint; min_path: string; max_path: string; min_pos: bigint; max_pos: bigint }
      >(
        `SELECT count(*)::BIGINT AS n, min(file_path) AS min_path, max(file_path) AS max_path,
           min(pos)::BIGINT AS min_pos, max(pos)::BIGINT AS max_pos FROM read_parquet(${
          sqlString(local)
        })`,
      );
      const size = (await Deno.stat(local)).size;
      const uri = `${
        options.location.replace(/\/$/, "")
      }/data/deletes/${crypto.randomUUID()}-deletes.parquet`;
      localPaths.push(local);
      files.push({
        content: FileContent.PositionDeletes,
        filePath: uri,
        fileFormat: "PARQUET",
        partition: group.partition,
        recordCount: s.n,
        fileSizeInBytes: BigInt(size),
        valueCounts: new Map([[POS_DELETE_FILE_PATH_ID, s.n], [POS_DELETE_POS_ID, s.n]]),
        nullValueCounts: new Map([[POS_DELETE_FILE_PATH_ID, 0n], [POS_DELETE_POS_ID, 0n]]),
        lowerBounds: new Map([
          [POS_DELETE_FILE_PATH_ID, encodeBound("string", s.min_path)],
          [POS_DELETE_POS_ID, encodeBound("long", BigInt(s.min_pos))],
        ]),
        upperBounds: new Map([
          [POS_DELETE_FILE_PATH_ID, encodeBound("string", s.max_path)],
          [POS_DELETE_POS_ID, encodeBound("long", BigInt(s.max_pos))],
        ]),
        referencedDataFile: group.paths.length === 1 ? group.paths[0] : undefined,
      });
    }
  } catch (error) {
    await dispose();
    throw error;
  }
  const rows = files.reduce((n, f) => n + f.recordCount, 0n);
  return { files, localPaths, rows, dispose };
}

/** Stable text key of a partition tuple (bigint-safe). */
export function partitionKey(values: DataFile["partition"]): string {
  return JSON.stringify(
    values,
    (_k, v) => typeof v === "bigint" ? `${v}n` : v instanceof Uint8Array ? [...v] : v,
  );
}
