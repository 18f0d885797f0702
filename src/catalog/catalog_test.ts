import assert from "node:assert/strict";
import { LakehouseError } from "../core/errors.ts";
import { testCatalog } from "./_conformance.ts";
import {
  AlreadyExistsError,
  CommitConflictError,
  CommitStateUnknownError,
  formatNamespace,
  formatTableIdentifier,
  NamespaceNotEmptyError,
  NoSuchNamespaceError,
  NoSuchTableError,
} from "./catalog.ts";
import { MemoryCatalog } from "./memory.ts";
import { SqliteCatalog } from "./sqlite.ts";

testCatalog("MemoryCatalog", () => {
  const catalog = new MemoryCatalog();
  return Promise.resolve({ catalog, dispose: () => catalog.close() });
});

testCatalog("SqliteCatalog", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lakehouse-catalog-" });
  const catalog = await SqliteCatalog.open(`${dir}/catalog.db`);
  return {
    catalog,
    dispose: async () => {
      await catalog.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
});

const TABLE = { namespace: ["shop", "eu"], name: "orders" };

Deno.test("formatTableIdentifier() joins namespace levels and name with dots", () => {
  assert.equal(formatTableIdentifier(TABLE), "shop.eu.orders");
  assert.equal(formatNamespace(["shop"]), "shop");
});

Deno.test("catalog errors are LakehouseErrors that name what they are about", () => {
  const cause = new Error("lost");
  const cases: [LakehouseError, string, boolean][] = [
    [new NoSuchTableError(TABLE, { catalog: "c" }), "shop.eu.orders", false],
    [new NoSuchNamespaceError(["shop", "eu"]), "shop.eu", false],
    [new AlreadyExistsError({ table: TABLE }), "shop.eu.orders", false],
    [new AlreadyExistsError({ namespace: ["shop"] }), "namespace shop", false],
    [new NamespaceNotEmptyError(["shop"], "1 table (shop.a)"), "shop.a", false],
    [new CommitConflictError(TABLE, { expected: "m1", actual: "m2", cause }), "m2", true],
    [new CommitStateUnknownError(TABLE, { next: "m3", cause }), "m3", false],
  ];
  for (const [error, mentions, retriable] of cases) {
    assert.ok(error instanceof LakehouseError);
    assert.ok(error.message.includes(mentions), `${error.message} should mention ${mentions}`);
    assert.equal(error.retriable, retriable, error.name);
    assert.notEqual(error.name, "LakehouseError");
  }
  assert.equal(new CommitConflictError(TABLE, { expected: "m1", cause }).cause, cause);
  assert.equal(new CommitStateUnknownError(TABLE, { next: "m3", cause }).cause, cause);
  assert.ok(new NoSuchTableError(TABLE, { catalog: "c" }).message.includes(`catalog "c"`));
});
