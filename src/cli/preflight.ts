/**
 * The checks of a command's options that look beyond each value on its own
 * (the file system, the other options). Each command calls its check right
 * after `resolveOptions` and before it does anything (no directory created,
 * no topic, no catalog, no DuckDB): a bad value stops it with a UsageError
 * (exit status 2) naming the option, where its value came from and the value
 * (`<hidden>` for a secret). Format rules of single values are `check` hooks
 * of the option table, run by `resolveOptions` itself.
 *
 * The only side effect is the probe file of `probeWritable` (see paths.ts).
 */
import { join, resolve } from "node:path";
import { errorMessage, UsageError } from "../core/errors.ts";
import { formatDuration } from "../config/options.ts";
import {
  directoryProblem,
  existingDirectoryProblem,
  outputFileProblem,
  readableFilesProblem,
  sqliteFileProblem,
} from "../config/paths.ts";
import { checkOption, rejectOption, type Resolved } from "../config/resolve.ts";
import { localPath } from "../config/values.ts";
import { loadSqlFile } from "../duckdb/sql_files.ts";
import { parseTables, SQL_FILES_OF } from "../streams/tables.ts";
import type { DEMO_OPTIONS } from "./demo.ts";
import type { GENERATE_OPTIONS } from "./generate.ts";
import type { RUN_OPTIONS } from "./run.ts";

/**
 * `--sql-dir` (`dir`): a directory holding, readable and of one statement
 * each, the SQL files of the tables written (`tables`, a `--tables` value);
 * `reject` makes the error naming it.
 */
async function checkSqlDir(
  dir: string | undefined,
  tables: string,
  reject: (problem: string) => UsageError,
): Promise<void> {
  if (dir === undefined) return;
  const files = parseTables(tables).flatMap((t) => SQL_FILES_OF[t]);
  const unreadable = readableFilesProblem(dir, files);
  if (unreadable !== undefined) throw reject(unreadable);
  for (const name of files) {
    try {
      await loadSqlFile(name, dir);
    } catch (error) {
      throw reject(`has an unusable ${name} (${errorMessage(error)})`);
    }
  }
}

/**
 * The scratch directory ($TMPDIR, else /tmp) must be a writable directory.
 * `tmpdir` is the variable's value as the command reads it.
 */
export function checkScratch(tmpdir: string | undefined): void {
  const path = tmpdir ?? "/tmp";
  const problem = existingDirectoryProblem(path);
  if (problem === undefined) return;
  const where = tmpdir === undefined
    ? "scratch directory (default)"
    : "scratch directory (from TMPDIR)";
  throw new UsageError(`${where} ${problem}, got ${JSON.stringify(path)}`);
}

/**
 * `lakehouse run`: S3 credentials in pairs; a local warehouse that is (or can
 * become) a writable directory; the catalog file (explicit, or
 * WAREHOUSE/catalog.db), required with an S3 warehouse; the SQL files; the
 * scratch directory.
 */
export async function checkRunOptions(
  resolved: Resolved<typeof RUN_OPTIONS>,
  tmpdir: string | undefined,
): Promise<void> {
  const { values } = resolved;
  checkS3Credentials(
    values["s3-access-key"],
    values["s3-secret-key"],
    (name, problem) => rejectOption(resolved, name, problem),
  );

  const s3 = /^s3a?:\/\//i.test(values.warehouse);
  if (!s3) checkOption(resolved, "warehouse", (w) => directoryProblem(localPath(w)));
  if (values.catalog !== undefined) {
    checkOption(resolved, "catalog", sqliteFileProblem);
  } else if (s3) {
    throw rejectOption(
      resolved,
      "warehouse",
      "is an S3 location, which needs --catalog PATH (the SQLite catalog is a local file, e.g. --catalog ./lake.db)",
    );
  } else {
    checkDefaultCatalog(
      join(resolve(localPath(values.warehouse)), "catalog.db"),
      (problem) => rejectOption(resolved, "warehouse", problem),
    );
  }
  await checkSqlDir(
    values["sql-dir"],
    values.tables,
    (problem) => rejectOption(resolved, "sql-dir", problem),
  );
  checkOption(resolved, "state-dir", directoryProblem);
  checkScratch(tmpdir);
}

/**
 * S3 credentials come in pairs: an access key id (`accessKey`) with a secret
 * key (`secretKey`), or neither (the AWS default credentials); `reject`
 * makes the error naming the option that is set alone.
 */
export function checkS3Credentials(
  accessKey: string | undefined,
  secretKey: string | undefined,
  reject: (name: "s3-access-key" | "s3-secret-key", problem: string) => UsageError,
): void {
  if (accessKey !== undefined && secretKey === undefined) {
    throw reject(
      "s3-access-key",
      "is set without --s3-secret-key (LAKEHOUSE_S3_SECRET_KEY): give both, or neither to use the AWS default credentials",
    );
  }
  if (secretKey !== undefined && accessKey === undefined) {
    throw reject(
      "s3-secret-key",
      "is set without --s3-access-key: give both, or neither to use the AWS default credentials",
    );
  }
}

/**
 * WAREHOUSE/catalog.db, the catalog when --catalog is not given; `reject`
 * makes the error naming --warehouse.
 */
function checkDefaultCatalog(path: string, reject: (problem: string) => UsageError): void {
  const problem = sqliteFileProblem(path);
  if (problem !== undefined) {
    throw reject(`holds a catalog.db (the default --catalog) that ${problem}`);
  }
}

/** `lakehouse demo`: the warehouse directory with its catalog.db and .tmp, the SQL files. */
export async function checkDemoOptions(resolved: Resolved<typeof DEMO_OPTIONS>): Promise<void> {
  const { values } = resolved;
  checkOption(resolved, "warehouse", (w) => directoryProblem(localPath(w)));
  const dir = resolve(localPath(values.warehouse));
  const rejectWarehouse = (problem: string) => rejectOption(resolved, "warehouse", problem);
  checkDefaultCatalog(join(dir, "catalog.db"), rejectWarehouse);
  const scratch = directoryProblem(join(dir, ".tmp"));
  if (scratch !== undefined) {
    throw rejectWarehouse(`holds a .tmp (the scratch directory) that ${scratch}`);
  }
  await checkSqlDir(
    values["sql-dir"],
    values.tables,
    (problem) => rejectOption(resolved, "sql-dir", problem),
  );
  checkOption(resolved, "state-dir", directoryProblem);
}

/** `lakehouse generate`: spikes that fit their period; the --out file. */
export function checkGenerateOptions(resolved: Resolved<typeof GENERATE_OPTIONS>): void {
  const { values } = resolved;
  if (values.profile === "spike" && values["spike-length"] > values["spike-every"]) {
    throw rejectOption(
      resolved,
      "spike-length",
      `must not be longer than --spike-every (${formatDuration(values["spike-every"])})`,
    );
  }
  checkOption(resolved, "out", outputFileProblem);
}
