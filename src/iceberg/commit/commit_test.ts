import assert from "node:assert/strict";
import { CommitStateUnknownError } from "../../catalog/catalog.ts";
import { MemoryCatalog } from "../../catalog/memory.ts";
import { FakeClock } from "../../core/clock.ts";
import { LakehouseError } from "../../core/errors.ts";
import { Random } from "../../core/random.ts";
import { sqlString } from "../../duckdb/duckdb.ts";
import { filePath } from "../../storage/file.ts";
import type { ScanPlan } from "../scan/plan.ts";
import { decodeBound } from "../spec/bounds.ts";
import { ancestorsOf, currentSnapshot } from "../spec/metadata.ts";
import {
  type DataFile,
  ManifestContent,
  type PartitionSpec,
  type Snapshot,
} from "../spec/types.ts";
import { ManifestReader } from "../table.ts";
import { partitionKey, writePositionDeletes } from "../write/delete_files.ts";
import {
  BUCKET_SPEC,
  HOUR_SPEC,
  listObjects,
  range,
  TableFixture,
  TEST_SCHEMA,
  testRowsSql,
} from "./_harness.ts";
import { canonicalRows } from "../_fixtures.ts";
import {
  commitChange,
  type CommitResult,
  liveFiles,
  type PendingChange,
  ValidationError,
} from "./commit.ts";

// ---------------------------------------------------------------------------
// Seeded random operations against a model of the table's ids
// ---------------------------------------------------------------------------

interface FuzzCase {
  readonly seed: number;
  readonly backend: "memory" | "sqlite";
  readonly spec: PartitionSpec;
  readonly operations: number;
  /** Small values force manifest merging every few commits. */
  readonly mergeMin: number;
  /** Manifests at least this large are never merged. */
  readonly targetBytes: number;
  /** Compactions of files whose rows were all deleted that the seed is known to reach. */
  readonly emptied: number;
}

const FUZZ_CASES: readonly FuzzCase[] = [
  {
    seed: 1,
    backend: "memory",
    spec: HOUR_SPEC,
    operations: 30,
    mergeMin: 3,
    targetBytes: 8 << 20,
    emptied: 0,
  },
  {
    seed: 5,
    backend: "memory",
    spec: BUCKET_SPEC,
    operations: 25,
    mergeMin: 16,
    targetBytes: 8 << 20,
    emptied: 0,
  },
  {
    seed: 3,
    backend: "sqlite",
    spec: HOUR_SPEC,
    operations: 30,
    mergeMin: 4,
    targetBytes: 6_000,
    emptied: 1,
  },
];

const sorted = (ids: Iterable<number>) => [...ids].sort((a, b) => a - b);
const sum = (xs: readonly bigint[]) => xs.reduce((s, x) => s + x, 0n);

/** Asserts the summary totals that follow exactly from the live files of the snapshot. */
async function checkTotals(f: TableFixture, snapshot: Snapshot, plan: ScanPlan, label: string) {
  const live = liveFiles(await f.reader.manifests(snapshot));
  const s = snapshot.summary;
  assert.equal(s["total-data-files"], String(plan.tasks.length), `${label}: total-data-files`);
  assert.equal(s["total-data-files"], String(live.data.size), `${label}: live data files`);
  assert.equal(
    s["total-records"],
    String(sum(plan.tasks.map((t) => t.file.recordCount))),
    `${label}: total-records`,
  );
  const deletes = [...live.deletes.values()].map((e) => e.dataFile);
  assert.equal(s["total-delete-files"], String(deletes.length), `${label}: total-delete-files`);
  assert.equal(
    s["total-position-deletes"],
    String(sum(deletes.map((d) => d.recordCount))),
    `${label}: total-position-deletes`,
  );
}

type Kind = "append" | "delete" | "replace";

/** A planned operation: its change, the data files it touches, and its effect on the model. */
interface Op {
  readonly kind: Kind;
  readonly change: PendingChange;
  /** Data files it deletes rows from or removes: what a rival can conflict with. */
  readonly touched: readonly DataFile[];
  /** Applies the effect to the model and checks the summary, once the commit landed. */
  landed(model: Set<number>, summary: Snapshot["summary"], label: string): void;
}

