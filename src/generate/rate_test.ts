import assert from "node:assert/strict";
import { FakeClock } from "../core/clock.ts";
import { Pacer, type RateProfile, spikeRate, steadyRate } from "./rate.ts";

/** Drives a pacer like the produce loop does, with irregular steps, and returns sent counts per second. */
function simulate(profile: RateProfile, seconds: number, stepMs: (i: number) => number) {
  const clock = new FakeClock(1_000_000);
  const pacer = new Pacer(profile, clock);
  let sent = 0;
  const perSecond: number[] = [];
  let second = 0;
  let inSecond = 0;
  for (let i = 0; pacer.elapsedMs() < seconds * 1000; i++) {
    const n = pacer.allowance(sent, 5_000);
    sent += n;
    inSecond += n;
    clock.advance(n === 0 ? Math.min(pacer.waitMs(sent), 50) : stepMs(i));
    while (pacer.elapsedMs() >= (second + 1) * 1000) {
      perSecond.push(inSecond);
      inSecond = 0;
      second++;
    }
  }
  return { sent, perSecond };
}

Deno.test("Pacer keeps a steady rate within 5% over every 1 s window", () => {
  const { sent, perSecond } = simulate(steadyRate(50_000), 30, (i) => 3 + (i % 7));
  assert.ok(Math.abs(sent - 1_500_000) / 1_500_000 < 0.05, `sent ${sent}`);
  for (const [s, n] of perSecond.entries()) {
    assert.ok(Math.abs(n - 50_000) / 50_000 < 0.05, `second ${s}: ${n}`);
  }
});

Deno.test("Pacer keeps low rates exact too", () => {
  const { sent } = simulate(steadyRate(7), 100, () => 13);
  assert.ok(Math.abs(sent - 700) <= 1, `sent ${sent}`);
});

Deno.test("Pacer caps catch-up bursts after a stall", () => {
  const clock = new FakeClock(0);
  const pacer = new Pacer(steadyRate(10_000), clock);
  clock.advance(10_000);
  assert.equal(pacer.lag(0), 100_000);
  assert.equal(pacer.allowance(0, 5_000), 5_000);
});

Deno.test("Pacer waitMs says when the next event is due", () => {
  const clock = new FakeClock(0);
  const pacer = new Pacer(steadyRate(10), clock);
  assert.equal(pacer.waitMs(0), 100);
  clock.advance(100);
  assert.equal(pacer.waitMs(0), 0);
  assert.equal(pacer.allowance(0, 100), 1);
});

Deno.test("spikeRate integrates the square wave", () => {
  const profile = spikeRate({ baseRate: 1000, factor: 5, periodMs: 60_000, lengthMs: 10_000 });
  assert.equal(profile.rateAt(5_000), 5000);
  assert.equal(profile.rateAt(10_000), 1000);
  assert.equal(profile.targetAt(10_000), 50_000);
  assert.equal(profile.targetAt(60_000), 100_000);
  assert.equal(profile.targetAt(130_000), 250_000);
  const { perSecond } = simulate(profile, 120, (i) => 5 + (i % 5));
  assert.ok(Math.abs(perSecond[3] - 5000) / 5000 < 0.05, `in spike: ${perSecond[3]}`);
  assert.ok(Math.abs(perSecond[30] - 1000) / 1000 < 0.05, `between spikes: ${perSecond[30]}`);
  assert.ok(Math.abs(perSecond[63] - 5000) / 5000 < 0.05, `second spike: ${perSecond[63]}`);
});

Deno.test("rate profiles reject invalid options naming the value", () => {
  assert.throws(() => steadyRate(0), /rate must be > 0, got 0/);
  assert.throws(
    () => spikeRate({ baseRate: 1, factor: 0.5, periodMs: 10, lengthMs: 5 }),
    /factor.*0.5/,
  );
  assert.throws(
    () => spikeRate({ baseRate: 1, factor: 2, periodMs: 10, lengthMs: 50 }),
    /length.*50/,
  );
});
