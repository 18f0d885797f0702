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
import { DuckDb, sqlString } from "../duckdb/duckdb.ts";
import { EVENT_PAYLOAD_STRUCT } from "../events/contract.ts";
import { decodeBatch } from "./decode.ts";
import { packBatch } from "./packed.ts";
import { stagedColumns } from "./_fixtures.ts";
import { REJECT_STAGED_COLUMNS } from "./staged.ts";
import { isOneLine, mutatedCorpus } from "./_fuzz.ts";

const ENCODER = new TextEncoder();
const RECORDS = 4000;
const ROUNDS = 5;

const STAGED_COLUMNS = stagedColumns(EVENT_PAYLOAD_STRUCT);

Deno.test(`seeded byte mutations: ${ROUNDS} x ${RECORDS} records, each a row or a reject, all readable`, async () => {
  const duckdb = await DuckDb.open({ threads: 1 });
  const dir = await Deno.makeTempDir({ prefix: "lakehouse-fuzz-" });
  try {
    let accepted = 0;
    let rejected = 0;
    const kinds = new Set<string>();
    for (let round = 0; round < ROUNDS; round++) {
      const records = mutatedCorpus(`fuzz-${round}`, RECORDS);
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
          }, format = 'newline_delimited', columns = ${REJECT_STAGED_COLUMNS})`,
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
