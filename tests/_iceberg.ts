/**
 * Helpers for Iceberg integration tests: the pyiceberg reader, and (from
 * src/iceberg/_fixtures.ts) the test table's schema, specs and rows and the
 * canonical row form both readers are compared in.
 */
import { DuckDb } from "../src/duckdb/duckdb.ts";
import { compareJson, normalizeJson } from "../src/iceberg/_fixtures.ts";

export {
  BUCKET_SPEC,
  canonicalRows,
  compareJson,
  HOUR_SPEC,
  normalizeJson,
  TEST_SCHEMA,
  testRowsSql,
} from "../src/iceberg/_fixtures.ts";

export interface PyicebergResult {
  rows: unknown[];
  snapshot_id: string | null;
  snapshots: string[];
  properties: Record<string, string>;
  sort_order: {
    order_id: number;
    fields: { source_id: number; transform: string; direction: string; null_order: string }[];
  };
}

let python: string | undefined;

/** The Python that has pyiceberg: installed the first time (scripts/readers.sh), with a clear failure. */
export async function pyicebergPython(): Promise<string> {
  if (!python) {
    const install = await new Deno.Command("bash", {
      args: [new URL("../scripts/readers.sh", import.meta.url).pathname],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (install.code !== 0) {
      throw new Error(
        `pyiceberg is not installed and 'scripts/readers.sh' failed:\n${
          new TextDecoder().decode(install.stderr)
        }`,
      );
    }
    python = new TextDecoder().decode(install.stdout).trim();
  }
  return python;
}

/** Installs (first time) and runs pyiceberg; fails with a clear message if it cannot. */
export async function readWithPyiceberg(args: Record<string, unknown>): Promise<PyicebergResult> {
  const out = await new Deno.Command(await pyicebergPython(), {
    args: [new URL("./_read_pyiceberg.py", import.meta.url).pathname, JSON.stringify(args)],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (out.code !== 0) throw new Error(`pyiceberg failed:\n${new TextDecoder().decode(out.stderr)}`);
  const result = JSON.parse(new TextDecoder().decode(out.stdout)) as PyicebergResult;
  result.rows = result.rows.map(normalizeJson).sort(compareJson);
  return result;
}

export { DuckDb };
