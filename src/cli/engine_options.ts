/** Options shared by the engine commands (run, demo). */
import type { OptionSpec, OptionValues } from "../config/options.ts";
import { memoryLimitProblem } from "../config/values.ts";
import type { EngineConfig } from "../streams/engine.ts";
import { parseTables, TABLE_NAMES, tablesProblem } from "../streams/tables.ts";

const TRIGGER_INTERVAL = {
  name: "trigger-interval",
  type: "duration",
  min: 10,
  default: "1s",
  description: "a micro-batch closes at the latest this long after its first record",
} as const satisfies OptionSpec;

const MAX_RECORDS_PER_TRIGGER = {
  name: "max-records-per-trigger",
  type: "integer",
  min: 1,
  max: 10_000_000,
  default: 200_000,
  description: "a micro-batch closes at this many records (the backpressure knob)",
} as const satisfies OptionSpec;

const MAX_BATCH_BYTES = {
  name: "max-batch-bytes",
  type: "integer",
  min: 1024,
  default: 128 * 1024 * 1024,
  description: "a micro-batch closes at this many payload bytes",
} as const satisfies OptionSpec;

const QUEUED_BATCHES_MAX = {
  name: "max-queued-batches",
  type: "integer",
  min: 0,
  max: 16,
  default: 2,
  description: "closed batches allowed to wait for the writers before the feed pauses",
} as const satisfies OptionSpec;

const TARGET_FILE_SIZE = {
  name: "target-file-size",
  type: "integer",
  min: 1024 * 1024,
  default: 128 * 1024 * 1024,
  description: "data files are rolled at about this many bytes",
} as const satisfies OptionSpec;

const SQL_DIR = {
  name: "sql-dir",
  type: "string",
  placeholder: "DIR",
  description:
    "load customized SQL files (events.sql, rejects.sql, current_changes.sql, current_merge.sql: those of the tables written) from DIR instead of the built-in ones",
} as const satisfies OptionSpec;

const MEMORY_LIMIT = {
  name: "memory-limit",
  type: "string",
  default: "2GB",
  description: "DuckDB memory limit (it spills to disk beyond it), e.g. 512MB, 2GB, 1.5GiB",
  check: memoryLimitProblem,
} as const satisfies OptionSpec;

/**
 * DuckDB's own threads: one core fewer than the machine has, since the
 * decode worker and the Kafka client keep one busy (on 2 cores, 1 thread
 * measured the same throughput as 2 with a quarter less CPU).
 */
const DEFAULT_DUCKDB_THREADS = Math.max(1, navigator.hardwareConcurrency - 1);

const DUCKDB_THREADS = {
  name: "duckdb-threads",
  type: "integer",
  min: 1,
  max: 1024,
  default: DEFAULT_DUCKDB_THREADS,
  description:
    "threads one DuckDB query may use (default: the machine's cores minus one); orders_events and orders_current stage on two connections, each running its own query",
} as const satisfies OptionSpec;

export const SHUTDOWN_TIMEOUT = {
  name: "shutdown-timeout",
  type: "duration",
  min: 0,
  default: "30s",
  description:
    "on Ctrl-C/SIGTERM, time allowed to commit what is in flight (e.g. through a storage outage); what is not committed by then is read again on the next start",
} as const satisfies OptionSpec;

const TABLES = {
  name: "tables",
  type: "string",
  placeholder: "events,current,rejects",
  default: TABLE_NAMES.join(","),
  description:
    "tables to write: orders_events (events), orders_current (current), orders_rejects (rejects); each exactly once on its own",
  check: tablesProblem,
} as const satisfies OptionSpec;

const STATE_DIR = {
  name: "state-dir",
  type: "string",
  placeholder: "DIR",
  description:
    "where orders_current's state store lives, kept across runs (rebuilt from the table when missing) [default: .lakehouse/state for run, WAREHOUSE/.state for demo]",
} as const satisfies OptionSpec;

export const ENGINE_OPTIONS = [
  TRIGGER_INTERVAL,
  MAX_RECORDS_PER_TRIGGER,
  MAX_BATCH_BYTES,
  QUEUED_BATCHES_MAX,
  TARGET_FILE_SIZE,
  SQL_DIR,
  MEMORY_LIMIT,
  DUCKDB_THREADS,
  TABLES,
  STATE_DIR,
] as const satisfies readonly OptionSpec[];

/** The engine settings the shared options carry. */
export function engineSettings(
  values: OptionValues<typeof ENGINE_OPTIONS>,
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
  | "tables"
> {
  return {
    sqlDir: values["sql-dir"],
    targetFileSizeBytes: values["target-file-size"],
    batchRecordsMax: values["max-records-per-trigger"],
    batchBytesMax: values["max-batch-bytes"],
    triggerIntervalMs: values["trigger-interval"],
    queuedBatchesMax: values["max-queued-batches"],
    memoryLimit: values["memory-limit"],
    duckdbThreads: values["duckdb-threads"],
    tables: parseTables(values.tables),
  };
}
