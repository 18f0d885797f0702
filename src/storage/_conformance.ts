/**
 * The behaviour every ObjectStore must share, as one suite run against each
 * implementation (memory, file, and S3 against a real server), so the
 * in-memory store tests stand in for the real ones honestly.
 */
import assert from "node:assert/strict";
import { Random } from "../core/random.ts";
import { LakehouseError } from "../core/errors.ts";
import {
  NotFoundError,
  type ObjectInfo,
  type ObjectStore,
  PreconditionFailedError,
} from "./store.ts";

export interface StoreFixture {
  readonly store: ObjectStore;
  /** A URI prefix ending in "/" under which nothing exists yet and this test may write. */
  readonly base: string;
  /** Removes what the test wrote and closes the store. */
  dispose(): Promise<void>;
}

export type StoreFactory = () => Promise<StoreFixture>;

/** Deterministic pseudo-random bytes, so a failing comparison reproduces. */
export function randomBytes(size: number, seed: number | string = 1): Uint8Array {
  const random = new Random(seed);
  const bytes = new Uint8Array(size);
  const words = new Uint32Array(bytes.buffer, 0, Math.floor(size / 4));
  for (let i = 0; i < words.length; i++) words[i] = random.uint32();
  for (let i = words.length * 4; i < size; i++) bytes[i] = random.uint32() & 0xff;
  return bytes;
}

