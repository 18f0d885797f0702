/**
 * The engine end to end on real services: seeded events (with bad records)
 * produced into Kafka, `lakehouse run` commits them, and pyiceberg — an
 * independent reader — must find every valid event exactly once in
 * shop.orders_events (lineage and hour partitions right) and every bad record
 * in shop.orders_rejects with its reason. Then kill -9 at random moments:
 * after every restart the tables still hold each event exactly once.
 */
import assert from "node:assert/strict";
import { Kafka, logLevel } from "kafkajs";
import { assertExactlyOnce, groundTruth, produce, readTables, runArgs } from "./_engine.ts";
import { requireKafka, runCli } from "./_services.ts";

/**
 * `lakehouse run` as a child process (its log piped, or dropped with
 * `stderr: "null"`). The engine's scratch directory goes under TMPDIR, the
 * test's directory: a killed engine leaves it there.
 */
function spawnEngine(
  brokers: string,
  topic: string,
  dir: string,
  extra: string[],
  stderr: "piped" | "null" = "piped",
): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      new URL("../main.ts", import.meta.url).pathname,
      ...runArgs(brokers, topic, dir, extra),
    ],
    env: { NO_COLOR: "1", TMPDIR: dir },
    stdout: "null",
    stderr,
  }).spawn();
}

