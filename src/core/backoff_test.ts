import assert from "node:assert/strict";
import {
  backoffDelayMs,
  OUTAGE_BACKOFF,
  retryUntilAborted,
  sleepUnlessAborted,
} from "./backoff.ts";
import { FakeClock } from "./clock.ts";
import { AbortedError, LakehouseError } from "./errors.ts";

Deno.test("backoffDelayMs doubles its bound from firstDelayMs, caps it at delayMaxMs, jitters the upper half", () => {
  const low = (attempt: number) => backoffDelayMs(OUTAGE_BACKOFF, attempt, () => 0);
  const high = (attempt: number) => backoffDelayMs(OUTAGE_BACKOFF, attempt, () => 0.999999);
  assert.deepEqual([1, 2, 3, 4].map(low), [125, 250, 500, 1000]);
  assert.ok(Math.abs(high(1) - 250) < 0.01);
  assert.equal(low(7), 5_000);
  assert.equal(low(40), 5_000);
  assert.ok(high(40) <= 10_000 && high(40) > 9_999);
});

const retriable = () => new LakehouseError("server away", { retriable: true });

Deno.test("retryUntilAborted retries retriable failures on the clock and reports each", async () => {
  const clock = new FakeClock();
  const failures: [number, number][] = [];
  const result = await retryUntilAborted((attempt) => {
    if (attempt < 4) return Promise.reject(retriable());
    return Promise.resolve(`done on ${attempt}`);
  }, {
    clock,
    random: () => 0.5,
    onFailure: (_, attempt, delay) => failures.push([attempt, delay]),
  });
  assert.equal(result, "done on 4");
  assert.deepEqual(failures, [[1, 187.5], [2, 375], [3, 750]]);
  assert.equal(clock.now(), 1312.5);
});

Deno.test("retryUntilAborted throws a failure that is not retriable at once", async () => {
  let calls = 0;
  await assert.rejects(
    retryUntilAborted(() => {
      calls++;
      return Promise.reject(new LakehouseError("bad request"));
    }, { clock: new FakeClock(), random: () => 0 }),
    /bad request/,
  );
  assert.equal(calls, 1);
});

Deno.test("retryUntilAborted stops with AbortedError once its signal aborts", async () => {
  const controller = new AbortController();
  let calls = 0;
  await assert.rejects(
    retryUntilAborted(() => {
      if (++calls === 3) controller.abort(new Error("deadline passed"));
      return Promise.reject(retriable());
    }, { clock: new FakeClock(), random: () => 0, signal: controller.signal }),
    (error) => {
      assert.ok(error instanceof AbortedError);
      assert.match(error.message, /gave up: deadline passed/);
      return true;
    },
  );
  assert.equal(calls, 3);
});

Deno.test("sleepUnlessAborted ends a real sleep early when aborted", async () => {
  const controller = new AbortController();
  const clock = {
    now: () => Date.now(),
    sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)),
  };
  const started = Date.now();
  setTimeout(() => controller.abort(new Error("stop")), 20);
  await assert.rejects(sleepUnlessAborted(clock, 60_000, controller.signal), AbortedError);
  assert.ok(Date.now() - started < 10_000);
});
