import assert from "node:assert/strict";
import { LakehouseError } from "../core/errors.ts";
import { MemoryCatalog, openCatalog, SqliteCatalog } from "./mod.ts";

async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "lakehouse-open-catalog-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("openCatalog() opens sqlite:PATH, sqlite:///abs and bare .db paths as SQLite", async () => {
  await withTempDir(async (dir) => {
    for (const uri of [`sqlite:${dir}/a.db`, `sqlite://${dir}/b.db`, `${dir}/c.db`]) {
      const catalog = await openCatalog(uri);
      assert.ok(catalog instanceof SqliteCatalog, uri);
      assert.equal(catalog.name, "lakehouse");
      await catalog.close();
    }
    assert.ok((await Deno.stat(`${dir}/b.db`)).isFile);
  });
});

Deno.test("openCatalog() passes the catalog name on", async () => {
  await withTempDir(async (dir) => {
    const catalog = await openCatalog(`sqlite:${dir}/a.db`, { name: "staging" });
    assert.equal(catalog.name, "staging");
    await catalog.close();
  });
  assert.equal((await openCatalog("memory:", { name: "test" })).name, "test");
});

Deno.test("openCatalog() gives a new, empty MemoryCatalog for memory:", async () => {
  const a = await openCatalog("memory:");
  const b = await openCatalog("memory://x");
  assert.ok(a instanceof MemoryCatalog && b instanceof MemoryCatalog);
  await a.createNamespace(["shop"]);
  assert.equal(await b.namespaceExists(["shop"]), false);
});

Deno.test("openCatalog() reports the PostgreSQL catalog as unavailable without echoing secrets", async () => {
  for (const uri of ["postgres://u:secret@127.0.0.1/lake", "postgresql://127.0.0.1/lake"]) {
    await assert.rejects(openCatalog(uri), (error: unknown) => {
      assert.ok(error instanceof LakehouseError);
      assert.match(error.message, /PostgreSQL catalog is not available in this build/);
      assert.ok(!error.message.includes("secret"));
      return true;
    });
  }
});

Deno.test("openCatalog() rejects unknown kinds, naming the URI without its password", async () => {
  await assert.rejects(openCatalog("mysql://u:secret@host/db"), (error: unknown) => {
    assert.ok(error instanceof LakehouseError);
    assert.match(error.message, /mysql:\/\/\*\*\*@host\/db/);
    assert.ok(!error.message.includes("secret"));
    return true;
  });
  await assert.rejects(openCatalog("catalog.sqlite"), LakehouseError);
  await assert.rejects(openCatalog("sqlite:"), /no database path/);
});
