/**
 * Iceberg write and commit costs, on a table with the test schema (every
 * type the lakehouse tables use) partitioned by bucket[16](order_id):
 *
 * 1. One 100,000-row batch over all 16 partitions, on a fresh table per run:
 *    the Parquet write (DuckDB staging and COPY, per-file statistics, upload)
 *    and the commit (manifests, manifest list, metadata JSON, catalog swap),
 *    medians over the runs.
 * 2. Commit latency as one table grows to --snapshots small appends of
 *    --append-rows rows each, with one ManifestReader shared by the commits
 *    as a long-running writer has. Only commitChange is timed: the data files
 *    of each append are written beforehand (see --fresh-data). Reports the
 *    early and late medians, the manifest list length and the metadata size.
 *
 * The catalog is SQLite in a temp dir; the store is file:// in the same temp
 * dir, or the local S3 server under a unique prefix that is deleted after.
 *
 *   deno task bench iceberg [--store file|s3] [--runs 5] [--snapshots 1000]
 *     [--rows 100000] [--append-rows 100] [--fresh-data]
 */
import { parseArgs } from "node:util";
import { SqliteCatalog } from "../src/catalog/sqlite.ts";
import { DuckDb } from "../src/duckdb/duckdb.ts";
import { commitChange } from "../src/iceberg/commit/commit.ts";
import { partitionKey } from "../src/iceberg/write/delete_files.ts";
import { currentSnapshot } from "../src/iceberg/spec/metadata.ts";
import type { DataFile } from "../src/iceberg/spec/types.ts";
import { createTable, ManifestReader } from "../src/iceberg/table.ts";
import { writeDataFiles } from "../src/iceberg/write/data_files.ts";
import { openStore } from "../src/storage/mod.ts";
import type { ObjectStore } from "../src/storage/store.ts";
import { BUCKET_SPEC, TEST_SCHEMA, testRowsSql } from "../tests/_iceberg.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    store: { type: "string", default: "file" },
    runs: { type: "string", default: "5" },
    snapshots: { type: "string", default: "1000" },
    rows: { type: "string", default: "100000" },
    "append-rows": { type: "string", default: "100" },
    "fresh-data": { type: "boolean", default: false },
  },
});
const storeKind = values.store;
if (storeKind !== "file" && storeKind !== "s3") {
  throw new Error(`--store must be file or s3, got ${storeKind}`);
}
const runs = Number(values.runs);
const snapshots = Number(values.snapshots);
const batchRows = Number(values.rows);
const appendRows = Number(values["append-rows"]);
const PARTITIONS = 16;
const TARGET_FILE_BYTES = 64 << 20;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

const ms = (x: number) => `${x.toFixed(1)} ms`;
const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
const progress = (line: string) => console.error(line);

const dir = await Deno.makeTempDir({ prefix: "bench-iceberg-" });
let warehouse: string;
let baseStore: ObjectStore;
if (storeKind === "file") {
  warehouse = `file://${dir}/warehouse`;
  baseStore = openStore(warehouse, undefined);
} else {
  const bucket = Deno.env.get("LAKEHOUSE_S3_BUCKET") ?? "warehouse";
  warehouse = `s3://${bucket}/bench-${crypto.randomUUID().slice(0, 8)}`;
  baseStore = openStore(warehouse, {
    endpoint: Deno.env.get("LAKEHOUSE_S3_ENDPOINT") ?? "http://127.0.0.1:9000",
    accessKeyId: Deno.env.get("LAKEHOUSE_S3_ACCESS_KEY") ?? "lakehouse",
    secretAccessKey: Deno.env.get("LAKEHOUSE_S3_SECRET_KEY") ?? "lakehouse-secret",
  });
}
/** Time spent in Parquet uploads; writeDataFiles uploads one file at a time. */
let uploadMs = 0;
const store: ObjectStore = new Proxy(baseStore, {
  get(target, prop) {
    if (prop === "putFile") {
      return async (uri: string, localPath: string) => {
        const t0 = performance.now();
        try {
          await target.putFile(uri, localPath);
        } finally {
          uploadMs += performance.now() - t0;
        }
      };
    }
    const value = Reflect.get(target, prop, target);
    return typeof value === "function" ? value.bind(target) : value;
  },
});
const duckdb = await DuckDb.open();
const catalog = await SqliteCatalog.open(`${dir}/catalog.db`);
let tables = 0;

async function freshTable(label: string) {
  const id = { namespace: ["bench"], name: `${label}_${++tables}` };
  const table = await createTable(catalog, store, {
    id,
    location: `${warehouse}/bench/${id.name}`,
    schema: TEST_SCHEMA,
    spec: BUCKET_SPEC,
  });
  return { id, location: table.metadata.location };
}

