/**
 * The two append streams fed by one consumer: Stream A (valid events ->
 * orders_events through sql/events.sql) and the dead-letter stream (invalid
 * records -> orders_rejects through sql/rejects.sql). Each batch is staged
 * as NDJSON for DuckDB's JSON reader (the raw payload bytes are spliced in,
 * not re-serialized, by the decode worker), mapped by the stream's SQL file,
 * written and committed with the batch's offsets. Each table is exactly-once
 * on its own.
 *
 * No record may stop its partition: when the values of some rows make a
 * table write fail (DataError: a conversion, an overflow, a user's SQL file
 * calling error()), the stream isolates those rows (isolate.ts) and they go
 * to the dead-letter table with the error as their reason, while the rest
 * of the batch is committed as usual.
 */
import { join } from "node:path";
import type { DecodedBatch } from "../batch/decode.ts";
import { StagedLines } from "../batch/staged_lines.ts";
import { REJECT_PAYLOAD_TEXT_SQL, REJECT_STAGED_COLUMNS } from "../batch/staged.ts";
import { EVENT_PAYLOAD_JSON_STRUCTURE, EVENT_PAYLOAD_STRUCT } from "../events/contract.ts";
import type { RejectKind } from "../batch/validate.ts";
import type { PartitionRange, ReleasedBatch } from "../batch/types.ts";
import { assert } from "../core/assert.ts";
import type { Clock } from "../core/clock.ts";
import { DataError, errorMessage, LakehouseError } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import { type DuckDb, sqlIdent, sqlString } from "../duckdb/duckdb.ts";
import { type SqlFile, sqlFileError } from "../duckdb/sql_files.ts";
import type { StructType } from "../iceberg/spec/types.ts";
import type { StagedDataFiles } from "../iceberg/write/data_files.ts";
import { icebergTypeOfDuckdb, UnsupportedTypeError } from "../iceberg/write/duckdb_types.ts";
import { type IsolatedFailure, isolateFailures } from "./isolate.ts";
import {
  type FailedRecord,
  type Prepared,
  retryLostRaces,
  type StreamResult,
  type TableStream,
} from "./stream.ts";
import type { TableWriter, WriteResult } from "./table_writer.ts";

/** Something staged that takes its local files away with dispose(). */
export interface Disposable {
  dispose(): Promise<void>;
}

/** Reject kind of records a table write failed on. */
export const WRITE_FAILED_KIND: RejectKind = "write_failed";

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

/**
 * A valid event in the staged form, run through the events SQL file at
 * start-up: a file that fails on every row (a bad cast, a call of error())
 * stops start-up with its name instead of sending every record to the
 * dead-letter table.
 */
export const SAMPLE_STAGED_EVENT = JSON.stringify({
  kafka_topic: "sample",
  kafka_partition: 0,
  kafka_offset: 0,
  kafka_timestamp_ms: 1_767_225_600_000,
  ingested_at_ms: 1_767_225_600_000,
  payload: {
    event_id: "00000000-0000-4000-8000-000000000001",
    event_type: "ORDER_CREATED",
    event_timestamp: 1_767_225_600,
    order_id: "00000000-0000-4000-8000-000000000002",
    user_id: "user-000001",
    total_amount: 25.98,
    currency: "USD",
    payment_method: "credit_card",
    items: [{ sku: "SKU-00001", quantity: 2, unit_price: 12.99, category: "books" }],
    current_status: "CREATED",
  },
}) + "\n";

/**
 * A batch's input relation loaded once for the streams that read it
 * (orders_events and orders_current read the same staged file into `batch`
 * with the same columns and predicate), as a table of the database's main
 * schema that every connection sees, so that the streams can stage on
 * connections of their own at the same time. Staged files are never
 * rewritten (each has a new name), so the same statement means the same
 * rows. While a stream reads the shared table (it holds a lease until its
 * staging ends) nobody replaces it: a stream that needs other rows (its
 * table is behind the other, or it is isolating failing rows) loads them
 * into a temporary table of its own connection, which takes precedence over
 * the shared one there until the connection's next shared load drops it.
 */
