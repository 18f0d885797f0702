/**
 * The state store of a table of current rows (orders_current): every row the
 * table holds (the columns the MERGE reads from it: see `omit`), with where
 * it lives (data file and position), in a DuckDB database file of its own,
 * attached to the engine's DuckDB. A batch reads from it only the rows of
 * the keys it carries (the MERGE's target), so it never scans the table's
 * files; once the batch is committed, the store takes the new rows and
 * positions in one transaction, stamped with the snapshot they make.
 *
 * Layout, for a read whose cost follows the batch rather than the table:
 * every row carries `_seq`, a number that grows with each write, and rows
 * are appended, so the store is in write order and an order's row is where
 * its last change put it. Orders are mostly touched again soon after their
 * last change, so a batch's rows sit near the end of the store, with a few
 * old ones. A read finds the touched rows' `_seq` in an index kept in memory
 * beside the store (key_index.ts: every row's key hash and `_seq`, built
 * from the store when it is attached and kept with each write), then reads
 * whole rows only from the recent range that holds most of them and from
 * the few small row groups that hold the others (zone maps on `_seq` skip
 * the rest). Row groups are small (STORE_ROW_GROUP_ROWS) so that
 * one old row costs a few thousand rows' decoding, not 122,880.
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
import { duckdbType } from "../iceberg/write/duckdb_types.ts";
import type { ObjectStore } from "../storage/store.ts";
import { KeyIndex } from "./key_index.ts";

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
  /** Reading one old row, in rows of a range read (default STORE_ROW_GROUP_ROWS). */
  readonly oldRowCost?: number;
  /**
   * Columns of the table the store leaves out: the rows a fetch gives the
   * MERGE hold NULL in them. Only columns the MERGE neither reads from its
   * target nor leaves unassigned when it updates a row may be left out (the
   * engine leaves out some for the shipped current_merge.sql, none for a
   * customized one). The store is written and read in proportion to its
   * width, and in a live run each batch reads a recent range of a million
   * rows or more to find its touched rows: narrow rows make both cheaper.
   */
  readonly omit?: readonly string[];
}

/** The attached database. */
const DB = "lakehouse_state";
const ROWS = `${DB}.current_rows`;
const META = `${DB}.meta`;
/** Stores a process tries (a second engine on the machine takes the next free one). */
const SLOTS_MAX = 8;
const ATTACH_ATTEMPTS = 3;
/**
 * Rows per row group of the store. DuckDB decodes a row group's string and
 * list columns whole even when a filter keeps one row, so a lone old row
 * costs a row group's decoding: at the default 122,880 rows a read of 200
 * old rows of a 10M-row store took as long as reading all of it (1.4-2.4 s);
 * 2,048 rows read them in 0.09-0.12 s but made every append cost twice as
 * much (0.8 s per 81,500 rows) and the file twice as big; 8,192 rows: 0.34-
 * 0.36 s and appends as at the default (BENCHMARKS.md).
 */
export const STORE_ROW_GROUP_ROWS = 8192;
/**
 * The layout's version, kept in the store's meta: a store written by another
 * layout is rebuilt from the table.
 */
const LAYOUT = "2";
/** The store's own columns besides the table's. */
const STORE_COLUMNS = ["_key", "_file", "_pos", "_seq"];

