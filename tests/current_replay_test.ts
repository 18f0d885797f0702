/**
 * orders_current under replays and a second writer:
 * - in-process: re-delivering a committed offset range commits nothing and
 *   changes neither the table nor the state store; an overlapping range
 *   applies only its new records; a restart leaves the state store as it
 *   was (meta and every row), and a store rebuilt from the table equals it;
 * - in-process: group joins landing while batches are written (the feed
 *   positions the partitions then, refreshing every table and the state
 *   store) leave the table and the store exact;
 * - two `lakehouse run` members of one group (shared catalog and warehouse,
 *   a state store each) commit to the tables at the same time, then one
 *   leaves: orders_current equals the ground truth, the other tables are
 *   exactly-once, and each member's store ends equal to the table.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startEngine } from "../src/streams/engine.ts";
import type { RawRecord } from "../src/batch/types.ts";
import { assertExactlyOnce, readTables } from "./_engine.ts";
import {
  assertCurrentRows,
  assertStateMatchesTable,
  currentSnapshotId,
  engineConfig,
  expectedCurrent,
  generated,
  localWarehouse,
  place,
  produceOrders,
  rawRecords,
  readCurrent,
  stateDump,
} from "./_current.ts";
import { requireKafka, runCli } from "./_services.ts";

async function feed(dir: string, records: readonly RawRecord[], stateDir = join(dir, "state")) {
  const engine = await startEngine(engineConfig(dir, { stateDir }));
  try {
    if (records.length > 0) await engine.pipeline.offer(records);
    await engine.pipeline.flush();
    return { ...engine.pipeline.stats, stateRows: await engine.current!.state.count() };
  } finally {
    await engine.close();
  }
}

Deno.test("re-delivered committed records change nothing in orders_current or its state store, and a restart keeps the store as it was", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const messages = generated("current-replay", 6_000, 0.02);
    const placed = place(messages);
    const records = rawRecords(placed, "orders");
    const at = localWarehouse(dir);
    const stateDir = join(dir, "state");

    await feed(dir, records.slice(0, 4_000));
    const snapshot = await currentSnapshotId(at);
    const rows = await readCurrent(at);
    const store = await stateDump(stateDir);
    assertCurrentRows(rows, expectedCurrent(placed.slice(0, 4_000)));

    // The whole committed range again: skipped, nothing committed.
    const replay = await feed(dir, records.slice(0, 4_000));
    assert.equal(replay.skipped, 4_000);
    assert.equal(replay.rows.get("orders_current") ?? 0n, 0n);
    assert.equal(replay.ignored, 0);
    assert.equal(await currentSnapshotId(at), snapshot, "a replay committed to orders_current");
    assert.deepEqual(await readCurrent(at), rows);
    assert.deepEqual(await stateDump(stateDir), store, "a replay changed the state store");

    // A committed range and new records in one delivery: only the new ones apply.
    const overlap = await feed(dir, records.slice(3_000));
    assert.equal(overlap.skipped, 1_000);
    const expected = expectedCurrent(placed);
    assertCurrentRows(await readCurrent(at), expected);
    assert.equal(overlap.stateRows, expected.size);

    // A restart: the store is the one left (stamp, and every row with its position).
    const before = await stateDump(stateDir);
    const restarted = await feed(dir, []);
    assert.equal(restarted.stateRows, expected.size);
    assert.deepEqual(await stateDump(stateDir), before, "the state store changed over a restart");
    // A store built from a scan of the table is the same store.
    const rebuiltDir = join(dir, "state-rebuilt");
    await feed(dir, [], rebuiltDir);
    const rebuilt = await stateDump(rebuiltDir);
    assert.equal(rebuilt.meta.snapshot_id, before.meta.snapshot_id);
    assert.equal(rebuilt.rows.length, before.rows.length);
    assert.deepEqual(rebuilt.rows, before.rows, "a rebuilt store differs from the kept one");
    await assertStateMatchesTable(stateDir, at, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("group joins landing while batches are written leave orders_current and its state store exact", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const messages = generated("current-joins", 4_000, 0.01);
    const placed = place(messages);
    const engine = await startEngine(engineConfig(dir, { batchRecordsMax: 200 }));
    let writing = true;
    let joins = 0;
    let failure: unknown;
    // What the Kafka feed does on every group join, over and over meanwhile.
    const joining = (async () => {
      while (writing) {
        await engine.pipeline.startOffsets([0, 1, 2, 3]);
        joins++;
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    })().catch((error) => (failure = error));
    try {
      await engine.pipeline.offer(rawRecords(placed, "orders"));
      await engine.pipeline.flush();
    } finally {
      writing = false;
      await joining;
    }
    try {
      assert.equal(await engine.current!.state.checkIndex(), undefined);
    } finally {
      await engine.close();
    }
    assert.equal(failure, undefined, `positioning after a join failed: ${failure}`);
    assert.ok(joins >= 5, `${joins} joins`);
    const at = localWarehouse(dir);
    assertCurrentRows(await readCurrent(at), expectedCurrent(placed));
    assertExactlyOnce(await readTables(dir), messages);
    await assertStateMatchesTable(join(dir, "state"), at, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A `lakehouse run` process whose stderr is collected as it comes. */
