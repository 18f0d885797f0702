/**
 * orders_current stays exactly-once across kill -9 in every phase of a batch.
 * Rounds of `lakehouse run` over one seeded stream, each killed:
 * - by a crash point armed alone with probability 1, so the phase is known:
 *   `orders_current.before-commit` (its files uploaded, not committed: the
 *   table must not move), `orders_current.after-commit` (committed, the
 *   state store not updated: the table moves one snapshot, the store stays
 *   on its parent), `orders_current.catch-up` (at the next start, while the
 *   store replays that snapshot: the store must still be on the parent);
 * - from outside at a random moment, some with every point armed at a low
 *   probability too.
 * The process must die by SIGKILL on its own in each crash-point round.
 * 35 rounds: 20 killed at random moments, 15 by a crash point.
 * After the rounds a last run drains the topic: orders_current equals the
 * ground truth, orders_events and orders_rejects hold every record once,
 * and the state store equals the table.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { assertExactlyOnce, readTables, type TablesAt } from "./_engine.ts";
import {
  assertCurrentRows,
  assertStateMatchesTable,
  expectedCurrent,
  generated,
  loadCurrent,
  localWarehouse,
  place,
  produceOrders,
  readCurrent,
  stateStamp,
} from "./_current.ts";
import { requireKafka, runCli } from "./_services.ts";
import { NoSuchTableError } from "../src/catalog/catalog.ts";
import { currentSnapshot } from "../src/iceberg/spec/metadata.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const SEED = "current-crash";
const COUNT = 30_000;
const BAD_RATE = 0.01;
const PHASES = ["before-commit", "after-commit", "catch-up"] as const;
type Phase = typeof PHASES[number];
/** A crash-point round that has not killed itself by then has missed its point. */
const POINT_ROUND_TIMEOUT_MS = 60_000;

type Round =
  | { readonly phase: Phase }
  | { readonly killAfterMs: number; readonly armed: boolean };

function args(
  brokers: string,
  topic: string,
  dir: string,
  group: string,
  batch = 300,
): string[] {
  return [
    "run",
    ...["--brokers", brokers, "--topic", topic, "--group-id", group],
    ...["--warehouse", join(dir, "wh"), "--state-dir", join(dir, "state")],
    ...["--trigger-interval", "200ms", "--max-records-per-trigger", String(batch)],
    ...["--memory-limit", "512MB"],
  ];
}

/** orders_current's current snapshot and its parent (undefined before the first commit). */
async function tableHead(at: TablesAt) {
  const table = await Deno.stat(at.catalog).then(() => loadCurrent(at), () => undefined)
    .catch((error) => {
      if (error instanceof NoSuchTableError) return undefined;
      throw error;
    });
  const snapshot = table && currentSnapshot(table.metadata);
  return {
    id: snapshot?.["snapshot-id"].toString(),
    parent: snapshot?.["parent-snapshot-id"]?.toString(),
  };
}