export class StateStore {
  readonly #o: StateStoreOptions;
  #path = "";
  #stamp: bigint | undefined;
  #schemaId = -1;
  /** The table's columns the store keeps, and the ones it leaves out (with their DuckDB types). */
  #columns: string[] = [];
  #absent: { name: string; type: string }[] = [];
  /** Why the store must be rebuilt although its schema is the table's (set by open). */
  #stale: string | undefined;
  /** The `_seq` the next row written gets. */
  #nextSeq = 0n;
  /** Transactions the store has run (a write since a fetch changes it). */
  #writes = 0;
  /**
   * The last fetch: #writes when it read (while unchanged, the fetched rows
   * are still the touched keys' rows and can be replaced by their `_seq`),
   * and where it read them.
   */
  #fetched: { writes: number; from: bigint; old: readonly bigint[] } | undefined;
  /**
   * Every row's key hash and `_seq` (undefined until built, and after a
   * write whose changes could not be taken: the next fetch builds it again).
   */
  #index: KeyIndex | undefined;
  /** The rows the running transaction deleted and inserted, for the index once it commits. */
  #removed: IndexedRows[] = [];
  #added: IndexedRows[] = [];
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
        await duckdb.run(
          `ATTACH ${sqlString(path)} AS ${DB} (ROW_GROUP_SIZE ${STORE_ROW_GROUP_ROWS})`,
        );
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
    if (
      hasRows && meta.get("table_uuid") === metadata["table-uuid"] &&
      meta.get("layout") === LAYOUT
    ) {
      const stamp = meta.get("snapshot_id");
      this.#stamp = stamp === undefined || stamp === "" ? undefined : BigInt(stamp);
      this.#schemaId = Number(meta.get("schema_id") ?? -1);
      const stored = await this.#rowColumns();
      this.#nextSeq = await this.#maxSeq() + 1n;
      const wanted = this.#plan(currentSchema(metadata));
      // (A changed schema is rebuilt anyway, and says so.)
      const sameSchema = this.#schemaId === metadata["current-schema-id"];
      if (sameSchema && wanted.join("\0") !== stored.join("\0")) {
        this.#stale = "it keeps other columns than the merge needs";
        this.#schemaId = -1;
      }
    } else {
      this.#schemaId = -1; // forces a rebuild
      this.#fresh = !hasRows;
    }
    await this.sync(metadata);
    await this.#ensureIndex();
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
      const why = this.#fresh
        ? "a new store"
        : this.#stale !== undefined
        ? this.#stale
        : this.#columns.length === 0
        ? "the store was written by another layout or table"
        : "the table's schema changed";
      this.#fresh = false;
      this.#stale = undefined;
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
   * (the table's columns plus _file, _pos and _seq), and a copy as `before`.
   */
  async fetch(changes: string, target: string, before: string): Promise<FetchShape> {
    const { duckdb, key } = this.#o;
    const k = sqlIdent(key);
    const columns = [
      ...this.#columns.map(sqlIdent),
      ...this.#absent.map((c) => `NULL::${c.type} AS ${sqlIdent(c.name)}`),
      "_file",
      "_pos",
      "_seq",
    ].join(", ");
    const t0 = performance.now();
    // 1. Where the touched rows are: their keys' hashes looked up in the index.
    const index = await this.#ensureIndex();
    const { rows: keys, columns: [hashes] } = await duckdb.int64Columns(
      `SELECT hash(${k}) FROM ${changes}`,
    );
    const found = Float64Array.from(index.lookupAll(hashes, keys)).sort().reverse();
    const seqs = Array.from(found, BigInt);
    const shape = readShape(seqs, this.#nextSeq, this.#o.oldRowCost ?? STORE_ROW_GROUP_ROWS);
    const t1 = performance.now();
    // 2. The rows: the recent range as one range scan, the old ones by their
    //    _seq (each a row group of its own); the exact key drops hash collisions.
    const parts = [];
    if (shape.rangeRows > 0) {
      parts.push(
        `SELECT ${columns} FROM ${ROWS} WHERE _seq >= ${shape.from}
           AND _key IN (SELECT hash(${k}) FROM ${changes})`,
      );
    }
    if (shape.old.length > 0) {
      parts.push(`SELECT ${columns} FROM ${ROWS} WHERE _seq IN (${shape.old.join(", ")})`);
    }
    const rows = parts.length === 0
      ? `SELECT ${columns} FROM ${ROWS} WHERE false`
      : parts.map((p) => `(${p})`).join(" UNION ALL ");
    await duckdb.run(
      `CREATE OR REPLACE TEMP TABLE ${target} AS SELECT * FROM (${rows})
       WHERE ${k} IN (SELECT ${k} FROM ${changes})`,
    );
    const t2 = performance.now();
    await duckdb.run(`CREATE OR REPLACE TEMP TABLE ${before} AS SELECT * FROM ${target}`);
    this.#fetched = { writes: this.#writes, from: shape.from, old: shape.old };
    return {
      hits: seqs.length,
      rangeRows: shape.rangeRows,
      old: shape.old.length,
      ms: { keys: t1 - t0, rows: t2 - t1, copy: performance.now() - t2 },
    };
  }

  /**
   * Takes a committed snapshot's new rows (`rows`: the table's columns plus
   * _file and _pos) in one transaction; `replaced` (a relation with columns
   * _seq and k, the row's key) names the fetched rows they replace. When
   * the snapshot's parent is not the store's stamp (another writer
   * committed in between), the store first replays up to the parent, and
   * the rows of `rows`' keys are then replaced whatever their _seq.
   */
  async apply(
    rows: string,
    replaced: string,
    metadata: TableMetadata,
    snapshotId: bigint,
    parentId: bigint | undefined,
  ): Promise<ApplyShape> {
    const ms = { catchUp: 0, delete: 0, insert: 0, commit: 0, index: 0 };
    let mark = performance.now();
    const step = (label: keyof typeof ms) => {
      const now = performance.now();
      ms[label] += now - mark;
      mark = now;
    };
    // Nothing was written to the store since the fetch and it is at the
    // commit's parent: the rows the fetch read are the keys' rows, and
    // deleting them by _seq needs no scan of the keys.
    const fetched = this.#fetched;
    const byFetch = fetched?.writes === this.#writes && this.#stamp === parentId;
    this.#fetched = undefined;
    if (this.#stamp !== parentId) await this.sync(metadata, parentId);
    assert(this.#stamp === parentId, `state store at ${this.#stamp}, parent is ${parentId}`);
    step("catchUp");
    const indexMs = await this.#transaction(async () => {
      if (byFetch) {
        // Where the fetch read them: the recent range (zone maps skip the
        // rest of the store) and the old rows by their _seq.
        const at = [`_seq >= ${fetched!.from}`];
        if (fetched!.old.length > 0) at.push(`_seq IN (${fetched!.old.join(", ")})`);
        // The index learns them from `replaced` (a RETURNING clause would
        // cost as much as the delete).
        const gone = await this.#o.duckdb.int64Columns(
          `SELECT hash(k) AS _key, _seq FROM ${replaced}`,
        );
        this.#removed.push({ hashes: gone.columns[0], seqs: gone.columns[1], rows: gone.rows });
        for (const where of at) {
          await this.#o.duckdb.run(
            `DELETE FROM ${ROWS} WHERE ${where} AND _seq IN (SELECT _seq FROM ${replaced})`,
          );
        }
        step("delete");
        await this.#insert(rows);
      } else {
        await this.#upsert(rows);
      }
      step("insert");
      await this.#setMeta(snapshotId, metadata["current-schema-id"], metadata["table-uuid"]);
    });
    step("commit");
    ms.commit -= indexMs;
    ms.index = indexMs;
    this.#stamp = snapshotId;
    return { byFetch, ms };
  }

