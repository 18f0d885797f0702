/**
 * Helpers of the REST catalog and Trino tests: pyiceberg through the REST
 * catalog, Trino through its HTTP API, our own scan of a table, and the
 * service checks (a test whose service is down fails saying how to start it).
 */
import { join } from "node:path";
import { SqliteCatalog } from "../src/catalog/sqlite.ts";
import type { TableIdentifier } from "../src/catalog/catalog.ts";
import { DuckDb } from "../src/duckdb/duckdb.ts";
import { planScan } from "../src/iceberg/scan/plan.ts";
import { createScanView } from "../src/iceberg/scan/view.ts";
import { loadTable, ManifestReader } from "../src/iceberg/table.ts";
import { openStore } from "../src/storage/mod.ts";
import type { S3Config } from "../src/storage/s3.ts";
import { canonicalRows, compareJson, normalizeJson, pyicebergPython } from "./_iceberg.ts";

/** Where Trino's `lakehouse` catalog looks for the REST catalog (scripts/lib.sh). */
export const REST_URI = Deno.env.get("LAKEHOUSE_REST_URI") ?? "http://127.0.0.1:8181";
export const TRINO_URL = `http://127.0.0.1:${Deno.env.get("LAKEHOUSE_TRINO_PORT") ?? "8080"}`;
export const S3_ACCESS_KEY = Deno.env.get("LAKEHOUSE_S3_ACCESS_KEY") ?? "lakehouse";
export const S3_SECRET_KEY = Deno.env.get("LAKEHOUSE_S3_SECRET_KEY") ?? "lakehouse-secret";

/** `REST_URI` as the `--listen` / `listen` value that serves it. */
export function restListen(): string {
  const url = new URL(REST_URI);
  return `${url.hostname}:${url.port}`;
}

/** A port nothing listens on right now. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

export async function requireTrino(): Promise<void> {
  let info: { starting?: boolean } | undefined;
  try {
    const response = await fetch(`${TRINO_URL}/v1/info`);
    info = await response.json();
  } catch {
    info = undefined;
  }
  if (info?.starting !== false) {
    throw new Error(
      `Trino not ready at ${TRINO_URL}: start it with 'bash scripts/services.sh up trino' ` +
        "(its catalog lakehouse reads through the REST catalog at " +
        `${REST_URI}, LAKEHOUSE_REST_URI)`,
    );
  }
}

/** Fails (naming what holds it) when the address the Trino catalog points at is taken. */
export async function requireRestAddressFree(): Promise<void> {
  const url = new URL(REST_URI);
  try {
    const conn = await Deno.connect({ hostname: url.hostname, port: Number(url.port) });
    conn.close();
  } catch {
    return;
  }
  throw new Error(
    `${REST_URI} is in use: the test serves its own catalog there for Trino; ` +
      "stop the `lakehouse serve` (or other process) listening on it",
  );
}

export interface TrinoResult {
  readonly columns: string[];
  readonly rows: unknown[][];
  readonly ms: number;
}

/** Runs one statement through Trino's HTTP API (catalog lakehouse, schema shop). */
export async function trino(sql: string): Promise<TrinoResult> {
  const started = performance.now();
  let response = await fetch(`${TRINO_URL}/v1/statement`, {
    method: "POST",
    headers: {
      "X-Trino-User": "lakehouse-test",
      "X-Trino-Catalog": "lakehouse",
      "X-Trino-Schema": "shop",
    },
    body: sql,
  });
  const rows: unknown[][] = [];
  let columns: string[] = [];
  for (;;) {
    if (!response.ok) throw new Error(`Trino answered ${response.status} to ${sql}`);
    const page = await response.json();
    if (page.columns) columns = page.columns.map((c: { name: string }) => c.name);
    if (page.data) rows.push(...page.data);
    if (page.error) {
      throw new Error(`Trino failed on ${sql}: ${page.error.message}`);
    }
    if (!page.nextUri) break;
    response = await fetch(page.nextUri);
  }
  return { columns, rows, ms: performance.now() - started };
}

/** Runs tests/_rest_pyiceberg.py (pyiceberg's RestCatalog) with `args`. */
export async function pyicebergRest<T = Record<string, unknown>>(
  args: Record<string, unknown>,
): Promise<{ result: T; stderr: string }> {
  const out = await new Deno.Command(await pyicebergPython(), {
    args: [new URL("./_rest_pyiceberg.py", import.meta.url).pathname, JSON.stringify(args)],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  if (out.code !== 0) throw new Error(`pyiceberg (REST) failed:\n${stderr}`);
  return { result: JSON.parse(new TextDecoder().decode(out.stdout)) as T, stderr };
}

/** Rows of a table read with pyiceberg through the REST catalog, canonical and sorted. */
export async function restRows(
  args: Record<string, unknown>,
): Promise<{ rows: Record<string, unknown>[]; snapshots: string[]; snapshot_id: string | null }> {
  const { result } = await pyicebergRest<
    { rows: unknown[]; snapshots: string[]; snapshot_id: string | null }
  >({ ...args, action: "read" });
  return {
    ...result,
    rows: result.rows.map(normalizeJson).sort(compareJson) as Record<string, unknown>[],
  };
}

export interface ScanTarget {
  /** SQLite catalog file. */
  readonly catalog: string;
  readonly warehouse: string;
  readonly s3?: Partial<S3Config>;
}

/**
 * Our own scan of a table (at `snapshotId`, else the current snapshot) as a
 * DuckDB view named `t`: canonical rows, and any SQL over `t`.
 */
export async function ourScan<T>(
  target: ScanTarget,
  table: TableIdentifier,
  use: (scan: { duckdb: DuckDb; rows: () => Promise<Record<string, unknown>[]> }) => Promise<T>,
  snapshotId?: bigint,
): Promise<T> {
  const store = openStore(target.warehouse, target.s3);
  const catalog = await SqliteCatalog.open(target.catalog);
  const duckdb = await DuckDb.open();
  const cacheDir = await Deno.makeTempDir();
  try {
    const handle = await loadTable(catalog, store, table);
    const plan = await planScan(handle.metadata, new ManifestReader(store), { snapshotId });
    await createScanView(plan, { duckdb, store, cacheDir: join(cacheDir, "c"), name: "t" });
    // Binary columns as lower-case hex, the form the pyiceberg reader prints.
    const binary = plan.schema.fields.filter((f) => f.type === "binary").map((f) => f.name);
    const schema = {
      ...plan.schema,
      fields: plan.schema.fields.map((f) =>
        f.type === "binary" ? { ...f, type: "string" as const } : f
      ),
    };
    await duckdb.run(
      `CREATE OR REPLACE TEMP VIEW t_canonical AS SELECT * ${
        binary.length === 0
          ? ""
          : `REPLACE (${binary.map((c) => `lower(hex("${c}")) AS "${c}"`).join(", ")})`
      } FROM t`,
    );
    return await use({
      duckdb,
      rows: async () =>
        (await canonicalRows(duckdb, "t_canonical", schema)) as Record<string, unknown>[],
    });
  } finally {
    duckdb.close();
    await catalog.close();
    await store.close();
    await Deno.remove(cacheDir, { recursive: true });
  }
}

/** Resident set size of a process, in MiB (Linux). */
export function rssMib(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]);
  return Math.round(kb / 1024);
}
