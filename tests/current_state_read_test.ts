/**
 * orders_current's state store reads a batch's rows from the recent end of
 * the store and, one by one, the few old rows below it (state_store.ts): on a
 * generated stream whose orders come back after many others, both kinds of
 * read happen, and the table and the store end exactly as the model says
 * (a row missed by the read would be inserted twice, a stale one would
 * undo a change).
 * In-process engine on a local warehouse; the table read back with pyiceberg.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DuckDb, sqlString } from "../src/duckdb/duckdb.ts";
import { startEngine } from "../src/streams/engine.ts";
import { SHIPPED_MERGE_UNREAD } from "../src/streams/tables.ts";
import {
  assertCurrentRows,
  assertStateMatchesTable,
  engineConfig,
  expectedCurrent,
  generated,
  localWarehouse,
  place,
  rawRecords,
  readCurrent,
  stateFile,
  storeColumns,
} from "./_current.ts";

Deno.test("the state store reads recent and old rows of a batch; the table and the store match the model", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const placed = place(generated("current-state-read", 40_000, 0.01));
    const log: string[] = [];
    const engine = await startEngine(
      // A store of 40,000 events is too small for an old row to be worth a row
      // group's read; at 16 rows' cost, the orders that come back late are read one by one.
      engineConfig(dir, { log, logLevel: "debug", batchRecordsMax: 4_000, stateOldRowCost: 16 }),
    );
    try {
      await engine.pipeline.offer(rawRecords(placed, "orders"));
      await engine.pipeline.flush();
      // The index that found every batch's rows holds exactly the store's rows.
      assert.equal(await engine.current!.state.checkIndex(), undefined);
    } finally {
      await engine.close();
    }
    const reads = log.flatMap((l) => {
      const m = /fetch \((\d+) rows: (\d+) in range, (\d+) old;/.exec(l);
      return m ? [{ hits: Number(m[1]), range: Number(m[2]), old: Number(m[3]) }] : [];
    });
    assert.ok(reads.length >= 9, `${reads.length} fetches logged:\n${log.join("\n")}`);
    assert.ok(reads.some((r) => r.old > 0), `no batch read an old row: ${JSON.stringify(reads)}`);
    assert.ok(reads.some((r) => r.hits > r.old && r.range > 0), JSON.stringify(reads));
    const at = localWarehouse(dir);
    assertCurrentRows(await readCurrent(at), expectedCurrent(placed));
    await assertStateMatchesTable(join(dir, "state"), at, dir);
    // With the shipped current_merge.sql the store leaves out the columns it never reads.
    const kept = await storeColumns(join(dir, "state"));
    for (const name of SHIPPED_MERGE_UNREAD) assert.ok(!kept.includes(name), kept.join(", "));
    for (const name of ["order_id", "status", "created_at", "event_count", "last_kafka_offset"]) {
      assert.ok(kept.includes(name), kept.join(", "));
    }
    // Its strings are compressed as storeCompression asks: the key as is,
    // the others by dictionary where that pays and as is where it does not
    // (DuckDB's own choice would put FSST on some of them).
    const duckdb = await DuckDb.open();
    try {
      await duckdb.run(`ATTACH ${sqlString(await stateFile(join(dir, "state")))} AS s (READ_ONLY)`);
      const segments = await duckdb.query<{ column_name: string; compression: string; n: number }>(
        `SELECT column_name, compression, count(*)::INTEGER AS n
         FROM pragma_storage_info('s.current_rows') WHERE segment_type = 'VARCHAR' GROUP BY ALL`,
      );
      const by = (c: string) =>
        new Set(segments.filter((r) => r.column_name === c).map((r) => r.compression));
      assert.deepEqual(by("order_id"), new Set(["Uncompressed"]), JSON.stringify(segments));
      assert.ok(by("status").has("Dictionary"), JSON.stringify(segments));
      assert.ok(by("_file").size > 0, JSON.stringify(segments));
      for (const r of segments) {
        if (r.column_name === "items") continue; // the nested strings: DuckDB's choice
        assert.ok(
          ["Uncompressed", "Dictionary", "Constant"].includes(r.compression),
          `${r.column_name}: ${r.compression}`,
        );
      }
    } finally {
      duckdb.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
