/**
 * The engine's Kafka feed: one consumer-group member reading the topic once
 * for all streams. Start positions come from the tables (each assigned
 * partition is sought to the lowest next offset the tables recorded); the
 * group's committed offsets are only advanced after the tables commit, as a
 * convenience for tools. Records go to the pipeline in fetch-sized chunks;
 * `offer` waits while writers are busy, which holds the fetch loop (bounded
 * memory). On revocation, buffered records of lost partitions are dropped:
 * the new owner re-reads them from the tables' offsets.
 */
import type { Consumer, Kafka } from "kafkajs";
import type { Buffer } from "node:buffer";
import type { RawRecord } from "../batch/types.ts";
import { type Clock, systemClock } from "../core/clock.ts";
import { errorMessage, LakehouseError } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";

/** What the feed needs from the engine. */
export interface FeedTarget {
  offer(records: readonly RawRecord[]): Promise<void>;
  tick(): Promise<void>;
  flush(): Promise<void>;
  revoke(partitions: readonly number[]): void;
  /** Re-reads the tables' offsets and returns where each partition must start. */
  startOffsets(partitions: readonly number[]): Promise<Map<number, bigint>>;
  /**
   * The next offset of a partition every table holds: the feed commits it
   * as the group's offset (advisory, for tools), never running ahead of any
   * table.
   */
  committedOffset(partition: number): bigint;
}

export interface KafkaFeedOptions {
  readonly kafka: Kafka;
  readonly topic: string;
  readonly groupId: string;
  readonly target: FeedTarget;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  /** Bytes fetched per partition per request. */
  readonly fetchBytesPerPartitionMax: number;
  /** Stop once this many records were offered (tests, benchmarks); undefined = until signalled. */
  readonly recordsMax?: number;
  /** Stop after this long without new records (drains in tests/benchmarks). */
  readonly idleExitMs?: number;
  /** Time of the idle check (`idleExitMs`); default the system clock. */
  readonly clock?: Clock;
}

export class KafkaFeed {
  readonly #o: KafkaFeedOptions;
  readonly #clock: Clock;
  readonly #consumer: Consumer;
  #assigned: number[] = [];
  /** The group offsets this member committed last, per partition. */
  readonly #groupCommitted = new Map<number, bigint>();
  #lastGroupCommitMs = 0;
  /**
   * Per partition, the next offset this feed expects: where it was sought,
   * then one past the last record handed over. kafkajs may deliver from its
   * own position first (a restarted consumer can start from the group's
   * offsets or the beginning before a seek lands); records below are copies
   * of records already handed over and are dropped here.
   */
  readonly #expected = new Map<number, bigint>();
  #offered = 0;
  #joined = false;
  /**
   * When records last came in, the group was last joined or the writers
   * last held a fetch: `idleExitMs` counts from there.
   */
  #lastRecordMs: number;

