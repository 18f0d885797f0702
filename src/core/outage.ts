/**
 * Says, without flooding the log, that a dependency is failing: a warning on
 * the first failure, another at most every `intervalMs` while it lasts
 * (each naming the latest error), and one line when it works again.
 */
import { type BackoffPolicy, retryUntilAborted } from "./backoff.ts";
import type { Clock } from "./clock.ts";
import { errorMessage } from "./errors.ts";
import type { Logger } from "./log.ts";

export interface OutageReporterOptions {
  /** What is failing, as the log lines name it ("storage"). */
  readonly subject: string;
  /** What the process does meanwhile, appended to the warnings. */
  readonly meanwhile: string;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Least time between two warnings of one outage. */
  readonly intervalMs?: number;
}

export class OutageReporter {
  readonly #o: OutageReporterOptions;
  readonly #intervalMs: number;
  #since: number | undefined;
  #lastWarnMs = 0;
  #failures = 0;

  constructor(options: OutageReporterOptions) {
    this.#o = options;
    this.#intervalMs = options.intervalMs ?? 10_000;
  }

  /** True between a failure and the next success. */
  get failing(): boolean {
    return this.#since !== undefined;
  }

  /** Milliseconds since the outage began, 0 when there is none. */
  get durationMs(): number {
    return this.#since === undefined ? 0 : this.#o.clock.now() - this.#since;
  }

  failure(message: string): void {
    const now = this.#o.clock.now();
    this.#failures++;
    if (this.#since === undefined) {
      this.#since = now;
      this.#lastWarnMs = now;
      this.#o.logger.warn(`${this.#o.subject} failing: ${message}; ${this.#o.meanwhile}`);
      return;
    }
    if (now - this.#lastWarnMs < this.#intervalMs) return;
    this.#lastWarnMs = now;
    this.#o.logger.warn(
      `${this.#o.subject} still failing after ${seconds(now - this.#since)} ` +
        `(${this.#failures} failed attempts): ${message}; ${this.#o.meanwhile}`,
    );
  }

  success(): void {
    if (this.#since === undefined) return;
    const now = this.#o.clock.now();
    this.#o.logger.info(
      `${this.#o.subject} recovered after ${seconds(now - this.#since)} ` +
        `(${this.#failures} failed attempts)`,
    );
    this.#since = undefined;
    this.#failures = 0;
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}

export interface OutageRetryOptions extends OutageReporterOptions {
  readonly random: () => number;
  /** Retrying stops (AbortedError) once aborted: the shutdown deadline. */
  readonly signal?: AbortSignal;
  readonly policy?: BackoffPolicy;
}

/**
 * Retries operations through an outage of what they depend on, for as long
 * as it lasts (until the signal aborts), and reports the outage once, every
 * `intervalMs` while it lasts, and when it ends. Several callers (the
 * writers, the decoder, a store's own request retries) share one, so the
 * log tells one story.
 */
export class OutageRetry {
  readonly #o: OutageRetryOptions;
  readonly #reporter: OutageReporter;

  constructor(options: OutageRetryOptions) {
    this.#o = options;
    this.#reporter = new OutageReporter(options);
  }

  /** Runs `operation`, retrying what `retriable` accepts (default: errors marked retriable). */
  async run<T>(
    operation: (attempt: number) => Promise<T>,
    retriable?: (error: unknown) => boolean,
  ): Promise<T> {
    const result = await retryUntilAborted(operation, {
      clock: this.#o.clock,
      random: this.#o.random,
      policy: this.#o.policy,
      signal: this.#o.signal,
      retriable,
      onFailure: (error) => this.#reporter.failure(errorMessage(error)),
    });
    this.#reporter.success();
    return result;
  }

  /** A failed attempt retried elsewhere (a store's own request retries): reported only. */
  report(message: string): void {
    this.#reporter.failure(message);
  }
}
