/**
 * `lakehouse run`: the engine against real services — Kafka in, Iceberg
 * tables on local disk or S3 out, SQLite catalog. Several processes with the
 * same --group-id split the partitions; each table stays exactly-once.
 */
import { join, resolve } from "node:path";
import { systemClock } from "../core/clock.ts";
import { errorMessage, isAborted, LakehouseError } from "../core/errors.ts";
import { osErrorText } from "../core/os_errors.ts";
import { createLogger, type Logger } from "../core/log.ts";
import {
  BROKERS,
  CONNECT_TIMEOUT,
  LOG_LEVEL,
  PARTITIONS,
  RETRIES,
  S3_ACCESS_KEY,
  S3_ENDPOINT,
  S3_REGION,
  S3_SECRET_KEY,
  TOPIC,
} from "../config/common.ts";
import { formatDuration, type OptionSpec } from "../config/options.ts";
import { resolveOptions } from "../config/resolve.ts";
import { catalogPathProblem, groupIdProblem, warehouseProblem } from "../config/values.ts";
import { createKafka, ensureTopic, kafkaUnavailable } from "../kafka/mod.ts";
import { KafkaFeed } from "../kafka/consumer.ts";
import { filePath } from "../storage/file.ts";
import { startEngine, warehouseUri } from "../streams/engine.ts";
import type { Command, CommandContext } from "./command.ts";
import { kafkaConnection } from "./kafka_connection.ts";
import { ENGINE_OPTIONS, engineSettings, SHUTDOWN_TIMEOUT } from "./engine_options.ts";
import { scratchDirectory } from "./scratch.ts";
import { checkRunOptions } from "./preflight.ts";
import { AUTH_TOKEN, SERVE, SERVE_CREDENTIALS, startServing } from "./serve.ts";
import type { RunningServer } from "../server/mod.ts";

/** orders_current's state store, beside the default warehouse. */
const DEFAULT_STATE_DIR = ".lakehouse/state";

export const RUN_OPTIONS = [
  BROKERS,
  TOPIC,
  PARTITIONS,
  {
    name: "group-id",
    type: "string",
    default: "lakehouse",
    description: "Kafka consumer group; processes in one group split the partitions",
    check: groupIdProblem,
  },
  {
    name: "warehouse",
    type: "string",
    placeholder: "DIR|s3://BUCKET/PREFIX",
    default: ".lakehouse/warehouse",
    description: "where table files go: a local directory or an S3 location",
    check: warehouseProblem,
  },
  {
    name: "catalog",
    type: "string",
    placeholder: "PATH.db",
    description: "SQLite catalog file [default: WAREHOUSE/catalog.db for a local warehouse]",
    check: catalogPathProblem,
  },
  S3_ENDPOINT,
  S3_REGION,
  S3_ACCESS_KEY,
  S3_SECRET_KEY,
  {
    name: "s3-request-timeout",
    type: "duration",
    min: 1000,
    default: "20s",
    description:
      "an S3 request without an answer for this long fails and is retried (longer for large bodies)",
  },
  {
    name: "stop-after",
    type: "integer",
    min: 1,
    description: "exit after this many records were read and committed (tests, benchmarks)",
  },
  {
    name: "idle-exit",
    type: "duration",
    min: 100,
    description:
      "exit once the fetches found no record for this long, back to back (drain and stop; a pause of the process does not count)",
  },
  {
    name: "fetch-bytes",
    type: "integer",
    min: 65_536,
    default: 8 * 1024 * 1024,
    description: "bytes fetched per partition per request",
  },
  CONNECT_TIMEOUT,
  RETRIES,
  ...ENGINE_OPTIONS,
  SHUTDOWN_TIMEOUT,
  SERVE,
  SERVE_CREDENTIALS,
  AUTH_TOKEN,
  LOG_LEVEL,
] as const satisfies readonly OptionSpec[];

export const runCommand: Command = {
  name: "run",
  summary: "run the engine: Kafka -> orders_events, orders_current, orders_rejects, exactly once",
  usage: "lakehouse run [--brokers HOST:PORT] [--warehouse DIR|s3://B/P] [--catalog PATH.db]",
  details: `Examples:
  lakehouse run --warehouse ./wh
  LAKEHOUSE_S3_SECRET_KEY=... lakehouse run --warehouse s3://warehouse/lake \\
    --s3-endpoint http://127.0.0.1:9000 --s3-access-key lakehouse --catalog ./lake.db

Start positions come from the tables' snapshot summaries, not from the
consumer group. Ctrl-C (or SIGTERM) commits the batch in flight and exits 0.`,
  options: RUN_OPTIONS,
  run: runEngine,
};

