/**
 * An in-process catalog with the same semantics as the SQL ones, plus faults
 * on demand, so commit races and lost answers are testable without a database.
 */
import {
  AlreadyExistsError,
  type Catalog,
  CommitConflictError,
  CommitStateUnknownError,
  DEFAULT_CATALOG_NAME,
  formatNamespace,
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
  compareStrings,
  describeNamespaces,
  describeTables,
  isSameOrDescendant,
  MINIMAL_NAMESPACE_PROPERTIES,
} from "./_identifiers.ts";
import { LakehouseError } from "../core/errors.ts";

/**
 * How the next swap fails:
 * - "conflict": CommitConflictError without applying, as if another writer won;
 * - "unknown-applied": applies the swap (if `expected` still matches), then
 *   throws CommitStateUnknownError, like a connection lost after the database
 *   committed; the dangerous case, where cleaning up would corrupt the table;
 * - "unknown-not-applied": throws CommitStateUnknownError without applying.
 */
export type SwapFault = "conflict" | "unknown-applied" | "unknown-not-applied";

/** Runs inside swapTable before the compare-and-swap, e.g. to commit a rival writer first. */
export type BeforeSwapHook = (
  table: TableIdentifier,
  expected: string,
  next: string,
) => void | Promise<void>;

export interface MemoryCatalogOptions {
  /** catalog_name; default "lakehouse". */
  readonly name?: string;
  readonly beforeSwap?: BeforeSwapHook;
}

interface Entry {
  metadataLocation: string;
  previousMetadataLocation?: string;
}

export class MemoryCatalog implements Catalog {
  readonly name: string;
  /**
   * Called before every swap's compare-and-swap. Swaps made from inside the
   * hook skip it, so the hook can commit a rival writer without recursing.
   */
  beforeSwap?: BeforeSwapHook;

  /** Keyed by the stored namespace string, as the JDBC layout keys rows. */
  readonly #properties = new Map<string, Map<string, string>>();
  readonly #tables = new Map<string, Map<string, Entry>>();
  readonly #faults: SwapFault[] = [];
  #inHook = false;
  #closed = false;

  constructor(options: MemoryCatalogOptions = {}) {
    const name = options.name ?? DEFAULT_CATALOG_NAME;
    checkCatalogName(name);
    this.name = name;
    this.beforeSwap = options.beforeSwap;
  }

  /** Queues a fault for the next swap that reaches an existing table (faults apply in order). */
  failNextSwap(kind: SwapFault): void {
    if (kind !== "conflict" && kind !== "unknown-applied" && kind !== "unknown-not-applied") {
      throw new LakehouseError(`unknown swap fault "${kind}"`);
    }
    this.#faults.push(kind);
  }

  /** Faults queued by failNextSwap that no swap has consumed yet. */
  get pendingFaults(): number {
    return this.#faults.length;
  }

