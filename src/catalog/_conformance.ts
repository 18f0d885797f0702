/**
 * The behaviour every Catalog must share, as one suite run against each
 * implementation, so tests written against MemoryCatalog hold for the
 * database catalogs too.
 */
import assert from "node:assert/strict";
import { LakehouseError } from "../core/errors.ts";
import {
  AlreadyExistsError,
  type Catalog,
  CommitConflictError,
  NamespaceNotEmptyError,
  NoSuchNamespaceError,
  NoSuchTableError,
  type TableIdentifier,
} from "./catalog.ts";

export interface CatalogFixture {
  /** A fresh catalog with no namespaces or tables. */
  readonly catalog: Catalog;
  /** Closes the catalog and removes what it stored. */
  dispose(): Promise<void>;
}

export type CatalogFactory = () => Promise<CatalogFixture>;

const SHOP = ["shop"];
const ORDERS: TableIdentifier = { namespace: SHOP, name: "orders_events" };
const V1 = "file:///warehouse/shop/orders_events/metadata/00000-a.metadata.json";
const V2 = "file:///warehouse/shop/orders_events/metadata/00001-b.metadata.json";
const V3 = "file:///warehouse/shop/orders_events/metadata/00002-c.metadata.json";

/** Asserts a rejection of exactly `type` whose message mentions every one of `names`. */
async function rejectsNaming(
  promise: Promise<unknown>,
  type: new (...args: never[]) => Error,
  ...names: string[]
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof type, `expected ${type.name}, got ${String(error)}`);
    for (const name of names) {
      assert.ok(error.message.includes(name), `"${error.message}" does not name ${name}`);
    }
    return true;
  });
}

async function withTable(catalog: Catalog, table = ORDERS, location = V1): Promise<void> {
  await catalog.ensureNamespace(table.namespace);
  await catalog.createTable(table, location);
}

type Case = [name: string, body: (catalog: Catalog) => Promise<void>];

