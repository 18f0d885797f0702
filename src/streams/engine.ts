/**
 * Assembles the engine from its parts: object store, catalog, DuckDB, the
 * table writers and streams, and the pipeline. Used by `lakehouse run`
 * (Kafka feed) and `lakehouse demo` (in-process generator feed).
 */
import { resolve } from "node:path";
import type { Catalog } from "../catalog/catalog.ts";
import { openCatalog } from "../catalog/mod.ts";
import type { Clock } from "../core/clock.ts";
import type { Logger } from "../core/log.ts";
import { Engine } from "../engine/duckdb.ts";
import { loadSqlFile } from "../engine/sql_files.ts";
import { openStore } from "../storage/mod.ts";
import type { S3Config } from "../storage/s3.ts";
import type { ObjectStore } from "../storage/store.ts";
import { InlineDecoder, WorkerDecoder } from "../batch/decoder.ts";
import type { ReleasedBatch } from "../batch/types.ts";
import { Pipeline } from "./pipeline.ts";
import { EventsStream, RejectsStream, type StreamResult } from "./streams.ts";
import { NAMESPACE, TABLES } from "./tables.ts";
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
  readonly targetFileSizeBytes: number;
  readonly batchRecordsMax: number;
  readonly batchBytesMax: number;
  readonly triggerIntervalMs: number;
  readonly queuedBatchesMax: number;
  /** Decode batches on the main thread instead of the decode worker (tests). */
  readonly decodeInline?: boolean;
  /** DuckDB memory limit, e.g. "1GB". */
  readonly memoryLimit?: string;
  /** DuckDB worker threads (default: DuckDB's choice, all cores). */
  readonly duckdbThreads?: number;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly onBatchCommitted?: (
    batch: ReleasedBatch,
    results: readonly StreamResult[],
  ) => Promise<void> | void;
}

export interface RunningEngine {
  readonly pipeline: Pipeline;
  readonly catalog: Catalog;
  readonly store: ObjectStore;
  readonly warehouse: string;
  readonly writers: readonly TableWriter[];
  close(): Promise<void>;
}

/** `./wh` or `/abs/wh` -> `file:///abs/wh`; URIs pass through without a trailing slash. */
export function warehouseUri(text: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) return text.replace(/\/+$/, "");
  return `file://${resolve(text)}`.replace(/\/+$/, "");
}

export async function startEngine(config: EngineConfig): Promise<RunningEngine> {
  const warehouse = warehouseUri(config.warehouse);
  const store = openStore(warehouse, config.s3);
  const catalog = await openCatalog(config.catalog);
  const engine = await Engine.open({
    memoryLimit: config.memoryLimit,
    threads: config.duckdbThreads,
  });
  const decoder = config.decodeInline
    ? new InlineDecoder(config.tempDir)
    : new WorkerDecoder(config.tempDir);
  await Deno.mkdir(config.tempDir, { recursive: true });
  try {
    const writer = (name: keyof typeof TABLES) =>
      new TableWriter({
        catalog,
        store,
        engine,
        id: { namespace: [...NAMESPACE], name },
        schema: TABLES[name].schema,
        spec: TABLES[name].spec,
        location: `${warehouse}/${NAMESPACE.join("/")}/${name}`,
        topic: config.topic,
        tempDir: config.tempDir,
        targetFileSizeBytes: config.targetFileSizeBytes,
        logger: config.logger,
      });
    const eventsWriter = writer("orders_events");
    const rejectsWriter = writer("orders_rejects");
    const streams = [
      new EventsStream(
        eventsWriter,
        await loadSqlFile("events.sql", config.sqlDir),
        engine,
        config.tempDir,
        config.clock,
      ),
      new RejectsStream(
        rejectsWriter,
        await loadSqlFile("rejects.sql", config.sqlDir),
        engine,
        config.tempDir,
        config.clock,
        {
          idleCommitMs: REJECTS_IDLE_COMMIT_MS,
          pendingRecordsMax: REJECTS_PENDING_MAX,
          pendingBytesMax: REJECTS_PENDING_BYTES_MAX,
        },
      ),
    ];
    for (const s of streams) {
      await s.writer.open();
      await s.check();
    }
    const pipeline = new Pipeline({
      streams,
      decoder,
      batchRecordsMax: config.batchRecordsMax,
      batchBytesMax: config.batchBytesMax,
      triggerIntervalMs: config.triggerIntervalMs,
      queuedBatchesMax: config.queuedBatchesMax,
      clock: config.clock,
      logger: config.logger,
      onBatchCommitted: config.onBatchCommitted,
    });
    return {
      pipeline,
      catalog,
      store,
      warehouse,
      writers: [eventsWriter, rejectsWriter],
      close: async () => {
        decoder.close();
        engine.close();
        await catalog.close();
        await store.close();
        // Staged batches not committed (no flush) are read again from Kafka
        // on the next start; their files are only scratch.
        await Deno.remove(config.tempDir, { recursive: true }).catch(() => {});
      },
    };
  } catch (error) {
    decoder.close();
    engine.close();
    await catalog.close();
    throw error;
  }
}
