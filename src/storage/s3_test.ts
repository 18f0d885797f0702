/**
 * S3Store logic that needs no server: error classification, the outer retry
 * loop, batching and fallbacks, driven through a fake client. The same store
 * against a real server is tested in tests/s3_store_test.ts.
 */
import assert from "node:assert/strict";
import { FakeClock } from "../core/clock.ts";
import { AbortedError, LakehouseError, ServiceUnavailableError } from "../core/errors.ts";
import { collect } from "./_conformance.ts";
import { classifyS3Error, parseS3Uri, type S3Config, S3Store, type S3StoreOptions } from "./s3.ts";
import { NotFoundError, PreconditionFailedError } from "./store.ts";

const MiB = 1024 * 1024;
const ENDPOINT = "http://fake-s3:9000";
const SECRET = "super-secret-value-123";

// deno-lint-ignore no-explicit-any
type Input = any;
interface Call {
  readonly name: string;
  readonly input: Input;
}
type Handler = (name: string, input: Input, call: number) => unknown;

/** Stands in for S3Client: records each command and answers through `handler`. */
class FakeClient {
  readonly calls: Call[] = [];
  destroyed = false;
  constructor(public handler: Handler) {}

  send(command: { input: Input; constructor: { name: string } }): Promise<unknown> {
    const name = command.constructor.name.replace(/Command$/, "");
    this.calls.push({ name, input: command.input });
    try {
      return Promise.resolve(this.handler(name, command.input, this.calls.length));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  destroy(): void {
    this.destroyed = true;
  }

  named(name: string): Call[] {
    return this.calls.filter((c) => c.name === name);
  }
}

function s3Error(name: string, status?: number, message = `${name} happened`, attempts = 1) {
  return Object.assign(new Error(message), {
    name,
    $metadata: { httpStatusCode: status, attempts },
  });
}

function body(data: Uint8Array) {
  return {
    transformToByteArray: () => Promise.resolve(data),
    transformToWebStream: () => ReadableStream.from([data.slice()]),
  };
}

function open(
  handler: Handler,
  config: Partial<S3Config> = {},
  options: S3StoreOptions = {},
): { store: S3Store; client: FakeClient; clock: FakeClock } {
  const client = new FakeClient(handler);
  const clock = new FakeClock();
  const store = new S3Store(
    "s3://bucket/",
    { endpoint: ENDPOINT, accessKeyId: "key-id", secretAccessKey: SECRET, ...config },
    // deno-lint-ignore no-explicit-any
    { client: client as any, clock, random: () => 0.5, ...options },
  );
  return { store, client, clock };
}

Deno.test("parseS3Uri() splits bucket and key", () => {
  assert.deepEqual(parseS3Uri("s3://warehouse/a/b.parquet"), {
    scheme: "s3",
    bucket: "warehouse",
    key: "a/b.parquet",
  });
  assert.deepEqual(parseS3Uri("s3://warehouse"), { scheme: "s3", bucket: "warehouse", key: "" });
  assert.equal(parseS3Uri("s3a://w/k").scheme, "s3a");
  assert.throws(() => parseS3Uri("file:///x"), /expected s3:\/\/bucket\/key/);
  assert.throws(() => parseS3Uri("s3:///key"), LakehouseError);
});

Deno.test("classifyS3Error() sorts SDK and network errors", () => {
  const cases: [unknown, string][] = [
    [s3Error("NoSuchKey", 404), "notFound"],
    [s3Error("NotFound", 404), "notFound"],
    [s3Error("NoSuchBucket", 404), "noBucket"],
    [s3Error("PreconditionFailed", 412), "precondition"],
    [s3Error("AccessDenied", 403), "credentials"],
    [s3Error("InvalidAccessKeyId", 403), "credentials"],
    [s3Error("SignatureDoesNotMatch", 403), "credentials"],
    [s3Error("SlowDown", 503), "throttled"],
    [s3Error("ServiceUnavailable", 503), "throttled"],
    [s3Error("TooManyRequests", 429), "throttled"],
    [s3Error("InternalError", 500), "server"],
    [s3Error("BadGateway", 502), "server"],
    [s3Error("ConditionalRequestConflict", 409), "conflict"],
    [s3Error("NotImplemented", 501), "notImplemented"],
    [s3Error("InvalidRange", 416), "invalidRange"],
    [s3Error("ObjectParentIsFile", 409), "other"],
    [
      Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED", $metadata: {} }),
      "network",
    ],
    [Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }), "interrupted"],
    [new TypeError("bug"), "other"],
    // A local file error is not an S3 answer, even when its name matches an S3 code.
    [new Deno.errors.NotFound("No such file or directory"), "other"],
  ];
  for (const [error, expected] of cases) {
    assert.equal(classifyS3Error(error), expected, String(error));
  }
});

