/**
 * Test helpers for commits: a table on a memory or SQLite catalog with its
 * own DuckDB engine, and the write paths a writer uses (append, position
 * deletes through the scan view, compaction of chosen data files). Each
 * writes the files and builds the PendingChange with the production action
 * (src/iceberg/transaction), so a test decides when and how it commits.
 */
import type { Catalog, TableIdentifier } from "../../catalog/catalog.ts";
import { MemoryCatalog } from "../../catalog/memory.ts";
import { SqliteCatalog } from "../../catalog/sqlite.ts";
import { DuckDb, sqlString } from "../../duckdb/duckdb.ts";
import { FileStore } from "../../storage/file.ts";
import { MemoryStore } from "../../storage/memory.ts";
import type { ObjectStore } from "../../storage/store.ts";
import { planScan, type ScanPlan } from "../scan/plan.ts";
import { createScanView } from "../scan/view.ts";
import type { DataFile, PartitionSpec } from "../spec/types.ts";
import { appendFiles, replaceFiles, rowDelta } from "../transaction/mod.ts";
import { createTable, loadTable, ManifestReader, type TableHandle } from "../table.ts";
import { writeDataFiles } from "../write/data_files.ts";
import { writePositionDeletes } from "../write/delete_files.ts";
import {
  commitChange,
  type CommitContext,
  type CommitOptions,
  type CommitResult,
  type PendingChange,
} from "./commit.ts";
import { BUCKET_SPEC, HOUR_SPEC, TEST_SCHEMA, testRowsSql } from "../_fixtures.ts";

export { BUCKET_SPEC, HOUR_SPEC, TEST_SCHEMA, testRowsSql };

export const TABLE_ID: TableIdentifier = { namespace: ["shop"], name: "orders" };

export interface PlannedDelete {
  /** Ids of the rows the delete files remove, ascending. */
  readonly ids: number[];
  readonly change: PendingChange;
  readonly plan: ScanPlan;
}

export interface PlannedReplace {
  /** Rows written into the new files. */
  readonly rows: number;
  readonly change: PendingChange;
  readonly plan: ScanPlan;
}

export class TableFixture {
  readonly duckdb: DuckDb;
  readonly store: ObjectStore;
  readonly catalog: Catalog;
  readonly id: TableIdentifier;
  /** Local scratch directory (DuckDB output, download cache). */
  readonly dir: string;
  /** Directory of the SQLite catalog file and the file:// warehouse (SQLite fixtures). */
  readonly sharedDir: string | undefined;
  readonly location: string;
  readonly spec: PartitionSpec;
  /** Cached reader shared by commits and scans, as a long-running writer has. */
  readonly reader: ManifestReader;
  readonly #cleanup: (() => Promise<void> | void)[];

  private constructor(
    parts: {
      duckdb: DuckDb;
      store: ObjectStore;
      catalog: Catalog;
      dir: string;
      sharedDir?: string;
      location: string;
      spec: PartitionSpec;
    },
    cleanup: (() => Promise<void> | void)[],
  ) {
    this.duckdb = parts.duckdb;
    this.store = parts.store;
    this.catalog = parts.catalog;
    this.id = TABLE_ID;
    this.dir = parts.dir;
    this.sharedDir = parts.sharedDir;
    this.location = parts.location;
    this.spec = parts.spec;
    this.reader = new ManifestReader(parts.store);
    this.#cleanup = cleanup;
  }

  /** A new table on a MemoryCatalog and a MemoryStore. */
  static async memory(
    spec: PartitionSpec = HOUR_SPEC,
  ): Promise<TableFixture & { catalog: MemoryCatalog; store: MemoryStore }> {
    const dir = await Deno.makeTempDir({ prefix: "commit-test-" });
    const duckdb = await DuckDb.open();
    const catalog = new MemoryCatalog();
    const store = new MemoryStore({ root: "memory://wh/" });
    const fixture = new TableFixture(
      { duckdb, store, catalog, dir, location: "memory://wh/shop/orders", spec },
      [() => duckdb.close(), () => Deno.remove(dir, { recursive: true })],
    );
    await fixture.create();
    return fixture as TableFixture & { catalog: MemoryCatalog; store: MemoryStore };
  }

  /**
   * A table on a SQLite catalog file and a file:// warehouse in `shared`
   * (a new directory by default). With `create: false` the fixture opens
   * its own connection, engine and store on a table another fixture made,
   * as a second process would.
   */
  static async sqlite(
    options: { spec?: PartitionSpec; shared?: string; create?: boolean } = {},
  ): Promise<TableFixture> {
    const spec = options.spec ?? HOUR_SPEC;
    const shared = options.shared ?? await Deno.makeTempDir({ prefix: "commit-test-" });
    const dir = await Deno.makeTempDir({ prefix: "commit-scratch-" });
    const duckdb = await DuckDb.open();
    const catalog = await SqliteCatalog.open(`${shared}/catalog.db`);
    const store = new FileStore(`file://${shared}/warehouse`);
    const cleanup: (() => Promise<void> | void)[] = [
      () => duckdb.close(),
      () => catalog.close(),
      () => Deno.remove(dir, { recursive: true }),
    ];
    if (options.shared === undefined) cleanup.push(() => Deno.remove(shared, { recursive: true }));
    const fixture = new TableFixture(
      {
        duckdb,
        store,
        catalog,
        dir,
        sharedDir: shared,
        location: `file://${shared}/warehouse/shop/orders`,
        spec,
      },
      cleanup,
    );
    if (options.create ?? true) await fixture.create();
    return fixture;
  }