async function runEngine(context: CommandContext): Promise<number> {
  const resolved = resolveOptions({
    command: "run",
    specs: RUN_OPTIONS,
    args: context.args,
    env: context.env,
    readFile: context.readFile,
  });
  // Every option is checked before anything happens (directories, topic, catalog).
  await checkRunOptions(resolved, context.env("TMPDIR"));
  const { values } = resolved;
  const logger = createLogger(values["log-level"]);
  const connection = kafkaConnection(values, "lakehouse-run");
  const warehouse = warehouseUri(values.warehouse);
  const local = warehouse.startsWith("file://");
  // Checked above: an S3 warehouse comes with --catalog.
  const catalogPath = values.catalog ?? join(filePath(warehouse), "catalog.db");
  if (local) {
    try {
      await Deno.mkdir(filePath(warehouse), { recursive: true });
    } catch (error) {
      throw new LakehouseError(
        `cannot create warehouse directory ${filePath(warehouse)}: ${osErrorText(error)}`,
        { cause: error },
      );
    }
  }
  const topic = values.topic;
  const kafka = createKafka(connection, logger);
  try {
    await ensureTopic(kafka, topic, values.partitions, logger);
  } catch (error) {
    throw kafkaUnavailable(connection, `read topic ${topic}`, error);
  }
  const shutdownMs = values["shutdown-timeout"];
  const deadline = shutdownDeadline(context, shutdownMs, logger);
  const tempDir = await scratchDirectory(Deno.env.get("TMPDIR") ?? "/tmp", context, logger);
  const s3 = {
    endpoint: values["s3-endpoint"],
    region: values["s3-region"],
    accessKeyId: values["s3-access-key"],
    secretAccessKey: values["s3-secret-key"],
    requestTimeoutMs: values["s3-request-timeout"],
  };
  const engine = await startEngine({
    warehouse,
    catalog: `sqlite:${resolve(catalogPath)}`,
    s3,
    topic,
    ...engineSettings(values),
    tempDir,
    stateDir: resolve(values["state-dir"] ?? DEFAULT_STATE_DIR),
    clock: systemClock,
    signal: deadline,
    logger,
  });
  const stats = engine.pipeline.stats;
  const started = systemClock.now();
  const report = setInterval(() => {
    const seconds = Math.max((systemClock.now() - started) / 1000, 1e-3);
    logger.info(
      `in ${stats.recordsIn}, committed ${stats.recordsCommitted} (${
        Math.round(stats.recordsCommitted / seconds)
      }/s avg), rejects ${stats.rejects}${
        stats.filtered > 0 ? `, filtered ${stats.filtered}` : ""
      }, batches ${stats.batches}, freshness p50 ${
        Math.round(stats.freshness.quantile(0.5))
      } ms p99 ${Math.round(stats.freshness.quantile(0.99))} ms`,
    );
  }, 10_000);
  let server: RunningServer | undefined;
  try {
    server = await startServing(
      values,
      { warehouse, catalog: `sqlite:${resolve(catalogPath)}`, s3 },
      logger,
    );
    const feed = new KafkaFeed({
      kafka,
      connection,
      topic,
      groupId: values["group-id"],
      logger,
      signal: context.signal,
      fetchBytesPerPartitionMax: values["fetch-bytes"],
      recordsMax: values["stop-after"],
      idleExitMs: values["idle-exit"],
      target: engine.pipeline,
    });
    await feed.run();
  } catch (error) {
    // Stopping took longer than --shutdown-timeout (storage down): what is
    // committed stays, the rest is read again on the next start.
    if (!isAborted(error) || !context.signal.aborted) throw error;
    logger.warn(
      `stopped after --shutdown-timeout ${formatDuration(shutdownMs)} without committing ` +
        `${stats.recordsIn - stats.recordsCommitted} records read since the last commit ` +
        `(${errorMessage(error)}); they are read again on the next start`,
    );
  } finally {
    clearInterval(report);
    await server?.close();
    await engine.close();
  }
  const seconds = (systemClock.now() - started) / 1000;
  logger.info(
    `stopped: ${stats.recordsCommitted} records committed in ${
      seconds.toFixed(1)
    }s, ${stats.rejects} rejected${
      stats.writeFailures > 0
        ? ` (${stats.writeFailures} because a table write failed on them)`
        : ""
    }${stats.filtered > 0 ? `, ${stats.filtered} left out by the events SQL file` : ""}${
      stats.ignored > 0 ? `, ${stats.ignored} events ignored by the merge` : ""
    }; rows committed: ${
      [...stats.rows].map(([table, rows]) => `${table} ${rows}`).join(", ") || "none"
    }; freshness p50 ${Math.round(stats.freshness.quantile(0.5))} ms, p99 ${
      Math.round(stats.freshness.quantile(0.99))
    } ms, max ${Math.round(stats.freshness.max)} ms${
      [...stats.freshnessByTable].filter(([, h]) => h !== stats.freshness).map(([t, h]) =>
        ` (${t}: p50 ${Math.round(h.quantile(0.5))} ms, p99 ${
          Math.round(h.quantile(0.99))
        } ms, max ${Math.round(h.max)} ms)`
      ).join("")
    }${peakRss()}`,
  );
  return 0;
}

/**
 * Aborted `timeoutMs` after the first Ctrl-C/SIGTERM: the engine then gives
 * up on work in flight. Should something still hang 10 s later, the process
 * exits anyway (status 1), its scratch directory removed.
 */
function shutdownDeadline(context: CommandContext, timeoutMs: number, logger: Logger): AbortSignal {
  const deadline = new AbortController();
  context.signal.addEventListener("abort", () => {
    logger.info(
      `stopping: committing what is in flight (for at most ${formatDuration(timeoutMs)})`,
    );
    const abort = setTimeout(
      () => deadline.abort(new Error(`--shutdown-timeout ${formatDuration(timeoutMs)} passed`)),
      timeoutMs,
    );
    Deno.unrefTimer(abort);
    const force = setTimeout(() => {
      logger.error(
        `still stopping ${formatDuration(timeoutMs + 10_000)} after the signal: exiting now`,
      );
      context.exit(1);
    }, timeoutMs + 10_000);
    Deno.unrefTimer(force);
  }, { once: true });
  return deadline.signal;
}

/** `, peak RSS N MiB` where the OS reports it (Linux), else nothing. */
function peakRss(): string {
  try {
    const hwm = /VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"));
    return hwm ? `, peak RSS ${Math.round(Number(hwm[1]) / 1024)} MiB` : "";
  } catch {
    return "";
  }
}
