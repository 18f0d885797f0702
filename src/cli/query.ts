/**
 * `lakehouse query`: read-only SQL over the tables (see src/query/session.ts)
 * from an argument, a file, standard input, or a prompt on a terminal.
 * Results are an aligned table on a terminal, CSV otherwise, or what
 * --format says. Exit status: 0 done, 1 a statement failed (one line on
 * stderr), 2 a usage error, 130 interrupted.
 */
import { join, resolve } from "node:path";
import { LakehouseError, UsageError } from "../core/errors.ts";
import { createLogger } from "../core/log.ts";
import { osErrorText } from "../core/os_errors.ts";
import { LOG_LEVEL } from "../config/common.ts";
import type { OptionSpec } from "../config/options.ts";
import { rejectOption, type Resolved, resolveOptions } from "../config/resolve.ts";
import { localPath, memoryLimitProblem } from "../config/values.ts";
import { type Format, FORMATS, writeResult } from "../query/format.ts";
import { QueryError, QuerySession, type StatementResult } from "../query/session.ts";
import { type AsOf, asOfProblem, parseAsOf } from "../query/snapshots.ts";
import { endsStatement, splitStatements } from "../query/sql_text.ts";
import type { Command, CommandContext } from "./command.ts";
import { checkS3Credentials, checkScratch } from "./preflight.ts";
import { RUN_OPTIONS } from "./run.ts";
import { scratchDirectory } from "./scratch.ts";

type RunOption = (typeof RUN_OPTIONS)[number];

/** `lakehouse run`'s option of this name, with its type. */
function runOption<N extends RunOption["name"]>(name: N): Extract<RunOption, { readonly name: N }> {
  return RUN_OPTIONS.find((o) => o.name === name) as Extract<RunOption, { readonly name: N }>;
}

export const QUERY_OPTIONS = [
  {
    ...runOption("warehouse"),
    description: "where the tables are: a local directory or an S3 location",
  },
  runOption("catalog"),
  runOption("s3-endpoint"),
  runOption("s3-region"),
  runOption("s3-access-key"),
  runOption("s3-secret-key"),
  runOption("s3-request-timeout"),
  {
    name: "file",
    type: "string",
    placeholder: "FILE.sql",
    description: "run the statements in FILE, separated by ';' (also -f FILE; '-' reads stdin)",
  },
  {
    name: "format",
    type: "choice",
    choices: FORMATS,
    description: "how results are written [default: table on a terminal, csv otherwise]",
  },
  {
    name: "as-of",
    type: "string",
    placeholder: "SNAPSHOT_ID|TIME",
    description:
      "read every table as it was: at a snapshot (that table's; the others as they were when it was committed), an ISO-8601 instant or epoch milliseconds",
    check: asOfProblem,
  },
  {
    name: "timeout",
    type: "duration",
    min: 0,
    default: "60s",
    description: "a statement running longer is stopped and fails (0: no limit)",
  },
  {
    name: "memory-limit",
    type: "string",
    default: "1GB",
    description: "DuckDB memory limit (it spills to $TMPDIR beyond it), e.g. 512MB, 2GB",
    check: memoryLimitProblem,
  },
  { ...LOG_LEVEL, default: "warn" },
] as const satisfies readonly OptionSpec[];

const PROMPT = "lakehouse> ";
const CONTINUATION = "        -> ";

/** What the command needs of the terminal, apart from CommandContext. */
export interface QueryTerminal {
  readonly stdinIsTerminal: () => boolean;
  readonly stdoutIsTerminal: () => boolean;
  /** Lines from standard input, without line breaks, until end of input. */
  readonly lines: () => AsyncIterable<string>;
  /** All of standard input. */
  readonly readAll: () => Promise<string>;
}

const denoTerminal: QueryTerminal = {
  stdinIsTerminal: () => Deno.stdin.isTerminal(),
  stdoutIsTerminal: () => Deno.stdout.isTerminal(),
  lines: () => readLines(Deno.stdin.readable),
  readAll: () => new Response(Deno.stdin.readable).text(),
};

