/**
 * The Iceberg REST catalog API over a `Catalog` and an `ObjectStore`: the
 * routes Trino, Spark (Java's RESTCatalog) and pyiceberg use, as a plain
 * `Request -> Response` function (the HTTP listener is server.ts).
 *
 * A table commit (`POST .../tables/{table}`) goes through `commitTable`, the
 * commit path the engine's writers use: requirements checked against the
 * metadata as loaded, updates applied, one compare-and-swap of the catalog
 * pointer. A REST client and the engine committing to the same table race
 * on that swap; the loser retries (the engine) or gets 409 (a client whose
 * requirement no longer holds).
 */
import type { Catalog, TableIdentifier } from "../catalog/catalog.ts";
import { formatNamespace, formatTableIdentifier, NoSuchTableError } from "../catalog/catalog.ts";
import { errorMessage } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import { type CommitOptions, commitTable } from "../iceberg/commit/commit_table.ts";
import {
  applyUpdates,
  RequirementFailedError,
  type TableUpdate,
} from "../iceberg/commit/updates.ts";
import { tableMetadataFromJson, tableMetadataToJson } from "../iceberg/spec/metadata.ts";
import type { ObjectStore } from "../storage/store.ts";
import { checkBearer, tokenEndpoint } from "./auth.ts";
import {
  commitRequestOf,
  createTableRequestOf,
  namespaceOf,
  object,
  parseBody,
  string,
  stringMap,
  tableIdentifierOf,
} from "./decode.ts";
import { badRequest, errorBody, notFound, RestError, restErrorOf } from "./errors.ts";
import { assignFreshIds } from "./fresh_ids.ts";

/** The routes this server answers, as `GET /v1/config` advertises them. */
export const ENDPOINTS: readonly string[] = [
  "GET /v1/{prefix}/namespaces",
  "POST /v1/{prefix}/namespaces",
  "GET /v1/{prefix}/namespaces/{namespace}",
  "HEAD /v1/{prefix}/namespaces/{namespace}",
  "DELETE /v1/{prefix}/namespaces/{namespace}",
  "GET /v1/{prefix}/namespaces/{namespace}/tables",
  "POST /v1/{prefix}/namespaces/{namespace}/tables",
  "GET /v1/{prefix}/namespaces/{namespace}/tables/{table}",
  "HEAD /v1/{prefix}/namespaces/{namespace}/tables/{table}",
  "POST /v1/{prefix}/namespaces/{namespace}/tables/{table}",
  "DELETE /v1/{prefix}/namespaces/{namespace}/tables/{table}",
  "POST /v1/{prefix}/namespaces/{namespace}/register",
  "POST /v1/{prefix}/namespaces/{namespace}/tables/{table}/metrics",
  "POST /v1/{prefix}/tables/rename",
  "GET /v1/{prefix}/namespaces/{namespace}/views",
  "GET /v1/{prefix}/namespaces/{namespace}/views/{view}",
  "HEAD /v1/{prefix}/namespaces/{namespace}/views/{view}",
];

/** Request bodies above this are refused (a commit of one snapshot is a few KiB). */
const BODY_BYTES_MAX = 16 * 1024 * 1024;

/** Metadata files known to parse; they never change once written. */
const VALIDATED_MAX = 1024;

export interface RestCatalogOptions {
  readonly catalog: Catalog;
  readonly store: ObjectStore;
  /** Root URI new tables go under (`s3://bucket/prefix`, `file:///dir`), no trailing slash. */
  readonly warehouse: string;
  /**
   * FileIO properties handed to readers with every table (S3 endpoint,
   * region, path style; credentials only when the operator allows it).
   */
  readonly tableConfig: Readonly<Record<string, string>>;
  /** When set, every route requires `Authorization: Bearer <token>`. */
  readonly authToken?: string;
  readonly logger: Logger;
  readonly commit?: CommitOptions;
}

interface Route {
  readonly method: string;
  /** Path segments after /v1/, percent-decoded. */
  readonly segments: readonly string[];
  readonly url: URL;
  readonly request: Request;
}

const JSON_HEADERS = { "content-type": "application/json" };

export class RestCatalog {
  readonly #o: RestCatalogOptions;
  readonly #validated = new Set<string>();

  constructor(options: RestCatalogOptions) {
    this.#o = options;
  }

