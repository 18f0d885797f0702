/**
 * The two append streams fed by one consumer: Stream A (valid events ->
 * orders_events through sql/events.sql) and the dead-letter stream (invalid
 * records -> orders_rejects through sql/rejects.sql). Each batch is staged
 * as NDJSON for DuckDB's JSON reader (the raw payload bytes are spliced in,
 * not re-serialized, by the decode worker), mapped by the stream's SQL file,
 * written and committed with the batch's offsets. Each table is exactly-once
 * on its own.
 */
import { join } from "node:path";
import type { DecodedBatch } from "../batch/decode.ts";
import type { PartitionRange, ReleasedBatch } from "../batch/types.ts";
import type { Clock } from "../core/clock.ts";
import { LakehouseError } from "../core/errors.ts";
import { type Engine, sqlIdent, sqlString } from "../engine/duckdb.ts";
import { type SqlFile, sqlFileError } from "../engine/sql_files.ts";
import { ValidationError } from "../iceberg/commit/commit.ts";
import { validateRelation } from "../iceberg/write/data_files.ts";
import type { TableWriter, WriteResult } from "./table_writer.ts";

export interface StreamResult extends WriteResult {
  readonly stream: string;
  /** Records of the batch this table had already committed (replays). */
  readonly skipped: number;
}

/** Options of the dead-letter stream, whose rows are few and far between. */
export interface RejectsStreamOptions {
  /**
   * Rejects are written (with the offsets read so far) once this long has
   * passed since the last commit, at flush, or when pendingRecordsMax have
   * collected. After a crash the engine re-reads at most this much.
   */
  readonly idleCommitMs: number;
  readonly pendingRecordsMax: number;
  /** Staged bytes of held-back rejects that trigger a commit (oversized payloads add up). */
  readonly pendingBytesMax: number;
}

const EVENT_PAYLOAD_TYPE = `STRUCT(
  event_id VARCHAR, event_type VARCHAR, event_timestamp DOUBLE, order_id VARCHAR, user_id VARCHAR,
  total_amount DECIMAL(12, 2), currency VARCHAR, payment_method VARCHAR,
  items STRUCT(sku VARCHAR, quantity INTEGER, unit_price DECIMAL(12, 2), category VARCHAR)[],
  current_status VARCHAR)`;

export abstract class AppendStream {
  readonly writer: TableWriter;
  readonly sql: SqlFile;
  protected readonly engine: Engine;
  protected readonly tempDir: string;
  protected readonly clock: Clock;

  constructor(writer: TableWriter, sql: SqlFile, engine: Engine, tempDir: string, clock: Clock) {
    this.writer = writer;
    this.sql = sql;
    this.engine = engine;
    this.tempDir = tempDir;
    this.clock = clock;
  }

  abstract get inputName(): string;
  protected abstract stagedColumns(): string;

  /**
   * Writes the batch into this stream's table, exactly once: records the
   * table already holds are left out. `final` asks to commit everything
   * held back (shutdown).
   */
  abstract process(
    batch: ReleasedBatch,
    decoded: DecodedBatch,
    final?: boolean,
  ): Promise<StreamResult>;

  /** Commits whatever the stream holds back (at shutdown); nothing by default. */
  settle(): Promise<void> {
    return Promise.resolve();
  }

  /** Forgets held-back work of partitions this process no longer owns; nothing by default. */
  revoke(_partitions: readonly number[]): void {}

  /** Checks the SQL file against the table schema with an empty input (at start-up). */
  async check(): Promise<void> {
    await this.load(new Uint8Array(0));
    await this.map();
  }

  /**
   * Loads staged NDJSON (bytes, or files already written) as this stream's
   * input relation, keeping only `where` rows.
   */
  protected async load(staged: Uint8Array | readonly string[], where = "true"): Promise<void> {
    let paths: readonly string[];
    let temp: string | undefined;
    if (staged instanceof Uint8Array) {
      temp = join(this.tempDir, `${this.inputName}-${crypto.randomUUID()}.ndjson`);
      await Deno.writeFile(temp, staged);
      paths = [temp];
    } else {
      paths = staged;
    }
    try {
      await this.engine.run(
        `CREATE OR REPLACE TEMP TABLE ${sqlIdent(this.inputName)} AS
           SELECT * FROM (${this.stagedSelect(`[${paths.map(sqlString).join(", ")}]`)})
           WHERE ${where}`,
      );
    } finally {
      if (temp) await Deno.remove(temp).catch(() => {});
    }
  }

  /** The staged input read from `files`, an SQL list of paths. */
  protected stagedSelect(files: string): string {
    return `SELECT * FROM read_json(${files}, format = 'newline_delimited',
      columns = ${this.stagedColumns()})`;
  }

