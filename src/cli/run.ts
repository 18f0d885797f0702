/**
 * `lakehouse run`: the engine against real services — Kafka in, Iceberg
 * tables on local disk or S3 out, SQLite catalog. Several processes with the
 * same --group-id split the partitions; each table stays exactly-once.
 */
import { join, resolve } from "node:path";
import { systemClock } from "../core/clock.ts";
import { UsageError } from "../core/errors.ts";
import { createLogger, type LogLevel } from "../core/log.ts";
import {
  BROKERS,
  CONNECT_TIMEOUT,
  LOG_LEVEL,
  PARTITIONS,
  RETRIES,
  TOPIC,
} from "../config/common.ts";
import type { OptionSpec } from "../config/options.ts";
import { resolveOptions } from "../config/resolve.ts";
import { createKafka, ensureTopic, kafkaUnavailable } from "../kafka/mod.ts";
import { KafkaFeed } from "../kafka/consumer.ts";
import { startEngine, warehouseUri } from "../streams/engine.ts";
import type { Command, CommandContext } from "./command.ts";
import { kafkaConnection } from "./kafka_connection.ts";
import { ENGINE_OPTIONS, engineSettings } from "./engine_options.ts";

export const RUN_OPTIONS: readonly OptionSpec[] = [
  BROKERS,
  TOPIC,
  PARTITIONS,
  {
    name: "group-id",
    type: "string",
    default: "lakehouse",
    description: "Kafka consumer group; processes in one group split the partitions",
  },
  {
    name: "warehouse",
    type: "string",
    placeholder: "DIR|s3://BUCKET/PREFIX",
    default: ".lakehouse/warehouse",
    description: "where table files go: a local directory or an S3 location",
  },
  {
    name: "catalog",
    type: "string",
    placeholder: "PATH.db",
    description: "SQLite catalog file [default: WAREHOUSE/catalog.db for a local warehouse]",
  },
  {
    name: "s3-endpoint",
    type: "string",
    placeholder: "URL",
    description: "S3 API endpoint (non-AWS servers)",
  },
  { name: "s3-region", type: "string", default: "us-east-1", description: "S3 region" },
  {
    name: "s3-access-key",
    type: "string",
    secret: true,
    description: "S3 access key id (prefer the environment variable)",
  },
  {
    name: "s3-secret-key",
    type: "string",
    secret: true,
    description: "S3 secret key (set LAKEHOUSE_S3_SECRET_KEY; never logged)",
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
    description: "exit once no record arrived for this long (drain and stop)",
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
  LOG_LEVEL,
];

export const runCommand: Command = {
  name: "run",
  summary: "run the engine: Kafka -> orders_events + orders_rejects, exactly once",
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
  const { values } = resolveOptions({
    command: "run",
    specs: RUN_OPTIONS,
    args: context.args,
    env: context.env,
    readFile: context.readFile,
  });
  const logger = createLogger(values["log-level"] as LogLevel);
  const connection = kafkaConnection(values, "lakehouse-run");
  const warehouse = warehouseUri(values.warehouse as string);
  const local = warehouse.startsWith("file://");
  const catalogPath = (values.catalog as string | undefined) ??
    (local ? join(new URL(warehouse).pathname, "catalog.db") : undefined);
  if (!catalogPath) {
    throw new UsageError("--catalog is required with an S3 warehouse (e.g. --catalog ./lake.db)");
  }
  if (local) await Deno.mkdir(new URL(warehouse).pathname, { recursive: true });
  const topic = values.topic as string;
  const kafka = createKafka(connection, logger);
  try {
    await ensureTopic(kafka, topic, values.partitions as number, logger);
  } catch (error) {
    throw kafkaUnavailable(connection, `read topic ${topic}`, error);
  }
  let feed: KafkaFeed | undefined;
  const engine = await startEngine({
    warehouse,
    catalog: resolve(catalogPath),
    s3: {
      endpoint: values["s3-endpoint"] as string | undefined,
      region: values["s3-region"] as string,
      accessKeyId: values["s3-access-key"] as string | undefined,
      secretAccessKey: values["s3-secret-key"] as string | undefined,
    },
    topic,
    ...engineSettings(values),
    tempDir: join(Deno.env.get("TMPDIR") ?? "/tmp", `lakehouse-${Deno.pid}`),
    clock: systemClock,
    logger,
    onBatchCommitted: async (batch) => {
      // The group's offsets never run ahead of any table (the dead-letter
      // table lags): where kafkajs falls back to them, it can only re-read.
      // (Called only once the engine has started.)
      const next = new Map(
        batch.ranges.map((r) => [r.partition, engine.pipeline.committedOffset(r.partition)]),
      );
      await feed?.commitGroupOffsets(next);
    },
  });
  const stats = engine.pipeline.stats;
  const started = systemClock.now();
  const report = setInterval(() => {
    const seconds = Math.max((systemClock.now() - started) / 1000, 1e-3);
    logger.info(
      `in ${stats.recordsIn}, committed ${stats.recordsCommitted} (${
        Math.round(stats.recordsCommitted / seconds)
      }/s avg), rejects ${stats.rejects}, batches ${stats.batches}, freshness p50 ${
        Math.round(stats.freshness.quantile(0.5))
      } ms p99 ${Math.round(stats.freshness.quantile(0.99))} ms`,
    );
  }, 10_000);
  try {
    feed = new KafkaFeed({
      kafka,
      topic,
      groupId: values["group-id"] as string,
      logger,
      signal: context.signal,
      fetchBytesPerPartitionMax: values["fetch-bytes"] as number,
      recordsMax: values["stop-after"] as number | undefined,
      idleExitMs: values["idle-exit"] as number | undefined,
      target: {
        offer: (r) => engine.pipeline.offer(r),
        tick: () => engine.pipeline.tick(),
        flush: () => engine.pipeline.flush(),
        revoke: (p) => engine.pipeline.revoke(p),
        startOffsets: async (partitions) => {
          for (const w of engine.writers) await w.refresh();
          return engine.pipeline.startOffsets(partitions);
        },
      },
    });
    await feed.run();
  } finally {
    clearInterval(report);
    await engine.close();
  }
  const seconds = (systemClock.now() - started) / 1000;
  logger.info(
    `stopped: ${stats.recordsCommitted} records committed in ${
      seconds.toFixed(1)
    }s, ${stats.rejects} rejected; freshness p50 ${
      Math.round(stats.freshness.quantile(0.5))
    } ms, p99 ${Math.round(stats.freshness.quantile(0.99))} ms, max ${
      Math.round(stats.freshness.max)
    } ms${peakRss()}`,
  );
  return 0;
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
