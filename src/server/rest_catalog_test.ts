import assert from "node:assert/strict";
import { MemoryCatalog } from "../catalog/memory.ts";
import { createLogger } from "../core/log.ts";
import { stringifyJson } from "../iceberg/spec/json.ts";
import { MemoryStore } from "../storage/memory.ts";
import { commitTable } from "../iceberg/commit/commit_table.ts";
import type { TableUpdate } from "../iceberg/commit/updates.ts";
import { ENDPOINTS, RestCatalog } from "./rest_catalog.ts";
import { assignFreshIds } from "./fresh_ids.ts";

const WAREHOUSE = "memory://wh";

function setup(options: { token?: string } = {}) {
  const catalog = new MemoryCatalog();
  const store = new MemoryStore({ root: `${WAREHOUSE}/` });
  const rest = new RestCatalog({
    catalog,
    store,
    warehouse: WAREHOUSE,
    tableConfig: { "s3.endpoint": "http://127.0.0.1:9000" },
    authToken: options.token,
    logger: createLogger("silent"),
  });
  const call = async (
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) => {
    const response = await rest.handle(
      new Request(`http://catalog${path}`, {
        method,
        headers: {
          ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
          ...headers,
        },
        body: body === undefined ? undefined : stringifyJson(body),
      }),
    );
    const text = await response.text();
    return { status: response.status, json: text === "" ? undefined : JSON.parse(text) };
  };
  return { catalog, store, rest, call };
}

const SCHEMA = {
  type: "struct",
  "schema-id": 0,
  fields: [
    { id: 1, name: "id", required: true, type: "long" },
    {
      id: 2,
      name: "tags",
      required: false,
      type: { type: "list", "element-id": 3, element: "string", "element-required": false },
    },
    { id: 4, name: "ts", required: false, type: "timestamptz" },
  ],
};

const SPEC = {
  "spec-id": 0,
  fields: [{ "source-id": 4, "field-id": 1000, name: "ts_day", transform: "day" }],
};

async function createdTable(call: ReturnType<typeof setup>["call"]) {
  assert.equal((await call("POST", "/v1/namespaces", { namespace: ["shop"] })).status, 200);
  const created = await call("POST", "/v1/namespaces/shop/tables", {
    name: "t",
    schema: SCHEMA,
    "partition-spec": SPEC,
    properties: { owner: "test" },
  });
  assert.equal(created.status, 200, JSON.stringify(created.json));
  return created.json;
}

