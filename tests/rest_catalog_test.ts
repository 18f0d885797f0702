/**
 * The Iceberg REST catalog (`lakehouse serve`, `--serve`) against real
 * clients: pyiceberg's RestCatalog reads exactly what our own scan and
 * pyiceberg's SQL catalog read; a table pyiceberg creates and appends to
 * through it on the S3 server is visible to our scan and to Trino; of two
 * conflicting commits the second gets 409 and pyiceberg's retry lands; a
 * missing or wrong token gets 401 on every route.
 */
import assert from "node:assert/strict";
import { createLogger } from "../src/core/log.ts";
import { startRestServer } from "../src/server/mod.ts";
import { readWithPyiceberg } from "./_iceberg.ts";
import {
  freePort,
  ourScan,
  pyicebergRest,
  requireRestAddressFree,
  requireTrino,
  REST_URI,
  restListen,
  restRows,
  S3_ACCESS_KEY,
  S3_SECRET_KEY,
  trino,
} from "./_rest.ts";
import { requireS3, runCli, S3_ENDPOINT } from "./_services.ts";

const TABLES = ["orders_events", "orders_current", "orders_rejects"];

/** Reads stdout until `marker` appears (or the process ends / `ms` pass). */
async function waitForOutput(
  child: Deno.ChildProcess,
  marker: string,
  ms: number,
): Promise<string> {
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const deadline = Date.now() + ms;
  try {
    while (!text.includes(marker)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no "${marker}" within ${ms} ms; stdout so far:\n${text}`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const chunk = await Promise.race([
        reader.read(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no "${marker}" within ${ms} ms:\n${text}`)),
            left,
          );
        }),
      ]).finally(() => clearTimeout(timer));
      if (chunk.done) throw new Error(`the process ended before "${marker}"; stdout:\n${text}`);
      text += chunk.value;
    }
  } finally {
    reader.releaseLock();
  }
  return text;
}

Deno.test("demo --serve: pyiceberg through the REST catalog reads what our scan and the SQL catalog read; Ctrl-C ends it with 0", async () => {
  const dir = await Deno.makeTempDir();
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      new URL("../main.ts", import.meta.url).pathname,
      "demo",
      "--seed",
      "rest",
      "--count",
      "4000",
      "--bad-rate",
      "0.02",
      "--warehouse",
      dir,
      "--serve",
      `127.0.0.1:${port}`,
      "--memory-limit",
      "512MB",
    ],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  try {
    const uri = `http://127.0.0.1:${port}`;
    const out = await waitForOutput(child, `Iceberg REST catalog at ${uri}`, 180_000);
    assert.match(out, /Orders per status/);
    const listed = await pyicebergRest<{ namespaces: string[][]; tables: string[][] }>({
      uri,
      action: "list",
      namespace: "shop",
    });
    assert.deepEqual(listed.result.namespaces, [["shop"]]);
    assert.deepEqual(listed.result.tables, TABLES.sort().map((t) => ["shop", t]));
    for (const table of TABLES) {
      const id = { namespace: ["shop"], name: table };
      const rest = await restRows({ uri, table: `shop.${table}` });
      const sql = await readWithPyiceberg({
        catalog_uri: `sqlite:///${dir}/catalog.db`,
        warehouse: `file://${dir}`,
        table: `shop.${table}`,
      });
      const ours = await ourScan(
        { catalog: `${dir}/catalog.db`, warehouse: `file://${dir}` },
        id,
        (scan) => scan.rows(),
      );
      assert.ok(rest.rows.length > 0, `${table} is empty`);
      assert.equal(rest.snapshot_id, sql.snapshot_id, `${table}: current snapshot`);
      assert.deepEqual(rest.rows, sql.rows, `${table}: REST vs SQL catalog`);
      assert.equal(rest.rows.length, ours.length, `${table}: row count vs our scan`);
      assert.deepEqual(rest.rows, ours.map(emptyListsAsPyiceberg), `${table}: REST vs our scan`);
    }
    child.kill("SIGINT");
    const status = await child.status;
    assert.equal(status.code, 0, await stderr);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already ended.
    }
    await child.status;
    await stderr;
    await Deno.remove(dir, { recursive: true });
  }
});

/** pyiceberg reads a NULL list column as an empty list (as the cross-engine test notes). */
function emptyListsAsPyiceberg(row: Record<string, unknown>): Record<string, unknown> {
  return row.items === null ? { ...row, items: [] } : row;
}

