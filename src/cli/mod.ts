/**
 * Command-line dispatcher: picks the subcommand, renders help, and turns
 * errors into one-line messages with an exit status (2 = usage, 1 = failure).
 */
import { errorMessage, LakehouseError, UsageError } from "../core/errors.ts";
import { describeOsError } from "../core/os_errors.ts";
import { formatOptionsHelp } from "../config/resolve.ts";
import type { Command, CommandContext } from "./command.ts";
import { demoCommand } from "./demo.ts";
import { generateCommand } from "./generate.ts";
import { queryCommand } from "./query.ts";
import { runCommand } from "./run.ts";
import { serveCommand } from "./serve.ts";

const COMMANDS: readonly Command[] = [
  demoCommand,
  runCommand,
  generateCommand,
  queryCommand,
  serveCommand,
];

const VERSION = "0.1.0";

function topLevelHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 4;
  return `lakehouse ${VERSION}: Kafka order events -> Apache Iceberg tables, exactly once.

Usage: lakehouse <command> [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`).join("\n")}

Options are read from flags, then LAKEHOUSE_* environment variables, then a JSON
file given with --config (or LAKEHOUSE_CONFIG), then defaults.
Run 'lakehouse <command> --help' for a command's options.
`;
}

function commandHelp(command: Command): string {
  return `lakehouse ${command.name}: ${command.summary}

Usage: ${command.usage}

Options:
${formatOptionsHelp(command.options)}
${command.details ? `\n${command.details}\n` : ""}`;
}

export async function runCli(context: CommandContext): Promise<number> {
  const [name, ...rest] = context.args;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    context.stdout(topLevelHelp());
    return name === undefined ? 2 : 0;
  }
  if (name === "--version" || name === "version") {
    context.stdout(`lakehouse ${VERSION}\n`);
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    context.stderr(
      `lakehouse: unknown command "${name}"; commands: ${COMMANDS.map((c) => c.name).join(", ")}\n`,
    );
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    context.stdout(commandHelp(command));
    return 0;
  }
  try {
    return await command.run({ ...context, args: rest });
  } catch (error) {
    const debug = context.env("LAKEHOUSE_LOG_LEVEL") === "debug";
    if (error instanceof UsageError) {
      context.stderr(`lakehouse ${command.name}: ${error.message}\n`);
      return 2;
    }
    // An OS error no caller put words around still says which call failed on which path.
    const text = error instanceof LakehouseError
      ? error.message
      : describeOsError(error) ?? `unexpected error: ${errorMessage(error)}`;
    context.stderr(`lakehouse ${command.name}: ${text}\n`);
    if (debug && error instanceof Error && error.stack) context.stderr(`${error.stack}\n`);
    return 1;
  }
}
