/**
 * Writes a SQL relation as Iceberg data files: validates it against the
 * table schema, computes partition values with the spec's transforms, has
 * DuckDB write one Parquet file per partition value (rolled at a target
 * size) with Iceberg field ids on every node, reads the files back to compute
 * exact column statistics, and uploads them through the ObjectStore.
 *
 * Staging (everything up to the local files) and uploading are separate
 * steps: staging is where the rows' values can fail (DataError), and it
 * needs no network, so a writer can stage, learn which rows fail, and upload
 * (and retry uploads through a storage outage) without computing twice.
 */
import { join } from "node:path";
import { DataError, LakehouseError } from "../../core/errors.ts";
import { type DuckDb, sqlIdent, sqlString } from "../../duckdb/duckdb.ts";
import type { ObjectStore } from "../../storage/store.ts";
import type {
  DataFile,
  IcebergType,
  NestedField,
  PartitionSpec,
  PartitionValue,
  Schema,
} from "../spec/types.ts";
import { FileContent } from "../spec/types.ts";
import {
  applyTransform,
  bucketOfBytes,
  parseTransform,
  transformResultType,
} from "../spec/transforms.ts";
import { computeFileStats } from "./stats.ts";
import { duckdbType, fieldIdsClause } from "./duckdb_types.ts";

export interface WriteDataFilesOptions {
  readonly duckdb: DuckDb;
  readonly store: ObjectStore;
  readonly schema: Schema;
  readonly spec: PartitionSpec;
  /** A table or view name, or a parenthesised query, with one column per top-level schema field. */
  readonly source: string;
  /** Table location URI; files go to `<location>/data/<partition>/<uuid>.parquet`. */
  readonly location: string;
  /** A Parquet file is closed and a new one started above about this size. */
  readonly targetFileSizeBytes: number;
  /** Local scratch directory (files are uploaded from here, then removed). */
  readonly tempDir: string;
  /** Parquet codec, as in the table property write.parquet.compression-codec (default zstd). */
  readonly compression?: string;
}

/** Codecs of write.parquet.compression-codec the DuckDB writer can produce. */
const CODECS = new Set(["zstd", "snappy", "gzip", "uncompressed"]);

/** Uploads of one batch's files running at once. */
const UPLOADS_IN_FLIGHT = 4;

/** Partition key column added to the staged relation: dense id of the partition tuple. */
const PID = "__lakehouse_pid";
/** File number within a partition, for rolling. */
const CHUNK = "__lakehouse_chunk";
/** Compressed bytes per row assumed when turning a target file size into a row count. */
const ESTIMATED_ROW_BYTES = 64;

/** Data files written to local scratch, not yet uploaded. */
export interface StagedDataFiles {
  /** The files' entries, with their final (table) paths. */
  readonly files: readonly DataFile[];
  /** Local copy of files[i]. */
  readonly localPaths: readonly string[];
  /** Rows in all files. */
  readonly rows: bigint;
  /** Removes the local copies. */
  dispose(): Promise<void>;
}

/** Stages, uploads and disposes: the relation as uploaded data files. */
export async function writeDataFiles(options: WriteDataFilesOptions): Promise<DataFile[]> {
  const staged = await stageDataFiles(options);
  try {
    return await uploadDataFiles(options.store, staged);
  } finally {
    await staged.dispose();
  }
}

/** Uploads staged files to their table paths (a few at a time). */
export async function uploadDataFiles(
  store: ObjectStore,
  staged: StagedDataFiles,
): Promise<DataFile[]> {
  const { files, localPaths } = staged;
  for (let i = 0; i < files.length; i += UPLOADS_IN_FLIGHT) {
    await Promise.all(
      files.slice(i, i + UPLOADS_IN_FLIGHT).map((f, k) =>
        store.putFile(f.filePath, localPaths[i + k])
      ),
    );
  }
  return [...files];
}

/** What staging an empty relation gives: no files. */
export const NOTHING_STAGED: StagedDataFiles = Object.freeze({
  files: [],
  localPaths: [],
  rows: 0n,
  dispose: () => Promise.resolve(),
});

/**
 * Writes the relation's rows as Parquet files in a new directory under
 * `tempDir`, with statistics and table paths; nothing leaves the machine.
 * Row values that cannot be written fail with DataError.
 */
