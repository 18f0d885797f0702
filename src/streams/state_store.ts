/**
 * The state store of a table of current rows (orders_current): every row the
 * table holds, with where it lives (data file and position), in a DuckDB
 * database file of its own, attached to the engine's DuckDB. A batch reads
 * from it only the rows of the keys it carries (the MERGE's target), so it
 * never scans the table's files; once the batch is committed, the store takes
 * the new rows and positions in one transaction, stamped with the snapshot
 * they make.
 *
 * The store is derived data: after a crash between the table's commit and
 * the store's (or when another writer committed, or a compaction moved
 * rows), it is brought to the table's current snapshot by replaying the
 * snapshots it missed (their added data files, position deletes and removed
 * files), or rebuilt from a scan of the table when too many are missing or
 * its stamp is not in the table's history.
 */
import { join } from "node:path";
import { assert } from "../core/assert.ts";
import { crashPoint } from "../core/crash.ts";
import { errorMessage, LakehouseError } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import { type DuckDb, sqlIdent, sqlString } from "../duckdb/duckdb.ts";
import { planScan, type ScanPlan } from "../iceberg/scan/plan.ts";
import { createScanView } from "../iceberg/scan/view.ts";
import { ancestorsOf, currentSchema, currentSnapshot } from "../iceberg/spec/metadata.ts";
import {
  EntryStatus,
  FileContent,
  type ManifestEntry,
  type Schema,
  type TableMetadata,
} from "../iceberg/spec/types.ts";
import type { ManifestReader } from "../iceberg/table.ts";
import type { ObjectStore } from "../storage/store.ts";

export interface StateStoreOptions {
  readonly duckdb: DuckDb;
  /** Directory of the store's files (kept across runs). */
  readonly dir: string;
  /** The table's name, part of the store's file name. */
  readonly table: string;
  /** The column that identifies a row (order_id). */
  readonly key: string;
  readonly store: ObjectStore;
  readonly manifests: ManifestReader;
  /** Local directory for downloaded copies of remote files. */
  readonly cacheDir: string;
  readonly logger: Logger;
  /** Missed snapshots replayed before a rebuild from a scan is cheaper. */
  readonly catchUpSnapshotsMax?: number;
}

/** The attached database. */
const DB = "lakehouse_state";
const ROWS = `${DB}.current_rows`;
const META = `${DB}.meta`;
/** Stores a process tries (a second engine on the machine takes the next free one). */
const SLOTS_MAX = 8;
const ATTACH_ATTEMPTS = 3;

export class StateStore {
  readonly #o: StateStoreOptions;
  #path = "";
  #stamp: bigint | undefined;
  #schemaId = -1;
  #columns: string[] = [];
  /** The store has just been created (its first build is not a rebuild). */
  #fresh = false;
  #opened = false;

  constructor(options: StateStoreOptions) {
    this.#o = options;
  }

  /** The file the store lives in (after open). */
  get path(): string {
    return this.#path;
  }

  /** The snapshot the store reflects; undefined for an empty table. */
  get stamp(): bigint | undefined {
    return this.#stamp;
  }

