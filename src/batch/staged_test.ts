import assert from "node:assert/strict";
import { systemClock } from "../core/clock.ts";
import { EventSource } from "../generate/source.ts";
import { encodeStaged, type StagedRecord } from "./_fixtures.ts";
import { encodeRejects, type RejectedRecord } from "./staged.ts";
import type { RawRecord } from "./types.ts";
import { validateEvent } from "./validate.ts";

const ENCODER = new TextEncoder();
const DECODER = new TextDecoder();

function raw(value: Uint8Array | null, offset: bigint, partition = 0): RawRecord {
  return {
    topic: "orders",
    partition,
    offset,
    key: null,
    value,
    timestampMs: 1_767_225_600_000 + Number(offset),
  };
}

function staged(records: readonly RawRecord[]): StagedRecord[] {
  return records.map((record) => {
    const result = validateEvent(record.value);
    if (!result.ok) throw new Error(`test payload rejected: ${result.reason}`);
    return { record, event: result.event };
  });
}

/** Lines of NDJSON output, each ending in a newline. */
function lines(output: Uint8Array): string[] {
  const text = DECODER.decode(output);
  assert.ok(text === "" || text.endsWith("\n"));
  return text === "" ? [] : text.slice(0, -1).split("\n");
}

/** The payload's bytes inside a staged line, located by the fixed framing. */
function payloadBytes(line: Uint8Array): Uint8Array {
  const marker = ENCODER.encode('"payload":');
  let at = -1;
  for (let i = 0; i + marker.length <= line.length && at === -1; i++) {
    if (marker.every((b, j) => line[i + j] === b)) at = i + marker.length;
  }
  assert.ok(at !== -1);
  assert.equal(line[line.length - 1], 0x7d);
  return line.subarray(at, line.length - 1);
}

function splitLines(output: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i < output.length; i++) {
    if (output[i] === 0x0a) {
      out.push(output.subarray(start, i));
      start = i + 1;
    }
  }
  assert.equal(start, output.length, "output ends with a newline");
  return out;
}

Deno.test("encodeStaged writes one line per record with lineage and the payload", () => {
  const source = new EventSource({
    seed: "columnar",
    startTimeMs: Date.UTC(2026, 0, 1),
    badRate: 0,
    clock: systemClock,
  });
  const records = source.take(500).map((m, i) => raw(m.value, BigInt(1000 + i), i % 4));
  const output = encodeStaged(staged(records), 1_767_300_000_000.75);
  const parsed = lines(output).map((l) => JSON.parse(l));
  assert.equal(parsed.length, 500);
  parsed.forEach((row, i) => {
    const r = records[i];
    assert.deepEqual(Object.keys(row), [
      "kafka_topic",
      "kafka_partition",
      "kafka_offset",
      "kafka_timestamp_ms",
      "ingested_at_ms",
      "payload",
    ]);
    assert.equal(row.kafka_topic, "orders");
    assert.equal(row.kafka_partition, r.partition);
    assert.equal(row.kafka_offset, Number(r.offset));
    assert.equal(row.kafka_timestamp_ms, r.timestampMs);
    assert.equal(row.ingested_at_ms, 1_767_300_000_000, "whole milliseconds");
    assert.deepEqual(row.payload, JSON.parse(DECODER.decode(r.value!)));
  });
  splitLines(output).forEach((line, i) => assert.deepEqual(payloadBytes(line), records[i].value));
});

