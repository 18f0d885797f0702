/**
 * The staging contract from the reader's side: whatever validateEvent accepts,
 * DuckDB's read_json reads from encodeStaged's output with the typed payload
 * columns the events writer uses; and what it rejects for DuckDB's sake would
 * indeed fail a whole staged file.
 */
import assert from "node:assert/strict";
import { systemClock } from "../core/clock.ts";
import { DuckDb, sqlString } from "../duckdb/duckdb.ts";
import { EventSource } from "../generate/source.ts";
import { encodeStaged, stagedColumns } from "./_fixtures.ts";
import {
  encodeRejects,
  REJECT_PAYLOAD_TEXT_SQL,
  REJECT_STAGED_COLUMNS,
  type RejectedRecord,
} from "./staged.ts";
import type { RawRecord } from "./types.ts";
import { validateEvent } from "./validate.ts";

const ENCODER = new TextEncoder();

/** Same shape as the events writer's staged payload type (src/streams/streams.ts). */
const PAYLOAD_TYPE = "STRUCT(event_id VARCHAR, event_type VARCHAR, event_timestamp DOUBLE, " +
  "order_id VARCHAR, user_id VARCHAR, total_amount DECIMAL(12, 2), currency VARCHAR, " +
  "payment_method VARCHAR, items STRUCT(sku VARCHAR, quantity INTEGER, " +
  "unit_price DECIMAL(12, 2), category VARCHAR)[], current_status VARCHAR)";

const STAGED_COLUMNS = stagedColumns(PAYLOAD_TYPE);

const BASE = {
  event_id: "0b9f3c2e-8d41-4a6b-9c57-2f1e0d3a4b5c",
  event_type: "ORDER_CREATED",
  event_timestamp: 1767225600.5,
  order_id: "o-1",
  user_id: "u-1",
  total_amount: 12.5,
  currency: "USD",
  payment_method: "paypal",
  items: [{ sku: "s", quantity: 1, unit_price: 12.5, category: "c" }],
  current_status: "CREATED",
};
const BASE_TEXT = JSON.stringify(BASE);

/** Accepted payloads that stress the reader: escapes, Unicode, layout, extremes. */
const EDGE_PAYLOADS = [
  BASE_TEXT.replace('"u-1"', '"Zoë \\"q\\" \\\\ \\u0041 \\ud83d\\ude00 😀 \u2028 \\u0000"'),
  BASE_TEXT.replace('"paypal"', "null"),
  BASE_TEXT.replace("{", '{"extra":{"a":[1,{"b":"c:d"}],"big":123456789012345678901234567890},'),
  BASE_TEXT.replace("{", '{"inf":1e999,"deep":' + "[".repeat(500) + "]".repeat(500) + ","),
  JSON.stringify(BASE, null, 2).replaceAll("\n", "\r\n"),
  BASE_TEXT.replace('"quantity":1', '"quantity":1.0').replace(
    '"unit_price":12.5',
    '"unit_price":1.25e1',
  ),
  BASE_TEXT.replace('"total_amount":12.5', '"total_amount":0')
    .replace('"quantity":1,"unit_price":12.5', '"quantity":2147483647,"unit_price":0'),
  BASE_TEXT.replaceAll("12.5", "9999999999.99"),
];

/** Payloads validateEvent refuses because read_json would fail on them. */
const READER_FAULTS = [
  BASE_TEXT.replace('"currency":"USD"', '"currency":"USD","currency":"EUR"'),
  BASE_TEXT.replace('"category":"c"', '"category":"c","sku":"t"'),
  BASE_TEXT.replace('"u-1"', '"\\ud800"'),
  BASE_TEXT.replace("{", '{"x":"\\udc00",'),
  BASE_TEXT.replace('"total_amount":12.5', '"total_amount":0')
    .replace('"quantity":1,"unit_price":12.5', '"quantity":2147483648,"unit_price":0'),
];

function raw(value: Uint8Array | null, offset: number): RawRecord {
  return {
    topic: "orders",
    partition: offset % 4,
    offset: BigInt(offset),
    key: null,
    value,
    timestampMs: 1_767_225_600_000 + offset,
  };
}

