import assert from "node:assert/strict";
import { DuckDb, sqlString } from "../../duckdb/duckdb.ts";
import { BUCKET_SPEC, HOUR_SPEC, TEST_SCHEMA } from "../_fixtures.ts";
import { applyTransform } from "../spec/transforms.ts";
import { stageDataFiles } from "./data_files.ts";

// Keys inlined in DuckDB's strings (12 bytes or fewer) and stored behind a
// pointer, ASCII and not, empty, on both sides of each 12-byte piece the
// function takes them in and of the 36 bytes beyond which it takes them
// whole: each file's partition must be the bucket the spec's reference gives
// every row in it.
const KEYS = [
  "",
  "a",
  "ord-1",
  "twelve-bytes",
  "thirteen-byte",
  "000151e8-bea3-465c-a1a9-b805fcee03af",
  "Zürich",
  "東京-注文-0001",
  "emoji 🧾 order",
  "x".repeat(300),
  ...[11, 13, 23, 24, 25, 35, 36, 37].map((n) => "k".repeat(n - 1) + String(n % 10)),
  "quote ' and back\\slash",
  "é".repeat(18), // 36 bytes, 18 characters
  ...Array.from({ length: 3000 }, (_, i) => `ord-${(i * 7919).toString(36)}-${"é".repeat(i % 9)}`),
];

