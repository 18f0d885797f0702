/** `lakehouse generate`: order events into Kafka or a file at a target rate. */
import { systemClock } from "../core/clock.ts";
import { LakehouseError, UsageError } from "../core/errors.ts";
import { osErrorText } from "../core/os_errors.ts";
import { createLogger } from "../core/log.ts";
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
import { Pacer, type RateProfile, spikeRate, steadyRate } from "../generate/rate.ts";
import { generate, type GenerateProgress } from "../generate/run.ts";
import { FileSink, type Sink } from "../generate/sink.ts";
import { DEFAULT_SEEDED_START_MS, EventSource } from "../generate/source.ts";
import { createKafka, ensureTopic, KafkaSink, kafkaUnavailable } from "../kafka/mod.ts";
import type { Command, CommandContext } from "./command.ts";
import { kafkaConnection } from "./kafka_connection.ts";
import { ProgressLine } from "./progress.ts";
import { checkGenerateOptions } from "./preflight.ts";

export const GENERATE_OPTIONS = [
  {
    name: "seed",
    type: "string",
    description:
      "make the output a pure function of the arguments (seeded ids, simulated event time); omit for random events stamped with the wall clock",
  },
  {
    name: "count",
    type: "integer",
    min: 1,
    description:
      "stop after N messages, bad records included (default: run until Ctrl-C or --duration)",
  },
  { name: "duration", type: "duration", min: 1, description: "stop after this long (e.g. 10m)" },
  {
    name: "rate",
    type: "number",
    min: 0,
    default: 10_000,
    placeholder: "EVENTS_PER_S",
    description: "target messages per second; 0 = as fast as possible. Paces delivery only",
  },
  {
    name: "profile",
    type: "choice",
    choices: ["steady", "spike"],
    default: "steady",
    description: "rate shape: steady, or spikes of --spike-factor x rate",
  },
  {
    name: "spike-factor",
    type: "number",
    min: 1,
    default: 5,
    description: "rate multiplier during a spike",
  },
  {
    name: "spike-every",
    type: "duration",
    min: 1,
    default: "60s",
    description: "time between spike starts",
  },
  {
    name: "spike-length",
    type: "duration",
    min: 1,
    default: "10s",
    description: "how long a spike lasts",
  },
  {
    name: "bad-rate",
    type: "number",
    min: 0,
    max: 1,
    default: 0,
    placeholder: "FRACTION",
    description:
      "fraction of messages replaced by bad records (malformed JSON, missing field, wrong type, unknown event type, oversized, invalid UTF-8)",
  },
  {
    name: "out",
    type: "string",
    placeholder: "FILE",
    description:
      "write NDJSON (one message value per line) to FILE ('-' = stdout) instead of Kafka",
  },
  BROKERS,
  TOPIC,
  PARTITIONS,
  {
    name: "start-time",
    type: "timestamp",
    description:
      "simulated event time of the first order, with --seed [default: 2026-01-01T00:00:00Z]",
  },
  {
    name: "orders-per-second",
    type: "number",
    min: 0.001,
    default: 50,
    description: "new orders per second of simulated event time (with --seed)",
  },
  {
    name: "batch-size",
    type: "integer",
    min: 1,
    max: 1_000_000,
    default: 5_000,
    description: "messages per producer request / file write",
  },
  {
    name: "linger-ms",
    type: "integer",
    min: 0,
    max: 1_000,
    default: 5,
    description:
      "with --rate: send messages in chunks of this many ms worth (Kafka's linger.ms; 0 = each as it is due)",
  },
  CONNECT_TIMEOUT,
  RETRIES,
  LOG_LEVEL,
] as const satisfies readonly OptionSpec[];

export const generateCommand: Command = {
  name: "generate",
  summary: "produce order events into Kafka (or a file) at a target rate",
  usage:
    "lakehouse generate [--seed S] [--count N | --duration D] [--rate R] [--out FILE | --brokers HOST:PORT --topic T]",
  details: `Examples:
  lakehouse generate --seed 7 --count 100000 --rate 0 --out orders.ndjson
  lakehouse generate --brokers 127.0.0.1:9092 --topic orders --rate 50000 --duration 10m
  lakehouse generate --seed 7 --count 1000000 --bad-rate 0.01 --profile spike

Each event is JSON keyed by order_id: event_id, event_type (ORDER_CREATED|PAID|SHIPPED|
CANCELLED|RETURNED), event_timestamp (epoch seconds), order_id, user_id, total_amount,
currency, payment_method, items[{sku, quantity, unit_price, category}], current_status.
The same --seed, --count, --bad-rate, --start-time and --orders-per-second give the same
messages, byte for byte, in Kafka or in a file.`,
  options: GENERATE_OPTIONS,
  run: runGenerate,
};

