/**
 * The engine's scratch directory: staged batches and Parquet files before
 * upload. One per process (`lakehouse-<pid>` under $TMPDIR), removed however
 * the process ends; a process killed outright (kill -9, a crash) cannot, so
 * each start first removes the directories of processes that no longer run.
 */
import { join } from "node:path";
import type { Logger } from "../core/log.ts";
import type { CommandContext } from "./command.ts";

const PREFIX = "lakehouse-";

export async function scratchDirectory(
  parent: string,
  context: Pick<CommandContext, "atExit">,
  logger: Logger,
): Promise<string> {
  await sweepDeadScratch(parent, logger);
  const dir = join(parent, `${PREFIX}${Deno.pid}`);
  context.atExit(() => {
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch {
      // Already gone (the engine removes it on close).
    }
  });
  return dir;
}

/** Removes `lakehouse-<pid>` directories under `parent` whose process is gone (Linux: /proc). */
async function sweepDeadScratch(parent: string, logger: Logger): Promise<void> {
  if (!exists("/proc/self")) return; // No way to tell which processes run.
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(parent));
  } catch {
    return;
  }
  for (const entry of entries) {
    const match = /^lakehouse-(\d+)$/.exec(entry.name);
    if (!entry.isDirectory || !match || Number(match[1]) === Deno.pid) continue;
    if (exists(`/proc/${match[1]}`)) continue;
    try {
      await Deno.remove(join(parent, entry.name), { recursive: true });
      logger.info(
        `removed scratch directory ${join(parent, entry.name)} left by a process that ended`,
      );
    } catch {
      // Another user's, or in use: leave it.
    }
  }
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
