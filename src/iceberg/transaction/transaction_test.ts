import assert from "node:assert/strict";
import { AssertionError } from "../../core/assert.ts";
import { LakehouseError } from "../../core/errors.ts";
import { sqlString } from "../../duckdb/duckdb.ts";
import { TEST_SCHEMA } from "../_fixtures.ts";
import {
  assertPositionsInBounds,
  conflictingDelete,
  type LiveFiles,
  validateAgainstLive,
  ValidationError,
} from "../commit/change.ts";
import { range, TableFixture, testRowsSql } from "../commit/_harness.ts";
import type { ScanPlan } from "../scan/plan.ts";
import { encodeBound } from "../spec/bounds.ts";
import {
  type DataFile,
  EntryStatus,
  FileContent,
  type ManifestEntry,
  POS_DELETE_POS_ID,
  type Snapshot,
  type TableMetadata,
} from "../spec/types.ts";
import { writePositionDeletes } from "../write/delete_files.ts";
import { appendFiles, obsoleteDeleteFiles, replaceFiles, rowDelta } from "./mod.ts";

function data(path: string, records = 10n, partition: DataFile["partition"] = [1]): DataFile {
  return {
    content: FileContent.Data,
    filePath: `memory://wh/t/data/${path}`,
    fileFormat: "PARQUET",
    partition,
    recordCount: records,
    fileSizeInBytes: 100n,
  };
}

function deletes(
  path: string,
  target?: DataFile,
  o: { maxPos?: bigint; partition?: DataFile["partition"] } = {},
): DataFile {
  return {
    content: FileContent.PositionDeletes,
    filePath: `memory://wh/t/data/deletes/${path}`,
    fileFormat: "PARQUET",
    partition: o.partition ?? target?.partition ?? [1],
    recordCount: 1n,
    fileSizeInBytes: 50n,
    ...(o.maxPos === undefined
      ? {}
      : { upperBounds: new Map([[POS_DELETE_POS_ID, encodeBound("long", o.maxPos)]]) }),
    ...(target === undefined ? {} : { referencedDataFile: target.filePath }),
  };
}

const SNAPSHOT: Snapshot = {
  "snapshot-id": 77n,
  "sequence-number": 5n,
  "timestamp-ms": 1,
  "manifest-list": "memory://wh/t/metadata/snap-77.avro",
  summary: { operation: "append" },
};

function plan(tasks: { file: DataFile; deletes?: DataFile[] }[], prunedFiles = 0): ScanPlan {
  return {
    snapshot: SNAPSHOT,
    schema: TEST_SCHEMA,
    tasks: tasks.map((t) => ({
      file: t.file,
      dataSequenceNumber: 1n,
      deletes: t.deletes ?? [],
    })),
    prunedFiles,
  };
}

const names = (files: readonly DataFile[] | undefined) =>
  (files ?? []).map((f) => f.filePath.slice(f.filePath.lastIndexOf("/") + 1));

// ---------------------------------------------------------------------------
// The actions as data
// ---------------------------------------------------------------------------

Deno.test("appendFiles: data files only, each once", () => {
  const a = data("a");
  const change = appendFiles([a], { summary: { "writer.id": "w1" } });
  assert.deepEqual(change, { operation: "append", added: [a], summary: { "writer.id": "w1" } });
  assert.throws(
    () => appendFiles([a, deletes("d", a)]),
    {
      message:
        "append: the files must be data files, but memory://wh/t/data/deletes/d is a position delete file",
    },
  );
  assert.throws(() => appendFiles([a, a]), { message: `append: ${a.filePath} is given twice` });
});