async function runFuzz(c: FuzzCase): Promise<void> {
  const rng = new Random(c.seed);
  const f = c.backend === "memory"
    ? await TableFixture.memory(c.spec)
    : await TableFixture.sqlite({ spec: c.spec });
  const options = {
    manifestMergeMinCount: c.mergeMin,
    manifestTargetBytes: c.targetBytes,
    // Snapshot ids and backoff jitter from their own seeded stream, so they
    // repeat run to run without changing the operations drawn from `rng`.
    random: new Random(`commits-${c.seed}`),
  };
  const model = new Set<number>();
  const history: { snapshotId: bigint; ids: number[] }[] = [];
  let nextId = 0;
  let previous: Snapshot | undefined;
  // What the seed exercised, so a change to the generator cannot quietly make it trivial.
  const seen = {
    append: 0,
    delete: 0,
    replace: 0,
    keptSequence: 0,
    removedDeletes: 0,
    emptied: 0,
    merged: 0,
    retried: 0,
    rejected: 0,
  };

  const pickKind = (): Kind => {
    const roll = rng.float();
    return model.size === 0 || roll < 0.4 ? "append" : roll < 0.75 ? "delete" : "replace";
  };

  /**
   * `near`: data files another operation touches; a delete or compaction
   * planned near them mostly picks their rows or partitions, so that races
   * conflict often enough to test.
   */
  const planOp = async (
    kind: Kind,
    label: string,
    near: readonly DataFile[] = [],
  ): Promise<Op | undefined> => {
    if (kind === "append") {
      const from = nextId + rng.int(20);
      const n = rng.intBetween(1, 250);
      nextId = from + n;
      const change = await f.planAppend(from, n);
      return {
        kind,
        change,
        touched: [],
        landed(model, s) {
          for (const id of range(from, n)) model.add(id);
          assert.equal(s["added-records"], String(n), `${label}: added-records`);
          assert.equal(s["added-data-files"], String(change.added.length), `${label}: files`);
        },
      };
    }
    if (kind === "delete") {
      // k = 1 deletes a whole id range, which empties files (and compactions of them).
      const k = rng.intBetween(1, 6);
      const r = rng.int(k);
      const live = sorted(model);
      let lo = rng.chance(0.5) ? live[rng.int(live.length)] : live[0];
      let hi = lo + rng.intBetween(0, 400);
      if (near.length > 0 && rng.chance(0.7)) {
        // The id range of one of those files, from its column bounds.
        const target = rng.pick(near);
        lo = Number(decodeBound("long", target.lowerBounds!.get(1)!));
        hi = Number(decodeBound("long", target.upperBounds!.get(1)!));
      }
      const planned = await f.planDelete(`id % ${k} = ${r} AND id BETWEEN ${lo} AND ${hi}`);
      const expected = live.filter((id) => id % k === r && id >= lo && id <= hi);
      assert.deepEqual(planned.ids, expected, `${label}: rows the view selects`);
      if (expected.length === 0) return undefined;
      const referenced = new Set(planned.change.referencedDataFiles);
      return {
        kind,
        change: planned.change,
        touched: planned.plan.tasks.map((t) => t.file).filter((d) => referenced.has(d.filePath)),
        landed(model, s) {
          for (const id of expected) model.delete(id);
          assert.equal(s["added-position-deletes"], String(expected.length), `${label}: deletes`);
          assert.equal(s["added-delete-files"], String(planned.change.added.length));
          assert.equal(s["added-records"], undefined, `${label}: a delete adds no rows`);
        },
      };
    }
    const keepSequenceNumber = rng.chance(0.5);
    const planned = await f.planReplace((plan) => {
      const byPartition = new Map<string, DataFile[]>();
      for (const t of plan.tasks) {
        const key = partitionKey(t.file.partition);
        byPartition.set(key, [...(byPartition.get(key) ?? []), t.file]);
      }
      // Half the time a partition with deletes, so compactions also drop delete files.
      const groups = [...byPartition.values()];
      const withDeletes = groups.filter((g) =>
        g.some((file) => plan.tasks.some((t) => t.file === file && t.deletes.length > 0))
      );
      const nearPartitions = new Set(near.map((d) => partitionKey(d.partition)));
      const close = groups.filter((g) => nearPartitions.has(partitionKey(g[0].partition)));
      const files = rng.pick(
        close.length > 0 && rng.chance(0.7)
          ? close
          : withDeletes.length > 0 && rng.chance(0.5)
          ? withDeletes
          : groups,
      );
      if (files.length === 1 || rng.chance(0.5)) return files;
      const subset = files.filter(() => rng.chance(0.5));
      return subset.length > 0 ? subset : [files[0]];
    }, { keepSequenceNumber });
    const removed = planned.change.removed!;
    const removedData = removed.filter((d) => d.content === 0);
    return {
      kind,
      change: planned.change,
      touched: removedData,
      landed(_model, s) {
        if (keepSequenceNumber) seen.keptSequence++;
        if (removedData.length < removed.length) seen.removedDeletes++;
        if (planned.rows === 0) seen.emptied++;
        assert.equal(s["deleted-data-files"], String(removedData.length), `${label}: removed`);
        assert.equal(
          s["deleted-records"],
          String(sum(removedData.map((d) => d.recordCount))),
          `${label}: deleted-records`,
        );
        assert.equal(
          s["added-records"],
          planned.rows === 0 ? undefined : String(planned.rows),
          `${label}: rewritten rows`,
        );
      },
    };
  };

  /** After every commit: the table is the model, and its metadata adds up. */
  const afterCommit = async (op: Op, result: CommitResult, label: string) => {
    const snapshot = result.snapshot;
    op.landed(model, snapshot.summary, label);
    seen[op.kind]++;
    assert.equal(snapshot.summary.operation, op.kind);
    assert.equal(snapshot["parent-snapshot-id"], previous?.["snapshot-id"], `${label}: parent`);
    assert.equal(
      snapshot["sequence-number"],
      (previous?.["sequence-number"] ?? 0n) + 1n,
      `${label}: sequence number`,
    );
    previous = snapshot;

    const table = await f.load();
    assert.equal(table.metadata["current-snapshot-id"], snapshot["snapshot-id"]);
    const plan = await f.scan({ name: "now" });
    const ids = (await f.duckdb.query<{ id: bigint }>("SELECT id FROM now ORDER BY id"))
      .map((row) => Number(row.id));
    assert.deepEqual(ids, sorted(model), `${label}: scan equals the model`);
    await checkTotals(f, snapshot, plan, label);
    const list = await f.reader.manifestList(snapshot);
    for (const content of [ManifestContent.Data, ManifestContent.Deletes]) {
      const count = list.filter((m) =>
        m.content === content && m.manifestLength < BigInt(c.targetBytes)
      ).length;
      assert.ok(count <= c.mergeMin, `${label}: ${count} small manifests of content ${content}`);
    }
    // A merge writes a manifest of this snapshot with only EXISTING entries.
    const merged = (m: (typeof list)[number]) =>
      m.addedSnapshotId === snapshot["snapshot-id"] && m.existingFilesCount > 0 &&
      m.deletedFilesCount === 0;
    if (list.some(merged)) seen.merged++;
    history.push({ snapshotId: snapshot["snapshot-id"], ids });
  };

  try {
    for (let step = 0; step < c.operations; step++) {
      const race = f.catalog instanceof MemoryCatalog && model.size > 0 && rng.chance(0.3);
      if (!race) {
        const kind = pickKind();
        const label = `seed ${c.seed} step ${step} (${kind})`;
        const op = await planOp(kind, label);
        if (op === undefined) continue;
        const result = await f.commit(op.change, options);
        assert.equal(result.attempts, 1, `${label}: no rival writer, no retry`);
        await afterCommit(op, result, label);
        continue;
      }
      // A race: both operations are planned from the same snapshot; the rival
      // commits between this writer's metadata write and its swap.
      const catalog = f.catalog;
      const mine = await planOp(pickKind(), `seed ${c.seed} step ${step} (mine)`);
      if (mine === undefined) continue;
      // Mostly a rival that can conflict: a compaction against a delete or
      // compaction, a delete against a compaction.
      const rivalKind: Kind = mine.kind === "append" || rng.chance(0.3)
        ? pickKind()
        : mine.kind === "delete"
        ? "replace"
        : rng.pick(["delete", "replace"] as const);
      const theirs = await planOp(rivalKind, `seed ${c.seed} step ${step} (rival)`, mine.touched);
      if (theirs === undefined) continue;
      const label = `seed ${c.seed} step ${step} (${mine.kind} racing ${theirs.kind})`;
      let rival: CommitResult | undefined;
      catalog.beforeSwap = async () => {
        catalog.beforeSwap = undefined;
        rival = await f.commit(theirs.change, options);
        await afterCommit(theirs, rival, `${label}: rival`);
      };
      let result: CommitResult | undefined;
      let failure: unknown;
      try {
        result = await f.commit(mine.change, options);
      } catch (error) {
        failure = error;
      } finally {
        catalog.beforeSwap = undefined;
      }
      assert.ok(rival, `${label}: the rival committed`);
      const paths = (op: Op) => new Set(op.touched.map((d) => d.filePath));
      const parts = (op: Op) => new Set(op.touched.map((d) => partitionKey(d.partition)));
      const overlaps = (a: Set<string>, b: Set<string>) => [...a].some((x) => b.has(x));
      // Deletes never conflict with deletes, appends with nothing.
      const canConflict = mine.kind !== "append" && theirs.kind !== "append" &&
        (mine.kind === "replace" || theirs.kind === "replace");
      const mustFail = canConflict && overlaps(paths(mine), paths(theirs));
      const mayFail = canConflict && overlaps(parts(mine), parts(theirs));
      if (failure !== undefined) {
        assert.ok(failure instanceof ValidationError, `${label}: ${failure}`);
        assert.ok(mayFail, `${label}: rejected without touching a common partition: ${failure}`);
        seen.rejected++;
        const metadata = (await f.load()).metadata;
        assert.equal(metadata["current-snapshot-id"], rival.snapshot["snapshot-id"]);
        assert.deepEqual(await f.ids(), sorted(model), `${label}: table after the rejection`);
      } else {
        assert.ok(!mustFail, `${label}: landed although the rival changed the same files`);
        assert.equal(result!.attempts, 2, `${label}: retried once`);
        seen.retried++;
        await afterCommit(mine, result!, label);
      }
    }
    for (const key of ["append", "delete", "replace"] as const) {
      assert.ok(seen[key] >= 5, `seed ${c.seed} made ${seen[key]} ${key} commits`);
    }
    for (const key of ["keptSequence", "removedDeletes", "merged"] as const) {
      assert.ok(seen[key] >= 1, `seed ${c.seed} exercised ${key}`);
    }
    assert.ok(seen.emptied >= c.emptied, `seed ${c.seed} compacted fully deleted files`);
    if (f.catalog instanceof MemoryCatalog) {
      assert.ok(
        seen.retried >= 1 && seen.rejected >= 1,
        `seed ${c.seed} raced: ${JSON.stringify(seen)}`,
      );
    }

    // Time travel: every earlier snapshot still reads as the model did then.
    for (const [i, h] of history.entries()) {
      assert.deepEqual(await f.ids({ snapshotId: h.snapshotId }), h.ids, `at snapshot ${i}`);
    }
    // A reader without the writer's cache sees the same table.
    assert.deepEqual(await f.ids({ reader: new ManifestReader(f.store) }), sorted(model));
    // Every column of every row, after compactions rewrote them, is what was first written.
    await f.scan({ name: "final" });
    assert.deepEqual(
      await canonicalRows(f.duckdb, "final", TEST_SCHEMA),
      await canonicalRows(
        f.duckdb,
        `(SELECT * FROM ${testRowsSql(0, nextId)} WHERE id IN (SELECT id FROM final))`,
        TEST_SCHEMA,
      ),
    );
    const metadata = (await f.load()).metadata;
    assert.equal(metadata.snapshots.length, history.length);
    assert.deepEqual(
      ancestorsOf(metadata, previous!["snapshot-id"]).map((s) => s["snapshot-id"]).reverse(),
      history.map((h) => h.snapshotId),
    );
  } finally {
    await f.close();
  }
}