Deno.test("encodeStaged copies non-ASCII text and escapes verbatim", () => {
  const text = '{"event_id":"0b9f3c2e-8d41-4a6b-9c57-2f1e0d3a4b5c","event_type":"ORDER_CREATED",' +
    '"event_timestamp":1767225600,"order_id":"o-1","user_id":"Zoë \\"the \\\\ quote\\" 😀 用户",' +
    '"total_amount":1.5,"currency":"EUR","payment_method":null,' +
    '"items":[{"sku":"\\u0053KU-1\\n","quantity":1,"unit_price":1.5,"category":"Bücher"}],' +
    '"current_status":"CREATED"}';
  const value = ENCODER.encode(text);
  const output = encodeStaged(staged([raw(value, 7n)]), 0);
  const [line] = splitLines(output);
  assert.deepEqual(payloadBytes(line), value);
  const row = JSON.parse(DECODER.decode(line));
  assert.equal(row.payload.user_id, 'Zoë "the \\ quote" 😀 用户');
  assert.equal(row.payload.items[0].sku, "SKU-1\n");
  assert.equal(row.payload.items[0].category, "Bücher");
});

Deno.test("encodeStaged keeps a payload with line breaks between tokens on one line", () => {
  const text = JSON.stringify(
    {
      event_id: "0b9f3c2e-8d41-4a6b-9c57-2f1e0d3a4b5c",
      event_type: "ORDER_CREATED",
      event_timestamp: 1767225600,
      order_id: "o-1",
      user_id: "u",
      total_amount: 2,
      currency: "USD",
      payment_method: null,
      items: [{ sku: "s", quantity: 1, unit_price: 2, category: "c" }],
      current_status: "CREATED",
    },
    null,
    2,
  ).replaceAll("\n", "\r\n");
  const value = ENCODER.encode(text);
  const before = value.slice();
  const output = encodeStaged(staged([raw(value, 0n), raw(value, 1n)]), 0);
  assert.deepEqual(value, before, "the record's own bytes are untouched");
  const rows = lines(output).map((l) => JSON.parse(l));
  assert.equal(rows.length, 2);
  assert.deepEqual(rows[1].payload, JSON.parse(text));
});

Deno.test("encodeStaged writes offsets beyond 2^53 exactly and escapes the topic", () => {
  const value = ENCODER.encode(
    '{"event_id":"0b9f3c2e-8d41-4a6b-9c57-2f1e0d3a4b5c","event_type":"ORDER_CREATED",' +
      '"event_timestamp":1767225600,"order_id":"o","user_id":"u","total_amount":0,' +
      '"currency":"USD","payment_method":"x","items":[{"sku":"s","quantity":1,"unit_price":0,' +
      '"category":"c"}],"current_status":"CREATED"}',
  );
  const record = { ...raw(value, 9_007_199_254_740_993n, 3), topic: 'we"ird' };
  const text = DECODER.decode(encodeStaged(staged([record]), 5));
  assert.ok(text.startsWith('{"kafka_topic":"we\\"ird","kafka_partition":3,'), text);
  assert.ok(text.includes('"kafka_offset":9007199254740993,'), text);
});

Deno.test("encodeStaged writes null for a record without a timestamp (-1), the number otherwise", () => {
  const source = new EventSource({
    seed: "columnar-ts",
    startTimeMs: Date.UTC(2026, 0, 1),
    badRate: 0,
    clock: systemClock,
  });
  const [a, b, c] = source.take(3).map((m, i) => raw(m.value, BigInt(i)));
  const records = [
    { ...a, timestampMs: -1 },
    { ...b, timestampMs: 0 },
    { ...c, timestampMs: 253_402_300_799_999 },
  ];
  const output = encodeStaged(staged(records), 5);
  assert.deepEqual(
    lines(output).map((l) => JSON.parse(l).kafka_timestamp_ms),
    [null, 0, 253_402_300_799_999],
  );
  assert.match(
    DECODER.decode(output),
    /"kafka_offset":0,"kafka_timestamp_ms":null,"ingested_at_ms":5,/,
  );
});

Deno.test("encodeStaged of nothing is empty", () => {
  assert.equal(encodeStaged([], 0).length, 0);
});

