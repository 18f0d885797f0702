/**
 * The engine's core loop: records from a feed (Kafka, or the in-process
 * generator in the demo) go into the micro-batcher; each closed batch is
 * decoded once (in the decode worker, as soon as it closes, so that it
 * overlaps with the writing of the batch before it) and handed to every
 * stream in turn, each committing its own table. At most `queuedBatchesMax`
 * closed batches wait, so a slow writer makes `offer` wait and the feed stops
 * fetching (bounded memory).
 */
import { MicroBatcher } from "../batch/batcher.ts";
import { type Batch, type RawRecord, type ReleasedBatch, releaseRecords } from "../batch/types.ts";
import type { DecodedBatch } from "../batch/decode.ts";
import type { BatchDecoder } from "../batch/decoder.ts";
import type { Clock } from "../core/clock.ts";
import { LakehouseError } from "../core/errors.ts";
import { Histogram } from "../core/histogram.ts";
import type { Logger } from "../core/log.ts";
import type { AppendStream, StreamResult } from "./streams.ts";

export interface PipelineOptions {
  readonly streams: readonly AppendStream[];
  readonly decoder: BatchDecoder;
  readonly batchRecordsMax: number;
  readonly batchBytesMax: number;
  readonly triggerIntervalMs: number;
  readonly queuedBatchesMax: number;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Called after every stream committed a batch (e.g. to commit consumer-group offsets). */
  readonly onBatchCommitted?: (
    batch: ReleasedBatch,
    results: readonly StreamResult[],
  ) => Promise<void> | void;
}

export interface PipelineStats {
  recordsIn: number;
  recordsCommitted: number;
  rejects: number;
  skipped: number;
  batches: number;
  commits: number;
  /** Kafka record timestamp -> commit that made the event visible, ms. */
  readonly freshness: Histogram;
  lastBatchMs: number;
}

export class Pipeline {
  readonly #options: PipelineOptions;
  readonly #batcher: MicroBatcher;
  readonly #queue: { batch: ReleasedBatch; decoded: Promise<DecodedBatch> }[] = [];
  #worker: Promise<void> | undefined;
  #failure: unknown;
  readonly #waiters: (() => void)[] = [];
  readonly stats: PipelineStats = {
    recordsIn: 0,
    recordsCommitted: 0,
    rejects: 0,
    skipped: 0,
    batches: 0,
    commits: 0,
    freshness: new Histogram(),
    lastBatchMs: 0,
  };

  constructor(options: PipelineOptions) {
    this.#options = options;
    this.#batcher = new MicroBatcher({
      batchRecordsMax: options.batchRecordsMax,
      batchBytesMax: options.batchBytesMax,
      triggerIntervalMs: options.triggerIntervalMs,
    });
  }

  /**
   * Where a feed must (re)start each partition: after the last record it
   * already handed over, for a partition it kept through a rebalance (those
   * records are in flight here, and a second copy would be refused);
   * otherwise the lowest next offset over all streams' tables.
   */
  startOffsets(partitions: readonly number[]): Map<number, bigint> {
    return new Map(
      partitions.map((p) => [p, this.#batcher.nextOffset(p) ?? this.committedOffset(p)]),
    );
  }

  /** The lowest next offset of a partition over all streams' tables: what every table holds. */
  committedOffset(partition: number): bigint {
    let min: bigint | undefined;
    for (const s of this.#options.streams) {
      const n = s.writer.nextOffset(partition);
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
    for (const s of this.#options.streams) s.revoke(partitions);
  }

  msUntilDue(): number | undefined {
    return this.#batcher.msUntilDue(this.#options.clock.now());
  }

  /** Commits everything buffered and waits for it. */
  async flush(): Promise<void> {
    const b = this.#batcher.flush(this.#options.clock.now());
    if (b) this.#enqueue(b);
    while (this.#worker) await this.#worker;
    this.#throwIfFailed();
    for (const s of this.#options.streams) await s.settle();
  }

  #enqueue(batch: Batch): void {
    const decoded = this.#options.decoder.decode(batch.records, this.#options.clock.now());
    const released = releaseRecords(batch);
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
        await this.#process(batch, await decoded);
      } catch (error) {
        this.#failure = withMemoryHint(error, batch.count);
      }
      this.#queue.shift();
      if (!this.#failure) this.#closeIfDue();
      for (const w of this.#waiters.splice(0)) w();
    }
  }

  async #process(batch: ReleasedBatch, decoded: DecodedBatch): Promise<void> {
    const results: StreamResult[] = [];
    const final = batch.reason === "flush";
    for (const stream of this.#options.streams) {
      results.push(await stream.process(batch, decoded, final));
    }
    const now = this.#options.clock.now();
    const events = results.find((r) => r.stream === this.#options.streams[0].writer.name);
    this.stats.batches++;
    this.stats.commits += results.filter((r) => r.commit).length;
    this.stats.recordsCommitted += batch.count;
    this.stats.rejects += decoded.rejections.length;
    this.stats.skipped += Math.min(...results.map((r) => r.skipped));
    this.stats.lastBatchMs = now;
    if (events?.commit !== undefined) {
      for (const t of batch.timestamps) this.stats.freshness.add(now - t);
    }
    this.#options.logger.debug(
      `batch of ${batch.count} (${batch.reason}) committed: ${decoded.accepted} accepted, ${decoded.rejections.length} rejected`,
    );
    await this.#options.onBatchCommitted?.(batch, results);
  }

  #throwIfFailed(): void {
    if (this.#failure !== undefined) throw this.#failure;
  }
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
