/**
 * The user-editable SQL files in sql/. They ship inside the program (and in
 * a compiled binary through `deno compile --include sql/`); `--sql-dir DIR`
 * loads customized copies instead. Each holds exactly one statement; errors
 * name the file and line.
 */
import { join } from "node:path";
import { errorMessage, LakehouseError } from "../core/errors.ts";

export interface SqlFile {
  readonly name: string;
  readonly path: string;
  /**
   * The statement as written (comments kept, so DuckDB's line numbers are
   * the file's), without a trailing semicolon and ending in a newline.
   */
  readonly text: string;
  /** The statement with comments and string literals blanked: for finding names it uses. */
  readonly code: string;
}

export async function loadSqlFile(name: string, dir?: string): Promise<SqlFile> {
  const path = dir ? join(dir, name) : new URL(`../../sql/${name}`, import.meta.url).pathname;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new LakehouseError(`cannot read SQL file ${path}: ${errorMessage(error)}`);
  }
  const statement = oneStatement(text, path);
  return { name, path, text: statement, code: codeOnly(statement, path) };
}

/**
 * The text up to its one statement's end, checked: comments and quoted
 * strings are skipped (a `--` or `;` inside 'a string' or "a name" is text),
 * a trailing `;` is dropped, and anything but comments after it is an error.
 */
export function oneStatement(text: string, path: string): string {
  const lexed = lex(text, path);
  if (!lexed.hasCode) throw new LakehouseError(`SQL file ${path} holds no statement`);
  const [first, second] = lexed.semicolons;
  if (second !== undefined || (first !== undefined && lexed.codeAfter(first))) {
    const line = lineOf(text, first);
    throw new LakehouseError(
      `SQL file ${path}:${line}: a statement ends here and another follows; ` +
        "a SQL file holds exactly one statement",
    );
  }
  const body = first === undefined ? text : text.slice(0, first) + text.slice(first + 1);
  return body.endsWith("\n") ? body : `${body}\n`;
}

/** `text` with comments and string literals replaced by spaces (line breaks kept). */
export function codeOnly(text: string, path: string): string {
  const chars = text.split("");
  for (const [from, to] of lex(text, path).blanks) {
    for (let i = from; i < to; i++) if (chars[i] !== "\n") chars[i] = " ";
  }
  return chars.join("");
}

interface Lexed {
  /** Offsets of `;` outside strings and comments. */
  readonly semicolons: number[];
  readonly hasCode: boolean;
  /** Whether anything but whitespace and comments follows `offset`. */
  codeAfter(offset: number): boolean;
  /** [start, end) of every comment and single-quoted or dollar-quoted string. */
  readonly blanks: [number, number][];
}

function lex(text: string, path: string): Lexed {
  const semicolons: number[] = [];
  const code: number[] = [];
  const blanks: [number, number][] = [];
  let i = 0;
  const n = text.length;
  const unterminated = (what: string, at: number): never => {
    throw new LakehouseError(`SQL file ${path}:${lineOf(text, at)}: unterminated ${what}`);
  };
  while (i < n) {
    const c = text[i];
    if (c === "-" && text[i + 1] === "-") {
      const end = text.indexOf("\n", i);
      blanks.push([i, end === -1 ? n : end]);
      i = end === -1 ? n : end + 1;
    } else if (c === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      if (end === -1) unterminated("comment", i);
      blanks.push([i, end + 2]);
      i = end + 2;
    } else if (c === "'" || c === '"') {
      code.push(i);
      let j = i + 1;
      for (;;) {
        if (j >= n) unterminated(c === "'" ? "string" : "quoted name", i);
        if (text[j] === c) {
          if (text[j + 1] === c) j += 2; // a doubled quote is the quote itself
          else break;
        } else j++;
      }
      if (c === "'") blanks.push([i, j + 1]);
      i = j + 1;
    } else if (c === "$" && /^\$[A-Za-z_]*\$/.test(text.slice(i, i + 64))) {
      // A dollar-quoted string: $$ ... $$ or $tag$ ... $tag$.
      const tag = /^\$[A-Za-z_]*\$/.exec(text.slice(i))![0];
      const end = text.indexOf(tag, i + tag.length);
      if (end === -1) unterminated("dollar-quoted string", i);
      code.push(i);
      blanks.push([i, end + tag.length]);
      i = end + tag.length;
    } else {
      if (c === ";") semicolons.push(i);
      else if (!/\s/.test(c)) code.push(i);
      i++;
    }
  }
  return {
    semicolons,
    hasCode: code.length > 0,
    codeAfter: (offset) => code.some((at) => at > offset),
    blanks,
  };
}

function lineOf(text: string, offset: number): number {
  return text.slice(0, offset).split("\n").length;
}

/** Prefixes DuckDB errors about a SQL file with its path and line. */
export function sqlFileError(file: SqlFile, error: unknown): LakehouseError {
  const message = errorMessage(error).replace(/^SQL failed: /, "");
  const line = /LINE (\d+):/.exec(message)?.[1];
  return new LakehouseError(
    `${file.path}${line ? `:${line}` : ""}: ${message.split("\n  in:")[0]}`,
    { cause: error },
  );
}
