/**
 * Seeded fuzzing of the decode path: payloads and keys of generated records
 * (valid and bad) with random byte mutations go through decodeBatch, and
 * what it stages goes through DuckDB's read_json with the events stream's
 * columns. Whatever the bytes, decoding never throws, every record ends as
 * exactly one accepted row or one reject with a kind and a reason, and
 * DuckDB reads every staged row and every reject (a staged line it could
 * not read would fail the whole batch on every retry).
 */
import assert from "node:assert/strict";
import { systemClock } from "../core/clock.ts";
import { Random } from "../core/random.ts";
import { DuckDb, sqlString } from "../duckdb/duckdb.ts";
import { EVENT_PAYLOAD_STRUCT } from "../events/contract.ts";
import { EventSource } from "../generate/source.ts";
import { decodeBatch, packBatch } from "./decode.ts";
import type { RawRecord } from "./types.ts";

const ENCODER = new TextEncoder();
const RECORDS = 4000;
const ROUNDS = 5;

/** Bytes that tend to matter to a JSON reader or a UTF-8 decoder. */
const INTERESTING = [
  0x22,
  0x5c,
  0x7b,
  0x7d,
  0x5b,
  0x5d,
  0x3a,
  0x2c,
  0x2e,
  0x2d,
  0x2b,
  0x65,
  0x30,
  0x39,
  0x00,
  0x0a,
  0x0d,
  0x20,
  0x7f,
  0x80,
  0xbf,
  0xc0,
  0xc3,
  0xe2,
  0xed,
  0xef,
  0xf0,
  0xf4,
  0xf8,
  0xff,
];
/** Text spliced in: escapes, surrogates, numbers at the edges, structure. */
const SNIPPETS = [
  "\\u0000",
  "\\ud800",
  "\\udc00",
  "\\ud83d\\ude00",
  '\\"',
  "1e999",
  "-0",
  "0.001",
  "1e-7",
  "99999999999",
  "2147483648",
  "null",
  "true",
  "[]",
  "{}",
  '"":""',
  ",",
  "\u2028",
  "😀",
  "\uFEFF",
].map((s) => ENCODER.encode(s));

function mutate(value: Uint8Array, random: Random): Uint8Array {
  let bytes = value;
  const edits = 1 + random.int(3);
  for (let e = 0; e < edits; e++) {
    const at = bytes.length === 0 ? 0 : random.int(bytes.length);
    switch (random.int(7)) {
      case 0: { // flip one bit
        const out = bytes.slice();
        if (out.length > 0) out[at] ^= 1 << random.int(8);
        bytes = out;
        break;
      }
      case 1: { // replace a byte by an interesting one
        const out = bytes.slice();
        if (out.length > 0) out[at] = INTERESTING[random.int(INTERESTING.length)];
        bytes = out;
        break;
      }
      case 2: // delete a run
        bytes = concat(bytes.subarray(0, at), bytes.subarray(at + 1 + random.int(8)));
        break;
      case 3: // insert a snippet
        bytes = concat(
          bytes.subarray(0, at),
          SNIPPETS[random.int(SNIPPETS.length)],
          bytes.subarray(at),
        );
        break;
      case 4: { // duplicate a run (keys, values, whole members)
        const end = Math.min(bytes.length, at + 1 + random.int(40));
        bytes = concat(bytes.subarray(0, end), bytes.subarray(at, end), bytes.subarray(end));
        break;
      }
      case 5: // truncate
        bytes = bytes.subarray(0, at);
        break;
      default: { // swap a digit for another
        const out = bytes.slice();
        for (let i = at; i < out.length; i++) {
          if (out[i] >= 0x30 && out[i] <= 0x39) {
            out[i] = 0x30 + random.int(10);
            break;
          }
        }
        bytes = out;
      }
    }
  }
  return bytes;
}