Deno.test("bucket partitions of string keys are the spec's murmur3 buckets of their UTF-8", async () => {
  const duckdb = await DuckDb.open();
  const dir = await Deno.makeTempDir();
  try {
    await duckdb.run(`CREATE TABLE keys (k VARCHAR)`);
    await duckdb.run(`INSERT INTO keys VALUES ${KEYS.map((k) => `(${sqlString(k)})`).join(", ")}`);
    const staged = await stageDataFiles({
      duckdb,
      store: undefined as never,
      schema: TEST_SCHEMA,
      spec: BUCKET_SPEC,
      source: `(SELECT row_number() OVER ()::BIGINT AS id, k AS order_id,
        TIMESTAMPTZ '2026-01-01 00:00:00+00' AS ts FROM keys)`,
      location: "s3://bucket/t",
      targetFileSizeBytes: 64 << 20,
      tempDir: dir,
    });
    let seen = 0;
    for (const [i, file] of staged.files.entries()) {
      const rows = await duckdb.query<{ order_id: string }>(
        `SELECT order_id FROM read_parquet(${sqlString(staged.localPaths[i])})`,
      );
      for (const { order_id } of rows) {
        assert.equal(
          file.partition[0],
          applyTransform("bucket[16]", "string", order_id),
          `bucket of ${JSON.stringify(order_id)}`,
        );
      }
      seen += rows.length;
    }
    assert.equal(seen, KEYS.length);
    assert.ok(staged.files.length > 8, "the keys spread over the buckets");
    await staged.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a partition's rows are rolled into files by the target size, each row in one file", async () => {
  const duckdb = await DuckDb.open();
  const dir = await Deno.makeTempDir();
  try {
    // 20,000 rows over 16 buckets (about 1,250 each). A target of 64 KB is
    // about 1,000 rows a file (the writer's estimate): two files for most
    // partitions; at 64 MB, one.
    const source = `(SELECT i::BIGINT AS id, 'ord-' || i::VARCHAR AS order_id,
      TIMESTAMPTZ '2026-01-01 00:00:00+00' AS ts FROM range(20000) t(i))`;
    for (const [target, rolled] of [[64_000, true], [64 << 20, false]] as const) {
      const staged = await stageDataFiles({
        duckdb,
        store: undefined as never,
        schema: TEST_SCHEMA,
        spec: BUCKET_SPEC,
        source,
        location: "s3://bucket/t",
        targetFileSizeBytes: target,
        tempDir: dir,
      });
      try {
        const perPartition = new Map<number, number>();
        for (const f of staged.files) {
          const p = f.partition[0] as number;
          perPartition.set(p, (perPartition.get(p) ?? 0) + 1);
          assert.ok(f.recordCount <= (rolled ? 1_000n : 20_000n), `${f.recordCount} rows`);
        }
        assert.equal(perPartition.size, 16);
        assert.ok(
          [...perPartition.values()].every((n) => rolled ? n >= 2 : n === 1),
          `files per partition at ${target} bytes: ${[...perPartition.values()]}`,
        );
        assert.equal(staged.rows, 20_000n);
        const [check] = await duckdb.query<{ n: bigint; ids: bigint }>(
          `SELECT count(*)::BIGINT AS n, count(DISTINCT id)::BIGINT AS ids
           FROM read_parquet([${staged.localPaths.map(sqlString).join(", ")}])`,
        );
        assert.deepEqual(check, { n: 20_000n, ids: 20_000n });
      } finally {
        await staged.dispose();
      }
    }
  } finally {
    duckdb.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("rows of one partition are written as one file, with the statistics of a partitioned write", async () => {
  const duckdb = await DuckDb.open();
  const dir = await Deno.makeTempDir();
  try {
    // The same rows twice: all in one hour (the one-file COPY), and with one
    // more row in the next hour (the partitioned COPY): the first hour's
    // file must be the same in both.
    const rows = (extra: number) =>
      `(SELECT i::BIGINT AS id, 'ord-' || i::VARCHAR AS order_id,
        TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_seconds(CASE WHEN i < 5000 THEN i % 3600 ELSE 3600 END) AS ts
        FROM range(${5000 + extra}) t(i))`;
    const stage = (source: string) =>
      stageDataFiles({
        duckdb,
        store: undefined as never,
        schema: TEST_SCHEMA,
        spec: HOUR_SPEC,
        source,
        location: "s3://bucket/t",
        targetFileSizeBytes: 64 << 20,
        tempDir: dir,
      });
    const one = await stage(rows(0));
    const two = await stage(rows(1));
    try {
      assert.equal(one.files.length, 1);
      assert.equal(two.files.length, 2);
      const [a] = one.files;
      const b = two.files.find((f) => f.partition[0] === a.partition[0])!;
      assert.equal(a.partition[0], 490_896, "hours since 1970 of 2026-01-01 00:00");
      assert.equal(a.recordCount, 5_000n);
      for (const key of ["recordCount", "valueCounts", "nullValueCounts"] as const) {
        assert.deepEqual(a[key], b[key], key);
      }
      assert.deepEqual(a.lowerBounds, b.lowerBounds);
      assert.deepEqual(a.upperBounds, b.upperBounds);
      const [check] = await duckdb.query<{ n: bigint; ids: bigint }>(
        `SELECT count(*)::BIGINT AS n, count(DISTINCT id)::BIGINT AS ids
         FROM read_parquet(${sqlString(one.localPaths[0])})`,
      );
      assert.deepEqual(check, { n: 5_000n, ids: 5_000n });
    } finally {
      await one.dispose();
      await two.dispose();
    }
  } finally {
    duckdb.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a source whose partition changes between the writer's reads is refused, not misfiled", async () => {
  const duckdb = await DuckDb.open();
  const dir = await Deno.makeTempDir();
  try {
    // Each read of the source moves its row to the next hour: the writer
    // reads the partitions first, then the rows.
    await duckdb.run(`CREATE SEQUENCE hours START 1`);
    await assert.rejects(
      stageDataFiles({
        duckdb,
        store: undefined as never,
        schema: TEST_SCHEMA,
        spec: HOUR_SPEC,
        source: `(SELECT 1::BIGINT AS id, 'ord-1' AS order_id,
          TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_hours(nextval('hours')) AS ts)`,
        location: "s3://bucket/t",
        targetFileSizeBytes: 64 << 20,
        tempDir: dir,
      }),
      /wrote 0 rows into 1 files but the batch has 1: refusing to commit/,
    );
  } finally {
    duckdb.close();
    await Deno.remove(dir, { recursive: true });
  }
});