export async function stageDataFiles(options: WriteDataFilesOptions): Promise<StagedDataFiles> {
  const { duckdb, schema, spec } = options;
  const stage = `__stage_${crypto.randomUUID().replaceAll("-", "")}`;
  const present = await validateRelation(duckdb, schema, options.source);

  // Partition tuple per row, computed in SQL where DuckDB has the function and
  // through a value -> bucket mapping table for bucket[N] (murmur3 is not in DuckDB).
  const partitionExprs: string[] = [];
  const cleanups: string[] = [];
  for (const [i, field] of spec.fields.entries()) {
    const source = schema.fields.find((f) => f.id === field["source-id"]);
    if (!source) {
      throw new LakehouseError(
        `partition field ${field.name}: no column with id ${field["source-id"]}`,
      );
    }
    const column = sqlIdent(source.name);
    const t = field.transform;
    if (t === "identity") partitionExprs.push(column);
    else if (t === "void") partitionExprs.push("NULL");
    else if (t === "hour") {
      partitionExprs.push(`CAST(floor(epoch_us(${column}) / 3600000000.0) AS INTEGER)`);
    } else if (t === "day") {
      partitionExprs.push(`CAST(floor(epoch_us(${column}) / 86400000000.0) AS INTEGER)`);
    } else if (t.startsWith("bucket[")) {
      const map = `${stage}_b${i}`;
      await createBucketMap(duckdb, options.source, source, t, map);
      cleanups.push(`TABLE ${map}`);
      partitionExprs.push(`(SELECT b FROM ${map} WHERE v = ${column})`);
    } else {
      throw new LakehouseError(
        `partition transform ${t} of ${field.name} is not supported by the writer`,
      );
    }
  }
  // A column the relation lacks is optional (validateRelation checked): NULL,
  // as in any file written before the column existed.
  const columns = schema.fields.map((f) =>
    `CAST(${present.has(f.name) ? sqlIdent(f.name) : "NULL"} AS ${duckdbType(f.type)}) AS ${
      sqlIdent(f.name)
    }`
  );
  const partCols = partitionExprs.map((e, i) => `${e} AS __p${i}`);
  // A view, not a copy: it is read twice (partition tuples, then the files),
  // and the first read only computes the partition columns. A source that
  // is not deterministic cannot slip through: rows whose partition tuple
  // changed between the reads fail the row count check below.
  await duckdb.run(
    `CREATE TEMP VIEW ${stage} AS SELECT ${
      [...columns, ...partCols].join(", ")
    } FROM ${options.source}`,
  );
  cleanups.push(`VIEW ${stage}`);
  try {
    const partNames = spec.fields.map((_, i) => `__p${i}`);
    // Partition tuple -> dense id, as a small table joined below (a window
    // function over the whole batch would sort it).
    const pids = `${stage}_pids`;
    if (partNames.length > 0) {
      await duckdb.run(
        `CREATE TEMP TABLE ${pids} AS SELECT *, (row_number() OVER (ORDER BY ${
          partNames.join(", ")
        }) - 1)::BIGINT AS pid FROM (SELECT ${partNames.join(", ")}, count(*) AS n FROM ${stage}
          GROUP BY ALL)`,
      );
      cleanups.push(`TABLE ${pids}`);
    }
    const tuples = partNames.length === 0
      ? [{ pid: 0n, values: [] as PartitionValue[] }]
      : (await duckdb.query(`SELECT * FROM ${pids} ORDER BY pid`)).map((row) => ({
        pid: row.pid as bigint,
        values: partNames.map((n, i) => normalizePartitionValue(row[n], spec, schema, i)),
      }));
    const total = partNames.length === 0
      ? (await duckdb.query<{ n: bigint }>(`SELECT count(*)::BIGINT AS n FROM ${stage}`))[0].n
      : tuples.length === 0
      ? 0n
      : (await duckdb.query<{ n: bigint }>(`SELECT sum(n)::BIGINT AS n FROM ${pids}`))[0].n;
    if (total === 0n) return NOTHING_STAGED;

    const outDir = join(options.tempDir, `write-${crypto.randomUUID()}`);
    await Deno.mkdir(outDir, { recursive: true });
    const dispose = () => Deno.remove(outDir, { recursive: true }).catch(() => {});
    let handedOver = false;
    try {
      const pidExpr = partNames.length === 0 ? "0" : "k.pid";
      const pidJoin = partNames.length === 0
        ? ""
        : ` JOIN ${pids} k ON ${
          partNames.map((n) => `k.${n} IS NOT DISTINCT FROM s.${n}`).join(" AND ")
        }`;
      // DuckDB cannot roll files by size inside PARTITION_BY, so files are
      // rolled by row count, estimated from the target size.
      const rowsPerFile = Math.max(
        1_000,
        Math.floor(options.targetFileSizeBytes / ESTIMATED_ROW_BYTES),
      );
      // Most batches fit one file per partition: skip the numbering then,
      // and the directory level it makes (a directory per partition created
      // and removed per batch costs the file system more than the numbering).
      const chunked = total > BigInt(rowsPerFile);
      const chunkExpr = !chunked
        ? "0"
        : `((ROW_NUMBER() OVER (PARTITION BY ${
          partNames.length ? partNames.map((n) => `s.${n}`).join(", ") : "1"
        }) - 1) // ${rowsPerFile})`;
      // No ORDER BY: DuckDB does not keep an order inside PARTITION_BY's
      // files (rows came out of order past about 300,000), so the files are
      // written unsorted (sort order 0).
      const fieldIds = fieldIdsClause(schema);
      const codec = options.compression ?? "zstd";
      if (!CODECS.has(codec)) {
        throw new LakehouseError(
          `Parquet compression codec ${JSON.stringify(codec)} is not supported (use one of ${
            [...CODECS].join(", ")
          })`,
        );
      }
      // The writer's statistics come with the files (RETURN_STATS): no
      // second pass over the rows for counts and bounds.
      const copyOptions =
        `FORMAT parquet, COMPRESSION ${codec}, FIELD_IDS ${fieldIds}, RETURN_STATS`;
      const columnList = schema.fields.map((f) => `s.${sqlIdent(f.name)}`).join(", ");
      const written: { pid: bigint; path: string }[] = [];
      let copied;
      if (tuples.length === 1 && !chunked) {
        // One partition and one file (a live batch of an hour-partitioned
        // table, an unpartitioned one): a plain COPY to that file. With
        // PARTITION_BY DuckDB buffers every row per partition first and the
        // rows are joined to their partition's id: 8-24% more CPU for the
        // same single file in `bench write` (BENCHMARKS.md).
        const path = join(outDir, `f_${crypto.randomUUID()}.parquet`);
        // The rows are still matched to the tuple read first: a source that
        // is not deterministic must not put a row in another partition's file.
        const match = partNames.length === 0
          ? ""
          : ` SEMI JOIN ${pids} k ON ${
            partNames.map((n) => `k.${n} IS NOT DISTINCT FROM s.${n}`).join(" AND ")
          }`;
        copied = await duckdb.query(
          `COPY (SELECT ${columnList} FROM ${stage} s${match}) TO ${
            sqlString(path)
          } (${copyOptions})`,
        );
        written.push({ pid: 0n, path });
      } else {
        copied = await duckdb.query(
          `COPY (SELECT ${columnList},
               ${pidExpr}::BIGINT AS ${PID}${chunked ? `, ${chunkExpr}::BIGINT AS ${CHUNK}` : ""}
             FROM ${stage} s${pidJoin})
           TO ${sqlString(outDir)} (${copyOptions}, PARTITION_BY (${PID}${
            chunked ? `, ${CHUNK}` : ""
          }),
             FILENAME_PATTERN 'f_{uuid}', OVERWRITE_OR_IGNORE)`,
        );
        for await (const entry of Deno.readDir(outDir)) {
          const match = new RegExp(`^${PID}=(\\d+)$`).exec(entry.name);
          if (!entry.isDirectory || !match) continue;
          const dirs = chunked
            ? (await Array.fromAsync(Deno.readDir(join(outDir, entry.name))))
              .filter((chunk) => chunk.isDirectory).map((chunk) =>
                join(outDir, entry.name, chunk.name)
              )
            : [join(outDir, entry.name)];
          for (const dir of dirs) {
            for await (const file of Deno.readDir(dir)) {
              if (file.isFile && file.name.endsWith(".parquet")) {
                written.push({ pid: BigInt(match[1]), path: join(dir, file.name) });
              }
            }
          }
        }
      }
      written.sort((
        a,
        b,
      ) => (a.pid < b.pid ? -1 : a.pid > b.pid ? 1 : a.path.localeCompare(b.path)));
      const stats = await computeFileStats(duckdb, schema, written.map((w) => w.path), copied);
      const files: DataFile[] = written.map((w) => {
        const tuple = tuples[Number(w.pid)];
        const s = stats.get(w.path)!;
        return {
          content: FileContent.Data,
          filePath: `${options.location.replace(/\/$/, "")}/data/${
            partitionPath(spec, tuple.values)
          }${crypto.randomUUID()}.parquet`,
          fileFormat: "PARQUET",
          partition: tuple.values,
          recordCount: s.recordCount,
          fileSizeInBytes: s.fileSizeInBytes,
          columnSizes: s.columnSizes,
          valueCounts: s.valueCounts,
          nullValueCounts: s.nullValueCounts,
          lowerBounds: s.lowerBounds,
          upperBounds: s.upperBounds,
          splitOffsets: s.splitOffsets,
          sortOrderId: 0,
        };
      });
      const rows = files.reduce((sum, f) => sum + f.recordCount, 0n);
      if (rows !== total) {
        throw new LakehouseError(
          `wrote ${rows} rows into ${files.length} files but the batch has ${total}: refusing to commit`,
        );
      }
      handedOver = true;
      return { files, localPaths: written.map((w) => w.path), rows, dispose };
    } finally {
      if (!handedOver) await dispose();
    }
  } finally {
    if (cleanups.length > 0) {
      await duckdb.run(
        cleanups.reverse().map((object) => {
          const [kind, name] = object.split(" ");
          return `DROP ${kind} IF EXISTS ${name}`;
        }).join(";\n"),
      );
    }
  }
}

