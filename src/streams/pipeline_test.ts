/**
 * The pipeline against a real warehouse and SQLite catalog, fed in-process:
 * offsets bookkeeping across restarts, replays, and the dead-letter stream
 * holding its rejects back between commits.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { RawRecord } from "../batch/types.ts";
import { validateEvent } from "../batch/validate.ts";
import { openCatalog } from "../catalog/mod.ts";
import { FakeClock } from "../core/clock.ts";
import { createLogger } from "../core/log.ts";
import { EventSource } from "../generate/source.ts";
import { loadTable } from "../iceberg/table.ts";
import { openStore } from "../storage/mod.ts";
import { type EngineConfig, type RunningEngine, startEngine } from "./engine.ts";
import { readOffsets } from "./offsets.ts";
import { NAMESPACE } from "./tables.ts";

const TOPIC = "orders";
const PARTITIONS = [0, 1, 2];

function feed(count: number): RawRecord[] {
  const source = new EventSource({
    seed: "pipeline",
    startTimeMs: Date.UTC(2026, 0, 1),
    badRate: 0.05,
    clock: new FakeClock(),
  });
  const next = new Map<number, bigint>();
  return source.take(count).map((m, i) => {
    const partition = i % PARTITIONS.length;
    const offset = next.get(partition) ?? 0n;
    next.set(partition, offset + 1n);
    const key = new TextEncoder().encode(m.key);
    return { topic: TOPIC, partition, offset, key, value: m.value, timestampMs: i };
  });
}

function config(dir: string, clock: FakeClock, decodeInline: boolean): EngineConfig {
  return {
    warehouse: join(dir, "wh"),
    catalog: join(dir, "catalog.db"),
    topic: TOPIC,
    tempDir: join(dir, "tmp"),
    stateDir: join(dir, "state"),
    targetFileSizeBytes: 128 << 20,
    batchRecordsMax: 300,
    batchBytesMax: 1 << 30,
    triggerIntervalMs: 3_600_000,
    queuedBatchesMax: 1,
    decodeInline,
    clock,
    logger: createLogger("silent"),
  };
}

/** Rows and next offsets of a table, as committed. */
async function committed(dir: string, name: string) {
  const catalog = await openCatalog(join(dir, "catalog.db"));
  try {
    const store = openStore(`file://${join(dir, "wh")}`, undefined);
    const table = await loadTable(catalog, store, { namespace: [...NAMESPACE], name });
    const snapshot = table.metadata.snapshots?.find((s) =>
      s["snapshot-id"] === table.metadata["current-snapshot-id"]
    );
    return {
      rows: Number(snapshot?.summary["total-records"] ?? 0),
      snapshots: table.metadata.snapshots?.length ?? 0,
      offsets: Object.fromEntries(readOffsets(table.metadata, TOPIC)),
    };
  } finally {
    await catalog.close();
  }
}

async function waitFor(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 600 && !ok(); i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(ok(), `timed out waiting for ${what}`);
}