Deno.test("rowDelta: operation, referenced data files and the rules it refuses up front", () => {
  const a = data("a");
  const b = data("b");
  const rows = data("new");
  const onA = deletes("on-a", a);
  const spanning = deletes("span");
  assert.equal(rowDelta({ rows: [rows] }).operation, "append");
  const del = rowDelta({ deletes: [onA] });
  assert.equal(del.operation, "delete");
  assert.deepEqual(del.referencedDataFiles, [a.filePath]);
  const both = rowDelta({
    rows: [rows],
    deletes: [onA, spanning],
    referencedDataFiles: [b.filePath],
  });
  assert.equal(both.operation, "overwrite");
  assert.deepEqual(names(both.added), ["new", "on-a", "span"]);
  assert.deepEqual(both.referencedDataFiles, [a.filePath, b.filePath]);
  const removing = rowDelta({ removedRows: [b], removedDeletes: [onA], startingSnapshotId: 77n });
  assert.equal(removing.operation, "delete");
  assert.deepEqual(names(removing.removed), ["b", "on-a"]);
  assert.equal(removing.startingSnapshotId, 77n);

  const refuses = (options: Parameters<typeof rowDelta>[0], message: string) =>
    assert.throws(() => rowDelta(options), (error: unknown) => {
      assert.ok(error instanceof LakehouseError);
      assert.equal(error.message, `row delta: ${message}`);
      return true;
    });
  refuses(
    { deletes: [spanning] },
    `delete file ${spanning.filePath} spans several data files; list them in referencedDataFiles`,
  );
  refuses(
    { removedRows: [a] },
    "removing data files needs startingSnapshotId, to check for deletes committed since",
  );
  refuses(
    { deletes: [onA], removedRows: [a], startingSnapshotId: 77n },
    `deletes point into ${a.filePath}, which the same delta removes`,
  );
  refuses(
    { rows: [onA] },
    `rows must be data files, but ${onA.filePath} is a position delete file`,
  );
  refuses(
    { deletes: [{ ...onA, content: FileContent.EqualityDeletes }] },
    `deletes must be position delete files, but ${onA.filePath} is an equality delete file`,
  );
});

Deno.test("obsoleteDeleteFiles: a delete file goes only when every file it applies to is rewritten", () => {
  const a = data("a");
  const b = data("b");
  const c = data("c");
  const onA = deletes("on-a", a);
  const onAB = deletes("on-ab");
  const p = plan([
    { file: a, deletes: [onA, onAB] },
    { file: b, deletes: [onAB] },
    { file: c },
  ]);
  assert.deepEqual(names(obsoleteDeleteFiles(p, [a])), ["on-a"]);
  assert.deepEqual(names(obsoleteDeleteFiles(p, [a, b])), ["on-a", "on-ab"]);
  assert.deepEqual(names(obsoleteDeleteFiles(p, [c])), []);
});

Deno.test("replaceFiles: removes the rewritten files and their obsolete deletes from the starting snapshot", () => {
  const a = data("a");
  const b = data("b");
  const onA = deletes("on-a", a);
  const p = plan([{ file: a, deletes: [onA] }, { file: b }]);
  const merged = data("merged", 19n);
  const change = replaceFiles({ plan: p, rewritten: [a, b], added: [merged] });
  assert.equal(change.operation, "replace");
  assert.deepEqual(names(change.added), ["merged"]);
  assert.deepEqual(names(change.removed), ["a", "b", "on-a"]);
  assert.equal(change.startingSnapshotId, 77n);
  assert.equal(change.dataSequenceNumber, undefined);
  const kept = replaceFiles({ plan: p, rewritten: [a], added: [], keepSequenceNumber: true });
  assert.equal(kept.dataSequenceNumber, 5n);

  const refuses = (options: Parameters<typeof replaceFiles>[0], message: string) =>
    assert.throws(() => replaceFiles(options), { message: `replace: ${message}` });
  refuses(
    { plan: plan([{ file: a }], 2), rewritten: [a], added: [] },
    "the plan was filtered (2 data files pruned); obsolete delete files can only be found from a full plan",
  );
  refuses(
    { plan: p, rewritten: [data("gone")], added: [] },
    `${data("gone").filePath} is not a live data file of snapshot 77`,
  );
  refuses(
    { plan: { ...p, snapshot: undefined }, rewritten: [a], added: [] },
    "the plan is of an empty table; there is nothing to rewrite",
  );
  refuses({ plan: p, rewritten: [], added: [] }, "no data files to rewrite");
  refuses(
    { plan: p, rewritten: [a], added: [onA] },
    `added files must be data files, but ${onA.filePath} is a position delete file`,
  );
});