  /**
   * Whether the index holds exactly the store's rows, each under its key's
   * hash (tests): what differs, or undefined.
   */
  async checkIndex(): Promise<string | undefined> {
    const index = this.#index;
    if (index === undefined) return "the index is not built";
    const { rows, columns: [hashes, seqs] } = await this.#o.duckdb.int64Columns(
      `SELECT _key, _seq FROM ${ROWS}`,
    );
    if (index.size !== rows) return `the index holds ${index.size} rows, the store ${rows}`;
    const found = new Set(index.lookupAll(hashes, rows));
    for (let i = 0; i < rows; i++) {
      const seq = seqs[2 * i + 1] * 0x1_0000_0000 + seqs[2 * i];
      if (!found.has(seq)) return `the store's row ${seq} is not indexed under its key`;
    }
    return undefined;
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
    const k = sqlIdent(this.#o.key);
    await this.#delete(
      `WHERE _key IN (SELECT hash(${k}) FROM ${rows}) AND ${k} IN (SELECT ${k} FROM ${rows})`,
    );
    await this.#insert(rows);
  }

  /** Appends `rows` with the next _seq numbers (inside the caller's transaction). */
  async #insert(rows: string): Promise<void> {
    const { duckdb, key } = this.#o;
    const k = sqlIdent(key);
    const columns = this.#columns.map(sqlIdent).join(", ");
    // The statement's row count moves the counter: `rows` (a scan of the
    // table's files when replaying) is read once.
    const [{ Count }] = await duckdb.query<{ Count: bigint }>(
      `INSERT INTO ${ROWS} SELECT hash(${k}) AS _key, ${columns}, _file, _pos,
         ${this.#nextSeq} + row_number() OVER () - 1 AS _seq FROM ${rows}`,
    );
    // The new rows for the index, read back from the store's end (zone maps
    // on _seq skip the rest): a RETURNING clause made the insert about
    // twice as slow.
    const added = await duckdb.int64Columns(
      `SELECT _key, _seq FROM ${ROWS} WHERE _seq >= ${this.#nextSeq}`,
    );
    assert(
      BigInt(added.rows) === Count,
      `state store: inserted ${Count} rows, read back ${added.rows}`,
    );
    this.#added.push({ hashes: added.columns[0], seqs: added.columns[1], rows: added.rows });
    this.#nextSeq += Count;
  }

  /**
   * Deletes the rows `clauses` (the statement's USING and WHERE) select,
   * inside the caller's transaction, and keeps them for the index.
   */
  async #delete(clauses: string): Promise<void> {
    const removed = await this.#o.duckdb.int64Columns(
      `DELETE FROM ${ROWS} ${clauses} RETURNING _key, _seq`,
    );
    this.#removed.push({
      hashes: removed.columns[0],
      seqs: removed.columns[1],
      rows: removed.rows,
    });
  }

  /** The index, built from a scan of the store's keys when there is none. */
  async #ensureIndex(): Promise<KeyIndex> {
    if (this.#index !== undefined) return this.#index;
    const started = performance.now();
    const { rows, columns: [hashes, seqs] } = await this.#o.duckdb.int64Columns(
      `SELECT _key, _seq FROM ${ROWS}`,
    );
    const index = new KeyIndex(rows);
    index.addAll(hashes, seqs, rows);
    this.#index = index;
    this.#o.logger.debug(
      `${this.#o.table}: state store index of ${rows} rows built in ${
        (performance.now() - started).toFixed(0)
      } ms (${(index.bytes / 2 ** 20).toFixed(0)} MiB)`,
    );
    return index;
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
        await this.#delete(`WHERE _file IN (${removed.map(sqlString).join(", ")})`);
      }
      if (deletes.length > 0) {
        const locals = [];
        for (const d of deletes) locals.push(await this.#local(d.dataFile.filePath));
        await this.#delete(
          `USING (SELECT file_path, pos FROM read_parquet([${
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
    const kept = this.#plan(schema);
    const view = `__state_rebuild_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
    await createScanView({ ...plan, schema }, {
      duckdb,
      store: this.#o.store,
      cacheDir: this.#o.cacheDir,
      name: view,
      positions: true,
    });
    const columns = kept.map(sqlIdent);
    const described = await duckdb.describe(`SELECT ${columns.join(", ")}, _file FROM ${view}`);
    await this.#transaction(async () => {
      await duckdb.run(
        `CREATE OR REPLACE TABLE ${ROWS} (_key UBIGINT, ${
          described.map((c) => `${sqlIdent(c.name)} ${c.type}${storeCompression(c, key)}`)
            .join(", ")
        }, _pos BIGINT, _seq BIGINT)`,
      );
      await duckdb.run(
        `INSERT INTO ${ROWS} SELECT hash(${sqlIdent(key)}) AS _key, ${
          columns.join(", ")
        }, _file, _pos, row_number() OVER () - 1 AS _seq FROM ${view}`,
      );
      await this.#setMeta(target, metadata["current-schema-id"], metadata["table-uuid"]);
    });
    await duckdb.run(`DROP VIEW IF EXISTS ${view}`);
    this.#index = undefined; // every row is new: the index is built from the store
    this.#stamp = target;
    this.#schemaId = metadata["current-schema-id"];
    this.#nextSeq = await this.#maxSeq() + 1n;
    const rows = await this.count();
    logger.info(
      `${this.#o.table}: state store ${this.#path} built from a scan of the table (${why}): ${rows} rows in ${
        (performance.now() - started).toFixed(0)
      } ms`,
    );
  }

  /**
   * The columns of `schema` the store keeps (in the schema's order); sets
   * the ones it leaves out, which a fetch gives as NULL.
   */
  #plan(schema: Schema): string[] {
    const omit = new Set(this.#o.omit ?? []);
    omit.delete(this.#o.key);
    this.#absent = schema.fields.filter((f) => omit.has(f.name))
      .map((f) => ({ name: f.name, type: duckdbType(f.type) }));
    this.#columns = schema.fields.filter((f) => !omit.has(f.name)).map((f) => f.name);
    return this.#columns;
  }

  async #rowColumns(): Promise<string[]> {
    const described = await this.#o.duckdb.describe(`SELECT * FROM ${ROWS}`);
    return described.map((c) => c.name).filter((n) => !STORE_COLUMNS.includes(n));
  }

  async #maxSeq(): Promise<bigint> {
    const [{ m }] = await this.#o.duckdb.query<{ m: bigint }>(
      `SELECT coalesce(max(_seq), -1)::BIGINT AS m FROM ${ROWS}`,
    );
    return m;
  }

  async #setMeta(snapshotId: bigint | undefined, schemaId: number, uuid: string): Promise<void> {
    await this.#o.duckdb.run(
      `INSERT OR REPLACE INTO ${META} VALUES
         ('snapshot_id', ${sqlString(snapshotId === undefined ? "" : String(snapshotId))}),
         ('schema_id', ${sqlString(String(schemaId))}),
         ('table_uuid', ${sqlString(uuid)}),
         ('layout', ${sqlString(LAYOUT)})`,
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

  /**
   * Runs `body` in one transaction; once it commits, the index takes the
   * rows it deleted and inserted (a rebuild drops the index instead).
   */
  async #transaction(body: () => Promise<void>): Promise<number> {
    const { duckdb } = this.#o;
    await duckdb.run("BEGIN TRANSACTION");
    this.#writes++;
    // Until the index has taken the transaction's rows it is dropped: after a
    // failure (rolled back, or a commit whose outcome is unknown) the next
    // fetch reads the store's keys again.
    const index = this.#index;
    this.#index = undefined;
    const removed: IndexedRows[] = (this.#removed = []);
    const added: IndexedRows[] = (this.#added = []);
    try {
      await body();
      await duckdb.run("COMMIT");
    } catch (error) {
      await duckdb.run("ROLLBACK").catch(() => {});
      throw error;
    } finally {
      this.#removed = [];
      this.#added = [];
    }
    if (index === undefined) return 0;
    const started = performance.now();
    let missing = 0;
    for (const r of removed) missing += index.removeAll(r.hashes, r.seqs, r.rows);
    for (const a of added) index.addAll(a.hashes, a.seqs, a.rows);
    if (missing === 0) this.#index = index;
    else {
      this.#o.logger.warn(
        `${this.#o.table}: the state store's index did not hold ${missing} deleted row(s); ` +
          `it is built again from the store`,
      );
    }
    return performance.now() - started;
  }
}

