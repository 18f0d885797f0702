/**
 * Query results as text: an aligned table for people, CSV, JSON (an array
 * of objects) or NDJSON (an object per line) for programs. Rows are written
 * as they arrive (a table holds up to TABLE_ROWS_MAX of them to size its
 * columns), so memory stays bounded whatever the result's size.
 *
 * Values: NULL is `NULL` in a table, an empty field in CSV, `null` in JSON.
 * Decimals and timestamps come as text from src/duckdb/sandbox.ts (exact
 * decimals, ISO-8601 UTC) and stay text in JSON; BIGINT and HUGEINT are JSON
 * numbers with every digit (JavaScript's JSON.parse rounds those beyond
 * 2^53); NaN and infinities are the strings "NaN", "Infinity", "-Infinity".
 */
import type { Cell, QueryStream, ResultColumn } from "../duckdb/sandbox.ts";

export const FORMATS = ["table", "json", "csv", "ndjson"] as const;
export type Format = typeof FORMATS[number];

/** Rows a table shows; the rest are counted. */
export const TABLE_ROWS_MAX = 10_000;

/** Writes `result` in `format`; returns the number of rows. */
export async function writeResult(
  result: QueryStream,
  format: Format,
  write: (text: string) => void,
  options: { readonly tableRowsMax?: number } = {},
): Promise<number> {
  switch (format) {
    case "table":
      return await writeTable(result, write, options.tableRowsMax ?? TABLE_ROWS_MAX);
    case "csv":
      return await writeCsv(result, write);
    case "json":
      return await writeJson(result, write, false);
    case "ndjson":
      return await writeJson(result, write, true);
  }
}

async function writeTable(
  result: QueryStream,
  write: (text: string) => void,
  rowsMax: number,
): Promise<number> {
  const { columns } = result;
  const shown: string[][][] = [];
  let count = 0;
  for await (const chunk of result.chunks) {
    for (const row of chunk) {
      if (count++ < rowsMax) shown.push(row.map((cell) => tableText(cell).split("\n")));
    }
  }
  write(renderTable(columns, shown));
  const rows = `${count} ${count === 1 ? "row" : "rows"}`;
  write(
    count > shown.length
      ? `(${rows}; the first ${shown.length} shown: --format csv, json or ndjson writes them all)\n`
      : `(${rows})\n`,
  );
  return count;
}

/** The table of `rows` (each cell as its lines), numbers right-aligned. */
export function renderTable(columns: readonly ResultColumn[], rows: readonly string[][][]): string {
  const widths = columns.map((c, i) =>
    Math.max(
      width(c.name),
      ...rows.map((row) => Math.max(...row[i].map(width))),
    )
  );
  const pad = (text: string, i: number) => {
    const fill = " ".repeat(widths[i] - width(text));
    return columns[i].numeric ? fill + text : text + fill;
  };
  const line = (cells: string[]) => ` ${cells.join(" | ")}`.trimEnd() + "\n";
  let out = line(columns.map((c, i) => c.name + " ".repeat(widths[i] - width(c.name))));
  out += `${widths.map((w) => "-".repeat(w + 2)).join("+")}\n`;
  for (const row of rows) {
    const height = Math.max(1, ...row.map((lines) => lines.length));
    for (let k = 0; k < height; k++) {
      out += line(row.map((lines, i) => pad(lines[k] ?? "", i)));
    }
  }
  return out;
}

/** Characters as a terminal counts them (code points; no East Asian widths). */
function width(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** A cell in a table: NULL, numbers as written, control characters other than line breaks escaped. */
function tableText(cell: Cell): string {
  if (cell === null) return "NULL";
  if (typeof cell === "string") return escapeControls(cell, true);
  if (typeof cell === "object") return escapeControls(jsonText(cell), false);
  return String(cell);
}

// deno-lint-ignore no-control-regex
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/g;

function escapeControls(text: string, keepLineBreaks: boolean): string {
  const escaped = text.replace(
    CONTROLS,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  )
    .replace(/\r\n?/g, "\n");
  return keepLineBreaks ? escaped : escaped.replaceAll("\n", "\\n");
}

async function writeCsv(result: QueryStream, write: (text: string) => void): Promise<number> {
  write(`${result.columns.map((c) => csvField(c.name)).join(",")}\n`);
  let count = 0;
  for await (const chunk of result.chunks) {
    let out = "";
    for (const row of chunk) {
      out += `${row.map(csvValue).join(",")}\n`;
      count++;
    }
    write(out);
  }
  return count;
}

/** NULL is an empty field, the empty string `""`. */
function csvValue(cell: Cell): string {
  if (cell === null) return "";
  if (cell === "") return '""';
  if (typeof cell === "object") return csvField(jsonText(cell));
  return csvField(String(cell));
}

/** RFC 4180: quoted when it holds a comma, quote, line break or edge spaces. */
function csvField(text: string): string {
  return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

async function writeJson(
  result: QueryStream,
  write: (text: string) => void,
  lines: boolean,
): Promise<number> {
  const keys = uniqueKeys(result.columns.map((c) => c.name)).map((k) => JSON.stringify(k));
  let count = 0;
  if (!lines) write("[");
  for await (const chunk of result.chunks) {
    let out = "";
    for (const row of chunk) {
      const object = `{${row.map((cell, i) => `${keys[i]}:${jsonText(cell)}`).join(",")}}`;
      out += lines ? `${object}\n` : `${count === 0 ? "\n" : ",\n"}${object}`;
      count++;
    }
    write(out);
  }
  if (!lines) write(count === 0 ? "]\n" : "\n]\n");
  return count;
}

/** Column names as object keys: a repeated name gets `_2`, `_3`... */
function uniqueKeys(names: readonly string[]): string[] {
  const used = new Set<string>();
  return names.map((name) => {
    let key = name;
    for (let n = 2; used.has(key); n++) key = `${name}_${n}`;
    used.add(key);
    return key;
  });
}

/** JSON text of a cell; bigints with all their digits. */
export function jsonText(cell: Cell): string {
  if (cell === null) return "null";
  if (typeof cell === "bigint") return cell.toString();
  if (typeof cell === "number") return Number.isFinite(cell) ? String(cell) : `"${cell}"`;
  if (typeof cell === "boolean" || typeof cell === "string") return JSON.stringify(cell);
  if (Array.isArray(cell)) return `[${cell.map(jsonText).join(",")}]`;
  const entries = Object.entries(cell as { readonly [key: string]: Cell });
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${jsonText(v)}`).join(",")}}`;
}
