/**
 * The table catalog contract. A catalog keeps, per table, only the location of
 * the table's current metadata JSON file; reading and writing those files is
 * the Iceberg layer's job. The whole system commits through one operation,
 * `swapTable`, a compare-and-swap of that location.
 */
import { LakehouseError } from "../core/errors.ts";

/** A table's name within a catalog: one or more namespace levels plus a name. */
export interface TableIdentifier {
  readonly namespace: readonly string[];
  readonly name: string;
}

/** What the catalog knows about a table: where its metadata is now and was before. */
export interface TablePointer {
  readonly metadataLocation: string;
  /** Absent for a table that has never been swapped since it was created. */
  readonly previousMetadataLocation?: string;
}

/** The catalog_name every implementation uses unless told otherwise. */
export const DEFAULT_CATALOG_NAME = "lakehouse";

export interface Catalog {
  /** Value of the catalog_name column: several catalogs can share one database. */
  readonly name: string;

  /**
   * Creates a namespace with these properties. With none, it stores
   * `exists`=`true`, because the JDBC layout only knows a namespace by its rows.
   * Throws AlreadyExistsError if it exists (also when only implied by a child
   * namespace or by tables in it).
   */
  createNamespace(
    namespace: readonly string[],
    properties?: Readonly<Record<string, string>>,
  ): Promise<void>;

  /** Creates the namespace unless it exists; safe to race with other processes. */
  ensureNamespace(namespace: readonly string[]): Promise<void>;

  /**
   * True if the namespace has property rows, tables, or child namespaces (the
   * rule pyiceberg's SqlCatalog and Java's JdbcCatalog apply).
   */
  namespaceExists(namespace: readonly string[]): Promise<boolean>;

  /** The stored properties (including `exists` if that is all there is). NoSuchNamespaceError. */
  loadNamespaceProperties(namespace: readonly string[]): Promise<Record<string, string>>;

  /** Direct children of `parent` (top-level namespaces without it), sorted. */
  listNamespaces(parent?: readonly string[]): Promise<string[][]>;

  /** NoSuchNamespaceError; NamespaceNotEmptyError while it holds tables or child namespaces. */
  dropNamespace(namespace: readonly string[]): Promise<void>;

  /** Registers a table whose first metadata file is already written. AlreadyExistsError; NoSuchNamespaceError. */
  createTable(table: TableIdentifier, metadataLocation: string): Promise<void>;

  /** NoSuchTableError naming the table. */
  loadTable(table: TableIdentifier): Promise<TablePointer>;

  tableExists(table: TableIdentifier): Promise<boolean>;

  /** Tables directly in the namespace, sorted by name. NoSuchNamespaceError. */
  listTables(namespace: readonly string[]): Promise<TableIdentifier[]>;

  /**
   * Atomically swaps the pointer iff it still equals `expected`, recording
   * `expected` as the previous location. Throws CommitConflictError
   * (retriable) when another writer won; CommitStateUnknownError
   * (retriable=false) when the outcome cannot be known (connection lost after
   * sending); NoSuchTableError if the table is gone.
   */
  swapTable(table: TableIdentifier, expected: string, next: string): Promise<void>;

  /** Removes the pointer only; the table's files are left alone. NoSuchTableError. */
  dropTable(table: TableIdentifier): Promise<void>;

  /** NoSuchTableError; NoSuchNamespaceError for the target namespace; AlreadyExistsError. */
  renameTable?(from: TableIdentifier, to: TableIdentifier): Promise<void>;

  /** Releases the connection. Idempotent; later calls on the catalog fail. */
  close(): Promise<void>;
}

/** `a.b` for ["a", "b"], the form the JDBC layout stores and people read. */
export function formatNamespace(namespace: readonly string[]): string {
  return namespace.join(".");
}

/** `a.b.table` for a table in namespace ["a", "b"]. */
export function formatTableIdentifier(table: TableIdentifier): string {
  return [...table.namespace, table.name].join(".");
}