/**
 * A store column's compression. DuckDB tries every method that fits a
 * column's type on each of its segments and keeps the smallest, and each
 * batch appends tens of thousands of rows in row groups of 8,192: for
 * strings that trial (FSST's symbol tables above all, about a fifth of an
 * append's CPU) cost more than the compression it chose. The key is unique
 * per row (FSST won a third of its segments, by little): stored as is.
 * Other strings are tried with a dictionary only, which DuckDB drops for
 * plain segments where it does not pay (unique ids). On the generator's
 * orders: appends about 20% cheaper for a file about 14% bigger (up to 1.5x
 * for text FSST shrinks well); other types keep DuckDB's choice
 * (BENCHMARKS.md). A store built before keeps its columns until rebuilt.
 */
export function storeCompression(column: { name: string; type: string }, key: string): string {
  if (column.type !== "VARCHAR") return "";
  return column.name === key ? " USING COMPRESSION uncompressed" : " USING COMPRESSION dictionary";
}

/** Rows for the index: key hashes and `_seq`s, two 32-bit words each (DuckDb.int64Columns). */
interface IndexedRows {
  readonly hashes: Uint32Array;
  readonly seqs: Uint32Array;
  readonly rows: number;
}

/** Where an update after a commit went (its debug log). */
export interface ApplyShape {
  /** The fetched rows were replaced by their `_seq` (else by key, after a catch-up). */
  readonly byFetch: boolean;
  /**
   * Milliseconds: replaying snapshots another writer committed first, the
   * delete of the replaced rows, the insert of the new ones (with the
   * delete when by key), the transaction's commit, the index's update.
   */
  readonly ms: {
    readonly catchUp: number;
    readonly delete: number;
    readonly insert: number;
    readonly commit: number;
    readonly index: number;
  };
}