async function createBucketMap(
  duckdb: DuckDb,
  source: string,
  field: NestedField,
  transform: string,
  table: string,
): Promise<void> {
  const type = field.type as string;
  const column = sqlIdent(field.name);
  if (type === "string") {
    // The usual keys (order ids): hashed by a function DuckDB calls on its
    // vectors, so the batch's keys never travel to JS as rows and back. It
    // takes the keys' UTF-8 bytes, which are what the spec hashes.
    const n = parseTransform(transform).param!;
    const call = duckdb.defineBytesFunction(
      `__iceberg_bucket_${n}_utf8`,
      (bytes) => bucketOfBytes(bytes, n),
    );
    await duckdb.run(
      `CREATE TEMP TABLE ${table} AS SELECT v, ${call("v::VARCHAR")} AS b
       FROM (SELECT DISTINCT ${column} AS v FROM ${source} WHERE ${column} IS NOT NULL)`,
    );
    return;
  }
  const param = type === "long" ? "BIGINT" : type === "int" ? "INTEGER" : undefined;
  if (param !== undefined) {
    const fn = `__iceberg_${transform.replace(/\W/g, "_")}_${type}`;
    duckdb.defineFunction(
      fn,
      param,
      (v) => applyTransform(transform as never, type as never, toTransformInput(type, v)) as number,
    );
    await duckdb.run(
      `CREATE TEMP TABLE ${table} AS SELECT v, ${fn}(v) AS b
       FROM (SELECT DISTINCT ${column} AS v FROM ${source} WHERE ${column} IS NOT NULL)`,
    );
    return;
  }
  const rows = await duckdb.query<{ v: unknown }>(
    `SELECT DISTINCT ${column} AS v FROM ${source} WHERE ${column} IS NOT NULL`,
  );
  await duckdb.run(`CREATE TEMP TABLE ${table} (v ${duckdbType(field.type)}, b INTEGER)`);
  const chunk = 2000;
  for (let i = 0; i < rows.length; i += chunk) {
    const values = rows.slice(i, i + chunk).map(({ v }) => {
      const b = applyTransform(
        transform as never,
        type as never,
        toTransformInput(type, v),
      ) as number;
      return `(${literal(type, v)}, ${b})`;
    });
    await duckdb.run(`INSERT INTO ${table} VALUES ${values.join(", ")}`);
  }
}

