/**
 * The engine's Kafka feed: one consumer-group member reading the topic once
 * for all streams. kafkajs keeps the group (joins, heartbeats, assignments,
 * the group's offsets) with the topic paused, so it never fetches; the
 * records come from our own Fetch requests (fetcher.ts: one buffer per
 * response, records as columns until their partition is handed over). Start
 * positions come from the tables (each assigned partition starts at the
 * lowest next offset the tables recorded); the group's committed offsets
 * are only advanced after the tables commit, as a convenience for tools.
 * Records go to the pipeline one partition of a fetch at a time; `offer`
 * waits while writers are busy, which holds the fetch loop (bounded
 * memory). On
 * revocation, buffered records of lost partitions are dropped: the new
 * owner re-reads them from the tables' offsets.
 */
import type { Consumer, Kafka } from "kafkajs";
import type { RawRecord } from "../batch/types.ts";
import { type Clock, systemClock } from "../core/clock.ts";
import { errorMessage, LakehouseError } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import type { KafkaConnection } from "./client.ts";
import { type FetchedPartition, Fetcher, FetchError, fetchRetriable } from "./fetcher.ts";

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
  /** Where the feed's own fetches connect (the brokers kafkajs was given). */
  readonly connection: KafkaConnection;
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
  readonly #fetcher: Fetcher;
  #assigned: number[] = [];
  /** The group offsets this member committed last, per partition. */
  readonly #groupCommitted = new Map<number, bigint>();
  #lastGroupCommitMs = 0;
  /**
   * Per partition, the next offset this feed expects: where it started,
   * then one past the last record handed over; records below are copies of
   * records already handed over and are dropped here.
   */
  readonly #expected = new Map<number, bigint>();
  #offered = 0;
  #joined = false;
  /**
   * When the group was last joined (or the feed made): while no partition
   * is there to fetch, `idleExitMs` counts from there.
   */
  #joinedMs: number;
  /**
   * With partitions assigned, idleness is what the fetches saw: the end of
   * the first of an unbroken run of empty fetches up to the last one
   * (#lastFetchEndMs), undefined when the last fetch had records or failed.
   * A run breaks where the process was not fetching: a fetch that took much
   * longer than the broker may hold it, or a gap between two fetches (the
   * process stopped, starved or blocked). Records produced meanwhile were
   * never asked for, so the time cannot count as idle; a clock alone would
   * end a drain that had just been paused (`kill -STOP`, a full stderr
   * pipe) with records waiting.
   */
  #quietSinceMs: number | undefined;
  #lastFetchEndMs: number | undefined;

  constructor(options: KafkaFeedOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#joinedMs = this.#clock.now();
    this.#fetcher = new Fetcher({
      brokers: options.connection.brokers,
      clientId: options.connection.clientId,
      connectTimeoutMs: options.connection.connectTimeoutMs,
      topic: options.topic,
      fetchBytesPerPartitionMax: options.fetchBytesPerPartitionMax,
      maxWaitMs: MAX_WAIT_MS,
    });
    this.#consumer = options.kafka.consumer({
      groupId: options.groupId,
      allowAutoTopicCreation: false,
      maxBytesPerPartition: options.fetchBytesPerPartitionMax,
      maxBytes: options.fetchBytesPerPartitionMax * 8,
      maxWaitTimeInMs: MAX_WAIT_MS,
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
      // kafkajs would start fetching without waiting for this handler: the
      // topic stays paused for it (it heartbeats on), and our fetches stop
      // until every partition is positioned.
      consumer.pause([{ topic }]);
      this.#fetcher.assign(new Map());
      // Idle time counts from the moment partitions are ours.
      this.#joinedMs = this.#clock.now();
      this.#quietSinceMs = undefined;
      this.#lastFetchEndMs = undefined;
      try {
        const start = await target.startOffsets(partitions);
        await this.#checkRetained(start);
        for (const [partition, offset] of start) this.#expected.set(partition, offset);
        this.#fetcher.assign(start);
        logger.info(
          `assigned partitions ${partitions.join(",") || "(none)"} of ${topic}; starting at ${
            [...start].map(([p, o]) => `${p}:${o}`).join(" ")
          }`,
        );
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
    const stopped = Promise.withResolvers<void>();
    this.#stopped = stopped.promise;
    const done = new Promise<void>((resolve) => {
      const stop = () => {
        this.#stopping = true;
        stopped.resolve();
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
        if (idle !== undefined && this.#joined && this.#quietMs() > idle) stop();
        if (this.#o.recordsMax !== undefined && this.#offered >= this.#o.recordsMax) stop();
      }, 50);
      this.#stopTimer = () => clearInterval(timer);
    });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      // The topic is paused whenever partitions are assigned: a batch that
      // slips through before the pause is not ours to hand over.
      eachBatch: () => Promise.resolve(),
    });
    const reading = this.#readLoop();
    await done;
    this.#stopTimer?.();
    await reading;
    this.#fetcher.close();
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
   * Fetches the assigned partitions and hands their records to the target,
   * one partition's records at a time; the target waits while the writers
   * are behind (for as long as a storage outage lasts), which holds the
   * fetches. A fetch begun before a rebalance is dropped. Broker restarts
   * and leader moves are retried; a partition whose position fell off the
   * log (retention) moves to the log's start, reported.
   */
  async #readLoop(): Promise<void> {
    const { logger, target } = this.#o;
    let failures = 0;
    while (!this.#stopping) {
      if (this.#fetcher.assigned.length === 0) {
        await Promise.race([this.#stopped, new Promise((r) => setTimeout(r, IDLE_POLL_MS))]);
        continue;
      }
      const generation = this.#fetcher.generation;
      let fetched: FetchedPartition[];
      const sentMs = this.#clock.now();
      try {
        fetched = await this.#fetcher.fetch();
        if (failures > 0) {
          logger.info(`fetching from Kafka again after ${failures} failed attempts`);
        }
        failures = 0;
      } catch (error) {
        // A broker that does not answer is not a drained topic.
        this.#quietSinceMs = undefined;
        if (this.#stopping) break;
        if (error instanceof FetchError && error.code === OFFSET_OUT_OF_RANGE) {
          await this.#outOfRange(error.partition);
          continue;
        }
        if (!fetchRetriable(error)) {
          this.#fatal = error instanceof LakehouseError
            ? error
            : new LakehouseError(`Kafka fetch failed: ${errorMessage(error)}`, { cause: error });
          this.#stop?.();
          break;
        }
        failures++;
        const waitMs = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** (failures - 1));
        const text = `Kafka fetch failed (${errorMessage(error)}); retrying in ${waitMs} ms`;
        if (failures === 1) logger.warn(text);
        else logger.debug(text);
        await Promise.race([this.#stopped, new Promise((r) => setTimeout(r, waitMs))]);
        continue;
      }
      const endedMs = this.#clock.now();
      let empty = true;
      for (const { partition, records } of fetched) {
        if (generation !== this.#fetcher.generation || this.#stopping) break;
        const expected = this.#expected.get(partition) ?? 0n;
        const fresh = records.length > 0 && records[0].offset < expected
          ? records.filter((r) => r.offset >= expected)
          : records;
        if (fresh.length === 0) continue;
        // Records in hand (even while the writers hold them) end any idleness.
        empty = false;
        this.#quietSinceMs = undefined;
        this.#expected.set(partition, fresh[fresh.length - 1].offset + 1n);
        if (!await this.#offer(target, fresh)) return;
        this.#offered += fresh.length;
      }
      if (generation !== this.#fetcher.generation) continue; // a rejoin starts over
      if (!empty) {
        this.#lastFetchEndMs = this.#clock.now();
        continue;
      }
      const unbroken = this.#quietSinceMs !== undefined && this.#lastFetchEndMs !== undefined &&
        sentMs - this.#lastFetchEndMs <= FETCH_GAP_MAX_MS &&
        endedMs - sentMs <= MAX_WAIT_MS + FETCH_GAP_MAX_MS;
      if (!unbroken) this.#quietSinceMs = endedMs;
      this.#lastFetchEndMs = endedMs;
    }
  }

  /** How long the feed has been idle, as `idleExitMs` measures it (see #quietSinceMs). */
  #quietMs(): number {
    if (this.#fetcher.assigned.length === 0) return this.#clock.now() - this.#joinedMs;
    if (this.#quietSinceMs === undefined || this.#lastFetchEndMs === undefined) return 0;
    return this.#lastFetchEndMs - this.#quietSinceMs;
  }

  /**
   * Hands records to the target. Returns false when the feed stops while
   * the target still waits: the records are in its batcher, and the wait
   * for room no longer matters.
   */
  async #offer(target: FeedTarget, records: readonly RawRecord[]): Promise<boolean> {
    const offered = target.offer(records);
    try {
      const stopped = this.#stopped.then(() => false);
      if (await Promise.race([offered.then(() => true), stopped])) return true;
      offered.catch(() => {});
      return false;
    } catch (error) {
      // The writers failed: the run stops, and the flush that ends it
      // reports the failure (as the commit timer does).
      this.#o.logger.debug(`stopping the fetches: ${errorMessage(error)}`);
      this.#stop?.();
      return false;
    }
  }

  /** A partition's position is no longer in the log: check it as a start, then resume where it can. */
  async #outOfRange(partition: number): Promise<void> {
    const expected = this.#expected.get(partition) ?? 0n;
    try {
      const low = await this.#checkRetained(new Map([[partition, expected]]));
      const resume = low.get(partition) ?? expected;
      if (resume > expected) {
        this.#expected.set(partition, resume);
        this.#fetcher.seek(partition, resume);
      }
    } catch (error) {
      this.#fatal = error instanceof Error ? error : new Error(String(error));
      this.#stop?.();
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
  async #checkRetained(start: ReadonlyMap<number, bigint>): Promise<Map<number, bigint>> {
    const { kafka, topic, logger } = this.#o;
    const admin = kafka.admin();
    await admin.connect();
    const lows = new Map<number, bigint>();
    try {
      for (const { partition, low, high } of await admin.fetchTopicOffsets(topic)) {
        lows.set(partition, BigInt(low));
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
    return lows;
  }

  #stopping = false;
  /** Resolves when the feed stops. */
  #stopped: Promise<void> = new Promise(() => {});
  #stopTimer: (() => void) | undefined;
  #stop: (() => void) | undefined;
  /** A crash kafkajs does not restart from: the run ends with it after committing what it has. */
  #fatal: Error | undefined;
}

/** Group offsets are committed at most this often (they are advisory). */
const GROUP_COMMIT_INTERVAL_MS = 1_000;

/** How long the broker may hold a fetch that has nothing to return. */
const MAX_WAIT_MS = 250;
/**
 * Longest pause between two fetches, or beyond the broker's wait within
 * one, that still counts as fetching without a break (the event loop's
 * ordinary delays under load stay well below it).
 */
const FETCH_GAP_MAX_MS = 2_000;
/** How often the read loop looks for partitions while it has none. */
const IDLE_POLL_MS = 50;
/** Backoff of failed fetches (a broker restarting): from, up to. */
const RETRY_FIRST_MS = 200;
const RETRY_MAX_MS = 5_000;
/** Kafka's error code for a fetch position outside the partition's log. */
const OFFSET_OUT_OF_RANGE = 1;