  async create(): Promise<void> {
    await createTable(this.catalog, this.store, {
      id: this.id,
      location: this.location,
      schema: TEST_SCHEMA,
      spec: this.spec,
    });
  }

  get context(): CommitContext {
    return { catalog: this.catalog, store: this.store, id: this.id, manifests: this.reader };
  }

  async load(): Promise<TableHandle> {
    return await loadTable(this.catalog, this.store, this.id);
  }

  async commit(change: PendingChange, options: CommitOptions = {}): Promise<CommitResult> {
    return await commitChange(this.context, change, options);
  }

  /** Writes a relation of TEST_SCHEMA rows as data files of the table (no commit). */
  async writeRows(source: string): Promise<DataFile[]> {
    return await writeDataFiles({
      duckdb: this.duckdb,
      store: this.store,
      schema: TEST_SCHEMA,
      spec: this.spec,
      source,
      location: this.location,
      targetFileSizeBytes: 1 << 20,
      tempDir: this.dir,
    });
  }

  /** The append of rows `from .. from + n - 1` (data files written, not committed). */
  async planAppend(from: number, n: number): Promise<PendingChange> {
    return appendFiles(await this.writeRows(testRowsSql(from, n)));
  }

  async append(from: number, n: number, options: CommitOptions = {}): Promise<CommitResult> {
    return await this.commit(await this.planAppend(from, n), options);
  }

  /**
   * Plans the table's current (or a past) snapshot and exposes it as view
   * `name` with `_file` and `_pos`.
   */
  async scan(
    options: { snapshotId?: bigint; name?: string; reader?: ManifestReader } = {},
  ): Promise<ScanPlan> {
    const table = await this.load();
    const plan = await planScan(table.metadata, options.reader ?? this.reader, {
      snapshotId: options.snapshotId,
    });
    await createScanView(plan, {
      duckdb: this.duckdb,
      store: this.store,
      cacheDir: `${this.dir}/cache`,
      name: options.name ?? "t",
      positions: true,
    });
    return plan;
  }

  /** Ids the table holds (at a snapshot), ascending. */
  async ids(options: { snapshotId?: bigint; reader?: ManifestReader } = {}): Promise<number[]> {
    await this.scan({ ...options, name: "ids_view" });
    const rows = await this.duckdb.query<{ id: bigint }>("SELECT id FROM ids_view ORDER BY id");
    return rows.map((r) => Number(r.id));
  }

  /** Position deletes for the current rows matching `predicate` (not committed). */
  async planDelete(predicate: string): Promise<PlannedDelete> {
    const plan = await this.scan({ name: "del_view" });
    const del = `del_${crypto.randomUUID().replaceAll("-", "")}`;
    await this.duckdb.run(
      `CREATE TEMP TABLE ${del} AS
         SELECT _file AS file_path, _pos AS pos, id FROM del_view WHERE ${predicate}`,
    );
    try {
      const ids = (await this.duckdb.query<{ id: bigint }>(`SELECT id FROM ${del} ORDER BY id`))
        .map((r) => Number(r.id));
      const referenced = (await this.duckdb.query<{ f: string }>(
        `SELECT DISTINCT file_path AS f FROM ${del} ORDER BY f`,
      )).map((r) => r.f);
      const added = await writePositionDeletes({
        duckdb: this.duckdb,
        store: this.store,
        source: del,
        dataFiles: new Map(plan.tasks.map((t) => [t.file.filePath, t.file])),
        location: this.location,
        tempDir: this.dir,
      });
      return { ids, plan, change: rowDelta({ deletes: added, referencedDataFiles: referenced }) };
    } finally {
      await this.duckdb.run(`DROP TABLE IF EXISTS ${del}`);
    }
  }

  /**
   * Compaction of the data files `choose` picks from the current plan: their
   * live rows are rewritten into new files, and the change (replaceFiles)
   * removes them with every delete file that applies to nothing else.
   */
  async planReplace(
    choose: (plan: ScanPlan) => readonly DataFile[],
    options: { keepSequenceNumber?: boolean } = {},
  ): Promise<PlannedReplace> {
    const plan = await this.scan({ name: "replace_view" });
    const chosen = choose(plan);
    const paths = new Set(chosen.map((f) => f.filePath));
    const rows = `replace_${crypto.randomUUID().replaceAll("-", "")}`;
    await this.duckdb.run(
      `CREATE TEMP TABLE ${rows} AS SELECT * EXCLUDE (_file, _pos) FROM replace_view
         WHERE _file IN (${[...paths].map(sqlString).join(", ")})`,
    );
    try {
      const [{ n }] = await this.duckdb.query<{ n: bigint }>(
        `SELECT count(*)::BIGINT AS n FROM ${rows}`,
      );
      const added = await this.writeRows(rows);
      return {
        rows: Number(n),
        plan,
        change: replaceFiles({
          plan,
          rewritten: chosen,
          added,
          keepSequenceNumber: options.keepSequenceNumber,
        }),
      };
    } finally {
      await this.duckdb.run(`DROP TABLE IF EXISTS ${rows}`);
    }
  }

  async close(): Promise<void> {
    for (const step of this.#cleanup) {
      try {
        await step();
      } catch {
        // Keep releasing the rest; a failed cleanup must not hide the test's own error.
      }
    }
  }
}

/** `[from, from + 1, ..., from + n - 1]`. */
export function range(from: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => from + i);
}

/** Every object under a store prefix, by path. */
export async function listObjects(store: ObjectStore, prefix: string): Promise<Set<string>> {
  const out = new Set<string>();
  for await (const o of store.list(prefix)) out.add(o.path);
  return out;
}
