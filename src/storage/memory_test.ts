import assert from "node:assert/strict";
import { FakeClock } from "../core/clock.ts";
import { LakehouseError, ServiceUnavailableError } from "../core/errors.ts";
import { MemoryStore } from "./memory.ts";
import { NotFoundError } from "./store.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

Deno.test("MemoryStore.failNext() fails the next operation of that kind before it applies", async () => {
  const store = new MemoryStore();
  store.failNext("put", new ServiceUnavailableError("network down"));
  await assert.rejects(store.put("memory://store/a", bytes("1")), ServiceUnavailableError);
  assert.equal(await store.head("memory://store/a"), undefined);
  await store.put("memory://store/a", bytes("1"));
  assert.deepEqual(await store.get("memory://store/a"), bytes("1"));
});

Deno.test("MemoryStore.failNext() with afterApply models a write whose answer was lost", async () => {
  const store = new MemoryStore();
  store.failNext("put", new ServiceUnavailableError("timeout"), { afterApply: true });
  await assert.rejects(store.put("memory://store/v2.json", bytes("v2")), ServiceUnavailableError);
  assert.deepEqual(await store.get("memory://store/v2.json"), bytes("v2"));
});

Deno.test("MemoryStore.failNext() queues faults per operation in order", async () => {
  const store = new MemoryStore();
  await store.put("memory://store/x", bytes("x"));
  store.failNext("get", new Error("first"));
  store.failNext("get", new Error("second"));
  await store.put("memory://store/y", bytes("y"));
  await assert.rejects(store.get("memory://store/x"), /first/);
  await assert.rejects(store.get("memory://store/x"), /second/);
  assert.deepEqual(await store.get("memory://store/x"), bytes("x"));
});

Deno.test("MemoryStore.faults hook fails chosen operations on chosen URIs", async () => {
  const store = new MemoryStore({
    faults: (op, uri) =>
      op === "get" && uri.endsWith(".parquet") ? new ServiceUnavailableError("flaky") : undefined,
  });
  await store.put("memory://store/a.parquet", bytes("p"));
  await store.put("memory://store/a.json", bytes("j"));
  await assert.rejects(store.get("memory://store/a.parquet"), (error) => {
    assert.ok(error instanceof LakehouseError && error.retriable);
    return true;
  });
  assert.deepEqual(await store.get("memory://store/a.json"), bytes("j"));
  store.faults = undefined;
  assert.deepEqual(await store.get("memory://store/a.parquet"), bytes("p"));
});

Deno.test("MemoryStore.faults hook sees each URI of deleteMany", async () => {
  const seen: string[] = [];
  const store = new MemoryStore({
    faults: (op, uri) => {
      if (op !== "deleteMany") return undefined;
      seen.push(uri);
      return uri.endsWith("/2") ? new Error("cannot delete 2") : undefined;
    },
  });
  for (const i of [1, 2, 3]) await store.put(`memory://store/${i}`, bytes(`${i}`));
  await assert.rejects(
    store.deleteMany(["memory://store/1", "memory://store/2", "memory://store/3"]),
    /cannot delete 2/,
  );
  assert.deepEqual(seen, ["memory://store/1", "memory://store/2"]);
  assert.equal(store.size, 2);
});

Deno.test("MemoryStore.put() with ifNoneMatch decides a commit race", async () => {
  const store = new MemoryStore();
  const uri = "memory://store/t/metadata/00002.metadata.json";
  const [a, b] = await Promise.allSettled([
    store.put(uri, bytes("writer a"), { ifNoneMatch: true }),
    store.put(uri, bytes("writer b"), { ifNoneMatch: true }),
  ]);
  assert.equal(a.status, "fulfilled");
  assert.equal(b.status, "rejected");
  assert.deepEqual(await store.get(uri), bytes("writer a"));
});

Deno.test("MemoryStore.head() reports the injected clock's time", async () => {
  const clock = new FakeClock(1_700_000_000_123.7);
  const store = new MemoryStore({ clock });
  await store.put("memory://store/t", bytes("t"));
  assert.equal((await store.head("memory://store/t"))?.lastModifiedMs, 1_700_000_000_123);
});

Deno.test("MemoryStore rejects URIs of other schemes", async () => {
  const store = new MemoryStore();
  await assert.rejects(store.get("s3://bucket/key"), (error) => {
    assert.ok(error instanceof LakehouseError);
    assert.ok(!(error instanceof NotFoundError));
    assert.match(error.message, /s3:\/\/bucket\/key/);
    return true;
  });
  assert.throws(() => new MemoryStore({ root: "file:///tmp/x" }), /memory:\/\//);
});

Deno.test("MemoryStore.close() makes later operations fail", async () => {
  const store = new MemoryStore();
  await store.close();
  await assert.rejects(store.put("memory://store/a", bytes("a")), /closed/);
});