for (const c of FUZZ_CASES) {
  const spec = c.spec.fields[0].transform;
  Deno.test(
    `random appends, deletes and compactions match a model (seed ${c.seed}, ${c.backend}, ${spec})`,
    () => runFuzz(c),
  );
}

// ---------------------------------------------------------------------------
// Rival writers
// ---------------------------------------------------------------------------

Deno.test("a writer that loses the swap to a rival retries on top of it; no snapshot is lost", async () => {
  const f = await TableFixture.memory();
  try {
    const first = await f.append(0, 100);
    const changeA = await f.planAppend(1000, 50);
    const changeB = await f.planAppend(2000, 60);
    let rival: CommitResult | undefined;
    f.catalog.beforeSwap = async () => {
      // Only A's first swap: B commits between A's metadata write and its swap.
      f.catalog.beforeSwap = undefined;
      rival = await f.commit(changeB);
    };
    const a = await f.commit(changeA);
    assert.ok(rival);
    assert.equal(rival.attempts, 1);
    assert.equal(a.attempts, 2);
    assert.equal(a.snapshot["parent-snapshot-id"], rival.snapshot["snapshot-id"]);
    assert.equal(a.snapshot["sequence-number"], rival.snapshot["sequence-number"] + 1n);
    // Totals are recomputed against the parent the commit finally landed on.
    assert.equal(a.snapshot.summary["total-records"], "210");
    assert.equal(a.snapshot.summary["total-data-files"], String((await f.scan()).tasks.length));
    const metadata = (await f.load()).metadata;
    assert.deepEqual(
      ancestorsOf(metadata, metadata["current-snapshot-id"]!).map((s) => s["snapshot-id"]),
      [a.snapshot["snapshot-id"], rival.snapshot["snapshot-id"], first.snapshot["snapshot-id"]],
    );
    assert.deepEqual(await f.ids(), [...range(0, 100), ...range(1000, 50), ...range(2000, 60)]);
    assert.deepEqual(await f.ids({ reader: new ManifestReader(f.store) }), await f.ids());
  } finally {
    await f.close();
  }
});