Deno.test("pyiceberg creates and appends through the REST catalog on S3; our scan and Trino see it; a conflicting commit gets 409 and pyiceberg's retry lands", async () => {
  await requireS3();
  await requireTrino();
  await requireRestAddressFree();
  const dir = await Deno.makeTempDir();
  const prefix = `rest-${crypto.randomUUID().slice(0, 8)}`;
  const warehouse = `s3://warehouse/${prefix}`;
  const s3 = {
    endpoint: S3_ENDPOINT,
    region: "us-east-1",
    accessKeyId: S3_ACCESS_KEY,
    secretAccessKey: S3_SECRET_KEY,
  };
  const lines: string[] = [];
  const server = await startRestServer({
    listen: restListen(),
    warehouse,
    catalog: `sqlite:${dir}/catalog.db`,
    s3,
    // pyiceberg is given no S3 settings: endpoint, region and keys all come
    // from the tables' config.
    serveCredentials: true,
    logger: createLogger("debug", (line) => lines.push(line)),
  });
  const target = { catalog: `${dir}/catalog.db`, warehouse, s3 };
  const id = { namespace: ["play"], name: "items" };
  const row = (n: number) => ({ id: n, name: `item ${n}`, amount: `${n}.25` });
  try {
    const created = await pyicebergRest<{ location: string }>({
      uri: REST_URI,
      action: "create",
      table: "play.items",
      rows: [1, 2, 3].map(row),
    });
    assert.equal(created.result.location, `${warehouse}/play/items`);
    const scanned = await ourScan(target, id, (scan) => scan.rows());
    assert.deepEqual(scanned, [1, 2, 3].map(row));
    const seen = await trino(
      "SELECT id, name, CAST(amount AS varchar) FROM lakehouse.play.items ORDER BY id",
    );
    assert.deepEqual(seen.rows, [1, 2, 3].map((n) => [n, `item ${n}`, `${n}.25`]));

    const race = await pyicebergRest({
      uri: REST_URI,
      action: "race",
      table: "play.items",
      rows_a: [row(4)],
      rows_b: [row(5)],
    });
    const commits = lines.filter((l) => l.includes("POST /v1/namespaces/play/tables/items ->"));
    assert.ok(
      commits.some((l) => l.includes("-> 409")),
      `no 409 among the commits:\n${commits.join("\n")}`,
    );
    assert.match(race.stderr, /concurrent update|CommitFailed/i);
    assert.equal(commits.filter((l) => l.includes("-> 200")).length, 3, commits.join("\n"));
    const after = await ourScan(target, id, (scan) => scan.rows());
    assert.deepEqual(after, [1, 2, 3, 4, 5].map(row));
    const counted = await trino("SELECT count(*), sum(id) FROM lakehouse.play.items");
    assert.deepEqual(counted.rows, [[5, 15]]);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("with a token, a missing or wrong one gets 401 on every route; the token and OAuth2 client credentials work", async () => {
  const dir = await Deno.makeTempDir();
  const token = `t-${crypto.randomUUID()}`;
  const server = await startRestServer({
    listen: "127.0.0.1:0",
    warehouse: `file://${dir}`,
    catalog: `sqlite:${dir}/catalog.db`,
    authToken: token,
    logger: createLogger("silent"),
  });
  try {
    const config = await fetch(`${server.url}/v1/config`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(config.status, 200);
    const endpoints: string[] = (await config.json()).endpoints;
    assert.ok(endpoints.length >= 15);
    const routes = [
      "GET /v1/config",
      ...endpoints,
      "GET /v1/no/such/route",
    ];
    for (const endpoint of routes) {
      const [method, template] = endpoint.split(" ");
      const path = template.replace("/{prefix}", "").replace("{namespace}", "shop")
        .replace("{table}", "t").replace("{view}", "v");
      for (const authorization of [undefined, "Bearer wrong-token", `Bearer ${token}x`]) {
        const response = await fetch(`${server.url}${path}`, {
          method,
          headers: authorization === undefined ? {} : { authorization },
          body: method === "POST" ? "{}" : undefined,
        });
        assert.equal(response.status, 401, `${endpoint} with ${authorization ?? "no token"}`);
        if (method !== "HEAD") {
          assert.equal((await response.json()).error.type, "NotAuthorizedException");
        } else await response.body?.cancel();
      }
    }
    await assert.rejects(
      pyicebergRest({ uri: server.url, token: "wrong", action: "list", namespace: "shop" }),
      /Unauthorized|401/,
    );
    await pyicebergRest({ uri: server.url, token, action: "create", table: "ns.t", rows: [] });
    const withToken = await pyicebergRest<{ tables: string[][] }>({
      uri: server.url,
      token,
      action: "list",
      namespace: "ns",
    });
    assert.deepEqual(withToken.result.tables, [["ns", "t"]]);
    const withCredential = await pyicebergRest<{ tables: string[][] }>({
      uri: server.url,
      credential: `client:${token}`,
      action: "list",
      namespace: "ns",
    });
    assert.deepEqual(withCredential.result.tables, [["ns", "t"]]);
    await assert.rejects(
      pyicebergRest({
        uri: server.url,
        credential: "client:wrong",
        action: "list",
        namespace: "ns",
      }),
      /invalid_client|Unauthorized|401/,
    );
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serve and --serve check their options before anything starts", async () => {
  const token = await runCli(["serve", "--auth-token", "abc"]);
  assert.equal(token.code, 2);
  assert.match(
    token.stderr,
    /--auth-token is not accepted on the command line.*LAKEHOUSE_AUTH_TOKEN/,
  );
  const s3 = await runCli(["serve", "--warehouse", "s3://warehouse/x"]);
  assert.equal(s3.code, 2);
  assert.match(s3.stderr, /needs --catalog PATH/);
  const listen = await runCli(["serve", "--listen", "localhost"]);
  assert.equal(listen.code, 2);
  assert.match(listen.stderr, /--listen .*must be HOST:PORT/);
  const demo = await runCli(["demo", "--serve", "127.0.0.1:99999"]);
  assert.equal(demo.code, 2);
  assert.match(demo.stderr, /--serve .*must be HOST:PORT/);
  const help = await runCli(["--help"]);
  assert.match(help.stdout, /serve\s+serve the tables' Iceberg REST catalog/);
});
