/**
 * The user-editable SQL files in sql/. They ship inside the program (and in
 * a compiled binary through `deno compile --include sql/`); `--sql-dir DIR`
 * loads customized copies instead. Errors name the file and line.
 */
import { join } from "node:path";
import { errorMessage, LakehouseError } from "../core/errors.ts";

export interface SqlFile {
  readonly name: string;
  readonly path: string;
  readonly text: string;
}

export async function loadSqlFile(name: string, dir?: string): Promise<SqlFile> {
  const path = dir ? join(dir, name) : new URL(`../../sql/${name}`, import.meta.url).pathname;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new LakehouseError(`cannot read SQL file ${path}: ${errorMessage(error)}`);
  }
  const body = stripComments(text).trim().replace(/;\s*$/, "");
  if (body.length === 0) throw new LakehouseError(`SQL file ${path} holds no statement`);
  if (body.includes(";")) {
    const line = text.slice(0, text.indexOf(";")).split("\n").length;
    throw new LakehouseError(`SQL file ${path}:${line}: must hold exactly one SELECT statement`);
  }
  return { name, path, text: body };
}

/** Prefixes DuckDB errors about a SQL file with its path and line. */
export function sqlFileError(file: SqlFile, error: unknown): LakehouseError {
  const message = errorMessage(error).replace(/^SQL failed: /, "");
  const line = /LINE (\d+):/.exec(message)?.[1];
  return new LakehouseError(
    `${file.path}${line ? `:${line}` : ""}: ${message.split("\n  in:")[0]}`,
    {
      cause: error,
    },
  );
}

function stripComments(text: string): string {
  return text.split("\n").map((l) => l.replace(/--.*$/, "")).join("\n");
}