function inCatalog(catalog: string | undefined): string {
  return catalog === undefined ? "" : ` in catalog "${catalog}"`;
}

export class NoSuchTableError extends LakehouseError {
  readonly table: TableIdentifier;

  constructor(table: TableIdentifier, options: { catalog?: string; cause?: unknown } = {}) {
    super(`table ${formatTableIdentifier(table)} does not exist${inCatalog(options.catalog)}`, {
      cause: options.cause,
    });
    this.name = "NoSuchTableError";
    this.table = table;
  }
}

export class NoSuchNamespaceError extends LakehouseError {
  readonly namespace: readonly string[];

  constructor(namespace: readonly string[], options: { catalog?: string; cause?: unknown } = {}) {
    super(
      `namespace ${formatNamespace(namespace)} does not exist${inCatalog(options.catalog)}`,
      { cause: options.cause },
    );
    this.name = "NoSuchNamespaceError";
    this.namespace = namespace;
  }
}

/** A table or namespace of that name is already there; exactly one of `table`/`namespace` is set. */
export class AlreadyExistsError extends LakehouseError {
  readonly table?: TableIdentifier;
  readonly namespace?: readonly string[];

  constructor(
    what: { table: TableIdentifier } | { namespace: readonly string[] },
    options: { catalog?: string; cause?: unknown } = {},
  ) {
    const subject = "table" in what
      ? `table ${formatTableIdentifier(what.table)}`
      : `namespace ${formatNamespace(what.namespace)}`;
    super(`${subject} already exists${inCatalog(options.catalog)}`, { cause: options.cause });
    this.name = "AlreadyExistsError";
    if ("table" in what) this.table = what.table;
    else this.namespace = what.namespace;
  }
}

export class NamespaceNotEmptyError extends LakehouseError {
  readonly namespace: readonly string[];

  /** `contents` says what is in the way, e.g. "2 tables (shop.a, shop.b)". */
  constructor(namespace: readonly string[], contents: string, options: { catalog?: string } = {}) {
    super(
      `cannot drop namespace ${formatNamespace(namespace)}${
        inCatalog(options.catalog)
      }: it still contains ${contents}`,
    );
    this.name = "NamespaceNotEmptyError";
    this.namespace = namespace;
  }
}

/**
 * The pointer no longer equals what the writer started from: another writer
 * committed first. Nothing was changed; reload, re-validate and retry.
 */
export class CommitConflictError extends LakehouseError {
  readonly table: TableIdentifier;
  readonly expected: string;
  /** The pointer seen right after the failed swap, when it could be read. */
  readonly actual?: string;

  constructor(
    table: TableIdentifier,
    options: { expected: string; actual?: string; catalog?: string; cause?: unknown },
  ) {
    const now = options.actual === undefined ? "" : ` (it is now ${options.actual})`;
    super(
      `commit to table ${formatTableIdentifier(table)}${
        inCatalog(options.catalog)
      } lost a race: its metadata pointer is no longer ${options.expected}${now}`,
      { cause: options.cause, retriable: true },
    );
    this.name = "CommitConflictError";
    this.table = table;
    this.expected = options.expected;
    if (options.actual !== undefined) this.actual = options.actual;
  }
}

/**
 * The swap may or may not have been applied (for example, the connection was
 * lost after the request was sent). Not retriable: the caller must reload the
 * table to learn the outcome, and must not delete anything `next` refers to.
 */
export class CommitStateUnknownError extends LakehouseError {
  readonly table: TableIdentifier;
  readonly next: string;

  constructor(
    table: TableIdentifier,
    options: { next: string; catalog?: string; cause?: unknown },
  ) {
    super(
      `commit to table ${formatTableIdentifier(table)}${
        inCatalog(options.catalog)
      } has an unknown outcome: the metadata pointer may or may not now be ${options.next}`,
      { cause: options.cause, retriable: false },
    );
    this.name = "CommitStateUnknownError";
    this.table = table;
    this.next = options.next;
  }
}