  /**
   * Attaches the table's store (creating it if needed) and brings it to the
   * table's current snapshot. One store per table (by its uuid); a store
   * another process holds is skipped for the next slot.
   */
  async open(metadata: TableMetadata): Promise<void> {
    const { duckdb, dir } = this.#o;
    await Deno.mkdir(dir, { recursive: true });
    for (let slot = 0, attempt = 1;;) {
      const path = join(
        dir,
        `${this.#o.table}-${metadata["table-uuid"]}${slot === 0 ? "" : `-${slot}`}.duckdb`,
      );
      try {
        await duckdb.run(`ATTACH ${sqlString(path)} AS ${DB}`);
        this.#path = path;
        break;
      } catch (error) {
        const message = errorMessage(error);
        if (/lock/i.test(message) && slot + 1 < SLOTS_MAX) {
          slot++; // another process (a second group member on this host) holds it
          attempt = 1;
        } else if (!/permission denied/i.test(message) && attempt < ATTACH_ATTEMPTS) {
          // Two members starting together: the file another process is just
          // creating can read as invalid for a moment before its lock shows.
          attempt++;
          await new Promise((resolve) => setTimeout(resolve, 300));
        } else {
          throw new LakehouseError(
            `cannot open the state store of ${this.#o.table} at ${path}: ${message}`,
            { cause: error },
          );
        }
      }
    }
    // Each batch rewrites rows spread over the whole store; at DuckDB's
    // default threshold (16 MiB of WAL) every batch's update ended in a
    // checkpoint rewriting most of the file (0.2-1.4 s per 200,000-event
    // batch). Until a checkpoint the changes are held in memory as well, so
    // the threshold is a memory cost: 1 GB cost 0.4 GiB of peak RSS in a
    // 5M-event drain, 256 MB none (BENCHMARKS.md). The WAL is replayed on
    // the next attach after a crash; the store is derived data either way.
    await duckdb.run("SET checkpoint_threshold = '256MB'");
    await duckdb.run(`CREATE TABLE IF NOT EXISTS ${META} (key VARCHAR PRIMARY KEY, value VARCHAR)`);
    const meta = new Map(
      (await duckdb.query<{ key: string; value: string }>(`SELECT key, value FROM ${META}`))
        .map((r) => [r.key, r.value]),
    );
    const hasRows = (await duckdb.query(
      `SELECT 1 FROM duckdb_tables() WHERE database_name = '${DB}' AND table_name = 'current_rows'`,
    )).length > 0;
    if (hasRows && meta.get("table_uuid") === metadata["table-uuid"]) {
      const stamp = meta.get("snapshot_id");
      this.#stamp = stamp === undefined || stamp === "" ? undefined : BigInt(stamp);
      this.#schemaId = Number(meta.get("schema_id") ?? -1);
      this.#columns = await this.#rowColumns();
    } else {
      this.#schemaId = -1; // forces a rebuild
      this.#fresh = true;
    }
    await this.sync(metadata);
    this.#opened = true;
  }