/** No control characters or line separators: a reason shows as one line. */
function isOneLine(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || c === 0x2028 || c === 0x2029) return false;
  }
  return true;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function corpus(seed: string): RawRecord[] {
  const random = new Random(seed);
  const source = new EventSource({
    seed,
    startTimeMs: Date.UTC(2026, 0, 1),
    badRate: 0.05,
    clock: systemClock,
  });
  return source.take(RECORDS).map((m, i) => {
    const key = ENCODER.encode(m.key);
    const roll = random.int(10);
    return {
      topic: "orders",
      partition: i % 4,
      offset: BigInt(i),
      // Most records mutated, some left as generated (valid or bad), a few
      // keyed by a mutated key or carrying no payload.
      key: roll === 0 ? mutate(key, random) : key,
      value: roll === 1 && random.chance(0.2)
        ? null
        : roll <= 2
        ? m.value
        : mutate(m.value, random),
      timestampMs: random.chance(0.01) ? -1 - random.int(3) : 1_767_225_600_000 + i,
    };
  });
}

const STAGED_COLUMNS = `{kafka_topic: 'VARCHAR', kafka_partition: 'INTEGER', ` +
  `kafka_offset: 'BIGINT', kafka_timestamp_ms: 'BIGINT', ingested_at_ms: 'BIGINT', ` +
  `payload: '${EVENT_PAYLOAD_STRUCT}'}`;
const REJECT_COLUMNS = `{topic: 'VARCHAR', partition: 'INTEGER', "offset": 'BIGINT', ` +
  `received_at_ms: 'BIGINT', kind: 'VARCHAR', reason: 'VARCHAR', payload_base64: 'VARCHAR', ` +
  `payload_text: 'VARCHAR'}`;

Deno.test(`seeded byte mutations: ${ROUNDS} x ${RECORDS} records, each a row or a reject, all readable`, async () => {
  const duckdb = await DuckDb.open({ threads: 1 });
  const dir = await Deno.makeTempDir({ prefix: "lakehouse-fuzz-" });
  try {
    let accepted = 0;
    let rejected = 0;
    const kinds = new Set<string>();
    for (let round = 0; round < ROUNDS; round++) {
      const records = corpus(`fuzz-${round}`);
      const decoded = decodeBatch(packBatch(records), 1_767_300_000_000, `${dir}/r${round}`);
      // Each record exactly once: accepted, or rejected with a kind and a reason.
      const rejectedAt = new Set(decoded.rejections.map((r) => r.index));
      assert.equal(rejectedAt.size, decoded.rejections.length, "a record rejected twice");
      assert.equal(decoded.accepted + decoded.rejections.length, records.length);
      for (const r of decoded.rejections) {
        assert.ok(r.index >= 0 && r.index < records.length);
        assert.ok(r.kind.length > 0 && r.reason.length > 0, `reject ${r.index} without a reason`);
        assert.ok(isOneLine(r.reason), `reason ${r.index} is not one line: ${r.reason}`);
        kinds.add(r.kind);
      }
      // DuckDB reads every staged row, in order, with the lineage of the accepted records.
      const expected = records.map((r, i) => ({ r, i })).filter(({ i }) => !rejectedAt.has(i));
      const rows = await duckdb.query<{ kafka_offset: bigint; order_id: string | null }>(
        `SELECT kafka_offset, payload.order_id AS order_id FROM read_json(${
          sqlString(decoded.stagedPath)
        }, format = 'newline_delimited', columns = ${STAGED_COLUMNS})`,
      );
      assert.deepEqual(rows.map((r) => r.kafka_offset), expected.map(({ r }) => r.offset));
      for (const [n, row] of rows.entries()) {
        // The key the record carried is the order_id DuckDB read.
        assert.deepEqual(ENCODER.encode(row.order_id ?? ""), expected[n].r.key);
      }
      if (decoded.rejectsPath !== undefined) {
        const [{ n }] = await duckdb.query<{ n: bigint }>(
          `SELECT count(*)::BIGINT AS n FROM read_json(${
            sqlString(decoded.rejectsPath)
          }, format = 'newline_delimited', columns = ${REJECT_COLUMNS})`,
        );
        assert.equal(Number(n), decoded.rejections.length);
      }
      accepted += decoded.accepted;
      rejected += decoded.rejections.length;
    }
    // The corpus exercises both outcomes and many kinds of rejection.
    assert.ok(accepted > ROUNDS * RECORDS * 0.05, `only ${accepted} accepted`);
    assert.ok(rejected > ROUNDS * RECORDS * 0.5, `only ${rejected} rejected`);
    assert.ok(kinds.size >= 8, `reject kinds seen: ${[...kinds].join(", ")}`);
  } finally {
    duckdb.close();
    await Deno.remove(dir, { recursive: true });
  }
});
