import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { LakehouseError } from "../core/errors.ts";
import {
  AlreadyExistsError,
  type Catalog,
  CommitConflictError,
  CommitStateUnknownError,
  NamespaceNotEmptyError,
  NoSuchTableError,
  type TableIdentifier,
} from "./catalog.ts";
import { SqliteCatalog } from "./sqlite.ts";

const TABLE: TableIdentifier = { namespace: ["shop"], name: "orders_events" };
const V1 = "s3://lake/shop/orders_events/metadata/00000-a.metadata.json";
const V2 = "s3://lake/shop/orders_events/metadata/00001-b.metadata.json";

/** Runs `body` with a path to a database file in a fresh directory, removed afterwards. */
async function withDbFile(body: (path: string, dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "lakehouse-sqlite-catalog-" });
  try {
    await body(`${dir}/catalog.db`, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function rows(path: string, sql: string): Record<string, unknown>[] {
  const db = new DatabaseSync(path);
  try {
    return db.prepare(sql).all().map((row) => ({ ...row }));
  } finally {
    db.close();
  }
}

function exec(path: string, sql: string): void {
  const db = new DatabaseSync(path);
  try {
    db.exec(sql);
  } finally {
    db.close();
  }
}

interface Swap {
  readonly expected: string;
  readonly next: string;
}

/** Locations of the form `v<N>/<writer>-<k>`, so the version is readable from the pointer. */
function versionOf(location: string): number {
  const match = /^v(\d+)\//.exec(location);
  assert.ok(match, `unexpected location ${location}`);
  return Number(match[1]);
}

/**
 * Checks that the successful swaps of all writers form one unbroken chain from
 * `initial` to the table's final pointer: no two swaps started from the same
 * version (nothing was overwritten) and none is missing from the history.
 */
async function assertOneChain(
  catalog: Catalog,
  table: TableIdentifier,
  initial: string,
  swaps: readonly Swap[],
): Promise<void> {
  const byExpected = new Map<string, string>();
  for (const { expected, next } of swaps) {
    assert.ok(!byExpected.has(expected), `two successful swaps started from ${expected}`);
    byExpected.set(expected, next);
  }
  const seen = new Set<string>();
  let at = initial;
  let last: Swap | undefined;
  while (byExpected.has(at)) {
    const next = byExpected.get(at)!;
    assert.ok(!seen.has(next), `${next} appears twice in the chain`);
    seen.add(next);
    last = { expected: at, next };
    at = next;
  }
  assert.equal(seen.size, swaps.length, "some successful swaps are not in the chain");
  const final = await catalog.loadTable(table);
  assert.equal(final.metadataLocation, at);
  assert.equal(versionOf(final.metadataLocation), swaps.length);
  if (last !== undefined) assert.equal(final.previousMetadataLocation, last.expected);
}

Deno.test("SqliteCatalog creates exactly the Iceberg JDBC catalog tables", async () => {
  await withDbFile(async (path) => {
    await (await SqliteCatalog.open(path)).close();
    const columns = (table: string) =>
      rows(path, `PRAGMA table_info(${table})`).map((c) => [c.name, c.type, c.notnull, c.pk]);
    assert.deepEqual(columns("iceberg_tables"), [
      ["catalog_name", "VARCHAR(255)", 1, 1],
      ["table_namespace", "VARCHAR(255)", 1, 2],
      ["table_name", "VARCHAR(255)", 1, 3],
      ["metadata_location", "VARCHAR(1000)", 0, 0],
      ["previous_metadata_location", "VARCHAR(1000)", 0, 0],
      ["iceberg_type", "VARCHAR(5)", 0, 0],
    ]);
    assert.deepEqual(columns("iceberg_namespace_properties"), [
      ["catalog_name", "VARCHAR(255)", 1, 1],
      ["namespace", "VARCHAR(255)", 1, 2],
      ["property_key", "VARCHAR(255)", 1, 3],
      ["property_value", "VARCHAR(1000)", 0, 0],
    ]);
    // Not WAL: its memory-mapped index kills the process (SIGBUS) when the file turns read-only.
    assert.deepEqual(rows(path, "PRAGMA journal_mode"), [{ journal_mode: "delete" }]);
  });
});

Deno.test("SqliteCatalog writes the rows pyiceberg's SqlCatalog and Java's JdbcCatalog read", async () => {
  await withDbFile(async (path) => {
    const catalog = await SqliteCatalog.open(path);
    await catalog.createNamespace(["shop"]);
    await catalog.createNamespace(["a", "b"], { owner: "x" });
    await catalog.createTable(TABLE, V1);
    assert.deepEqual(rows(path, "SELECT * FROM iceberg_tables"), [{
      catalog_name: "lakehouse",
      table_namespace: "shop",
      table_name: "orders_events",
      metadata_location: V1,
      previous_metadata_location: null,
      iceberg_type: "TABLE",
    }]);
    assert.deepEqual(
      rows(path, "SELECT * FROM iceberg_namespace_properties ORDER BY namespace"),
      [
        { catalog_name: "lakehouse", namespace: "a.b", property_key: "owner", property_value: "x" },
        {
          catalog_name: "lakehouse",
          namespace: "shop",
          property_key: "exists",
          property_value: "true",
        },
      ],
    );
    await catalog.swapTable(TABLE, V1, V2);
    assert.deepEqual(
      rows(path, "SELECT metadata_location, previous_metadata_location FROM iceberg_tables"),
      [{ metadata_location: V2, previous_metadata_location: V1 }],
    );
    await catalog.close();
  });
});

Deno.test("SqliteCatalog uses a file created by pyiceberg (no iceberg_type column) as is", async () => {
  await withDbFile(async (path) => {
    // The DDL SQLAlchemy emits for pyiceberg's SqlCatalog, and the rows it writes.
    exec(
      path,
      `CREATE TABLE iceberg_tables (
        catalog_name VARCHAR(255) NOT NULL, table_namespace VARCHAR(255) NOT NULL,
        table_name VARCHAR(255) NOT NULL, metadata_location VARCHAR(1000),
        previous_metadata_location VARCHAR(1000),
        PRIMARY KEY (catalog_name, table_namespace, table_name));
      CREATE TABLE iceberg_namespace_properties (
        catalog_name VARCHAR(255) NOT NULL, namespace VARCHAR(255) NOT NULL,
        property_key VARCHAR(255) NOT NULL, property_value VARCHAR(1000) NOT NULL,
        PRIMARY KEY (catalog_name, namespace, property_key));
      INSERT INTO iceberg_namespace_properties VALUES ('lakehouse', 'shop', 'exists', 'true');
      INSERT INTO iceberg_tables VALUES ('lakehouse', 'shop', 'orders_events', '${V1}', NULL);`,
    );
    const catalog = await SqliteCatalog.open(path);
    assert.deepEqual(await catalog.listNamespaces(), [["shop"]]);
    assert.deepEqual(await catalog.loadTable(TABLE), { metadataLocation: V1 });
    await catalog.swapTable(TABLE, V1, V2);
    await catalog.createTable({ namespace: ["shop"], name: "orders_current" }, "c1");
    assert.deepEqual(await catalog.listTables(["shop"]), [
      { namespace: ["shop"], name: "orders_current" },
      TABLE,
    ]);
    await catalog.close();
    const names = rows(path, "PRAGMA table_info(iceberg_tables)").map((c) => c.name);
    assert.ok(!names.includes("iceberg_type"), "the file's schema was altered");
    assert.deepEqual(
      rows(path, "SELECT table_name, previous_metadata_location FROM iceberg_tables ORDER BY 1"),
      [
        { table_name: "orders_current", previous_metadata_location: null },
        { table_name: "orders_events", previous_metadata_location: V1 },
      ],
    );
  });
});

Deno.test("SqliteCatalog treats NULL iceberg_type as a table and hides Java's views", async () => {
  await withDbFile(async (path) => {
    const catalog = await SqliteCatalog.open(path);
    await catalog.createNamespace(["shop"]);
    exec(
      path,
      `INSERT INTO iceberg_tables VALUES ('lakehouse', 'shop', 'old', 'o1', NULL, NULL);
       INSERT INTO iceberg_tables VALUES ('lakehouse', 'shop', 'v', 'view1', NULL, 'VIEW');`,
    );
    const view = { namespace: ["shop"], name: "v" };
    assert.deepEqual(await catalog.loadTable({ namespace: ["shop"], name: "old" }), {
      metadataLocation: "o1",
    });
    assert.deepEqual(await catalog.listTables(["shop"]), [{ namespace: ["shop"], name: "old" }]);
    assert.equal(await catalog.tableExists(view), false);
    await assert.rejects(catalog.loadTable(view), NoSuchTableError);
    await assert.rejects(catalog.swapTable(view, "view1", "view2"), NoSuchTableError);
    await assert.rejects(catalog.dropTable(view), NoSuchTableError);
    await assert.rejects(catalog.createTable(view, V1), AlreadyExistsError);
    await catalog.dropTable({ namespace: ["shop"], name: "old" });
    await assert.rejects(catalog.dropNamespace(["shop"]), NamespaceNotEmptyError);
    assert.deepEqual(rows(path, "SELECT metadata_location FROM iceberg_tables"), [{
      metadata_location: "view1",
    }]);
    await catalog.close();
  });
});

Deno.test("SqliteCatalog keeps catalogs with different names in one file apart", async () => {
  await withDbFile(async (path) => {
    const a = await SqliteCatalog.open(path);
    const b = await SqliteCatalog.open(path, "other");
    assert.equal(b.name, "other");
    await a.createNamespace(["shop"]);
    await a.createTable(TABLE, V1);
    assert.equal(await b.namespaceExists(["shop"]), false);
    assert.equal(await b.tableExists(TABLE), false);
    await b.createNamespace(["shop"]);
    await b.createTable(TABLE, V2);
    await b.swapTable(TABLE, V2, "b3");
    assert.deepEqual(await a.loadTable(TABLE), { metadataLocation: V1 });
    await b.dropTable(TABLE);
    await b.dropNamespace(["shop"]);
    assert.equal(await a.tableExists(TABLE), true);
    await a.close();
    await b.close();
  });
});

Deno.test("SqliteCatalog state survives closing and reopening the file", async () => {
  await withDbFile(async (path) => {
    const first = await SqliteCatalog.open(path);
    await first.createNamespace(["shop"], { owner: "ops" });
    await first.createTable(TABLE, V1);
    await first.swapTable(TABLE, V1, V2);
    await first.close();
    const second = await SqliteCatalog.open(path);
    assert.deepEqual(await second.loadNamespaceProperties(["shop"]), { owner: "ops" });
    assert.deepEqual(await second.loadTable(TABLE), {
      metadataLocation: V2,
      previousMetadataLocation: V1,
    });
    await second.close();
  });
});

Deno.test("SqliteCatalog.open() creates missing parent directories", async () => {
  await withDbFile(async (_path, dir) => {
    const catalog = await SqliteCatalog.open(`${dir}/state/deeper/catalog.db`);
    await catalog.ensureNamespace(["shop"]);
    await catalog.close();
    assert.ok((await Deno.stat(`${dir}/state/deeper/catalog.db`)).isFile);
  });
});

Deno.test("SqliteCatalog.open() rejects a file whose iceberg_tables is not a JDBC catalog table", async () => {
  await withDbFile(async (path) => {
    exec(path, "CREATE TABLE iceberg_tables (catalog_name TEXT, table_name TEXT)");
    await assert.rejects(
      SqliteCatalog.open(path),
      /iceberg_tables lacks column\(s\) table_namespace/,
    );
  });
});

Deno.test("SqliteCatalog.open() rejects bad arguments", async () => {
  await assert.rejects(SqliteCatalog.open(""), LakehouseError);
  await assert.rejects(SqliteCatalog.open(":memory:", ""), LakehouseError);
  await assert.rejects(SqliteCatalog.open(":memory:", "x", { busyTimeoutMs: -1 }), LakehouseError);
});

Deno.test("SqliteCatalog works on an in-memory database", async () => {
  const catalog = await SqliteCatalog.open(":memory:");
  await catalog.createNamespace(["shop"]);
  await catalog.createTable(TABLE, V1);
  await catalog.swapTable(TABLE, V1, V2);
  assert.equal((await catalog.loadTable(TABLE)).metadataLocation, V2);
  await catalog.close();
});

Deno.test("SqliteCatalog reports a write lock held past busyTimeoutMs as a retriable error", async () => {
  await withDbFile(async (path) => {
    const catalog = await SqliteCatalog.open(path, "lakehouse", { busyTimeoutMs: 50 });
    await catalog.createNamespace(["shop"]);
    await catalog.createTable(TABLE, V1);
    const other = new DatabaseSync(path);
    other.exec("BEGIN IMMEDIATE");
    try {
      await assert.rejects(catalog.swapTable(TABLE, V1, V2), (error: unknown) => {
        assert.ok(error instanceof LakehouseError, String(error));
        assert.ok(!(error instanceof CommitConflictError));
        assert.ok(!(error instanceof CommitStateUnknownError));
        assert.equal(error.retriable, true);
        assert.match(error.message, /shop\.orders_events/);
        assert.match(error.message, /50 ms/);
        return true;
      });
      await assert.rejects(catalog.createNamespace(["other"]), (error: unknown) => {
        assert.ok(error instanceof LakehouseError && error.retriable);
        return true;
      });
      // Readers are not blocked by a writer that has not started committing.
      assert.deepEqual(await catalog.loadTable(TABLE), { metadataLocation: V1 });
    } finally {
      other.exec("ROLLBACK");
      other.close();
    }
    await catalog.swapTable(TABLE, V1, V2);
    assert.equal(await catalog.namespaceExists(["other"]), false);
    await catalog.close();
  });
});

Deno.test("SqliteCatalog: two connections to one file see each other's swaps and conflict", async () => {
  await withDbFile(async (path) => {
    const a = await SqliteCatalog.open(path);
    const b = await SqliteCatalog.open(path);
    await a.createNamespace(["shop"]);
    await a.createTable(TABLE, "v0/init");
    const seenByA = (await a.loadTable(TABLE)).metadataLocation;
    const seenByB = (await b.loadTable(TABLE)).metadataLocation;
    await a.swapTable(TABLE, seenByA, "v1/a-0");
    await assert.rejects(b.swapTable(TABLE, seenByB, "v1/b-0"), (error: unknown) => {
      assert.ok(error instanceof CommitConflictError);
      assert.equal(error.actual, "v1/a-0");
      return true;
    });
    await b.swapTable(TABLE, (await b.loadTable(TABLE)).metadataLocation, "v2/b-0");
    assert.deepEqual(await a.loadTable(TABLE), {
      metadataLocation: "v2/b-0",
      previousMetadataLocation: "v1/a-0",
    });
    await a.close();
    await b.close();
  });
});

/** Load, then swap to the next version, retrying on conflict, until `count` swaps succeeded. */
async function commitLoop(
  catalog: Catalog,
  writer: string,
  count: number,
  pause: () => Promise<void>,
): Promise<{ audit: Swap[]; conflicts: number }> {
  const audit: Swap[] = [];
  let conflicts = 0;
  while (audit.length < count) {
    const expected = (await catalog.loadTable(TABLE)).metadataLocation;
    await pause();
    const next = `v${versionOf(expected) + 1}/${writer}-${audit.length}`;
    try {
      await catalog.swapTable(TABLE, expected, next);
      audit.push({ expected, next });
    } catch (error) {
      if (!(error instanceof CommitConflictError)) throw error;
      conflicts++;
    }
  }
  return { audit, conflicts };
}

Deno.test("SqliteCatalog: interleaved writers on two connections lose no swap", async () => {
  await withDbFile(async (path) => {
    const a = await SqliteCatalog.open(path);
    const b = await SqliteCatalog.open(path);
    await a.createNamespace(["shop"]);
    await a.createTable(TABLE, "v0/init");
    // A macrotask between load and swap lets the other writer commit in between.
    const pause = () => new Promise<void>((resolve) => setTimeout(resolve, 0));
    const results = await Promise.all([
      commitLoop(a, "a", 100, pause),
      commitLoop(b, "b", 100, pause),
    ]);
    assert.ok(results[0].conflicts + results[1].conflicts > 0, "the writers never raced");
    await assertOneChain(a, TABLE, "v0/init", results.flatMap((r) => r.audit));
    await a.close();
    await b.close();
  });
});

const SWAPS_PER_PROCESS = 200;

/** A writer process: waits at a barrier, then commits like commitLoop and prints its audit. */
function writerProgram(): string {
  const catalogModule = new URL("./mod.ts", import.meta.url).href;
  return `
import { CommitConflictError, SqliteCatalog } from ${JSON.stringify(catalogModule)};
const [path, dir, writer, countText] = Deno.args;
const count = Number(countText);
const table = { namespace: ["shop"], name: "orders_events" };
const catalog = await SqliteCatalog.open(path);
await Deno.writeTextFile(dir + "/ready-" + writer, "");
for (;;) {
  try { await Deno.stat(dir + "/go"); break; } catch { await new Promise((r) => setTimeout(r, 2)); }
}
const audit = [];
let conflicts = 0;
let busy = 0;
while (audit.length < count) {
  const expected = (await catalog.loadTable(table)).metadataLocation;
  // Widens the window between load and swap, as writing a metadata file would.
  await new Promise((r) => setTimeout(r, 0));
  const version = Number(/^v(\\d+)\\//.exec(expected)[1]);
  const next = "v" + (version + 1) + "/" + writer + "-" + audit.length;
  try {
    await catalog.swapTable(table, expected, next);
    audit.push({ expected, next });
  } catch (error) {
    if (error instanceof CommitConflictError) conflicts++;
    else if (error.retriable) busy++;
    else throw error;
  }
}
await catalog.close();
console.log(JSON.stringify({ audit, conflicts, busy }));
`;
}

Deno.test("SqliteCatalog: two processes racing 200 swaps each lose no swap", async () => {
  await withDbFile(async (path, dir) => {
    const setup = await SqliteCatalog.open(path);
    await setup.createNamespace(["shop"]);
    await setup.createTable(TABLE, "v0/init");
    const program = writerProgram();
    const children = ["p1", "p2"].map((writer) =>
      new Deno.Command(Deno.execPath(), {
        args: ["eval", program, path, dir, writer, String(SWAPS_PER_PROCESS)],
        stdout: "piped",
        stderr: "piped",
      }).spawn()
    );
    // Release both writers at once, after both have started and opened the file.
    const deadline = Date.now() + 60_000;
    for (const writer of ["p1", "p2"]) {
      for (;;) {
        try {
          await Deno.stat(`${dir}/ready-${writer}`);
          break;
        } catch {
          assert.ok(Date.now() < deadline, `writer ${writer} did not start`);
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      }
    }
    await Deno.writeTextFile(`${dir}/go`, "");
    const outputs = await Promise.all(children.map((child) => child.output()));
    const results = outputs.map((output, i) => {
      const stderr = new TextDecoder().decode(output.stderr);
      assert.equal(output.code, 0, `writer p${i + 1} failed: ${stderr}`);
      return JSON.parse(new TextDecoder().decode(output.stdout)) as {
        audit: Swap[];
        conflicts: number;
        busy: number;
      };
    });
    for (const result of results) assert.equal(result.audit.length, SWAPS_PER_PROCESS);
    assert.ok(results[0].conflicts + results[1].conflicts > 0, "the processes never raced");
    await assertOneChain(setup, TABLE, "v0/init", results.flatMap((r) => r.audit));
    await setup.close();
  });
});
