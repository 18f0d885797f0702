/**
 * The engine's core loop: records from a feed (Kafka, or the in-process
 * generator in the demo) go into the micro-batcher; each closed batch is
 * decoded once (in the decode worker, as soon as it closes, so that it
 * overlaps with the writing of the batch before it) and written to the
 * tables. At most `queuedBatchesMax` closed batches wait, so a slow writer
 * makes `offer` wait and the feed stops fetching (bounded memory).
 *
 * Per batch: every table stream stages its files locally (at the same time
 * when each has a DuckDB connection of its own, as in the engine); the
 * records any of them failed on go to the dead-letter table first
 * (committed before any table commits, so a crash in between cannot lose
 * them: the replay finds them committed there); then each table uploads and
 * commits; then the dead-letter stream takes the batch's rejects
 * (committing them every so often). A table on a connection of its own
 * stages the next batch as soon as it has committed this one, beside the
 * later tables' commits (see #stageAhead). A step that fails in a way that
 * may heal (storage or catalog unreachable, a full disk) is retried with
 * backoff until it works or the shutdown deadline passes, which holds the
 * queue and so pauses consumption meanwhile.
 */
import { join } from "node:path";
import { MicroBatcher } from "../batch/batcher.ts";
import { encodeRejects } from "../batch/staged.ts";
import { type Batch, type RawRecord, type ReleasedBatch, releaseRecords } from "../batch/types.ts";
import type { DecodedBatch } from "../batch/decode.ts";
import type { BatchDecoder } from "../batch/decoder.ts";
import { CommitStateUnknownError } from "../catalog/catalog.ts";
import { isRetriable } from "../core/backoff.ts";
import type { Clock } from "../core/clock.ts";
import { errorMessage, LakehouseError } from "../core/errors.ts";
import { isTransientIoError } from "../core/io_errors.ts";
import { Histogram } from "../core/histogram.ts";
import type { Logger } from "../core/log.ts";
import type { OutageRetry } from "../core/outage.ts";
import {
  type FailedRecord,
  type Prepared,
  retryLostRaces,
  type StreamResult,
  type TableStream,
} from "./stream.ts";
import { type RejectsStream, type StagedRejects, WRITE_FAILED_KIND } from "./streams.ts";

export interface PipelineOptions {
  /** The tables fed from every batch, committed in this order. */
  readonly streams: readonly TableStream[];
  /** The stream whose commits make events visible: it drives the freshness figures. */
  readonly freshness: TableStream;
  /**
   * The dead-letter stream: validation rejects and records a write failed
   * on. Without it (`--tables` leaves it out) they are counted, not stored.
   */
  readonly rejects: RejectsStream | undefined;
  readonly decoder: BatchDecoder;
  readonly batchRecordsMax: number;
  readonly batchBytesMax: number;
  readonly triggerIntervalMs: number;
  readonly queuedBatchesMax: number;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Retries the steps of a batch through storage and catalog outages. */
  readonly retry: OutageRetry;
  /** Scratch directory for the rejects of failed writes. */
  readonly tempDir: string;
}

export interface PipelineStats {
  recordsIn: number;
  recordsCommitted: number;
  rejects: number;
  /** Records a table write failed on, sent to the dead-letter table. */
  writeFailures: number;
  /** Valid events the events SQL file left out (its WHERE): counted, stored nowhere. */
  filtered: number;
  /** Events a merge left without effect (stale, or after a terminal status). */
  ignored: number;
  /** Rows committed per table (new rows; for orders_current, new versions of rows). */
  readonly rows: Map<string, bigint>;
  skipped: number;
  batches: number;
  /** Kafka record timestamp -> commit that made the event visible, ms (the freshness stream's table). */
  readonly freshness: Histogram;
  /** The same per table fed from the batches. */
  readonly freshnessByTable: Map<string, Histogram>;
}

