/**
 * The demo's feed: the generator's messages placed on partitions exactly as
 * Kafka's default partitioner would place them, with per-partition offsets,
 * so the same offset bookkeeping (and crash recovery) applies without a
 * broker. Regenerating from the seed reproduces every offset; messages below
 * the tables' committed offsets are skipped.
 */
import type { RawRecord } from "../batch/types.ts";
import type { Clock } from "../core/clock.ts";
import type { EventSource } from "../generate/source.ts";
import { partitionForKeyBytes } from "../kafka/murmur2.ts";
import type { Pipeline } from "./pipeline.ts";

export interface GeneratorFeedOptions {
  readonly source: EventSource;
  readonly pipeline: Pipeline;
  readonly topic: string;
  readonly partitions: number;
  /** Messages to generate in all (bad ones included). */
  readonly count: number;
  readonly chunkRecords: number;
  readonly clock: Clock;
  readonly signal?: AbortSignal;
  readonly onProgress?: (generated: number) => void;
}

export interface GeneratorFeedResult {
  readonly generated: number;
  /** Messages the tables already held (a resumed run). */
  readonly skipped: number;
}

export async function runGeneratorFeed(o: GeneratorFeedOptions): Promise<GeneratorFeedResult> {
  const partitionList = Array.from({ length: o.partitions }, (_, p) => p);
  const start = await o.pipeline.startOffsets(partitionList);
  const next = new Array<bigint>(o.partitions).fill(0n);
  const encoder = new TextEncoder();
  let chunk: RawRecord[] = [];
  let generated = 0;
  let skipped = 0;
  while (generated < o.count && !o.signal?.aborted) {
    const m = o.source.next();
    generated++;
    const key = encoder.encode(m.key);
    const partition = partitionForKeyBytes(key, o.partitions);
    const offset = next[partition]++;
    if (offset < start.get(partition)!) {
      skipped++;
      continue;
    }
    chunk.push({
      topic: o.topic,
      partition,
      offset,
      key,
      value: m.value,
      timestampMs: o.clock.now(),
    });
    if (chunk.length >= o.chunkRecords) {
      await o.pipeline.offer(chunk);
      await o.pipeline.tick();
      chunk = [];
      o.onProgress?.(generated);
    }
  }
  if (chunk.length > 0) await o.pipeline.offer(chunk);
  await o.pipeline.flush();
  o.onProgress?.(generated);
  return { generated, skipped };
}
