/**
 * S3Store against a real S3 server (versitygw from 'deno task services:up').
 * Runs the same conformance suite as the in-memory and file stores, under a
 * prefix unique to this run that is removed at the end, plus the cases only
 * a real server shows: multipart uploads, rejected credentials and an
 * unreachable endpoint.
 *
 * A missing server fails every test instead of skipping them: a skipped
 * integration test reads as a pass.
 */
import assert from "node:assert/strict";
import { LakehouseError } from "../src/core/errors.ts";
import { collect, randomBytes, testObjectStore } from "../src/storage/_conformance.ts";
import { type S3Config, S3Store } from "../src/storage/s3.ts";

const endpoint = Deno.env.get("LAKEHOUSE_S3_ENDPOINT") ?? "http://127.0.0.1:9000";
const accessKeyId = Deno.env.get("LAKEHOUSE_S3_ACCESS_KEY") ?? "lakehouse";
const secretAccessKey = Deno.env.get("LAKEHOUSE_S3_SECRET_KEY") ?? "lakehouse-secret";
const bucket = Deno.env.get("LAKEHOUSE_S3_BUCKET") ?? "warehouse";
const runPrefix = `s3://${bucket}/lakehouse-tests/s3-store-${Date.now()}-${
  crypto.randomUUID().slice(0, 8)
}/`;

const config: Partial<S3Config> = {
  endpoint,
  accessKeyId,
  secretAccessKey,
  region: "us-east-1",
  forcePathStyle: true,
};

async function serverReachable(): Promise<boolean> {
  try {
    const response = await fetch(endpoint, { signal: AbortSignal.timeout(3_000) });
    await response.body?.cancel();
    return true;
  } catch {
    return false;
  }
}

const reachable = await serverReachable();
const unreachableMessage =
  `S3 server not reachable at ${endpoint}: start it with 'deno task services:up'`;

function requireServer(): void {
  if (!reachable) throw new Error(unreachableMessage);
}

async function removeAll(store: S3Store, prefix: string): Promise<void> {
  const uris = (await collect(store.list(prefix))).map((info) => info.path);
  await store.deleteMany(uris);
}

Deno.test("S3 server is reachable", () => {
  assert.ok(reachable, unreachableMessage);
});

let fixtureCount = 0;
// A small page size makes every list() in the suite cross page boundaries.
testObjectStore("S3Store", () => {
  requireServer();
  const store = new S3Store(runPrefix, config, { listPageKeys: 4 });
  const base = `${runPrefix}case-${++fixtureCount}/`;
  return Promise.resolve({
    store,
    base,
    dispose: async () => {
      try {
        await removeAll(store, base);
      } finally {
        await store.close();
      }
    },
  });
});

Deno.test("S3Store.putFile() uploads a 40 MiB file in parts and it round-trips", async () => {
  requireServer();
  const store = new S3Store(runPrefix, {
    ...config,
    multipartThresholdBytes: 5 * 1024 * 1024,
    partSizeBytes: 5 * 1024 * 1024,
  });
  const dir = await Deno.makeTempDir({ prefix: "lakehouse-s3-" });
  const uri = `${runPrefix}multipart/big.parquet`;
  try {
    // Not a multiple of the part size, so the short last part is exercised.
    const data = randomBytes(40 * 1024 * 1024 + 12_345, "multipart");
    await Deno.writeFile(`${dir}/source`, data);
    await store.putFile(uri, `${dir}/source`);
    assert.equal((await store.head(uri))?.size, data.length);
    await store.getFile(uri, `${dir}/copy`);
    const copy = await Deno.readFile(`${dir}/copy`);
    assert.equal(copy.length, data.length);
    assert.ok(copy.every((byte, i) => byte === data[i]), "downloaded bytes differ");
    const offset = 5 * 1024 * 1024 - 8;
    assert.deepEqual(await store.getRange(uri, offset, 16), data.subarray(offset, offset + 16));
  } finally {
    await store.delete(uri).catch(() => {});
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("S3Store rejects a wrong secret as a non-retriable credentials error", async () => {
  requireServer();
  const wrongSecret = "definitely-not-the-secret-4f1c";
  const store = new S3Store(runPrefix, { ...config, secretAccessKey: wrongSecret });
  try {
    for (const attempt of [() => store.get(`${runPrefix}any`), () => store.head(`${runPrefix}x`)]) {
      await assert.rejects(attempt(), (error) => {
        assert.ok(error instanceof LakehouseError, String(error));
        assert.equal(error.retriable, false);
        assert.match(error.message, /credentials were rejected/);
        assert.ok(error.message.includes(endpoint), error.message);
        assert.ok(!error.message.includes(wrongSecret), error.message);
        assert.ok(!String(error.stack).includes(wrongSecret), "stack contains the secret");
        return true;
      });
    }
  } finally {
    await store.close();
  }
});

Deno.test("S3Store reports an unreachable endpoint as a retriable error naming it", async () => {
  const deadEndpoint = "http://127.0.0.1:1";
  const store = new S3Store(`s3://${bucket}/`, {
    ...config,
    endpoint: deadEndpoint,
    requestAttemptsMax: 2,
  });
  try {
    await assert.rejects(store.put(`s3://${bucket}/x`, new Uint8Array(1)), (error) => {
      assert.ok(error instanceof LakehouseError, String(error));
      assert.equal(error.retriable, true);
      assert.ok(error.message.includes(deadEndpoint), error.message);
      assert.ok(error.message.includes(`s3://${bucket}/x`), error.message);
      return true;
    });
  } finally {
    await store.close();
  }
});

Deno.test("S3Store test run leaves no objects behind", async () => {
  requireServer();
  const store = new S3Store(runPrefix, config);
  try {
    await removeAll(store, runPrefix);
    assert.deepEqual(await collect(store.list(runPrefix)), []);
  } finally {
    await store.close();
  }
});
