/**
 * `lakehouse serve`: the Iceberg REST catalog of a warehouse, for Trino,
 * Spark and pyiceberg. Also the `--serve HOST:PORT` option of `run` and
 * `demo`, which start the same server beside the engine.
 */
import { join, resolve } from "node:path";
import { createLogger, type Logger } from "../core/log.ts";
import {
  LOG_LEVEL,
  S3_ACCESS_KEY,
  S3_ENDPOINT,
  S3_REGION,
  S3_SECRET_KEY,
} from "../config/common.ts";
import type { OptionSpec, OptionValue } from "../config/options.ts";
import { directoryProblem, sqliteFileProblem } from "../config/paths.ts";
import { checkOption, rejectOption, resolveOptions } from "../config/resolve.ts";
import { catalogPathProblem, localPath, warehouseProblem } from "../config/values.ts";
import { filePath } from "../storage/file.ts";
import type { S3Config } from "../storage/s3.ts";
import { isLoopback, parseListen, type RunningServer, startRestServer } from "../server/mod.ts";
import { warehouseUri } from "../streams/engine.ts";
import type { Command, CommandContext } from "./command.ts";

function listenProblem(value: OptionValue): string | undefined {
  const parsed = parseListen(String(value));
  return "problem" in parsed ? parsed.problem : undefined;
}

/** `--serve HOST:PORT` of run and demo. */
export const SERVE = {
  name: "serve",
  type: "string",
  placeholder: "HOST:PORT",
  description:
    "also serve the tables' Iceberg REST catalog on this address (e.g. 127.0.0.1:8181) for Trino, Spark and pyiceberg",
  check: listenProblem,
} as const satisfies OptionSpec;

export const SERVE_CREDENTIALS = {
  name: "serve-credentials",
  type: "boolean",
  default: false,
  description:
    "hand the S3 access key and secret to REST catalog clients with every table (off: clients bring their own)",
} as const satisfies OptionSpec;

export const AUTH_TOKEN = {
  name: "auth-token",
  type: "string",
  secret: true,
  noFlag: true,
  description:
    "bearer token the REST catalog requires on every request (clients: token=TOKEN, or credential=ID:TOKEN through /v1/oauth/tokens)",
} as const satisfies OptionSpec;

const SERVE_OPTIONS = [
  {
    name: "listen",
    type: "string",
    placeholder: "HOST:PORT",
    default: "127.0.0.1:8181",
    description:
      "address to serve on (loopback by default; on any other, set LAKEHOUSE_AUTH_TOKEN)",
    check: listenProblem,
  },
  {
    name: "warehouse",
    type: "string",
    placeholder: "DIR|s3://BUCKET/PREFIX",
    default: ".lakehouse/warehouse",
    description: "where the tables' files are, and new tables go",
    check: warehouseProblem,
  },
  {
    name: "catalog",
    type: "string",
    placeholder: "PATH.db",
    description: "SQLite catalog file [default: WAREHOUSE/catalog.db for a local warehouse]",
    check: catalogPathProblem,
  },
  { ...S3_ENDPOINT, description: "S3 API endpoint (non-AWS servers); also handed to clients" },
  S3_REGION,
  S3_ACCESS_KEY,
  S3_SECRET_KEY,
  SERVE_CREDENTIALS,
  AUTH_TOKEN,
  LOG_LEVEL,
] as const satisfies readonly OptionSpec[];

export const serveCommand: Command = {
  name: "serve",
  summary: "serve the tables' Iceberg REST catalog (Trino, Spark, pyiceberg)",
  usage: "lakehouse serve [--warehouse DIR|s3://B/P] [--catalog PATH.db] [--listen HOST:PORT]",
  details: `Examples:
  lakehouse serve --warehouse ./wh                       # http://127.0.0.1:8181
  LAKEHOUSE_S3_SECRET_KEY=... lakehouse serve --warehouse s3://warehouse/lake \\
    --s3-endpoint http://127.0.0.1:9000 --s3-access-key lakehouse --catalog ./lake.db

Commits through the catalog (pyiceberg appends, Trino INSERT) use the same
compare-and-swap as the engine. With LAKEHOUSE_AUTH_TOKEN set, every request
needs "Authorization: Bearer <token>". Ctrl-C stops serving.`,
  options: SERVE_OPTIONS,
  run: runServe,
};

/** What the tables are served from: the engine's own warehouse, catalog and S3 settings. */
export interface ServedFrom {
  readonly warehouse: string;
  /** `sqlite:/abs/path.db`. */
  readonly catalog: string;
  readonly s3?: Partial<S3Config>;
}

/**
 * Starts the REST catalog when `--serve` is given (run, demo); undefined
 * otherwise. Logs where it listens.
 */
