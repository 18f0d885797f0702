/**
 * Read-only SQL over the lakehouse tables. Each run of a SQL text pins one
 * snapshot per table (the current one, or --as-of's), exposes the tables of
 * namespace `shop` as DuckDB views from our own scan (planScan +
 * createScanView: columns matched by field id, position deletes applied),
 * then runs the text's statements in a DuckDB that is locked down
 * (src/duckdb/sandbox.ts): it reads only those views' files and no setting
 * changes. Before DuckDB runs anything, every statement must be a query:
 * first by its leading keyword (sql_text.ts, for a clear message), then by
 * the statement type DuckDB's own parser gives it.
 *
 * Names a query can use (schema `shop`, also the default schema):
 * - `shop.TABLE`: the pinned snapshot;
 * - `shop."TABLE@SPEC"`: the snapshot SPEC names (id, ISO-8601 instant or
 *   epoch ms; see snapshots.ts);
 * - `shop."TABLE$snapshots"`: the table's snapshots (committed_at,
 *   snapshot_id, parent_id, operation, manifest_list, summary).
 *
 * A DuckDB holds the views of one pinning; the next run reuses it when it
 * pins the same snapshots, else opens another (the lock-down cannot be
 * undone to allow new files).
 */
import { join } from "node:path";
import type { Catalog, TableIdentifier } from "../catalog/catalog.ts";
import { openCatalog } from "../catalog/mod.ts";
import { LakehouseError } from "../core/errors.ts";
import { formatDuration } from "../config/options.ts";
import type { Logger } from "../core/log.ts";
import { DuckDb, sqlIdent, sqlString } from "../duckdb/duckdb.ts";
import {
  type Cell,
  interrupt,
  lockDown,
  type PreparedStatement,
  prepareStatements,
  type QueryStream,
  SqlError,
} from "../duckdb/sandbox.ts";
import { planScan, type ScanPlan } from "../iceberg/scan/plan.ts";
import { createScanView } from "../iceberg/scan/view.ts";
import { currentSnapshot, schemaById } from "../iceberg/spec/metadata.ts";
import type { TableMetadata } from "../iceberg/spec/types.ts";
import { loadTable, ManifestReader } from "../iceberg/table.ts";
import { filePath } from "../storage/file.ts";
import { openStore } from "../storage/mod.ts";
import type { S3Config } from "../storage/s3.ts";
import type { ObjectStore } from "../storage/store.ts";
import { type AsOf, type Pinned, pinOne, pinTables } from "./snapshots.ts";
import {
  ALLOWED_STATEMENTS,
  namedTables,
  readOnlyProblem,
  splitStatements,
  timeTravelNames,
} from "./sql_text.ts";

export const NAMESPACE = ["shop"] as const;

/** Statement types DuckDB gives queries (DESCRIBE, SHOW, SUMMARIZE, VALUES and PIVOT are SELECTs). */
const QUERY_KINDS = new Set(["SELECT", "EXPLAIN"]);

export interface QuerySessionOptions {
  /** `file:///abs/dir` or `s3://bucket/prefix`. */
  readonly warehouse: string;
  /** `sqlite:PATH`. */
  readonly catalog: string;
  readonly s3?: Partial<S3Config>;
  /** This process's scratch directory: downloaded table files, DuckDB's spill files. */
  readonly scratchDir: string;
  /** DuckDB memory limit, e.g. "1GB". */
  readonly memoryLimit: string;
  /** A statement running longer is interrupted; 0 = no limit. */
  readonly timeoutMs: number;
  readonly asOf?: AsOf;
  readonly logger: Logger;
  /** Aborted: the running statement is interrupted. */
  readonly signal?: AbortSignal;
}

/** A statement's failure, in one line. */
export class QueryError extends LakehouseError {}

/** One statement's result, streamed. */
export interface StatementResult extends QueryStream {
  /** 1-based position in the text. */
  readonly index: number;
}

interface Sandbox {
  readonly key: string;
  readonly duckdb: DuckDb;
}

export class QuerySession {
  readonly #options: QuerySessionOptions;
  readonly #store: ObjectStore;
  readonly #catalog: Catalog;
  readonly #manifests: ManifestReader;
  #sandbox: Sandbox | undefined;
  #views = 0;

  private constructor(options: QuerySessionOptions, store: ObjectStore, catalog: Catalog) {
    this.#options = options;
    this.#store = store;
    this.#catalog = catalog;
    this.#manifests = new ManifestReader(store);
  }