/** The live data file holding the most rows. */
async function biggestFile(f: TableFixture): Promise<DataFile> {
  const plan = await f.scan();
  return plan.tasks.map((t) => t.file).reduce((a, b) => (b.recordCount > a.recordCount ? b : a));
}

Deno.test("a delete planned on a file that a compaction then removed fails validation", async () => {
  const f = await TableFixture.memory();
  try {
    await f.append(0, 300);
    const target = await biggestFile(f);
    const del = await f.planDelete(`_file = ${sqlString(target.filePath)} AND id % 3 = 0`);
    assert.ok(del.ids.length > 0);
    const compaction = await f.planReplace((plan) =>
      plan.tasks.filter((t) => t.file.filePath === target.filePath).map((t) => t.file)
    );
    await f.commit(compaction.change);
    const before = await f.load();
    await assert.rejects(f.commit(del.change), (error: unknown) => {
      assert.ok(error instanceof ValidationError, String(error));
      assert.ok(error.message.includes(target.filePath), error.message);
      return true;
    });
    // The delete did not land, and no row came back or went missing.
    assert.equal((await f.load()).metadataLocation, before.metadataLocation);
    assert.deepEqual(await f.ids(), range(0, 300));
  } finally {
    await f.close();
  }
});

Deno.test("a compaction that lands between a delete's metadata write and swap fails the delete's retry", async () => {
  const f = await TableFixture.memory();
  try {
    await f.append(0, 300);
    const target = await biggestFile(f);
    const del = await f.planDelete(`_file = ${sqlString(target.filePath)} AND id % 3 = 0`);
    const compaction = await f.planReplace((plan) =>
      plan.tasks.filter((t) => t.file.filePath === target.filePath).map((t) => t.file)
    );
    let rival: CommitResult | undefined;
    f.catalog.beforeSwap = async () => {
      f.catalog.beforeSwap = undefined;
      rival = await f.commit(compaction.change);
    };
    await assert.rejects(f.commit(del.change), ValidationError);
    assert.ok(rival);
    const metadata = (await f.load()).metadata;
    assert.equal(metadata["current-snapshot-id"], rival.snapshot["snapshot-id"]);
    assert.deepEqual(await f.ids(), range(0, 300));
  } finally {
    await f.close();
  }
});