const CASES: Case[] = [
  ["name defaults to lakehouse", (catalog) => {
    assert.equal(catalog.name, "lakehouse");
    return Promise.resolve();
  }],

  // Namespaces.

  ["createNamespace() then namespaceExists() is true; unknown ones are false", async (catalog) => {
    assert.equal(await catalog.namespaceExists(SHOP), false);
    await catalog.createNamespace(SHOP);
    assert.equal(await catalog.namespaceExists(SHOP), true);
    assert.equal(await catalog.namespaceExists(["shops"]), false);
    assert.equal(await catalog.namespaceExists(["sho"]), false);
  }],

  ["createNamespace() without properties stores exists=true", async (catalog) => {
    await catalog.createNamespace(SHOP);
    assert.deepEqual(await catalog.loadNamespaceProperties(SHOP), { exists: "true" });
  }],

  ["createNamespace() stores the given properties", async (catalog) => {
    const properties = { owner: "data-eng", location: "s3://lake/shop", "a.b": "x=y" };
    await catalog.createNamespace(SHOP, properties);
    assert.deepEqual(await catalog.loadNamespaceProperties(SHOP), properties);
  }],

  ["createNamespace() twice throws AlreadyExistsError naming it", async (catalog) => {
    await catalog.createNamespace(SHOP);
    await rejectsNaming(catalog.createNamespace(SHOP), AlreadyExistsError, "shop");
    await rejectsNaming(catalog.createNamespace(SHOP, { a: "1" }), AlreadyExistsError, "shop");
    assert.deepEqual(await catalog.loadNamespaceProperties(SHOP), { exists: "true" });
  }],

  ["ensureNamespace() is idempotent and keeps existing properties", async (catalog) => {
    await catalog.ensureNamespace(SHOP);
    await catalog.ensureNamespace(SHOP);
    assert.deepEqual(await catalog.listNamespaces(), [SHOP]);
    await catalog.createNamespace(["audit"], { owner: "ops" });
    await catalog.ensureNamespace(["audit"]);
    assert.deepEqual(await catalog.loadNamespaceProperties(["audit"]), { owner: "ops" });
  }],

  ["ensureNamespace() calls racing each other all succeed", async (catalog) => {
    await Promise.all(Array.from({ length: 8 }, () => catalog.ensureNamespace(SHOP)));
    assert.deepEqual(await catalog.listNamespaces(), [SHOP]);
  }],

  [
    "loadNamespaceProperties() of a missing namespace throws NoSuchNamespaceError",
    async (catalog) => {
      await rejectsNaming(catalog.loadNamespaceProperties(["nope"]), NoSuchNamespaceError, "nope");
    },
  ],

  ["listNamespaces() is empty on a new catalog", async (catalog) => {
    assert.deepEqual(await catalog.listNamespaces(), []);
  }],

  ["listNamespaces() returns top-level namespaces sorted", async (catalog) => {
    for (const ns of [["shop"], ["audit"], ["b"], ["Shop"]]) await catalog.createNamespace(ns);
    assert.deepEqual(await catalog.listNamespaces(), [["Shop"], ["audit"], ["b"], ["shop"]]);
  }],

  ["nested namespaces imply their parents and list one level at a time", async (catalog) => {
    await catalog.createNamespace(["a", "b", "c"]);
    await catalog.createNamespace(["a", "x"]);
    await catalog.createNamespace(["ab"]);
    assert.equal(await catalog.namespaceExists(["a"]), true);
    assert.equal(await catalog.namespaceExists(["a", "b"]), true);
    assert.deepEqual(await catalog.loadNamespaceProperties(["a"]), {});
    assert.deepEqual(await catalog.listNamespaces(), [["a"], ["ab"]]);
    assert.deepEqual(await catalog.listNamespaces(["a"]), [["a", "b"], ["a", "x"]]);
    assert.deepEqual(await catalog.listNamespaces(["a", "b"]), [["a", "b", "c"]]);
    assert.deepEqual(await catalog.listNamespaces(["a", "b", "c"]), []);
    await rejectsNaming(catalog.createNamespace(["a"]), AlreadyExistsError, "a");
  }],

  [
    "namespace names are matched exactly, not as patterns or case-insensitively",
    async (catalog) => {
      await catalog.createNamespace(["a_b"]);
      await catalog.createNamespace(["x%", "y"]);
      assert.equal(await catalog.namespaceExists(["aXb"]), false);
      assert.equal(await catalog.namespaceExists(["A_B"]), false);
      assert.equal(await catalog.namespaceExists(["xz"]), false);
      assert.equal(await catalog.namespaceExists(["x%"]), true);
      assert.deepEqual(await catalog.listNamespaces(["x%"]), [["x%", "y"]]);
    },
  ],

  ["listNamespaces() under a missing parent throws NoSuchNamespaceError", async (catalog) => {
    await rejectsNaming(catalog.listNamespaces(["nope"]), NoSuchNamespaceError, "nope");
  }],

  ["dropNamespace() removes an empty namespace", async (catalog) => {
    await catalog.createNamespace(SHOP, { owner: "x" });
    await catalog.dropNamespace(SHOP);
    assert.equal(await catalog.namespaceExists(SHOP), false);
    assert.deepEqual(await catalog.listNamespaces(), []);
    await catalog.createNamespace(SHOP);
    assert.deepEqual(await catalog.loadNamespaceProperties(SHOP), { exists: "true" });
  }],

  [
    "dropNamespace() with tables throws NamespaceNotEmptyError naming it and them",
    async (catalog) => {
      await withTable(catalog);
      await rejectsNaming(
        catalog.dropNamespace(SHOP),
        NamespaceNotEmptyError,
        "shop",
        "shop.orders_events",
      );
      assert.equal(await catalog.namespaceExists(SHOP), true);
      assert.equal(await catalog.tableExists(ORDERS), true);
    },
  ],

  ["dropNamespace() with a child namespace throws NamespaceNotEmptyError", async (catalog) => {
    await catalog.createNamespace(SHOP);
    await catalog.createNamespace(["shop", "archive"]);
    await rejectsNaming(catalog.dropNamespace(SHOP), NamespaceNotEmptyError, "shop.archive");
    await catalog.dropNamespace(["shop", "archive"]);
    await catalog.dropNamespace(SHOP);
    assert.deepEqual(await catalog.listNamespaces(), []);
  }],

  ["dropNamespace() of a missing namespace throws NoSuchNamespaceError", async (catalog) => {
    await rejectsNaming(catalog.dropNamespace(["nope"]), NoSuchNamespaceError, "nope");
  }],

  ["invalid namespaces are rejected before anything is stored", async (catalog) => {
    for (const bad of [[], [""], ["a.b"], ["a", ""], ["x".repeat(256)]]) {
      await assert.rejects(catalog.createNamespace(bad), LakehouseError);
    }
    await assert.rejects(catalog.createNamespace(SHOP, { "": "x" }), LakehouseError);
    await assert.rejects(catalog.createNamespace(SHOP, { k: "v".repeat(1001) }), LakehouseError);
    assert.deepEqual(await catalog.listNamespaces(), []);
  }],

  // Tables.

  [
    "createTable() then loadTable() returns the pointer without a previous location",
    async (catalog) => {
      await withTable(catalog);
      assert.deepEqual(await catalog.loadTable(ORDERS), { metadataLocation: V1 });
      assert.equal(await catalog.tableExists(ORDERS), true);
    },
  ],

  ["createTable() twice throws AlreadyExistsError naming the table", async (catalog) => {
    await withTable(catalog);
    await rejectsNaming(catalog.createTable(ORDERS, V2), AlreadyExistsError, "shop.orders_events");
    assert.deepEqual(await catalog.loadTable(ORDERS), { metadataLocation: V1 });
  }],

  ["createTable() in a missing namespace throws NoSuchNamespaceError", async (catalog) => {
    await rejectsNaming(
      catalog.createTable({ namespace: ["nope"], name: "t" }, V1),
      NoSuchNamespaceError,
      "nope",
    );
    assert.equal(await catalog.namespaceExists(["nope"]), false);
  }],

  ["createTable() in a namespace implied by a child is allowed", async (catalog) => {
    await catalog.createNamespace(["a", "b"]);
    await catalog.createTable({ namespace: ["a"], name: "t" }, V1);
    assert.deepEqual(await catalog.listTables(["a"]), [{ namespace: ["a"], name: "t" }]);
  }],

  ["createTable() rejects an empty name or metadata location", async (catalog) => {
    await catalog.createNamespace(SHOP);
    await assert.rejects(catalog.createTable({ namespace: SHOP, name: "" }, V1), LakehouseError);
    await assert.rejects(catalog.createTable(ORDERS, ""), LakehouseError);
    await assert.rejects(catalog.createTable(ORDERS, `s3://b/${"x".repeat(1000)}`), LakehouseError);
    assert.deepEqual(await catalog.listTables(SHOP), []);
  }],

  ["loadTable() of a missing table throws NoSuchTableError naming it", async (catalog) => {
    await catalog.createNamespace(SHOP);
    const missing = { namespace: SHOP, name: "missing" };
    await rejectsNaming(catalog.loadTable(missing), NoSuchTableError, "shop.missing");
    await rejectsNaming(
      catalog.loadTable({ namespace: ["nope", "deeper"], name: "t" }),
      NoSuchTableError,
      "nope.deeper.t",
    );
    assert.equal(await catalog.tableExists(missing), false);
  }],

  ["listTables() returns the namespace's tables sorted, not its children's", async (catalog) => {
    await catalog.createNamespace(SHOP);
    await catalog.createNamespace(["shop", "archive"]);
    await catalog.createNamespace(["other"]);
    for (const name of ["orders_events", "orders_current", "orders_rejects"]) {
      await catalog.createTable({ namespace: SHOP, name }, `${V1}-${name}`);
    }
    await catalog.createTable({ namespace: ["shop", "archive"], name: "old" }, V1);
    await catalog.createTable({ namespace: ["other"], name: "x" }, V1);
    assert.deepEqual(await catalog.listTables(SHOP), [
      { namespace: SHOP, name: "orders_current" },
      { namespace: SHOP, name: "orders_events" },
      { namespace: SHOP, name: "orders_rejects" },
    ]);
    assert.deepEqual(await catalog.listTables(["shop", "archive"]), [
      { namespace: ["shop", "archive"], name: "old" },
    ]);
  }],

  ["listTables() of an empty namespace is empty; of a missing one throws", async (catalog) => {
    await catalog.createNamespace(SHOP);
    assert.deepEqual(await catalog.listTables(SHOP), []);
    await rejectsNaming(catalog.listTables(["nope"]), NoSuchNamespaceError, "nope");
  }],

  ["dropTable() removes the table only", async (catalog) => {
    await withTable(catalog);
    await catalog.dropTable(ORDERS);
    assert.equal(await catalog.tableExists(ORDERS), false);
    await rejectsNaming(catalog.loadTable(ORDERS), NoSuchTableError, "shop.orders_events");
    assert.equal(await catalog.namespaceExists(SHOP), true);
    await catalog.dropNamespace(SHOP);
  }],

  ["dropTable() of a missing table throws NoSuchTableError naming it", async (catalog) => {
    await catalog.createNamespace(SHOP);
    await rejectsNaming(catalog.dropTable(ORDERS), NoSuchTableError, "shop.orders_events");
  }],

  ["a dropped table can be created again from scratch", async (catalog) => {
    await withTable(catalog);
    await catalog.swapTable(ORDERS, V1, V2);
    await catalog.dropTable(ORDERS);
    await catalog.createTable(ORDERS, V3);
    assert.deepEqual(await catalog.loadTable(ORDERS), { metadataLocation: V3 });
  }],

  // The commit point.

  ["swapTable() moves the pointer and records the previous location", async (catalog) => {
    await withTable(catalog);
    await catalog.swapTable(ORDERS, V1, V2);
    assert.deepEqual(await catalog.loadTable(ORDERS), {
      metadataLocation: V2,
      previousMetadataLocation: V1,
    });
    await catalog.swapTable(ORDERS, V2, V3);
    assert.deepEqual(await catalog.loadTable(ORDERS), {
      metadataLocation: V3,
      previousMetadataLocation: V2,
    });
  }],

  [
    "swapTable() with a stale expected location throws CommitConflictError and changes nothing",
    async (catalog) => {
      await withTable(catalog);
      await catalog.swapTable(ORDERS, V1, V2);
      await assert.rejects(catalog.swapTable(ORDERS, V1, V3), (error: unknown) => {
        assert.ok(error instanceof CommitConflictError, String(error));
        assert.equal(error.retriable, true);
        assert.deepEqual(error.table, ORDERS);
        assert.equal(error.expected, V1);
        assert.equal(error.actual, V2);
        assert.ok(error.message.includes("shop.orders_events"), error.message);
        return true;
      });
      assert.deepEqual(await catalog.loadTable(ORDERS), {
        metadataLocation: V2,
        previousMetadataLocation: V1,
      });
    },
  ],

  ["swapTable() of only one of two racing writers succeeds", async (catalog) => {
    await withTable(catalog);
    const results = await Promise.allSettled([
      catalog.swapTable(ORDERS, V1, V2),
      catalog.swapTable(ORDERS, V1, V3),
    ]);
    assert.deepEqual(results.map((r) => r.status).sort(), ["fulfilled", "rejected"]);
    const lost = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    assert.ok(lost.reason instanceof CommitConflictError);
    const winner = results[0].status === "fulfilled" ? V2 : V3;
    assert.deepEqual(await catalog.loadTable(ORDERS), {
      metadataLocation: winner,
      previousMetadataLocation: V1,
    });
  }],

  ["swapTable() of a missing table throws NoSuchTableError naming it", async (catalog) => {
    await catalog.createNamespace(SHOP);
    await rejectsNaming(catalog.swapTable(ORDERS, V1, V2), NoSuchTableError, "shop.orders_events");
  }],

  ["swapTable() rejects an empty next location or next equal to expected", async (catalog) => {
    await withTable(catalog);
    await assert.rejects(catalog.swapTable(ORDERS, V1, ""), LakehouseError);
    await assert.rejects(catalog.swapTable(ORDERS, V1, V1), LakehouseError);
    assert.deepEqual(await catalog.loadTable(ORDERS), { metadataLocation: V1 });
  }],

  ["swapTable() on one table leaves others alone", async (catalog) => {
    const current = { namespace: SHOP, name: "orders_current" };
    await withTable(catalog);
    await catalog.createTable(current, "c1");
    await catalog.swapTable(ORDERS, V1, V2);
    assert.deepEqual(await catalog.loadTable(current), { metadataLocation: "c1" });
  }],

  // Renames.

  ["renameTable() moves the pointer and its history to the new name", async (catalog) => {
    assert.ok(catalog.renameTable !== undefined);
    await withTable(catalog);
    await catalog.swapTable(ORDERS, V1, V2);
    await catalog.createNamespace(["archive"]);
    const to = { namespace: ["archive"], name: "orders_2024" };
    await catalog.renameTable(ORDERS, to);
    assert.equal(await catalog.tableExists(ORDERS), false);
    assert.deepEqual(await catalog.loadTable(to), {
      metadataLocation: V2,
      previousMetadataLocation: V1,
    });
  }],

  ["renameTable() fails on a missing source, missing namespace or taken name", async (catalog) => {
    assert.ok(catalog.renameTable !== undefined);
    await withTable(catalog);
    await catalog.createTable({ namespace: SHOP, name: "taken" }, V3);
    await rejectsNaming(
      catalog.renameTable({ namespace: SHOP, name: "missing" }, { namespace: SHOP, name: "x" }),
      NoSuchTableError,
      "shop.missing",
    );
    await rejectsNaming(
      catalog.renameTable(ORDERS, { namespace: ["nope"], name: "x" }),
      NoSuchNamespaceError,
      "nope",
    );
    await rejectsNaming(
      catalog.renameTable(ORDERS, { namespace: SHOP, name: "taken" }),
      AlreadyExistsError,
      "shop.taken",
    );
    assert.deepEqual(await catalog.loadTable(ORDERS), { metadataLocation: V1 });
  }],

  // Lifecycle.

  ["close() is idempotent and later calls fail", async (catalog) => {
    await withTable(catalog);
    await catalog.close();
    await catalog.close();
    await assert.rejects(catalog.loadTable(ORDERS), LakehouseError);
    await assert.rejects(catalog.swapTable(ORDERS, V1, V2), LakehouseError);
    await assert.rejects(catalog.listNamespaces(), LakehouseError);
  }],
];

/** Registers one Deno test per contract behaviour, each on a fresh fixture. */
export function testCatalog(label: string, factory: CatalogFactory): void {
  for (const [name, body] of CASES) {
    Deno.test(`${label}: ${name}`, async () => {
      const fixture = await factory();
      try {
        await body(fixture.catalog);
      } finally {
        await fixture.dispose();
      }
    });
  }
}
