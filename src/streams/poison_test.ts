/**
 * No record stops its partition: records a table write fails on (here, an
 * events.sql that calls error() for one user) are isolated and sent to
 * orders_rejects as write_failed, the rest of their batch commits, exactly
 * once, also across a crash between the dead-letter commit and the events
 * commit. Against a real local warehouse and SQLite catalog, fed in-process.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { RawRecord } from "../batch/types.ts";
import { openCatalog } from "../catalog/mod.ts";
import { FakeClock } from "../core/clock.ts";
import { LakehouseError } from "../core/errors.ts";
import { createLogger } from "../core/log.ts";
import { DuckDb } from "../duckdb/duckdb.ts";
import { EventSource } from "../generate/source.ts";
import { planScan } from "../iceberg/scan/plan.ts";
import { createScanView } from "../iceberg/scan/view.ts";
import { loadTable, ManifestReader } from "../iceberg/table.ts";
import { openStore } from "../storage/mod.ts";
import { type EngineConfig, startEngine } from "./engine.ts";
import { readOffsets } from "./offsets.ts";
import { NAMESPACE } from "./tables.ts";

const TOPIC = "orders";
const PARTITIONS = 2;
const POISON_USER = "user-poison";
const ENCODER = new TextEncoder();

/** Seeded events (no bad records), with the events of `poisoned` orders' first event rewritten to POISON_USER. */
function feed(count: number, poisoned: ReadonlySet<number>): RawRecord[] {
  const source = new EventSource({
    seed: "poison",
    startTimeMs: Date.UTC(2026, 0, 1),
    badRate: 0,
    clock: new FakeClock(),
  });
  const next = new Array<bigint>(PARTITIONS).fill(0n);
  return source.take(count).map((m, i) => {
    const partition = i % PARTITIONS;
    const offset = next[partition]++;
    let value = m.value;
    if (poisoned.has(i)) {
      const event = JSON.parse(new TextDecoder().decode(value));
      event.user_id = POISON_USER;
      value = ENCODER.encode(JSON.stringify(event));
    }
    return {
      topic: TOPIC,
      partition,
      offset,
      key: ENCODER.encode(m.key),
      value,
      timestampMs: 1_767_225_600_000 + i,
    };
  });
}

/** A copy of the shipped SQL files whose events.sql fails on POISON_USER. */
async function poisonSqlDir(dir: string): Promise<string> {
  const sqlDir = join(dir, "sql");
  await Deno.mkdir(sqlDir);
  const shipped = new URL("../../sql/", import.meta.url);
  const events = await Deno.readTextFile(new URL("events.sql", shipped));
  const edited = events.replace(
    /payload\.user_id(\s+)AS user_id/,
    `CASE WHEN payload.user_id = '${POISON_USER}' THEN error('refusing user ' || payload.user_id) ` +
      "ELSE payload.user_id END$1AS user_id",
  );
  assert.notEqual(edited, events, "events.sql no longer has the line this test edits");
  await Deno.writeTextFile(join(sqlDir, "events.sql"), edited);
  for (const name of ["rejects.sql", "current_changes.sql", "current_merge.sql"]) {
    await Deno.copyFile(new URL(name, shipped), join(sqlDir, name));
  }
  return sqlDir;
}

function config(dir: string, sqlDir: string, clock: FakeClock): EngineConfig {
  return {
    warehouse: join(dir, "wh"),
    catalog: join(dir, "catalog.db"),
    topic: TOPIC,
    sqlDir,
    tempDir: join(dir, "tmp"),
    stateDir: join(dir, "state"),
    targetFileSizeBytes: 128 << 20,
    batchRecordsMax: 100,
    batchBytesMax: 1 << 30,
    triggerIntervalMs: 3_600_000,
    queuedBatchesMax: 1,
    decodeInline: true,
    clock,
    logger: createLogger("silent"),
  };
}

