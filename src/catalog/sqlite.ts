/**
 * The catalog in a SQLite file through Deno's built-in `node:sqlite`, in the
 * table layout of Iceberg's JDBC catalog, so pyiceberg's SqlCatalog
 * (`type="sql"`) and Java's JdbcCatalog can open the same file.
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { dirname } from "node:path";
import { LakehouseError } from "../core/errors.ts";
import {
  AlreadyExistsError,
  type Catalog,
  CommitConflictError,
  CommitStateUnknownError,
  DEFAULT_CATALOG_NAME,
  formatNamespace,
  formatTableIdentifier,
  NamespaceNotEmptyError,
  NoSuchNamespaceError,
  NoSuchTableError,
  type TableIdentifier,
  type TablePointer,
} from "./catalog.ts";
import {
  checkCatalogName,
  checkLocation,
  checkNamespace,
  checkProperties,
  checkSwap,
  checkTable,
  childNamespaces,
  describeNamespaces,
  describeTables,
  MINIMAL_NAMESPACE_PROPERTIES,
} from "./_identifiers.ts";

/** How long a write waits for another connection's write lock before giving up. */
export const DEFAULT_BUSY_TIMEOUT_MS = 5000;

export interface SqliteCatalogOptions {
  /** Wait for a competing writer up to this long, then fail with a retriable error. */
  readonly busyTimeoutMs?: number;
}

/**
 * Iceberg's JDBC catalog tables. iceberg_type is the column Java's JdbcCatalog
 * adds for views (schema version V1); pyiceberg neither creates nor reads it,
 * and leaves it NULL, which Java also reads as a table.
 */
const CREATE_ICEBERG_TABLES = `CREATE TABLE IF NOT EXISTS iceberg_tables (
  catalog_name VARCHAR(255) NOT NULL,
  table_namespace VARCHAR(255) NOT NULL,
  table_name VARCHAR(255) NOT NULL,
  metadata_location VARCHAR(1000),
  previous_metadata_location VARCHAR(1000),
  iceberg_type VARCHAR(5),
  PRIMARY KEY (catalog_name, table_namespace, table_name)
)`;

const CREATE_NAMESPACE_PROPERTIES = `CREATE TABLE IF NOT EXISTS iceberg_namespace_properties (
  catalog_name VARCHAR(255) NOT NULL,
  namespace VARCHAR(255) NOT NULL,
  property_key VARCHAR(255) NOT NULL,
  property_value VARCHAR(1000),
  PRIMARY KEY (catalog_name, namespace, property_key)
)`;

const REQUIRED_COLUMNS: Record<string, readonly string[]> = {
  iceberg_tables: [
    "catalog_name",
    "table_namespace",
    "table_name",
    "metadata_location",
    "previous_metadata_location",
  ],
  iceberg_namespace_properties: ["catalog_name", "namespace", "property_key", "property_value"],
};

const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;
/**
 * Failures of the file under the database rather than of the statement:
 * permission taken away (PERM, READONLY, CANTOPEN), a full disk (FULL), I/O
 * errors (IOERR, PROTOCOL). They may heal, so they are reported retriable.
 */
const SQLITE_TRANSIENT = new Set([3, 8, 10, 13, 14, 15]);

function isTransient(error: unknown): boolean {
  if (!isSqliteError(error) || typeof error.errcode !== "number") return false;
  return SQLITE_TRANSIENT.has(error.errcode & 0xff);
}

/** The error shape node:sqlite throws: `errcode` is SQLite's extended result code. */
interface SqliteError extends Error {
  code: "ERR_SQLITE_ERROR";
  errcode?: number;
}

function isSqliteError(error: unknown): error is SqliteError {
  return error instanceof Error && (error as { code?: unknown }).code === "ERR_SQLITE_ERROR";
}

/** BUSY and LOCKED are reported before a statement writes anything, so they are safe to retry. */
function isBusy(error: unknown): boolean {
  if (!isSqliteError(error) || typeof error.errcode !== "number") return false;
  const primary = error.errcode & 0xff;
  return primary === SQLITE_BUSY || primary === SQLITE_LOCKED;
}