Deno.test("orders_current is exactly-once across kill -9 before its commit, after it, and during the state store's catch-up", async () => {
  const brokers = await requireKafka();
  const topic = `it-current-crash-${crypto.randomUUID().slice(0, 8)}`;
  const dir = await Deno.makeTempDir();
  const at = localWarehouse(dir);
  const stateDir = join(dir, "state");
  let seed = 4242;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  // Five cycles of seven rounds: outside kills at random moments, plain or
  // with every point armed at a low probability, and each crash point alone
  // (after-commit right before catch-up, which needs a store left behind).
  const rounds: Round[] = [];
  const kill = (armed: boolean): Round => ({ killAfterMs: 500 + random() * 3500, armed });
  for (let cycle = 0; cycle < 5; cycle++) {
    rounds.push(
      kill(false),
      { phase: "before-commit" },
      kill(true),
      kill(false),
      { phase: "after-commit" },
      { phase: "catch-up" },
      kill(true),
    );
  }
  const hits = new Map<Phase, number>(PHASES.map((p) => [p, 0]));
  const history: string[] = [];
  try {
    await produceOrders(brokers, topic, SEED, COUNT, BAD_RATE);
    for (const [i, round] of rounds.entries()) {
      const before = await tableHead(at);
      const stampBefore = await stateStamp(stateDir);
      const points = "phase" in round
        ? `orders_current.${round.phase}:1`
        : round.armed
        ? PHASES.map((p) => `orders_current.${p}:0.15`).join(",")
        : "";
      const child = new Deno.Command(Deno.execPath(), {
        // A fresh group per round: a killed member's session would hold its
        // partitions until it timed out. Start positions come from the tables.
        args: ["run", "--allow-all", MAIN, ...args(brokers, topic, dir, `g-${topic}-${i}`)],
        env: {
          NO_COLOR: "1",
          TMPDIR: dir,
          ...(points ? { LAKEHOUSE_CRASH_POINTS: points } : {}),
        },
        stdout: "null",
        stderr: "piped",
      }).spawn();
      let killedByUs = false;
      const timer = setTimeout(() => {
        killedByUs = true;
        child.kill("SIGKILL");
      }, "phase" in round ? POINT_ROUND_TIMEOUT_MS : round.killAfterMs);
      const out = await child.output();
      clearTimeout(timer);
      const stderr = new TextDecoder().decode(out.stderr);
      const selfKilled = out.signal === "SIGKILL" && !killedByUs;
      const after = await tableHead(at);
      const stamp = await stateStamp(stateDir);
      history.push(
        `round ${i} ${JSON.stringify(round)}: ${selfKilled ? "killed itself" : "killed"}, ` +
          `table ${before.id} -> ${after.id}, store ${stampBefore} -> ${stamp}`,
      );
      const context = () => `${history.join("\n")}\n--- round ${i} stderr:\n${stderr}`;
      // A start that found the store behind the table catches it up before it reads Kafka.
      // A store stamped "" was made before the table's first commit: the two agree.
      const joined = stderr.indexOf("assigned partitions");
      if (joined >= 0 && stampBefore !== undefined && stampBefore !== (before.id ?? "")) {
        assert.match(stderr.slice(0, joined), /state store caught up 1 snapshot/, context());
      }
      if (!("phase" in round)) {
        assert.equal(out.signal, "SIGKILL", context());
        continue;
      }
      assert.ok(selfKilled, `the ${round.phase} crash point did not kill the run: ${context()}`);
      hits.set(round.phase, hits.get(round.phase)! + 1);
      switch (round.phase) {
        case "before-commit":
          // Files uploaded, no commit: the table is where it was, and the store
          // at the table's head (a start that found it behind caught it up first).
          assert.equal(after.id, before.id, context());
          assert.equal(stamp, before.id === undefined ? stampBefore : before.id, context());
          break;
        case "after-commit":
          // Committed one snapshot; the store did not take it.
          assert.notEqual(after.id, before.id, context());
          assert.equal(after.parent, before.id, context());
          assert.equal(stamp, before.id ?? "", context());
          break;
        case "catch-up":
          // Died replaying the snapshot the store missed, before reading Kafka:
          // the replay's transaction is rolled back, nothing was committed.
          assert.equal(after.id, before.id, context());
          assert.equal(stamp, after.parent ?? "", context());
          assert.ok(joined < 0, context());
          break;
      }
      if (i === Math.floor(rounds.length / 2)) {
        const partial = await readTables(dir);
        assert.ok(
          partial.events.length < COUNT * 0.9,
          `the stream was nearly drained halfway through the rounds:\n${context()}`,
        );
      }
    }
    for (const phase of PHASES) assert.ok(hits.get(phase)! >= 1, `no kill during ${phase}`);

    const out = await runCli(
      // The rest of the stream in larger batches.
      [...args(brokers, topic, dir, `g-${topic}-final`, 2000), "--idle-exit", "5s"],
      { TMPDIR: dir },
    );
    assert.equal(out.code, 0, out.stderr);
    const messages = generated(SEED, COUNT, BAD_RATE);
    assertCurrentRows(await readCurrent(at), expectedCurrent(place(messages)));
    assertExactlyOnce(await readTables(dir), messages);
    await assertStateMatchesTable(stateDir, at, dir);
  } catch (error) {
    throw new Error(`${(error as Error).message}\n--- rounds:\n${history.join("\n")}`, {
      cause: error,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