Deno.test("S3Store retries throttling with jittered exponential backoff on the clock", async () => {
  const { store, client, clock } = open((_, __, call) => {
    if (call <= 2) throw s3Error("SlowDown", 503);
    return {};
  });
  await store.put("s3://bucket/k", new Uint8Array(3));
  assert.equal(client.named("PutObject").length, 3);
  // random() = 0.5 of a cap that doubles from 250 ms: 125 + 250.
  assert.equal(clock.now(), 375);
});

Deno.test("S3Store backoff never exceeds backoffMaxMs", async () => {
  const { store, clock } = open(
    () => {
      throw s3Error("InternalError", 500);
    },
    { requestAttemptsMax: 6 },
    { random: () => 0.999, backoffBaseMs: 1_000, backoffMaxMs: 3_000 },
  );
  await assert.rejects(store.get("s3://bucket/k"));
  // Caps: 1000, 2000, 3000, 3000, 3000 between six attempts.
  assert.ok(clock.now() <= 12_000 && clock.now() > 11_900, `${clock.now()}`);
});

Deno.test("S3Store gives up on 5xx after requestAttemptsMax with a retriable error", async () => {
  const { store, client } = open(() => {
    throw s3Error("InternalError", 500, "We encountered an internal error");
  }, { requestAttemptsMax: 3 });
  await assert.rejects(store.get("s3://bucket/data/f.parquet"), (error) => {
    assert.ok(error instanceof LakehouseError);
    assert.equal(error.retriable, true);
    assert.match(error.message, /cannot read s3:\/\/bucket\/data\/f\.parquet/);
    assert.ok(error.message.includes(ENDPOINT), error.message);
    assert.match(error.message, /after 3 attempts/);
    return true;
  });
  assert.equal(client.calls.length, 3);
});

Deno.test("S3Store retries connection failures and timeouts itself, telling onRetry of each", async () => {
  const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), {
    code: "ECONNREFUSED",
    $metadata: { attempts: 1 },
  });
  const timedOut = Object.assign(new Error("a request has exceeded the configured 20000 ms"), {
    name: "TimeoutError",
    code: "ETIMEDOUT",
    $metadata: { attempts: 1 },
  });
  const retries: string[] = [];
  const { store, client } = open(
    (_, __, call) => {
      throw call % 2 === 1 ? refused : timedOut;
    },
    { requestAttemptsMax: 4 },
    { onRetry: (m) => retries.push(m) },
  );
  await assert.rejects(store.head("s3://bucket/k"), (error) => {
    assert.ok(error instanceof ServiceUnavailableError);
    assert.equal(error.retriable, true);
    assert.ok(error.message.includes(ENDPOINT), error.message);
    assert.match(error.message, /after 4 attempts/);
    assert.equal(error.cause, timedOut);
    return true;
  });
  assert.equal(client.calls.length, 4);
  assert.equal(retries.length, 3);
  for (const m of retries) assert.ok(m.includes(ENDPOINT) && /retrying/.test(m), m);
  assert.match(retries[0], /ECONNREFUSED/);
  assert.match(retries[1], /TimeoutError/);
});

Deno.test("S3Store gives up at once when its signal aborts, in flight or between retries", async () => {
  const controller = new AbortController();
  const { store, client } = open(
    () => {
      controller.abort(new Error("shutdown deadline passed"));
      throw Object.assign(new Error("aborted"), { name: "AbortError" });
    },
    {},
    { signal: controller.signal },
  );
  await assert.rejects(store.get("s3://bucket/k"), (error) => {
    assert.ok(error instanceof AbortedError, String(error));
    assert.match(
      error.message,
      /cannot read s3:\/\/bucket\/k: abandoned \(shutdown deadline passed\)/,
    );
    return true;
  });
  assert.equal(client.calls.length, 1);
  await assert.rejects(store.get("s3://bucket/k"), AbortedError);
  assert.equal(client.calls.length, 1);
});