  static async open(options: QuerySessionOptions): Promise<QuerySession> {
    const store = openStore(options.warehouse, options.s3, { signal: options.signal });
    try {
      const catalog = await openCatalog(options.catalog);
      return new QuerySession(options, store, catalog);
    } catch (error) {
      await store.close();
      throw error;
    }
  }

  /** The tables of namespace `shop` (`orders_events`...), sorted. */
  async tables(): Promise<string[]> {
    if (!(await this.#catalog.namespaceExists(NAMESPACE))) return [];
    return (await this.#catalog.listTables(NAMESPACE)).map((t) => t.name).sort();
  }

  /** The tables with their current snapshots, as a result (the prompt's `.tables`). */
  async describeTables(): Promise<QueryStream> {
    const rows: Cell[][] = [];
    for (const [name, m] of await this.#loadTables()) {
      const s = currentSnapshot(m);
      rows.push([
        `shop.${name}`,
        s === undefined ? null : s["snapshot-id"],
        s === undefined ? null : new Date(s["timestamp-ms"]).toISOString(),
        m.snapshots.length,
      ]);
    }
    return {
      columns: [
        { name: "table", type: "VARCHAR", numeric: false },
        { name: "snapshot_id", type: "BIGINT", numeric: true },
        { name: "committed_at", type: "TIMESTAMP WITH TIME ZONE", numeric: false },
        { name: "snapshots", type: "INTEGER", numeric: true },
      ],
      chunks: (async function* () {
        yield rows;
      })(),
    };
  }

  /**
   * Runs the statements of `sql`, each after the previous one's rows were
   * consumed by `onResult`. Throws QueryError (one line) on the first that
   * is not a query or fails.
   */
  async run(sql: string, onResult: (result: StatementResult) => Promise<void>): Promise<void> {
    const statements = splitStatements(sql);
    if (statements.length === 0) throw new QueryError("no SQL statement to run");
    statements.forEach((s, i) => {
      const problem = readOnlyProblem(s.tokens);
      if (problem !== undefined) {
        throw new QueryError(
          `${statements.length > 1 ? `statement ${i + 1}: ` : ""}${problem}: ` +
            `queries are read-only (${ALLOWED_STATEMENTS})`,
        );
      }
    });
    const tokens = statements.flatMap((s) => s.tokens);
    const tables = await this.#loadTables();
    const names = [...tables.keys()];
    const named = namedTables(tokens, names);
    // On S3 a table's files are downloaded before it can be read: only the
    // tables the SQL names are prepared (all of them when it names none).
    const wanted = named.size > 0 ? named : new Set(names);
    const pinned = pinTables(tables, this.#options.asOf);
    const views: { name: string; table: string; pin: Pinned }[] = [];
    for (const name of names) {
      if (wanted.has(name)) views.push({ name, table: name, pin: pinned.get(name)! });
    }
    for (const t of timeTravelNames(tokens)) {
      const table = names.find((n) => n.toLowerCase() === t.table.toLowerCase());
      // Another quoted name with an @: DuckDB says what it makes of it.
      if (table === undefined) continue;
      const pin = pinOne(tables.get(table)!, t.at, `shop.${table}`);
      views.push({ name: t.name, table, pin });
    }
    for (const v of views) {
      if (v.pin.emptyBecause !== undefined) {
        this.#options.logger.warn(`${shown(v.name)} ${v.pin.emptyBecause}: it reads as empty`);
      }
    }
    const duckdb = await this.#sandboxFor(tables, views);
    const prepared = await this.#prepare(duckdb, sql, names);
    try {
      for (const [i, statement] of prepared.entries()) {
        if (!QUERY_KINDS.has(statement.kind)) {
          throw new QueryError(
            `${prepared.length > 1 ? `statement ${i + 1}: ` : ""}${statement.kind} statements ` +
              `are not allowed: queries are read-only (${ALLOWED_STATEMENTS})`,
          );
        }
      }
      for (const [i, statement] of prepared.entries()) {
        await this.#runOne(duckdb, statement, i + 1, prepared.length, names, onResult);
      }
    } finally {
      for (const p of prepared) p.close();
    }
  }

  async close(): Promise<void> {
    this.#sandbox?.duckdb.close();
    this.#sandbox = undefined;
    await this.#catalog.close();
    await this.#store.close();
  }

  async #loadTables(): Promise<Map<string, TableMetadata>> {
    const out = new Map<string, TableMetadata>();
    for (const name of await this.tables()) {
      const id: TableIdentifier = { namespace: NAMESPACE, name };
      out.set(name, (await loadTable(this.#catalog, this.#store, id, this.#manifests)).metadata);
    }
    return out;
  }

  async #prepare(duckdb: DuckDb, sql: string, tables: readonly string[]) {
    try {
      return await prepareStatements(duckdb, sql);
    } catch (error) {
      if (!(error instanceof SqlError)) throw error;
      throw queryError(error, tables);
    }
  }

  async #runOne(
    duckdb: DuckDb,
    statement: PreparedStatement,
    index: number,
    of: number,
    tables: readonly string[],
    onResult: (result: StatementResult) => Promise<void>,
  ): Promise<void> {
    const { timeoutMs, signal } = this.#options;
    let timedOut = false;
    const timer = timeoutMs > 0
      ? setTimeout(() => {
        timedOut = true;
        interrupt(duckdb);
      }, timeoutMs)
      : undefined;
    const stop = () => interrupt(duckdb);
    signal?.addEventListener("abort", stop);
    try {
      if (signal?.aborted) throw new QueryError("query interrupted");
      const stream = await statement.run();
      await onResult({ ...stream, index });
    } catch (error) {
      if (error instanceof SqlError && /^INTERRUPT Error/.test(error.message)) {
        if (timedOut) {
          throw new QueryError(
            `${of > 1 ? `statement ${index}: ` : ""}query stopped: it ran longer than ` +
              `--timeout ${formatDuration(timeoutMs)}`,
          );
        }
        if (signal?.aborted) throw new QueryError("query interrupted");
      }
      // Anything else (output closed under us) is the caller's.
      if (!(error instanceof SqlError)) throw error;
      throw queryError(error, tables, of > 1 ? `statement ${index}: ` : "");
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", stop);
    }
  }

  /** A DuckDB holding exactly `views`: the current one when it does, else a new one. */
  async #sandboxFor(
    tables: ReadonlyMap<string, TableMetadata>,
    views: readonly { name: string; table: string; pin: Pinned }[],
  ): Promise<DuckDb> {
    const key = JSON.stringify([
      [...tables].map(([name, m]) => [name, m["current-snapshot-id"]?.toString() ?? null]),
      views.map((v) => [v.name, v.pin.snapshot?.["snapshot-id"].toString() ?? null]),
    ]);
    if (this.#sandbox?.key === key) return this.#sandbox.duckdb;
    this.#sandbox?.duckdb.close();
    this.#sandbox = undefined;
    const { scratchDir, memoryLimit, logger } = this.#options;
    const duckdb = await DuckDb.open({ memoryLimit });
    try {
      const cacheDir = join(scratchDir, "cache");
      const allowed = new Set<string>();
      await duckdb.run(`CREATE SCHEMA ${sqlIdent(NAMESPACE[0])}`);
      for (const view of views) {
        const plan = await this.#plan(tables.get(view.table)!, view.pin);
        const internal = `__lakehouse_view_${++this.#views}`;
        await createScanView(plan, { duckdb, store: this.#store, cacheDir, name: internal });
        await duckdb.run(
          `CREATE VIEW ${qualified(view.name)} AS SELECT * FROM temp.main.${sqlIdent(internal)}`,
        );
        for (const task of plan.tasks) {
          for (const file of [task.file, ...task.deletes]) {
            if (isLocal(file.filePath)) allowed.add(filePath(file.filePath));
          }
        }
        logger.debug(
          `${shown(view.name)}: snapshot ${
            view.pin.snapshot?.["snapshot-id"] ?? "none"
          }, ${plan.tasks.length} data files`,
        );
      }
      for (const [name, metadata] of tables) {
        await duckdb.run(
          `CREATE VIEW ${qualified(`${name}$snapshots`)} AS ${snapshotsSql(metadata)}`,
        );
      }
      // Downloaded copies of remote files (only table files are ever put there).
      for (const path of await filesIn(cacheDir)) allowed.add(path);
      await duckdb.run(`SET search_path = ${sqlString(`${NAMESPACE[0]},main`)}`);
      await lockDown(duckdb, {
        allowedPaths: [...allowed],
        tempDirectory: join(scratchDir, "spill"),
      });
    } catch (error) {
      duckdb.close();
      throw error;
    }
    this.#sandbox = { key, duckdb };
    return duckdb;
  }

  async #plan(metadata: TableMetadata, pin: Pinned): Promise<ScanPlan> {
    if (pin.snapshot === undefined) {
      // No snapshot then: the table reads as empty, with its current columns.
      return {
        snapshot: undefined,
        schema: schemaById(metadata, metadata["current-schema-id"])!,
        tasks: [],
        prunedFiles: 0,
      };
    }
    return await planScan(metadata, this.#manifests, { snapshotId: pin.snapshot["snapshot-id"] });
  }
}

/** `shop.orders_events`, `shop."orders_events@123"`: a view as messages name it. */
function shown(name: string): string {
  return `${NAMESPACE[0]}.${/^[a-z_][a-z0-9_]*$/.test(name) ? name : JSON.stringify(name)}`;
}

function qualified(name: string): string {
  return `${sqlIdent(NAMESPACE[0])}.${sqlIdent(name)}`;
}

/** A URI the scan view reads in place (see createScanView). */
function isLocal(uri: string): boolean {
  return uri.startsWith("file:") || uri.startsWith("/");
}

async function filesIn(dir: string): Promise<string[]> {
  try {
    const out: string[] = [];
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile) out.push(join(dir, entry.name));
    }
    return out;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
}

/** The `$snapshots` view of a table: its snapshots from the metadata, oldest first. */
function snapshotsSql(metadata: TableMetadata): string {
  const columns =
    "committed_at TIMESTAMPTZ, snapshot_id BIGINT, parent_id BIGINT, operation VARCHAR, " +
    "manifest_list VARCHAR, summary MAP(VARCHAR, VARCHAR)";
  const names = "committed_at, snapshot_id, parent_id, operation, manifest_list, summary";
  if (metadata.snapshots.length === 0) {
    return `SELECT * FROM (SELECT ${
      columns.split(", ").map((c) => {
        const [name, ...type] = c.split(" ");
        return `CAST(NULL AS ${type.join(" ")}) AS ${name}`;
      }).join(", ")
    }) WHERE false`;
  }
  const rows = [...metadata.snapshots]
    .sort((a, b) => a["timestamp-ms"] - b["timestamp-ms"])
    .map((s) => {
      const { operation, ...rest } = s.summary;
      const entries = Object.entries(rest).map(([k, v]) => `${sqlString(k)}: ${sqlString(v)}`);
      return `(${
        [
          `CAST(${sqlString(new Date(s["timestamp-ms"]).toISOString())} AS TIMESTAMPTZ)`,
          `CAST(${s["snapshot-id"]} AS BIGINT)`,
          s["parent-snapshot-id"] === undefined
            ? "CAST(NULL AS BIGINT)"
            : `CAST(${s["parent-snapshot-id"]} AS BIGINT)`,
          sqlString(operation),
          sqlString(s["manifest-list"]),
          `CAST(MAP {${entries.join(", ")}} AS MAP(VARCHAR, VARCHAR))`,
        ].join(", ")
      })`;
    });
  return `SELECT * FROM (VALUES ${rows.join(", ")}) AS s(${names})`;
}

/** DuckDB's message in one line, unknown tables and refused file access in our words. */
function queryError(error: SqlError, tables: readonly string[], prefix = ""): QueryError {
  const message = error.message;
  const missing = /^Catalog Error: Table with name (.+?) does not exist/.exec(message);
  if (missing) {
    const list = tables.length === 0
      ? "there are no tables yet (none was written to this catalog)"
      : `the tables are ${tables.map((t) => `shop.${t}`).join(", ")}`;
    return new QueryError(`${prefix}table ${JSON.stringify(missing[1])} does not exist: ${list}`);
  }
  const denied =
    /^Permission Error: Cannot access (?:file|directory) "(.*?)" - file system operations are disabled/s
      .exec(message);
  if (denied) {
    return new QueryError(
      `${prefix}cannot read ${JSON.stringify(denied[1])}: queries read the tables ` +
        "(shop.*) and no other files or URLs",
    );
  }
  if (/Type with name __pivot_enum_/.test(message)) {
    // DuckDB runs a PIVOT without IN (...) as a CREATE TYPE of its values first.
    return new QueryError(
      `${prefix}PIVOT needs the values it pivots on listed: ` +
        "PIVOT shop.orders_current ON status IN ('PAID', 'SHIPPED') USING count(*)",
    );
  }
  return new QueryError(`${prefix}${oneLine(message)}`);
}

/**
 * `Binder Error: Referenced column "x" not found!\nCandidate bindings: ...\n\nLINE 1: ...`
 * -> `Binder Error: Referenced column "x" not found! Candidate bindings: ... (line 1)`.
 */
export function oneLine(message: string): string {
  const at = /\n\s*LINE (\d+):/.exec(message);
  const head = at ? message.slice(0, at.index) : message;
  const text = head.split("\n").map((l) => l.trim()).filter((l) => l !== "").join(" ");
  return at ? `${text} (line ${at[1]})` : text;
}