async function* readLines(stream: ReadableStream<Uint8Array>): AsyncIterable<string> {
  let pending = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    pending += text;
    let end: number;
    while ((end = pending.indexOf("\n")) !== -1) {
      yield pending.slice(0, end).replace(/\r$/, "");
      pending = pending.slice(end + 1);
    }
  }
  if (pending !== "") yield pending;
}

const DETAILS = `SQL reads the tables of namespace shop as views, one snapshot per table,
pinned when the statement starts (for "SQL" and -f, once for all of it):
  shop.orders_events, shop.orders_current, shop.orders_rejects
  shop."orders_current@SNAPSHOT_ID"     one table at a snapshot (or @2026-01-01T12:00:00Z)
  shop."orders_current$snapshots"       the table's snapshots (ids, times, summaries)
shop is the default schema: orders_current alone works too. Only queries run
(SELECT, WITH, VALUES, FROM, TABLE, SHOW, DESCRIBE, SUMMARIZE, PIVOT, UNPIVOT,
EXPLAIN); they read the tables' files and no other file or URL.

Examples:
  lakehouse query --warehouse .lakehouse/demo \\
    "SELECT status, count(*) FROM shop.orders_current GROUP BY ALL"
  lakehouse query -f report.sql --format json --as-of 2026-01-01T12:00:00Z
  lakehouse query --warehouse ./wh            (a prompt: end statements with ;, .quit leaves)`;

export function queryCommandFor(terminal: QueryTerminal): Command {
  return {
    name: "query",
    summary: "run read-only SQL over the tables (a prompt on a terminal)",
    usage: 'lakehouse query [options] ["SQL" | -f FILE.sql]',
    details: DETAILS,
    options: QUERY_OPTIONS,
    run: (context) => runQuery(context, terminal),
  };
}

export const queryCommand: Command = queryCommandFor(denoTerminal);

/** Output closed under us (`| head`): stop writing, not an error. */
class OutputClosed extends Error {}

async function runQuery(context: CommandContext, terminal: QueryTerminal): Promise<number> {
  const { sql: argument, rest } = splitArguments(context.args);
  const resolved = resolveOptions({
    command: "query",
    specs: QUERY_OPTIONS,
    args: rest,
    env: context.env,
    readFile: context.readFile,
  });
  const tmpdir = context.env("TMPDIR");
  const { warehouse, catalog } = checkQueryOptions(resolved, tmpdir);
  const { values } = resolved;
  if (argument !== undefined && values.file !== undefined) {
    throw new UsageError("give the SQL as an argument or with -f FILE, not both");
  }
  // The SQL: the argument, -f FILE, piped standard input; else (a terminal) the prompt.
  let script: string | undefined;
  let source = "standard input";
  if (argument !== undefined) {
    [script, source] = [argument, "the argument"];
  } else if (values.file !== undefined && values.file !== "-") {
    try {
      [script, source] = [context.readFile(values.file), values.file];
    } catch (error) {
      throw new UsageError(`cannot read -f ${values.file}: ${osErrorText(error)}`);
    }
  } else if (values.file === "-" || !terminal.stdinIsTerminal()) {
    script = await terminal.readAll();
  }
  if (script !== undefined && splitStatements(script).length === 0) {
    throw new UsageError(`no SQL statement in ${source}`);
  }
  const format: Format = values.format ?? (terminal.stdoutIsTerminal() ? "table" : "csv");
  // Checked while resolving (asOfProblem): it parses.
  const asOf = values["as-of"] === undefined ? undefined : parseAsOf(values["as-of"]) as AsOf;
  const logger = createLogger(values["log-level"]);
  const scratchDir = await scratchDirectory(tmpdir ?? "/tmp", context, logger);
  // Made now, not when a table's files are fetched: DuckDB spills under it
  // (a local warehouse fetches nothing, and a spill without it fails).
  await Deno.mkdir(scratchDir, { recursive: true });
  const session = await QuerySession.open({
    warehouse,
    catalog: `sqlite:${catalog}`,
    s3: {
      endpoint: values["s3-endpoint"],
      region: values["s3-region"],
      accessKeyId: values["s3-access-key"],
      secretAccessKey: values["s3-secret-key"],
      requestTimeoutMs: values["s3-request-timeout"],
    },
    scratchDir,
    memoryLimit: values["memory-limit"],
    timeoutMs: values.timeout,
    asOf,
    logger,
    signal: context.signal,
  });
  const write = (text: string) => {
    try {
      context.stdout(text);
    } catch (error) {
      if (error instanceof Deno.errors.BrokenPipe) throw new OutputClosed();
      throw error;
    }
  };
  try {
    if (script !== undefined) {
      let results = 0;
      await session.run(script, async (result) => {
        if (results++ > 0 && (format === "table" || format === "csv")) write("\n");
        await writeResult(result, format, write);
      });
      return 0;
    }
    return await prompt(context, terminal, session, format, write);
  } catch (error) {
    if (error instanceof OutputClosed) return 0;
    if (context.signal.aborted && error instanceof QueryError) {
      context.stderr(`lakehouse query: ${error.message}\n`);
      return 130;
    }
    throw error;
  } finally {
    await session.close();
    await Deno.remove(scratchDir, { recursive: true }).catch(() => {});
  }
}