Deno.test("S3Store reports rejected credentials without the secret", async () => {
  for (const name of ["InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied"]) {
    const { store } = open(() => {
      throw s3Error(name, 403, `signature computed with ${SECRET} does not match`);
    });
    await assert.rejects(store.get("s3://bucket/k"), (error) => {
      assert.ok(error instanceof LakehouseError);
      assert.equal(error.retriable, false);
      assert.ok(error.message.includes(`credentials were rejected at ${ENDPOINT}`), error.message);
      assert.ok(error.message.includes(name), error.message);
      // The key id is a credential too: not shown whole.
      assert.ok(!error.message.includes("key-id"), error.message);
      assert.ok(error.message.includes("for the configured access key"), error.message);
      assert.ok(!error.message.includes(SECRET), error.message);
      return true;
    });
  }
});

Deno.test("S3Store maps missing keys, missing buckets and lost conditions", async () => {
  const { store } = open((name, input) => {
    if (input.Key === "missing") {
      throw s3Error(name === "HeadObject" ? "NotFound" : "NoSuchKey", 404);
    }
    if (input.Key === "taken") throw s3Error("PreconditionFailed", 412);
    throw s3Error("NoSuchBucket", 404, "The specified bucket does not exist");
  });
  await assert.rejects(store.get("s3://bucket/missing"), (error) => {
    assert.ok(error instanceof NotFoundError);
    assert.equal(error.uri, "s3://bucket/missing");
    return true;
  });
  assert.equal(await store.head("s3://bucket/missing"), undefined);
  await store.delete("s3://bucket/missing");
  await assert.rejects(
    store.put("s3://bucket/taken", new Uint8Array(1), { ifNoneMatch: true }),
    PreconditionFailedError,
  );
  await assert.rejects(store.get("s3://bucket/other"), (error) => {
    assert.ok(error instanceof LakehouseError && !(error instanceof NotFoundError));
    assert.match(error.message, /bucket "bucket" does not exist at http:\/\/fake-s3:9000/);
    return true;
  });
});

Deno.test("S3Store.put() with ifNoneMatch treats a 412 after a lost answer as its own write", async () => {
  const data = new TextEncoder().encode("v2");
  const { store, client } = open((name, _, call) => {
    if (name === "PutObject" && call === 1) throw s3Error("InternalError", 500);
    if (name === "PutObject") throw s3Error("PreconditionFailed", 412);
    return { Body: body(data) };
  });
  await store.put("s3://bucket/v2.json", data, { ifNoneMatch: true });
  assert.deepEqual(client.calls.map((c) => c.name), ["PutObject", "PutObject", "GetObject"]);
});

Deno.test("S3Store.put() with ifNoneMatch reports a loss when the read-back is not ours", async () => {
  const { store } = open((name) => {
    if (name === "PutObject") return {};
    return { Body: body(new TextEncoder().encode("someone else")) };
  });
  await assert.rejects(
    store.put("s3://bucket/v2.json", new TextEncoder().encode("mine"), { ifNoneMatch: true }),
    PreconditionFailedError,
  );
  const { store: unverified, client } = open(() => ({}), {}, { verifyConditionalPuts: false });
  await unverified.put("s3://bucket/v2.json", new Uint8Array(1), { ifNoneMatch: true });
  assert.deepEqual(client.calls.map((c) => c.name), ["PutObject"]);
});

Deno.test("S3Store.put() serializes conditional puts of one key within the process", async () => {
  let inFlight = 0;
  let maxInFlight = 0;
  let stored: Uint8Array | undefined;
  const client = new FakeClient(() => ({}));
  client.handler = async (name, input) => {
    if (name === "GetObject") return { Body: body(stored!) };
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise((resolve) => setTimeout(resolve, 5));
    inFlight--;
    if (stored) throw s3Error("PreconditionFailed", 412);
    stored = input.Body;
    return {};
  };
  const stores = [0, 1, 2].map(() =>
    // deno-lint-ignore no-explicit-any
    new S3Store("s3://bucket/", { endpoint: ENDPOINT }, { client: client as any })
  );
  const results = await Promise.allSettled(
    stores.map((s, i) => s.put("s3://bucket/race", new Uint8Array([i]), { ifNoneMatch: true })),
  );
  assert.equal(maxInFlight, 1);
  assert.deepEqual(results.map((r) => r.status), ["fulfilled", "rejected", "rejected"]);
});