export class Pipeline {
  readonly #options: PipelineOptions;
  readonly #batcher: MicroBatcher;
  readonly #queue: { batch: ReleasedBatch; decoded: Promise<DecodedBatch> }[] = [];
  #worker: Promise<void> | undefined;
  #failure: unknown;
  readonly #waiters: (() => void)[] = [];
  /** The end of the batch or refresh last started (see #exclusively). */
  #exclusive: Promise<void> = Promise.resolve();
  /** Stagings of the next batch begun while the one before it was still committing. */
  #ahead: { batch: ReleasedBatch; prepared: Map<TableStream, Promise<Prepared>> } | undefined;
  readonly stats: PipelineStats = {
    recordsIn: 0,
    recordsCommitted: 0,
    rejects: 0,
    writeFailures: 0,
    filtered: 0,
    ignored: 0,
    rows: new Map(),
    skipped: 0,
    batches: 0,
    freshness: new Histogram(),
    freshnessByTable: new Map(),
  };

  constructor(options: PipelineOptions) {
    this.#options = options;
    this.#batcher = new MicroBatcher({
      batchRecordsMax: options.batchRecordsMax,
      batchBytesMax: options.batchBytesMax,
      triggerIntervalMs: options.triggerIntervalMs,
    }, () => options.decoder.takeSpare());
  }

  get #writers() {
    const { streams, rejects } = this.#options;
    return [...streams.map((s) => s.writer), ...(rejects ? [rejects.writer] : [])];
  }

  /**
   * Where a feed must (re)start each partition: after the last record it
   * already handed over, for a partition it kept through a rebalance (those
   * records are in flight here, and a second copy would be refused);
   * otherwise the lowest next offset over all tables, read afresh from the
   * catalog (retried through an outage: another process may have committed).
   */
  async startOffsets(partitions: readonly number[]): Promise<Map<number, bigint>> {
    // The feed calls this when a group join lands, whatever the worker is
    // doing: the refreshes wait for the batch being written (see #exclusively).
    await this.#exclusively(async () => {
      // A batch staged ahead was selected with the offsets before this
      // refresh: it is staged again, afterwards.
      await this.#discardAhead();
      for (const s of this.#options.streams) await this.#options.retry.run(() => s.refresh());
      const { rejects } = this.#options;
      if (rejects) await this.#options.retry.run(() => rejects.writer.refresh());
    });
    return new Map(
      partitions.map((p) => [p, this.#batcher.nextOffset(p) ?? this.committedOffset(p)]),
    );
  }

  /** The lowest next offset of a partition over all tables: what every table holds. */
  committedOffset(partition: number): bigint {
    let min: bigint | undefined;
    for (const w of this.#writers) {
      const n = w.nextOffset(partition);
      if (min === undefined || n < min) min = n;
    }
    return min ?? 0n;
  }

  /** Adds records; resolves when there is room for more. Throws if a commit failed. */
  async offer(records: readonly RawRecord[]): Promise<void> {
    this.#throwIfFailed();
    const now = this.#options.clock.now();
    const busy = this.#writersBacklogged();
    for (const r of records) {
      this.stats.recordsIn++;
      for (const b of this.#batcher.add(r, now, busy)) this.#enqueue(b);
    }
    await this.#roomForMore();
  }

  /** Closes the open batch if its trigger interval has passed; call on a timer. */
  async tick(): Promise<void> {
    this.#throwIfFailed();
    this.#closeIfDue();
    await this.#roomForMore();
  }

  /**
   * A batch is being written and another one waits behind it: a batch closed
   * now could start neither decoding nor writing any sooner, so a due batch
   * keeps filling instead (see MicroBatcher.add).
   */
  #writersBacklogged(): boolean {
    return this.#queue.length >= 2;
  }

  /** Closes the open batch if it is due, unless the writers are backlogged. */
  #closeIfDue(): void {
    if (this.#writersBacklogged()) return;
    const b = this.#batcher.poll(this.#options.clock.now());
    if (b) this.#enqueue(b);
  }

  /** Drops buffered records of partitions this process no longer owns. */
  revoke(partitions: readonly number[]): void {
    this.#batcher.revoke(partitions);
    this.#options.rejects?.revoke(partitions);
  }

  /** Commits everything buffered and waits for it. */
  async flush(): Promise<void> {
    const b = this.#batcher.flush(this.#options.clock.now());
    if (b) this.#enqueue(b);
    while (this.#worker) await this.#worker;
    this.#throwIfFailed();
    const { rejects } = this.#options;
    if (!rejects) return;
    const rows = await this.#exclusively(() => this.#retrying(() => rejects.settle()));
    const table = rejects.writer.name;
    this.stats.rows.set(table, (this.stats.rows.get(table) ?? 0n) + rows);
  }

  /**
   * Runs `work` once the batch or refresh started before it has ended. A
   * batch and a refresh (startOffsets, on a group join) must not overlap:
   * both use orders_current's DuckDB connection, and its refresh replays
   * snapshots into the state store in a transaction, which would take in
   * the batch's statements, or fail to begin inside the transaction in
   * which the batch updates the store after its commit.
   */
  #exclusively<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#exclusive.then(work);
    this.#exclusive = run.then(() => {}, () => {});
    return run;
  }

  #enqueue(batch: Batch): void {
    // The lineage first: the packed buffers move to the decode worker.
    const released = releaseRecords(batch);
    const decoded = this.#options.decoder.decode(batch.packed, this.#options.clock.now());
    // Awaited in order by the worker loop; a failure surfaces there.
    decoded.catch(() => {});
    this.#queue.push({ batch: released, decoded });
    if (!this.#worker) {
      this.#worker = this.#work().finally(() => (this.#worker = undefined));
    }
  }

  async #roomForMore(): Promise<void> {
    while (this.#queue.length > this.#options.queuedBatchesMax && !this.#failure) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    this.#throwIfFailed();
  }

  async #work(): Promise<void> {
    while (this.#queue.length > 0 && !this.#failure) {
      const { batch, decoded } = this.#queue[0];
      try {
        const ready = await decoded;
        await this.#exclusively(() => this.#process(batch, ready));
      } catch (error) {
        this.#failure = withMemoryHint(error, batch.count);
        await this.#discardAhead();
      }
      this.#queue.shift();
      if (!this.#failure) this.#closeIfDue();
      for (const w of this.#waiters.splice(0)) w();
    }
  }

  /**
   * Begins staging the next queued batch for `stream`, which has just
   * committed the current one, when nothing else of the current batch runs
   * on its DuckDB connection: orders_events stages batch N+1 while
   * orders_current commits batch N and updates its state store, instead of
   * waiting for them. Staging commits nothing, and the table's offsets it
   * selects with are final once the stream has committed, so the staged
   * files are the ones the next batch would have staged; a commit that lost
   * a race is staged again as always (#publish).
   */
  #stageAhead(stream: TableStream): void {
    const { streams, rejects } = this.#options;
    const next = this.#queue[1];
    if (next === undefined || !onOwnConnections(streams)) return;
    const connection = stream.writer.options.duckdb;
    if (rejects !== undefined && rejects.writer.options.duckdb === connection) return;
    if (this.#ahead?.batch !== next.batch) {
      this.#ahead = { batch: next.batch, prepared: new Map() };
    }
    const staged = next.decoded.then((decoded) =>
      this.#retrying(() => stream.prepare(next.batch, decoded))
    );
    // Awaited by the batch's own turn (or discarded); a failure surfaces there.
    staged.catch(() => {});
    this.#ahead.prepared.set(stream, staged);
  }

  /** The staging of `batch` begun ahead for `stream`, if any (taken: the caller disposes of it). */
  #takeAhead(batch: ReleasedBatch, stream: TableStream): Promise<Prepared> | undefined {
    if (this.#ahead?.batch !== batch) return undefined;
    const staged = this.#ahead.prepared.get(stream);
    this.#ahead.prepared.delete(stream);
    return staged;
  }

  /** Waits for the stagings begun ahead and removes their files. */
  async #discardAhead(): Promise<void> {
    const ahead = this.#ahead;
    this.#ahead = undefined;
    if (ahead === undefined) return;
    for (const staged of ahead.prepared.values()) {
      const prepared = await staged.catch(() => undefined);
      await prepared?.dispose().catch(() => {});
    }
  }

  /** Retries `operation` through outages; an unknown commit outcome is settled by redoing it. */
  #retrying<T>(operation: () => Promise<T>): Promise<T> {
    return this.#options.retry.run(
      operation,
      (error) => isRetriable(error) || error instanceof CommitStateUnknownError,
    );
  }

  async #process(batch: ReleasedBatch, decoded: DecodedBatch): Promise<void> {
    const { streams, rejects, freshness } = this.#options;
    const final = batch.reason === "flush";
    const results: StreamResult[] = [];
    let writeFailures = 0;
    let filtered = 0;
    try {
      // Every table stages first: the records any of them fails on are
      // dead-lettered before any of them commits.
      const prepared: Prepared[] = [];
      try {
        if (onOwnConnections(streams)) {
          // Side by side, each on its own DuckDB connection; all are
          // settled (and the staged ones disposed of) before a failure is
          // thrown.
          const settled = await Promise.allSettled(
            streams.map((stream) =>
              this.#takeAhead(batch, stream) ??
                this.#retrying(() => stream.prepare(batch, decoded))
            ),
          );
          for (const s of settled) if (s.status === "fulfilled") prepared.push(s.value);
          const failure = settled.find((s) => s.status === "rejected");
          if (failure) throw failure.reason;
        } else {
          for (const stream of streams) {
            prepared.push(await this.#retrying(() => stream.prepare(batch, decoded)));
          }
        }
        const failed = uniqueRecords(prepared.flatMap((p) => p.failed));
        if (failed.length > 0) {
          writeFailures = failed.length;
          await this.#rejectFirst(batch, decoded, failed);
        }
        for (let i = 0; i < streams.length; i++) {
          const [result, last] = await this.#publish(streams[i], prepared[i], batch, decoded);
          prepared[i] = last;
          this.#stageAhead(streams[i]);
          results.push(result);
          if (result.commit !== undefined) this.#recordFreshness(streams[i], batch);
          if (streams[i] === freshness) filtered = last.filtered;
          this.stats.ignored += last.ignored ?? 0;
        }
      } finally {
        for (const p of prepared) await p.dispose();
      }
    } finally {
      await Deno.remove(decoded.stagedPath).catch(() => {});
    }
    if (rejects) results.push(await this.#retrying(() => rejects.process(batch, decoded, final)));
    else if (decoded.rejectsPath) await Deno.remove(decoded.rejectsPath).catch(() => {});

    for (const r of results) {
      this.stats.rows.set(r.stream, (this.stats.rows.get(r.stream) ?? 0n) + r.rows);
    }
    this.stats.batches++;
    this.stats.recordsCommitted += batch.count;
    this.stats.rejects += decoded.rejections.length + writeFailures;
    this.stats.writeFailures += writeFailures;
    this.stats.filtered += filtered;
    if (filtered > 0) {
      this.#options.logger.debug(
        `${freshness.sql.path} left ${filtered} of the batch's events out of ${freshness.writer.name}`,
      );
    }
    this.stats.skipped += Math.min(...results.map((r) => r.skipped));
    this.#options.logger.debug(
      `batch of ${batch.count} (${batch.reason}) committed: ${decoded.accepted} accepted, ` +
        `${decoded.rejections.length} rejected, ${writeFailures} failed to write; ` +
        `its oldest record ${oldestAgeMs(batch, this.#options.clock.now())}`,
    );
  }

  /**
   * Freshness of a batch made visible in a stream's table now: from each
   * record's Kafka timestamp. A record without one (-1), or stamped in the
   * future by its producer, has no freshness to measure.
   */
  #recordFreshness(stream: TableStream, batch: ReleasedBatch): void {
    const now = this.#options.clock.now();
    const table = stream.writer.name;
    let histogram = this.stats.freshnessByTable.get(table);
    if (histogram === undefined) {
      histogram = stream === this.#options.freshness ? this.stats.freshness : new Histogram();
      this.stats.freshnessByTable.set(table, histogram);
    }
    for (const t of batch.timestamps) if (t >= 0 && t <= now) histogram.add(now - t);
  }

  /**
   * Publishes a stream's prepared batch, through outages; a commit that lost
   * a race to another writer of its partitions is staged again against the
   * table's new offsets (without what that writer committed) and retried.
   * Returns the result and the prepared batch last used (to dispose of).
   */
  async #publish(
    stream: TableStream,
    first: Prepared,
    batch: ReleasedBatch,
    decoded: DecodedBatch,
  ): Promise<[StreamResult, Prepared]> {
    let prepared = first;
    const result = await retryLostRaces(
      stream.writer,
      async (attempt) => {
        if (attempt > 1) {
          await prepared.dispose();
          const again = await this.#retrying(() => stream.prepare(batch, decoded));
          // Records that failed before are in the dead-letter table already;
          // only new ones (none, for deterministic SQL) go there now.
          const known = new Set(prepared.failed.map(recordKey));
          const fresh = again.failed.filter((f) => !known.has(recordKey(f)));
          if (fresh.length > 0) await this.#rejectFirst(batch, decoded, fresh);
          prepared = again;
        }
        return await this.#retrying(() => stream.publish(prepared));
      },
      () => this.#retrying(() => stream.refresh()),
    );
    return [result, prepared];
  }

  /**
   * Commits the batch's rejects, with the records the events write failed
   * on, before the events table commits: once the events table holds the
   * batch, a replay would no longer stage those records, so they must
   * already be in the dead-letter table.
   */
  async #rejectFirst(
    batch: ReleasedBatch,
    decoded: DecodedBatch,
    failed: readonly FailedRecord[],
  ): Promise<void> {
    const { rejects, clock, tempDir, logger } = this.#options;
    if (!rejects) {
      logger.warn(
        `${failed.length} record(s) a table write failed on are dropped (no rejects table)`,
      );
      return;
    }
    const lines = encodeRejects(
      failed.map((f) => ({
        record: f.record,
        reason: f.reason,
        kind: WRITE_FAILED_KIND,
      })),
      clock.now(),
    );
    const path = join(tempDir, `write-failed-${crypto.randomUUID()}.ndjson`);
    await this.#retrying(() => Deno.writeFile(path, lines).catch(localWriteError(path)));
    const extra: StagedRejects = { path, count: failed.length, bytes: lines.length };
    rejects.absorb(batch, decoded, [extra]);
    await this.#retrying(() => rejects.commitPending());
  }

  #throwIfFailed(): void {
    if (this.#failure !== undefined) throw this.#failure;
  }
}

