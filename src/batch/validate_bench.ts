/**
 * validateEvent (payload), validateRecord (payload, timestamp, key) and the
 * one-pass fastAccepts throughput against their floor, UTF-8 decoding plus
 * JSON.parse of the same payloads, staging the accepted records as
 * decodeBatch does, and staging rejects (of every kind the generator makes,
 * oversized payloads of up to 900 KB among them):
 * `deno bench src/batch/validate_bench.ts`.
 */
import { systemClock } from "../core/clock.ts";
import { EventSource } from "../generate/source.ts";
import { encodeRejects, type RejectedRecord, StagedWriter } from "./staged.ts";
import { fastAccepts } from "./fast_accept.ts";
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
for (const value of values) {
  const result = validateEvent(value);
  if (!result.ok) throw new Error(result.reason);
}
/** decodeBatch's staging buffer: reused, flushed to the file when full. */
const buffer = new Uint8Array(4 << 20);

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

Deno.bench(`fastAccepts (payload, timestamp, key), ${COUNT} events`, {
  group: "validate",
}, () => {
  for (let i = 0; i < COUNT; i++) {
    if (!fastAccepts(values[i], keys[i], 1_767_225_600_000)) throw new Error("not plain");
  }
});

Deno.bench(`StagedWriter, ${COUNT} events`, () => {
  const out = new StagedWriter(buffer, 0, () => {});
  for (let i = 0; i < COUNT; i++) out.line("orders", i % 4, BigInt(i), 0, values[i]);
  out.finish();
});

/** Rejected records as a batch of generated events at the default bad rate carries them. */
const bad = new EventSource({
  seed: "bench-rejects",
  startTimeMs: Date.UTC(2026, 0, 1),
  badRate: 1,
  clock: systemClock,
}).take(200);
const rejects: RejectedRecord[] = bad.map((m, i) => {
  const result = validateEvent(m.value);
  if (result.ok) throw new Error(`bad record ${i} accepted`);
  return {
    record: {
      topic: "orders",
      partition: i % 4,
      offset: BigInt(i),
      key: null,
      value: m.value,
      timestampMs: 1_767_225_600_000,
    },
    reason: result.reason,
    kind: result.kind,
  };
});
const rejectBytes = rejects.reduce((n, r) => n + (r.record.value?.length ?? 0), 0);

Deno.bench(`encodeRejects, ${rejects.length} rejects (${rejectBytes >> 20} MiB)`, () => {
  encodeRejects(rejects, 1_767_225_600_000);
});
