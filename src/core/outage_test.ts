import assert from "node:assert/strict";
import { FakeClock } from "./clock.ts";
import { LakehouseError } from "./errors.ts";
import type { Logger } from "./log.ts";
import { OutageReporter, OutageRetry } from "./outage.ts";

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const log = (level: string) => (m: string) => lines.push(`${level} ${m}`);
  return {
    lines,
    level: "debug",
    debug: log("debug"),
    info: log("info"),
    warn: log("warn"),
    error: log("error"),
  };
}

Deno.test("OutageReporter warns at the first failure, then at most every intervalMs, and once on recovery", () => {
  const clock = new FakeClock(0);
  const logger = recordingLogger();
  const reporter = new OutageReporter({
    subject: "storage",
    meanwhile: "retrying",
    logger,
    clock,
    intervalMs: 10_000,
  });
  reporter.success(); // nothing to report yet
  for (let t = 0; t <= 25_000; t += 1_000) {
    clock.advance(t === 0 ? 0 : 1_000);
    reporter.failure(`timeout at ${t}`);
  }
  assert.ok(reporter.failing);
  assert.equal(reporter.durationMs, 25_000);
  clock.advance(500);
  reporter.success();
  assert.deepEqual(logger.lines, [
    "warn storage failing: timeout at 0; retrying",
    "warn storage still failing after 10 s (11 failed attempts): timeout at 10000; retrying",
    "warn storage still failing after 20 s (21 failed attempts): timeout at 20000; retrying",
    "info storage recovered after 26 s (26 failed attempts)",
  ]);
  assert.equal(reporter.failing, false);
});

Deno.test("OutageRetry runs an operation through an outage and says when it recovered", async () => {
  const clock = new FakeClock(0);
  const logger = recordingLogger();
  const retry = new OutageRetry({
    subject: "writing to s3://b/wh",
    meanwhile: "consumption paused",
    logger,
    clock,
    random: () => 0.5,
  });
  let calls = 0;
  const value = await retry.run(() =>
    ++calls <= 30
      ? Promise.reject(new LakehouseError("S3 endpoint did not answer", { retriable: true }))
      : Promise.resolve(calls)
  );
  assert.equal(value, 31);
  const warnings = logger.lines.filter((l) => l.startsWith("warn"));
  assert.equal(
    warnings[0],
    "warn writing to s3://b/wh failing: S3 endpoint did not answer; consumption paused",
  );
  // Backoff bound caps at 10 s: 30 failures span minutes, warned about every ~10 s, not 30 times.
  assert.ok(warnings.length >= 10 && warnings.length < 30, `${warnings.length} warnings`);
  assert.match(
    logger.lines.at(-1)!,
    /^info writing to s3:\/\/b\/wh recovered after \d+ s \(30 failed attempts\)$/,
  );
});