async function withEngine(run: (duckdb: DuckDb, dir: string) => Promise<void>): Promise<void> {
  const duckdb = await DuckDb.open({ threads: 1 });
  const dir = await Deno.makeTempDir({ prefix: "lakehouse-batch-" });
  try {
    await run(duckdb, dir);
  } finally {
    duckdb.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function readStaged(path: string): string {
  return `read_json(${sqlString(path)}, format = 'newline_delimited', columns = ${STAGED_COLUMNS})`;
}

Deno.test("read_json reads every payload validateEvent accepts, typed", async () => {
  const source = new EventSource({
    seed: "duckdb",
    startTimeMs: Date.UTC(2026, 0, 1),
    badRate: 0,
    clock: systemClock,
  });
  const values = [
    ...source.take(2000).map((m) => m.value),
    ...EDGE_PAYLOADS.map((p) => ENCODER.encode(p)),
  ];
  const staged = values.map((value, i) => {
    const result = validateEvent(value);
    if (!result.ok) throw new Error(`payload ${i} rejected: ${result.reason}`);
    return { record: raw(value, i), event: result.event };
  });
  await withEngine(async (duckdb, dir) => {
    const path = `${dir}/staged.ndjson`;
    await Deno.writeFile(path, encodeStaged(staged, 1_767_300_000_000));
    const rows = await duckdb.query<Record<string, unknown>>(
      `SELECT kafka_offset, payload.order_id AS order_id, payload.total_amount::VARCHAR AS total,
         payload.user_id AS user_id, payload.payment_method AS payment_method,
         len(payload.items) AS items
       FROM ${readStaged(path)} ORDER BY kafka_offset`,
    );
    assert.equal(rows.length, staged.length);
    rows.forEach((row, i) => {
      const event = staged[i].event;
      assert.equal(row.kafka_offset, BigInt(i));
      assert.equal(row.order_id, event.order_id);
      assert.equal(row.user_id, event.user_id);
      assert.equal(row.payment_method, event.payment_method);
      assert.equal(Number(row.total), event.total_amount);
      assert.equal(Number(row.items), event.items.length);
    });
  });
});

Deno.test("a record without a timestamp stages as null, which the events stream's SQL keeps NULL", async () => {
  const value = ENCODER.encode(BASE_TEXT);
  const event = JSON.parse(BASE_TEXT);
  const records = [-1, 0, 253_402_300_799_999].map((timestampMs, i) => ({
    record: { ...raw(value, i), timestampMs },
    event,
  }));
  await withEngine(async (duckdb, dir) => {
    const path = `${dir}/staged.ndjson`;
    await Deno.writeFile(path, encodeStaged(records, 0));
    // The expression of the events stream's staged select (src/streams/streams.ts).
    const rows = await duckdb.query<{ ms: bigint | null; ts: string | null }>(
      `SELECT kafka_timestamp_ms AS ms,
         strftime(make_timestamptz(kafka_timestamp_ms * 1000) AT TIME ZONE 'UTC',
           '%Y-%m-%dT%H:%M:%S.%g') AS ts
       FROM ${readStaged(path)} ORDER BY kafka_offset`,
    );
    assert.deepEqual(rows, [
      { ms: null, ts: null },
      { ms: 0n, ts: "1970-01-01T00:00:00.000" },
      { ms: 253_402_300_799_999n, ts: "9999-12-31T23:59:59.999" },
    ]);
    // What validateRecord keeps out: an impossible timestamp fails the whole file.
    await Deno.writeFile(
      path,
      encodeStaged([{ ...records[1], record: { ...records[1].record, timestampMs: -1e17 } }], 0),
    );
    await assert.rejects(() =>
      duckdb.query(`SELECT make_timestamptz(kafka_timestamp_ms * 1000) FROM ${readStaged(path)}`)
    );
  });
});

Deno.test("read_json fails a whole file on each fault validateEvent refuses for it", async () => {
  const event = JSON.parse(BASE_TEXT);
  await withEngine(async (duckdb, dir) => {
    for (const [i, payload] of READER_FAULTS.entries()) {
      const value = ENCODER.encode(payload);
      assert.equal(validateEvent(value).ok, false, payload);
      const path = `${dir}/fault-${i}.ndjson`;
      // Staged as if accepted, to show what accepting it would do.
      await Deno.writeFile(path, encodeStaged([{ record: raw(value, i), event }], 0));
      await assert.rejects(() => duckdb.query(`SELECT * FROM ${readStaged(path)}`), payload);
    }
  });
});

/**
 * Payloads on both sides of the UTF-8 line: what a strict TextDecoder
 * accepts must come back as payload_text, what it refuses as NULL.
 */
const TEXT_EDGES: number[][] = [
  [0x61, 0x00, 0x62], // NUL
  [0xef, 0xbb, 0xbf, 0x7b, 0x7d], // byte order mark
  [0xf0, 0x9f, 0x98, 0x80], // 4-byte sequence
  [0xef, 0xbf, 0xbf], // noncharacter U+FFFF
  [0xc2, 0x80], // C1 control
  [0xed, 0xa0, 0x80], // a surrogate encoded (CESU-8)
  [0xc0, 0xaf], // overlong "/"
  [0xf4, 0x90, 0x80, 0x80], // past U+10FFFF
  [0xe2, 0x82], // truncated
  [0xff], // never valid
  [0xf8, 0x88, 0x80, 0x80, 0x80], // 5-byte form
];

Deno.test("read_json reads rejects back to the exact payload bytes and their text", async () => {
  const source = new EventSource({
    seed: "duckdb-rejects",
    startTimeMs: Date.UTC(2026, 0, 1),
    badRate: 1,
    clock: systemClock,
  });
  const rejects: RejectedRecord[] = [];
  const values: (Uint8Array | null)[] = [
    ...source.take(60).map((m) => m.value),
    ...READER_FAULTS.map((p) => ENCODER.encode(p)),
    ...TEXT_EDGES.map((bytes) => new Uint8Array(bytes)),
    null,
  ];
  for (const [i, value] of values.entries()) {
    const result = validateEvent(value);
    if (result.ok) throw new Error(`payload ${i} accepted`);
    rejects.push({ record: raw(value, i), reason: result.reason, kind: result.kind });
  }
  const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  const textOf = (bytes: Uint8Array | null): string | null => {
    try {
      return bytes === null ? null : strict.decode(bytes);
    } catch {
      return null;
    }
  };
  await withEngine(async (duckdb, dir) => {
    const path = `${dir}/rejects.ndjson`;
    await Deno.writeFile(path, encodeRejects(rejects, 1_767_300_000_000));
    const rows = await duckdb.query<Record<string, unknown>>(
      `SELECT "offset", kind, reason, to_base64(payload) AS b64, octet_length(payload) AS size,
         to_base64(encode(${REJECT_PAYLOAD_TEXT_SQL})) AS text_b64
       FROM (SELECT *, from_base64(payload_base64) AS payload FROM read_json(${
        sqlString(path)
      }, format = 'newline_delimited', columns = ${REJECT_STAGED_COLUMNS}))
       ORDER BY "offset"`,
    );
    assert.equal(rows.length, rejects.length);
    let texts = 0;
    rows.forEach((row, i) => {
      const { record, reason, kind } = rejects[i];
      assert.equal(row.kind, kind);
      assert.equal(row.reason, reason);
      assert.equal(row.b64, record.value?.toBase64() ?? null);
      assert.equal(row.size, record.value === null ? null : BigInt(record.value.length));
      // Compared as bytes: reading a string into JS would drop a byte order mark.
      const text = textOf(record.value);
      assert.equal(
        row.text_b64,
        text === null ? null : ENCODER.encode(text).toBase64(),
        `payload_text of record ${i}`,
      );
      if (row.text_b64 !== null) texts++;
    });
    // Both outcomes are exercised, the edge cases on each side included.
    assert.ok(texts > 60 && texts < rows.length - 7, `${texts} of ${rows.length} as text`);
  });
});
