/**
 * Cross-engine judge: tables written and committed by lakehouse, read by
 * pyiceberg through the SQLite catalog, on file:// and on the real S3
 * server. After every commit (appends, position deletes spanning several
 * partitions and commits) and at an older snapshot, pyiceberg must return
 * exactly the rows our own scan returns.
 */
import assert from "node:assert/strict";
import { SqliteCatalog } from "../src/catalog/sqlite.ts";
import { commitChange } from "../src/iceberg/commit/commit.ts";
import { planScan } from "../src/iceberg/scan/plan.ts";
import { createScanView } from "../src/iceberg/scan/view.ts";
import type { PartitionSpec } from "../src/iceberg/spec/types.ts";
import { createTable, loadTable, ManifestReader } from "../src/iceberg/table.ts";
import { writePositionDeletes } from "../src/iceberg/write/delete_files.ts";
import { writeDataFiles } from "../src/iceberg/write/data_files.ts";
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
      return await commitChange(context, {
        operation: "append",
        added: files,
        summary: { "test.batch": String(from) },
      });
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
      return await commitChange(context, {
        operation: "delete",
        added: deletes,
        referencedDataFiles: referenced,
      });
    };

    const first = await append(0, 2000);
    assert.equal(await check("after append 1"), 2000);
    const second = await append(2000, 1000);
    assert.equal(await check("after append 2"), 3000);
    await deleteWhere("id % 10 = 3");
    assert.equal(await check("after delete 1"), 2700);
    await deleteWhere("id % 10 = 7 AND id > 1500");
    assert.equal(await check("after delete 2"), 2550);
    // Time travel: both readers at older snapshots.
    assert.equal(await check("at snapshot 1", first.snapshot["snapshot-id"]), 2000);
    assert.equal(await check("at snapshot 2", second.snapshot["snapshot-id"]), 3000);
    const theirs = await readWithPyiceberg(pyArgs);
    assert.equal(theirs.snapshots.length, 4);
  } finally {
    duckdb.close();
    await catalog.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("pyiceberg reads what we write on file:// (hour partitions): appends, deletes, time travel", async () => {
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