Deno.test("config lists the endpoints served", async () => {
  const { call } = setup();
  const { status, json } = await call("GET", "/v1/config?warehouse=x");
  assert.equal(status, 200);
  assert.deepEqual(json.endpoints, ENDPOINTS);
  for (const e of json.endpoints) assert.match(e, /^(GET|HEAD|POST|DELETE) \/v1\/\{prefix\}\//);
});

Deno.test("namespaces: create, load (with a location), exists, list, drop", async () => {
  const { call } = setup();
  const created = await call("POST", "/v1/namespaces", {
    namespace: ["shop"],
    properties: { owner: "me" },
  });
  assert.equal(created.status, 200);
  assert.deepEqual(created.json.namespace, ["shop"]);
  assert.equal(created.json.properties.owner, "me");
  assert.equal(created.json.properties.location, "memory://wh/shop");
  assert.equal((await call("HEAD", "/v1/namespaces/shop")).status, 204);
  assert.equal((await call("HEAD", "/v1/namespaces/nope")).status, 404);
  assert.deepEqual((await call("GET", "/v1/namespaces")).json, { namespaces: [["shop"]] });
  await call("POST", "/v1/namespaces", { namespace: ["shop", "eu"] });
  assert.deepEqual((await call("GET", "/v1/namespaces?parent=shop")).json, {
    namespaces: [["shop", "eu"]],
  });
  assert.equal((await call("GET", "/v1/namespaces/shop%1Feu")).status, 200);
  const again = await call("POST", "/v1/namespaces", { namespace: ["shop"] });
  assert.equal(again.status, 409);
  assert.equal(again.json.error.type, "AlreadyExistsException");
  const notEmpty = await call("DELETE", "/v1/namespaces/shop");
  assert.equal(notEmpty.status, 409);
  assert.equal(notEmpty.json.error.type, "NamespaceNotEmptyException");
  assert.equal((await call("DELETE", "/v1/namespaces/shop%1Feu")).status, 204);
  const missing = await call("GET", "/v1/namespaces/nope");
  assert.deepEqual(missing.json.error.type, "NoSuchNamespaceException");
  assert.equal(missing.json.error.code, 404);
});

Deno.test("create table assigns fresh ids and a location; load returns metadata and config", async () => {
  const { call } = setup();
  const created = await createdTable(call);
  const m = created.metadata;
  assert.equal(m["format-version"], 2);
  assert.equal(m.location, "memory://wh/shop/t");
  assert.equal(m.properties.owner, "test");
  // Siblings first, then nested: id 1, tags 2, ts 3, tags.element 4.
  const fields = m.schemas[0].fields;
  assert.deepEqual(fields.map((f: { id: number }) => f.id), [1, 2, 3]);
  assert.equal(fields[1].type["element-id"], 4);
  assert.equal(m["partition-specs"][0].fields[0]["source-id"], 3);
  assert.equal(m["last-column-id"], 4);
  assert.match(created["metadata-location"], /^memory:\/\/wh\/shop\/t\/metadata\/00000-/);
  assert.deepEqual(created.config, { "s3.endpoint": "http://127.0.0.1:9000" });

  const loaded = await call("GET", "/v1/namespaces/shop/tables/t?snapshots=all");
  assert.equal(loaded.status, 200);
  assert.equal(loaded.json["metadata-location"], created["metadata-location"]);
  assert.equal(loaded.json.metadata["table-uuid"], m["table-uuid"]);
  assert.deepEqual((await call("GET", "/v1/namespaces/shop/tables")).json, {
    identifiers: [{ namespace: ["shop"], name: "t" }],
  });
  assert.equal((await call("HEAD", "/v1/namespaces/shop/tables/t")).status, 204);
  assert.equal((await call("HEAD", "/v1/namespaces/shop/tables/u")).status, 404);
  const dup = await call("POST", "/v1/namespaces/shop/tables", { name: "t", schema: SCHEMA });
  assert.equal(dup.status, 409);
  assert.equal(dup.json.error.type, "AlreadyExistsException");
  const outside = await call("POST", "/v1/namespaces/shop/tables", {
    name: "x",
    schema: SCHEMA,
    location: "memory://elsewhere/x",
  });
  assert.equal(outside.status, 400);
  assert.match(
    outside.json.error.message,
    /location "memory:\/\/elsewhere\/x" is outside the warehouse/,
  );
  const noNs = await call("POST", "/v1/namespaces/nope/tables", { name: "t", schema: SCHEMA });
  assert.equal(noNs.status, 404);
  assert.equal(noNs.json.error.type, "NoSuchNamespaceException");
});

Deno.test("staged create writes nothing; the assert-create commit creates the table", async () => {
  const { call, catalog } = setup();
  await call("POST", "/v1/namespaces", { namespace: ["shop"] });
  const staged = await call("POST", "/v1/namespaces/shop/tables", {
    name: "s",
    schema: SCHEMA,
    "stage-create": true,
  });
  assert.equal(staged.status, 200);
  assert.equal(staged.json["metadata-location"], undefined);
  assert.equal(await catalog.tableExists({ namespace: ["shop"], name: "s" }), false);
  const m = staged.json.metadata;
  const commit = await call("POST", "/v1/namespaces/shop/tables/s", {
    requirements: [{ type: "assert-create" }],
    updates: [
      { action: "assign-uuid", uuid: m["table-uuid"] },
      { action: "upgrade-format-version", "format-version": 2 },
      { action: "add-schema", schema: m.schemas[0], "last-column-id": m["last-column-id"] },
      { action: "set-current-schema", "schema-id": -1 },
      { action: "add-spec", spec: m["partition-specs"][0] },
      { action: "set-default-spec", "spec-id": -1 },
      { action: "add-sort-order", "sort-order": m["sort-orders"][0] },
      { action: "set-default-sort-order", "sort-order-id": -1 },
      { action: "set-location", location: m.location },
      { action: "set-properties", updates: {} },
    ],
  });
  assert.equal(commit.status, 200, JSON.stringify(commit.json));
  assert.equal(commit.json.metadata["table-uuid"], m["table-uuid"]);
  assert.equal(await catalog.tableExists({ namespace: ["shop"], name: "s" }), true);
  const twice = await call("POST", "/v1/namespaces/shop/tables/s", {
    requirements: [{ type: "assert-create" }],
    updates: [],
  });
  assert.equal(twice.status, 409);
  assert.match(twice.json.error.message, /assert-create/);
});

Deno.test("commit: 409 names the failed requirement, 400 names the field, 406 for unsupported", async () => {
  const { call } = setup();
  const created = await createdTable(call);
  const uuid = created.metadata["table-uuid"];
  const ok = await call("POST", "/v1/namespaces/shop/tables/t", {
    identifier: { namespace: ["shop"], name: "t" },
    requirements: [{ type: "assert-table-uuid", uuid }],
    updates: [{ action: "set-properties", updates: { a: "1" } }],
  });
  assert.equal(ok.status, 200, JSON.stringify(ok.json));
  assert.equal(ok.json.metadata.properties.a, "1");
  assert.notEqual(ok.json["metadata-location"], created["metadata-location"]);

  const stale = await call("POST", "/v1/namespaces/shop/tables/t", {
    requirements: [{ type: "assert-ref-snapshot-id", ref: "main", "snapshot-id": 123 }],
    updates: [{ action: "set-properties", updates: { b: "2" } }],
  });
  assert.equal(stale.status, 409);
  assert.equal(stale.json.error.type, "CommitFailedException");
  assert.match(stale.json.error.message, /assert-ref-snapshot-id/);

  const bad = await call("POST", "/v1/namespaces/shop/tables/t", {
    requirements: [],
    updates: [{ action: "add-snapshot", snapshot: { "snapshot-id": "x" } }],
  });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.type, "BadRequestException");
  assert.match(bad.json.error.message, /updates\[0\]\.snapshot\.summary is missing/);

  const wrongField = await call("POST", "/v1/namespaces/shop/tables/t", {
    updates: [{ action: "set-current-schema", "schema-id": 7 }],
  });
  assert.equal(wrongField.status, 400);
  assert.match(wrongField.json.error.message, /schema-id 7/);

  const unsupported = await call("POST", "/v1/namespaces/shop/tables/t", {
    updates: [{ action: "set-statistics", "snapshot-id": 1, statistics: {} }],
  });
  assert.equal(unsupported.status, 406);
  assert.equal(unsupported.json.error.type, "UnsupportedOperationException");

  const other = await call("POST", "/v1/namespaces/shop/tables/t", {
    identifier: { namespace: ["shop"], name: "u" },
    updates: [],
  });
  assert.equal(other.status, 400);
  const missing = await call("POST", "/v1/namespaces/shop/tables/zz", { updates: [] });
  assert.equal(missing.status, 404);
  assert.equal(missing.json.error.type, "NoSuchTableException");
  const notJson = await call("POST", "/v1/namespaces/shop/tables/t", "{", {});
  assert.equal(notJson.status, 400);
});