Deno.test("S3Store.deleteMany() sends DeleteObjects in chunks of 1000 per bucket", async () => {
  for (
    const [count, chunks] of [[0, []], [1, [1]], [1000, [1000]], [2001, [1000, 1000, 1]]] as const
  ) {
    const { store, client } = open(() => ({}));
    await store.deleteMany(Array.from({ length: count }, (_, i) => `s3://bucket/k${i}`));
    const sizes = client.named("DeleteObjects").map((c) => c.input.Delete.Objects.length);
    assert.deepEqual(sizes, chunks, `${count} keys`);
  }
  const { store, client } = open(() => ({}));
  await store.deleteMany(["s3://a/1", "s3://b/1", "s3://a/2"]);
  assert.deepEqual(
    client.calls.map((c) => [c.input.Bucket, c.input.Delete.Objects.map((o: Input) => o.Key)]),
    [["a", ["1", "2"]], ["b", ["1"]]],
  );
});

Deno.test("S3Store.deleteMany() falls back to single deletes when DeleteObjects is not implemented", async () => {
  const { store, client } = open((name) => {
    if (name === "DeleteObjects") throw s3Error("NotImplemented", 501);
    return {};
  });
  await store.deleteMany(["s3://bucket/1", "s3://bucket/2", "s3://bucket/3"]);
  await store.deleteMany(["s3://bucket/4"]);
  assert.equal(client.named("DeleteObjects").length, 1);
  assert.deepEqual(client.named("DeleteObject").map((c) => c.input.Key).sort(), [
    "1",
    "2",
    "3",
    "4",
  ]);
});

Deno.test("S3Store.deleteMany() fails naming a key the server could not delete", async () => {
  const { store } = open(() => ({
    Errors: [
      { Key: "gone", Code: "NoSuchKey" },
      { Key: "locked", Code: "AccessDenied", Message: "Access Denied" },
    ],
  }));
  await assert.rejects(store.deleteMany(["s3://bucket/gone", "s3://bucket/locked"]), (error) => {
    assert.ok(error instanceof LakehouseError);
    assert.equal(error.retriable, false);
    assert.match(error.message, /cannot delete 1 of 2 objects/);
    assert.match(error.message, /s3:\/\/bucket\/locked: AccessDenied/);
    return true;
  });
});

Deno.test("S3Store.list() follows continuation tokens to the end", async () => {
  const pages = [
    {
      Contents: [{ Key: "p/a", Size: 1 }, { Key: "p/b", Size: 2 }],
      IsTruncated: true,
      NextContinuationToken: "t1",
    },
    {
      Contents: [{ Key: "p/c/", Size: 0 }, { Key: "p/d", Size: 4 }],
      IsTruncated: true,
      NextContinuationToken: "t2",
    },
    { Contents: [], IsTruncated: false },
  ];
  const { store, client } = open((_, __, call) => pages[call - 1], {}, { listPageKeys: 2 });
  const listed = await collect(store.list("s3://bucket/p/"));
  assert.deepEqual(listed.map((i) => [i.path, i.size]), [
    ["s3://bucket/p/a", 1],
    ["s3://bucket/p/b", 2],
    ["s3://bucket/p/d", 4],
  ]);
  assert.deepEqual(
    client.calls.map((c) => [c.input.Prefix, c.input.ContinuationToken, c.input.MaxKeys]),
    [
      ["p/", undefined, 2],
      ["p/", "t1", 2],
      ["p/", "t2", 2],
    ],
  );
});

Deno.test("S3Store.list() stops when a server repeats a continuation token", async () => {
  const { store } = open(() => ({
    Contents: [],
    IsTruncated: true,
    NextContinuationToken: "same",
  }));
  await assert.rejects(collect(store.list("s3://bucket/")), /repeated a continuation token/);
});