// ---------------------------------------------------------------------------
// The validations a commit runs against the table (pure parts)
// ---------------------------------------------------------------------------

function live(files: DataFile[]): LiveFiles {
  const entry = (dataFile: DataFile): ManifestEntry => ({
    status: EntryStatus.Existing,
    snapshotId: 1n,
    sequenceNumber: 1n,
    fileSequenceNumber: 1n,
    dataFile,
  });
  return {
    data: new Map(files.filter((f) => f.content === 0).map((f) => [f.filePath, entry(f)])),
    deletes: new Map(files.filter((f) => f.content !== 0).map((f) => [f.filePath, entry(f)])),
  };
}

Deno.test("validateAgainstLive: removed and referenced files must be live; new data counts as live", () => {
  const base = {} as TableMetadata;
  const a = data("a");
  const b = data("b");
  const fresh = data("fresh");
  validateAgainstLive(
    rowDelta({
      rows: [fresh],
      deletes: [deletes("d1", a), deletes("d2", fresh)],
      removedRows: [b],
      startingSnapshotId: 1n,
    }),
    base,
    live([a, b]),
  );
  assert.throws(
    () => validateAgainstLive(rowDelta({ deletes: [deletes("d", a)] }), base, live([b])),
    (error: unknown) => {
      assert.ok(error instanceof ValidationError);
      assert.match(error.message, /position deletes reference .*\/a, which is no longer live/);
      return true;
    },
  );
  assert.throws(
    () =>
      validateAgainstLive(
        rowDelta({ removedRows: [a], startingSnapshotId: 1n }),
        base,
        live([b]),
      ),
    { message: `cannot remove ${a.filePath}: it is no longer a live file of the table` },
  );
});

Deno.test("conflictingDelete: a later delete naming a removed file, or unnamed in its partition", () => {
  const a = data("a", 10n, [1]);
  const b = data("b", 10n, [2]);
  const change = rowDelta({ removedRows: [a], startingSnapshotId: 1n });
  assert.equal(conflictingDelete(change, [deletes("on-b", b)]), undefined);
  assert.equal(conflictingDelete(change, [deletes("on-a", a)])?.filePath, deletes("on-a").filePath);
  // No single referenced file: it may apply to anything in its partition.
  assert.ok(conflictingDelete(change, [deletes("span", undefined, { partition: [1] })]));
  assert.equal(
    conflictingDelete(change, [deletes("span", undefined, { partition: [2] })]),
    undefined,
  );
  // A change that removes no data file conflicts with nothing.
  assert.equal(
    conflictingDelete(rowDelta({ deletes: [deletes("x", a)] }), [deletes("y", a)]),
    undefined,
  );
});

Deno.test("assertPositionsInBounds: a position at or past the data file's row count is a bug", () => {
  const a = data("a", 10n);
  const byPath = (path: string) => (path === a.filePath ? a : undefined);
  assertPositionsInBounds([deletes("ok", a, { maxPos: 9n })], byPath);
  // Unknown target or no bound: nothing to check.
  assertPositionsInBounds([deletes("x", data("other"), { maxPos: 99n }), deletes("y", a)], byPath);
  assert.throws(
    () => assertPositionsInBounds([deletes("bad", a, { maxPos: 10n })], byPath),
    (error: unknown) => {
      assert.ok(error instanceof AssertionError);
      assert.match(
        error.message,
        /^invariant violated: position delete file .*bad deletes position 10 of .*\/a, which has 10 rows$/,
      );
      return true;
    },
  );
});

// ---------------------------------------------------------------------------
// The actions committed
// ---------------------------------------------------------------------------