class Member {
  readonly child: Deno.ChildProcess;
  stderr = "";
  readonly done: Promise<Deno.CommandStatus>;

  constructor(args: string[], env: Record<string, string>) {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", new URL("../main.ts", import.meta.url).pathname, ...args],
      env: { NO_COLOR: "1", ...env },
      stdout: "null",
      stderr: "piped",
    }).spawn();
    this.child = child;
    const read = (async () => {
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
        this.stderr += chunk;
      }
    })();
    this.done = Promise.all([child.status, read]).then(([status]) => status);
  }

  /** Waits until stderr matches `pattern` `times` times. */
  async waitFor(pattern: RegExp, times = 1, timeoutMs = 60_000): Promise<void> {
    const global = new RegExp(pattern.source, "g");
    const deadline = Date.now() + timeoutMs;
    while ((this.stderr.match(global)?.length ?? 0) < times) {
      if (Date.now() > deadline) {
        throw new Error(`no ${pattern} (${times}x) within ${timeoutMs} ms:\n${this.stderr}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

Deno.test("two group members committing to orders_current at the same time interleave correctly, and one leaving mid-run is taken over", async () => {
  const brokers = await requireKafka();
  const topic = `it-current-pair-${crypto.randomUUID().slice(0, 8)}`;
  const dir = await Deno.makeTempDir();
  const badRate = 0.01;
  const at = localWarehouse(dir);
  const args = (stateDir: string, extra: string[]) => [
    "run",
    ...["--brokers", brokers, "--topic", topic, "--group-id", `g-${topic}`],
    ...["--warehouse", join(dir, "wh"), "--state-dir", join(dir, stateDir)],
    ...["--trigger-interval", "300ms", "--max-records-per-trigger", "1000"],
    ...["--memory-limit", "512MB"],
    ...extra,
  ];
  const members: Member[] = [];
  try {
    await produceOrders(brokers, topic, "current-pair-1", 3_000, badRate);
    // One group, one catalog, one warehouse; a state store each. B joins
    // once A holds partitions; the bulk of the stream comes once both do.
    const a = new Member(args("state-a", []), { TMPDIR: dir });
    members.push(a);
    await a.waitFor(/assigned partitions/);
    // B at debug: a catch-up while running is logged at that level.
    const b = new Member(args("state-b", ["--idle-exit", "15s", "--log-level", "debug"]), {
      TMPDIR: dir,
    });
    members.push(b);
    await b.waitFor(/assigned partitions/);
    await a.waitFor(/assigned partitions/, 2);
    const aPartitions = /.*assigned partitions ([\d,]+)/g.exec(
      a.stderr.split("\n").filter((l) => l.includes("assigned partitions")).at(-1)!,
    )?.[1];
    await produceOrders(brokers, topic, "current-pair-2", 25_000, badRate);
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    a.child.kill("SIGTERM");
    const aStatus = await a.done;
    // B takes A's partitions over and commits after A left, whether or not
    // the stream was drained by then: A's store is behind the table.
    await produceOrders(brokers, topic, "current-pair-3", 2_000, badRate);
    const bStatus = await b.done;
    const logs = `--- member A:\n${a.stderr}\n--- member B:\n${b.stderr}`;
    assert.equal(aStatus.code, 0, `member A did not stop cleanly:\n${logs}`);
    assert.equal(bStatus.code, 0, `member B failed:\n${logs}`);
    assert.ok(aPartitions && aPartitions !== "0,1,2,3", `A did not share the partitions:\n${logs}`);
    // Both wrote orders_current; each one's commits followed the other's, so
    // its store took the other's snapshots in before its own.
    const committed = (stderr: string) =>
      Number(/stopped: .*orders_current (\d+)/.exec(stderr)?.[1] ?? 0);
    assert.ok(
      committed(a.stderr) > 0 && committed(b.stderr) > 0,
      `a member wrote no rows:\n${logs}`,
    );
    assert.match(b.stderr, /orders_current: state store caught up \d+ snapshot/, logs);

    const messages = [
      ...generated("current-pair-1", 3_000, badRate),
      ...generated("current-pair-2", 25_000, badRate),
      ...generated("current-pair-3", 2_000, badRate),
    ];
    try {
      assertCurrentRows(await readCurrent(at), expectedCurrent(place(messages)));
      assertExactlyOnce(await readTables(dir), messages);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${logs}`, { cause: error });
    }
    await assertStateMatchesTable(join(dir, "state-b"), at, dir);
    // A's store is behind the table; its next start brings it level.
    const again = await runCli(
      args("state-a", ["--idle-exit", "2s", "--group-id", `g-${topic}-again`]),
      { TMPDIR: dir },
    );
    assert.equal(again.code, 0, again.stderr);
    assert.match(
      again.stderr,
      /orders_current: state store (caught up \d+ snapshot|.* built from a scan of the table \(it is \d+ snapshots behind\))/,
    );
    await assertStateMatchesTable(join(dir, "state-a"), at, dir);
  } finally {
    for (const m of members) {
      try {
        m.child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
      await m.done;
    }
    await Deno.remove(dir, { recursive: true });
  }
});