interface SharedInput {
  statement: string | undefined;
  /** The staged files the statement reads (a batch's). */
  files: string | undefined;
  leases: number;
  /** The end of the last load (loads and lease decisions happen one at a time). */
  queue: Promise<void>;
}

const sharedInputs = new WeakMap<object, Map<string, SharedInput>>();

function sharedInput(duckdb: DuckDb, name: string): SharedInput {
  let inputs = sharedInputs.get(duckdb.database);
  if (inputs === undefined) sharedInputs.set(duckdb.database, inputs = new Map());
  let input = inputs.get(name);
  if (input === undefined) {
    inputs.set(
      name,
      input = { statement: undefined, files: undefined, leases: 0, queue: Promise.resolve() },
    );
  }
  return input;
}

export abstract class AppendStream {
  readonly writer: TableWriter;
  readonly sql: SqlFile;
  protected readonly duckdb: DuckDb;
  protected readonly tempDir: string;
  protected readonly clock: Clock;
  /** The shared input this stream reads, if any (see load). */
  #lease: SharedInput | undefined;

  constructor(writer: TableWriter, sql: SqlFile, duckdb: DuckDb, tempDir: string, clock: Clock) {
    this.writer = writer;
    this.sql = sql;
    this.duckdb = duckdb;
    this.tempDir = tempDir;
    this.clock = clock;
  }

  abstract get inputName(): string;
  protected abstract stagedColumns(): string;

  protected get logger(): Logger {
    return this.writer.options.logger;
  }

  /** Commits whatever the stream holds back (at shutdown); the rows committed (none by default). */
  settle(): Promise<bigint> {
    return Promise.resolve(0n);
  }

  /** Forgets held-back work of partitions this process no longer owns; nothing by default. */
  revoke(_partitions: readonly number[]): void {}

  /**
   * The SQL file's output columns as Iceberg types (ids unassigned), over an
   * empty input: what the table's schema must be (TableWriter.open).
   */
  async outputColumns(): Promise<StructType> {
    await this.load(new Uint8Array(0));
    const view = await this.map();
    const described = await this.duckdb.describe(`SELECT * FROM ${view}`);
    return {
      type: "struct",
      fields: described.map((c) => {
        try {
          return { id: 0, name: c.name, required: false, type: icebergTypeOfDuckdb(c.type) };
        } catch (error) {
          if (!(error instanceof UnsupportedTypeError)) throw error;
          throw new LakehouseError(`${this.sql.path}: column ${c.name}: ${error.message}`);
        }
      }),
    };
  }

  /** Checks the SQL file against the table schema with an empty input (at start-up). */
  async check(): Promise<void> {
    await this.load(new Uint8Array(0));
    const staged = await this.stageView(await this.map());
    await staged.dispose();
  }

  /**
   * Loads staged NDJSON (bytes, or files already written) as this stream's
   * input relation, keeping only `where` rows: into a temporary table of
   * this connection, or with `share` into the table every connection sees
   * (see SharedInput), reusing it when it holds these rows already. A shared
   * load holds a lease until releaseInput().
   */
  protected async load(
    staged: Uint8Array | readonly string[],
    where = "true",
    share = false,
  ): Promise<void> {
    let paths: readonly string[];
    let temp: string | undefined;
    if (staged instanceof Uint8Array) {
      temp = join(this.tempDir, `${this.inputName}-${crypto.randomUUID()}.ndjson`);
      await Deno.writeFile(temp, staged);
      paths = [temp];
    } else {
      paths = staged;
    }
    const rows = `SELECT * FROM (${this.stagedSelect(`[${paths.map(sqlString).join(", ")}]`)})
           WHERE ${where}`;
    const name = sqlIdent(this.inputName);
    const loadPrivately = () => this.duckdb.run(`CREATE OR REPLACE TEMP TABLE ${name} AS ${rows}`);
    try {
      if (temp !== undefined || !share) return await loadPrivately();
      this.releaseInput();
      const input = sharedInput(this.duckdb, this.inputName);
      const turn = input.queue.then(async () => {
        if (input.statement !== rows && input.leases > 0) {
          this.logger.debug(
            `${this.writer.name}: input loaded for this table alone (another table reads other rows)`,
          );
          return await loadPrivately();
        }
        if (input.statement !== rows) {
          const files = paths.join("\n");
          if (input.files === files) {
            this.logger.debug(
              `${this.writer.name}: input loaded again for this table (another table read other rows of the batch)`,
            );
          }
          input.statement = undefined;
          const schema = await this.duckdb.mainSchema();
          await this.duckdb.run(`CREATE OR REPLACE TABLE ${schema}.${name} AS ${rows}`);
          input.statement = rows;
          input.files = files;
        }
        // A temporary table of this connection would hide the shared one.
        await this.duckdb.run(`DROP TABLE IF EXISTS temp.main.${name}`);
        input.leases++;
        this.#lease = input;
      });
      input.queue = turn.catch(() => {});
      await turn;
    } finally {
      if (temp) await Deno.remove(temp).catch(() => {});
    }
  }