Deno.test("a compaction fails when a delete on one of its files was committed after its start", async () => {
  const f = await TableFixture.memory();
  try {
    await f.append(0, 300);
    const target = await biggestFile(f);
    const compaction = await f.planReplace((plan) =>
      plan.tasks.filter((t) => t.file.filePath === target.filePath).map((t) => t.file)
    );
    const del = await f.planDelete(`_file = ${sqlString(target.filePath)} AND id % 3 = 0`);
    const deleted = await f.commit(del.change);
    await assert.rejects(f.commit(compaction.change), (error: unknown) => {
      assert.ok(error instanceof ValidationError, String(error));
      assert.match(error.message, /committed after snapshot/);
      return true;
    });
    const metadata = (await f.load()).metadata;
    assert.equal(metadata["current-snapshot-id"], deleted.snapshot["snapshot-id"]);
    const gone = new Set(del.ids);
    assert.deepEqual(await f.ids(), range(0, 300).filter((id) => !gone.has(id)));
  } finally {
    await f.close();
  }
});

Deno.test("a delete landing between a compaction's metadata write and swap fails the compaction's retry", async () => {
  const f = await TableFixture.memory();
  try {
    await f.append(0, 300);
    const target = await biggestFile(f);
    const compaction = await f.planReplace((plan) =>
      plan.tasks.filter((t) => t.file.filePath === target.filePath).map((t) => t.file)
    );
    const del = await f.planDelete(`_file = ${sqlString(target.filePath)} AND id % 3 = 0`);
    f.catalog.beforeSwap = async () => {
      f.catalog.beforeSwap = undefined;
      await f.commit(del.change);
    };
    await assert.rejects(f.commit(compaction.change), ValidationError);
    const gone = new Set(del.ids);
    assert.deepEqual(await f.ids(), range(0, 300).filter((id) => !gone.has(id)));
  } finally {
    await f.close();
  }
});

Deno.test("a compaction still lands when the concurrent delete is on another file of the partition", async () => {
  const f = await TableFixture.memory();
  try {
    // Two appends of the same hour: two data files in one partition.
    await f.append(0, 20);
    await f.append(20, 6);
    const plan = await f.scan();
    assert.equal(plan.tasks.length, 2);
    assert.equal(
      partitionKey(plan.tasks[0].file.partition),
      partitionKey(plan.tasks[1].file.partition),
    );
    const [first, second] = plan.tasks.map((t) => t.file).sort((a, b) =>
      Number(b.recordCount - a.recordCount)
    );
    const compaction = await f.planReplace(() => [first]);
    const del = await f.planDelete(`_file = ${sqlString(second.filePath)} AND id % 2 = 0`);
    assert.deepEqual(del.ids, [20, 22, 24]);
    await f.commit(del.change);
    const replaced = await f.commit(compaction.change);
    assert.equal(replaced.attempts, 1);
    assert.deepEqual(await f.ids(), [...range(0, 20), 21, 23, 25]);
  } finally {
    await f.close();
  }
});

Deno.test("a compaction fails when a later delete file spans one of its files and another", async () => {
  const f = await TableFixture.memory();
  try {
    // Two appends of the same hour: two data files in one partition.
    await f.append(0, 20);
    await f.append(20, 6);
    const [first, second] = (await f.scan()).tasks.map((t) => t.file);
    const compaction = await f.planReplace(() => [first]);
    // One delete file for rows of both: it names no single referenced data file.
    const del = await f.planDelete("id IN (3, 21)");
    assert.equal(del.change.added.length, 1);
    assert.equal(del.change.added[0].referencedDataFile, undefined);
    assert.deepEqual(
      new Set(del.change.referencedDataFiles),
      new Set([first.filePath, second.filePath]),
    );
    await f.commit(del.change);
    await assert.rejects(f.commit(compaction.change), ValidationError);
    assert.deepEqual(await f.ids(), range(0, 26).filter((id) => id !== 3 && id !== 21));
  } finally {
    await f.close();
  }
});