Deno.test("metrics are accepted, views are an empty list, rename and drop with purge", async () => {
  const { call, store } = setup();
  await createdTable(call);
  const metrics = await call("POST", "/v1/namespaces/shop/tables/t/metrics", {
    "report-type": "scan-report",
  });
  assert.equal(metrics.status, 204);
  assert.deepEqual((await call("GET", "/v1/namespaces/shop/views")).json, { identifiers: [] });
  const view = await call("GET", "/v1/namespaces/shop/views/t");
  assert.equal(view.status, 404);
  assert.equal(view.json.error.type, "NoSuchViewException");
  const renamed = await call("POST", "/v1/tables/rename", {
    source: { namespace: ["shop"], name: "t" },
    destination: { namespace: ["shop"], name: "t2" },
  });
  assert.equal(renamed.status, 204);
  assert.equal((await call("HEAD", "/v1/namespaces/shop/tables/t2")).status, 204);
  const files = async () => {
    const out = [];
    for await (const f of store.list("memory://wh/shop/t/")) out.push(f.path);
    return out;
  };
  assert.ok((await files()).length > 0);
  assert.equal(
    (await call("DELETE", "/v1/namespaces/shop/tables/t2?purgeRequested=true")).status,
    204,
  );
  assert.deepEqual(await files(), []);
  assert.equal((await call("DELETE", "/v1/namespaces/shop/tables/t2")).status, 404);
  const route = await call("GET", "/v1/nothing/here");
  assert.equal(route.status, 404);
  assert.equal(route.json.error.type, "NoSuchEndpointException");
  assert.equal((await call("PUT", "/v1/namespaces")).status, 405);
});