async function write(location: string, from: number, n: number): Promise<DataFile[]> {
  return await writeDataFiles({
    duckdb,
    store,
    schema: TEST_SCHEMA,
    spec: BUCKET_SPEC,
    source: testRowsSql(from, n),
    location,
    targetFileSizeBytes: TARGET_FILE_BYTES,
    tempDir: dir,
  });
}

function partitionsOf(files: readonly DataFile[]): number {
  return new Set(files.map((f) => partitionKey(f.partition))).size;
}

interface BatchRun {
  writeMs: number;
  uploadMs: number;
  commitMs: number;
  files: number;
  bytes: number;
}

/** Part 1: one large batch into a fresh table. */
async function batchRun(): Promise<BatchRun> {
  const { id, location } = await freshTable("batch");
  uploadMs = 0;
  const t0 = performance.now();
  const files = await write(location, 0, batchRows);
  const t1 = performance.now();
  await commitChange({ catalog, store, id }, { operation: "append", added: files });
  const t2 = performance.now();
  if (partitionsOf(files) !== PARTITIONS) {
    throw new Error(`batch hit ${partitionsOf(files)} partitions, expected ${PARTITIONS}`);
  }
  return {
    writeMs: t1 - t0,
    uploadMs,
    commitMs: t2 - t1,
    files: files.length,
    bytes: files.reduce((s, f) => s + Number(f.fileSizeInBytes), 0),
  };
}

interface GrowthResult {
  latencies: number[];
  /** Indexes of the commits that merged manifests (their list got shorter). */
  merges: number[];
  manifestsAtEnd: number;
  manifestsMax: number;
  /** Live data files at the end: what a merge now rewrites. */
  entriesAtEnd: number;
  metadataBytesAt10: number;
  metadataBytes: number;
  metadataLog: number;
  filesPerAppend: number;
}

/**
 * The data files of append `i`: written by DuckDB (--fresh-data), or copies
 * of one written set under new paths, so every append adds distinct files
 * with real statistics without paying a DuckDB write per snapshot.
 */
function appendFiles(location: string) {
  let template: { file: DataFile; bytes: Uint8Array }[] | undefined;
  return async (i: number): Promise<DataFile[]> => {
    if (values["fresh-data"]) return await write(location, i * appendRows, appendRows);
    if (!template) {
      const files = await write(location, 0, appendRows);
      template = await Promise.all(
        files.map(async (file) => ({ file, bytes: await store.get(file.filePath) })),
      );
      return files;
    }
    return await Promise.all(template.map(async ({ file, bytes }) => {
      const filePath = file.filePath.replace(/[^/]+\.parquet$/, `${crypto.randomUUID()}.parquet`);
      await store.put(filePath, bytes);
      return { ...file, filePath };
    }));
  };
}

const WARM_UP_COMMITS = 20;

/** Part 2: many small appends to one table, timing only the commits. */
async function growth(): Promise<GrowthResult> {
  // Untimed commits to another table first, so that the early snapshots are
  // not measured with cold JIT and connections and the ratio shows table growth.
  {
    const { id, location } = await freshTable("warmup");
    const context = { catalog, store, id, manifests: new ManifestReader(store) };
    const nextFiles = appendFiles(location);
    for (let i = 0; i < WARM_UP_COMMITS; i++) {
      await commitChange(context, { operation: "append", added: await nextFiles(i) });
    }
  }
  const { id, location } = await freshTable("growth");
  const reader = new ManifestReader(store);
  const context = { catalog, store, id, manifests: reader };
  const nextFiles = appendFiles(location);
  const latencies: number[] = [];
  const merges: number[] = [];
  let manifests = 0;
  let manifestsMax = 0;
  let metadataBytesAt10 = 0;
  let filesPerAppend = 0;
  let last;
  for (let i = 0; i < snapshots; i++) {
    const files = await nextFiles(i);
    filesPerAppend = Math.max(filesPerAppend, files.length);
    const t0 = performance.now();
    last = await commitChange(context, {
      operation: "append",
      added: files,
      summary: { "bench.append": String(i) },
    });
    latencies.push(performance.now() - t0);
    const listed = (await reader.manifestList(last.snapshot)).length;
    if (listed < manifests) merges.push(i);
    manifests = listed;
    manifestsMax = Math.max(manifestsMax, listed);
    if (i === 9) metadataBytesAt10 = (await store.head(last.metadataLocation))!.size;
    if ((i + 1) % 100 === 0) {
      progress(
        `  snapshot ${i + 1}: median of the last 100 commits ${
          ms(median(latencies.slice(-100)))
        }, ${listed} manifests`,
      );
    }
  }
  const loaded = await reader.manifests(currentSnapshot(last!.metadata));
  return {
    latencies,
    merges,
    manifestsAtEnd: manifests,
    manifestsMax,
    entriesAtEnd: loaded.reduce((n, m) => n + m.entries.length, 0),
    metadataBytesAt10,
    metadataBytes: (await store.head(last!.metadataLocation))!.size,
    metadataLog: last!.metadata["metadata-log"].length,
    filesPerAppend,
  };
}