Deno.test("of two compactions of the same file, the one that swaps second fails validation", async () => {
  const f = await TableFixture.memory();
  try {
    await f.append(0, 300);
    const target = await biggestFile(f);
    const chooseTarget = (plan: ScanPlan) =>
      plan.tasks.filter((t) => t.file.filePath === target.filePath).map((t) => t.file);
    const first = await f.planReplace(chooseTarget);
    const second = await f.planReplace(chooseTarget);
    f.catalog.beforeSwap = async () => {
      f.catalog.beforeSwap = undefined;
      await f.commit(first.change);
    };
    await assert.rejects(f.commit(second.change), (error: unknown) => {
      assert.ok(error instanceof ValidationError, String(error));
      assert.ok(error.message.includes(`cannot remove ${target.filePath}`), error.message);
      return true;
    });
    // The rows are there once, not twice.
    assert.deepEqual(await f.ids(), range(0, 300));
  } finally {
    await f.close();
  }
});

Deno.test("position deletes committed in the same snapshot as their data file apply to it", async () => {
  // A data file and deletes against it in one commit (as a row-level writer
  // makes): the deletes carry the same sequence number as the data, and
  // "not newer than the delete" includes equal.
  const f = await TableFixture.sqlite();
  try {
    const data = await f.writeRows(testRowsSql(0, 30));
    const target = data[0];
    const local = sqlString(filePath(target.filePath));
    const gone = (await f.duckdb.query<{ id: bigint }>(
      `SELECT id FROM read_parquet(${local}, file_row_number = true) WHERE file_row_number < 3`,
    )).map((r) => Number(r.id));
    assert.equal(gone.length, 3);
    await f.duckdb.run(
      `CREATE TEMP TABLE same_commit AS
         SELECT ${sqlString(target.filePath)} AS file_path, range AS pos FROM range(3)`,
    );
    const deletes = await writePositionDeletes({
      duckdb: f.duckdb,
      store: f.store,
      source: "same_commit",
      dataFiles: new Map(data.map((d) => [d.filePath, d])),
      location: f.location,
      tempDir: f.dir,
    });
    const result = await f.commit({ operation: "overwrite", added: [...data, ...deletes] });
    assert.equal(result.snapshot.summary["added-position-deletes"], "3");
    assert.deepEqual(await f.ids(), range(0, 30).filter((id) => !gone.includes(id)));
  } finally {
    await f.close();
  }
});

Deno.test("an unknown swap outcome that applied: the table has the snapshot and nothing was deleted", async () => {
  const f = await TableFixture.memory();
  try {
    await f.append(0, 40);
    const change = await f.planAppend(100, 30);
    const before = await listObjects(f.store, "memory://wh/");
    f.catalog.failNextSwap("unknown-applied");
    let unknown: CommitStateUnknownError | undefined;
    await assert.rejects(f.commit(change), (error: unknown) => {
      assert.ok(error instanceof CommitStateUnknownError, String(error));
      unknown = error;
      return true;
    });
    const after = await listObjects(f.store, "memory://wh/");
    for (const path of before) assert.ok(after.has(path), `${path} survived`);
    for (const file of change.added) assert.ok(after.has(file.filePath), `${file.filePath} kept`);
    const table = await f.load();
    assert.equal(table.metadataLocation, unknown!.next);
    assert.ok(after.has(table.metadataLocation));
    const snapshot = currentSnapshot(table.metadata)!;
    assert.ok(after.has(snapshot["manifest-list"]));
    assert.equal(table.metadata.snapshots.length, 2);
    // Everything the new snapshot references is readable without any cache.
    assert.deepEqual(
      await f.ids({ reader: new ManifestReader(f.store) }),
      [...range(0, 40), ...range(100, 30)],
    );
  } finally {
    await f.close();
  }
});

Deno.test("an unknown swap outcome that did not apply leaves the table as it was and the files in place", async () => {
  const f = await TableFixture.memory();
  try {
    await f.append(0, 40);
    const change = await f.planAppend(100, 30);
    const pointer = (await f.load()).metadataLocation;
    f.catalog.failNextSwap("unknown-not-applied");
    await assert.rejects(f.commit(change), CommitStateUnknownError);
    assert.equal((await f.load()).metadataLocation, pointer);
    const after = await listObjects(f.store, "memory://wh/");
    for (const file of change.added) assert.ok(after.has(file.filePath));
    // Having checked that it did not land, the writer can commit the same files.
    await f.commit(change);
    assert.deepEqual(await f.ids(), [...range(0, 40), ...range(100, 30)]);
  } finally {
    await f.close();
  }
});

