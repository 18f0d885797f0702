/**
 * Minimal leveled logger writing one line per message to stderr, so stdout
 * stays clean for data (`generate --out -`, query results).
 */
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  readonly level: LogLevel;
}

export function createLogger(level: LogLevel, write: (line: string) => void = stderrLine): Logger {
  const at = ORDER[level];
  const emit = (lvl: LogLevel, message: string) => {
    if (ORDER[lvl] >= at) write(`${new Date().toISOString()} ${lvl.padEnd(5)} ${message}`);
  };
  return {
    level,
    debug: (m) => emit("debug", m),
    info: (m) => emit("info", m),
    warn: (m) => emit("warn", m),
    error: (m) => emit("error", m),
  };
}

const encoder = new TextEncoder();

function stderrLine(line: string): void {
  Deno.stderr.writeSync(encoder.encode(line + "\n"));
}
