/**
 * `lakehouse demo`: the engine on embedded defaults, with no outside
 * services. The generator feeds the micro-batcher in-process (with the same
 * per-partition offsets Kafka would assign), tables live in a local
 * warehouse directory with an SQLite catalog at DIR/catalog.db.
 */
import { join, resolve } from "node:path";
import { systemClock } from "../core/clock.ts";
import { LakehouseError } from "../core/errors.ts";
import { osErrorText } from "../core/os_errors.ts";
import { createLogger } from "../core/log.ts";
import { LOG_LEVEL, PARTITIONS, TOPIC } from "../config/common.ts";
import type { OptionSpec } from "../config/options.ts";
import { resolveOptions } from "../config/resolve.ts";
import { localPath, localWarehouseProblem } from "../config/values.ts";
import { DEFAULT_SEEDED_START_MS, EventSource } from "../generate/source.ts";
import { startEngine } from "../streams/engine.ts";
import { runGeneratorFeed } from "../streams/generator_feed.ts";
import type { Command, CommandContext } from "./command.ts";
import { ENGINE_OPTIONS, engineSettings } from "./engine_options.ts";
import { ProgressLine } from "./progress.ts";
import { checkDemoOptions } from "./preflight.ts";
import { AUTH_TOKEN, SERVE, servingHint, startServing, untilAborted } from "./serve.ts";

export const DEMO_OPTIONS = [
  { name: "seed", type: "string", default: "demo", description: "seed of the generated events" },
  {
    name: "count",
    type: "integer",
    min: 1,
    default: 200_000,
    description: "messages to generate (bad ones included); exits once all are committed",
  },
  {
    name: "bad-rate",
    type: "number",
    min: 0,
    max: 1,
    default: 0.001,
    placeholder: "FRACTION",
    description: "fraction of bad records mixed in (they land in shop.orders_rejects)",
  },
  {
    name: "warehouse",
    type: "string",
    placeholder: "DIR",
    default: ".lakehouse/demo",
    description: "local warehouse directory; the SQLite catalog is DIR/catalog.db",
    check: localWarehouseProblem,
  },
  TOPIC,
  PARTITIONS,
  ...ENGINE_OPTIONS,
  SERVE,
  AUTH_TOKEN,
  LOG_LEVEL,
] as const satisfies readonly OptionSpec[];

export const demoCommand: Command = {
  name: "demo",
  summary: "run the engine on embedded defaults (no Kafka, local warehouse, SQLite catalog)",
  usage: "lakehouse demo [--seed S] [--count N] [--bad-rate F] [--warehouse DIR]",
  details: `The demo needs no services. It generates exactly the messages
'lakehouse generate --seed S --count N --bad-rate F' would, places them on
partitions as Kafka would, and commits them exactly once to the Iceberg tables
shop.orders_events and shop.orders_rejects in DIR (catalog DIR/catalog.db,
catalog name "lakehouse", Iceberg JDBC layout). Running it again with the same
arguments resumes from the committed offsets and adds nothing twice.`,
  options: DEMO_OPTIONS,
  run: runDemo,
};