  createNamespace(
    namespace: readonly string[],
    properties: Readonly<Record<string, string>> = {},
  ): Promise<void> {
    return this.#op(() => {
      checkNamespace(namespace);
      checkProperties(namespace, properties);
      if (this.#exists(namespace)) throw new AlreadyExistsError({ namespace }, this.#where);
      const rows = Object.keys(properties).length === 0 ? MINIMAL_NAMESPACE_PROPERTIES : properties;
      this.#properties.set(formatNamespace(namespace), new Map(Object.entries(rows)));
    });
  }

  ensureNamespace(namespace: readonly string[]): Promise<void> {
    return this.#op(() => {
      checkNamespace(namespace);
      if (this.#exists(namespace)) return;
      this.#properties.set(
        formatNamespace(namespace),
        new Map(Object.entries(MINIMAL_NAMESPACE_PROPERTIES)),
      );
    });
  }

  namespaceExists(namespace: readonly string[]): Promise<boolean> {
    return this.#op(() => {
      checkNamespace(namespace);
      return this.#exists(namespace);
    });
  }

  loadNamespaceProperties(namespace: readonly string[]): Promise<Record<string, string>> {
    return this.#op(() => {
      checkNamespace(namespace);
      if (!this.#exists(namespace)) throw new NoSuchNamespaceError(namespace, this.#where);
      return Object.fromEntries(this.#properties.get(formatNamespace(namespace)) ?? []);
    });
  }

  listNamespaces(parent: readonly string[] = []): Promise<string[][]> {
    return this.#op(() => {
      if (parent.length > 0) {
        checkNamespace(parent);
        if (!this.#exists(parent)) throw new NoSuchNamespaceError(parent, this.#where);
      }
      return childNamespaces(this.#storedNamespaces(), parent);
    });
  }

  dropNamespace(namespace: readonly string[]): Promise<void> {
    return this.#op(() => {
      checkNamespace(namespace);
      if (!this.#exists(namespace)) throw new NoSuchNamespaceError(namespace, this.#where);
      const key = formatNamespace(namespace);
      const tables = [...(this.#tables.get(key)?.keys() ?? [])].sort(compareStrings);
      if (tables.length > 0) {
        throw new NamespaceNotEmptyError(
          namespace,
          describeTables(key, tables),
          this.#where,
        );
      }
      const children = childNamespaces(this.#storedNamespaces(), namespace);
      if (children.length > 0) {
        throw new NamespaceNotEmptyError(
          namespace,
          describeNamespaces(children),
          this.#where,
        );
      }
      this.#properties.delete(key);
    });
  }

  createTable(table: TableIdentifier, metadataLocation: string): Promise<void> {
    return this.#op(() => {
      checkTable(table);
      checkLocation(table, "metadata location", metadataLocation);
      if (!this.#exists(table.namespace)) {
        throw new NoSuchNamespaceError(table.namespace, this.#where);
      }
      if (this.#entry(table) !== undefined) {
        throw new AlreadyExistsError({ table }, this.#where);
      }
      this.#namespaceTables(formatNamespace(table.namespace)).set(table.name, {
        metadataLocation,
      });
    });
  }

  loadTable(table: TableIdentifier): Promise<TablePointer> {
    return this.#op(() => {
      checkTable(table);
      const entry = this.#entry(table);
      if (entry === undefined) throw new NoSuchTableError(table, this.#where);
      return pointer(entry);
    });
  }

  tableExists(table: TableIdentifier): Promise<boolean> {
    return this.#op(() => {
      checkTable(table);
      return this.#entry(table) !== undefined;
    });
  }

  listTables(namespace: readonly string[]): Promise<TableIdentifier[]> {
    return this.#op(() => {
      checkNamespace(namespace);
      if (!this.#exists(namespace)) throw new NoSuchNamespaceError(namespace, this.#where);
      const names = [...(this.#tables.get(formatNamespace(namespace))?.keys() ?? [])];
      return names.sort(compareStrings).map((name) => ({ namespace: [...namespace], name }));
    });
  }

  async swapTable(table: TableIdentifier, expected: string, next: string): Promise<void> {
    this.#checkOpen();
    checkSwap(table, expected, next);
    const hook = this.beforeSwap;
    if (hook !== undefined && !this.#inHook) {
      this.#inHook = true;
      try {
        await hook(table, expected, next);
      } finally {
        this.#inHook = false;
      }
    }
    // Everything from here on is synchronous, so the compare and the swap are
    // one atomic step with respect to other callers.
    this.#checkOpen();
    const entry = this.#entry(table);
    if (entry === undefined) throw new NoSuchTableError(table, this.#where);
    const fault = this.#faults.shift();
    const matches = entry.metadataLocation === expected;
    if (fault === "conflict") {
      throw new CommitConflictError(table, {
        expected,
        actual: entry.metadataLocation,
        catalog: this.name,
        cause: new LakehouseError("injected swap conflict"),
      });
    }
    if (fault === "unknown-not-applied") {
      throw new CommitStateUnknownError(table, {
        next,
        catalog: this.name,
        cause: new LakehouseError("injected lost answer (swap not applied)"),
      });
    }
    if (matches) {
      entry.previousMetadataLocation = expected;
      entry.metadataLocation = next;
    }
    if (fault === "unknown-applied") {
      throw new CommitStateUnknownError(table, {
        next,
        catalog: this.name,
        cause: new LakehouseError(
          `injected lost answer (swap ${matches ? "applied" : "not applied: pointer had moved"})`,
        ),
      });
    }
    if (!matches) {
      throw new CommitConflictError(table, {
        expected,
        actual: entry.metadataLocation,
        catalog: this.name,
      });
    }
  }

  dropTable(table: TableIdentifier): Promise<void> {
    return this.#op(() => {
      checkTable(table);
      const tables = this.#tables.get(formatNamespace(table.namespace));
      if (tables === undefined || !tables.delete(table.name)) {
        throw new NoSuchTableError(table, this.#where);
      }
    });
  }

  renameTable(from: TableIdentifier, to: TableIdentifier): Promise<void> {
    return this.#op(() => {
      checkTable(from);
      checkTable(to);
      const entry = this.#entry(from);
      if (entry === undefined) throw new NoSuchTableError(from, this.#where);
      if (!this.#exists(to.namespace)) throw new NoSuchNamespaceError(to.namespace, this.#where);
      if (this.#entry(to) !== undefined) throw new AlreadyExistsError({ table: to }, this.#where);
      this.#tables.get(formatNamespace(from.namespace))?.delete(from.name);
      this.#namespaceTables(formatNamespace(to.namespace)).set(to.name, entry);
    });
  }

  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }

  get #where(): { catalog: string } {
    return { catalog: this.name };
  }

  /** Runs a synchronous body as one atomic step, reporting failures as rejections. */
  #op<T>(body: () => T): Promise<T> {
    try {
      this.#checkOpen();
      return Promise.resolve(body());
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw new LakehouseError(`catalog "${this.name}" (memory) is closed`);
  }

  #storedNamespaces(): string[] {
    const withTables = [...this.#tables].filter(([, t]) => t.size > 0).map(([ns]) => ns);
    return [...this.#properties.keys(), ...withTables];
  }

  #exists(namespace: readonly string[]): boolean {
    const key = formatNamespace(namespace);
    return this.#storedNamespaces().some((stored) => isSameOrDescendant(stored, key));
  }

  #entry(table: TableIdentifier): Entry | undefined {
    return this.#tables.get(formatNamespace(table.namespace))?.get(table.name);
  }

  #namespaceTables(key: string): Map<string, Entry> {
    let tables = this.#tables.get(key);
    if (tables === undefined) {
      tables = new Map();
      this.#tables.set(key, tables);
    }
    return tables;
  }
}

function pointer(entry: Entry): TablePointer {
  return entry.previousMetadataLocation === undefined
    ? { metadataLocation: entry.metadataLocation }
    : {
      metadataLocation: entry.metadataLocation,
      previousMetadataLocation: entry.previousMetadataLocation,
    };
}