Deno.test("with a token every route answers 401 without it; the token endpoint hands it out", async () => {
  const token = "s3cret-token";
  const { rest } = setup({ token });
  const routes: [string, string][] = [
    ["GET", "/v1/config"],
    ["GET", "/v1/namespaces"],
    ["POST", "/v1/namespaces"],
    ["GET", "/v1/namespaces/shop"],
    ["HEAD", "/v1/namespaces/shop"],
    ["DELETE", "/v1/namespaces/shop"],
    ["GET", "/v1/namespaces/shop/tables"],
    ["POST", "/v1/namespaces/shop/tables"],
    ["GET", "/v1/namespaces/shop/tables/t"],
    ["HEAD", "/v1/namespaces/shop/tables/t"],
    ["POST", "/v1/namespaces/shop/tables/t"],
    ["DELETE", "/v1/namespaces/shop/tables/t"],
    ["POST", "/v1/namespaces/shop/tables/t/metrics"],
    ["POST", "/v1/namespaces/shop/register"],
    ["POST", "/v1/tables/rename"],
    ["GET", "/v1/namespaces/shop/views"],
    ["GET", "/v1/namespaces/shop/views/v"],
    ["GET", "/v1/unknown"],
  ];
  for (const [method, path] of routes) {
    for (const authorization of [undefined, "Bearer wrong", `Basic ${btoa(`x:${token}`)}`]) {
      const response = await rest.handle(
        new Request(`http://catalog${path}`, {
          method,
          headers: authorization === undefined ? {} : { authorization },
        }),
      );
      assert.equal(response.status, 401, `${method} ${path} with ${authorization}`);
      if (method !== "HEAD") {
        assert.equal((await response.json()).error.type, "NotAuthorizedException");
      } else await response.body?.cancel();
    }
  }
  const ok = await rest.handle(
    new Request("http://catalog/v1/config", { headers: { authorization: `Bearer ${token}` } }),
  );
  assert.equal(ok.status, 200);
  await ok.body?.cancel();

  const form = (fields: Record<string, string>) =>
    new Request("http://catalog/v1/oauth/tokens", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(fields).toString(),
    });
  const granted = await rest.handle(
    form({ grant_type: "client_credentials", client_id: "any", client_secret: token }),
  );
  assert.equal(granted.status, 200);
  assert.equal((await granted.json()).access_token, token);
  const refused = await rest.handle(
    form({ grant_type: "client_credentials", client_id: "any", client_secret: "nope" }),
  );
  assert.equal(refused.status, 401);
  assert.equal((await refused.json()).error, "invalid_client");
});

