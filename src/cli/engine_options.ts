/** Options shared by the engine commands (run, demo). */
import type { OptionSpec, OptionValue } from "../config/options.ts";
import { memoryLimitProblem } from "../config/values.ts";
import type { EngineConfig } from "../streams/engine.ts";

export const TRIGGER_INTERVAL: OptionSpec = {
  name: "trigger-interval",
  type: "duration",
  min: 10,
  default: "1s",
  description: "a micro-batch closes at the latest this long after its first record",
};

export const MAX_RECORDS_PER_TRIGGER: OptionSpec = {
  name: "max-records-per-trigger",
  type: "integer",
  min: 1,
  max: 10_000_000,
  default: 200_000,
  description: "a micro-batch closes at this many records (the backpressure knob)",
};

export const MAX_BATCH_BYTES: OptionSpec = {
  name: "max-batch-bytes",
  type: "integer",
  min: 1024,
  default: 128 * 1024 * 1024,
  description: "a micro-batch closes at this many payload bytes",
};

export const QUEUED_BATCHES_MAX: OptionSpec = {
  name: "max-queued-batches",
  type: "integer",
  min: 0,
  max: 16,
  default: 2,
  description: "closed batches allowed to wait for the writers before the feed pauses",
};

export const TARGET_FILE_SIZE: OptionSpec = {
  name: "target-file-size",
  type: "integer",
  min: 1024 * 1024,
  default: 128 * 1024 * 1024,
  description: "data files are rolled at about this many bytes",
};

export const SQL_DIR: OptionSpec = {
  name: "sql-dir",
  type: "string",
  placeholder: "DIR",
  description: "load customized events.sql / rejects.sql from DIR instead of the built-in ones",
};

export const MEMORY_LIMIT: OptionSpec = {
  name: "memory-limit",
  type: "string",
  default: "2GB",
  description: "DuckDB memory limit (it spills to disk beyond it), e.g. 512MB, 2GB, 1.5GiB",
  check: memoryLimitProblem,
};

/**
 * DuckDB's own threads: one core fewer than the machine has, since the
 * decode worker and the Kafka client keep one busy (on 2 cores, 1 thread
 * measured the same throughput as 2 with a quarter less CPU).
 */
const DEFAULT_DUCKDB_THREADS = Math.max(1, navigator.hardwareConcurrency - 1);

export const DUCKDB_THREADS: OptionSpec = {
  name: "duckdb-threads",
  type: "integer",
  min: 1,
  max: 1024,
  default: DEFAULT_DUCKDB_THREADS,
  description: "threads DuckDB may use (default: the machine's cores minus one)",
};

export const SHUTDOWN_TIMEOUT: OptionSpec = {
  name: "shutdown-timeout",
  type: "duration",
  min: 0,
  default: "30s",
  description:
    "on Ctrl-C/SIGTERM, time allowed to commit what is in flight (e.g. through a storage outage); what is not committed by then is read again on the next start",
};

export const ENGINE_OPTIONS: readonly OptionSpec[] = [
  TRIGGER_INTERVAL,
  MAX_RECORDS_PER_TRIGGER,
  MAX_BATCH_BYTES,
  QUEUED_BATCHES_MAX,
  TARGET_FILE_SIZE,
  SQL_DIR,
  MEMORY_LIMIT,
  DUCKDB_THREADS,
];

/** The engine settings the shared options carry. */
export function engineSettings(
  values: Readonly<Record<string, OptionValue | undefined>>,
): Pick<
  EngineConfig,
  | "sqlDir"
  | "targetFileSizeBytes"
  | "batchRecordsMax"
  | "batchBytesMax"
  | "triggerIntervalMs"
  | "queuedBatchesMax"
  | "memoryLimit"
  | "duckdbThreads"
> {
  return {
    sqlDir: values["sql-dir"] as string | undefined,
    targetFileSizeBytes: values["target-file-size"] as number,
    batchRecordsMax: values["max-records-per-trigger"] as number,
    batchBytesMax: values["max-batch-bytes"] as number,
    triggerIntervalMs: values["trigger-interval"] as number,
    queuedBatchesMax: values["max-queued-batches"] as number,
    memoryLimit: values["memory-limit"] as string,
    duckdbThreads: values["duckdb-threads"] as number,
  };
}
