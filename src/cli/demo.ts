/**
 * `lakehouse demo`: the whole pipeline on embedded defaults, with no outside
 * services. The generator runs in-process; until the table writers land in
 * this build, the demo writes the generated stream to the warehouse directory
 * as NDJSON and says so.
 */
import { systemClock } from "../core/clock.ts";
import { errorMessage, UsageError } from "../core/errors.ts";
import { createLogger, type LogLevel } from "../core/log.ts";
import { LOG_LEVEL } from "../config/common.ts";
import type { OptionSpec } from "../config/options.ts";
import { resolveOptions } from "../config/resolve.ts";
import { generate } from "../generate/run.ts";
import { FileSink } from "../generate/sink.ts";
import { DEFAULT_SEEDED_START_MS, EventSource } from "../generate/source.ts";
import type { Command, CommandContext } from "./command.ts";
import { ProgressLine } from "./progress.ts";

export const DEMO_OPTIONS: readonly OptionSpec[] = [
  { name: "seed", type: "string", default: "demo", description: "seed of the generated events" },
  { name: "count", type: "integer", min: 1, default: 100_000, description: "messages to generate" },
  {
    name: "bad-rate",
    type: "number",
    min: 0,
    max: 1,
    default: 0.001,
    placeholder: "FRACTION",
    description: "fraction of bad records mixed in",
  },
  {
    name: "warehouse",
    type: "string",
    placeholder: "DIR",
    default: ".lakehouse/demo",
    description: "local directory for the demo's data",
  },
  LOG_LEVEL,
];

export const demoCommand: Command = {
  name: "demo",
  summary: "run the pipeline on embedded defaults (no Kafka, local warehouse)",
  usage: "lakehouse demo [--seed S] [--count N] [--bad-rate F] [--warehouse DIR]",
  details: `The demo needs no services. In this build it generates the seeded order stream
into DIR/orders.ndjson (the same bytes 'lakehouse generate --seed S --count N --out FILE'
writes); the Iceberg writers, catalog and query engine plug into the same loop.`,
  options: DEMO_OPTIONS,
  run: runDemo,
};

async function runDemo(context: CommandContext): Promise<number> {
  const { values } = resolveOptions({
    command: "demo",
    specs: DEMO_OPTIONS,
    args: context.args,
    env: context.env,
    readFile: context.readFile,
  });
  const logger = createLogger(values["log-level"] as LogLevel);
  const warehouse = values.warehouse as string;
  try {
    await Deno.mkdir(warehouse, { recursive: true });
  } catch (error) {
    throw new UsageError(`--warehouse: cannot create ${warehouse}: ${errorMessage(error)}`);
  }
  const path = `${warehouse}/orders.ndjson`;
  const sink = await FileSink.open(path);
  const source = new EventSource({
    seed: values.seed as string,
    startTimeMs: DEFAULT_SEEDED_START_MS,
    badRate: values["bad-rate"] as number,
    clock: systemClock,
  });
  const progress = new ProgressLine(context.isTerminal, context.stderr);
  const final = await generate({
    source,
    sink,
    clock: systemClock,
    limits: { countMax: values.count as number, batchRecordsMax: 10_000 },
    signal: context.signal,
    onProgress: (p) => progress.update(`generated ${p.sent} / ${values.count}`),
    progressIntervalMs: context.isTerminal ? 200 : 5_000,
  });
  progress.done();
  logger.info(
    `demo: ${final.sent} messages (${final.counts.valid} valid, ${
      final.sent - final.counts.valid
    } bad) in ${(final.elapsedMs / 1000).toFixed(2)}s -> ${path}`,
  );
  context.stdout(
    `Generated ${final.sent} order events into ${path}.\n` +
      `Next steps: 'deno task services:up' starts Kafka and the S3 server; ` +
      `'deno task lakehouse generate --help' shows the generator's options.\n`,
  );
  return 0;
}
