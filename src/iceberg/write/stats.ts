/**
 * Column statistics of written Parquet files, as the manifest must describe
 * them: record and value counts, null counts, exact lower/upper bounds of
 * top-level primitive columns in Iceberg's single-value encoding (strings
 * truncated to 16 code points like Java), compressed column sizes and
 * row-group split offsets. Counts and bounds come from the writer's own
 * statistics (`COPY ... RETURN_STATS`) when the caller has them, otherwise
 * from reading the files back (a second pass over every row: about 0.6 us
 * per row, BENCHMARKS.md); sizes and offsets from the files' footers.
 */
import { type DuckDb, type Row, sqlIdent, sqlString } from "../../duckdb/duckdb.ts";
import { encodeBound, truncateStringLower, truncateStringUpper } from "../spec/bounds.ts";
import type { Schema } from "../spec/types.ts";
import { leafPathIds } from "./duckdb_types.ts";

export interface FileStats {
  readonly recordCount: bigint;
  readonly fileSizeInBytes: bigint;
  readonly columnSizes: Map<number, bigint>;
  readonly valueCounts: Map<number, bigint>;
  readonly nullValueCounts: Map<number, bigint>;
  readonly nanValueCounts: Map<number, bigint>;
  readonly lowerBounds: Map<number, Uint8Array>;
  readonly upperBounds: Map<number, Uint8Array>;
  readonly splitOffsets: bigint[];
}

/** Bounds of strings longer than this many code points are truncated. */
const STRING_BOUND_CODE_POINTS = 16;

/**
 * Statistics of `paths`. `copied`: the rows `COPY ... (RETURN_STATS)` returned
 * for them (filename, count, column_statistics), used instead of a read-back
 * when they cover every file and no column needs NaN counts (the writer
 * only reports whether a NaN exists).
 */