  /** Detaches the store's file. */
  async close(): Promise<void> {
    if (this.#path !== "") await this.#o.duckdb.run(`DETACH ${DB}`).catch(() => {});
  }

  /**
   * Brings the store to `metadata`'s current snapshot (or `target`):
   * replays the snapshots it missed when they are few and in its history,
   * rebuilds it from a scan of the table otherwise.
   */
  async sync(metadata: TableMetadata, target = currentSnapshot(metadata)?.["snapshot-id"]) {
    if (this.#schemaId !== metadata["current-schema-id"]) {
      const why = this.#fresh ? "a new store" : "the table's schema changed";
      this.#fresh = false;
      return await this.#rebuild(metadata, target, why);
    }
    if (this.#stamp === target) return;
    if (target === undefined) return await this.#rebuild(metadata, target, "the table is empty");
    const missed = [];
    for (const s of ancestorsOf(metadata, target)) {
      if (s["snapshot-id"] === this.#stamp) break;
      missed.push(s);
    }
    const reachable = this.#stamp === undefined
      ? missed.length === ancestorsOf(metadata, target).length
      : missed.length < ancestorsOf(metadata, target).length;
    const max = this.#o.catchUpSnapshotsMax ?? 16;
    if (!reachable || missed.length > max) {
      const why = reachable
        ? `it is ${missed.length} snapshots behind`
        : "its snapshot is not in the table's history";
      return await this.#rebuild(metadata, target, why);
    }
    const started = performance.now();
    for (const snapshot of missed.reverse()) await this.#replay(metadata, snapshot["snapshot-id"]);
    // At start-up a catch-up is news; while running it is routine (another
    // group member's commit lands before nearly every batch of ours).
    this.#o.logger[this.#opened ? "debug" : "info"](
      `${this.#o.table}: state store caught up ${missed.length} snapshot(s) in ${
        (performance.now() - started).toFixed(0)
      } ms`,
    );
  }

  /**
   * The rows of the orders `changes` touches, as temp table `target`
   * (the table's columns plus _file and _pos), and a copy as `before`.
   */
  async fetch(changes: string, target: string, before: string): Promise<void> {
    const { duckdb, key } = this.#o;
    const k = sqlIdent(key);
    const columns = [...this.#columns.map(sqlIdent), "_file", "_pos"].join(", ");
    // The hashed key is a narrow column: scanning it finds the rows without
    // decompressing the others; the exact key drops hash collisions.
    await duckdb.run(
      `CREATE OR REPLACE TEMP TABLE ${target} AS SELECT ${columns} FROM ${ROWS}
       WHERE _key IN (SELECT hash(${k}) FROM ${changes}) AND ${k} IN (SELECT ${k} FROM ${changes})`,
    );
    await duckdb.run(`CREATE OR REPLACE TEMP TABLE ${before} AS SELECT * FROM ${target}`);
  }

  /**
   * Takes a committed snapshot's new rows (`rows`: the table's columns plus
   * _file and _pos) in one transaction. When the snapshot's parent is not
   * the store's stamp (another writer committed in between), the store first
   * replays up to the parent.
   */
  async apply(
    rows: string,
    metadata: TableMetadata,
    snapshotId: bigint,
    parentId: bigint | undefined,
  ): Promise<void> {
    if (this.#stamp !== parentId) await this.sync(metadata, parentId);
    assert(this.#stamp === parentId, `state store at ${this.#stamp}, parent is ${parentId}`);
    await this.#transaction(async () => {
      await this.#upsert(rows);
      await this.#setMeta(snapshotId, metadata["current-schema-id"], metadata["table-uuid"]);
    });
    this.#stamp = snapshotId;
  }

  /** Rows the store holds (tests, reports). */
  async count(): Promise<number> {
    const [row] = await this.#o.duckdb.query<{ n: bigint }>(
      `SELECT count(*)::BIGINT AS n FROM ${ROWS}`,
    );
    return Number(row.n);
  }

  /** Replaces the rows of `rows`' keys with them. */
  async #upsert(rows: string): Promise<void> {
    const { duckdb, key } = this.#o;
    const k = sqlIdent(key);
    await duckdb.run(
      `DELETE FROM ${ROWS} WHERE _key IN (SELECT hash(${k}) FROM ${rows})
         AND ${k} IN (SELECT ${k} FROM ${rows})`,
    );
    const columns = this.#columns.map(sqlIdent).join(", ");
    await duckdb.run(
      `INSERT INTO ${ROWS} SELECT hash(${k}) AS _key, ${columns}, _file, _pos FROM ${rows}`,
    );
  }

  /** Applies one snapshot of the table: removed files, new position deletes, new rows. */
  async #replay(metadata: TableMetadata, snapshotId: bigint): Promise<void> {
    const { duckdb, manifests } = this.#o;
    const snapshot = metadata.snapshots.find((s) => s["snapshot-id"] === snapshotId)!;
    const entries: ManifestEntry[] = [];
    for (const m of await manifests.manifests(snapshot)) {
      for (const e of m.entries) if (e.snapshotId === snapshotId) entries.push(e);
    }
    const removed = entries.filter((e) =>
      e.status === EntryStatus.Deleted && e.dataFile.content === FileContent.Data
    ).map((e) => e.dataFile.filePath);
    const added = entries.filter((e) =>
      e.status === EntryStatus.Added && e.dataFile.content === FileContent.Data
    );
    const deletes = entries.filter((e) =>
      e.status === EntryStatus.Added && e.dataFile.content === FileContent.PositionDeletes
    );
    const tag = crypto.randomUUID().replaceAll("-", "").slice(0, 12);
    await this.#transaction(async () => {
      if (removed.length > 0) {
        await duckdb.run(
          `DELETE FROM ${ROWS} WHERE _file IN (${removed.map(sqlString).join(", ")})`,
        );
      }
      if (deletes.length > 0) {
        const locals = [];
        for (const d of deletes) locals.push(await this.#local(d.dataFile.filePath));
        await duckdb.run(
          `DELETE FROM ${ROWS} USING (SELECT file_path, pos FROM read_parquet([${
            locals.map(sqlString).join(", ")
          }])) d WHERE ${ROWS}._file = d.file_path AND ${ROWS}._pos = d.pos`,
        );
      }
      if (added.length > 0) {
        const plan: ScanPlan = {
          snapshot,
          schema: currentSchema(metadata),
          tasks: added.map((e) => ({
            file: e.dataFile,
            dataSequenceNumber: e.sequenceNumber ?? 0n,
            deletes: [],
          })),
          prunedFiles: 0,
        };
        const view = `__state_replay_${tag}`;
        await createScanView(plan, {
          duckdb,
          store: this.#o.store,
          cacheDir: this.#o.cacheDir,
          name: view,
          positions: true,
        });
        await this.#upsert(view);
        await duckdb.run(`DROP VIEW IF EXISTS ${view}`);
      }
      crashPoint(`${this.#o.table}.catch-up`);
      await this.#setMeta(snapshotId, metadata["current-schema-id"], metadata["table-uuid"]);
    });
    this.#stamp = snapshotId;
  }

  /** Rebuilds the store from a scan of the table at `target`. */
  async #rebuild(metadata: TableMetadata, target: bigint | undefined, why: string) {
    const { duckdb, key, logger } = this.#o;
    const started = performance.now();
    const plan = await planScan(metadata, this.#o.manifests, {
      ...(target === undefined ? {} : { snapshotId: target }),
    });
    const schema: Schema = currentSchema(metadata);
    const view = `__state_rebuild_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
    await createScanView({ ...plan, schema }, {
      duckdb,
      store: this.#o.store,
      cacheDir: this.#o.cacheDir,
      name: view,
      positions: true,
    });
    const columns = schema.fields.map((f) => sqlIdent(f.name));
    await this.#transaction(async () => {
      await duckdb.run(
        `CREATE OR REPLACE TABLE ${ROWS} AS SELECT hash(${sqlIdent(key)}) AS _key, ${
          columns.join(", ")
        }, _file, _pos FROM ${view}`,
      );
      await this.#setMeta(target, metadata["current-schema-id"], metadata["table-uuid"]);
    });
    await duckdb.run(`DROP VIEW IF EXISTS ${view}`);
    this.#stamp = target;
    this.#schemaId = metadata["current-schema-id"];
    this.#columns = schema.fields.map((f) => f.name);
    const rows = await this.count();
    logger.info(
      `${this.#o.table}: state store ${this.#path} built from a scan of the table (${why}): ${rows} rows in ${
        (performance.now() - started).toFixed(0)
      } ms`,
    );
  }

  async #rowColumns(): Promise<string[]> {
    const described = await this.#o.duckdb.describe(`SELECT * FROM ${ROWS}`);
    return described.map((c) => c.name).filter((n) => !["_key", "_file", "_pos"].includes(n));
  }

  async #setMeta(snapshotId: bigint | undefined, schemaId: number, uuid: string): Promise<void> {
    await this.#o.duckdb.run(
      `INSERT OR REPLACE INTO ${META} VALUES
         ('snapshot_id', ${sqlString(snapshotId === undefined ? "" : String(snapshotId))}),
         ('schema_id', ${sqlString(String(schemaId))}),
         ('table_uuid', ${sqlString(uuid)})`,
    );
  }

  async #local(uri: string): Promise<string> {
    if (uri.startsWith("file:") || uri.startsWith("/")) {
      return uri.startsWith("file://") ? uri.slice("file://".length) : uri.replace(/^file:/, "");
    }
    const path = join(this.#o.cacheDir, `state-${crypto.randomUUID()}.parquet`);
    await this.#o.store.getFile(uri, path);
    return path;
  }

  async #transaction(body: () => Promise<void>): Promise<void> {
    const { duckdb } = this.#o;
    await duckdb.run("BEGIN TRANSACTION");
    try {
      await body();
      await duckdb.run("COMMIT");
    } catch (error) {
      await duckdb.run("ROLLBACK").catch(() => {});
      throw error;
    }
  }
}
