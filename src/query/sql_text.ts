/**
 * What `lakehouse query` reads from SQL text before DuckDB sees it: where
 * statements end (the prompt runs a statement once it ends with `;`), the
 * first keyword of each statement (only queries are let through), and the
 * names it uses (which tables to prepare, which snapshots it travels to).
 *
 * The lexer follows DuckDB's (PostgreSQL's) rules: `--` and nested `/* *\/`
 * comments, 'strings' with '' for a quote, E'strings' with backslash
 * escapes, $tag$dollar-quoted$tag$ strings, "quoted names" with "" for a
 * quote. It never decides alone what runs: DuckDB's parser splits and types
 * the statements again (src/duckdb/sandbox.ts).
 */

export type TokenKind = "word" | "quoted" | "string" | "number" | "symbol";

export interface Token {
  readonly kind: TokenKind;
  /** Words upper-cased, quoted names without their quotes, symbols as written. */
  readonly value: string;
  readonly start: number;
  readonly end: number;
}

export interface Lexed {
  readonly tokens: readonly Token[];
  /** Set when the text ends inside a string, quoted name or comment: what is still open. */
  readonly unterminated?: string;
}

export function lex(text: string): Lexed {
  const tokens: Token[] = [];
  const n = text.length;
  let i = 0;
  const push = (kind: TokenKind, value: string, start: number, end: number) =>
    tokens.push({ kind, value, start, end });
  while (i < n) {
    const c = text[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === "-" && text[i + 1] === "-") {
      const end = text.indexOf("\n", i);
      i = end === -1 ? n : end + 1;
    } else if (c === "/" && text[i + 1] === "*") {
      let depth = 1;
      let j = i + 2;
      while (j < n && depth > 0) {
        if (text[j] === "/" && text[j + 1] === "*") [depth, j] = [depth + 1, j + 2];
        else if (text[j] === "*" && text[j + 1] === "/") [depth, j] = [depth - 1, j + 2];
        else j++;
      }
      if (depth > 0) return { tokens, unterminated: "comment" };
      i = j;
    } else if (c === "'" || ((c === "E" || c === "e") && text[i + 1] === "'")) {
      const escapes = c !== "'";
      let j = escapes ? i + 2 : i + 1;
      let value = "";
      for (;;) {
        if (j >= n) return { tokens, unterminated: "string" };
        if (escapes && text[j] === "\\") {
          value += text[j + 1] ?? "";
          j += 2;
        } else if (text[j] === "'") {
          if (text[j + 1] !== "'") break;
          value += "'";
          j += 2;
        } else value += text[j++];
      }
      push("string", value, i, j + 1);
      i = j + 1;
    } else if (c === '"') {
      let j = i + 1;
      let value = "";
      for (;;) {
        if (j >= n) return { tokens, unterminated: "quoted name" };
        if (text[j] === '"') {
          if (text[j + 1] !== '"') break;
          value += '"';
          j += 2;
        } else value += text[j++];
      }
      push("quoted", value, i, j + 1);
      i = j + 1;
    } else if (c === "$" && /^\$[A-Za-z_]*\$/.test(text.slice(i, i + 64))) {
      const tag = /^\$[A-Za-z_]*\$/.exec(text.slice(i, i + 64))![0];
      const end = text.indexOf(tag, i + tag.length);
      if (end === -1) return { tokens, unterminated: "dollar-quoted string" };
      push("string", text.slice(i + tag.length, end), i, end + tag.length);
      i = end + tag.length;
    } else if (/[A-Za-z_\u0080-\uffff]/.test(c)) {
      const match = /^[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*/.exec(text.slice(i))!;
      push("word", match[0].toUpperCase(), i, i + match[0].length);
      i += match[0].length;
    } else if (/[0-9]/.test(c) || (c === "." && /[0-9]/.test(text[i + 1] ?? ""))) {
      const match = /^(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)(?:[eE][+-]?[0-9]+)?/.exec(
        text.slice(i),
      )!;
      push("number", match[0], i, i + match[0].length);
      i += match[0].length;
    } else {
      push("symbol", c, i, i + 1);
      i++;
    }
  }
  return { tokens };
}

export interface Statement {
  /** The statement's text, without its `;`. */
  readonly text: string;
  readonly tokens: readonly Token[];
}

/** The statements of `text`, split at `;` outside strings, names and comments; empty ones dropped. */
export function splitStatements(text: string): Statement[] {
  const { tokens } = lex(text);
  const out: Statement[] = [];
  let from = 0;
  let current: Token[] = [];
  const close = (end: number) => {
    if (current.length > 0) out.push({ text: text.slice(from, end).trim(), tokens: current });
    current = [];
    from = end + 1;
  };
  for (const t of tokens) {
    if (t.kind === "symbol" && t.value === ";") close(t.start);
    else current.push(t);
  }
  close(text.length);
  return out;
}

/**
 * Whether `text` (a prompt's input so far) ends a statement: its last token
 * is a `;` outside strings, names and comments (comments may follow).
 */
export function endsStatement(text: string): boolean {
  const { tokens, unterminated } = lex(text);
  if (unterminated !== undefined) return false;
  const last = tokens.at(-1);
  return last !== undefined && last.kind === "symbol" && last.value === ";";
}

/** Statements that only read: their first keyword (after `(`s). */
const QUERY_KEYWORDS = new Set([
  "SELECT",
  "WITH",
  "VALUES",
  "FROM",
  "TABLE",
  "SHOW",
  "DESCRIBE",
  "SUMMARIZE",
  "PIVOT",
  "UNPIVOT",
  "EXPLAIN",
]);

export const ALLOWED_STATEMENTS = [...QUERY_KEYWORDS].join(", ");

/**
 * Why `statement` is not a read-only query (`COPY statements are not
 * allowed`), or undefined when it is one: it starts with one of
 * QUERY_KEYWORDS; after WITH's common table expressions comes
 * SELECT/FROM/VALUES/TABLE; what EXPLAIN [ANALYZE] explains is a query too
 * (EXPLAIN ANALYZE runs it).
 */
export function readOnlyProblem(tokens: readonly Token[]): string | undefined {
  let i = 0;
  while (tokens[i]?.kind === "symbol" && tokens[i].value === "(") i++;
  const first = tokens[i];
  if (first === undefined) return undefined;
  const name = first.kind === "word" ? first.value : JSON.stringify(text(first));
  if (first.kind !== "word" || !QUERY_KEYWORDS.has(first.value)) {
    return `${name} statements are not allowed`;
  }
  if (first.value === "EXPLAIN") {
    let j = i + 1;
    if (tokens[j]?.kind === "word" && ["ANALYZE", "ANALYSE"].includes(tokens[j].value)) j++;
    if (tokens[j]?.kind === "symbol" && tokens[j].value === "(") j = skipGroup(tokens, j);
    const inner = readOnlyProblem(tokens.slice(j));
    return inner === undefined
      ? undefined
      : `EXPLAIN of ${inner.replace(/ are not allowed$/, "")} is not allowed`;
  }
  if (first.value === "WITH") return withProblem(tokens, i + 1);
  return undefined;
}

function text(token: Token): string {
  return token.kind === "quoted" ? `"${token.value}"` : token.value;
}

/** Index after the parenthesized group opening at `open`. */
function skipGroup(tokens: readonly Token[], open: number): number {
  let depth = 0;
  for (let j = open; j < tokens.length; j++) {
    const t = tokens[j];
    if (t.kind !== "symbol") continue;
    if (t.value === "(") depth++;
    else if (t.value === ")" && --depth === 0) return j + 1;
  }
  return tokens.length;
}

/** Words that may stand between a CTE's column list or body and the next part of WITH. */
const CTE_WORDS = new Set(["AS", "NOT", "MATERIALIZED", "USING", "KEY", "RECURSIVE"]);

/** The statement after WITH's common table expressions must be a query. */
function withProblem(tokens: readonly Token[], from: number): string | undefined {
  let j = from;
  let afterGroup = false;
  while (j < tokens.length) {
    const t = tokens[j];
    if (t.kind === "symbol" && t.value === "(") {
      // A parenthesized query right after a CTE body is the main query.
      if (afterGroup) return readOnlyProblem(tokens.slice(j));
      j = skipGroup(tokens, j);
      afterGroup = true;
      continue;
    }
    if (t.kind === "word" && afterGroup && !CTE_WORDS.has(t.value)) {
      return ["SELECT", "FROM", "VALUES", "TABLE"].includes(t.value)
        ? undefined
        : `WITH ... ${t.value} statements are not allowed`;
    }
    // After a column list comes AS and the body; after a body, a comma and the next CTE.
    if (t.kind === "word" ? CTE_WORDS.has(t.value) : t.kind === "symbol" && t.value === ",") {
      afterGroup = false;
    }
    j++;
  }
  return undefined;
}

/**
 * The names of `tables` that the statements use, by name anywhere in their
 * code (unquoted or quoted, alone or in `"table@..."` / `"table$snapshots"`),
 * compared case-insensitively.
 */
export function namedTables(tokens: readonly Token[], tables: readonly string[]): Set<string> {
  const byUpper = new Map(tables.map((t) => [t.toUpperCase(), t]));
  const out = new Set<string>();
  for (const t of tokens) {
    if (t.kind === "word") {
      const table = byUpper.get(t.value);
      if (table) out.add(table);
    } else if (t.kind === "quoted") {
      const base = /^([^@$]*)/.exec(t.value)![1].toUpperCase();
      const table = byUpper.get(base);
      if (table) out.add(table);
    }
  }
  return out;
}

/** Quoted names of the form `"table@SPEC"`: the snapshots the SQL travels to. */
export function timeTravelNames(
  tokens: readonly Token[],
): { name: string; table: string; at: string }[] {
  const out = new Map<string, { name: string; table: string; at: string }>();
  for (const t of tokens) {
    if (t.kind !== "quoted") continue;
    const match = /^([^@]+)@(.+)$/s.exec(t.value);
    if (match) out.set(t.value, { name: t.value, table: match[1], at: match[2] });
  }
  return [...out.values()];
}