  /**
   * The stream's SQL file as a view over the input relation (checked against
   * the table schema): the writer reads it once, so nothing is materialized
   * in between.
   */
  protected async map(): Promise<string> {
    const rows = `__rows_${this.inputName}`;
    try {
      await this.engine.run(`CREATE OR REPLACE TEMP VIEW ${rows} AS ${this.sql.text}`);
    } catch (error) {
      throw sqlFileError(this.sql, error);
    }
    try {
      await validateRelation(this.engine, this.writer.options.schema, rows);
    } catch (error) {
      throw new LakehouseError(`${this.sql.path}: ${(error as Error).message}`, { cause: error });
    }
    return rows;
  }
}

/** Records of the batch below the table's next offsets (already committed). */
function countCommitted(batch: ReleasedBatch, expected: ReadonlyMap<number, bigint>): number {
  const behind = new Map<number, bigint>();
  for (const r of batch.ranges) {
    const next = expected.get(r.partition) ?? 0n;
    if (r.firstOffset < next) behind.set(r.partition, next);
  }
  if (behind.size === 0) return 0;
  let n = 0;
  for (let i = 0; i < batch.count; i++) {
    const next = behind.get(batch.partitions[i]);
    if (next !== undefined && batch.offsets[i] < next) n++;
  }
  return n;
}

/** SQL keeping the rows at or above the table's next offsets (`true` when all are). */
function freshPredicate(
  batch: ReleasedBatch,
  expected: ReadonlyMap<number, bigint>,
  partition: string,
  offset: string,
): string {
  const terms = batch.ranges
    .filter((r) => r.firstOffset < (expected.get(r.partition) ?? 0n))
    .map((r) => `NOT (${partition} = ${r.partition} AND ${offset} < ${expected.get(r.partition)})`);
  return terms.length === 0 ? "true" : terms.join(" AND ");
}

export class EventsStream extends AppendStream {
  get inputName(): string {
    return "batch";
  }

  async process(batch: ReleasedBatch, decoded: DecodedBatch): Promise<StreamResult> {
    const path = decoded.stagedPath;
    try {
      for (let attempt = 1;; attempt++) {
        const expected = new Map(this.writer.nextOffsets());
        const skipped = countCommitted(batch, expected);
        const ranges = batch.ranges.filter((r) => r.nextOffset > (expected.get(r.partition) ?? 0n));
        if (ranges.length === 0) {
          return { stream: this.writer.name, commit: undefined, rows: 0n, files: 0, skipped };
        }
        try {
          const t0 = performance.now();
          await this.load(
            [path],
            freshPredicate(batch, expected, "kafka_partition", "kafka_offset"),
          );
          const t1 = performance.now();
          const result = await this.writer.write(await this.map(), ranges, expected);
          this.writer.options.logger.debug(
            `${this.writer.name}: ${batch.count} records: load ${ms(t1 - t0)}, ` +
              `map+write+commit ${ms(performance.now() - t1)}`,
          );
          return { ...result, stream: this.writer.name, skipped };
        } catch (error) {
          // Another writer committed some of these partitions first: re-read
          // the offsets and redo the batch without what it already holds.
          if (!(error instanceof ValidationError) || attempt >= 3) throw error;
          await this.writer.refresh();
        }
      }
    } finally {
      await Deno.remove(path).catch(() => {});
    }
  }

  protected stagedColumns(): string {
    return `{kafka_topic: 'VARCHAR', kafka_partition: 'INTEGER', kafka_offset: 'BIGINT',
      kafka_timestamp_ms: 'BIGINT', ingested_at_ms: 'BIGINT', payload: '${
      EVENT_PAYLOAD_TYPE.replace(/\s+/g, " ")
    }'}`;
  }
  protected override stagedSelect(files: string): string {
    return `SELECT kafka_topic, kafka_partition, kafka_offset,
        make_timestamptz(kafka_timestamp_ms * 1000) AS kafka_timestamp,
        make_timestamptz(ingested_at_ms * 1000) AS ingested_at, payload
      FROM (${super.stagedSelect(files)})`;
  }
}

export class RejectsStream extends AppendStream {
  readonly #options: RejectsStreamOptions;
  /** Staged files of rejects read but not yet committed (written by the decoder). */
  #pending: string[] = [];
  #pendingRecords = 0;
  #pendingBytes = 0;
  /** Per partition, the offset this stream has read up to but not committed. */
  readonly #owed = new Map<number, bigint>();
  #lastCommitMs: number;

