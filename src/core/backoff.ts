/**
 * Capped exponential backoff with jitter, and a retry loop built on it for
 * failures that may heal (a storage outage, a full disk, a locked catalog).
 * The clock and the randomness are injected so tests drive time.
 */
import type { Clock } from "./clock.ts";
import { AbortedError, isAborted, LakehouseError } from "./errors.ts";

export interface BackoffPolicy {
  /** Delay bound before the first retry. */
  readonly firstDelayMs: number;
  /** No delay bound grows past this. */
  readonly delayMaxMs: number;
  /** Growth of the bound per attempt. */
  readonly factor: number;
}

/**
 * Storage and catalog outages: the first retry comes within 250 ms, the
 * bound doubles per attempt and stops at 10 s, so a server that comes back
 * is noticed within about 10 s however long it was gone.
 */
export const OUTAGE_BACKOFF: BackoffPolicy = Object.freeze({
  firstDelayMs: 250,
  delayMaxMs: 10_000,
  factor: 2,
});

/**
 * Delay before retry number `attempt` (1 = the first retry): "equal jitter",
 * half of the bound fixed and half random, so retries of many writers spread
 * out but none comes back sooner than half the bound.
 */
export function backoffDelayMs(
  policy: BackoffPolicy,
  attempt: number,
  random: () => number,
): number {
  const bound = Math.min(policy.delayMaxMs, policy.firstDelayMs * policy.factor ** (attempt - 1));
  return bound / 2 + random() * (bound / 2);
}

/** Sleeps on `clock`, ending early with AbortedError when `signal` aborts. */
export async function sleepUnlessAborted(
  clock: Clock,
  ms: number,
  signal: AbortSignal | undefined,
): Promise<void> {
  if (signal === undefined) return await clock.sleep(ms);
  throwIfAborted(signal);
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(abortedError(signal));
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    await Promise.race([clock.sleep(ms), aborted]);
  } finally {
    signal.removeEventListener("abort", onAbort!);
  }
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortedError(signal);
}

function abortedError(signal: AbortSignal): AbortedError {
  const reason = signal.reason instanceof Error ? signal.reason.message : String(signal.reason);
  return new AbortedError(`gave up: ${reason}`, { cause: signal.reason });
}

/** Whether repeating the operation later may succeed. */
export function isRetriable(error: unknown): boolean {
  return error instanceof LakehouseError && error.retriable;
}

export interface RetryOptions {
  readonly clock: Clock;
  readonly random: () => number;
  readonly policy?: BackoffPolicy;
  /** Stops retrying (AbortedError) once aborted. */
  readonly signal?: AbortSignal;
  /** Which failures to retry (default: isRetriable). */
  readonly retriable?: (error: unknown) => boolean;
  /** Told of each failure about to be retried, with the attempt that failed. */
  readonly onFailure?: (error: unknown, attempt: number, delayMs: number) => void;
}

/**
 * Runs `operation` until it succeeds, retrying the failures `retriable`
 * accepts with backoff for as long as it takes (until `signal` aborts). Any
 * other failure is thrown at once.
 */
export async function retryUntilAborted<T>(
  operation: (attempt: number) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const policy = options.policy ?? OUTAGE_BACKOFF;
  const retriable = options.retriable ?? isRetriable;
  for (let attempt = 1;; attempt++) {
    throwIfAborted(options.signal);
    try {
      return await operation(attempt);
    } catch (error) {
      if (isAborted(error) || !retriable(error)) throw error;
      if (options.signal?.aborted) throw abortedError(options.signal);
      const delayMs = backoffDelayMs(policy, attempt, options.random);
      options.onFailure?.(error, attempt, delayMs);
      await sleepUnlessAborted(options.clock, delayMs, options.signal);
    }
  }
}
