/**
 * Cross-engine judge: tables written and committed by lakehouse, read by
 * pyiceberg through the SQLite catalog, on file:// and on the real S3
 * server. After every commit (appends, row deltas of position deletes
 * spanning several partitions and commits, a metadata commit of a sort
 * order and properties, a compaction that drops the deletes it made
 * obsolete) and at older snapshots, pyiceberg must return exactly the rows
 * our own scan returns.
 */
import assert from "node:assert/strict";
import { SqliteCatalog } from "../src/catalog/sqlite.ts";
import { commitChange } from "../src/iceberg/commit/commit.ts";
import { commitTable } from "../src/iceberg/commit/commit_table.ts";
import { planScan } from "../src/iceberg/scan/plan.ts";
import { createScanView } from "../src/iceberg/scan/view.ts";
import type { PartitionSpec } from "../src/iceberg/spec/types.ts";
import { createTable, loadTable, ManifestReader } from "../src/iceberg/table.ts";
import { writePositionDeletes } from "../src/iceberg/write/delete_files.ts";
import { writeDataFiles } from "../src/iceberg/write/data_files.ts";
import { appendFiles, replaceFiles, rowDelta } from "../src/iceberg/transaction/mod.ts";
import { sqlString } from "../src/duckdb/duckdb.ts";
import { openStore } from "../src/storage/mod.ts";
import type { ObjectStore } from "../src/storage/store.ts";
import {
  BUCKET_SPEC,
  canonicalRows,
  compareJson,
  DuckDb,
  HOUR_SPEC,
  readWithPyiceberg,
  TEST_SCHEMA,
  testRowsSql,
} from "./_iceberg.ts";
import { requireS3, S3_ENDPOINT } from "./_services.ts";

const S3 = {
  endpoint: S3_ENDPOINT,
  access_key: Deno.env.get("LAKEHOUSE_S3_ACCESS_KEY") ?? "lakehouse",
  secret_key: Deno.env.get("LAKEHOUSE_S3_SECRET_KEY") ?? "lakehouse-secret",
};
const BUCKET = Deno.env.get("LAKEHOUSE_S3_BUCKET") ?? "warehouse";

/**
 * pyiceberg 0.12 turns a NULL list<struct> into [] when it projects Arrow
 * batches (apache/iceberg-python#3833, open); our files hold real NULLs
 * (our own scan sees them). Compare against what pyiceberg can return.
 */
function pyicebergNullLists(row: unknown): unknown {
  const r = row as Record<string, unknown>;
  return r.items === null ? { ...r, items: [] } : r;
}