function toTransformInput(type: string, v: unknown): unknown {
  if (type === "long") return BigInt(v as number | bigint);
  return v;
}

function literal(type: string, v: unknown): string {
  if (type === "string") return sqlString(String(v));
  return String(v);
}

/** Partition values as the spec's result types: hour/day/bucket -> int, identity -> source type. */
function normalizePartitionValue(
  raw: unknown,
  spec: PartitionSpec,
  schema: Schema,
  i: number,
): PartitionValue {
  if (raw === null || raw === undefined) return null;
  const field = spec.fields[i];
  const source = schema.fields.find((f) => f.id === field["source-id"])!;
  const result = transformResultType(field.transform as never, source.type as never) as IcebergType;
  if (result === "long") return BigInt(raw as number);
  if (result === "int" || result === "date") return Number(raw);
  return raw as PartitionValue;
}

/** Human-readable partition directory like Java's: `event_timestamp_hour=2026-01-01-05/`. */
function partitionPath(
  spec: PartitionSpec,
  values: readonly PartitionValue[],
): string {
  if (spec.fields.length === 0) return "";
  return spec.fields.map((field, i) => {
    const v = values[i];
    let text: string;
    if (v === null) text = "null";
    else if (field.transform === "hour") {
      text = new Date(Number(v) * 3_600_000).toISOString().slice(0, 13).replace("T", "-");
    } else if (field.transform === "day") {
      text = new Date(Number(v) * 86_400_000).toISOString().slice(0, 10);
    } else text = encodeURIComponent(String(v)).replaceAll("*", "%2A"); // DuckDB globs "*" in paths
    return `${field.name}=${text}/`;
  }).join("");
}