/** Statements typed at a prompt, each run once it ends with `;`, until end of input or `.quit`. */
async function prompt(
  context: CommandContext,
  terminal: QueryTerminal,
  session: QuerySession,
  format: Format,
  write: (text: string) => void,
): Promise<number> {
  const tables = await session.tables();
  write(
    `lakehouse query: tables ${
      tables.length === 0 ? "(none yet)" : tables.map((t) => `shop.${t}`).join(", ")
    }\nEnd statements with ';'. .help lists commands, .quit (or end of input) leaves.\n${PROMPT}`,
  );
  let buffer = "";
  for await (const line of terminal.lines()) {
    if (buffer === "" && line.trim().startsWith(".")) {
      const command = line.trim().split(/\s+/)[0];
      if (command === ".quit" || command === ".exit") return 0;
      if (command === ".help") {
        write(
          ".tables   the tables and their current snapshots\n.quit     leave (also .exit, end of input)\n",
        );
      } else if (command === ".tables") {
        await writeResult(await session.describeTables(), format, write);
      } else {
        context.stderr(`unknown command ${command}: .help lists them\n`);
      }
      write(PROMPT);
      continue;
    }
    buffer += `${line}\n`;
    if (endsStatement(buffer) && splitStatements(buffer).length === 0) {
      buffer = ""; // `;` alone
    } else if (endsStatement(buffer)) {
      const started = performance.now();
      try {
        await session.run(buffer, async (result: StatementResult) => {
          await writeResult(result, format, write);
          if (format === "table") {
            write(`Time: ${((performance.now() - started) / 1000).toFixed(3)} s\n`);
          }
        });
      } catch (error) {
        if (!(error instanceof LakehouseError) || error instanceof UsageError) throw error;
        context.stderr(`Error: ${error.message}\n`);
        if (context.signal.aborted) return 130;
      }
      buffer = "";
    } else if (buffer.trim() === "") {
      buffer = "";
    }
    write(buffer === "" ? PROMPT : CONTINUATION);
  }
  if (splitStatements(buffer).length > 0) {
    context.stderr("\nnot run: the last statement has no ';'\n");
  } else write("\n");
  return 0;
}

/**
 * The SQL argument (the one positional) and the other arguments, `-f FILE`
 * spelled `--file FILE`. Values of options are never taken for the SQL; an
 * argument starting with `-- ` (a comment) is; after `--` everything is.
 */