  /** Answers one request; never throws (failures become error responses). */
  async handle(request: Request): Promise<Response> {
    const started = performance.now();
    const url = new URL(request.url);
    let response: Response;
    try {
      response = await this.#route(request, url);
    } catch (error) {
      const rest = restErrorOf(error);
      if (rest.status >= 500) {
        this.#o.logger.warn(
          `rest: ${request.method} ${url.pathname} failed (${rest.status}): ${rest.message}`,
        );
      }
      response = request.method === "HEAD"
        ? new Response(null, { status: rest.status })
        : Response.json(errorBody(rest), {
          status: rest.status,
          headers: rest.status === 401 ? { "www-authenticate": 'Bearer realm="lakehouse"' } : {},
        });
    }
    this.#o.logger.debug(
      `rest: ${request.method} ${url.pathname}${url.search} -> ${response.status} in ${
        (performance.now() - started).toFixed(1)
      } ms`,
    );
    return response;
  }

  async #route(request: Request, url: URL): Promise<Response> {
    const method = request.method.toUpperCase();
    if (url.pathname === "/v1/oauth/tokens" && method === "POST") {
      return await tokenEndpoint(request, this.#o.authToken);
    }
    checkBearer(request, this.#o.authToken);
    if (!url.pathname.startsWith("/v1/")) throw noRoute(method, url);
    let segments: string[];
    try {
      segments = url.pathname.slice("/v1/".length).replace(/\/+$/, "").split("/").map(
        decodeURIComponent,
      );
    } catch {
      throw badRequest(`the path ${url.pathname} is not valid percent-encoding`);
    }
    const r: Route = { method, segments, url, request };
    const [head, ns, kind, name, tail, ...rest] = segments;
    if (head === "config" && segments.length === 1) {
      return this.#only(r, "GET", () => this.#config());
    }
    if (head === "tables" && ns === "rename" && segments.length === 2) {
      return await this.#only(r, "POST", () => this.#renameTable(r));
    }
    if (head !== "namespaces") throw noRoute(method, url);
    if (ns === undefined) {
      return await this.#either(r, {
        GET: () => this.#listNamespaces(r),
        POST: () => this.#createNamespace(r),
      });
    }
    const namespace = namespaceFromPath(ns);
    if (kind === undefined) {
      return await this.#either(r, {
        GET: () => this.#loadNamespace(namespace),
        HEAD: () => this.#namespaceExists(namespace),
        DELETE: () => this.#dropNamespace(namespace),
      });
    }
    if (kind === "register" && name === undefined) {
      return await this.#only(r, "POST", () => this.#registerTable(r, namespace));
    }
    if (kind === "views") {
      if (name === undefined) {
        return await this.#only(r, "GET", () => this.#listViews(namespace));
      }
      if (tail === undefined) {
        return await this.#either(r, {
          GET: () => this.#noSuchView(namespace, name),
          HEAD: () => this.#noSuchView(namespace, name),
        });
      }
      throw noRoute(method, url);
    }
    if (kind !== "tables") throw noRoute(method, url);
    if (name === undefined) {
      return await this.#either(r, {
        GET: () => this.#listTables(namespace),
        POST: () => this.#createTable(r, namespace),
      });
    }
    const id: TableIdentifier = { namespace, name };
    if (tail === undefined) {
      return await this.#either(r, {
        GET: () => this.#loadTable(id),
        HEAD: () => this.#tableExists(id),
        POST: () => this.#commit(r, id),
        DELETE: () => this.#dropTable(r, id),
      });
    }
    if (tail === "metrics" && rest.length === 0) {
      return await this.#only(r, "POST", () => this.#metrics(r, id));
    }
    throw noRoute(method, url);
  }

  #only(
    r: Route,
    method: string,
    run: () => Response | Promise<Response>,
  ): Response | Promise<Response> {
    return this.#either(r, { [method]: run });
  }

  #either(
    r: Route,
    handlers: Record<string, () => Response | Promise<Response>>,
  ): Response | Promise<Response> {
    const handler = handlers[r.method];
    if (handler === undefined) {
      throw new RestError(
        405,
        "MethodNotAllowedException",
        `${r.method} is not supported on ${r.url.pathname} (allowed: ${
          Object.keys(handlers).join(", ")
        })`,
      );
    }
    return handler();
  }

  // ------------------------------------------------------------ config ----

  #config(): Response {
    return Response.json({ defaults: {}, overrides: {}, endpoints: ENDPOINTS });
  }

  // -------------------------------------------------------- namespaces ----

  async #listNamespaces(r: Route): Promise<Response> {
    const parentText = r.url.searchParams.get("parent");
    const parent = parentText === null || parentText === "" ? [] : namespaceFromPath(parentText);
    const namespaces = await this.#o.catalog.listNamespaces(parent);
    return Response.json({ namespaces });
  }

  async #createNamespace(r: Route): Promise<Response> {
    const o = object(await body(r.request), "");
    const namespace = namespaceOf(o.namespace, "namespace");
    const properties = o.properties === undefined || o.properties === null
      ? {}
      : stringMap(o.properties, "properties");
    await this.#o.catalog.createNamespace(namespace, properties);
    return await this.#loadNamespace(namespace);
  }

  async #loadNamespace(namespace: string[]): Promise<Response> {
    const properties = await this.#o.catalog.loadNamespaceProperties(namespace);
    // Where tables of the namespace go unless they say otherwise. Trino needs
    // it: without a namespace location it creates tables without staging,
    // then finds the metadata file just written and refuses the location
    // as not empty.
    return Response.json({
      namespace,
      properties: { location: this.#namespaceLocation(namespace), ...properties },
    });
  }

  async #namespaceExists(namespace: string[]): Promise<Response> {
    const exists = await this.#o.catalog.namespaceExists(namespace);
    return new Response(null, { status: exists ? 204 : 404 });
  }

  async #dropNamespace(namespace: string[]): Promise<Response> {
    await this.#o.catalog.dropNamespace(namespace);
    return new Response(null, { status: 204 });
  }

  // ------------------------------------------------------------ tables ----

  async #listTables(namespace: string[]): Promise<Response> {
    const identifiers = await this.#o.catalog.listTables(namespace);
    return Response.json({ identifiers });
  }

  async #loadTable(id: TableIdentifier): Promise<Response> {
    const pointer = await this.#o.catalog.loadTable(id);
    const text = await this.#metadataText(pointer.metadataLocation);
    return this.#tableResult(pointer.metadataLocation, text);
  }

  async #tableExists(id: TableIdentifier): Promise<Response> {
    const exists = await this.#o.catalog.tableExists(id);
    return new Response(null, { status: exists ? 204 : 404 });
  }

  async #createTable(r: Route, namespace: string[]): Promise<Response> {
    const request = createTableRequestOf(await body(r.request));
    const id: TableIdentifier = { namespace, name: request.name };
    const { catalog } = this.#o;
    if (!(await catalog.namespaceExists(namespace))) {
      throw notFound(
        "NoSuchNamespaceException",
        `namespace ${formatNamespace(namespace)} does not exist`,
      );
    }
    if (await catalog.tableExists(id)) {
      throw new RestError(
        409,
        "AlreadyExistsException",
        `table ${formatTableIdentifier(id)} already exists`,
      );
    }
    const fresh = assignFreshIds(request.schema, request.spec, request.order);
    const properties = { ...request.properties };
    const version = properties["format-version"];
    delete properties["format-version"];
    if (version !== undefined && version !== "2") {
      throw badRequest(
        `properties.format-version ${JSON.stringify(version)} is not supported; ` +
          "this catalog creates format version 2 tables",
      );
    }
    const location = (request.location ?? await this.#defaultLocation(id)).replace(/\/+$/, "");
    this.#checkInsideWarehouse(location, "location");
    const updates: TableUpdate[] = [
      { action: "assign-uuid", uuid: crypto.randomUUID() },
      { action: "upgrade-format-version", "format-version": 2 },
      { action: "add-schema", schema: fresh.schema },
      { action: "set-current-schema", "schema-id": -1 },
      { action: "add-spec", spec: fresh.spec },
      { action: "set-default-spec", "spec-id": -1 },
      { action: "add-sort-order", "sort-order": fresh.order },
      { action: "set-default-sort-order", "sort-order-id": -1 },
      { action: "set-location", location },
      { action: "set-properties", updates: properties },
    ];
    if (request.stageCreate) {
      // Nothing is written: the client commits the table later with
      // assert-create and these updates (plus its own).
      const metadata = applyUpdates(undefined, updates, { nowMs: Date.now() });
      return this.#tableResult(undefined, tableMetadataToJson(metadata));
    }
    let result;
    try {
      result = await commitTable(this.#context(id), [{ type: "assert-create" }], updates, {
        ...this.#o.commit,
        attemptsMax: 1,
      });
    } catch (error) {
      if (error instanceof RequirementFailedError || isLostRace(error)) {
        throw new RestError(
          409,
          "AlreadyExistsException",
          `table ${formatTableIdentifier(id)} already exists`,
          { cause: error },
        );
      }
      throw error;
    }
    this.#o.logger.info(`rest: created table ${formatTableIdentifier(id)} at ${location}`);
    return this.#tableResult(result.metadataLocation, tableMetadataToJson(result.metadata));
  }

  async #registerTable(r: Route, namespace: string[]): Promise<Response> {
    const o = object(await body(r.request), "");
    const name = string(o, "name", "");
    const location = string(o, "metadata-location", "");
    const overwrite = o.overwrite === true;
    const id: TableIdentifier = { namespace, name };
    this.#checkInsideWarehouse(location, "metadata-location");
    const text = await this.#metadataText(location);
    const { catalog } = this.#o;
    if (overwrite && await catalog.tableExists(id)) {
      const pointer = await catalog.loadTable(id);
      await catalog.swapTable(id, pointer.metadataLocation, location);
    } else {
      await catalog.createTable(id, location);
    }
    return this.#tableResult(location, text);
  }

  async #commit(r: Route, id: TableIdentifier): Promise<Response> {
    const request = commitRequestOf(await body(r.request));
    if (
      request.identifier !== undefined &&
      formatTableIdentifier(request.identifier) !== formatTableIdentifier(id)
    ) {
      throw badRequest(
        `identifier ${
          formatTableIdentifier(request.identifier)
        } differs from the table in the path (${formatTableIdentifier(id)})`,
      );
    }
    request.updates.forEach((u, i) => {
      if (u.action === "set-location") {
        this.#checkInsideWarehouse(String(u.location), `updates[${i}].location`);
      }
    });
    const result = await commitTable(
      this.#context(id),
      request.requirements,
      request.updates,
      this.#o.commit,
    );
    this.#o.logger.debug(
      `rest: committed ${formatTableIdentifier(id)}: ${
        request.updates.map((u) => u.action).join(", ")
      } (attempts ${result.attempts})`,
    );
    const text = tableMetadataToJson(result.metadata);
    this.#remember(result.metadataLocation);
    return new Response(
      `{"metadata-location":${JSON.stringify(result.metadataLocation)},"metadata":${text}}`,
      { headers: JSON_HEADERS },
    );
  }

  async #dropTable(r: Route, id: TableIdentifier): Promise<Response> {
    const purge = r.url.searchParams.get("purgeRequested") === "true";
    const { catalog, store, logger } = this.#o;
    let location: string | undefined;
    if (purge) {
      const pointer = await catalog.loadTable(id);
      try {
        location = tableMetadataFromJson(
          await this.#metadataText(pointer.metadataLocation),
          pointer.metadataLocation,
        ).location;
      } catch (error) {
        logger.warn(
          `rest: cannot read ${formatTableIdentifier(id)} to purge it: ${errorMessage(error)}`,
        );
      }
    }
    await catalog.dropTable(id);
    logger.info(`rest: dropped table ${formatTableIdentifier(id)}${purge ? " (purge)" : ""}`);
    if (location !== undefined) {
      // Only what lies under the warehouse: a registered table may point
      // anywhere, and deleting outside the warehouse is not ours to do.
      const prefix = `${location.replace(/\/+$/, "")}/`;
      if (!prefix.startsWith(`${this.#o.warehouse}/`)) {
        logger.warn(
          `rest: not purging ${prefix}: it is outside the warehouse ${this.#o.warehouse}`,
        );
      } else {
        try {
          const paths: string[] = [];
          for await (const info of store.list(prefix)) paths.push(info.path);
          await store.deleteMany(paths);
          logger.info(`rest: purged ${paths.length} files under ${prefix}`);
        } catch (error) {
          logger.warn(`rest: purging ${prefix} failed: ${errorMessage(error)}`);
        }
      }
    }
    return new Response(null, { status: 204 });
  }

  async #renameTable(r: Route): Promise<Response> {
    const o = object(await body(r.request), "");
    const from = tableIdentifierOf(o.source, "source");
    const to = tableIdentifierOf(o.destination, "destination");
    const { catalog } = this.#o;
    if (catalog.renameTable === undefined) {
      throw new RestError(
        406,
        "UnsupportedOperationException",
        "this catalog cannot rename tables",
      );
    }
    await catalog.renameTable(from, to);
    this.#o.logger.info(
      `rest: renamed table ${formatTableIdentifier(from)} to ${formatTableIdentifier(to)}`,
    );
    return new Response(null, { status: 204 });
  }

  async #metrics(r: Route, id: TableIdentifier): Promise<Response> {
    // Scan and commit reports are accepted and not kept.
    await r.request.body?.cancel();
    if (!(await this.#o.catalog.tableExists(id))) throw new NoSuchTableError(id);
    return new Response(null, { status: 204 });
  }

  // ------------------------------------------------------------- views ----

  async #listViews(namespace: string[]): Promise<Response> {
    if (!(await this.#o.catalog.namespaceExists(namespace))) {
      throw notFound(
        "NoSuchNamespaceException",
        `namespace ${formatNamespace(namespace)} does not exist`,
      );
    }
    return Response.json({ identifiers: [] });
  }

  #noSuchView(namespace: string[], name: string): Response {
    throw notFound(
      "NoSuchViewException",
      `view ${
        formatTableIdentifier({ namespace, name })
      } does not exist (this catalog holds no views)`,
    );
  }

  // ----------------------------------------------------------- helpers ----

  #context(id: TableIdentifier) {
    return { catalog: this.#o.catalog, store: this.#o.store, id };
  }

  /** Where a table without an explicit location goes: the namespace's `location`, else the warehouse. */
  async #defaultLocation(id: TableIdentifier): Promise<string> {
    const properties = await this.#o.catalog.loadNamespaceProperties(id.namespace);
    const base = properties.location?.replace(/\/+$/, "") ?? this.#namespaceLocation(id.namespace);
    return `${base}/${id.name}`;
  }

  /** The warehouse's directory for a namespace (the engine's layout: WAREHOUSE/shop/orders_events). */
  #namespaceLocation(namespace: readonly string[]): string {
    return `${this.#o.warehouse}/${namespace.join("/")}`;
  }

  /**
   * Files the server writes or reads for a client stay in the warehouse: its
   * storage credentials may reach further (other buckets), the clients' not.
   */
  #checkInsideWarehouse(uri: string, field: string): void {
    if (!`${uri.replace(/\/+$/, "")}/`.startsWith(`${this.#o.warehouse}/`)) {
      throw badRequest(
        `${field} ${JSON.stringify(uri)} is outside the warehouse ${this.#o.warehouse}`,
      );
    }
  }

  /** The metadata file as stored, checked to be valid table metadata (once per file). */
  async #metadataText(location: string): Promise<string> {
    let text: string;
    try {
      text = new TextDecoder().decode(await this.#o.store.get(location));
    } catch (error) {
      throw restErrorOf(error);
    }
    if (!this.#validated.has(location)) {
      tableMetadataFromJson(text, location);
      this.#remember(location);
    }
    return text;
  }

  #remember(location: string): void {
    if (this.#validated.size >= VALIDATED_MAX) this.#validated.clear();
    this.#validated.add(location);
  }

  #tableResult(metadataLocation: string | undefined, metadataText: string): Response {
    const location = metadataLocation === undefined
      ? ""
      : `"metadata-location":${JSON.stringify(metadataLocation)},`;
    return new Response(
      `{${location}"metadata":${metadataText},"config":${JSON.stringify(this.#o.tableConfig)}}`,
      { headers: JSON_HEADERS },
    );
  }
}

function isLostRace(error: unknown): boolean {
  return error instanceof Error && error.cause instanceof Error &&
    error.cause.name === "AlreadyExistsError";
}

/** A namespace in a path: levels separated by the unit separator (%1F). */
function namespaceFromPath(text: string): string[] {
  const levels = text.split("\u001f");
  if (levels.some((l) => l === "")) {
    throw badRequest(`namespace ${JSON.stringify(text)} has an empty level`);
  }
  return levels;
}

async function body(request: Request): Promise<unknown> {
  const length = Number(request.headers.get("content-length") ?? "0");
  if (length > BODY_BYTES_MAX) {
    throw new RestError(
      413,
      "BadRequestException",
      `the request body exceeds ${BODY_BYTES_MAX} bytes`,
    );
  }
  const text = await request.text();
  if (text.length > BODY_BYTES_MAX) {
    throw new RestError(
      413,
      "BadRequestException",
      `the request body exceeds ${BODY_BYTES_MAX} bytes`,
    );
  }
  return parseBody(text);
}

function noRoute(method: string, url: URL): RestError {
  return new RestError(
    404,
    "NoSuchEndpointException",
    `no such endpoint: ${method} ${url.pathname} (GET /v1/config lists the endpoints served)`,
  );
}
