/**
 * The HTTP listener (Deno.serve) in front of the REST catalog, and the one
 * place that opens what it serves: the object store and a catalog
 * connection of its own, next to any the engine holds in the same process.
 */
import { openCatalog } from "../catalog/mod.ts";
import type { Catalog } from "../catalog/catalog.ts";
import { errorMessage, LakehouseError } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import { openStore } from "../storage/mod.ts";
import type { S3Config } from "../storage/s3.ts";
import type { ObjectStore } from "../storage/store.ts";
import { RestCatalog } from "./rest_catalog.ts";

export interface ServeConfig {
  /** `HOST:PORT`; port 0 picks a free one. */
  readonly listen: string;
  /** Warehouse root URI (`file:///dir`, `s3://bucket/prefix`), no trailing slash. */
  readonly warehouse: string;
  /** Catalog URI for `openCatalog` (`sqlite:/abs/path.db`, `memory:`). */
  readonly catalog: string;
  readonly s3?: Partial<S3Config>;
  /** Hand the S3 access key and secret to clients with every table. */
  readonly serveCredentials?: boolean;
  readonly authToken?: string;
  readonly logger: Logger;
}

export interface RunningServer {
  /** `http://HOST:PORT`, the URI clients are given. */
  readonly url: string;
  readonly hostname: string;
  readonly port: number;
  /** Resolves once the listener has stopped. */
  readonly finished: Promise<void>;
  /** Stops accepting, lets requests in flight finish, releases the catalog and store. */
  close(): Promise<void>;
}

/** `HOST:PORT` (`[::1]:8181` for IPv6) -> parts, or the problem in words. */
export function parseListen(
  text: string,
): { hostname: string; port: number } | { problem: string } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]+)):(\d{1,5})$/.exec(text);
  const port = Number(match?.[3]);
  if (match === null || !Number.isInteger(port) || port > 65535) {
    return { problem: "must be HOST:PORT with a port from 0 to 65535 (e.g. 127.0.0.1:8181)" };
  }
  return { hostname: match[1] ?? match[2], port };
}

/** True for addresses only this machine can reach. */
export function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "::1" || /^127\./.test(hostname);
}

/** The FileIO properties pyiceberg and Java readers take for the warehouse's storage. */
export function tableConfigFor(
  warehouse: string,
  s3: Partial<S3Config> | undefined,
  serveCredentials: boolean,
): Record<string, string> {
  if (!/^s3a?:\/\//i.test(warehouse)) return {};
  const region = s3?.region ?? "us-east-1";
  const config: Record<string, string> = {
    "s3.region": region,
    "client.region": region,
    "s3.path-style-access": String(s3?.forcePathStyle ?? true),
    "s3.force-virtual-addressing": String(!(s3?.forcePathStyle ?? true)),
  };
  if (s3?.endpoint !== undefined) config["s3.endpoint"] = s3.endpoint;
  if (serveCredentials && s3?.accessKeyId !== undefined && s3.secretAccessKey !== undefined) {
    config["s3.access-key-id"] = s3.accessKeyId;
    config["s3.secret-access-key"] = s3.secretAccessKey;
  }
  return config;
}

/** Opens the store and catalog, then listens; fails (closing them) if the address is taken. */
export async function startRestServer(config: ServeConfig): Promise<RunningServer> {
  const listen = parseListen(config.listen);
  if ("problem" in listen) {
    throw new LakehouseError(`cannot serve on ${JSON.stringify(config.listen)}: ${listen.problem}`);
  }
  const store: ObjectStore = openStore(config.warehouse, config.s3);
  let catalog: Catalog;
  try {
    catalog = await openCatalog(config.catalog);
  } catch (error) {
    await store.close();
    throw error;
  }
  const rest = new RestCatalog({
    catalog,
    store,
    warehouse: config.warehouse.replace(/\/+$/, ""),
    tableConfig: tableConfigFor(config.warehouse, config.s3, config.serveCredentials ?? false),
    authToken: config.authToken,
    logger: config.logger,
  });
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: listen.hostname,
      port: listen.port,
      onListen: () => {},
      onError: (error) => {
        config.logger.error(`rest: unexpected failure: ${errorMessage(error)}`);
        return Response.json({
          error: { message: "unexpected server error", type: "ServerErrorException", code: 500 },
        }, { status: 500 });
      },
    }, (request) => rest.handle(request));
  } catch (error) {
    await catalog.close();
    await store.close();
    const why = error instanceof Deno.errors.AddrInUse
      ? "the address is already in use (another `lakehouse serve`, or pick another with --listen)"
      : errorMessage(error);
    throw new LakehouseError(`cannot serve the REST catalog on ${config.listen}: ${why}`, {
      cause: error,
    });
  }
  const { hostname, port } = server.addr;
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  const url = `http://${host}:${port}`;
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      await server.shutdown();
      await catalog.close();
      await store.close();
    })();
    return closing;
  };
  return { url, hostname, port, finished: server.finished, close };
}
