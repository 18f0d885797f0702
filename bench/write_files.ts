/**
 * CPU of writing one batch's data files (stageDataFiles: partition values,
 * Parquet, statistics), per row, for checkouts compared in one run: the
 * builds alternate on the same deterministic rows, so the machine's noise
 * falls on both. Rows are order-shaped (36-character ids, timestamps over a
 * few hours, decimals, non-ASCII notes, lists of items); each batch is
 * written as by hour (orders_events), by hour with all its rows in one hour
 * (a live batch of orders_events) and by bucket[16] of the id
 * (orders_current). Reports the median CPU (user + sys of this process) per
 * row over the rounds.
 *
 *   deno task bench write [-- --rows 200000] [--rounds 9] [--build DIR ...]
 */
import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { BUCKET_SPEC, HOUR_SPEC, TEST_SCHEMA as SCHEMA } from "../src/iceberg/_fixtures.ts";
import type { PartitionSpec } from "../src/iceberg/spec/types.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rows: { type: "string", default: "200000" },
    rounds: { type: "string", default: "9" },
    build: { type: "string", multiple: true },
  },
});
const rows = Number(values.rows);
const rounds = Number(values.rounds);
if (!Number.isInteger(rows) || rows < 1 || !Number.isInteger(rounds) || rounds < 1) {
  console.error(`--rows and --rounds must be positive integers`);
  Deno.exit(2);
}
const builds = (values.build ?? ["."]).map((b) => resolve(b));

/** Each case: the partition spec and the table of rows it writes. */
const CASES: Record<string, { spec: PartitionSpec; source: string }> = {
  hour: { spec: HOUR_SPEC, source: "batch" },
  // A live batch: seconds of events, all in one hour (one file).
  "one hour": { spec: HOUR_SPEC, source: "batch_one_hour" },
  bucket: { spec: BUCKET_SPEC, source: "batch" },
};
const ROWS_SQL = `SELECT i::BIGINT AS id,
    substr(md5(i::VARCHAR), 1, 8) || '-' || substr(md5(i::VARCHAR), 9, 4) || '-' ||
      substr(md5(i::VARCHAR), 13, 4) || '-' || substr(md5(i::VARCHAR), 17, 4) || '-' ||
      substr(md5(i::VARCHAR), 21, 12) AS order_id,
    TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_microseconds(i * 40000) AS ts,
    ((i * 7919) % 100000 / 100.0)::DECIMAL(12, 2) AS amount,
    CASE WHEN i % 5 = 0 THEN NULL ELSE 'Zürich ' || (i % 1000)::VARCHAR END AS note,
    (i % 7)::INTEGER AS qty,
    [{'sku': 'SKU-' || lpad((i % 5000)::VARCHAR, 5, '0'), 'quantity': (i % 4 + 1)::INTEGER,
      'unit_price': ((i * 31) % 99999 / 100.0)::DECIMAL(12, 2)}] AS items
  FROM range(0, ${rows}) t(i)`;

function cpuSeconds(): number {
  const fields = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, clock ticks
}

interface Build {
  dir: string;
  // deno-lint-ignore no-explicit-any
  duckdb: any;
  // deno-lint-ignore no-explicit-any
  stage: (options: any) => Promise<{ rows: bigint; dispose(): Promise<void> }>;
}

const loaded: Build[] = [];
for (const dir of builds) {
  const { DuckDb } = await import(`${dir}/src/duckdb/duckdb.ts`);
  const { stageDataFiles } = await import(`${dir}/src/iceberg/write/data_files.ts`);
  const duckdb = await DuckDb.open({ threads: 1 });
  await duckdb.run(`CREATE TABLE batch AS ${ROWS_SQL}`);
  await duckdb.run(
    `CREATE TABLE batch_one_hour AS SELECT * REPLACE
       (TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_microseconds(id * 3600000000 // ${rows}) AS ts)
     FROM batch`,
  );
  loaded.push({ dir, duckdb, stage: stageDataFiles });
}

const temp = await Deno.makeTempDir({ prefix: "bench-write-" });
const samples = new Map<string, number[]>();
try {
  for (let round = 0; round < rounds + 1; round++) {
    for (const build of loaded) {
      for (const [name, { spec, source }] of Object.entries(CASES)) {
        const before = cpuSeconds();
        const staged = await build.stage({
          duckdb: build.duckdb,
          store: undefined,
          schema: SCHEMA,
          spec,
          source,
          location: "s3://bench/t",
          targetFileSizeBytes: 128 << 20,
          tempDir: temp,
        });
        const cpu = cpuSeconds() - before;
        await staged.dispose();
        if (staged.rows !== BigInt(rows)) {
          throw new Error(`${build.dir}: wrote ${staged.rows} rows`);
        }
        if (round === 0) continue; // warm-up
        const key = `${build.dir} ${name}`;
        samples.set(key, [...(samples.get(key) ?? []), cpu]);
      }
    }
  }
} finally {
  await Deno.remove(temp, { recursive: true });
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(
  `${rows} rows per batch, ${rounds} rounds, medians of CPU per row (DuckDB on 1 thread):`,
);
for (const [key, xs] of samples) {
  console.log(`${key}: ${(median(xs) / rows * 1e6).toFixed(2)} us/row`);
}
