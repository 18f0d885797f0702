/**
 * The message stream of `lakehouse generate`: order events from the lifecycle
 * model, with bad records mixed in at `badRate`. Valid events and bad records
 * come from separate seeded generators, so the valid stream of a seed is the
 * same whatever the bad rate, and bad records never touch real orders.
 */
import type { Clock } from "../core/clock.ts";
import { Random } from "../core/random.ts";
import { BAD_KINDS, type BadKind, makeBadRecord, pickBadKind } from "./bad.ts";
import { DEFAULT_LIFECYCLE, encodeEvent, type LifecycleOptions, OrderLifecycle } from "./model.ts";

export type MessageKind = "valid" | BadKind;

export interface GeneratedMessage {
  /** Kafka key: the order_id (bad records carry an order id no real order has). */
  readonly key: string;
  /** Exact payload bytes, as sent to Kafka or written as one NDJSON line. */
  readonly value: Uint8Array;
  readonly kind: MessageKind;
}

export interface SourceOptions {
  /** With a seed the stream is a pure function of the options; without one it is random. */
  readonly seed?: string;
  /** Simulated event time of the first order (seeded runs). */
  readonly startTimeMs: number;
  /** Fraction of messages replaced by bad records, in [0, 1]. */
  readonly badRate: number;
  readonly lifecycle?: Partial<Omit<LifecycleOptions, "seed" | "startTimeMs">>;
  /** Without a seed, event_timestamp follows this clock instead of the simulation. */
  readonly clock: Clock;
}

/** Instant the simulated clock starts at when a seed is given and no --start-time. */
export const DEFAULT_SEEDED_START_MS = Date.UTC(2026, 0, 1);

const CHUNK_BYTES = 1 << 20;

export class EventSource {
  readonly #lifecycle: OrderLifecycle;
  readonly #badTemplates: OrderLifecycle;
  readonly #badRandom: Random;
  readonly #badRate: number;
  readonly #wallClock: Clock | undefined;
  readonly #encoder = new TextEncoder();
  /** Payloads are encoded back to back into shared chunks; messages are views into them. */
  #chunk = new Uint8Array(CHUNK_BYTES);
  #chunkUsed = 0;
  readonly counts: Record<MessageKind, number>;

  constructor(options: SourceOptions) {
    if (!(options.badRate >= 0 && options.badRate <= 1)) {
      throw new RangeError(`bad rate must be in [0, 1], got ${options.badRate}`);
    }
    const seed = options.seed ?? crypto.randomUUID();
    const lifecycle = { ...DEFAULT_LIFECYCLE, ...options.lifecycle };
    this.#lifecycle = new OrderLifecycle({ ...lifecycle, seed, startTimeMs: options.startTimeMs });
    this.#badTemplates = new OrderLifecycle({
      ...lifecycle,
      seed: `${seed}/bad-templates`,
      startTimeMs: options.startTimeMs,
    });
    this.#badRandom = new Random(`${seed}/bad`);
    this.#badRate = options.badRate;
    this.#wallClock = options.seed === undefined ? options.clock : undefined;
    this.counts = Object.fromEntries(["valid", ...BAD_KINDS].map((k) => [k, 0])) as Record<
      MessageKind,
      number
    >;
  }

  next(): GeneratedMessage {
    if (this.#badRate > 0 && this.#badRandom.chance(this.#badRate)) {
      const kind = pickBadKind(this.#badRandom);
      const record = makeBadRecord(kind, this.#badRandom, this.#badTemplates.next());
      this.counts[kind]++;
      return { key: record.key, value: record.value, kind };
    }
    const event = this.#lifecycle.next();
    if (this.#wallClock) event.event_timestamp = Math.round(this.#wallClock.now()) / 1000;
    this.counts.valid++;
    return { key: event.order_id, value: this.#encode(encodeEvent(event)), kind: "valid" };
  }

  /**
   * UTF-8 encoding without a fresh buffer per message: encodeInto the free
   * tail of the current chunk (a chunk is never reused, so earlier views stay
   * valid after it fills).
   */
  #encode(text: string): Uint8Array {
    // Worst case 3 bytes per UTF-16 unit.
    if (this.#chunkUsed + text.length * 3 > this.#chunk.length) {
      if (text.length * 3 > CHUNK_BYTES) return this.#encoder.encode(text);
      this.#chunk = new Uint8Array(CHUNK_BYTES);
      this.#chunkUsed = 0;
    }
    const start = this.#chunkUsed;
    const { written } = this.#encoder.encodeInto(text, this.#chunk.subarray(start));
    this.#chunkUsed += written;
    return this.#chunk.subarray(start, start + written);
  }

  /** The next `n` messages. */
  take(n: number): GeneratedMessage[] {
    const out = new Array<GeneratedMessage>(n);
    for (let i = 0; i < n; i++) out[i] = this.next();
    return out;
  }
}