/** How long ago the batch's oldest stamped record was produced: where a freshness tail comes from. */
function oldestAgeMs(batch: ReleasedBatch, now: number): string {
  let oldest = Infinity;
  for (const t of batch.timestamps) if (t >= 0 && t < oldest) oldest = t;
  return oldest === Infinity
    ? "has no timestamp"
    : `was produced ${Math.max(0, Math.round(now - oldest))} ms ago`;
}

/** Whether no two streams share a DuckDB connection (they can stage at the same time). */
function onOwnConnections(streams: readonly TableStream[]): boolean {
  const connections = new Set(streams.map((s) => s.writer.options.duckdb));
  return streams.length > 1 && connections.size === streams.length;
}

function recordKey(f: FailedRecord): string {
  return `${f.record.partition}/${f.record.offset}`;
}

/** One entry per record: a record two tables failed on goes to the dead-letter table once. */
function uniqueRecords(failed: readonly FailedRecord[]): FailedRecord[] {
  const byRecord = new Map<string, FailedRecord>();
  for (const f of failed) {
    const seen = byRecord.get(recordKey(f));
    byRecord.set(recordKey(f), seen ? { ...seen, reason: `${seen.reason}; ${f.reason}` } : f);
  }
  return [...byRecord.values()];
}

/** A scratch-file write error, retriable when the disk may come back (full, permissions). */
function localWriteError(path: string) {
  return (error: unknown): never => {
    throw new LakehouseError(`cannot write scratch file ${path}: ${errorMessage(error)}`, {
      cause: error,
      retriable: isTransientIoError(error),
    });
  };
}

/** DuckDB running out of memory on a batch: say which knobs decide that. */
function withMemoryHint(error: unknown, records: number): unknown {
  if (!(error instanceof Error) || !/Out of Memory Error/.test(error.message)) return error;
  return new LakehouseError(
    `${error.message}\n  (a batch of ${records} records did not fit: raise --memory-limit or lower ` +
      `--max-records-per-trigger; nothing was committed for it, so a restart reads it again)`,
    { cause: error },
  );
}
