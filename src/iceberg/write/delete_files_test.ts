import assert from "node:assert/strict";
import { DuckDb, sqlString } from "../../duckdb/duckdb.ts";
import { compareStrings, decodeBound } from "../spec/bounds.ts";
import { FileContent, POS_DELETE_FILE_PATH_ID, POS_DELETE_POS_ID } from "../spec/types.ts";
import { stagePositionDeletes } from "./delete_files.ts";

const LOCATION = "s3://warehouse/lake/orders_current";
const dataPath = (bucket: number, name: string) => `${LOCATION}/data/b=${bucket}/${name}.parquet`;

// Partition 0 holds paths whose order differs between UTF-16 code units
// (JS's string order) and UTF-8 bytes (DuckDB's, and the bounds'): U+FFEE
// sorts before U+1F600 only by bytes. Partition 1 has one target file (its
// delete file names it), partition 2 a path longer than any statistics
// truncation; the rest are many ordinary files.
const TARGETS: { path: string; bucket: number }[] = [
  { path: dataPath(0, "\u{1F600}-a"), bucket: 0 },
  { path: dataPath(0, "\uFFEE-b"), bucket: 0 },
  { path: dataPath(0, "plain"), bucket: 0 },
  { path: dataPath(1, "only"), bucket: 1 },
  { path: dataPath(2, "x".repeat(300)), bucket: 2 },
  { path: dataPath(2, "y"), bucket: 2 },
  ...Array.from(
    { length: 36 },
    (_, i) => ({ path: dataPath(3 + (i % 4), `f-${i}`), bucket: 3 + (i % 4) }),
  ),
];