/** Every row of a table, by our own scan. */
async function rows(dir: string, name: string): Promise<Record<string, unknown>[]> {
  const catalog = await openCatalog(join(dir, "catalog.db"));
  const store = openStore(`file://${join(dir, "wh")}`, undefined);
  const duckdb = await DuckDb.open();
  try {
    const table = await loadTable(catalog, store, { namespace: [...NAMESPACE], name });
    const plan = await planScan(table.metadata, new ManifestReader(store));
    await createScanView(plan, { duckdb, store, cacheDir: join(dir, "cache"), name: "t" });
    return await duckdb.query("SELECT * FROM t");
  } finally {
    duckdb.close();
    await catalog.close();
  }
}

async function offsets(dir: string, name: string) {
  const catalog = await openCatalog(join(dir, "catalog.db"));
  try {
    const store = openStore(`file://${join(dir, "wh")}`, undefined);
    const table = await loadTable(catalog, store, { namespace: [...NAMESPACE], name });
    return Object.fromEntries(readOffsets(table.metadata, TOPIC));
  } finally {
    await catalog.close();
  }
}

async function withDir(test: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await test(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function assertExactlyOnce(
  records: readonly RawRecord[],
  poisoned: ReadonlySet<number>,
  events: Record<string, unknown>[],
  rejects: Record<string, unknown>[],
): void {
  const where = (r: { partition?: unknown; offset?: unknown }) => `${r.partition}/${r.offset}`;
  const eventKeys = events.map((e) =>
    where({ partition: e.kafka_partition, offset: e.kafka_offset })
  );
  assert.equal(new Set(eventKeys).size, eventKeys.length, "duplicate in orders_events");
  const rejectKeys = rejects.map(where);
  assert.equal(new Set(rejectKeys).size, rejectKeys.length, "duplicate in orders_rejects");
  const expectedRejects = records.filter((_, i) => poisoned.has(i)).map(where).sort();
  assert.deepEqual(rejectKeys.sort(), expectedRejects);
  assert.equal(events.length, records.length - poisoned.size);
  assert.ok(!events.some((e) => e.user_id === POISON_USER));
  for (const r of rejects) {
    assert.equal(r.reject_kind, "write_failed");
    assert.match(
      String(r.reason),
      /^orders_events write failed \(events\.sql\): Invalid Input Error: refusing user user-poison$/,
    );
    const record = records.find((x) => where(x) === where(r))!;
    // The payload as received, byte for byte.
    assert.deepEqual(new Uint8Array(r.payload as Uint8Array), record.value);
  }
}

Deno.test("a record its events.sql fails on goes to orders_rejects as write_failed; its batch commits", () =>
  withDir(async (dir) => {
    const poisoned = new Set([3, 150, 151, 399]);
    const records = feed(400, poisoned);
    const sqlDir = await poisonSqlDir(dir);
    const engine = await startEngine(config(dir, sqlDir, new FakeClock(1_767_225_600_000)));
    await engine.pipeline.offer(records);
    await engine.pipeline.flush();
    assert.equal(engine.pipeline.stats.writeFailures, poisoned.size);
    await engine.close();
    assertExactlyOnce(
      records,
      poisoned,
      await rows(dir, "orders_events"),
      await rows(dir, "orders_rejects"),
    );
    const end = { 0: 200n, 1: 200n };
    assert.deepEqual(await offsets(dir, "orders_events"), end);
    assert.deepEqual(await offsets(dir, "orders_rejects"), end);

    // Replaying everything adds nothing.
    const again = await startEngine(config(dir, sqlDir, new FakeClock(1_767_225_700_000)));
    await again.pipeline.offer(records);
    await again.pipeline.flush();
    await again.close();
    assertExactlyOnce(
      records,
      poisoned,
      await rows(dir, "orders_events"),
      await rows(dir, "orders_rejects"),
    );
  }));

Deno.test("a crash after the write failures are dead-lettered, before the events commit, loses and repeats nothing", () =>
  withDir(async (dir) => {
    const poisoned = new Set([10, 11, 250]);
    const records = feed(300, poisoned);
    const sqlDir = await poisonSqlDir(dir);
    const first = await startEngine(config(dir, sqlDir, new FakeClock(1_767_225_600_000)));
    // The process "dies" at the events commit of the first batch.
    const publish = first.events!.publish.bind(first.events);
    let crashed = false;
    first.events!.publish = (prepared) => {
      if (!crashed) {
        crashed = true;
        return Promise.reject(new LakehouseError("simulated crash"));
      }
      return publish(prepared);
    };
    await assert.rejects(async () => {
      await first.pipeline.offer(records);
      await first.pipeline.flush();
    }, /simulated crash/);
    await first.close();
    // The dead-letter table holds the first batch (two write failures), events nothing.
    assert.deepEqual(await offsets(dir, "orders_events"), {});
    assert.deepEqual(await offsets(dir, "orders_rejects"), { 0: 50n, 1: 50n });
    assert.equal((await rows(dir, "orders_rejects")).length, 2);

    const second = await startEngine(config(dir, sqlDir, new FakeClock(1_767_225_700_000)));
    assert.deepEqual(Object.fromEntries(await second.pipeline.startOffsets([0, 1])), {
      0: 0n,
      1: 0n,
    });
    await second.pipeline.offer(records);
    await second.pipeline.flush();
    await second.close();
    assertExactlyOnce(
      records,
      poisoned,
      await rows(dir, "orders_events"),
      await rows(dir, "orders_rejects"),
    );
  }));

Deno.test("an events.sql that fails on every event stops start-up, naming the file", () =>
  withDir(async (dir) => {
    const sqlDir = await poisonSqlDir(dir);
    const path = join(sqlDir, "events.sql");
    const text = await Deno.readTextFile(path);
    await Deno.writeTextFile(
      path,
      text.replace(
        /payload\.currency(\s+)AS currency/,
        "CAST(payload.currency AS INTEGER)$1AS currency",
      ),
    );
    await assert.rejects(
      startEngine(config(dir, sqlDir, new FakeClock(0))),
      (error: Error) => {
        assert.ok(
          error.message.startsWith(`${path}: fails on a valid sample event`),
          error.message,
        );
        assert.match(error.message, /Conversion Error/);
        return true;
      },
    );
  }));

Deno.test("rejects a customized rejects.sql fails on are written through the built-in one", () =>
  withDir(async (dir) => {
    const sqlDir = await poisonSqlDir(dir);
    const path = join(sqlDir, "rejects.sql");
    const text = await Deno.readTextFile(path);
    const edited = text.replace(
      /^(\s*)reason,$/m,
      "$1CASE WHEN reject_kind = 'malformed_json' THEN error('no malformed JSON here') " +
        "ELSE 'custom: ' || reason END AS reason,",
    );
    assert.notEqual(edited, text, "rejects.sql no longer has the line this test edits");
    await Deno.writeTextFile(path, edited);
    const source = new EventSource({
      seed: "bad-rejects",
      startTimeMs: Date.UTC(2026, 0, 1),
      badRate: 0.2,
      clock: new FakeClock(),
    });
    const next = [0n, 0n];
    const messages = source.take(400);
    const records: RawRecord[] = messages.map((m, i) => ({
      topic: TOPIC,
      partition: i % 2,
      offset: next[i % 2]++,
      key: ENCODER.encode(m.key),
      value: m.value,
      timestampMs: 1_767_225_600_000 + i,
    }));
    const engine = await startEngine(config(dir, sqlDir, new FakeClock(1_767_225_600_000)));
    await engine.pipeline.offer(records);
    await engine.pipeline.flush();
    const rejected = engine.pipeline.stats.rejects;
    await engine.close();
    const rejects = await rows(dir, "orders_rejects");
    assert.equal(rejects.length, rejected);
    const malformed = rejects.filter((r) => r.reject_kind === "malformed_json");
    assert.ok(malformed.length > 0 && malformed.length < rejects.length, `${malformed.length}`);
    for (const r of rejects) {
      const reason = String(r.reason);
      if (r.reject_kind === "malformed_json") assert.match(reason, /^malformed JSON/);
      else assert.match(reason, /^custom: /);
    }
  }));
