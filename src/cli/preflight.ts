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
import { formatDuration, type OptionSpec } from "../config/options.ts";
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

const SQL_FILES = ["events.sql", "rejects.sql"] as const;

function specOf(specs: readonly OptionSpec[], name: string): OptionSpec {
  const spec = specs.find((s) => s.name === name);
  if (spec === undefined) throw new Error(`no option --${name} in this command`);
  return spec;
}

/** `--sql-dir`: a directory holding readable events.sql and rejects.sql of one statement each. */
export async function checkEngineOptions(
  resolved: Resolved,
  specs: readonly OptionSpec[],
): Promise<void> {
  const spec = specOf(specs, "sql-dir");
  checkOption<string>(resolved, spec, (dir) => readableFilesProblem(dir, SQL_FILES));
  const dir = resolved.values["sql-dir"] as string | undefined;
  if (dir === undefined) return;
  for (const name of SQL_FILES) {
    try {
      await loadSqlFile(name, dir);
    } catch (error) {
      throw rejectOption(resolved, spec, `has an unusable ${name} (${errorMessage(error)})`);
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
  resolved: Resolved,
  specs: readonly OptionSpec[],
  tmpdir: string | undefined,
): Promise<void> {
  const { values } = resolved;
  const accessKey = specOf(specs, "s3-access-key");
  const secretKey = specOf(specs, "s3-secret-key");
  if (values["s3-access-key"] !== undefined && values["s3-secret-key"] === undefined) {
    throw rejectOption(
      resolved,
      accessKey,
      "is set without --s3-secret-key (LAKEHOUSE_S3_SECRET_KEY): give both, or neither to use the AWS default credentials",
    );
  }
  if (values["s3-secret-key"] !== undefined && values["s3-access-key"] === undefined) {
    throw rejectOption(
      resolved,
      secretKey,
      "is set without --s3-access-key: give both, or neither to use the AWS default credentials",
    );
  }

  const warehouse = specOf(specs, "warehouse");
  const catalog = specOf(specs, "catalog");
  const text = values.warehouse as string;
  const s3 = /^s3a?:\/\//i.test(text);
  if (!s3) checkOption<string>(resolved, warehouse, (w) => directoryProblem(localPath(w)));
  if (values.catalog !== undefined) {
    checkOption<string>(resolved, catalog, sqliteFileProblem);
  } else if (s3) {
    throw rejectOption(
      resolved,
      warehouse,
      "is an S3 location, which needs --catalog PATH (the SQLite catalog is a local file, e.g. --catalog ./lake.db)",
    );
  } else {
    checkDefaultCatalog(resolved, warehouse, join(resolve(localPath(text)), "catalog.db"));
  }
  await checkEngineOptions(resolved, specs);
  checkScratch(tmpdir);
}

/** WAREHOUSE/catalog.db, the catalog when --catalog is not given; reported on --warehouse. */
function checkDefaultCatalog(resolved: Resolved, warehouse: OptionSpec, path: string): void {
  const problem = sqliteFileProblem(path);
  if (problem !== undefined) {
    throw rejectOption(
      resolved,
      warehouse,
      `holds a catalog.db (the default --catalog) that ${problem}`,
    );
  }
}

/** `lakehouse demo`: the warehouse directory with its catalog.db and .tmp, the SQL files. */
export async function checkDemoOptions(
  resolved: Resolved,
  specs: readonly OptionSpec[],
): Promise<void> {
  const warehouse = specOf(specs, "warehouse");
  checkOption<string>(resolved, warehouse, (w) => directoryProblem(localPath(w)));
  const dir = resolve(localPath(resolved.values.warehouse as string));
  checkDefaultCatalog(resolved, warehouse, join(dir, "catalog.db"));
  const scratch = directoryProblem(join(dir, ".tmp"));
  if (scratch !== undefined) {
    throw rejectOption(resolved, warehouse, `holds a .tmp (the scratch directory) that ${scratch}`);
  }
  await checkEngineOptions(resolved, specs);
}

/** `lakehouse generate`: spikes that fit their period; the --out file. */
export function checkGenerateOptions(resolved: Resolved, specs: readonly OptionSpec[]): void {
  const { values } = resolved;
  if (values.profile === "spike") {
    const every = values["spike-every"] as number;
    if ((values["spike-length"] as number) > every) {
      throw rejectOption(
        resolved,
        specOf(specs, "spike-length"),
        `must not be longer than --spike-every (${formatDuration(every)})`,
      );
    }
  }
  checkOption<string>(resolved, specOf(specs, "out"), outputFileProblem);
}
