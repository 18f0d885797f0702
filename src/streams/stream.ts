/**
 * What the pipeline asks of a table fed from every batch (Stream A today,
 * the state table next): stage the batch locally, then publish it with the
 * batch's offsets. Staging is where rows can fail on their values (they are
 * returned, for the dead-letter table, which commits them before any
 * publish); publishing is where storage can fail (retried) and where another
 * writer can have got there first (ValidationError: refresh, stage again).
 */
import type { DecodedBatch } from "../batch/decode.ts";
import type { RawRecord, ReleasedBatch } from "../batch/types.ts";
import type { SqlFile } from "../duckdb/sql_files.ts";
import { ValidationError } from "../iceberg/commit/commit.ts";
import type { TableWriter, WriteResult } from "./table_writer.ts";

export interface StreamResult extends WriteResult {
  readonly stream: string;
  /** Records of the batch this table had already committed (replays). */
  readonly skipped: number;
}

/** A record a table write failed on, bound for the dead-letter table. */
export interface FailedRecord {
  readonly record: RawRecord;
  /** The table and the error, as the dead-letter row's reason. */
  readonly reason: string;
}

/** A batch staged for one table. */
export interface Prepared {
  /** Records the write failed on: left out of the table, for the dead-letter table. */
  readonly failed: readonly FailedRecord[];
  /** Input rows the table's SQL file did not turn into rows (a WHERE): counted, stored nowhere. */
  readonly filtered: number;
  /** Events a merge left without effect (stale, or after a terminal status): counted. */
  readonly ignored?: number;
  /** Removes the staged files (after publishing, or when giving up). */
  dispose(): Promise<void>;
}

export interface TableStream<P extends Prepared = Prepared> {
  /** The table's writer: its committed offsets and schema. */
  readonly writer: TableWriter;
  /** The SQL file that maps a batch to the table's rows. */
  readonly sql: SqlFile;
  /** Stages the batch's records the table does not hold yet (no upload). */
  prepare(batch: ReleasedBatch, decoded: DecodedBatch): Promise<P>;
  /** Uploads and commits a prepared batch. */
  publish(prepared: P): Promise<StreamResult>;
  /** Reloads what the stream knows of its table (offsets, state) after another writer committed. */
  refresh(): Promise<void>;
}

/** Attempts at a commit that lost a race to another writer of its partitions. */
export const RACE_ATTEMPTS_MAX = 3;

/**
 * Runs `attempt` until it does not lose a race (ValidationError: another
 * writer committed some of these partitions first), reloading the table's
 * offsets before each new attempt, which then redoes its work without what
 * that writer committed. Other failures, and a race lost RACE_ATTEMPTS_MAX
 * times, are thrown.
 */
export async function retryLostRaces<T>(
  writer: Pick<TableWriter, "refresh">,
  attempt: (n: number) => Promise<T>,
  refresh: () => Promise<void> = () => writer.refresh(),
): Promise<T> {
  for (let n = 1;; n++) {
    try {
      return await attempt(n);
    } catch (error) {
      if (!(error instanceof ValidationError) || n >= RACE_ATTEMPTS_MAX) throw error;
      await refresh();
    }
  }
}