  constructor(
    writer: TableWriter,
    sql: SqlFile,
    engine: Engine,
    tempDir: string,
    clock: Clock,
    options: RejectsStreamOptions,
  ) {
    super(writer, sql, engine, tempDir, clock);
    this.#options = options;
    this.#lastCommitMs = clock.now();
  }

  get inputName(): string {
    return "rejects";
  }

  /**
   * Collects the batch's rejects and writes what has collected once enough
   * has (or `final`): a commit per batch would cost the dead-letter table
   * about as much as the events table for a few rows. Nothing is lost by
   * waiting: the table's offsets only move when its rows are committed, so
   * after a crash the engine reads the uncommitted records again.
   */
  async process(batch: ReleasedBatch, decoded: DecodedBatch, final = false): Promise<StreamResult> {
    const skipped = countCommitted(batch, this.writer.nextOffsets());
    if (decoded.rejectsPath !== undefined) {
      this.#pending.push(decoded.rejectsPath);
      this.#pendingRecords += decoded.rejections.length;
      this.#pendingBytes += decoded.rejectsBytes;
    }
    for (const r of batch.ranges) {
      if (r.nextOffset > (this.#owed.get(r.partition) ?? 0n)) {
        this.#owed.set(r.partition, r.nextOffset);
      }
    }
    const due = final || this.#pendingRecords >= this.#options.pendingRecordsMax ||
      this.#pendingBytes >= this.#options.pendingBytesMax ||
      this.clock.now() - this.#lastCommitMs >= this.#options.idleCommitMs;
    const result = due ? await this.#commitPending() : undefined;
    return {
      stream: this.writer.name,
      commit: result?.commit,
      rows: result?.rows ?? 0n,
      files: result?.files ?? 0,
      skipped,
    };
  }

  /** Commits whatever is pending (at shutdown, so a restart does not read it again). */
  override async settle(): Promise<void> {
    await this.#commitPending();
  }

  /**
   * Stops committing partitions this process no longer owns; their pending
   * rows are left out of the next commit (its ranges select the rows).
   */
  override revoke(partitions: readonly number[]): void {
    for (const p of partitions) this.#owed.delete(p);
  }

  async #commitPending(): Promise<WriteResult | undefined> {
    for (let attempt = 1;; attempt++) {
      const expected = new Map(this.writer.nextOffsets());
      const ranges: PartitionRange[] = [];
      for (const [partition, next] of this.#owed) {
        const committed = expected.get(partition) ?? 0n;
        if (next > committed) ranges.push({ partition, firstOffset: committed, nextOffset: next });
      }
      ranges.sort((a, b) => a.partition - b.partition);
      if (ranges.length === 0) {
        await this.#clear();
        return undefined;
      }
      try {
        // Exactly the pending rows of the ranges committed now.
        const where = ranges.map((r) =>
          `("partition" = ${r.partition} AND "offset" >= ${r.firstOffset} AND "offset" < ${r.nextOffset})`
        ).join(" OR ");
        if (this.#pending.length > 0) await this.load(this.#pending, where);
        else await this.load(new Uint8Array(0));
        const result = await this.writer.write(await this.map(), ranges, expected);
        await this.#clear();
        return result;
      } catch (error) {
        if (!(error instanceof ValidationError) || attempt >= 3) throw error;
        await this.writer.refresh();
      }
    }
  }

  async #clear(): Promise<void> {
    for (const path of this.#pending) await Deno.remove(path).catch(() => {});
    this.#pending = [];
    this.#pendingRecords = 0;
    this.#pendingBytes = 0;
    this.#owed.clear();
    this.#lastCommitMs = this.clock.now();
  }

  protected stagedColumns(): string {
    return `{topic: 'VARCHAR', "partition": 'INTEGER', "offset": 'BIGINT', received_at_ms: 'BIGINT',
      kind: 'VARCHAR', reason: 'VARCHAR', payload_base64: 'VARCHAR', payload_text: 'VARCHAR'}`;
  }
  /**
   * One row per record: a partition revoked and assigned back while its
   * rejects were held back is read again, so pending files can hold two
   * copies of a reject (identical but for received_at); the newest is kept.
   */
  protected override stagedSelect(files: string): string {
    return `SELECT topic, "partition", "offset", make_timestamptz(received_at_ms * 1000) AS received_at,
        kind AS reject_kind, reason, from_base64(payload_base64) AS payload, payload_text
      FROM (SELECT DISTINCT ON ("partition", "offset") * FROM (${super.stagedSelect(files)})
        ORDER BY "partition", "offset", received_at_ms DESC)`;
  }
}

function ms(x: number): string {
  return `${x.toFixed(0)} ms`;
}