Deno.test("fresh ids: maps renumber nested ids after their siblings, as Java does", () => {
  const fresh = assignFreshIds(
    {
      type: "struct",
      "schema-id": 3,
      "identifier-field-ids": [10],
      fields: [
        {
          id: 20,
          name: "m",
          required: false,
          type: {
            type: "map",
            "key-id": 21,
            key: "string",
            "value-id": 22,
            value: {
              type: "struct",
              fields: [{ id: 23, name: "x", required: false, type: "int" }],
            },
            "value-required": false,
          },
        },
        { id: 10, name: "k", required: true, type: "long" },
      ],
    },
    {
      "spec-id": 5,
      fields: [{ "source-id": 10, "field-id": 1000, name: "k", transform: "identity" }],
    },
    {
      "order-id": 9,
      fields: [{
        "source-id": 10,
        transform: "identity",
        direction: "asc",
        "null-order": "nulls-first",
      }],
    },
  );
  // m 1, k 2, then m's key 3 and value 4, then the value struct's x 5.
  assert.equal(fresh.schema.fields[0].id, 1);
  assert.equal(fresh.schema.fields[1].id, 2);
  const map = fresh.schema.fields[0].type as { "key-id": number; "value-id": number };
  assert.deepEqual([map["key-id"], map["value-id"]], [3, 4]);
  assert.deepEqual(fresh.schema["identifier-field-ids"], [2]);
  assert.equal(fresh.spec.fields[0]["source-id"], 2);
  assert.deepEqual([fresh.spec["spec-id"], fresh.order["order-id"]], [0, 1]);
});

Deno.test("a REST commit and a writer's commit race on the same compare-and-swap", async () => {
  const { call, catalog, store } = setup();
  await createdTable(call);
  const id = { namespace: ["shop"], name: "t" };
  const writer = (updates: TableUpdate[]) => {
    catalog.beforeSwap = async () => {
      catalog.beforeSwap = undefined;
      // Another writer (the engine) lands between the REST commit's load
      // and its swap.
      await commitTable({ catalog, store, id }, [], updates);
    };
  };
  writer([{ action: "set-properties", updates: { engine: "1" } }]);
  const merged = await call("POST", "/v1/namespaces/shop/tables/t", {
    requirements: [{ type: "assert-ref-snapshot-id", ref: "main", "snapshot-id": null }],
    updates: [{ action: "set-properties", updates: { rest: "1" } }],
  });
  // Its requirement still holds on the reloaded table: retried, and both land.
  assert.equal(merged.status, 200, JSON.stringify(merged.json));
  assert.equal(merged.json.metadata.properties.engine, "1");
  assert.equal(merged.json.metadata.properties.rest, "1");

  writer([
    {
      action: "add-snapshot",
      snapshot: {
        "snapshot-id": 42n,
        "sequence-number": 1n,
        "timestamp-ms": Date.now(),
        "manifest-list": "memory://wh/shop/t/metadata/snap-42.avro",
        summary: { operation: "append" },
      },
    },
    { action: "set-snapshot-ref", "ref-name": "main", type: "branch", "snapshot-id": 42n },
  ]);
  const stale = await call("POST", "/v1/namespaces/shop/tables/t", {
    requirements: [{ type: "assert-ref-snapshot-id", ref: "main", "snapshot-id": null }],
    updates: [{ action: "set-properties", updates: { again: "1" } }],
  });
  assert.equal(stale.status, 409);
  assert.equal(stale.json.error.type, "CommitFailedException");
  assert.match(
    stale.json.error.message,
    /assert-ref-snapshot-id failed: branch main exists at snapshot 42/,
  );
});