/** How a fetch reads the touched rows (its debug log, tests). */
export interface FetchShape {
  /** Rows of the batch's keys in the store. */
  readonly hits: number;
  /** Rows in the range read as one scan (from the store's end back to its oldest hit in it). */
  readonly rangeRows: number;
  /** Hits read one by one, below the range. */
  readonly old: number;
  /**
   * Where the time went: finding the hits from the keys (their hashes from
   * DuckDB, looked up in the index), reading their rows, copying them as `before`.
   */
  readonly ms: { readonly keys: number; readonly rows: number; readonly copy: number };
}

/**
 * Where to read the touched rows from: `seqs` (their _seq, newest first)
 * are split into a range [from, next) read as one scan and older rows read
 * each by its _seq. A row below the range costs about a row group's
 * decoding (`oldRowCost` rows); a row more in the range costs one row. The
 * cut that minimizes range length + old rows x oldRowCost is taken (the whole store when the
 * hits are spread over it, as after a rebuild from a scan).
 */
export function readShape(
  seqs: readonly bigint[],
  next: bigint,
  oldRowCost: number,
): { from: bigint; rangeRows: number; old: bigint[] } {
  if (seqs.length === 0) return { from: next, rangeRows: 0, old: [] };
  let best = 0;
  let bestCost = Infinity;
  for (let i = 0; i < seqs.length; i++) {
    // range [seqs[i], next) holds hits 0..i; hits i+1.. are read one by one
    const cost = Number(next - seqs[i]) + (seqs.length - 1 - i) * oldRowCost;
    if (cost < bestCost) {
      bestCost = cost;
      best = i;
    }
  }
  return {
    from: seqs[best],
    rangeRows: Number(next - seqs[best]),
    old: seqs.slice(best + 1),
  };
}