export async function collect(iterable: AsyncIterable<ObjectInfo>): Promise<ObjectInfo[]> {
  const items: ObjectInfo[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

function text(value: string): Uint8Array {
  return new TextEncoder().encode(value);
}

/** Every byte value, so encodings that mangle non-UTF-8 or NUL bytes are caught. */
function allByteValues(): Uint8Array {
  return Uint8Array.from({ length: 512 }, (_, i) => (i * 7) % 256);
}

async function paths(store: ObjectStore, prefix: string): Promise<string[]> {
  return (await collect(store.list(prefix))).map((info) => info.path);
}

function sorted(values: string[]): string[] {
  return [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

type Case = [name: string, body: (store: ObjectStore, base: string) => Promise<void>];

const CASES: Case[] = [
  ["put() then get() returns the same bytes", async (store, base) => {
    const data = text("hello, lakehouse");
    await store.put(`${base}hello.txt`, data);
    assert.deepEqual(await store.get(`${base}hello.txt`), data);
  }],

  ["put() and get() keep binary content byte for byte", async (store, base) => {
    const data = allByteValues();
    await store.put(`${base}bytes.bin`, data);
    assert.deepEqual(await store.get(`${base}bytes.bin`), data);
  }],

  ["put() stores an empty object", async (store, base) => {
    const uri = `${base}empty`;
    await store.put(uri, new Uint8Array(0));
    assert.equal((await store.get(uri)).length, 0);
    assert.equal((await store.head(uri))?.size, 0);
    assert.deepEqual(await paths(store, base), [uri]);
  }],

  ["put() replaces an existing object", async (store, base) => {
    const uri = `${base}replaced`;
    await store.put(uri, text("first"));
    await store.put(uri, text("second, longer"));
    assert.deepEqual(await store.get(uri), text("second, longer"));
  }],

  ["put() does not keep a reference to the caller's buffer", async (store, base) => {
    const data = text("abc");
    await store.put(`${base}copy`, data);
    data[0] = 0x7a;
    assert.deepEqual(await store.get(`${base}copy`), text("abc"));
  }],

  ["put() with ifNoneMatch creates a missing object", async (store, base) => {
    await store.put(`${base}new`, text("v1"), { ifNoneMatch: true });
    assert.deepEqual(await store.get(`${base}new`), text("v1"));
  }],

  ["put() with ifNoneMatch fails on an existing object and keeps it", async (store, base) => {
    const uri = `${base}taken`;
    await store.put(uri, text("winner"));
    await assert.rejects(store.put(uri, text("loser"), { ifNoneMatch: true }), (error) => {
      assert.ok(error instanceof PreconditionFailedError, String(error));
      assert.equal(error.retriable, false);
      assert.ok(error.message.includes(uri), error.message);
      return true;
    });
    assert.deepEqual(await store.get(uri), text("winner"));
  }],

  ["put() with ifNoneMatch lets exactly one of concurrent writers win", async (store, base) => {
    const uri = `${base}race`;
    const writers = Array.from({ length: 6 }, (_, i) => text(`writer ${i}`));
    const results = await Promise.allSettled(
      writers.map((data) => store.put(uri, data, { ifNoneMatch: true })),
    );
    const winners = results.flatMap((r, i) => (r.status === "fulfilled" ? [i] : []));
    assert.equal(winners.length, 1, JSON.stringify(results.map((r) => r.status)));
    for (const result of results) {
      if (result.status === "rejected") {
        assert.ok(result.reason instanceof PreconditionFailedError, String(result.reason));
      }
    }
    assert.deepEqual(await store.get(uri), writers[winners[0]]);
  }],

  ["get() of a missing object throws NotFoundError naming the URI", async (store, base) => {
    const uri = `${base}missing/object.json`;
    await assert.rejects(store.get(uri), (error) => {
      assert.ok(error instanceof NotFoundError, String(error));
      assert.ok(error instanceof LakehouseError);
      assert.equal(error.retriable, false);
      assert.equal(error.uri, uri);
      assert.ok(error.message.includes(uri), error.message);
      return true;
    });
  }],

  ["getRange() returns the requested bytes", async (store, base) => {
    const uri = `${base}range.bin`;
    const data = randomBytes(10_000, "range");
    await store.put(uri, data);
    assert.deepEqual(await store.getRange(uri, 0, 10), data.subarray(0, 10));
    assert.deepEqual(await store.getRange(uri, 1234, 4321), data.subarray(1234, 5555));
    assert.deepEqual(await store.getRange(uri, 9_990, 10), data.subarray(9_990));
    assert.deepEqual(await store.getRange(uri, 0, 10_000), data);
    assert.equal((await store.getRange(uri, 500, 0)).length, 0);
    assert.equal((await store.getRange(uri, 10_000, 0)).length, 0);
  }],

  ["getRange() rejects a range outside the object", async (store, base) => {
    const uri = `${base}short.bin`;
    await store.put(uri, randomBytes(100, "short"));
    for (const [offset, length] of [[90, 20], [100, 1], [5_000, 10]]) {
      await assert.rejects(store.getRange(uri, offset, length), (error) => {
        assert.ok(error instanceof LakehouseError, String(error));
        assert.ok(!(error instanceof NotFoundError), String(error));
        assert.ok(
          error.message.includes(uri) && error.message.includes("100 bytes"),
          error.message,
        );
        return true;
      });
    }
    await assert.rejects(store.getRange(uri, -1, 10), RangeError);
    await assert.rejects(store.getRange(uri, 0, 1.5), RangeError);
  }],

  ["getRange() of a missing object throws NotFoundError", async (store, base) => {
    await assert.rejects(store.getRange(`${base}nope`, 0, 4), NotFoundError);
    await assert.rejects(store.getRange(`${base}nope`, 0, 0), NotFoundError);
  }],

  ["head() of a missing object is undefined", async (store, base) => {
    assert.equal(await store.head(`${base}missing`), undefined);
    assert.equal(await store.head(`${base}missing/deeper/file`), undefined);
  }],

  ["head() reports path, size and modification time", async (store, base) => {
    const uri = `${base}dir/info.bin`;
    const before = Date.now();
    await store.put(uri, randomBytes(777, "head"));
    const info = await store.head(uri);
    assert.ok(info);
    assert.equal(info.path, uri);
    assert.equal(info.size, 777);
    // Server clocks and second-granularity timestamps allow some slack.
    assert.ok(Math.abs(info.lastModifiedMs - before) < 10 * 60_000, `${info.lastModifiedMs}`);
  }],

  [
    "list() returns every object under a prefix, recursively, sorted by path",
    async (store, base) => {
      const keys = ["a/1", "a/b/2", "a/b/c/3", "a/b/c/4", "a-b/5", "ab/6", "b/7", "top"];
      // Written out of order so a store that lists in write order fails.
      for (const key of [...keys].reverse()) await store.put(`${base}${key}`, text(key));
      const all = await collect(store.list(base));
      assert.deepEqual(all.map((i) => i.path), sorted(keys.map((k) => `${base}${k}`)));
      for (const info of all) {
        assert.equal(info.size, new TextEncoder().encode(info.path.slice(base.length)).length);
      }
      assert.deepEqual(await paths(store, `${base}a/`), [
        `${base}a/1`,
        `${base}a/b/2`,
        `${base}a/b/c/3`,
        `${base}a/b/c/4`,
      ]);
      // A prefix is a string prefix, not a directory: "a" also matches "a-b/" and "ab/".
      assert.deepEqual(
        await paths(store, `${base}a`),
        sorted(keys.filter((k) => k.startsWith("a")).map((k) => `${base}${k}`)),
      );
      assert.deepEqual(await paths(store, `${base}a/b/c`), [`${base}a/b/c/3`, `${base}a/b/c/4`]);
      assert.deepEqual(await paths(store, `${base}a/b/c/4`), [`${base}a/b/c/4`]);
      assert.deepEqual(await paths(store, `${base}zzz/`), []);
      assert.deepEqual(await paths(store, `${base}missing/deeper/`), []);
    },
  ],

  [
    "keys with partition-style characters round-trip through put, list and get",
    async (store, base) => {
      const keys = [
        "data/event_timestamp_hour=2024-06-01-10/00000-1-a.parquet",
        "data/currency=EUR/part 1 (copy).parquet",
        "data/city=Zürich/x+y&z.parquet",
        "data/name=a%2Fb/file.parquet",
      ];
      for (const key of keys) await store.put(`${base}${key}`, text(key));
      const listed = await paths(store, `${base}data/`);
      assert.deepEqual(listed, sorted(keys.map((k) => `${base}${k}`)));
      for (const uri of listed) {
        assert.deepEqual(
          await store.get(uri),
          text(uri.slice(base.length)),
        );
      }
    },
  ],

  ["list() of many objects returns each exactly once", async (store, base) => {
    const keys = Array.from({ length: 23 }, (_, i) => `many/${String(i).padStart(3, "0")}.parquet`);
    await Promise.all(keys.map((key) => store.put(`${base}${key}`, text(key))));
    assert.deepEqual(await paths(store, `${base}many/`), keys.map((k) => `${base}${k}`));
  }],

  ["delete() removes an object and is idempotent", async (store, base) => {
    const uri = `${base}gone/soon`;
    await store.put(uri, text("x"));
    await store.put(`${base}gone/stays`, text("y"));
    await store.delete(uri);
    assert.equal(await store.head(uri), undefined);
    await store.delete(uri);
    await store.delete(`${base}never/existed`);
    assert.deepEqual(await paths(store, `${base}gone/`), [`${base}gone/stays`]);
  }],

  ["deleteMany() removes the given objects and ignores missing ones", async (store, base) => {
    const uris = Array.from({ length: 7 }, (_, i) => `${base}d/${i}`);
    for (const uri of uris) await store.put(uri, text(uri));
    await store.deleteMany([uris[0], uris[2], uris[4], `${base}d/missing`, uris[6]]);
    assert.deepEqual(await paths(store, `${base}d/`), [uris[1], uris[3], uris[5]]);
    await store.deleteMany([]);
    await store.deleteMany([uris[0]]);
    await store.deleteMany([uris[1], uris[3], uris[5]]);
    assert.deepEqual(await paths(store, `${base}d/`), []);
  }],

  ["putFile() and getFile() round-trip a 20 MiB file", async (store, base) => {
    const dir = await Deno.makeTempDir({ prefix: "lakehouse-store-" });
    try {
      const data = randomBytes(20 * 1024 * 1024, "20MiB");
      const source = `${dir}/source.parquet`;
      const target = `${dir}/cache/nested/target.parquet`;
      await Deno.writeFile(source, data);
      const uri = `${base}data/big.parquet`;
      await store.putFile(uri, source);
      assert.equal((await store.head(uri))?.size, data.length);
      await store.getFile(uri, target);
      assert.ok(equalBytes(await Deno.readFile(target), data), "downloaded bytes differ");
      assert.deepEqual(
        await store.getRange(uri, 12_345_678, 16),
        data.subarray(12_345_678, 12_345_694),
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }],

  ["putFile() and getFile() handle an empty file", async (store, base) => {
    const dir = await Deno.makeTempDir({ prefix: "lakehouse-store-" });
    try {
      await Deno.writeFile(`${dir}/empty`, new Uint8Array(0));
      await store.putFile(`${base}empty-file`, `${dir}/empty`);
      await store.getFile(`${base}empty-file`, `${dir}/copy`);
      assert.equal((await Deno.readFile(`${dir}/copy`)).length, 0);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }],

  [
    "getFile() of a missing object throws NotFoundError and creates nothing",
    async (store, base) => {
      const dir = await Deno.makeTempDir({ prefix: "lakehouse-store-" });
      try {
        await assert.rejects(store.getFile(`${base}absent`, `${dir}/out`), NotFoundError);
        assert.deepEqual([...Deno.readDirSync(dir)], []);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  ],

  ["getFile() replaces an existing local file", async (store, base) => {
    const dir = await Deno.makeTempDir({ prefix: "lakehouse-store-" });
    try {
      await Deno.writeTextFile(`${dir}/out`, "stale content that is longer");
      await store.put(`${base}fresh`, text("fresh"));
      await store.getFile(`${base}fresh`, `${dir}/out`);
      assert.equal(await Deno.readTextFile(`${dir}/out`), "fresh");
      assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["out"]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }],

  ["putFile() of a missing local file fails naming the file", async (store, base) => {
    await assert.rejects(store.putFile(`${base}x`, "/nonexistent/lakehouse/file"), (error) => {
      assert.ok(error instanceof LakehouseError, String(error));
      assert.ok(error.message.includes("/nonexistent/lakehouse/file"), error.message);
      return true;
    });
    assert.equal(await store.head(`${base}x`), undefined);
  }],
];

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Registers one Deno test per contract behaviour, each on a fresh fixture. */
export function testObjectStore(label: string, factory: StoreFactory): void {
  for (const [name, body] of CASES) {
    Deno.test(`${label}: ${name}`, async () => {
      const fixture = await factory();
      try {
        await body(fixture.store, fixture.base);
      } finally {
        await fixture.dispose();
      }
    });
  }
}