/**
 * Rejects a batch that does not fit the schema before anything is written:
 * a missing required column, a NULL in a required column, or a value that
 * does not convert to the column's type. The error names the column and the
 * value. Returns the names of the schema's columns the relation has.
 */
export async function validateRelation(
  duckdb: DuckDb,
  schema: Schema,
  source: string,
): Promise<Set<string>> {
  const described = await duckdb.describe(`SELECT * FROM ${source}`);
  const have = new Map(described.map((c) => [c.name, c.type]));
  for (const field of schema.fields) {
    if (!have.has(field.name) && field.required) {
      throw new LakehouseError(
        `batch does not match the table schema: column ${field.name} (${
          typeName(field.type)
        }) is missing; batch has ${[...have.keys()].join(", ")}`,
      );
    }
  }
  const checks: string[] = [];
  const present = new Set(schema.fields.filter((f) => have.has(f.name)).map((f) => f.name));
  for (const field of schema.fields) {
    if (!present.has(field.name)) continue;
    const c = sqlIdent(field.name);
    if (field.required) {
      checks.push(`bool_or(${c} IS NULL) AS ${sqlIdent(`null:${field.name}`)}`);
    }
    // A column already of the table's type needs no conversion check (a
    // full pass over the batch saved, per table and batch).
    if (typeof field.type === "string" && !sameType(have.get(field.name)!, field.type)) {
      checks.push(
        `min(CASE WHEN ${c} IS NOT NULL AND TRY_CAST(${c} AS ${
          duckdbType(field.type)
        }) IS NULL THEN CAST(${c} AS VARCHAR) END) AS ${sqlIdent(`bad:${field.name}`)}`,
      );
    }
  }
  if (checks.length === 0) return present;
  const [row] = await duckdb.query(`SELECT ${checks.join(", ")} FROM ${source}`);
  for (const field of schema.fields) {
    // Both depend on the rows' values: a writer isolates the rows at fault.
    if (row[`null:${field.name}`] === true) {
      throw new DataError(
        `batch does not match the table schema: required column ${field.name} has a NULL value`,
      );
    }
    const bad = row[`bad:${field.name}`];
    if (bad !== null && bad !== undefined) {
      throw new DataError(
        `batch does not match the table schema: column ${field.name} has value ${
          JSON.stringify(bad)
        }, which is not a ${typeName(field.type)}`,
      );
    }
  }
  return present;
}

/** Whether a DuckDB column type (as DESCRIBE names it) is the Iceberg primitive's DuckDB type. */
function sameType(described: string, type: IcebergType): boolean {
  const normal = (t: string) =>
    t.toUpperCase().replaceAll(" ", "").replace("TIMESTAMPWITHTIMEZONE", "TIMESTAMPTZ");
  return normal(described) === normal(duckdbType(type));
}

function typeName(type: IcebergType): string {
  return typeof type === "string" ? type : type.type;
}
