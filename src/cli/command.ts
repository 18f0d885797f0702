/** What every subcommand provides to the dispatcher. */
import type { OptionSpec } from "../config/options.ts";

export interface CommandContext {
  readonly args: readonly string[];
  readonly env: (name: string) => string | undefined;
  readonly readFile: (path: string) => string;
  /** Aborted on SIGINT/SIGTERM: long-running commands finish cleanly. */
  readonly signal: AbortSignal;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly isTerminal: boolean;
  /** How the user invokes this program (`deno task lakehouse`, `lakehouse`), for printed commands. */
  readonly program?: string;
  /**
   * Registers a synchronous cleanup that runs however the process ends
   * (return, error, a second Ctrl-C, a forced exit).
   */
  readonly atExit: (cleanup: () => void) => void;
  /** Ends the process now with `code`, after the atExit cleanups. */
  readonly exit: (code: number) => never;
}

export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  /** Extra help text shown after the options (examples, notes). */
  readonly details?: string;
  readonly options: readonly OptionSpec[];
  /** Returns the process exit status. */
  run(context: CommandContext): Promise<number>;
}