async function runDemo(context: CommandContext): Promise<number> {
  const resolved = resolveOptions({
    command: "demo",
    specs: DEMO_OPTIONS,
    args: context.args,
    env: context.env,
    readFile: context.readFile,
  });
  // Every option is checked before anything happens.
  await checkDemoOptions(resolved);
  const { values } = resolved;
  const logger = createLogger(values["log-level"]);
  const warehouse = resolve(localPath(values.warehouse));
  try {
    await Deno.mkdir(warehouse, { recursive: true });
  } catch (error) {
    throw new LakehouseError(
      `cannot create warehouse directory ${warehouse}: ${osErrorText(error)}`,
      { cause: error },
    );
  }
  const count = values.count;
  const topic = values.topic;
  const tempDir = join(warehouse, ".tmp");
  context.atExit(() => {
    try {
      Deno.removeSync(tempDir, { recursive: true });
    } catch {
      // Already gone (the engine removes it on close).
    }
  });
  const engine = await startEngine({
    warehouse,
    catalog: join(warehouse, "catalog.db"),
    topic,
    ...engineSettings(values),
    tempDir,
    stateDir: resolve(values["state-dir"] ?? join(warehouse, ".state")),
    clock: systemClock,
    logger,
  });
  // Serves while the data arrives and, once it is committed, until Ctrl-C.
  const served = {
    warehouse: `file://${warehouse}`,
    catalog: `sqlite:${join(warehouse, "catalog.db")}`,
  };
  const server = await startServing(values, served, logger).catch(async (error) => {
    await engine.close();
    throw error;
  });
  const started = systemClock.now();
  const progress = new ProgressLine(context.isTerminal, context.stderr);
  const stats = engine.pipeline.stats;
  const describe = (generated: number) => {
    const seconds = Math.max((systemClock.now() - started) / 1000, 1e-3);
    return `generated ${generated}/${count}, committed ${stats.recordsCommitted} (${
      Math.round(stats.recordsCommitted / seconds)
    }/s), rejects ${stats.rejects}, batches ${stats.batches}, freshness p50 ${
      Math.round(stats.freshness.quantile(0.5))
    } ms`;
  };
  let lastDraw = 0;
  let skipped = 0;
  let byStatus: { status: string; orders: number }[] = [];
  try {
    const source = new EventSource({
      seed: values.seed,
      startTimeMs: DEFAULT_SEEDED_START_MS,
      badRate: values["bad-rate"],
      clock: systemClock,
    });
    ({ skipped } = await runGeneratorFeed({
      source,
      pipeline: engine.pipeline,
      topic,
      partitions: values.partitions,
      count,
      chunkRecords: 5_000,
      clock: systemClock,
      signal: context.signal,
      onProgress: (generated) => {
        const now = systemClock.now();
        if (now - lastDraw < (context.isTerminal ? 200 : 5_000)) return;
        lastDraw = now;
        progress.update(describe(generated));
      },
    }));
    byStatus = await engine.ordersByStatus();
  } finally {
    progress.done();
    await engine.close();
  }
  const seconds = (systemClock.now() - started) / 1000;
  logger.info(
    `demo: ${stats.recordsCommitted} records committed in ${seconds.toFixed(1)}s (${
      Math.round(stats.recordsCommitted / Math.max(seconds, 1e-3))
    }/s), ${stats.rejects} rejected, ${skipped} already committed by an earlier run`,
  );
  const tables = [...stats.rows.keys()].map((t) => `shop.${t}`).join(", ");
  const catalogPath = join(warehouse, "catalog.db");
  const statusLines = byStatus.length === 0
    ? ""
    : `Orders per status in shop.orders_current:\n${
      byStatus.map((r) => `  ${r.status.padEnd(10)} ${r.orders}`).join("\n")
    }\n`;
  context.stdout(
    `${statusLines}Tables ${
      tables || "shop.orders_events, shop.orders_current, shop.orders_rejects"
    } are in ${warehouse}
(SQLite catalog ${catalogPath}, catalog name "lakehouse").
Query them with SQL:
  ${context.program ?? "lakehouse"} query --warehouse ${
      shellWord(warehouse)
    } "SELECT status, count(*) FROM orders_current GROUP BY ALL"
Read them with pyiceberg:
  from pyiceberg.catalog.sql import SqlCatalog
  cat = SqlCatalog("lakehouse", uri="sqlite:///${catalogPath}", warehouse="file://${warehouse}")
  cat.load_table("shop.orders_current").scan().to_arrow()
`,
  );
  if (server !== undefined) {
    if (!context.signal.aborted) {
      context.stdout(servingHint(server.url, values["auth-token"] !== undefined));
      await untilAborted(context.signal);
      logger.info("stopping the REST catalog");
      await server.close();
      return 0;
    }
    await server.close();
  }
  return context.signal.aborted ? 130 : 0;
}

/** `text` as one shell word: quoted only when it needs to be. */
function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}
