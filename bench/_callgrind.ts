/** Reading the profiles valgrind's callgrind writes (bench/instructions.ts). */

/** Instructions of one run, in total and by the code they ran in. */
export interface Count {
  total: number;
  byCode: Map<string, number>;
}

/** The engine's threads, as sumThreads groups them. */
export const THREAD_GROUPS = ["main", "worker", "duckdb", "v8-helpers", "other"] as const;

/**
 * A profile per thread (valgrind's thread numbers, 1 the main thread) summed,
 * and split by thread. Valgrind does not record thread names, so a thread is
 * known by the code it ran: DuckDB's threads run libduckdb.so, the decode
 * worker is the other thread running compiled JavaScript (at least a tenth of
 * its instructions), V8's helpers run only the deno binary's code (garbage
 * collection, compilation).
 */
export function sumThreads(
  threads: readonly (Count & { thread: number })[],
): Count & { byThread: Map<string, number> } {
  const byCode = new Map<string, number>();
  const byThread = new Map<string, number>();
  let total = 0;
  for (const t of threads) {
    total += t.total;
    for (const [code, n] of t.byCode) byCode.set(code, (byCode.get(code) ?? 0) + n);
    const share = (code: string) => (t.byCode.get(code) ?? 0) / Math.max(1, t.total);
    const group = t.thread === 1
      ? "main"
      : share("duckdb") > 0.2
      ? "duckdb"
      : share("js") > 0.1
      ? "worker"
      : share("deno") > 0.5
      ? "v8-helpers"
      : "other";
    byThread.set(group, (byThread.get(group) ?? 0) + t.total);
  }
  return { total, byCode, byThread };
}

/** The code an object file (as callgrind names it) stands for in the report. */
function codeOf(object: string): string {
  if (object.endsWith("/libduckdb.so")) return "duckdb";
  if (object === "???") return "js";
  if (/\/deno$/.test(object)) return "deno";
  if (/\/libc\.so/.test(object)) return "libc";
  return "other";
}

/**
 * Self cost by object file from a callgrind profile: cost lines count for
 * the object of the function they are in; the line after `calls=` is the
 * call's inclusive cost, counted where it ran, and is skipped.
 */
export function parseCallgrind(text: string): Count {
  const names = new Map<string, string>();
  const byCode = new Map<string, number>();
  let object = "";
  let afterCall = false;
  let total: number | undefined;
  for (const line of text.split("\n")) {
    if (line.startsWith("ob=")) {
      const m = /^ob=\((\d+)\)(?: (.*))?$/.exec(line);
      if (m === null) object = line.slice(3);
      else {
        if (m[2] !== undefined) names.set(m[1], m[2]);
        object = names.get(m[1]) ?? "";
      }
      continue;
    }
    if (line.startsWith("cob=")) {
      const m = /^cob=\((\d+)\) (.*)$/.exec(line);
      if (m !== null) names.set(m[1], m[2]);
      continue;
    }
    if (line.startsWith("calls=")) {
      afterCall = true;
      continue;
    }
    if (line.startsWith("totals:")) total = Number(line.slice(7).trim());
    const cost = /^(?:[+-]?\d+|\*) (\d+)$/.exec(line);
    if (cost === null) continue;
    if (afterCall) {
      afterCall = false;
      continue;
    }
    const code = codeOf(object);
    byCode.set(code, (byCode.get(code) ?? 0) + Number(cost[1]));
  }
  const summed = [...byCode.values()].reduce((a, b) => a + b, 0);
  if (total === undefined || summed !== total) {
    throw new Error(`callgrind profile: self costs sum to ${summed}, its totals say ${total}`);
  }
  return { total, byCode };
}