async function cleanup(): Promise<void> {
  if (storeKind === "s3") {
    const keys: string[] = [];
    for await (const o of store.list(`${warehouse}/`)) keys.push(o.path);
    await store.deleteMany(keys);
  }
  await store.close();
  duckdb.close();
  await catalog.close();
  await Deno.remove(dir, { recursive: true });
}

const started = performance.now();
const loadAtStart = Deno.loadavg()[0];
const batches: BatchRun[] = [];
let grown: GrowthResult | undefined;
try {
  progress(`part 1: ${runs} runs of ${batchRows} rows on ${storeKind}`);
  for (let run = 1; run <= runs; run++) {
    const r = await batchRun();
    batches.push(r);
    progress(`  run ${run}: write ${ms(r.writeMs)}, commit ${ms(r.commitMs)}, ${r.files} files`);
  }
  if (snapshots > 0) {
    progress(`part 2: ${snapshots} appends of ${appendRows} rows on ${storeKind}`);
    grown = await growth();
  }
} finally {
  await cleanup();
}

const free = Deno.systemMemoryInfo();
const cpu = (await Deno.readTextFile("/proc/cpuinfo").catch(() => ""))
  .match(/^model name\s*:\s*(.+)$/m)?.[1] ?? "unknown CPU";
const lines: string[] = [];
const out = (line = "") => lines.push(line);
const runsOf = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(", ");
out(`Iceberg write and commit, ${storeKind} store, SQLite catalog`);
out(
  `  ${new Date().toISOString()}; ${navigator.hardwareConcurrency} CPUs (${cpu}); ${
    (free.available / 2 ** 30).toFixed(1)
  } of ${(free.total / 2 ** 30).toFixed(1)} GiB memory available; Deno ${Deno.version.deno}`,
);
out(
  `  1-minute load average ${loadAtStart.toFixed(2)} at the start, ${
    Deno.loadavg()[0].toFixed(2)
  } at the end`,
);
out();
const totals = batches.map((b) => b.writeMs + b.commitMs);
out(
  `1. ${batchRows.toLocaleString("en-US")} rows into ${
    batches[0].files
  } files (all ${PARTITIONS} buckets), fresh table per run, median of ${runs}:`,
);
out(
  `  Parquet write ${ms(median(batches.map((b) => b.writeMs)))} (runs: ${
    runsOf(batches.map((b) => b.writeMs))
  }), of which upload ${ms(median(batches.map((b) => b.uploadMs)))}`,
);
out(
  `  commit        ${ms(median(batches.map((b) => b.commitMs)))} (runs: ${
    runsOf(batches.map((b) => b.commitMs))
  }): manifest, manifest list, metadata, catalog swap`,
);
out(
  `  total         ${ms(median(totals))} = ${
    Math.round(batchRows / (median(totals) / 1000)).toLocaleString("en-US")
  } rows/s; ${kib(median(batches.map((b) => b.bytes)))} of Parquet`,
);
if (grown) {
  const l = grown.latencies;
  const n = l.length;
  const early = median(l.slice(1, 11));
  const late = median(l.slice(-10));
  const lastMerge = grown.merges.at(-1);
  const window = Math.min(100, n);
  out();
  out(
    `2. ${n} appends of ${appendRows} rows (${grown.filesPerAppend} files each) to one table, ` +
      `commitChange only, after ${WARM_UP_COMMITS} warm-up commits to another table:`,
  );
  const label = (text: string) => `  ${text}:`.padEnd(38);
  out(`${label("median commit, snapshots 2-11")}${ms(early)}`);
  out(
    `${label(`median commit, snapshots ${n - 9}-${n}`)}${ms(late)}  (ratio ${
      (late / early).toFixed(2)
    })`,
  );
  out(
    `${label(`mean commit, first / last ${window}`)}${ms(mean(l.slice(0, window)))} / ${
      ms(mean(l.slice(-window)))
    }  (includes merges)`,
  );
  if (lastMerge !== undefined) {
    out(
      `  manifest merges: ${grown.merges.length}, the last (snapshot ${lastMerge + 1}) took ${
        ms(l[lastMerge])
      }; a merge rewrites every live entry (${grown.entriesAtEnd.toLocaleString("en-US")} now)`,
    );
  }
  out(
    `  manifest list at the end: ${grown.manifestsAtEnd} manifests (at most ${grown.manifestsMax})`,
  );
  out(
    `  metadata JSON: ${kib(grown.metadataBytesAt10)} at snapshot 10, ${
      kib(grown.metadataBytes)
    } at ${n} (${n} snapshots, ${grown.metadataLog} metadata-log entries)`,
  );
}
out();
out(`benchmark time ${((performance.now() - started) / 1000).toFixed(0)} s`);
console.log(lines.join("\n"));