export async function startServing(
  values: {
    readonly serve: string | undefined;
    readonly "auth-token": string | undefined;
    readonly "serve-credentials"?: boolean;
  },
  from: ServedFrom,
  logger: Logger,
): Promise<RunningServer | undefined> {
  if (values.serve === undefined) return undefined;
  return await listen(values.serve, from, {
    authToken: values["auth-token"],
    serveCredentials: values["serve-credentials"] ?? false,
  }, logger);
}

async function listen(
  address: string,
  from: ServedFrom,
  auth: { authToken: string | undefined; serveCredentials: boolean },
  logger: Logger,
): Promise<RunningServer> {
  const server = await startRestServer({
    listen: address,
    warehouse: from.warehouse,
    catalog: from.catalog,
    s3: from.s3,
    authToken: auth.authToken,
    serveCredentials: auth.serveCredentials,
    logger,
  });
  logger.info(
    `serving the Iceberg REST catalog at ${server.url} (warehouse ${from.warehouse}${
      auth.authToken === undefined ? "" : ", bearer token required"
    }${auth.serveCredentials ? ", S3 credentials handed to clients" : ""})`,
  );
  if (!isLoopback(server.hostname)) {
    logger.warn(
      `the REST catalog listens on ${server.hostname}, reachable from other machines` +
        (auth.authToken === undefined
          ? ", and without LAKEHOUSE_AUTH_TOKEN anyone who reaches it can read and change the tables"
          : ""),
    );
  }
  return server;
}

async function runServe(context: CommandContext): Promise<number> {
  const resolved = resolveOptions({
    command: "serve",
    specs: SERVE_OPTIONS,
    args: context.args,
    env: context.env,
    readFile: context.readFile,
  });
  const { values } = resolved;
  if ((values["s3-access-key"] === undefined) !== (values["s3-secret-key"] === undefined)) {
    throw rejectOption(
      resolved,
      values["s3-access-key"] === undefined ? "s3-secret-key" : "s3-access-key",
      "needs both --s3-access-key and LAKEHOUSE_S3_SECRET_KEY, or neither (the AWS default credentials)",
    );
  }
  const s3 = /^s3a?:\/\//i.test(values.warehouse);
  if (!s3) checkOption(resolved, "warehouse", (w) => directoryProblem(localPath(w)));
  if (values.catalog !== undefined) checkOption(resolved, "catalog", sqliteFileProblem);
  else if (s3) {
    throw rejectOption(
      resolved,
      "warehouse",
      "is an S3 location, which needs --catalog PATH (the SQLite catalog the engine commits to)",
    );
  }
  if (values["serve-credentials"] && !s3) {
    throw rejectOption(resolved, "serve-credentials", "applies to an S3 warehouse only");
  }
  const warehouse = warehouseUri(s3 ? values.warehouse : localPath(values.warehouse));
  const catalogPath = values.catalog ?? join(filePath(warehouse), "catalog.db");
  if (values.catalog === undefined) {
    const problem = sqliteFileProblem(catalogPath);
    if (problem !== undefined) {
      throw rejectOption(resolved, "warehouse", `holds a catalog.db that ${problem}`);
    }
  }
  if (!s3) await Deno.mkdir(filePath(warehouse), { recursive: true });
  const logger = createLogger(values["log-level"]);
  const server = await listen(
    values.listen,
    {
      warehouse,
      catalog: `sqlite:${resolve(catalogPath)}`,
      s3: {
        endpoint: values["s3-endpoint"],
        region: values["s3-region"],
        accessKeyId: values["s3-access-key"],
        secretAccessKey: values["s3-secret-key"],
      },
    },
    { authToken: values["auth-token"], serveCredentials: values["serve-credentials"] },
    logger,
  );
  context.stdout(servingHint(server.url, values["auth-token"] !== undefined));
  await untilAborted(context.signal);
  logger.info("stopping: no new requests; finishing those in flight");
  await server.close();
  return 0;
}

/** How to connect, printed once the server listens. */
export function servingHint(url: string, token: boolean): string {
  const auth = token ? ', token="<LAKEHOUSE_AUTH_TOKEN>"' : "";
  return `Iceberg REST catalog at ${url} (Ctrl-C to stop). Read it with pyiceberg:
  from pyiceberg.catalog.rest import RestCatalog
  cat = RestCatalog("lakehouse", uri="${url}"${auth})
  cat.load_table("shop.orders_events").scan().to_arrow()
or with Trino: bash scripts/services.sh up trino && deno task trino
`;
}

/** Resolves when the signal is aborted (Ctrl-C, SIGTERM). */
export function untilAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((done) => signal.addEventListener("abort", () => done(), { once: true }));
}
