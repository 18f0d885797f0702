/**
 * Rate profiles and the pacer that turns one into "how many events may be
 * sent by now". Pure arithmetic over a Clock, so tests check accuracy with a
 * fake clock instead of sleeping.
 */
import type { Clock } from "../core/clock.ts";

export interface RateProfile {
  /** Target events per second at `elapsedMs` after the start. */
  rateAt(elapsedMs: number): number;
  /** Events that should have been sent by `elapsedMs` (integral of rateAt). */
  targetAt(elapsedMs: number): number;
  describe(): string;
}

export function steadyRate(eventsPerSecond: number): RateProfile {
  if (!(eventsPerSecond > 0)) throw new RangeError(`rate must be > 0, got ${eventsPerSecond}`);
  return {
    rateAt: () => eventsPerSecond,
    targetAt: (elapsedMs) => (eventsPerSecond * Math.max(0, elapsedMs)) / 1000,
    describe: () => `steady ${eventsPerSecond}/s`,
  };
}

export interface SpikeOptions {
  /** Rate outside spikes, events/s. */
  readonly baseRate: number;
  /** Rate multiplier during a spike. */
  readonly factor: number;
  /** A spike starts every periodMs... */
  readonly periodMs: number;
  /** ...and lasts lengthMs (at the start of each period). */
  readonly lengthMs: number;
}

/** Square wave: `factor x baseRate` for the first lengthMs of every periodMs, baseRate otherwise. */
export function spikeRate(options: SpikeOptions): RateProfile {
  const { baseRate, factor, periodMs, lengthMs } = options;
  if (!(baseRate > 0)) throw new RangeError(`spike base rate must be > 0, got ${baseRate}`);
  if (!(factor >= 1)) throw new RangeError(`spike factor must be >= 1, got ${factor}`);
  if (!(periodMs > 0)) throw new RangeError(`spike period must be > 0 ms, got ${periodMs}`);
  if (!(lengthMs > 0 && lengthMs <= periodMs)) {
    throw new RangeError(`spike length must be in (0, period=${periodMs}] ms, got ${lengthMs}`);
  }
  const high = baseRate * factor;
  const perPeriod = (high * lengthMs + baseRate * (periodMs - lengthMs)) / 1000;
  return {
    rateAt: (elapsedMs) => (elapsedMs % periodMs) < lengthMs ? high : baseRate,
    targetAt: (elapsedMs) => {
      const t = Math.max(0, elapsedMs);
      const periods = Math.floor(t / periodMs);
      const within = t - periods * periodMs;
      const partial = within <= lengthMs
        ? (high * within) / 1000
        : (high * lengthMs + baseRate * (within - lengthMs)) / 1000;
      return periods * perPeriod + partial;
    },
    describe: () => `spike ${baseRate}/s x${factor} for ${lengthMs}ms every ${periodMs}ms`,
  };
}

/**
 * Tracks a run against its profile. `allowance(sent)` says how many more
 * events may go out now; `waitMs(sent)` how long until the next one is due.
 * Catching up after a stall is capped at `burstMax` per call so a paused
 * sink does not cause one huge burst.
 */
export class Pacer {
  readonly #profile: RateProfile;
  readonly #clock: Clock;
  readonly #startMs: number;

  constructor(profile: RateProfile, clock: Clock) {
    this.#profile = profile;
    this.#clock = clock;
    this.#startMs = clock.now();
  }

  elapsedMs(): number {
    return this.#clock.now() - this.#startMs;
  }

  /** Events due by now, minus those already sent (negative when ahead). */
  lag(sent: number): number {
    return Math.floor(this.#profile.targetAt(this.elapsedMs())) - sent;
  }

  allowance(sent: number, burstMax: number): number {
    return Math.max(0, Math.min(burstMax, this.lag(sent)));
  }

  /** Events the profile sends in the next `ms` at its current rate (0 for 0 ms). */
  dueWithin(ms: number): number {
    return Math.floor((this.#profile.rateAt(this.elapsedMs()) * ms) / 1000);
  }

  /** Milliseconds until event number `sent + 1` is due (0 if already due). */
  waitMs(sent: number): number {
    const elapsed = this.elapsedMs();
    if (this.#profile.targetAt(elapsed) >= sent + 1) return 0;
    const rate = this.#profile.rateAt(elapsed);
    const missing = sent + 1 - this.#profile.targetAt(elapsed);
    // The rate can change inside the wait (spike edges); waking early is harmless.
    return Math.max(1, Math.ceil((missing * 1000) / rate));
  }
}