Deno.test("a commit gives up after attemptsMax lost races and leaves the table as it was", async () => {
  const f = await TableFixture.memory();
  try {
    await f.append(0, 10);
    const pointer = (await f.load()).metadataLocation;
    const change = await f.planAppend(100, 10);
    const clock = new FakeClock(Date.now());
    for (let i = 0; i < 3; i++) f.catalog.failNextSwap("conflict");
    await assert.rejects(f.commit(change, { attemptsMax: 3, clock }), (error: unknown) => {
      assert.ok(error instanceof LakehouseError && !(error instanceof ValidationError));
      assert.equal(error.retriable, true);
      assert.match(error.message, /lost 3 races in a row/);
      return true;
    });
    assert.equal((await f.load()).metadataLocation, pointer);
    // One lost race is retried within the same call.
    f.catalog.failNextSwap("conflict");
    const result = await f.commit(change, { clock });
    assert.equal(result.attempts, 2);
    assert.deepEqual(await f.ids(), [...range(0, 10), ...range(100, 10)]);
  } finally {
    await f.close();
  }
});

Deno.test("a store write failing at any point of a commit leaves the table as it was", async () => {
  const f = await TableFixture.memory();
  try {
    await f.append(0, 10);
    const planned = await f.planDelete("id % 2 = 0");
    const change = planned.change;
    // Fail the 1st, 2nd, ... object write of the commit, before and after it takes effect,
    // until a commit makes fewer writes than the failure point.
    for (let failAt = 1;; failAt++) {
      for (const afterApply of [false, true]) {
        const pointer = (await f.load()).metadataLocation;
        let puts = 0;
        let injected = false;
        f.store.faults = (op) => {
          if (op !== "put" || ++puts !== failAt) return undefined;
          injected = true;
          return { error: new LakehouseError(`injected failure of put ${failAt}`), afterApply };
        };
        // A cold reader each time, as a writer restarted after the failure would have.
        const context = { ...f.context, manifests: new ManifestReader(f.store) };
        try {
          const result = await commitChange(context, change);
          assert.ok(!injected, "a failed write cannot end in a successful commit");
          f.store.faults = undefined;
          assert.equal(result.attempts, 1);
          assert.ok(failAt > 2, "a commit writes at least its manifest, list and metadata");
          assert.deepEqual(await f.ids(), range(0, 10).filter((id) => id % 2 === 1));
          return;
        } catch (error) {
          f.store.faults = undefined;
          assert.ok(injected, String(error));
          assert.match(String(error), new RegExp(`injected failure of put ${failAt}`));
        }
        assert.equal((await f.load()).metadataLocation, pointer);
        assert.deepEqual(await f.ids(), range(0, 10));
      }
    }
  } finally {
    await f.close();
  }
});

Deno.test("two writers with their own connections append concurrently to one SQLite catalog", async () => {
  const a = await TableFixture.sqlite();
  const b = await TableFixture.sqlite({ shared: a.sharedDir, create: false });
  try {
    const N = 10;
    const ROWS = 30;
    // Each round both writers start committing together, so their commits
    // overlap every time instead of only when the scheduler happens to
    // interleave them.
    let waiting: (() => void)[] = [];
    const meet = () =>
      new Promise<void>((resolve) => {
        waiting.push(resolve);
        if (waiting.length === 2) {
          for (const go of waiting) go();
          waiting = [];
        }
      });
    const writer = async (f: TableFixture, base: number) => {
      const results: CommitResult[] = [];
      for (let i = 0; i < N; i++) {
        const change = await f.planAppend(base + i * ROWS, ROWS);
        await meet();
        results.push(await f.commit(change, { backoffBaseMs: 5 }));
      }
      return results;
    };
    const [ra, rb] = await Promise.all([writer(a, 0), writer(b, 100_000)]);
    const all = [...ra, ...rb];
    const retried = all.filter((r) => r.attempts > 1).length;
    assert.ok(retried >= N / 2, `the writers raced: ${retried} of ${2 * N} commits retried`);
    const metadata = (await a.load()).metadata;
    assert.equal(metadata.snapshots.length, 2 * N);
    assert.deepEqual(
      new Set(ancestorsOf(metadata, metadata["current-snapshot-id"]!).map((s) => s["snapshot-id"])),
      new Set(all.map((r) => r.snapshot["snapshot-id"])),
    );
    assert.equal(currentSnapshot(metadata)!.summary["total-records"], String(2 * N * ROWS));
    const ids = await b.ids({ reader: new ManifestReader(b.store) });
    assert.equal(ids.length, 2 * N * ROWS);
    assert.equal(new Set(ids).size, ids.length);
    assert.deepEqual(ids, [...range(0, N * ROWS), ...range(100_000, N * ROWS)]);
  } finally {
    await b.close();
    await a.close();
  }
});

// ---------------------------------------------------------------------------
// Bad input and damaged tables
// ---------------------------------------------------------------------------

