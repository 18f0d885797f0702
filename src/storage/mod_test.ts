import assert from "node:assert/strict";
import { LakehouseError } from "../core/errors.ts";
import { FileStore, MemoryStore, openStore, S3Store } from "./mod.ts";

Deno.test("openStore() picks the store by scheme", async () => {
  const file = openStore("file:///tmp/lakehouse-wh", undefined);
  assert.ok(file instanceof FileStore);
  assert.equal(file.root, "file:///tmp/lakehouse-wh/");
  assert.ok(openStore("/tmp/lakehouse-wh", undefined) instanceof FileStore);
  const memory = openStore("memory://test", undefined);
  assert.ok(memory instanceof MemoryStore);
  assert.equal(memory.root, "memory://test/");
  const s3 = openStore("s3://warehouse", {
    endpoint: "http://127.0.0.1:9000",
    region: "us-east-1",
  });
  assert.ok(s3 instanceof S3Store);
  assert.equal(s3.root, "s3://warehouse/");
  await s3.close();
});

Deno.test("openStore() rejects an unknown scheme naming the URI", () => {
  for (const uri of ["gs://bucket/x", "warehouse", "hdfs://nn/wh"]) {
    assert.throws(() => openStore(uri, undefined), (error) => {
      assert.ok(error instanceof LakehouseError);
      assert.ok(error.message.includes(uri), error.message);
      return true;
    });
  }
});
