/**
 * Assembles the engine from its parts: object store, catalog, DuckDB, the
 * table writers and streams, and the pipeline. Used by `lakehouse run`
 * (Kafka feed) and `lakehouse demo` (in-process generator feed).
 */
import { join, resolve } from "node:path";
import type { Catalog } from "../catalog/catalog.ts";
import { openCatalog } from "../catalog/mod.ts";
import type { Clock } from "../core/clock.ts";
import type { Logger } from "../core/log.ts";
import { DuckDb } from "../duckdb/duckdb.ts";
import { loadSqlFile } from "../duckdb/sql_files.ts";
import { openStore } from "../storage/mod.ts";
import type { S3Config } from "../storage/s3.ts";
import type { ObjectStore } from "../storage/store.ts";
import { InlineDecoder, WorkerDecoder } from "../batch/decoder.ts";
import { OutageRetry } from "../core/outage.ts";
import { LakehouseError } from "../core/errors.ts";
import { Pipeline } from "./pipeline.ts";
import { EventsStream, RejectsStream } from "./streams.ts";
import {
  CURRENT_MERGE_SQL,
  NAMESPACE,
  ORDERS_CURRENT,
  ORDERS_EVENTS,
  ORDERS_REJECTS,
  SHIPPED_MERGE_UNREAD,
  TABLE_NAMES,
  type TableDefinition,
  type TableName,
} from "./tables.ts";
import { CurrentStream } from "./current.ts";
import { planScan } from "../iceberg/scan/plan.ts";
import { createScanView } from "../iceberg/scan/view.ts";
import { StateStore } from "./state_store.ts";
import { SchemaChangeError } from "../iceberg/spec/evolve.ts";
import { TableWriter } from "./table_writer.ts";

/**
 * The dead-letter table is written at most this often (or when this many
 * rejects have collected): a restart re-reads at most this much to find
 * them again.
 */
const REJECTS_IDLE_COMMIT_MS = 10_000;
const REJECTS_PENDING_MAX = 50_000;
const REJECTS_PENDING_BYTES_MAX = 32 * 1024 * 1024;

export interface EngineConfig {
  /** `file:///abs/dir`, a local path, or `s3://bucket/prefix`. */
  readonly warehouse: string;
  /** `sqlite:PATH`, a `.db` path, or `memory:`. */
  readonly catalog: string;
  readonly s3?: Partial<S3Config>;
  readonly topic: string;
  readonly sqlDir?: string;
  readonly tempDir: string;
  /** Where state stores live (orders_current's index); kept across runs. */
  readonly stateDir: string;
  /** Tables to write (default all). */
  readonly tables?: readonly TableName[];
  readonly targetFileSizeBytes: number;
  readonly batchRecordsMax: number;
  readonly batchBytesMax: number;
  readonly triggerIntervalMs: number;
  readonly queuedBatchesMax: number;
  /** Decode batches on the main thread instead of the decode worker (tests). */
  readonly decodeInline?: boolean;
  /** DuckDB memory limit, e.g. "1GB". */
  readonly memoryLimit?: string;
  /**
   * What reading one old row of orders_current's state store costs, in rows
   * of a range read (default: a row group; tests lower it to make small
   * stores read old rows one by one).
   */
  readonly stateOldRowCost?: number;
  /** DuckDB worker threads (default: DuckDB's choice, all cores). */
  readonly duckdbThreads?: number;
  readonly clock: Clock;
  /** Jitter of retry backoff, in [0, 1) (default Math.random). */
  readonly random?: () => number;
  /**
   * Aborted when the engine must give up on work in flight (the shutdown
   * deadline): retries through an outage stop, S3 requests are abandoned,
   * and what was not committed is read again on the next start.
   */
  readonly signal?: AbortSignal;
  readonly logger: Logger;
}