function splitArguments(args: readonly string[]): { sql?: string; rest: string[] } {
  const valued = new Set(
    // Every option of the command takes a value (none is a boolean).
    [...QUERY_OPTIONS.map((s) => s.name), "config"]
      .map((n) => `--${n}`),
  );
  const rest: string[] = [];
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      positional.push(...args.slice(i + 1));
      break;
    }
    if (arg === "-f" || valued.has(arg)) {
      rest.push(arg === "-f" ? "--file" : arg);
      if (i + 1 < args.length) rest.push(args[++i]);
    } else if (arg.startsWith("-f") && !arg.startsWith("--")) {
      rest.push(`--file=${arg.slice(2)}`);
    } else if (/^--?[A-Za-z]/.test(arg)) {
      rest.push(arg);
    } else {
      // SQL, also when it starts with a `-- comment`.
      positional.push(arg);
    }
  }
  if (positional.length > 1) {
    throw new UsageError(
      `give the SQL as one argument, in quotes (got ${positional.length} arguments: ${
        positional.map((p) => JSON.stringify(p.length > 40 ? `${p.slice(0, 40)}...` : p)).join(" ")
      })`,
    );
  }
  return { sql: positional[0], rest };
}

const SQLITE_HEADER = "SQLite format 3\0";

/**
 * Checks beyond each value's format, before anything happens: S3
 * credentials in pairs, a local warehouse that exists, a catalog file
 * (explicit, or WAREHOUSE/catalog.db; required with S3) that is an SQLite
 * database, a writable scratch directory. Returns the warehouse URI and the
 * catalog's absolute path.
 */
function checkQueryOptions(
  resolved: Resolved<typeof QUERY_OPTIONS>,
  tmpdir: string | undefined,
): { warehouse: string; catalog: string } {
  const { values } = resolved;
  checkS3Credentials(
    values["s3-access-key"],
    values["s3-secret-key"],
    (name, problem) => rejectOption(resolved, name, problem),
  );
  const s3 = /^s3a?:\/\//i.test(values.warehouse);
  let warehouse: string;
  if (s3) {
    warehouse = values.warehouse.replace(/\/+$/, "");
  } else {
    const dir = resolve(localPath(values.warehouse));
    const problem = existingDirectoryProblem(dir);
    if (problem !== undefined) {
      throw rejectOption(
        resolved,
        "warehouse",
        `${problem} (no tables were written there: 'lakehouse demo' writes to .lakehouse/demo, 'lakehouse run' to .lakehouse/warehouse)`,
      );
    }
    warehouse = `file://${dir}`;
  }
  let catalog: string;
  if (values.catalog !== undefined) {
    catalog = resolve(values.catalog);
    const problem = sqliteProblem(catalog);
    if (problem !== undefined) throw rejectOption(resolved, "catalog", problem);
  } else if (s3) {
    throw rejectOption(
      resolved,
      "warehouse",
      "is an S3 location, which needs --catalog PATH (the SQLite catalog is a local file, e.g. --catalog ./lake.db)",
    );
  } else {
    catalog = join(resolve(localPath(values.warehouse)), "catalog.db");
    const problem = sqliteProblem(catalog);
    if (problem !== undefined) {
      throw rejectOption(resolved, "warehouse", `holds no usable catalog.db: it ${problem}`);
    }
  }
  checkScratch(tmpdir);
  return { warehouse, catalog: catalog! };
}

function existingDirectoryProblem(path: string): string | undefined {
  try {
    return Deno.statSync(path).isDirectory ? undefined : "is not a directory";
  } catch (error) {
    return error instanceof Deno.errors.NotFound
      ? "does not exist"
      : `cannot be examined (${osErrorText(error)})`;
  }
}

/** An existing SQLite file this process can read. */
function sqliteProblem(path: string): string | undefined {
  let file: Deno.FsFile;
  try {
    if (!Deno.statSync(path).isFile) return "is not a regular file";
    file = Deno.openSync(path, { read: true });
  } catch (error) {
    return error instanceof Deno.errors.NotFound
      ? "does not exist"
      : `cannot be read (${osErrorText(error)})`;
  }
  try {
    const header = new Uint8Array(SQLITE_HEADER.length);
    const read = file.readSync(header) ?? 0;
    const text = new TextDecoder().decode(header.subarray(0, read));
    return text === SQLITE_HEADER ? undefined : "is not an SQLite database";
  } finally {
    file.close();
  }
}