async function scenario(warehouse: string, store: ObjectStore, spec: PartitionSpec, s3: boolean) {
  const dir = await Deno.makeTempDir();
  const duckdb = await DuckDb.open();
  const catalog = await SqliteCatalog.open(`${dir}/catalog.db`);
  const id = { namespace: ["shop"], name: `t_${spec.fields[0].transform.replace(/\W/g, "")}` };
  const reader = new ManifestReader(store);
  const context = { catalog, store, id, manifests: reader };
  const pyArgs = {
    catalog_uri: `sqlite:///${dir}/catalog.db`,
    warehouse,
    table: `shop.${id.name}`,
    ...(s3 ? { s3: S3 } : {}),
  };
  try {
    await createTable(catalog, store, {
      id,
      location: `${warehouse}/shop/${id.name}`,
      schema: TEST_SCHEMA,
      spec,
    });

    const ours = async (snapshotId?: bigint) => {
      const table = await loadTable(catalog, store, id);
      const plan = await planScan(table.metadata, reader, { snapshotId });
      await createScanView(plan, {
        duckdb,
        store,
        cacheDir: `${dir}/cache`,
        name: "t",
        positions: true,
      });
      return plan;
    };
    const check = async (label: string, snapshotId?: bigint) => {
      await ours(snapshotId);
      const expected = (await canonicalRows(duckdb, "t", TEST_SCHEMA)).map(pyicebergNullLists);
      const theirs = await readWithPyiceberg({
        ...pyArgs,
        ...(snapshotId ? { snapshot_id: String(snapshotId) } : {}),
      });
      assert.equal(theirs.rows.length, expected.length, `${label}: row count`);
      expected.sort(compareJson);
      assert.deepEqual(theirs.rows, expected, `${label}: rows`);
      return expected.length;
    };
    const append = async (from: number, n: number) => {
      const table = await loadTable(catalog, store, id);
      const files = await writeDataFiles({
        duckdb,
        store,
        schema: TEST_SCHEMA,
        spec,
        source: testRowsSql(from, n),
        location: table.metadata.location,
        targetFileSizeBytes: 64 << 20,
        tempDir: dir,
      });
      assert.ok(files.length > 1, "rows spread over several partitions");
      return await commitChange(
        context,
        appendFiles(files, { summary: { "test.batch": String(from) } }),
      );
    };
    const deleteWhere = async (predicate: string) => {
      const plan = await ours();
      await duckdb.run(
        `CREATE OR REPLACE TEMP TABLE del AS SELECT _file AS file_path, _pos AS pos FROM t WHERE ${predicate}`,
      );
      const live = new Map(plan.tasks.map((t) => [t.file.filePath, t.file]));
      const table = await loadTable(catalog, store, id);
      const deletes = await writePositionDeletes({
        duckdb,
        store,
        source: "del",
        dataFiles: live,
        location: table.metadata.location,
        tempDir: dir,
      });
      assert.ok(deletes.length > 1, "deletes span several partitions");
      const referenced = [
        ...new Set(
          (await duckdb.query<{ f: string }>("SELECT DISTINCT file_path AS f FROM del")).map((r) =>
            r.f
          ),
        ),
      ];
      return await commitChange(
        context,
        rowDelta({ deletes, referencedDataFiles: referenced }),
      );
    };
    /** Rewrites every data file that has deletes into new files without the deleted rows. */
    const compact = async () => {
      const plan = await ours();
      const rewritten = plan.tasks.filter((t) => t.deletes.length > 0).map((t) => t.file);
      assert.ok(rewritten.length > 1, "files with deletes to compact");
      const table = await loadTable(catalog, store, id);
      const added = await writeDataFiles({
        duckdb,
        store,
        schema: TEST_SCHEMA,
        spec,
        source: `(SELECT * EXCLUDE (_file, _pos) FROM t WHERE _file IN (${
          rewritten.map((f) => sqlString(f.filePath)).join(", ")
        }))`,
        location: table.metadata.location,
        targetFileSizeBytes: 64 << 20,
        tempDir: dir,
      });
      return await commitChange(context, replaceFiles({ plan, rewritten, added }));
    };

    const first = await append(0, 2000);
    assert.equal(await check("after append 1"), 2000);
    const second = await append(2000, 1000);
    assert.equal(await check("after append 2"), 3000);
    await deleteWhere("id % 10 = 3");
    assert.equal(await check("after delete 1"), 2700);
    const deleted = await deleteWhere("id % 10 = 7 AND id > 1500");
    assert.equal(await check("after delete 2"), 2550);
    // A metadata-only commit through the REST vocabulary: a sort order and a property.
    const base = (await loadTable(catalog, store, id)).metadata;
    await commitTable(context, [
      { type: "assert-table-uuid", uuid: base["table-uuid"] },
      { type: "assert-default-sort-order-id", "default-sort-order-id": 0 },
    ], [
      {
        action: "add-sort-order",
        "sort-order": {
          "order-id": 0,
          fields: [
            { transform: "hour", "source-id": 3, direction: "desc", "null-order": "nulls-last" },
            {
              transform: "identity",
              "source-id": 1,
              direction: "asc",
              "null-order": "nulls-first",
            },
          ],
        },
      },
      { action: "set-default-sort-order", "sort-order-id": -1 },
      { action: "set-properties", updates: { "lakehouse.test": "sorted" } },
    ]);
    const sorted = await readWithPyiceberg(pyArgs);
    assert.equal(sorted.properties["lakehouse.test"], "sorted");
    assert.deepEqual(sorted.sort_order, {
      order_id: 1,
      fields: [
        { source_id: 3, transform: "hour", direction: "desc", null_order: "nulls-last" },
        { source_id: 1, transform: "identity", direction: "asc", null_order: "nulls-first" },
      ],
    });
    assert.equal(await check("after the metadata commit"), 2550);
    const compacted = await compact();
    assert.equal(compacted.snapshot.summary["total-delete-files"], "0");
    assert.equal(await check("after compaction"), 2550);
    // Time travel: both readers at older snapshots.
    assert.equal(await check("at snapshot 1", first.snapshot["snapshot-id"]), 2000);
    assert.equal(await check("at snapshot 2", second.snapshot["snapshot-id"]), 3000);
    assert.equal(await check("at snapshot 4", deleted.snapshot["snapshot-id"]), 2550);
    const theirs = await readWithPyiceberg(pyArgs);
    assert.equal(theirs.snapshots.length, 5);
  } finally {
    duckdb.close();
    await catalog.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("pyiceberg reads what we write on file:// (hour partitions): appends, row deltas, sort order, compaction, time travel", async () => {
  const warehouseDir = await Deno.makeTempDir();
  try {
    await scenario(
      `file://${warehouseDir}`,
      openStore(`file://${warehouseDir}`, undefined),
      HOUR_SPEC,
      false,
    );
  } finally {
    await Deno.remove(warehouseDir, { recursive: true });
  }
});

Deno.test("pyiceberg reads what we write on file:// (bucket[16] partitions)", async () => {
  const warehouseDir = await Deno.makeTempDir();
  try {
    await scenario(
      `file://${warehouseDir}`,
      openStore(`file://${warehouseDir}`, undefined),
      BUCKET_SPEC,
      false,
    );
  } finally {
    await Deno.remove(warehouseDir, { recursive: true });
  }
});

Deno.test("pyiceberg reads what we write on the real S3 server", async () => {
  await requireS3();
  const prefix = `s3://${BUCKET}/it-${crypto.randomUUID().slice(0, 8)}`;
  const store = openStore(prefix, {
    endpoint: S3.endpoint,
    accessKeyId: S3.access_key,
    secretAccessKey: S3.secret_key,
  });
  try {
    await scenario(prefix, store, HOUR_SPEC, true);
  } finally {
    const keys: string[] = [];
    for await (const o of store.list(prefix)) keys.push(o.path);
    await store.deleteMany(keys);
  }
});