type Row = Record<string, unknown>;

/**
 * One connection to one SQLite file. node:sqlite is synchronous: every method
 * runs to completion before the next begins, and a write that waits for
 * another process's lock blocks this thread for up to `busyTimeoutMs`.
 * Several processes can commit to one file; SQLite's locks serialize the
 * commits (see the journal mode below).
 */
export class SqliteCatalog implements Catalog {
  readonly name: string;
  readonly path: string;
  readonly busyTimeoutMs: number;
  readonly #db: DatabaseSync;
  readonly #sql: ReturnType<typeof prepareStatements>;
  #closed = false;

  /**
   * Opens (creating if needed) the catalog database at `path`, creating the
   * JDBC catalog tables if they are missing. Several catalogs, told apart by
   * `name` (the catalog_name column), can share one file.
   */
  static open(
    path: string,
    name: string = DEFAULT_CATALOG_NAME,
    options: SqliteCatalogOptions = {},
  ): Promise<SqliteCatalog> {
    try {
      return Promise.resolve(new SqliteCatalog(path, name, options));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private constructor(path: string, name: string, options: SqliteCatalogOptions) {
    checkCatalogName(name);
    if (typeof path !== "string" || path.length === 0) {
      throw new LakehouseError("cannot open SQLite catalog: the database path is empty");
    }
    const busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
    if (!Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
      throw new LakehouseError(
        `cannot open SQLite catalog ${path}: busyTimeoutMs must be a non-negative integer, got ${busyTimeoutMs}`,
      );
    }
    this.name = name;
    this.path = path;
    this.busyTimeoutMs = busyTimeoutMs;
    const inMemory = path === ":memory:";
    if (!inMemory && !path.startsWith("file:")) {
      // The embedded setup keeps its catalog in a state directory that may not
      // exist yet on a first run.
      Deno.mkdirSync(dirname(path), { recursive: true });
    }
    try {
      this.#db = new DatabaseSync(path);
    } catch (error) {
      throw new LakehouseError(`cannot open SQLite catalog ${path}: ${errorText(error)}`, {
        cause: error,
      });
    }
    try {
      // busy_timeout comes first so that even switching the journal mode
      // waits for another process that is opening the same file.
      this.#db.prepare(`PRAGMA busy_timeout = ${busyTimeoutMs}`).get();
      // A rollback journal, not WAL: WAL maps its -shm index file into memory,
      // and a write to that mapping when the file cannot be written (the
      // warehouse made read-only or immutable under a running engine) kills
      // the process with SIGBUS, which no retry can handle. With a journal
      // the same fault is an error that is retried. Readers now wait for a
      // commit's few milliseconds instead of reading beside it. A catalog
      // another process holds open in WAL mode stays in WAL mode.
      this.#db.prepare("PRAGMA journal_mode = DELETE").get();
      // FULL makes each commit durable before swapTable returns: the pointer is
      // the commit point of the whole system and must not roll back on power loss.
      this.#db.prepare("PRAGMA synchronous = FULL").run();
      this.#db.prepare(CREATE_ICEBERG_TABLES).run();
      this.#db.prepare(CREATE_NAMESPACE_PROPERTIES).run();
      const tableColumns = this.#columns("iceberg_tables");
      this.#columns("iceberg_namespace_properties");
      // A file created by pyiceberg (or Java before 1.4) has no iceberg_type
      // column; it is used as is rather than altered under other tools.
      this.#sql = prepareStatements(this.#db, tableColumns.has("iceberg_type"));
    } catch (error) {
      this.#db.close();
      if (error instanceof LakehouseError) throw error;
      throw this.#translate(`open SQLite catalog ${path}`, error);
    }
  }

  createNamespace(
    namespace: readonly string[],
    properties: Readonly<Record<string, string>> = {},
  ): Promise<void> {
    return this.#op(`create namespace ${formatNamespace(namespace)}`, () => {
      checkNamespace(namespace);
      checkProperties(namespace, properties);
      this.#write(() => {
        if (this.#exists(namespace)) throw new AlreadyExistsError({ namespace }, this.#where);
        const rows = Object.keys(properties).length === 0
          ? MINIMAL_NAMESPACE_PROPERTIES
          : properties;
        this.#insertProperties(namespace, rows);
      });
    });
  }

  ensureNamespace(namespace: readonly string[]): Promise<void> {
    return this.#op(`ensure namespace ${formatNamespace(namespace)}`, () => {
      checkNamespace(namespace);
      if (this.#exists(namespace)) return;
      this.#write(() => {
        if (!this.#exists(namespace)) {
          this.#insertProperties(namespace, MINIMAL_NAMESPACE_PROPERTIES);
        }
      });
    });
  }

  namespaceExists(namespace: readonly string[]): Promise<boolean> {
    return this.#op(`check namespace ${formatNamespace(namespace)}`, () => {
      checkNamespace(namespace);
      return this.#exists(namespace);
    });
  }

  loadNamespaceProperties(namespace: readonly string[]): Promise<Record<string, string>> {
    return this.#op(`load properties of namespace ${formatNamespace(namespace)}`, () => {
      checkNamespace(namespace);
      const rows = this.#read(() => {
        if (!this.#exists(namespace)) throw new NoSuchNamespaceError(namespace, this.#where);
        return this.#sql.loadProperties.all(this.#nsParams(namespace));
      });
      const properties: Record<string, string> = {};
      for (const row of rows) {
        // The Java layout allows NULL values; a key without a value is left out.
        if (typeof row.property_value === "string") {
          properties[String(row.property_key)] = row.property_value;
        }
      }
      return properties;
    });
  }

  listNamespaces(parent: readonly string[] = []): Promise<string[][]> {
    return this.#op(`list namespaces under ${formatNamespace(parent) || "the root"}`, () => {
      if (parent.length > 0) checkNamespace(parent);
      const stored = this.#read(() => {
        if (parent.length > 0 && !this.#exists(parent)) {
          throw new NoSuchNamespaceError(parent, this.#where);
        }
        return this.#sql.allNamespaces.all({ catalog: this.name });
      });
      return childNamespaces(stored.map((row) => String(row.namespace)), parent);
    });
  }

  dropNamespace(namespace: readonly string[]): Promise<void> {
    return this.#op(`drop namespace ${formatNamespace(namespace)}`, () => {
      checkNamespace(namespace);
      this.#write(() => {
        if (!this.#exists(namespace)) throw new NoSuchNamespaceError(namespace, this.#where);
        const key = formatNamespace(namespace);
        // Views count too: dropping their namespace would orphan them.
        const names = this.#sql.namespaceEntries.all(this.#nsParams(namespace))
          .map((row) => String(row.table_name));
        if (names.length > 0) {
          throw new NamespaceNotEmptyError(namespace, describeTables(key, names), this.#where);
        }
        // A child keeps its parent existing, so the drop would not take effect.
        const stored = this.#sql.allNamespaces.all({ catalog: this.name })
          .map((row) => String(row.namespace));
        const children = childNamespaces(stored, namespace);
        if (children.length > 0) {
          throw new NamespaceNotEmptyError(namespace, describeNamespaces(children), this.#where);
        }
        this.#sql.deleteProperties.run(this.#nsParams(namespace));
      });
    });
  }

  createTable(table: TableIdentifier, metadataLocation: string): Promise<void> {
    return this.#op(`create table ${formatTableIdentifier(table)}`, () => {
      checkTable(table);
      checkLocation(table, "metadata location", metadataLocation);
      this.#write(() => {
        if (!this.#exists(table.namespace)) {
          throw new NoSuchNamespaceError(table.namespace, this.#where);
        }
        if (this.#sql.anyEntry.get(this.#tableParams(table)) !== undefined) {
          throw new AlreadyExistsError({ table }, this.#where);
        }
        this.#sql.insertTable.run({ ...this.#tableParams(table), location: metadataLocation });
      });
    });
  }

  loadTable(table: TableIdentifier): Promise<TablePointer> {
    return this.#op(`load table ${formatTableIdentifier(table)}`, () => {
      checkTable(table);
      const row = this.#sql.getTable.get(this.#tableParams(table));
      if (row === undefined) throw new NoSuchTableError(table, this.#where);
      return this.#pointer(table, row);
    });
  }

  tableExists(table: TableIdentifier): Promise<boolean> {
    return this.#op(`check table ${formatTableIdentifier(table)}`, () => {
      checkTable(table);
      return this.#sql.getTable.get(this.#tableParams(table)) !== undefined;
    });
  }

  listTables(namespace: readonly string[]): Promise<TableIdentifier[]> {
    return this.#op(`list tables in namespace ${formatNamespace(namespace)}`, () => {
      checkNamespace(namespace);
      const rows = this.#read(() => {
        if (!this.#exists(namespace)) throw new NoSuchNamespaceError(namespace, this.#where);
        return this.#sql.listTables.all(this.#nsParams(namespace));
      });
      return rows.map((row) => ({ namespace: [...namespace], name: String(row.table_name) }));
    });
  }

  swapTable(table: TableIdentifier, expected: string, next: string): Promise<void> {
    const what = `commit to table ${formatTableIdentifier(table)}`;
    return this.#op(what, () => {
      checkSwap(table, expected, next);
      let changes: number;
      try {
        // The one statement that commits: it applies only if nobody else has
        // moved the pointer since `expected` was read.
        changes = Number(
          this.#sql.swap.run({ ...this.#tableParams(table), expected, next }).changes,
        );
      } catch (error) {
        if (isBusy(error)) throw this.#translate(what, error);
        // Any other failure may strike after the WAL frame carrying the commit
        // reached the disk (an I/O error while syncing, for one), so a later
        // reader could still see the swap.
        throw new CommitStateUnknownError(table, { next, catalog: this.name, cause: error });
      }
      if (changes === 1) return;
      if (changes !== 0) {
        throw new LakehouseError(
          `${what}: the swap changed ${changes} rows; the primary key of iceberg_tables is missing`,
        );
      }
      let row: Row | undefined;
      try {
        row = this.#sql.getTable.get(this.#tableParams(table));
      } catch (cause) {
        // Nothing was changed; the retry reloads the table and finds out more.
        throw new CommitConflictError(table, { expected, catalog: this.name, cause });
      }
      if (row === undefined) throw new NoSuchTableError(table, this.#where);
      const actual = row.metadata_location;
      throw new CommitConflictError(table, {
        expected,
        ...(typeof actual === "string" ? { actual } : {}),
        catalog: this.name,
      });
    });
  }

  dropTable(table: TableIdentifier): Promise<void> {
    return this.#op(`drop table ${formatTableIdentifier(table)}`, () => {
      checkTable(table);
      const { changes } = this.#sql.dropTable.run(this.#tableParams(table));
      if (Number(changes) === 0) throw new NoSuchTableError(table, this.#where);
    });
  }

  renameTable(from: TableIdentifier, to: TableIdentifier): Promise<void> {
    return this.#op(
      `rename table ${formatTableIdentifier(from)} to ${formatTableIdentifier(to)}`,
      () => {
        checkTable(from);
        checkTable(to);
        this.#write(() => {
          if (this.#sql.getTable.get(this.#tableParams(from)) === undefined) {
            throw new NoSuchTableError(from, this.#where);
          }
          if (!this.#exists(to.namespace)) {
            throw new NoSuchNamespaceError(to.namespace, this.#where);
          }
          if (this.#sql.anyEntry.get(this.#tableParams(to)) !== undefined) {
            throw new AlreadyExistsError({ table: to }, this.#where);
          }
          this.#sql.renameTable.run({
            ...this.#tableParams(from),
            toNamespace: formatNamespace(to.namespace),
            toName: to.name,
          });
        });
      },
    );
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#db.close();
    }
    return Promise.resolve();
  }

  get #where(): { catalog: string } {
    return { catalog: this.name };
  }

  #nsParams(namespace: readonly string[]): { catalog: string; namespace: string } {
    return { catalog: this.name, namespace: formatNamespace(namespace) };
  }

  #tableParams(table: TableIdentifier): { catalog: string; namespace: string; name: string } {
    return { catalog: this.name, namespace: formatNamespace(table.namespace), name: table.name };
  }

  #exists(namespace: readonly string[]): boolean {
    const row = this.#sql.namespaceExists.get({
      catalog: this.name,
      namespace: formatNamespace(namespace),
      prefix: `${formatNamespace(namespace)}.`,
    });
    return Number(row?.present) === 1;
  }

  #insertProperties(
    namespace: readonly string[],
    properties: Readonly<Record<string, string>>,
  ): void {
    for (const [key, value] of Object.entries(properties)) {
      this.#sql.insertProperty.run({ ...this.#nsParams(namespace), key, value });
    }
  }

  #pointer(table: TableIdentifier, row: Row): TablePointer {
    const metadataLocation = row.metadata_location;
    if (typeof metadataLocation !== "string" || metadataLocation.length === 0) {
      throw new LakehouseError(
        `table ${formatTableIdentifier(table)} in catalog "${this.name}" has no metadata location`,
      );
    }
    const previous = row.previous_metadata_location;
    return typeof previous === "string" && previous.length > 0
      ? { metadataLocation, previousMetadataLocation: previous }
      : { metadataLocation };
  }

  /**
   * Several reads that must agree (a namespace check and a listing) in one
   * snapshot, so a concurrent drop cannot slip between them.
   */
  #read<T>(body: () => T): T {
    this.#sql.beginRead.run();
    try {
      return body();
    } finally {
      if (this.#db.isTransaction) this.#sql.rollback.run();
    }
  }

  /**
   * A check-then-write as one transaction. IMMEDIATE takes the write lock up
   * front: a read transaction upgraded later fails at once with SQLITE_BUSY in
   * WAL mode instead of waiting for busy_timeout.
   */
  #write<T>(body: () => T): T {
    this.#sql.beginWrite.run();
    try {
      const result = body();
      this.#sql.commit.run();
      return result;
    } catch (error) {
      if (this.#db.isTransaction) this.#sql.rollback.run();
      throw error;
    }
  }

  /** Runs one synchronous operation, turning SQLite failures into errors that name it. */
  #op<T>(what: string, body: () => T): Promise<T> {
    try {
      if (this.#closed) {
        throw new LakehouseError(`cannot ${what}: SQLite catalog ${this.path} is closed`);
      }
      return Promise.resolve(body());
    } catch (error) {
      if (error instanceof LakehouseError) return Promise.reject(error);
      return Promise.reject(this.#translate(what, error));
    }
  }

  #translate(what: string, error: unknown): LakehouseError {
    if (isBusy(error)) {
      return new LakehouseError(
        `cannot ${what}: SQLite catalog ${this.path} stayed locked by another writer for ` +
          `more than ${this.busyTimeoutMs} ms`,
        { cause: error, retriable: true },
      );
    }
    return new LakehouseError(
      `cannot ${what}: SQLite catalog ${this.path} failed: ${errorText(error)}`,
      { cause: error, retriable: isTransient(error) },
    );
  }

  #columns(table: string): Set<string> {
    const rows = this.#db.prepare(`PRAGMA table_info(${table})`).all();
    const columns = new Set(rows.map((row) => String(row.name)));
    const missing = REQUIRED_COLUMNS[table].filter((column) => !columns.has(column));
    if (missing.length > 0) {
      throw new LakehouseError(
        `cannot open SQLite catalog ${this.path}: table ${table} lacks column(s) ${
          missing.join(", ")
        }; it is not an Iceberg JDBC catalog table`,
      );
    }
    return columns;
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function prepareStatements(db: DatabaseSync, hasRecordType: boolean) {
  // With the iceberg_type column, rows marked VIEW belong to Java's view
  // support; NULL is what pyiceberg and older Java versions write for tables.
  const tablesOnly = hasRecordType ? " AND (iceberg_type = 'TABLE' OR iceberg_type IS NULL)" : "";
  const key = "catalog_name = :catalog AND table_namespace = :namespace AND table_name = :name";
  const prepare = (sql: string): StatementSync => db.prepare(sql);
  return {
    beginRead: prepare("BEGIN DEFERRED"),
    beginWrite: prepare("BEGIN IMMEDIATE"),
    commit: prepare("COMMIT"),
    rollback: prepare("ROLLBACK"),
    getTable: prepare(
      "SELECT metadata_location, previous_metadata_location FROM iceberg_tables " +
        `WHERE ${key}${tablesOnly}`,
    ),
    anyEntry: prepare(`SELECT 1 AS present FROM iceberg_tables WHERE ${key}`),
    insertTable: prepare(
      hasRecordType
        ? "INSERT INTO iceberg_tables (catalog_name, table_namespace, table_name, " +
          "metadata_location, previous_metadata_location, iceberg_type) " +
          "VALUES (:catalog, :namespace, :name, :location, NULL, 'TABLE')"
        : "INSERT INTO iceberg_tables (catalog_name, table_namespace, table_name, " +
          "metadata_location, previous_metadata_location) " +
          "VALUES (:catalog, :namespace, :name, :location, NULL)",
    ),
    swap: prepare(
      "UPDATE iceberg_tables SET metadata_location = :next, previous_metadata_location = :expected " +
        `WHERE ${key} AND metadata_location = :expected${tablesOnly}`,
    ),
    dropTable: prepare(`DELETE FROM iceberg_tables WHERE ${key}${tablesOnly}`),
    renameTable: prepare(
      "UPDATE iceberg_tables SET table_namespace = :toNamespace, table_name = :toName " +
        `WHERE ${key}${tablesOnly}`,
    ),
    listTables: prepare(
      "SELECT table_name FROM iceberg_tables " +
        `WHERE catalog_name = :catalog AND table_namespace = :namespace${tablesOnly} ` +
        "ORDER BY table_name",
    ),
    namespaceEntries: prepare(
      "SELECT table_name FROM iceberg_tables " +
        "WHERE catalog_name = :catalog AND table_namespace = :namespace ORDER BY table_name",
    ),
    // A namespace exists if anything is stored in it or below it. substr, not
    // LIKE: SQLite's LIKE ignores ASCII case and treats "_" and "%" as wildcards.
    namespaceExists: prepare(
      "SELECT (EXISTS (SELECT 1 FROM iceberg_tables WHERE catalog_name = :catalog AND " +
        "(table_namespace = :namespace OR substr(table_namespace, 1, length(:prefix)) = :prefix))" +
        " OR EXISTS (SELECT 1 FROM iceberg_namespace_properties WHERE catalog_name = :catalog AND " +
        "(namespace = :namespace OR substr(namespace, 1, length(:prefix)) = :prefix))) AS present",
    ),
    allNamespaces: prepare(
      "SELECT table_namespace AS namespace FROM iceberg_tables WHERE catalog_name = :catalog " +
        "UNION SELECT namespace FROM iceberg_namespace_properties WHERE catalog_name = :catalog",
    ),
    loadProperties: prepare(
      "SELECT property_key, property_value FROM iceberg_namespace_properties " +
        "WHERE catalog_name = :catalog AND namespace = :namespace ORDER BY property_key",
    ),
    insertProperty: prepare(
      "INSERT INTO iceberg_namespace_properties " +
        "(catalog_name, namespace, property_key, property_value) " +
        "VALUES (:catalog, :namespace, :key, :value)",
    ),
    deleteProperties: prepare(
      "DELETE FROM iceberg_namespace_properties WHERE catalog_name = :catalog AND namespace = :namespace",
    ),
  };
}
