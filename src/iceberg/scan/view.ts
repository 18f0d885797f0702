/**
 * Exposes a scan plan to DuckDB as a view: read_parquet over the live data
 * files with file_row_number, anti-joined with the positions their delete
 * files remove. Remote files are read through a local cache keyed by URI
 * (Iceberg files never change once written).
 */
import { join } from "node:path";
import { type DuckDb, sqlIdent, sqlString } from "../../duckdb/duckdb.ts";
import { filePath } from "../../storage/file.ts";
import type { ObjectStore } from "../../storage/store.ts";
import type { Schema } from "../spec/types.ts";
import { duckdbType } from "../write/duckdb_types.ts";
import type { ScanPlan } from "./plan.ts";

export interface ScanViewOptions {
  readonly duckdb: DuckDb;
  readonly store: ObjectStore;
  /** Local directory for downloaded copies of remote files. */
  readonly cacheDir: string;
  /** Name of the view to (re)create. */
  readonly name: string;
  /**
   * Also expose each row's data file URI and position as `_file` and `_pos`
   * (what a position delete needs to remove that row).
   */
  readonly positions?: boolean;
}

export async function createScanView(plan: ScanPlan, options: ScanViewOptions): Promise<void> {
  const { duckdb } = options;
  const view = sqlIdent(options.name);
  if (plan.tasks.length === 0) {
    await duckdb.run(
      `CREATE OR REPLACE TEMP VIEW ${view} AS SELECT ${
        [
          ...plan.schema.fields.map((f) =>
            `CAST(NULL AS ${duckdbType(f.type)}) AS ${sqlIdent(f.name)}`
          ),
          ...(options.positions
            ? ["CAST(NULL AS VARCHAR) AS _file", "CAST(NULL AS BIGINT) AS _pos"]
            : []),
        ].join(", ")
      } WHERE false`,
    );
    return;
  }
  const local = new Map<string, string>();
  const localPath = async (uri: string) => {
    if (!local.has(uri)) local.set(uri, await fetchToCache(options, uri));
    return local.get(uri)!;
  };
  const dataLocals: string[] = [];
  const targets: [string, string][] = [];
  for (const task of plan.tasks) {
    const dataLocal = await localPath(task.file.filePath);
    dataLocals.push(dataLocal);
    for (const d of task.deletes) targets.push([await localPath(d.filePath), task.file.filePath]);
  }
  const tag = crypto.randomUUID().replaceAll("-", "").slice(0, 12);
  const filesTable = `__scan_files_${tag}`;
  await duckdb.run(
    `CREATE OR REPLACE TEMP TABLE ${filesTable} AS SELECT * FROM (VALUES ${
      plan.tasks.map((t) =>
        `(${sqlString(local.get(t.file.filePath)!)}, ${sqlString(t.file.filePath)})`
      ).join(", ")
    }) v(local, uri)`,
  );
  const typed = plan.schema.fields.map((f) =>
    `CAST(d.${sqlIdent(f.name)} AS ${duckdbType(f.type)}) AS ${sqlIdent(f.name)}`
  );
  if (options.positions) typed.push("f.uri AS _file", "d.file_row_number AS _pos");
  // Columns are matched by Iceberg field id, not by name: a file written
  // before a column was added reads it as NULL, a renamed column keeps its
  // values, a promoted one (int -> long) is cast.
  const byId = plan.schema.fields.map((f) =>
    `${f.id}: {name: ${sqlString(f.name)}, type: ${
      sqlString(duckdbType(f.type))
    }, default_value: NULL}`
  );
  const dataScan = `read_parquet([${
    dataLocals.map(sqlString).join(", ")
  }], filename = true, file_row_number = true, schema = MAP {${byId.join(", ")}})`;
  let sql: string;
  if (targets.length === 0) {
    sql = `SELECT ${
      typed.join(", ")
    } FROM ${dataScan} d JOIN ${filesTable} f ON f.local = d.filename`;
  } else {
    const targetsTable = `__scan_deletes_${tag}`;
    await duckdb.run(
      `CREATE OR REPLACE TEMP TABLE ${targetsTable} AS SELECT * FROM (VALUES ${
        targets.map(([del, data]) => `(${sqlString(del)}, ${sqlString(data)})`).join(", ")
      }) v(delete_local, data_uri)`,
    );
    const deleteLocals = [...new Set(targets.map(([del]) => del))];
    // Positions are matched to data files by URI, then to the local copy DuckDB reads.
    sql = `SELECT ${
      typed.join(", ")
    } FROM ${dataScan} d JOIN ${filesTable} f ON f.local = d.filename
      ANTI JOIN (
        SELECT f.local AS filename, x.pos AS file_row_number
        FROM read_parquet([${deleteLocals.map(sqlString).join(", ")}], filename = true) x
        JOIN ${targetsTable} t ON t.delete_local = x.filename AND t.data_uri = x.file_path
        JOIN ${filesTable} f ON f.uri = x.file_path
      ) del ON del.filename = d.filename AND del.file_row_number = d.file_row_number`;
  }
  await duckdb.run(`CREATE OR REPLACE TEMP VIEW ${view} AS ${sql}`);
}

/**
 * Local path of a file: itself for file:// URIs, otherwise a cached download.
 * A file:// URI maps to its path literally, as the FileStore that wrote it
 * maps it: partition directories hold percent-escapes (`note=Z%C3%BCrich`)
 * that are part of the file name, not escapes to decode.
 */
async function fetchToCache(options: ScanViewOptions, uri: string): Promise<string> {
  if (uri.startsWith("file:") || uri.startsWith("/")) return filePath(uri);
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(uri)),
  );
  const name = [...digest.slice(0, 16)].map((b) => b.toString(16).padStart(2, "0")).join("");
  const path = join(options.cacheDir, `${name}.parquet`);
  try {
    await Deno.stat(path);
    return path;
  } catch {
    await Deno.mkdir(options.cacheDir, { recursive: true });
    await options.store.getFile(uri, path);
    return path;
  }
}

export type { Schema };
