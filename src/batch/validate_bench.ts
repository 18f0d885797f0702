/**
 * validateEvent (payload) and validateRecord (payload, timestamp, key)
 * throughput against their floor, UTF-8 decoding plus JSON.parse of the same
 * payloads: `deno bench src/batch/validate_bench.ts`.
 */
import { systemClock } from "../core/clock.ts";
import { EventSource } from "../generate/source.ts";
import { encodeStaged } from "./staged.ts";
import { validateEvent, validateRecord } from "./validate.ts";

const COUNT = 10_000;
const source = new EventSource({
  seed: "bench",
  startTimeMs: Date.UTC(2026, 0, 1),
  badRate: 0,
  clock: systemClock,
});
const messages = source.take(COUNT);
const values = messages.map((m) => m.value);
const keys = messages.map((m) => new TextEncoder().encode(m.key));
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
const staged = values.map((value, i) => {
  const result = validateEvent(value);
  if (!result.ok) throw new Error(result.reason);
  const record = {
    topic: "orders",
    partition: i % 4,
    offset: BigInt(i),
    key: null,
    value,
    timestampMs: 0,
  };
  return { record, event: result.event };
});

Deno.bench(`decode + JSON.parse, ${COUNT} events`, { group: "validate", baseline: true }, () => {
  for (const value of values) JSON.parse(decoder.decode(value));
});

Deno.bench(`validateEvent, ${COUNT} events`, { group: "validate" }, () => {
  for (const value of values) validateEvent(value);
});

Deno.bench(`validateRecord (payload, timestamp, key), ${COUNT} events`, {
  group: "validate",
}, () => {
  for (let i = 0; i < COUNT; i++) validateRecord(values[i], keys[i], 1_767_225_600_000);
});

Deno.bench(`encodeStaged, ${COUNT} events`, () => {
  encodeStaged(staged, 0);
});