for (const decodeInline of [false, true]) {
  const how = decodeInline ? "inline" : "in the decode worker";
  Deno.test(`pipeline (${how}): rejects wait for their commit, a restart reads them again, nothing twice`, async () => {
    const dir = await Deno.makeTempDir();
    try {
      const records = feed(1_000);
      const bad = records.filter((r) => !validateEvent(r.value).ok).length;
      const clock = new FakeClock(1_767_225_600_000);

      // First run: three full batches go through, the rest stays open, no flush.
      const first = await startEngine(config(dir, clock, decodeInline));
      await first.pipeline.offer(records.slice(0, 950));
      await waitFor("three batches", () => first.pipeline.stats.batches === 3);
      const rejectsSoFar = first.pipeline.stats.rejects;
      assert.ok(rejectsSoFar > 0, "the first 900 records hold rejects");
      await first.close();
      // Its scratch files (staged batches, held-back rejects) are gone with it.
      assert.throws(() => Deno.statSync(join(dir, "tmp")), Deno.errors.NotFound);

      const events = await committed(dir, "orders_events");
      assert.deepEqual(events.offsets, { 0: 300n, 1: 300n, 2: 300n });
      assert.equal(events.rows, 900 - rejectsSoFar);
      // The dead-letter table has not committed yet (its idle interval did not pass).
      const rejects = await committed(dir, "orders_rejects");
      assert.deepEqual(rejects.offsets, {});
      assert.equal(rejects.rows, 0);

      // Second run starts where the lagging table is, replays the events
      // already committed as no-ops, and commits the rejects exactly once.
      const second = await startEngine(config(dir, clock, decodeInline));
      assert.deepEqual(
        Object.fromEntries(await second.pipeline.startOffsets(PARTITIONS)),
        { 0: 0n, 1: 0n, 2: 0n },
      );
      await second.pipeline.offer(records);
      await second.pipeline.flush();
      // Skipped counts records every table already had: none, the dead-letter table had nothing.
      assert.equal(second.pipeline.stats.skipped, 0);
      const totalRejects = second.pipeline.stats.rejects;
      await second.close();

      const eventsAfter = await committed(dir, "orders_events");
      const rejectsAfter = await committed(dir, "orders_rejects");
      const end = { 0: 334n, 1: 333n, 2: 333n };
      assert.deepEqual(eventsAfter.offsets, end);
      assert.deepEqual(rejectsAfter.offsets, end);
      assert.equal(eventsAfter.rows + rejectsAfter.rows, 1_000);
      assert.equal(rejectsAfter.rows, totalRejects);
      // The rows the flush committed are counted in the final report too.
      assert.equal(second.pipeline.stats.rows.get("orders_rejects"), BigInt(totalRejects));
      assert.ok(bad > 0);
      assert.equal(totalRejects, bad);
      // The rejects went in one commit at flush, not one per batch.
      assert.equal(rejectsAfter.snapshots, 1);

      // A third run over the same records changes nothing.
      const third = await startEngine(config(dir, clock, decodeInline));
      await third.pipeline.offer(records);
      await third.pipeline.flush();
      assert.equal(third.pipeline.stats.skipped, 1_000);
      await third.close();
      assert.deepEqual(await committed(dir, "orders_events"), eventsAfter);
      assert.deepEqual(await committed(dir, "orders_rejects"), rejectsAfter);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

/** A fresh warehouse and an engine (inline decoding, fake clock) for one test. */
async function withEngine(
  test: (dir: string, clock: FakeClock, engine: RunningEngine) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    const clock = new FakeClock(1_767_225_600_000);
    await test(dir, clock, await startEngine(config(dir, clock, true)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("pipeline commits rejects once their idle interval has passed", () =>
  withEngine(async (dir, clock, engine) => {
    const records = feed(600);
    await engine.pipeline.offer(records.slice(0, 300));
    await waitFor("one batch", () => engine.pipeline.stats.batches === 1);
    assert.deepEqual((await committed(dir, "orders_rejects")).offsets, {});
    clock.advance(60_000);
    await engine.pipeline.offer(records.slice(300, 600));
    await waitFor("two batches", () => engine.pipeline.stats.batches === 2);
    const rejects = await committed(dir, "orders_rejects");
    assert.deepEqual(rejects.offsets, { 0: 200n, 1: 200n, 2: 200n });
    assert.equal(rejects.rows, engine.pipeline.stats.rejects);
    await engine.close();
  }));

Deno.test("pipeline: a partition revoked and assigned back while its rejects wait has each reject once", () =>
  withEngine(async (dir, _clock, engine) => {
    const records = feed(900);
    const bad = records.filter((r) => !validateEvent(r.value).ok).length;
    // Two full batches: partition 1's rejects are read and held back.
    await engine.pipeline.offer(records.slice(0, 600));
    await waitFor("two batches", () => engine.pipeline.stats.batches === 2);
    assert.deepEqual((await committed(dir, "orders_rejects")).offsets, {});
    // Partition 1 goes to another member and comes back before anything committed
    // its rejects: it is read again from the lowest table offset.
    engine.pipeline.revoke([1]);
    const start = (await engine.pipeline.startOffsets([1])).get(1);
    assert.equal(start, 0n);
    await engine.pipeline.offer(records.filter((r) => r.partition === 1 && r.offset < 200n));
    await engine.pipeline.offer(records.slice(600));
    await engine.pipeline.flush();
    await engine.close();
    const rejects = await committed(dir, "orders_rejects");
    const events = await committed(dir, "orders_events");
    assert.deepEqual(rejects.offsets, { 0: 300n, 1: 300n, 2: 300n });
    assert.equal(rejects.rows, bad);
    assert.equal(events.rows + rejects.rows, 900);
  }));