export interface RunningEngine {
  readonly pipeline: Pipeline;
  readonly catalog: Catalog;
  readonly store: ObjectStore;
  readonly warehouse: string;
  /** The streams of the tables this engine writes (see EngineConfig.tables). */
  readonly events: EventsStream | undefined;
  readonly current: CurrentStream | undefined;
  readonly rejects: RejectsStream | undefined;
  /** Orders per status in orders_current, read with our own scan; empty without that table. */
  ordersByStatus(): Promise<{ status: string; orders: number }[]>;
  close(): Promise<void>;
}

/** `./wh` or `/abs/wh` -> `file:///abs/wh`; URIs pass through without a trailing slash. */
export function warehouseUri(text: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) return text.replace(/\/+$/, "");
  return `file://${resolve(text)}`.replace(/\/+$/, "");
}

/** What the engine does while storage fails, as its warnings say. */
const WHILE_FAILING = "retrying with backoff (at most 10 s apart); once the queued batches are " +
  "full, reading from Kafka pauses until it recovers; nothing is lost";

export async function startEngine(config: EngineConfig): Promise<RunningEngine> {
  const warehouse = warehouseUri(config.warehouse);
  const retry = new OutageRetry({
    subject: `writing to ${warehouse}`,
    meanwhile: WHILE_FAILING,
    logger: config.logger,
    clock: config.clock,
    random: config.random ?? Math.random,
    signal: config.signal,
  });
  const store = openStore(warehouse, config.s3, {
    signal: config.signal,
    onRetry: (message) => retry.report(message),
  });
  const catalog = await openCatalog(config.catalog);
  const duckdb = await DuckDb.open({
    memoryLimit: config.memoryLimit,
    threads: config.duckdbThreads,
  });
  // Staging runs beside the writes (the next batch while one is written),
  // on another disk: an outage of its own, reported on its own.
  const staging = new OutageRetry({
    subject: `staging batches in ${config.tempDir}`,
    meanwhile: WHILE_FAILING,
    logger: config.logger,
    clock: config.clock,
    random: config.random ?? Math.random,
    signal: config.signal,
  });
  const decodeRetry = <T>(attempt: () => Promise<T>) => staging.run(attempt);
  const decoder = config.decodeInline
    ? new InlineDecoder(config.tempDir, decodeRetry)
    : new WorkerDecoder(config.tempDir, decodeRetry);
  await Deno.mkdir(config.tempDir, { recursive: true });
  let eventsDb: DuckDb | undefined;
  try {
    const writer = (definition: TableDefinition, db = duckdb) =>
      new TableWriter({
        catalog,
        store,
        duckdb: db,
        id: { namespace: [...NAMESPACE], name: definition.name },
        definition,
        location: `${warehouse}/${NAMESPACE.join("/")}/${definition.name}`,
        topic: config.topic,
        tempDir: config.tempDir,
        targetFileSizeBytes: config.targetFileSizeBytes,
        logger: config.logger,
      });
    const tables = new Set(config.tables ?? TABLE_NAMES);
    // orders_events stages on a connection of its own, beside orders_current
    // on the first: the two run at the same time on two threads, over the
    // batch loaded once (see AppendStream.load).
    eventsDb = await duckdb.connect();
    const events = tables.has("events")
      ? new EventsStream(
        writer(ORDERS_EVENTS, eventsDb),
        await loadSqlFile(ORDERS_EVENTS.sqlFile, config.sqlDir),
        eventsDb,
        config.tempDir,
        config.clock,
      )
      : undefined;
    let current: CurrentStream | undefined;
    if (tables.has("current")) {
      const currentWriter = writer(ORDERS_CURRENT);
      const merge = await loadSqlFile(CURRENT_MERGE_SQL, config.sqlDir);
      const shipped = config.sqlDir === undefined ? merge : await loadSqlFile(CURRENT_MERGE_SQL);
      current = new CurrentStream(
        currentWriter,
        await loadSqlFile(ORDERS_CURRENT.sqlFile, config.sqlDir),
        merge,
        new StateStore({
          duckdb,
          dir: config.stateDir,
          table: ORDERS_CURRENT.name,
          key: ORDERS_CURRENT.identifier!,
          store,
          manifests: currentWriter.manifests,
          cacheDir: join(config.tempDir, "cache"),
          logger: config.logger,
          oldRowCost: config.stateOldRowCost,
          omit: merge.text === shipped.text ? SHIPPED_MERGE_UNREAD : [],
        }),
        duckdb,
        config.tempDir,
        config.clock,
      );
    }
    const rejects = tables.has("rejects")
      ? new RejectsStream(
        writer(ORDERS_REJECTS),
        await loadSqlFile(ORDERS_REJECTS.sqlFile, config.sqlDir),
        await loadSqlFile(ORDERS_REJECTS.sqlFile),
        duckdb,
        config.tempDir,
        config.clock,
        {
          idleCommitMs: REJECTS_IDLE_COMMIT_MS,
          pendingRecordsMax: REJECTS_PENDING_MAX,
          pendingBytesMax: REJECTS_PENDING_BYTES_MAX,
        },
      )
      : undefined;
    if (!rejects) {
      config.logger.warn(
        "shop.orders_rejects is not written (--tables): records that fail validation or a " +
          "table write are counted in the log and stored nowhere",
      );
    }
    for (const s of [events, current, rejects]) {
      if (s === undefined) continue;
      // The SQL file's output columns are the table's columns: the table is
      // created with them, or its schema evolves to them.
      const columns = await s.outputColumns();
      try {
        // Creating or reading the table goes through an outage like any write.
        await retry.run(() => s.writer.open(columns));
      } catch (error) {
        if (!(error instanceof SchemaChangeError)) throw error;
        throw new LakehouseError(`${s.sql.path}: table ${s.writer.name}: ${error.message}`, {
          cause: error,
        });
      }
      if (s === current) await retry.run(() => current.openState());
      await s.check();
    }
    const streams = [events, current].filter((s) => s !== undefined);
    const pipeline = new Pipeline({
      streams,
      freshness: streams[0],
      rejects,
      decoder,
      batchRecordsMax: config.batchRecordsMax,
      batchBytesMax: config.batchBytesMax,
      triggerIntervalMs: config.triggerIntervalMs,
      queuedBatchesMax: config.queuedBatchesMax,
      clock: config.clock,
      logger: config.logger,
      retry,
      tempDir: config.tempDir,
    });
    return {
      pipeline,
      catalog,
      store,
      warehouse,
      events,
      current,
      rejects,
      ordersByStatus: async () => {
        if (!current) return [];
        const metadata = current.writer.metadata;
        const plan = await planScan(metadata, current.writer.manifests);
        const view = `__orders_by_status_${crypto.randomUUID().replaceAll("-", "")}`;
        await createScanView(plan, {
          duckdb,
          store,
          cacheDir: join(config.tempDir, "cache"),
          name: view,
        });
        try {
          const rows = await duckdb.query<{ status: string; orders: bigint }>(
            `SELECT status, count(*)::BIGINT AS orders FROM ${view} GROUP BY status ORDER BY status`,
          );
          return rows.map((r) => ({ status: r.status, orders: Number(r.orders) }));
        } finally {
          await duckdb.run(`DROP VIEW IF EXISTS ${view}`);
        }
      },
      close: async () => {
        decoder.close();
        await current?.state.close();
        eventsDb?.close();
        duckdb.close();
        await catalog.close();
        await store.close();
        // Staged batches not committed (no flush) are read again from Kafka
        // on the next start; their files are only scratch.
        await Deno.remove(config.tempDir, { recursive: true }).catch(() => {});
      },
    };
  } catch (error) {
    decoder.close();
    eventsDb?.close();
    duckdb.close();
    await catalog.close();
    await store.close();
    throw error;
  }
}