Deno.test("engine commits every valid event once and every bad record to rejects (pyiceberg reads)", async () => {
  const brokers = await requireKafka();
  const topic = `it-engine-${crypto.randomUUID().slice(0, 8)}`;
  const dir = await Deno.makeTempDir();
  const count = 12_000;
  try {
    await produce(brokers, topic, "engine-e2e", count, 0.03);
    const out = await runCli(runArgs(brokers, topic, dir, ["--stop-after", String(count)]));
    assert.equal(out.code, 0, out.stderr);
    const truth = groundTruth("engine-e2e", count, 0.03);
    const tables = await readTables(dir);
    assertExactlyOnce(tables, truth);
    // Each reject carries the reason of its kind and the payload as received.
    const kinds = new Map<string, number>();
    for (const r of tables.rejects) {
      kinds.set(r.reject_kind as string, (kinds.get(r.reject_kind as string) ?? 0) + 1);
    }
    for (
      const kind of [
        "malformed_json",
        "missing_field",
        "wrong_type",
        "unknown_event_type",
        "oversized",
        "invalid_utf8",
      ]
    ) {
      assert.ok(
        (kinds.get(kind) ?? 0) > 0,
        `no reject of kind ${kind}: ${JSON.stringify([...kinds])}`,
      );
    }
    const truthBad = new Map(
      truth.filter((m) => m.kind !== "valid").map((
        m,
      ) => [[...m.value].map((b) => b.toString(16).padStart(2, "0")).join(""), m.kind]),
    );
    for (const r of tables.rejects) {
      assert.ok(truthBad.has(r.payload as string), "reject payload differs from what was produced");
      assert.ok((r.reason as string).length > 5);
    }
    // Lineage: every event's (partition, offset) is unique.
    const lineage = new Set(tables.events.map((r) => `${r.kafka_partition}/${r.kafka_offset}`));
    assert.equal(lineage.size, tables.events.length);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("engine is exactly-once across kill -9 at random moments", async () => {
  const brokers = await requireKafka();
  const topic = `it-crash-${crypto.randomUUID().slice(0, 8)}`;
  const dir = await Deno.makeTempDir();
  // Enough, in small batches, that kills keep landing mid-stream for all rounds.
  const count = 120_000;
  const rounds = 20;
  try {
    await produce(brokers, topic, "engine-crash", count, 0.01);
    let seed = 12345;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    for (let round = 0; round < rounds; round++) {
      // A fresh group per round: the killed member's session would otherwise
      // hold its partitions until it times out. Start positions come from
      // the tables, so the group does not matter for correctness.
      const child = spawnEngine(brokers, topic, dir, [
        "--max-records-per-trigger",
        "300",
        "--group-id",
        `g-${topic}-${round}`,
      ], "null");
      // Startup takes about a second; kill anywhere from before the first
      // commit to deep into the run.
      await new Promise((resolve) => setTimeout(resolve, 500 + random() * 2500));
      child.kill("SIGKILL");
      await child.status;
      if (round === rounds / 2 - 1) {
        // Halfway, the stream must be partly committed: kills land mid-stream.
        const partial = await readTables(dir);
        assert.ok(partial.events.length > 0, "no commit survived the first crash rounds");
        assert.ok(
          partial.events.length < count * 0.98,
          "the stream finished before half of the crash rounds",
        );
      }
    }
    const out = await runCli(
      runArgs(brokers, topic, dir, ["--idle-exit", "5s", "--group-id", `g-${topic}-final`]),
    );
    assert.equal(out.code, 0, out.stderr);
    assertExactlyOnce(await readTables(dir), groundTruth("engine-crash", count, 0.01));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("engine stays exactly-once when a group member leaves mid-run (rebalance)", async () => {
  const brokers = await requireKafka();
  const topic = `it-rebalance-${crypto.randomUUID().slice(0, 8)}`;
  const dir = await Deno.makeTempDir();
  const count = 40_000;
  try {
    await produce(brokers, topic, "engine-rebalance", count, 0.01);
    const spawn = (extra: string[]) =>
      spawnEngine(brokers, topic, dir, ["--max-records-per-trigger", "1000", ...extra]);
    // Both members share one group, one catalog and one warehouse.
    const a = spawn([]);
    // B outlives A's graceful stop by a wide margin before it may call the stream drained.
    const b = spawn(["--idle-exit", "20s"]);
    // A has no --idle-exit: if it has ended by now it failed, and its output says why.
    const aEnded = await Promise.race([
      a.status.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 5_000)),
    ]);
    if (!aEnded) a.kill("SIGTERM");
    const [aOut, bOut] = await Promise.all([a.output(), b.output()]);
    const text = (o: Deno.CommandOutput) => new TextDecoder().decode(o.stderr);
    assert.equal(aOut.code, 0, `member A did not stop cleanly:\n${text(aOut)}`);
    assert.equal(bOut.code, 0, `member B failed:\n${text(bOut)}`);
    assert.match(text(bOut), /assigned partitions/);
    try {
      assertExactlyOnce(await readTables(dir), groundTruth("engine-rebalance", count, 0.01));
    } catch (error) {
      throw new Error(
        `${(error as Error).message}\n--- member A:\n${text(aOut)}\n--- member B:\n${text(bOut)}`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--idle-exit does not take a pause of the process for idleness (SIGSTOP, records produced meanwhile)", async () => {
  const brokers = await requireKafka();
  const topic = `it-pause-${crypto.randomUUID().slice(0, 8)}`;
  const dir = await Deno.makeTempDir();
  const idleSeconds = 10;
  try {
    await produce(brokers, topic, "engine-pause-1", 2_000, 0.01);
    const first = groundTruth("engine-pause-1", 2_000, 0.01);
    const engine = spawnEngine(brokers, topic, dir, ["--idle-exit", `${idleSeconds}s`]);
    const output = engine.output();
    const text = async () => new TextDecoder().decode((await output).stderr);
    // Wait until the first records are committed: the engine is then fetching an empty topic.
    const valid = first.filter((m) => m.kind === "valid").length;
    const deadline = Date.now() + 90_000;
    for (;;) {
      const held = await readTables(dir).then((t) => t.events.length, () => 0);
      if (held === valid) break;
      assert.ok(Date.now() < deadline, `the first ${valid} events were not committed in 90 s`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    // Paused for longer than --idle-exit while more records arrive: on
    // resume they must be read, not left behind by an exit on the clock.
    engine.kill("SIGSTOP");
    try {
      await produce(brokers, topic, "engine-pause-2", 3_000, 0.01);
      await new Promise((resolve) => setTimeout(resolve, (idleSeconds + 3) * 1_000));
    } finally {
      engine.kill("SIGCONT");
    }
    const out = await output;
    assert.equal(out.code, 0, await text());
    assertExactlyOnce(
      await readTables(dir),
      [...first, ...groundTruth("engine-pause-2", 3_000, 0.01)],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Stops and starts the Kafka broker that scripts/services.sh manages (the test's own broker). */
async function restartKafka(): Promise<void> {
  const script = new URL("../scripts/services.sh", import.meta.url).pathname;
  const run = async (...args: string[]) => {
    // A restart, not a fresh broker: CI exports LAKEHOUSE_SERVICES_FRESH=1,
    // which would wipe the topic on the way up.
    const out = await new Deno.Command("bash", {
      args: [script, ...args],
      env: { LAKEHOUSE_SERVICES_FRESH: "0" },
      stderr: "piped",
    }).output();
    assert.equal(
      out.code,
      0,
      `services.sh ${args.join(" ")} failed (this test restarts the broker that ` +
        `'deno task services:up' started):\n${new TextDecoder().decode(out.stderr)}`,
    );
  };
  await run("down", "kafka");
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  await run("up", "kafka");
}

Deno.test("engine rides out a broker restart mid-run, exactly once", brokerRestartTest);

async function brokerRestartTest() {
  const brokers = await requireKafka();
  const topic = `it-restart-${crypto.randomUUID().slice(0, 8)}`;
  const dir = await Deno.makeTempDir();
  const count = 20_000;
  try {
    await produce(brokers, topic, "engine-restart-1", count, 0.01);
    // Idle time counts only while the group is joined and fetches succeed,
    // so the outage itself cannot end the run; it must outlast the wait for
    // the broker to go down, though.
    const engine = spawnEngine(brokers, topic, dir, ["--idle-exit", "30s"]);
    let exited = false;
    engine.status.then(() => (exited = true));
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    await restartKafka();
    assert.ok(!exited, "the engine stopped before the broker restart was over");
    // Produced after the restart: the engine must come back for these.
    await produce(brokers, topic, "engine-restart-2", count, 0.01);
    const out = await engine.output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    // A short outage can be ridden out by kafkajs's own retries (same group
    // generation, no crash); a longer one crashes the consumer, which must
    // then have rejoined. Either way every record must be there once.
    if (/lost the Kafka consumer/.test(stderr)) {
      assert.match(stderr, /reconnecting and rejoining group/);
      assert.equal(stderr.match(/assigned partitions 0,1,2,3/g)?.length, 2, stderr);
    }
    try {
      assertExactlyOnce(await readTables(dir), [
        ...groundTruth("engine-restart-1", count, 0.01),
        ...groundTruth("engine-restart-2", count, 0.01),
      ]);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n--- engine:\n${stderr}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("engine stops with a clear error when the topic holds fewer records than the tables (recreated topic)", async () => {
  const brokers = await requireKafka();
  const topic = `it-recreated-${crypto.randomUUID().slice(0, 8)}`;
  const dir = await Deno.makeTempDir();
  const kafka = new Kafka({
    clientId: "it-recreated",
    brokers: [brokers],
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await produce(brokers, topic, "engine-recreated", 2_000, 0);
    const first = await runCli(runArgs(brokers, topic, dir, ["--stop-after", "2000"]));
    assert.equal(first.code, 0, first.stderr);
    // The same name, new (fewer) records: offsets start at 0 again.
    await admin.deleteTopics({ topics: [topic] });
    for (let i = 0; i < 50 && (await admin.listTopics()).includes(topic); i++) {
      await new Promise((r) => setTimeout(r, 200));
    }
    await produce(brokers, topic, "engine-recreated-2", 100, 0);
    const second = await runCli(runArgs(brokers, topic, dir, ["--idle-exit", "10s"]));
    assert.notEqual(second.code, 0, `the run went on over a recreated topic:\n${second.stderr}`);
    assert.match(
      second.stderr,
      /partition \d of it-recreated-\w+ ends at offset \d+, but the tables already hold its records through offset \d+/,
    );
    // Nothing of the new topic was taken for a replay and committed.
    const tables = await readTables(dir);
    assert.equal(tables.events.length, 2_000);
  } finally {
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin.disconnect();
    await Deno.remove(dir, { recursive: true });
  }
});