  constructor(options: KafkaFeedOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#lastRecordMs = this.#clock.now();
    this.#consumer = options.kafka.consumer({
      groupId: options.groupId,
      allowAutoTopicCreation: false,
      maxBytesPerPartition: options.fetchBytesPerPartitionMax,
      maxBytes: options.fetchBytesPerPartitionMax * 8,
      maxWaitTimeInMs: 250,
      sessionTimeout: 30_000,
      rebalanceTimeout: 60_000,
      heartbeatInterval: 3_000,
    });
  }

  /**
   * Commits, as the group's offsets, what every table holds of the assigned
   * partitions, where that moved since the last time (advisory only: the
   * tables are the source of truth; a failed commit only delays tools).
   */
  async #commitGroupOffsets(): Promise<void> {
    const offsets = [];
    for (const partition of this.#assigned) {
      const next = this.#o.target.committedOffset(partition);
      if (next > (this.#groupCommitted.get(partition) ?? 0n)) {
        offsets.push({ topic: this.#o.topic, partition, offset: next.toString() });
      }
    }
    if (offsets.length === 0) return;
    try {
      await this.#consumer.commitOffsets(offsets);
      for (const o of offsets) this.#groupCommitted.set(o.partition, BigInt(o.offset));
    } catch (error) {
      this.#o.logger.debug(`group offset commit failed: ${errorMessage(error)}`);
    }
  }

  async run(): Promise<void> {
    const { topic, target, logger, signal } = this.#o;
    const consumer = this.#consumer;
    await consumer.connect();
    consumer.on(consumer.events.GROUP_JOIN, async (event) => {
      const partitions = (event.payload.memberAssignment[topic] ?? []).slice().sort((a, b) =>
        a - b
      );
      const lost = this.#assigned.filter((p) => !partitions.includes(p));
      if (lost.length > 0) target.revoke(lost);
      for (const p of lost) this.#groupCommitted.delete(p);
      this.#assigned = partitions;
      this.#joined = true;
      // kafkajs starts fetching without waiting for this handler: hold the
      // topic until every partition is sought, or a fetch from the group's
      // offsets (or the beginning) would race the positions set here.
      consumer.pause([{ topic }]);
      // Idle time counts from the moment partitions are ours.
      this.#lastRecordMs = this.#clock.now();
      try {
        const start = await target.startOffsets(partitions);
        await this.#checkRetained(start);
        for (const [partition, offset] of start) {
          this.#expected.set(partition, offset);
          consumer.seek({ topic, partition, offset: offset.toString() });
        }
        logger.info(
          `assigned partitions ${partitions.join(",") || "(none)"} of ${topic}; starting at ${
            [...start].map(([p, o]) => `${p}:${o}`).join(" ")
          }`,
        );
        consumer.resume([{ topic }]);
      } catch (error) {
        // A join that lands while this member is leaving (SIGTERM during a
        // rebalance) cannot be positioned and does not need to be.
        if (this.#stopping) {
          logger.debug(`not positioning partitions while stopping: ${errorMessage(error)}`);
          return;
        }
        // Fetching from anywhere else could skip records: stop instead.
        this.#fatal = new LakehouseError(
          `cannot position partitions ${partitions.join(",")} after joining the group: ${
            errorMessage(error)
          }`,
          { cause: error },
        );
        this.#stop?.();
      }
    });
    consumer.on(consumer.events.CRASH, (event) => {
      // Until the group is joined again, waiting is not idleness.
      this.#joined = false;
      if (event.payload.restart) {
        logger.warn(
          `lost the Kafka consumer (${event.payload.error}); reconnecting and rejoining group ` +
            `${this.#o.groupId} (after a broker restart this takes up to the 30 s session timeout); ` +
            `nothing is lost: partitions resume where this process left them`,
        );
      } else {
        this.#fatal = new LakehouseError(`Kafka consumer failed: ${event.payload.error}`, {
          cause: event.payload.error,
        });
        this.#stop?.();
      }
    });
    await consumer.subscribe({ topic, fromBeginning: true });
    const done = new Promise<void>((resolve) => {
      const stop = () => {
        this.#stopping = true;
        resolve();
      };
      this.#stop = stop;
      signal.addEventListener("abort", stop, { once: true });
      let ticking = false;
      const timer = setInterval(async () => {
        if (this.#stopping) return clearInterval(timer);
        // A tick waits while the writers are behind: one at a time.
        if (ticking) return;
        ticking = true;
        try {
          await target.tick();
          const now = this.#clock.now();
          if (now - this.#lastGroupCommitMs >= GROUP_COMMIT_INTERVAL_MS) {
            this.#lastGroupCommitMs = now;
            await this.#commitGroupOffsets();
          }
        } catch (error) {
          logger.error(`commit failed: ${errorMessage(error)}`);
          clearInterval(timer);
          stop();
        } finally {
          ticking = false;
        }
        const idle = this.#o.idleExitMs;
        if (idle !== undefined && this.#joined && this.#clock.now() - this.#lastRecordMs > idle) {
          stop();
        }
        if (this.#o.recordsMax !== undefined && this.#offered >= this.#o.recordsMax) stop();
      }, 50);
      this.#stopTimer = () => clearInterval(timer);
    });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        if (batch.messages.length === 0 || !isRunning() || isStale() || this.#stopping) return;
        const expected = this.#expected.get(batch.partition) ?? 0n;
        const records: RawRecord[] = [];
        for (let i = 0; i < batch.messages.length; i++) {
          const m = batch.messages[i];
          const offset = BigInt(m.offset);
          if (offset < expected) continue;
          records.push({
            topic: batch.topic,
            partition: batch.partition,
            offset,
            key: m.key ? view(m.key) : null,
            value: m.value ? view(m.value) : null,
            timestampMs: Number(m.timestamp),
          });
        }
        if (records.length < batch.messages.length) {
          logger.debug(
            `dropped ${batch.messages.length - records.length} records of partition ` +
              `${batch.partition} below offset ${expected} (already handed over)`,
          );
        }
        if (records.length > 0) {
          this.#expected.set(batch.partition, records[records.length - 1].offset + 1n);
        }
        const handedOver = await this.#offerWithHeartbeats(records, heartbeat);
        if (!handedOver) return;
        this.#offered += records.length;
        this.#lastRecordMs = this.#clock.now();
        resolveOffset(batch.messages[batch.messages.length - 1].offset);
        await heartbeat();
      },
    });
    await done;
    this.#stopTimer?.();
    await consumer.stop();
    try {
      await target.flush();
      await this.#commitGroupOffsets();
    } finally {
      await consumer.disconnect();
    }
    if (this.#fatal) throw this.#fatal;
  }

  /**
   * Hands records to the target, which waits while the writers are behind
   * (for as long as a storage outage lasts). Meanwhile the group must still
   * hear from this member, or it would be dropped from the group after the
   * session timeout and its partitions moved: kafkajs only heartbeats between
   * batches, so heartbeat here every few seconds. Returns false when the feed
   * is stopping: the records are in the target's batcher, and the wait for
   * room no longer matters.
   */
  async #offerWithHeartbeats(
    records: readonly RawRecord[],
    heartbeat: () => Promise<void>,
  ): Promise<boolean> {
    const offered = this.#o.target.offer(records);
    let settled = false;
    offered.then(() => settled = true, () => settled = true);
    for (;;) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const tick = new Promise<void>((resolve) => timer = setTimeout(resolve, HEARTBEAT_WAIT_MS));
      try {
        await Promise.race([offered, tick]);
      } finally {
        clearTimeout(timer);
      }
      if (settled) {
        await offered; // rethrows a failure of the writers
        return true;
      }
      if (this.#stopping) {
        offered.catch(() => {});
        return false;
      }
      // Waiting on the writers with records in hand is not idleness.
      this.#lastRecordMs = this.#clock.now();
      try {
        await heartbeat();
      } catch (error) {
        // A rebalance began: let kafkajs rejoin; the records stay in the batcher.
        offered.catch(() => {});
        throw error;
      }
    }
  }

  /**
   * Compares where each partition starts with what the topic holds. A start
   * past the partition's end means the topic lost records the tables already
   * hold (deleted and recreated, or a wiped broker): every new record would
   * look like a replay and be dropped, so the run stops and says so. A start
   * before the partition's first retained record means retention deleted
   * records before they were committed: they are gone, which is reported.
   */
  async #checkRetained(start: ReadonlyMap<number, bigint>): Promise<void> {
    const { kafka, topic, logger } = this.#o;
    const admin = kafka.admin();
    await admin.connect();
    try {
      for (const { partition, low, high } of await admin.fetchTopicOffsets(topic)) {
        const from = start.get(partition);
        if (from === undefined) continue;
        if (from > BigInt(high)) {
          const held = from - 1n;
          throw new LakehouseError(
            `partition ${partition} of ${topic} ends at offset ${high}, but the tables already ` +
              `hold its records through offset ${held}: the topic was deleted and recreated, or ` +
              `the broker lost its data; records written to it now would be taken for replays. ` +
              `Write to a new topic (--topic), or to a fresh warehouse for this topic`,
          );
        }
        if (from < BigInt(low)) {
          const lost = `${from}..${BigInt(low) - 1n}`;
          logger.error(
            `partition ${partition} of ${topic}: offsets ${lost} were deleted by retention before ` +
              `they were committed; those records are lost (raise the topic's retention.ms / ` +
              `retention.bytes). Continuing from offset ${low}`,
          );
        }
      }
    } finally {
      await admin.disconnect();
    }
  }

  #stopping = false;
  #stopTimer: (() => void) | undefined;
  #stop: (() => void) | undefined;
  /** A crash kafkajs does not restart from: the run ends with it after committing what it has. */
  #fatal: Error | undefined;
}

/** Group offsets are committed at most this often (they are advisory). */
const GROUP_COMMIT_INTERVAL_MS = 1_000;

/** How often a member blocked on the writers tells the group it is alive. */
const HEARTBEAT_WAIT_MS = 3_000;

function view(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}
