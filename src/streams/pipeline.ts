/**
 * The engine's core loop: records from a feed (Kafka, or the in-process
 * generator in the demo) go into the micro-batcher; each closed batch is
 * validated once and handed to every stream in turn, each committing its own
 * table. At most `queuedBatchesMax` closed batches wait, so a slow writer
 * makes `offer` wait and the feed stops fetching (bounded memory).
 */
import { MicroBatcher } from "../batch/batcher.ts";
import type { Batch, RawRecord } from "../batch/types.ts";
import { validateEvent } from "../batch/validate.ts";
import type { Clock } from "../core/clock.ts";
import { Histogram } from "../core/histogram.ts";
import type { Logger } from "../core/log.ts";
import type { AppendStream, Decoded, StreamResult } from "./streams.ts";

export interface PipelineOptions {
  readonly streams: readonly AppendStream[];
  readonly batchRecordsMax: number;
  readonly batchBytesMax: number;
  readonly triggerIntervalMs: number;
  readonly queuedBatchesMax: number;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Called after every stream committed a batch (e.g. to commit consumer-group offsets). */
  readonly onBatchCommitted?: (
    batch: Batch,
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
  readonly #queue: Batch[] = [];
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

  /** Per partition, the lowest next offset over all streams: where a feed must start. */
  startOffsets(partitions: readonly number[]): Map<number, bigint> {
    const out = new Map<number, bigint>();
    for (const p of partitions) {
      let min: bigint | undefined;
      for (const s of this.#options.streams) {
        const n = s.writer.nextOffset(p);
        if (min === undefined || n < min) min = n;
      }
      out.set(p, min ?? 0n);
    }
    return out;
  }

  /** Adds records; resolves when there is room for more. Throws if a commit failed. */
  async offer(records: readonly RawRecord[]): Promise<void> {
    this.#throwIfFailed();
    const now = this.#options.clock.now();
    for (const r of records) {
      this.stats.recordsIn++;
      for (const b of this.#batcher.add(r, now)) this.#enqueue(b);
    }
    await this.#roomForMore();
  }

  /** Closes the open batch if its trigger interval has passed; call on a timer. */
  async tick(): Promise<void> {
    this.#throwIfFailed();
    const b = this.#batcher.poll(this.#options.clock.now());
    if (b) this.#enqueue(b);
    await this.#roomForMore();
  }

  /** Drops buffered records of partitions this process no longer owns. */
  revoke(partitions: readonly number[]): void {
    this.#batcher.revoke(partitions);
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
  }

  #enqueue(batch: Batch): void {
    this.#queue.push(batch);
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
      const batch = this.#queue[0];
      try {
        await this.#process(batch);
      } catch (error) {
        this.#failure = error;
      }
      this.#queue.shift();
      for (const w of this.#waiters.splice(0)) w();
    }
  }

  async #process(batch: Batch): Promise<void> {
    const t0 = performance.now();
    const decoded: Decoded[] = batch.records.map((record) => {
      const result = validateEvent(record.value);
      return result.ok
        ? { record, ok: true as const, event: result.event }
        : { record, ok: false as const, reason: result.reason, kind: result.kind };
    });
    this.#options.logger.debug(
      `batch of ${batch.records.length} (${batch.reason}): validated in ${
        (performance.now() - t0).toFixed(0)
      } ms`,
    );
    const results: StreamResult[] = [];
    for (const stream of this.#options.streams) results.push(await stream.process(batch, decoded));
    const now = this.#options.clock.now();
    const events = results.find((r) => r.stream === this.#options.streams[0].writer.name);
    const committedNew = events?.commit !== undefined;
    this.stats.batches++;
    this.stats.commits += results.filter((r) => r.commit).length;
    this.stats.recordsCommitted += batch.records.length;
    this.stats.rejects += decoded.filter((d) => !d.ok).length;
    this.stats.skipped += Math.min(...results.map((r) => r.skipped));
    this.stats.lastBatchMs = now;
    if (committedNew) {
      for (const d of decoded) this.stats.freshness.add(now - d.record.timestampMs);
    }
    await this.#options.onBatchCommitted?.(batch, results);
  }

  #throwIfFailed(): void {
    if (this.#failure !== undefined) throw this.#failure;
  }
}