  /** Ends this stream's lease on the shared input (its staging is over). */
  protected releaseInput(): void {
    if (this.#lease === undefined) return;
    this.#lease.leases--;
    this.#lease = undefined;
  }

  /** The staged input read from `files`, an SQL list of paths. */
  protected stagedSelect(files: string): string {
    return `SELECT * FROM read_json(${files}, format = 'newline_delimited',
      columns = ${this.stagedColumns()})`;
  }

  /**
   * `sql`'s statement as a view over the input relation: the writer reads it
   * once (and checks it against the table schema), so nothing is
   * materialized in between.
   */
  protected async map(sql: SqlFile = this.sql, suffix = ""): Promise<string> {
    const rows = `__rows_${this.inputName}${suffix}`;
    try {
      await this.duckdb.run(`CREATE OR REPLACE TEMP VIEW ${rows} AS ${sql.text}`);
    } catch (error) {
      throw sqlFileError(sql, error);
    }
    return rows;
  }

  /** Stages a mapped view; errors that are not about row values name the SQL file. */
  protected async stageView(view: string, sql: SqlFile = this.sql): Promise<StagedDataFiles> {
    try {
      return await this.writer.stage(view);
    } catch (error) {
      if (error instanceof DataError || !(error instanceof LakehouseError)) throw error;
      if (error.retriable) throw error;
      throw new LakehouseError(`${sql.path}: ${errorMessage(error)}`, { cause: error });
    }
  }

  /** Rows of the loaded input relation. */
  protected async inputRows(): Promise<number> {
    const [row] = await this.duckdb.query<{ n: bigint }>(
      `SELECT count(*)::BIGINT AS n FROM ${sqlIdent(this.inputName)}`,
    );
    return Number(row.n);
  }

  /** Loads `files` (rows passing `where`), maps them through `sql` and stages the result. */
  protected async stageFiles(
    files: readonly string[],
    where: string,
    sql: SqlFile = this.sql,
  ): Promise<StagedDataFiles> {
    await this.load(files, where);
    return await this.stageView(await this.map(sql), sql);
  }

  /**
   * Stages a batch whose write failed on the values of some rows (`first`):
   * finds the records that fail alone, leaves them out (returned in
   * `failed`, for the dead-letter table) and stages the rest with `stage`.
   */
  protected async stageIsolating<T extends Disposable>(
    decoded: DecodedBatch,
    expected: ReadonlyMap<number, bigint>,
    first: DataError,
    stage: (file: string) => Promise<T>,
  ): Promise<{ staged: T | undefined; failed: FailedRecord[]; input: number }> {
    const lines = await StagedLines.read(decoded.stagedPath, decoded.blanked);
    // Only records the table does not hold yet: a committed one is not retried.
    let candidates: number[] = [];
    for (let i = 0; i < lines.count; i++) {
      const { partition, offset } = lines.lineage(i);
      if (offset >= (expected.get(partition) ?? 0n)) candidates.push(i);
    }
    const input = candidates.length;
    const failed: FailedRecord[] = [];
    let error = first;
    for (let round = 1; round <= ISOLATION_ROUNDS_MAX; round++) {
      const found = await this.isolate(lines, candidates, stage);
      if (found.length === 0) {
        throw new LakehouseError(
          `${this.writer.name}: writing a batch fails, but on no row alone (does ${this.sql.path} ` +
            `combine rows?): ${dataErrorText(error)}`,
          { cause: error },
        );
      }
      const bad = new Set(found.map((f) => f.item));
      for (const f of found) {
        failed.push({ record: lines.record(f.item), reason: this.failureReason(f.error) });
      }
      candidates = candidates.filter((i) => !bad.has(i));
      this.logger.warn(
        `${this.writer.name}: ${found.length} record(s) go to orders_rejects as ${WRITE_FAILED_KIND}: ${
          found.slice(0, 3).map((f) => {
            const l = lines.lineage(f.item);
            return `partition ${l.partition} offset ${l.offset}`;
          }).join(", ")
        }${found.length > 3 ? ", ..." : ""} (${dataErrorText(found[0].error)})`,
      );
      if (candidates.length === 0) return { staged: undefined, failed, input };
      const rest = await lines.writeSubset(this.tempDir, candidates);
      try {
        return { staged: await stage(rest), failed, input };
      } catch (again) {
        if (!(again instanceof DataError)) throw again;
        error = again;
      } finally {
        await Deno.remove(rest).catch(() => {});
      }
    }
    throw new LakehouseError(
      `${this.writer.name}: a batch still fails after ${ISOLATION_ROUNDS_MAX} rounds of ` +
        `isolating failing rows: ${dataErrorText(error)}`,
      { cause: error },
    );
  }

  /** The dead-letter reason of a record this stream's write failed on. */
  protected failureReason(error: DataError): string {
    return `${this.writer.name} write failed (${this.sql.name}): ${dataErrorText(error)}`;
  }

  /**
   * Searches `lines` (known to fail together when staged) for the ones that
   * fail alone, staging subsets without publishing them.
   */
  protected async isolate(
    lines: StagedLines,
    candidates: readonly number[],
    stage: (file: string) => Promise<Disposable>,
  ): Promise<IsolatedFailure[]> {
    const started = this.clock.now();
    let reported = started;
    this.logger.warn(
      `${this.writer.name}: writing a batch failed on the values of some of its ` +
        `${candidates.length} rows; isolating them for ${
          this.writer.name === "orders_rejects" ? "the built-in rejects.sql" : "orders_rejects"
        }`,
    );
    return await isolateFailures(candidates, {
      probe: async (subset) => {
        const path = await lines.writeSubset(this.tempDir, subset);
        try {
          const staged = await stage(path);
          await staged.dispose();
        } finally {
          await Deno.remove(path).catch(() => {});
        }
      },
      onProbe: (probes, found) => {
        const now = this.clock.now();
        if (now - reported < 5_000) return;
        reported = now;
        this.logger.info(
          `${this.writer.name}: isolating failing rows: ${probes} probes in ${
            ((now - started) / 1000).toFixed(0)
          } s, ${found} found so far`,
        );
      },
    });
  }
}

/** Records of the batch below the table's next offsets (already committed). */
export function countCommitted(
  batch: ReleasedBatch,
  expected: ReadonlyMap<number, bigint>,
): number {
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

/** Accepted (not rejected) records of the batch at or above the table's next offsets. */
export function freshAccepted(
  batch: ReleasedBatch,
  decoded: DecodedBatch,
  expected: ReadonlyMap<number, bigint>,
): number {
  const rejected = new Set(decoded.rejections.map((r) => r.index));
  let n = 0;
  for (let i = 0; i < batch.count; i++) {
    if (rejected.has(i)) continue;
    if (batch.offsets[i] >= (expected.get(batch.partitions[i]) ?? 0n)) n++;
  }
  return n;
}

/** SQL keeping the rows at or above the table's next offsets (`true` when all are). */
export function freshPredicate(
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

/** Stream A's batch, staged and ready to publish. */
export interface PreparedEvents extends Prepared {
  readonly batch: ReleasedBatch;
  /** Undefined when the table already holds the whole batch. */
  readonly staged: StagedDataFiles | undefined;
  readonly ranges: readonly PartitionRange[];
  /** The table's offsets the batch was selected with. */
  readonly expected: ReadonlyMap<number, bigint>;
  readonly skipped: number;
}

/** Rounds of isolation before a batch that keeps failing stops the engine. */
const ISOLATION_ROUNDS_MAX = 3;

export class EventsStream extends AppendStream implements TableStream<PreparedEvents> {
  get inputName(): string {
    return "batch";
  }

  /** Also runs a sample event through the SQL file: one that fails on every row stops start-up. */
  override async check(): Promise<void> {
    await super.check();
    const sample = join(this.tempDir, `sample-${crypto.randomUUID()}.ndjson`);
    await Deno.writeTextFile(sample, SAMPLE_STAGED_EVENT);
    try {
      const staged = await this.stageFiles([sample], "true");
      await staged.dispose();
    } catch (error) {
      if (!(error instanceof DataError)) throw error;
      throw new LakehouseError(
        `${this.sql.path}: fails on a valid sample event, so it would fail on every event: ${
          dataErrorText(error)
        }`,
        { cause: error },
      );
    } finally {
      await Deno.remove(sample).catch(() => {});
    }
  }

  /**
   * Stages the batch's records the table does not hold yet (no upload).
   * Records the write fails on are isolated and returned in `failed`.
   */
  async prepare(batch: ReleasedBatch, decoded: DecodedBatch): Promise<PreparedEvents> {
    const expected = new Map(this.writer.nextOffsets());
    const skipped = countCommitted(batch, expected);
    const ranges = batch.ranges.filter((r) => r.nextOffset > (expected.get(r.partition) ?? 0n));
    const base = { batch, ranges, expected, skipped };
    if (ranges.length === 0) {
      return { ...base, staged: undefined, failed: [], filtered: 0, dispose: nothing };
    }
    const where = freshPredicate(batch, expected, "kafka_partition", "kafka_offset");
    const t0 = performance.now();
    let input: number | undefined;
    let result: { staged: StagedDataFiles | undefined; failed: FailedRecord[]; input?: number };
    try {
      await this.load([decoded.stagedPath], where, true);
      input = await this.inputRows();
      // Every accepted record the table does not hold yet is loaded, once.
      assert(
        input === freshAccepted(batch, decoded, expected),
        `${this.writer.name}: loaded ${input} rows of a batch with ` +
          `${freshAccepted(batch, decoded, expected)} accepted records to write`,
      );
      result = { staged: await this.stageView(await this.map()), failed: [] };
      this.logger.debug(
        `${this.writer.name}: ${batch.count} records staged in ${ms(performance.now() - t0)}`,
      );
    } catch (error) {
      if (!(error instanceof DataError)) throw error;
      this.releaseInput();
      result = await this.stageIsolating(
        decoded,
        expected,
        error,
        (file) => this.stageFiles([file], "true"),
      );
    } finally {
      this.releaseInput();
    }
    // The SQL file's WHERE (or an unnest) decides the rows: the difference is reported.
    const read = input ?? result.input ?? 0;
    const filtered = read - result.failed.length - Number(result.staged?.rows ?? 0n);
    const staged = result.staged;
    return {
      ...base,
      staged,
      failed: result.failed,
      filtered,
      dispose: () => staged?.dispose() ?? Promise.resolve(),
    };
  }

  refresh(): Promise<void> {
    return this.writer.refresh();
  }

  /** Uploads and commits a prepared batch (ValidationError: another writer got there first). */
  async publish(prepared: PreparedEvents): Promise<StreamResult> {
    const { staged, ranges, expected, skipped } = prepared;
    if (staged === undefined) {
      return { stream: this.writer.name, commit: undefined, rows: 0n, files: 0, skipped };
    }
    const result = await this.writer.publish([staged], ranges, expected);
    return { ...result, stream: this.writer.name, skipped };
  }

  protected stagedColumns(): string {
    return eventColumns(this.sql);
  }
  protected override stagedSelect(files: string): string {
    return eventSelect(this.sql, super.stagedSelect(files));
  }
}

/**
 * Whether a SQL file reads `payload_json`, the payload as JSON text (a field
 * the producer sends beyond the contract). Only then is the payload loaded as
 * JSON and typed from it; otherwise it is read straight into the typed
 * struct, the cheaper way.
 */
function readsJson(sql: SqlFile): boolean {
  return /\bpayload_json\b/i.test(sql.code);
}

/** The columns of a staged events file as read for `sql` (the events streams' input). */
export function eventColumns(sql: SqlFile): string {
  const payload = readsJson(sql) ? "JSON" : EVENT_PAYLOAD_STRUCT;
  return `{kafka_topic: 'VARCHAR', kafka_partition: 'INTEGER', kafka_offset: 'BIGINT',
    kafka_timestamp_ms: 'BIGINT', ingested_at_ms: 'BIGINT', payload: '${payload}'}`;
}

/** The `batch` relation of the events streams over `read`, the staged files as read_json reads them. */
export function eventSelect(sql: SqlFile, read: string): string {
  const payload = readsJson(sql)
    ? `json_transform(s.payload, ${sqlString(EVENT_PAYLOAD_JSON_STRUCTURE)}) AS payload,
       s.payload AS payload_json`
    : "s.payload AS payload";
  return `SELECT s.kafka_topic, s.kafka_partition, s.kafka_offset,
      make_timestamptz(s.kafka_timestamp_ms * 1000) AS kafka_timestamp,
      make_timestamptz(s.ingested_at_ms * 1000) AS ingested_at, ${payload}
    FROM (${read}) s`;
}

/** The first line of a DuckDB or schema error, without our "SQL failed" framing. */
export function dataErrorText(error: Error): string {
  return error.message.replace(/^SQL failed: /, "").split("\n")[0];
}

export class RejectsStream extends AppendStream {
  readonly #options: RejectsStreamOptions;
  /** The shipped rejects.sql: rows a customized one fails on are written through it. */
  readonly #builtin: SqlFile;
  /** Staged files of rejects read but not yet committed (written by the decoder). */
  #pending: string[] = [];
  #pendingRecords = 0;
  #pendingBytes = 0;
  /** Per partition, the offset this stream has read up to but not committed. */
  readonly #owed = new Map<number, bigint>();
  /** Batches whose rejects are already pending (a batch can be absorbed early). */
  readonly #absorbed = new WeakSet<ReleasedBatch>();
  #lastCommitMs: number;

  constructor(
    writer: TableWriter,
    sql: SqlFile,
    builtin: SqlFile,
    duckdb: DuckDb,
    tempDir: string,
    clock: Clock,
    options: RejectsStreamOptions,
  ) {
    super(writer, sql, duckdb, tempDir, clock);
    this.#builtin = builtin;
    this.#options = options;
    this.#lastCommitMs = clock.now();
  }

  get inputName(): string {
    return "rejects";
  }

  /**
   * Takes in a batch's rejects (and `extra` staged reject files, such as the
   * records a table write failed on) without committing. Idempotent per
   * batch.
   */
  absorb(batch: ReleasedBatch, decoded: DecodedBatch, extra: readonly StagedRejects[] = []): void {
    if (this.#absorbed.has(batch)) {
      for (const e of extra) this.#addPending(e.path, e.count, e.bytes);
      return;
    }
    this.#absorbed.add(batch);
    if (decoded.rejectsPath !== undefined) {
      this.#addPending(decoded.rejectsPath, decoded.rejections.length, decoded.rejectsBytes);
    }
    for (const e of extra) this.#addPending(e.path, e.count, e.bytes);
    for (const r of batch.ranges) {
      if (r.nextOffset > (this.#owed.get(r.partition) ?? 0n)) {
        this.#owed.set(r.partition, r.nextOffset);
      }
    }
  }

  #addPending(path: string, records: number, bytes: number): void {
    this.#pending.push(path);
    this.#pendingRecords += records;
    this.#pendingBytes += bytes;
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
    this.absorb(batch, decoded);
    const due = final || this.#pendingRecords >= this.#options.pendingRecordsMax ||
      this.#pendingBytes >= this.#options.pendingBytesMax ||
      this.clock.now() - this.#lastCommitMs >= this.#options.idleCommitMs;
    const result = due ? await this.commitPending() : undefined;
    return {
      stream: this.writer.name,
      commit: result?.commit,
      rows: result?.rows ?? 0n,
      files: result?.files ?? 0,
      skipped,
    };
  }

  /** Commits whatever is pending (at shutdown, so a restart does not read it again). */
  override async settle(): Promise<bigint> {
    return (await this.commitPending())?.rows ?? 0n;
  }

  /**
   * Stops committing partitions this process no longer owns; their pending
   * rows are left out of the next commit (its ranges select the rows).
   */
  override revoke(partitions: readonly number[]): void {
    for (const p of partitions) this.#owed.delete(p);
  }

  /**
   * Writes and commits every pending reject with the offsets read so far. A
   * commit that lost a race to another writer of these partitions is redone
   * without what that writer committed.
   */
  commitPending(): Promise<WriteResult | undefined> {
    return retryLostRaces(this.writer, () => this.#commitPendingOnce());
  }

  async #commitPendingOnce(): Promise<WriteResult | undefined> {
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
    // Exactly the pending rows of the ranges committed now.
    const where = ranges.map((r) =>
      `("partition" = ${r.partition} AND "offset" >= ${r.firstOffset} AND "offset" < ${r.nextOffset})`
    ).join(" OR ");
    const staged = await this.#stagePending(where);
    try {
      const result = await this.writer.publish(staged, ranges, expected);
      await this.#clear();
      return result;
    } finally {
      for (const s of staged) await s.dispose();
    }
  }

  /**
   * Stages the pending rows through rejects.sql; rows a customized file
   * fails on are staged through the built-in one instead, so that the
   * dead-letter table, the last resort, takes every record.
   */
  async #stagePending(where: string): Promise<StagedDataFiles[]> {
    if (this.#pending.length === 0) {
      await this.load(new Uint8Array(0));
      return [await this.writer.stage(await this.map())];
    }
    try {
      return [await this.stageFiles(this.#pending, where)];
    } catch (error) {
      if (!(error instanceof DataError) || this.sql.text === this.#builtin.text) throw error;
    }
    const lines = await StagedLines.read(this.#pending);
    const all = Array.from({ length: lines.count }, (_, i) => i);
    const found = await this.isolate(lines, all, (file) => this.stageFiles([file], where));
    const bad = new Set(found.map((f) => f.item));
    this.logger.warn(
      `${this.writer.name}: ${this.sql.path} fails on ${bad.size} reject(s) (${
        found.length > 0 ? dataErrorText(found[0].error) : "on no row alone"
      }); they are written through the built-in rejects.sql`,
    );
    const good = await lines.writeSubset(this.tempDir, all.filter((i) => !bad.has(i)));
    const fallback = await lines.writeSubset(this.tempDir, [...bad]);
    try {
      const staged = [await this.stageFiles([good], where)];
      try {
        staged.push(await this.stageFiles([fallback], where, this.#builtin));
      } catch (error) {
        for (const s of staged) await s.dispose();
        throw error;
      }
      return staged;
    } finally {
      await Deno.remove(good).catch(() => {});
      await Deno.remove(fallback).catch(() => {});
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
    return REJECT_STAGED_COLUMNS;
  }
  /**
   * One row per record: a partition revoked and assigned back while its
   * rejects were held back is read again, so pending files can hold two
   * copies of a reject (identical but for received_at); the newest is kept.
   */
  protected override stagedSelect(files: string): string {
    return `SELECT *, ${REJECT_PAYLOAD_TEXT_SQL} AS payload_text FROM (
      SELECT topic, "partition", "offset", make_timestamptz(received_at_ms * 1000) AS received_at,
        kind AS reject_kind, reason, from_base64(payload_base64) AS payload
      FROM (SELECT DISTINCT ON ("partition", "offset") * FROM (${super.stagedSelect(files)})
        ORDER BY "partition", "offset", received_at_ms DESC))`;
  }
}

/** A staged file of reject lines (encodeRejects) and what it holds. */
export interface StagedRejects {
  readonly path: string;
  readonly count: number;
  readonly bytes: number;
}

const nothing = () => Promise.resolve();

function ms(x: number): string {
  return `${x.toFixed(0)} ms`;
}
