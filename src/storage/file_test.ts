import assert from "node:assert/strict";
import { LakehouseError } from "../core/errors.ts";
import { collect } from "./_conformance.ts";
import { filePath, FileStore, fileUri } from "./file.ts";
import { PreconditionFailedError } from "./store.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

async function withDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "lakehouse-file-" });
  try {
    await run(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("filePath() accepts file:///, Hadoop's file:/ and plain absolute paths", () => {
  assert.equal(filePath("file:///wh/a/b.parquet"), "/wh/a/b.parquet");
  assert.equal(filePath("file:/wh/a/b.parquet"), "/wh/a/b.parquet");
  assert.equal(filePath("/wh/a/b.parquet"), "/wh/a/b.parquet");
  // Literal mapping: no percent-decoding, so listings round-trip byte for byte.
  assert.equal(filePath("file:///wh/a%3Db"), "/wh/a%3Db");
  assert.equal(fileUri("/wh/x"), "file:///wh/x");
});

Deno.test("filePath() rejects relative paths, remote hosts and other schemes", () => {
  for (const uri of ["relative/dir", "s3://bucket/key", "file://host/share/x", "memory://x"]) {
    assert.throws(() => filePath(uri), (error) => {
      assert.ok(error instanceof LakehouseError);
      assert.ok(error.message.includes(uri), error.message);
      return true;
    });
  }
});

Deno.test("FileStore root is a file:// URI ending in a slash", () => {
  assert.equal(new FileStore("/tmp/wh").root, "file:///tmp/wh/");
  assert.equal(new FileStore("file:///tmp/wh/").root, "file:///tmp/wh/");
});

Deno.test("FileStore.put() accepts a plain absolute path and creates parent directories", async () => {
  await withDir(async (dir) => {
    const store = new FileStore(dir);
    await store.put(`${dir}/a/b/c.json`, bytes("{}"));
    assert.equal(await Deno.readTextFile(`${dir}/a/b/c.json`), "{}");
    assert.deepEqual(await store.get(`file://${dir}/a/b/c.json`), bytes("{}"));
  });
});

Deno.test("FileStore.put() leaves no temporary files behind", async () => {
  await withDir(async (dir) => {
    const store = new FileStore(dir);
    await store.put(`file://${dir}/x`, bytes("1"));
    await store.put(`file://${dir}/x`, bytes("2"));
    await assert.rejects(store.put(`file://${dir}/x`, bytes("3"), { ifNoneMatch: true }));
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["x"]);
  });
});

Deno.test("FileStore.list() skips the temporary files of writes in progress", async () => {
  await withDir(async (dir) => {
    const store = new FileStore(dir);
    await store.put(`file://${dir}/data/a.parquet`, bytes("a"));
    await Deno.writeTextFile(`${dir}/data/.b.parquet.k3j2.lakehouse-tmp`, "partial");
    const listed = await collect(store.list(`file://${dir}/`));
    assert.deepEqual(listed.map((i) => i.path), [`file://${dir}/data/a.parquet`]);
  });
});

Deno.test("FileStore.put() with ifNoneMatch is exclusive across store instances", async () => {
  await withDir(async (dir) => {
    const stores = Array.from({ length: 4 }, () => new FileStore(dir));
    const uri = `file://${dir}/t/metadata/v3.metadata.json`;
    const results = await Promise.allSettled(
      stores.map((store, i) => store.put(uri, bytes(`writer ${i}`), { ifNoneMatch: true })),
    );
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
    for (const r of results) {
      if (r.status === "rejected") assert.ok(r.reason instanceof PreconditionFailedError);
    }
  });
});

Deno.test("FileStore rejects object paths that name a file in more than one way", async () => {
  await withDir(async (dir) => {
    const store = new FileStore(dir);
    for (const uri of [`file://${dir}/a/../b`, `file://${dir}/a//b`, `file://${dir}/a/`]) {
      await assert.rejects(store.put(uri, bytes("x")), (error) => {
        assert.ok(error instanceof LakehouseError);
        assert.ok(error.message.includes(uri), error.message);
        return true;
      });
    }
  });
});

Deno.test("FileStore.get() of a directory fails without claiming the object is missing", async () => {
  await withDir(async (dir) => {
    const store = new FileStore(dir);
    await store.put(`file://${dir}/d/x`, bytes("x"));
    assert.equal(await store.head(`file://${dir}/d`), undefined);
    await assert.rejects(store.get(`file://${dir}/d`), LakehouseError);
  });
});