Deno.test("encodeStaged grows past its first estimate for long topics", () => {
  const value = ENCODER.encode(
    '{"event_id":"0b9f3c2e-8d41-4a6b-9c57-2f1e0d3a4b5c","event_type":"ORDER_CREATED",' +
      '"event_timestamp":1767225600,"order_id":"o","user_id":"u","total_amount":0,' +
      '"currency":"USD","payment_method":"x","items":[{"sku":"s","quantity":1,"unit_price":0,' +
      '"category":"c"}],"current_status":"CREATED"}',
  );
  const topic = "t".repeat(249);
  const records = Array.from({ length: 50 }, (_, i) => ({ ...raw(value, BigInt(i)), topic }));
  const rows = lines(encodeStaged(staged(records), 0)).map((l) => JSON.parse(l));
  assert.equal(rows.length, 50);
  assert.ok(rows.every((r, i) => r.kafka_topic === topic && r.kafka_offset === i));
});

function rejectsOf(output: Uint8Array): Record<string, unknown>[] {
  return lines(output).map((l) => JSON.parse(l));
}

Deno.test("encodeRejects keeps the payload exactly as received", () => {
  const invalid = new Uint8Array([
    0x7b,
    0x22,
    0x61,
    0x22,
    0x3a,
    0x22,
    0xc3,
    0x28,
    0x22,
    0x7d,
    0xff,
  ]);
  const text = '{"event_type":"ORDER_TELEPORTED","note":"Zoë 😀 \\"q\\""}';
  const rejects: RejectedRecord[] = [
    { record: raw(invalid, 10n, 2), reason: "invalid UTF-8 at byte 6", kind: "invalid_utf8" },
    {
      record: raw(ENCODER.encode(text), 11n, 2),
      reason: 'event_type: unknown event type "ORDER_TELEPORTED"',
      kind: "unknown_event_type",
    },
    { record: raw(null, 12n, 2), reason: "payload is null", kind: "null_value" },
  ];
  const rows = rejectsOf(encodeRejects(rejects, 1_767_225_700_000.5));
  assert.deepEqual(rows[0], {
    topic: "orders",
    partition: 2,
    offset: 10,
    received_at_ms: 1_767_225_700_000,
    kind: "invalid_utf8",
    reason: "invalid UTF-8 at byte 6",
    payload_base64: invalid.toBase64(),
  });
  assert.deepEqual(Uint8Array.fromBase64(rows[0].payload_base64 as string), invalid);
  assert.deepEqual(
    Uint8Array.fromBase64(rows[1].payload_base64 as string),
    ENCODER.encode(text),
  );
  assert.equal(rows[1].kind, "unknown_event_type");
  assert.equal(rows[2].payload_base64, null);
  // The text is derived when the file is read (REJECT_PAYLOAD_TEXT_SQL), not written twice.
  for (const row of rows) assert.ok(!("payload_text" in row));
});

Deno.test("encodeRejects keeps a byte order mark and line breaks in the payload", () => {
  const text = '\uFEFF{"a":\n1}';
  const output = encodeRejects([{
    record: raw(ENCODER.encode(text), 0n),
    reason: "malformed JSON\nat line 2",
    kind: "malformed_json",
  }], 0);
  const [row] = rejectsOf(output);
  assert.equal(lines(output).length, 1);
  assert.deepEqual(Uint8Array.fromBase64(row.payload_base64 as string), ENCODER.encode(text));
  assert.equal(row.reason, "malformed JSON\nat line 2");
});

Deno.test("encodeRejects writes a reason with a lone surrogate as well-formed text", () => {
  const output = encodeRejects([{
    record: raw(ENCODER.encode("x"), 0n),
    reason: "bad \ud800 half",
    kind: "malformed_json",
  }], 0);
  assert.ok(!DECODER.decode(output).includes("\\ud800"));
  assert.equal(rejectsOf(output)[0].reason, "bad \uFFFD half");
});

Deno.test("encodeRejects of nothing is empty", () => {
  assert.equal(encodeRejects([], 0).length, 0);
});
