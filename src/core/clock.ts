/**
 * Time source. Code whose behaviour depends on the time (pacing, batch
 * deadlines, idle exits, retry backoff, timestamps written into data) takes a
 * Clock, so tests can drive time without sleeping. Log lines are stamped with
 * the wall clock, and timers that only wake a loop up use setTimeout.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch (may be fractional). */
  now(): number;
  /** Resolves after `ms` milliseconds of this clock's time. */
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms))),
};

/** A clock that only moves when told to; `sleep` advances it instantly. */
export class FakeClock implements Clock {
  #nowMs: number;

  constructor(startMs = 0) {
    this.#nowMs = startMs;
  }

  now(): number {
    return this.#nowMs;
  }

  advance(ms: number): void {
    this.#nowMs += ms;
  }

  sleep(ms: number): Promise<void> {
    if (ms > 0) this.#nowMs += ms;
    return Promise.resolve();
  }
}
