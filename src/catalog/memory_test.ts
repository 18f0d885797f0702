import assert from "node:assert/strict";
import { LakehouseError } from "../core/errors.ts";
import {
  CommitConflictError,
  CommitStateUnknownError,
  NoSuchTableError,
  type TableIdentifier,
} from "./catalog.ts";
import { MemoryCatalog, type SwapFault } from "./memory.ts";

const TABLE: TableIdentifier = { namespace: ["shop"], name: "orders_events" };

async function catalogWithTable(location = "m1"): Promise<MemoryCatalog> {
  const catalog = new MemoryCatalog();
  await catalog.createNamespace(["shop"]);
  await catalog.createTable(TABLE, location);
  return catalog;
}

Deno.test("MemoryCatalog name defaults to lakehouse and can be set", () => {
  assert.equal(new MemoryCatalog().name, "lakehouse");
  assert.equal(new MemoryCatalog({ name: "other" }).name, "other");
  assert.throws(() => new MemoryCatalog({ name: "" }), LakehouseError);
});

Deno.test("MemoryCatalog.beforeSwap lets a rival writer commit first", async () => {
  const catalog = await catalogWithTable();
  let calls = 0;
  catalog.beforeSwap = async (table, expected, next) => {
    calls++;
    assert.deepEqual([table, expected, next], [TABLE, "m1", "mine"]);
    await catalog.swapTable(table, expected, "rival");
  };
  await assert.rejects(catalog.swapTable(TABLE, "m1", "mine"), (error: unknown) => {
    assert.ok(error instanceof CommitConflictError);
    assert.equal(error.actual, "rival");
    return true;
  });
  // The rival's swap inside the hook did not run the hook again.
  assert.equal(calls, 1);
  assert.deepEqual(await catalog.loadTable(TABLE), {
    metadataLocation: "rival",
    previousMetadataLocation: "m1",
  });
});

Deno.test("MemoryCatalog beforeSwap given to the constructor runs on every swap", async () => {
  const seen: string[] = [];
  const catalog = new MemoryCatalog({
    beforeSwap: (_table, _expected, next) => void seen.push(next),
  });
  await catalog.createNamespace(["shop"]);
  await catalog.createTable(TABLE, "m1");
  await catalog.swapTable(TABLE, "m1", "m2");
  await catalog.swapTable(TABLE, "m2", "m3");
  assert.deepEqual(seen, ["m2", "m3"]);
});

Deno.test("MemoryCatalog.beforeSwap that throws aborts the swap", async () => {
  const catalog = await catalogWithTable();
  catalog.beforeSwap = () => {
    throw new Error("hook failed");
  };
  await assert.rejects(catalog.swapTable(TABLE, "m1", "m2"), /hook failed/);
  assert.deepEqual(await catalog.loadTable(TABLE), { metadataLocation: "m1" });
});

Deno.test("MemoryCatalog.failNextSwap('conflict') loses once without applying", async () => {
  const catalog = await catalogWithTable();
  catalog.failNextSwap("conflict");
  await assert.rejects(catalog.swapTable(TABLE, "m1", "m2"), (error: unknown) => {
    assert.ok(error instanceof CommitConflictError);
    assert.equal(error.retriable, true);
    assert.ok(error.cause instanceof Error);
    return true;
  });
  assert.deepEqual(await catalog.loadTable(TABLE), { metadataLocation: "m1" });
  await catalog.swapTable(TABLE, "m1", "m2");
  assert.equal((await catalog.loadTable(TABLE)).metadataLocation, "m2");
});

Deno.test("MemoryCatalog.failNextSwap('unknown-applied') applies, then reports an unknown outcome", async () => {
  const catalog = await catalogWithTable();
  catalog.failNextSwap("unknown-applied");
  await assert.rejects(catalog.swapTable(TABLE, "m1", "m2"), (error: unknown) => {
    assert.ok(error instanceof CommitStateUnknownError);
    assert.equal(error.retriable, false);
    assert.equal(error.next, "m2");
    assert.ok(error.message.includes("shop.orders_events"));
    return true;
  });
  assert.deepEqual(await catalog.loadTable(TABLE), {
    metadataLocation: "m2",
    previousMetadataLocation: "m1",
  });
});

Deno.test("MemoryCatalog.failNextSwap('unknown-applied') does not apply a stale swap", async () => {
  const catalog = await catalogWithTable();
  await catalog.swapTable(TABLE, "m1", "m2");
  catalog.failNextSwap("unknown-applied");
  await assert.rejects(catalog.swapTable(TABLE, "m1", "m3"), CommitStateUnknownError);
  assert.equal((await catalog.loadTable(TABLE)).metadataLocation, "m2");
});

Deno.test("MemoryCatalog.failNextSwap('unknown-not-applied') reports an unknown outcome and changes nothing", async () => {
  const catalog = await catalogWithTable();
  catalog.failNextSwap("unknown-not-applied");
  await assert.rejects(catalog.swapTable(TABLE, "m1", "m2"), CommitStateUnknownError);
  assert.deepEqual(await catalog.loadTable(TABLE), { metadataLocation: "m1" });
});

Deno.test("MemoryCatalog.failNextSwap() queues faults in order, consumed by swaps that reach a table", async () => {
  const catalog = await catalogWithTable();
  catalog.failNextSwap("conflict");
  catalog.failNextSwap("unknown-not-applied");
  assert.equal(catalog.pendingFaults, 2);
  await assert.rejects(
    catalog.swapTable({ namespace: ["shop"], name: "missing" }, "m1", "m2"),
    NoSuchTableError,
  );
  assert.equal(catalog.pendingFaults, 2);
  await assert.rejects(catalog.swapTable(TABLE, "m1", "m2"), CommitConflictError);
  await assert.rejects(catalog.swapTable(TABLE, "m1", "m2"), CommitStateUnknownError);
  assert.equal(catalog.pendingFaults, 0);
  await catalog.swapTable(TABLE, "m1", "m2");
});

Deno.test("MemoryCatalog.failNextSwap() rejects an unknown fault kind", () => {
  assert.throws(
    () => new MemoryCatalog().failNextSwap("timeout" as SwapFault),
    /unknown swap fault "timeout"/,
  );
});

Deno.test("MemoryCatalog instances do not share state", async () => {
  const a = await catalogWithTable();
  const b = new MemoryCatalog();
  assert.equal(await a.tableExists(TABLE), true);
  assert.equal(await b.tableExists(TABLE), false);
});