Deno.test("a row delta adds rows and deletes others in one snapshot", async () => {
  const f = await TableFixture.memory();
  try {
    await f.append(0, 30);
    const planned = await f.planDelete("id % 2 = 0");
    const rows = await f.writeRows(testRowsSql(100, 10));
    const change = rowDelta({
      rows,
      deletes: planned.change.added,
      referencedDataFiles: planned.change.referencedDataFiles,
    });
    assert.equal(change.operation, "overwrite");
    const result = await f.commit(change);
    const s = result.snapshot.summary;
    assert.equal(s.operation, "overwrite");
    assert.equal(s["added-records"], "10");
    assert.equal(s["added-position-deletes"], "15");
    assert.equal(s["total-records"], "40");
    assert.deepEqual(await f.ids(), [
      ...range(0, 30).filter((id) => id % 2 === 1),
      ...range(100, 10),
    ]);
  } finally {
    await f.close();
  }
});

Deno.test("a row delta removing a whole data file fails if a delete on it landed after its start", async () => {
  const f = await TableFixture.memory();
  try {
    await f.append(0, 300);
    const plan = await f.scan();
    const target = plan.tasks.map((t) => t.file).reduce((
      x,
      y,
    ) => (y.recordCount > x.recordCount ? y : x));
    const start = plan.snapshot!["snapshot-id"];
    const drop = rowDelta({ removedRows: [target], startingSnapshotId: start });
    const del = await f.planDelete(`_file = ${sqlString(target.filePath)} AND id % 3 = 0`);
    const landed = await f.commit(del.change);
    await assert.rejects(f.commit(drop), (error: unknown) => {
      assert.ok(error instanceof ValidationError, String(error));
      assert.match(error.message, new RegExp(`committed after snapshot ${start}`));
      return true;
    });
    assert.equal((await f.load()).metadata["current-snapshot-id"], landed.snapshot["snapshot-id"]);
    // Replanned from the table as it is now, it lands.
    const now = (await f.scan()).snapshot!["snapshot-id"];
    const redo = await f.commit(rowDelta({ removedRows: [target], startingSnapshotId: now }));
    assert.equal(redo.snapshot.summary.operation, "delete");
    assert.equal(redo.snapshot.summary["deleted-records"], String(target.recordCount));
    const ids = await f.ids();
    assert.equal(ids.length, 300 - Number(target.recordCount));
  } finally {
    await f.close();
  }
});

Deno.test("deletes aimed past the end of their data file trip an invariant; nothing is committed", async () => {
  const f = await TableFixture.memory();
  try {
    await f.append(0, 30);
    const plan = await f.scan();
    const target = plan.tasks[0].file;
    await f.duckdb.run(
      `CREATE TEMP TABLE past_end AS SELECT ${
        sqlString(target.filePath)
      } AS file_path, ${target.recordCount}::BIGINT + 4 AS pos`,
    );
    const added = await writePositionDeletes({
      duckdb: f.duckdb,
      store: f.store,
      source: "past_end",
      dataFiles: new Map([[target.filePath, target]]),
      location: f.location,
      tempDir: f.dir,
    });
    const pointer = (await f.load()).metadataLocation;
    await assert.rejects(f.commit(rowDelta({ deletes: added })), (error: unknown) => {
      assert.ok(error instanceof AssertionError, String(error));
      assert.match(error.message, new RegExp(`deletes position ${target.recordCount + 4n} of`));
      return true;
    });
    assert.equal((await f.load()).metadataLocation, pointer);
  } finally {
    await f.close();
  }
});

Deno.test("a removed file whose record count disagrees with the table trips the summary invariant", async () => {
  const f = await TableFixture.memory();
  try {
    await f.append(0, 50);
    const planned = await f.planReplace((plan) => [plan.tasks[0].file]);
    const [first, ...rest] = planned.change.removed!;
    const tampered = {
      ...planned.change,
      removed: [{ ...first, recordCount: first.recordCount + 1n }, ...rest],
    };
    const pointer = (await f.load()).metadataLocation;
    await assert.rejects(f.commit(tampered), (error: unknown) => {
      assert.ok(error instanceof AssertionError, String(error));
      assert.match(error.message, /summary says deleted-records \d+, its manifests \d+/);
      return true;
    });
    assert.equal((await f.load()).metadataLocation, pointer);
    // The honest change lands.
    await f.commit(planned.change);
    assert.deepEqual(await f.ids(), range(0, 50));
  } finally {
    await f.close();
  }
});
