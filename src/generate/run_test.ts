import assert from "node:assert/strict";
import { FakeClock } from "../core/clock.ts";
import { Pacer, steadyRate } from "./rate.ts";
import { generate, type GenerateLimits } from "./run.ts";
import type { Sink } from "./sink.ts";
import { EventSource, type GeneratedMessage } from "./source.ts";

class MemorySink implements Sink {
  readonly batches: number[] = [];
  readonly messages: GeneratedMessage[] = [];
  closed = false;
  write(batch: readonly GeneratedMessage[]): Promise<void> {
    this.batches.push(batch.length);
    this.messages.push(...batch);
    return Promise.resolve();
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
  describe(): string {
    return "memory";
  }
}

function source(clock: FakeClock, badRate = 0) {
  return new EventSource({ seed: "run-test", startTimeMs: 0, badRate, clock });
}

Deno.test("generate stops at a count that is an exact multiple of the batch size", async () => {
  const clock = new FakeClock();
  const sink = new MemorySink();
  const final = await generate({
    source: source(clock),
    sink,
    clock,
    limits: { countMax: 3000, batchRecordsMax: 1000 },
  });
  assert.equal(final.sent, 3000);
  assert.deepEqual(sink.batches, [1000, 1000, 1000]);
  assert.ok(sink.closed);
});

Deno.test("generate sends a short last batch when the count is not a multiple", async () => {
  const clock = new FakeClock();
  const sink = new MemorySink();
  await generate({
    source: source(clock),
    sink,
    clock,
    limits: { countMax: 2500, batchRecordsMax: 1000 },
  });
  assert.deepEqual(sink.batches, [1000, 1000, 500]);
});

/** A paced run on a fake clock. */
async function paced(rate: number, limits: GenerateLimits) {
  const clock = new FakeClock(5_000);
  const sink = new MemorySink();
  const pacer = new Pacer(steadyRate(rate), clock);
  const final = await generate({ source: source(clock), sink, clock, pacer, limits });
  return { final, sink };
}

Deno.test("generate paces to the rate and stops at the duration (fake clock)", async () => {
  const { final, sink } = await paced(2_000, { durationMs: 10_000, batchRecordsMax: 500 });
  assert.ok(Math.abs(final.sent - 20_000) <= 500, `sent ${final.sent}`);
  assert.ok(sink.batches.every((n) => n <= 500));
});

Deno.test("generate lingers: paced writes carry lingerMs' worth of messages, none lost", async () => {
  const run = (lingerMs: number, limits: { countMax?: number; durationMs?: number }) =>
    paced(50_000, { ...limits, batchRecordsMax: 5_000, lingerMs });
  // Without a linger each write is about the millisecond's due messages.
  const eager = await run(0, { durationMs: 2_000 });
  assert.ok(Math.max(...eager.sink.batches) <= 100, `eager writes ${eager.sink.batches}`);
  // With 5 ms, writes of 250 (5 ms at 50,000/s): a fifth as many requests.
  const lingered = await run(5, { durationMs: 2_000 });
  const full = lingered.sink.batches.filter((n) => n === 250).length;
  assert.ok(full >= lingered.sink.batches.length - 2, `lingered writes ${lingered.sink.batches}`);
  assert.ok(Math.abs(lingered.final.sent - 100_000) <= 250, `sent ${lingered.final.sent}`);
  assert.ok(lingered.sink.batches.length * 4 < eager.sink.batches.length);
  // A count that is not a multiple of the chunk ends with the short rest.
  const counted = await run(5, { countMax: 1_010 });
  assert.equal(counted.final.sent, 1_010);
  assert.deepEqual(counted.sink.batches, [250, 250, 250, 250, 10]);
});

Deno.test("generate stops when the signal aborts and still closes the sink", async () => {
  const clock = new FakeClock();
  const sink = new MemorySink();
  const controller = new AbortController();
  const final = await generate({
    source: source(clock),
    sink,
    clock,
    limits: { batchRecordsMax: 100 },
    signal: controller.signal,
    onProgress: (p) => {
      if (p.sent >= 1000) controller.abort();
    },
    progressIntervalMs: 0,
  });
  assert.equal(final.sent, 1000);
  assert.ok(sink.closed);
});

Deno.test("generate counts bad records by kind and the stream is reproducible", async () => {
  const run = async () => {
    const clock = new FakeClock();
    const sink = new MemorySink();
    const final = await generate({
      source: source(clock, 0.1),
      sink,
      clock,
      limits: { countMax: 5000, batchRecordsMax: 700 },
    });
    return { final, sink };
  };
  const a = await run();
  const b = await run();
  const bad = a.final.sent - a.final.counts.valid;
  assert.ok(bad > 350 && bad < 650, `bad ${bad}`);
  assert.equal(a.sink.messages.filter((m) => m.kind !== "valid").length, bad);
  assert.deepEqual(a.sink.messages.map((m) => m.value), b.sink.messages.map((m) => m.value));
});