Deno.test("position delete files: one per partition, sorted by path and position, exact bounds", async () => {
  const duckdb = await DuckDb.open();
  const dir = await Deno.makeTempDir();
  try {
    // 330,000 positions (a tenth of them twice) over 42 files: enough rows
    // for DuckDB to split the work, where an order not asked for shows.
    await duckdb.run(
      `CREATE TABLE paths AS SELECT * FROM (VALUES ${
        TARGETS.map((t, i) => `(${i}, ${sqlString(t.path)})`).join(", ")
      }) v(i, path)`,
    );
    await duckdb.run(
      `CREATE TABLE dels AS
       SELECT p.path AS file_path, (hash(n * 31 + 7) % 5000000)::BIGINT AS pos
       FROM range(300000) r(n) JOIN paths p ON p.i = hash(n) % ${TARGETS.length}
       UNION ALL SELECT p.path, (hash(n * 31 + 7) % 5000000)::BIGINT
       FROM range(30000) r(n) JOIN paths p ON p.i = hash(n) % ${TARGETS.length}`,
    );
    const bucketOf = new Map(TARGETS.map((t) => [t.path, t.bucket]));
    const staged = await stagePositionDeletes({
      duckdb,
      source: "dels",
      partitionOf: (path) => bucketOf.has(path) ? [bucketOf.get(path)!] : undefined,
      location: LOCATION,
      tempDir: dir,
    });
    try {
      assert.equal(staged.files.length, 7);
      const [{ n: distinct }] = await duckdb.query<{ n: bigint }>(
        `SELECT count(*)::BIGINT AS n FROM (SELECT DISTINCT file_path, pos FROM dels)`,
      );
      assert.equal(staged.rows, distinct);
      const seen = new Set<number>();
      for (const [i, file] of staged.files.entries()) {
        const local = staged.localPaths[i];
        const bucket = file.partition[0] as number;
        assert.ok(!seen.has(bucket), `two delete files for partition ${bucket}`);
        seen.add(bucket);
        const paths = TARGETS.filter((t) => t.bucket === bucket).map((t) => t.path)
          .sort(compareStrings);
        assert.equal(file.content, FileContent.PositionDeletes);
        assert.ok(file.filePath.startsWith(`${LOCATION}/data/deletes/`), file.filePath);
        assert.equal(file.referencedDataFile, paths.length === 1 ? paths[0] : undefined);
        // The file's rows: the group's distinct positions, sorted by path (bytes) then position.
        const [check] = await duckdb.query<
          {
            n: bigint;
            expected: bigint;
            unsorted: bigint;
            missing: bigint;
            min_pos: bigint;
            max_pos: bigint;
          }
        >(
          `WITH f AS (SELECT file_path, pos, file_row_number AS r FROM read_parquet(${
            sqlString(local)
          }, file_row_number = true)),
           e AS (SELECT DISTINCT file_path, pos FROM dels WHERE file_path IN (${
            paths.map(sqlString).join(", ")
          }))
           SELECT (SELECT count(*) FROM f)::BIGINT AS n, (SELECT count(*) FROM e)::BIGINT AS expected,
             (SELECT count(*) FROM (SELECT (file_path, pos) <= lag((file_path, pos)) OVER (ORDER BY r)
               AS bad FROM f) WHERE bad)::BIGINT AS unsorted,
             (SELECT count(*) FROM (SELECT * FROM e EXCEPT SELECT file_path, pos FROM f))::BIGINT AS missing,
             (SELECT min(pos) FROM e)::BIGINT AS min_pos, (SELECT max(pos) FROM e)::BIGINT AS max_pos`,
        );
        assert.equal(check.unsorted, 0n, `partition ${bucket}: rows out of order`);
        assert.equal(check.missing, 0n);
        assert.equal(check.n, check.expected);
        assert.equal(file.recordCount, check.n);
        assert.equal(file.valueCounts?.get(POS_DELETE_POS_ID), check.n);
        assert.equal(file.nullValueCounts?.get(POS_DELETE_FILE_PATH_ID), 0n);
        assert.equal(file.fileSizeInBytes, BigInt((await Deno.stat(local)).size));
        const bound = (m: ReadonlyMap<number, Uint8Array> | undefined, id: number, type: string) =>
          decodeBound(type as never, m!.get(id)!);
        assert.equal(bound(file.lowerBounds, POS_DELETE_FILE_PATH_ID, "string"), paths[0]);
        assert.equal(bound(file.upperBounds, POS_DELETE_FILE_PATH_ID, "string"), paths.at(-1));
        assert.equal(bound(file.lowerBounds, POS_DELETE_POS_ID, "long"), check.min_pos);
        assert.equal(bound(file.upperBounds, POS_DELETE_POS_ID, "long"), check.max_pos);
        // Readers find the columns by the reserved field ids.
        const ids = await duckdb.query<{ name: string; field_id: number }>(
          `SELECT name, field_id FROM parquet_schema(${
            sqlString(local)
          }) WHERE field_id IS NOT NULL`,
        );
        assert.deepEqual(
          Object.fromEntries(ids.map((r) => [r.name, Number(r.field_id)])),
          { file_path: POS_DELETE_FILE_PATH_ID, pos: POS_DELETE_POS_ID },
        );
      }
    } finally {
      await staged.dispose();
    }
    assert.deepEqual([...Deno.readDirSync(dir)], [], "the staged files are disposed of");
  } finally {
    duckdb.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("position deletes: nothing to delete stages nothing; a bad target or position is refused", async () => {
  const duckdb = await DuckDb.open();
  const dir = await Deno.makeTempDir();
  const stage = (source: string) =>
    stagePositionDeletes({
      duckdb,
      source,
      partitionOf: (path) => path.includes("live") ? [0] : undefined,
      location: LOCATION,
      tempDir: dir,
    });
  try {
    const none = await stage(`(SELECT 'x' AS file_path, 1::BIGINT AS pos WHERE false)`);
    assert.equal(none.files.length, 0);
    assert.equal(none.rows, 0n);
    await assert.rejects(
      stage(`(VALUES ('s3://w/live-1.parquet', 3::BIGINT), ('s3://w/gone.parquet', 1))
        v(file_path, pos)`),
      /position delete targets s3:\/\/w\/gone\.parquet, which is not a live data file/,
    );
    await assert.rejects(
      stage(`(VALUES ('s3://w/live-1.parquet', 3::BIGINT), ('s3://w/live-2.parquet', NULL))
        v(file_path, pos)`),
      /NULL pos \(in s3:\/\/w\/live-2\.parquet\)/,
    );
    await assert.rejects(
      stage(`(VALUES (NULL::VARCHAR, 3::BIGINT)) v(file_path, pos)`),
      /NULL file_path/,
    );
    assert.deepEqual([...Deno.readDirSync(dir)], [], "nothing is left behind");
    const temps = await duckdb.query(
      `SELECT table_name FROM duckdb_tables() WHERE table_name LIKE '__deletes_%'`,
    );
    assert.deepEqual(temps, []);
  } finally {
    duckdb.close();
    await Deno.remove(dir, { recursive: true });
  }
});
