/**
 * The only place that builds kafkajs clients. kafkajs logs through our
 * logger (its own console JSON would interleave with progress lines), and
 * connection failures surface as ServiceUnavailableError naming the brokers.
 */
import process from "node:process";
import { Kafka, type logCreator, logLevel } from "kafkajs";
import { errorMessage, ServiceUnavailableError } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";

export interface KafkaConnection {
  /** host:port list. */
  readonly brokers: readonly string[];
  readonly clientId: string;
  /** How long one connection attempt may take. */
  readonly connectTimeoutMs: number;
  /** Retries of a failed request before giving up (kafkajs backs off between them). */
  readonly retriesMax: number;
}

export function parseBrokers(text: string): string[] {
  const brokers = text.split(",").map((b) => b.trim()).filter((b) => b.length > 0);
  for (const broker of brokers) {
    const match = /^(\[[^\]]+\]|[^:\s]+):(\d+)$/.exec(broker);
    const port = match ? Number(match[2]) : NaN;
    if (!match || port < 1 || port > 65535) {
      throw new RangeError(`broker must be HOST:PORT, got "${broker}"`);
    }
  }
  if (brokers.length === 0) throw new RangeError(`no brokers given in "${text}"`);
  return brokers;
}

let warningsRouted = false;

/**
 * kafkajs schedules timers with negative delays, which Node-compatible
 * runtimes report as TimeoutNegativeWarning on stderr; route process
 * warnings to the debug log instead of the user's terminal.
 */
function routeProcessWarnings(logger: Logger): void {
  if (warningsRouted) return;
  warningsRouted = true;
  process.removeAllListeners("warning");
  process.on(
    "warning",
    (warning) => logger.debug(`runtime warning: ${warning.name}: ${warning.message}`),
  );
}

export function createKafka(connection: KafkaConnection, logger: Logger): Kafka {
  routeProcessWarnings(logger);
  const toLogger: logCreator = () => ({ namespace, level, log }) => {
    const message = `kafka ${namespace}: ${log.message}${log.error ? ` (${log.error})` : ""}`;
    // kafkajs reports every retry at ERROR, expected while a broker restarts;
    // failures that matter reach the caller as exceptions, so its log is detail.
    logger.debug(`${logLevel[level] ?? level} ${message}`);
  };
  return new Kafka({
    clientId: connection.clientId,
    brokers: [...connection.brokers],
    connectionTimeout: connection.connectTimeoutMs,
    requestTimeout: 30_000,
    retry: { retries: connection.retriesMax, initialRetryTime: 200, maxRetryTime: 5_000 },
    logLevel: logger.level === "debug" ? logLevel.DEBUG : logLevel.WARN,
    logCreator: toLogger,
  });
}

/** Wraps a kafkajs failure into an error that says which brokers could not be reached. */
export function kafkaUnavailable(
  connection: KafkaConnection,
  action: string,
  error: unknown,
): ServiceUnavailableError {
  return new ServiceUnavailableError(
    `cannot ${action}: Kafka at ${connection.brokers.join(",")} did not answer (${
      errorMessage(error)
    }). Start it with 'deno task services:up' or pass --brokers HOST:PORT`,
    { cause: error },
  );
}