async function runGenerate(context: CommandContext): Promise<number> {
  const resolved = resolveOptions({
    command: "generate",
    specs: GENERATE_OPTIONS,
    args: context.args,
    env: context.env,
    readFile: context.readFile,
  });
  const { values } = resolved;
  const logger = createLogger(values["log-level"]);
  const seed = values.seed;
  const count = values.count;
  const durationMs = values.duration;
  const rate = values.rate;
  const out = values.out;
  if (values["start-time"] !== undefined && seed === undefined) {
    throw new UsageError(
      "--start-time needs --seed (without a seed, event time is the wall clock)",
    );
  }
  if (values.profile === "spike" && rate === 0) {
    throw new UsageError("--profile spike needs a --rate above 0 (the base rate of the spikes)");
  }
  // Every option is checked before anything happens (topic, output file).
  checkGenerateOptions(resolved);
  const connection = kafkaConnection(values, "lakehouse-generate");

  let profile: RateProfile | undefined;
  if (rate > 0) {
    profile = values.profile === "spike"
      ? spikeRate({
        baseRate: rate,
        factor: values["spike-factor"],
        periodMs: values["spike-every"],
        lengthMs: values["spike-length"],
      })
      : steadyRate(rate);
  }
  const source = new EventSource({
    seed,
    startTimeMs: values["start-time"] ?? DEFAULT_SEEDED_START_MS,
    badRate: values["bad-rate"],
    lifecycle: { ordersPerSecond: values["orders-per-second"] },
    clock: systemClock,
  });

  let sink: Sink;
  if (out !== undefined) {
    try {
      sink = await FileSink.open(out);
    } catch (error) {
      throw new LakehouseError(`cannot open ${out} (--out) for writing: ${osErrorText(error)}`, {
        cause: error,
      });
    }
  } else {
    const kafka = createKafka(connection, logger);
    const topic = values.topic;
    try {
      await ensureTopic(kafka, topic, values.partitions, logger);
      sink = await KafkaSink.connect({
        brokers: connection.brokers,
        topic,
        clientId: connection.clientId,
        connectTimeoutMs: connection.connectTimeoutMs,
        partitionBatchBytesMax: 900_000,
      });
    } catch (error) {
      throw kafkaUnavailable(connection, `produce to topic ${topic}`, error);
    }
  }

  const bound = [
    count !== undefined ? `${count} messages` : undefined,
    durationMs !== undefined ? `${durationMs / 1000}s` : undefined,
  ].filter(Boolean).join(" or ") || "until Ctrl-C";
  logger.info(
    `generating ${
      profile ? profile.describe() : "as fast as possible"
    } into ${sink.describe()}, ${bound}${
      seed !== undefined ? `, seed ${JSON.stringify(seed)}` : ""
    }`,
  );
  const progress = new ProgressLine(context.isTerminal, context.stderr);
  const final = await generate({
    source,
    sink,
    pacer: profile ? new Pacer(profile, systemClock) : undefined,
    clock: systemClock,
    limits: {
      countMax: count,
      durationMs,
      batchRecordsMax: values["batch-size"],
      lingerMs: values["linger-ms"],
    },
    signal: context.signal,
    onProgress: (p) => progress.update(describeProgress(p, rate)),
    progressIntervalMs: context.isTerminal ? 250 : 10_000,
  });
  progress.done();
  const bad = Object.entries(final.counts)
    .filter(([kind, n]) => kind !== "valid" && n > 0)
    .map(([kind, n]) => `${kind}=${n}`);
  logger.info(
    `done: ${final.sent} messages (${final.counts.valid} valid${
      bad.length ? `, bad: ${bad.join(" ")}` : ""
    }) in ${(final.elapsedMs / 1000).toFixed(1)}s = ${
      Math.round(final.sent / Math.max(final.elapsedMs / 1000, 1e-3))
    }/s into ${sink.describe()}`,
  );
  return 0;
}

function describeProgress(p: GenerateProgress, rate: number): string {
  const seconds = Math.max(p.elapsedMs / 1000, 1e-3);
  const lag = rate > 0 ? ` lag ${p.lag}` : "";
  return `sent ${p.sent} (${Math.round(p.sent / seconds)}/s avg, target ${
    rate || "max"
  })${lag} bad ${p.sent - p.counts.valid} elapsed ${seconds.toFixed(0)}s`;
}
