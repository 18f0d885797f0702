/**
 * Crash points for the crash tests: with LAKEHOUSE_CRASH_POINTS set to
 * `name:probability,...` (e.g. `current.after-commit:0.3`), the process
 * kills itself (SIGKILL, as `kill -9` would) when it passes a named point,
 * with that probability. Without the variable every point is inert; it is
 * read once, at start-up.
 */
const POINTS: ReadonlyMap<string, number> = parse(
  (() => {
    try {
      return Deno.env.get("LAKEHOUSE_CRASH_POINTS") ?? "";
    } catch {
      return ""; // no env permission: no crash points
    }
  })(),
);

function parse(text: string): Map<string, number> {
  const points = new Map<string, number>();
  for (const item of text.split(",")) {
    const [name, p] = item.split(":");
    if (name?.trim()) points.set(name.trim(), p === undefined ? 1 : Number(p));
  }
  return points;
}

/** Dies here (SIGKILL) when the point is armed and the dice say so. */
export function crashPoint(name: string): void {
  const p = POINTS.get(name);
  if (p !== undefined && Math.random() < p) Deno.kill(Deno.pid, "SIGKILL");
}
