/**
 * The produce loop: take messages from the source as the pacer allows, hand
 * them to the sink in batches, stop at the count, the duration or a signal,
 * and report progress.
 */
import type { Clock } from "../core/clock.ts";
import type { Pacer } from "./rate.ts";
import type { Sink } from "./sink.ts";
import type { EventSource, MessageKind } from "./source.ts";

export interface GenerateLimits {
  /** Stop after this many messages (bad ones included); undefined = no bound. */
  readonly countMax?: number;
  /** Stop after this long; undefined = no bound. */
  readonly durationMs?: number;
  /** Messages per sink write. */
  readonly batchRecordsMax: number;
  /**
   * When paced: wait until this long's worth of messages is due and send
   * them together (a Kafka producer's linger.ms). Each write costs the
   * generator and the broker a request whatever its size, so one write per
   * due message (about one a millisecond at 50,000/s) cost both of them
   * more CPU than the messages did. 0 = send whatever is due at once.
   */
  readonly lingerMs?: number;
}

export interface GenerateProgress {
  readonly sent: number;
  readonly elapsedMs: number;
  /** Events behind the rate target (0 when unpaced or on time). */
  readonly lag: number;
  readonly counts: Readonly<Record<MessageKind, number>>;
}

export interface GenerateRun {
  readonly source: EventSource;
  readonly sink: Sink;
  /** Undefined = as fast as the sink takes them. */
  readonly pacer?: Pacer;
  readonly clock: Clock;
  readonly limits: GenerateLimits;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: GenerateProgress) => void;
  /** How often onProgress is called while running. */
  readonly progressIntervalMs?: number;
}

export async function generate(run: GenerateRun): Promise<GenerateProgress> {
  const { source, sink, pacer, clock, limits, signal } = run;
  const startMs = clock.now();
  const progressEveryMs = run.progressIntervalMs ?? 1000;
  let lastProgressMs = startMs;
  let sent = 0;
  const lingerMs = limits.lingerMs ?? 0;
  const snapshot = (): GenerateProgress => ({
    sent,
    elapsedMs: clock.now() - startMs,
    lag: pacer ? Math.max(0, pacer.lag(sent)) : 0,
    counts: { ...source.counts },
  });

  while (!signal?.aborted) {
    const remaining = limits.countMax === undefined ? Infinity : limits.countMax - sent;
    if (remaining <= 0) break;
    if (limits.durationMs !== undefined && clock.now() - startMs >= limits.durationMs) break;
    let n = Math.min(remaining, limits.batchRecordsMax);
    if (pacer) {
      const due = pacer.allowance(sent, limits.batchRecordsMax);
      // A chunk of lingerMs' worth, never more than remains or a write takes.
      const chunk = Math.max(1, Math.min(n, pacer.dueWithin(lingerMs)));
      if (due < chunk) {
        const wait = pacer.waitMs(sent + chunk - 1);
        const endsSooner = limits.durationMs !== undefined &&
          clock.now() + wait >= startMs + limits.durationMs;
        if (due === 0 || !endsSooner) {
          await clock.sleep(Math.min(wait, 50));
          continue;
        }
      }
      n = Math.min(n, due);
    }
    await sink.write(source.take(n));
    sent += n;
    const now = clock.now();
    if (run.onProgress && now - lastProgressMs >= progressEveryMs) {
      lastProgressMs = now;
      run.onProgress(snapshot());
    }
  }
  await sink.close();
  const final = snapshot();
  run.onProgress?.(final);
  return final;
}