Deno.test("S3Store.putFile() uploads parts in order and completes them", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lakehouse-s3-unit-" });
  try {
    const size = 12 * MiB + 7;
    await Deno.writeFile(`${dir}/f`, new Uint8Array(size).fill(7));
    const { store, client } = open((name, input) => {
      if (name === "CreateMultipartUpload") return { UploadId: "u1" };
      if (name === "UploadPart") return { ETag: `"e${input.PartNumber}"` };
      return {};
    }, { multipartThresholdBytes: 5 * MiB, partSizeBytes: 5 * MiB });
    await store.putFile("s3://bucket/big", `${dir}/f`);
    const parts = client.named("UploadPart");
    assert.deepEqual(
      parts.map((c) => [c.input.PartNumber, c.input.ContentLength]).sort((a, b) => a[0] - b[0]),
      [[1, 5 * MiB], [2, 5 * MiB], [3, 2 * MiB + 7]],
    );
    const complete = client.named("CompleteMultipartUpload")[0].input;
    assert.equal(complete.UploadId, "u1");
    assert.deepEqual(complete.MultipartUpload.Parts, [
      { PartNumber: 1, ETag: '"e1"' },
      { PartNumber: 2, ETag: '"e2"' },
      { PartNumber: 3, ETag: '"e3"' },
    ]);
    assert.equal(client.named("AbortMultipartUpload").length, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("S3Store.putFile() aborts the multipart upload when a part fails", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lakehouse-s3-unit-" });
  try {
    await Deno.writeFile(`${dir}/f`, new Uint8Array(11 * MiB));
    const { store, client } = open((name, input) => {
      if (name === "CreateMultipartUpload") return { UploadId: "u2" };
      if (name === "UploadPart" && input.PartNumber === 2) throw s3Error("AccessDenied", 403);
      return { ETag: '"e"' };
    }, { multipartThresholdBytes: 5 * MiB, partSizeBytes: 5 * MiB });
    await assert.rejects(store.putFile("s3://bucket/big", `${dir}/f`), /credentials were rejected/);
    assert.equal(client.named("AbortMultipartUpload")[0].input.UploadId, "u2");
    assert.equal(client.named("CompleteMultipartUpload").length, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("S3Store.putFile() uploads small files in one request", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lakehouse-s3-unit-" });
  try {
    await Deno.writeFile(`${dir}/f`, new Uint8Array(5 * MiB));
    const { store, client } = open(() => ({}), { multipartThresholdBytes: 5 * MiB });
    await store.putFile("s3://bucket/small", `${dir}/f`);
    assert.deepEqual(client.calls.map((c) => c.name), ["PutObject"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("S3Store.getFile() retries a download cut off mid-body", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lakehouse-s3-unit-" });
  try {
    const data = new TextEncoder().encode("0123456789");
    const { store, client } = open((_, __, call) => ({
      ContentLength: data.length,
      Body: body(call === 1 ? data.subarray(0, 4) : data),
    }));
    await store.getFile("s3://bucket/f", `${dir}/out`);
    assert.equal(client.calls.length, 2);
    assert.equal(await Deno.readTextFile(`${dir}/out`), "0123456789");
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["out"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("S3Store.getRange() explains a range past the end", async () => {
  const { store } = open((name) => {
    if (name === "GetObject") throw s3Error("InvalidRange", 416);
    return { ContentLength: 100 };
  });
  await assert.rejects(
    store.getRange("s3://bucket/f", 200, 10),
    /bytes 200\.\.210 of s3:\/\/bucket\/f: the object is 100 bytes/,
  );
});

Deno.test("S3Store checks its options up front", () => {
  const bad: [Partial<S3Config>, RegExp][] = [
    [{ partSizeBytes: 1 * MiB }, /partSizeBytes .* got 1048576/],
    [{ requestAttemptsMax: 0 }, /requestAttemptsMax must be an integer >= 1, got 0/],
    [{ multipartThresholdBytes: -1 }, /multipartThresholdBytes/],
    [{ endpoint: "127.0.0.1:9000" }, /endpoint must be an http\(s\) URL/],
    [{ accessKeyId: "only-the-id" }, /given together/],
  ];
  for (const [config, message] of bad) {
    assert.throws(() => new S3Store("s3://bucket/", config), message);
  }
  assert.throws(() => new S3Store("gs://bucket/", {}), /expected s3:\/\/bucket\/key/);
});

Deno.test("S3Store.close() releases the client and rejects later calls", async () => {
  const { store, client } = open(() => ({}));
  await store.close();
  assert.ok(client.destroyed);
  await assert.rejects(store.get("s3://bucket/k"), /closed/);
});