Deno.test("a batch that does not fit the schema is rejected, naming the column and value", async () => {
  const f = await TableFixture.memory();
  try {
    await f.append(0, 10);
    const snapshots = (await f.load()).metadata.snapshots.length;
    const objects = f.store.size;
    const rows = testRowsSql(100, 10);
    await assert.rejects(
      f.writeRows(`(SELECT * EXCLUDE (order_id) FROM ${rows})`),
      /column order_id \(string\) is missing/,
    );
    await assert.rejects(
      f.writeRows(
        `(SELECT * REPLACE (CASE WHEN id = 105 THEN 'abc' ELSE id::VARCHAR END AS id) FROM ${rows})`,
      ),
      /column id has value "abc", which is not a long/,
    );
    await assert.rejects(
      f.writeRows(
        `(SELECT * REPLACE (CASE WHEN id = 103 THEN NULL ELSE order_id END AS order_id) FROM ${rows})`,
      ),
      /required column order_id has a NULL value/,
    );
    assert.equal((await f.load()).metadata.snapshots.length, snapshots);
    assert.equal(f.store.size, objects, "nothing was uploaded");
    assert.deepEqual(await f.ids(), range(0, 10));
  } finally {
    await f.close();
  }
});

Deno.test("loading a table whose metadata file is garbage names the file", async () => {
  const f = await TableFixture.memory();
  try {
    await f.append(0, 10);
    const location = (await f.load()).metadataLocation;
    await f.store.put(location, new TextEncoder().encode('{"format-version": 2, oops'));
    const namesFile = (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.ok(error.message.includes(location), error.message);
      assert.match(error.message, /invalid table metadata/);
      return true;
    };
    await assert.rejects(f.load(), namesFile);
    await assert.rejects(f.append(10, 10), namesFile);
  } finally {
    await f.close();
  }
});

Deno.test("a commit onto a snapshot whose manifest is missing fails, naming it, and leaves the pointer", async () => {
  const f = await TableFixture.memory();
  try {
    await f.append(0, 50);
    await f.append(50, 50);
    const table = await f.load();
    const list = await f.reader.manifestList(currentSnapshot(table.metadata)!);
    const missing = list[list.length - 1].manifestPath;
    await f.store.delete(missing);
    const change = await f.planAppend(1000, 10);
    // A reader without the writer's cache, as a fresh process has.
    const cold = { ...f.context, manifests: new ManifestReader(f.store) };
    const pointer = (await f.catalog.loadTable(f.id)).metadataLocation;
    await assert.rejects(commitChange(cold, change), (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.ok(error.message.includes(missing), error.message);
      return true;
    });
    assert.equal((await f.catalog.loadTable(f.id)).metadataLocation, pointer);
  } finally {
    await f.close();
  }
});

Deno.test("identity partitions on text that needs escaping read back on file://", async () => {
  // Directory names hold percent-escapes (note=Z%C3%BCrich...), which are part
  // of the file name on disk.
  const f = await TableFixture.sqlite({
    spec: {
      "spec-id": 0,
      fields: [{ "source-id": 5, "field-id": 1000, name: "note", transform: "identity" }],
    },
  });
  try {
    await f.append(0, 12);
    const plan = await f.scan();
    assert.ok(plan.tasks.some((t) => t.file.filePath.includes("%")));
    const del = await f.planDelete("id IN (1, 6)");
    await f.commit(del.change);
    assert.deepEqual(await f.ids(), range(0, 12).filter((id) => id !== 1 && id !== 6));
  } finally {
    await f.close();
  }
});

// ---------------------------------------------------------------------------
// Parquet field ids
// ---------------------------------------------------------------------------

Deno.test("data files carry the schema's field id on every Parquet node", async () => {
  const f = await TableFixture.sqlite();
  try {
    const files = await f.writeRows(testRowsSql(0, 50));
    assert.ok(files.length > 0);
    const expected = new Map<string, number>([
      ["id", 1],
      ["order_id", 2],
      ["ts", 3],
      ["amount", 4],
      ["note", 5],
      ["qty", 6],
      ["items", 7],
      ["element", 8],
      ["sku", 9],
      ["quantity", 10],
      ["unit_price", 11],
    ]);
    assert.equal(expected.size, 11);
    for (const file of files) {
      const nodes = await f.duckdb.query<
        { name: string; field_id: number | null; repetition_type: string | null }
      >(
        `SELECT name, field_id, repetition_type FROM parquet_schema(${
          sqlString(filePath(file.filePath))
        })`,
      );
      const [root, ...rest] = nodes;
      assert.equal(root.field_id, null, "the root has no field id");
      const named = rest.filter((n) => !(n.name === "list" && n.repetition_type === "REPEATED"));
      assert.equal(rest.length - named.length, 1, "one repeated list group");
      assert.deepEqual(
        named.map((n) => [n.name, n.field_id === null ? null : Number(n.field_id)]),
        [...expected],
      );
    }
  } finally {
    await f.close();
  }
});