export async function computeFileStats(
  duckdb: DuckDb,
  schema: Schema,
  paths: readonly string[],
  copied?: readonly Row[],
): Promise<Map<string, FileStats>> {
  const out = new Map<string, FileStats>();
  if (paths.length === 0) return out;
  const list = `[${paths.map(sqlString).join(", ")}]`;
  const primitive = schema.fields.filter((f) => typeof f.type === "string");
  const fromCopy = copied !== undefined &&
    !primitive.some((f) => f.type === "float" || f.type === "double") &&
    paths.every((p) => copied.some((r) => r.filename === p));
  const rows = (fromCopy ? await copiedAggregates(duckdb, schema, copied!) : undefined) ??
    await readBackAggregates(duckdb, schema, list);
  const meta = await duckdb.query<
    {
      file_name: string;
      path_in_schema: string;
      size: bigint;
      offset: bigint;
      row_group_id: bigint;
    }
  >(
    `SELECT file_name, path_in_schema, row_group_id,
       total_compressed_size::BIGINT AS size,
       coalesce(dictionary_page_offset, data_page_offset)::BIGINT AS offset
     FROM parquet_metadata(${list})`,
  );
  const leafIds = leafPathIds(schema);
  for (const path of paths) {
    const row = rows.find((r) => r.filename === path);
    const stat = await Deno.stat(path);
    const n = (row?.n as bigint | undefined) ?? 0n;
    const stats: FileStats = {
      recordCount: n,
      fileSizeInBytes: BigInt(stat.size),
      columnSizes: new Map(),
      valueCounts: new Map(),
      nullValueCounts: new Map(),
      nanValueCounts: new Map(),
      lowerBounds: new Map(),
      upperBounds: new Map(),
      splitOffsets: [],
    };
    const groupStarts = new Map<bigint, bigint>();
    for (const m of meta.filter((m) => m.file_name === path)) {
      const id = leafIds.get(m.path_in_schema);
      if (id !== undefined) stats.columnSizes.set(id, (stats.columnSizes.get(id) ?? 0n) + m.size);
      const start = groupStarts.get(m.row_group_id);
      if (start === undefined || m.offset < start) groupStarts.set(m.row_group_id, m.offset);
    }
    stats.splitOffsets.push(
      ...[...groupStarts.values()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
    );
    for (const f of primitive) {
      const type = f.type as string;
      const nonNull = (row?.[`c${f.id}`] as bigint | undefined) ?? 0n;
      stats.valueCounts.set(f.id, n);
      stats.nullValueCounts.set(f.id, n - nonNull);
      const nan = row?.[`nan${f.id}`] as bigint | undefined;
      if (nan !== undefined) stats.nanValueCounts.set(f.id, nan);
      const lo = row?.[`lo${f.id}`];
      const hi = row?.[`hi${f.id}`];
      if (lo === null || lo === undefined || hi === null || hi === undefined) continue;
      if (type === "string") {
        const lower = truncateStringLower(lo as string, STRING_BOUND_CODE_POINTS);
        const upper = truncateStringUpper(hi as string, STRING_BOUND_CODE_POINTS);
        stats.lowerBounds.set(f.id, encodeBound("string", lower));
        // No upper bound exists when every code point is already the maximum.
        if (upper !== undefined) stats.upperBounds.set(f.id, encodeBound("string", upper));
        continue;
      }
      stats.lowerBounds.set(f.id, encodeBound(type as never, toBoundValue(type, lo)));
      stats.upperBounds.set(f.id, encodeBound(type as never, toBoundValue(type, hi)));
    }
    out.set(path, stats);
  }
  return out;
}

/** Per file the aggregates readBackAggregates computes, from the files' rows. */
async function readBackAggregates(duckdb: DuckDb, schema: Schema, list: string): Promise<Row[]> {
  const selects: string[] = ["filename", "count(*)::BIGINT AS n"];
  for (const f of schema.fields.filter((f) => typeof f.type === "string")) {
    const c = sqlIdent(f.name);
    const type = f.type as string;
    selects.push(`count(${c})::BIGINT AS ${sqlIdent(`c${f.id}`)}`);
    const [lo, hi] = boundExprs(type, c);
    if (lo) {
      selects.push(`${lo} AS ${sqlIdent(`lo${f.id}`)}`, `${hi} AS ${sqlIdent(`hi${f.id}`)}`);
    }
    if (type === "float" || type === "double") {
      selects.push(`count(*) FILTER (WHERE isnan(${c}))::BIGINT AS ${sqlIdent(`nan${f.id}`)}`);
    }
  }
  return await duckdb.query(
    `SELECT ${selects.join(", ")} FROM read_parquet(${list}, filename = true) GROUP BY filename`,
  );
}

/**
 * The same aggregates from the writer's statistics. Its min and max are text
 * (numbers, DuckDB's date and timestamp literals, strings cut at 256 bytes:
 * bounds keep 16 code points, at most 64 bytes); dates and timestamps are
 * turned into numbers by DuckDB itself, in one query. Undefined when a
 * column's null count or bounds are missing (then the files are read back).
 */
async function copiedAggregates(
  duckdb: DuckDb,
  schema: Schema,
  copied: readonly Row[],
): Promise<Row[] | undefined> {
  const primitive = schema.fields.filter((f) => typeof f.type === "string");
  const casts: string[] = [];
  const pending: { row: Row; column: string; index: number }[] = [];
  const rows: Row[] = [];
  for (const r of copied) {
    const columns = new Map(
      (r.column_statistics as { key: string; value: { key: string; value: unknown }[] }[])
        .map((c) => [c.key, new Map(c.value.map((kv) => [kv.key, kv.value]))]),
    );
    const n = BigInt(r.count as bigint | string);
    const row: Row = { filename: r.filename, n };
    for (const f of primitive) {
      const type = f.type as string;
      const stats = columns.get(sqlIdent(f.name));
      const nulls = stats?.get("null_count");
      if (nulls === undefined) return undefined;
      row[`c${f.id}`] = n - BigInt(nulls as string);
      const min = stats?.get("min") as string | undefined;
      const max = stats?.get("max") as string | undefined;
      if (min === undefined || max === undefined) {
        // Only NULLs, or values the writer keeps no bounds of (a non-ASCII
        // string longer than 256 bytes): those are read back.
        if (row[`c${f.id}`] !== 0n && boundExprs(type, "x")[0] !== undefined) return undefined;
        continue;
      }
      const numeric = NUMERIC_LITERAL[type];
      if (numeric !== undefined) {
        for (const [column, text] of [[`lo${f.id}`, min], [`hi${f.id}`, max]]) {
          // Parsed here when it has the usual shape: a query of casts per
          // batch cost 6-7 ms (two tables, 16 files of 6 timestamps each).
          const value = temporalNumber(type, text);
          if (value !== undefined) {
            row[column] = value;
            continue;
          }
          pending.push({ row, column, index: casts.length });
          casts.push(`${numeric(sqlString(text))} AS v${casts.length}`);
        }
        continue;
      }
      const [lo, hi] = boundExprs(type, "x");
      if (lo === undefined || hi === undefined) continue;
      row[`lo${f.id}`] = fromText(type, min);
      row[`hi${f.id}`] = fromText(type, max);
    }
    rows.push(row);
  }
  if (casts.length > 0) {
    const [values] = await duckdb.query(`SELECT ${casts.join(", ")}`);
    for (const p of pending) p.row[p.column] = values[`v${p.index}`];
  }
  return rows;
}

/** Dates and timestamps as the numbers their bounds encode, from the writer's literals. */
const NUMERIC_LITERAL: Record<string, (literal: string) => string> = {
  date: (t) => `(CAST(${t} AS DATE) - DATE '1970-01-01')`,
  timestamp: (t) => `epoch_us(CAST(${t} AS TIMESTAMP))`,
  timestamptz: (t) => `epoch_us(CAST(${t} AS TIMESTAMPTZ))`,
};

const DATE_TEXT = /^(\d{4})-(\d{2})-(\d{2})/;
const TIME_TEXT = /^ (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?/;
const ZONE_TEXT = /^([+-])(\d{2})(?::(\d{2}))?$/;

/**
 * A date (days) or timestamp (microseconds since the epoch, UTC) from
 * DuckDB's text of it, as NUMERIC_LITERAL's casts give; undefined for any
 * text not of the plain shape (years past 9999 or BC, infinities), which
 * is left to DuckDB.
 */
export function temporalNumber(type: string, text: string): bigint | undefined {
  const date = DATE_TEXT.exec(text);
  if (!date) return undefined;
  const day = new Date(0);
  day.setUTCFullYear(Number(date[1]), Number(date[2]) - 1, Number(date[3]));
  if (day.getUTCDate() !== Number(date[3])) return undefined; // not a calendar day
  const days = BigInt(Math.round(day.getTime() / 86_400_000));
  let rest = text.slice(date[0].length);
  if (type === "date") return rest === "" ? days : undefined;
  const time = TIME_TEXT.exec(rest);
  if (!time) return undefined;
  const [h, m, sec] = [Number(time[1]), Number(time[2]), Number(time[3])];
  if (h > 23 || m > 59 || sec > 59) return undefined;
  let micros = ((days * 24n + BigInt(h)) * 60n + BigInt(m)) * 60n + BigInt(sec);
  micros = micros * 1_000_000n + BigInt((time[4] ?? "").padEnd(6, "0"));
  rest = rest.slice(time[0].length);
  if (type === "timestamp") return rest === "" ? micros : undefined;
  const zone = ZONE_TEXT.exec(rest);
  if (!zone) return undefined;
  const offset = (BigInt(zone[2]) * 3600n + BigInt(zone[3] ?? 0) * 60n) * 1_000_000n;
  return zone[1] === "+" ? micros - offset : micros + offset;
}

/** A min or max the writer printed, as readBackAggregates would have returned it. */
function fromText(type: string, text: string): unknown {
  if (type === "boolean") return text === "1" || text === "true";
  if (type === "int" || type === "long") return BigInt(text);
  return text; // strings, and decimals (toBoundValue reads their text)
}

/** SQL for the min and max of a column, as values boundValue() can encode. */
function boundExprs(type: string, c: string): [string | undefined, string | undefined] {
  if (type.startsWith("decimal")) {
    return [`CAST(min(${c}) AS VARCHAR)`, `CAST(max(${c}) AS VARCHAR)`];
  }
  switch (type) {
    case "int":
    case "long":
    case "string":
      return [`min(${c})`, `max(${c})`];
    case "date":
      return [`min(${c}) - DATE '1970-01-01'`, `max(${c}) - DATE '1970-01-01'`];
    case "timestamp":
    case "timestamptz":
      return [`epoch_us(min(${c}))`, `epoch_us(max(${c}))`];
    case "boolean":
      return [`bool_and(${c})`, `bool_or(${c})`];
    case "float":
    case "double":
      // NaN is never a bound (readers would prune wrongly).
      return [
        `min(${c}) FILTER (WHERE NOT isnan(${c}))`,
        `max(${c}) FILTER (WHERE NOT isnan(${c}))`,
      ];
    default:
      return [undefined, undefined];
  }
}

function toBoundValue(type: string, value: unknown): unknown {
  if (type.startsWith("decimal")) return decimalUnscaled(String(value), type);
  if (type === "long" || type === "timestamp" || type === "timestamptz") {
    return BigInt(value as bigint);
  }
  if (type === "int" || type === "date") return Number(value);
  return value;
}

/** "12.50" with decimal(12, 2) -> 1250n; pads or checks the fraction to the type's scale. */
export function decimalUnscaled(text: string, type: string): bigint {
  const scale = Number(/,\s*(\d+)\)/.exec(type)?.[1] ?? 0);
  const negative = text.startsWith("-");
  const [whole, fraction = ""] = text.replace(/^[-+]/, "").split(".");
  if (fraction.length > scale) {
    throw new RangeError(`decimal ${text} has more than ${scale} fraction digits`);
  }
  const digits = BigInt(whole + fraction.padEnd(scale, "0"));
  return negative ? -digits : digits;
}
