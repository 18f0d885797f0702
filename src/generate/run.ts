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
      n = Math.min(n, pacer.allowance(sent, limits.batchRecordsMax));
      if (n === 0) {
        // Batch small gaps: waiting for a few ms worth of events keeps batches efficient.
        await clock.sleep(Math.min(pacer.waitMs(sent), 50));
        continue;
      }
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
