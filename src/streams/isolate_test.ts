import assert from "node:assert/strict";
import { DataError, LakehouseError } from "../core/errors.ts";
import { Random } from "../core/random.ts";
import { isolateFailures } from "./isolate.ts";

/** A probe that fails (DataError) when `items` hold any of `bad`, naming the first. */
function probeFailingOn(bad: ReadonlySet<number>) {
  const calls: number[][] = [];
  const probe = (items: readonly number[]) => {
    calls.push([...items]);
    const hit = items.find((i) => bad.has(i));
    if (hit !== undefined) return Promise.reject(new DataError(`row ${hit} overflows`));
    return Promise.resolve();
  };
  return { probe, calls };
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

Deno.test("isolateFailures finds the one bad row of a batch with about 2 log2(n) probes", async () => {
  const { probe, calls } = probeFailingOn(new Set([777]));
  const found = await isolateFailures(range(1000), { probe });
  assert.deepEqual(found.map((f) => f.item), [777]);
  assert.match(found[0].error.message, /row 777 overflows/);
  assert.ok(calls.length <= 2 * Math.ceil(Math.log2(1000)), `${calls.length} probes`);
});

Deno.test("isolateFailures finds every bad row, in item order, on seeded random batches", async () => {
  for (let seed = 1; seed <= 50; seed++) {
    const random = new Random(seed);
    const n = 1 + random.int(300);
    const bad = new Set(range(n).filter(() => random.chance(0.05)));
    // The caller only isolates a set that failed.
    if (bad.size === 0) bad.add(random.int(n));
    const { probe } = probeFailingOn(bad);
    const found = await isolateFailures(range(n), { probe });
    assert.deepEqual(found.map((f) => f.item), [...bad].sort((a, b) => a - b), `seed ${seed}`);
  }
});

Deno.test("isolateFailures returns nothing when only rows together fail", async () => {
  // Fails only when both 3 and 4 are present (an aggregate over the batch, say).
  const probe = (items: readonly number[]) =>
    items.includes(3) && items.includes(4)
      ? Promise.reject(new DataError("sum overflows"))
      : Promise.resolve();
  assert.deepEqual(await isolateFailures(range(8), { probe }), []);
});

Deno.test("isolateFailures stops at a failure that is not the rows' doing", async () => {
  const probe = () => Promise.reject(new LakehouseError("disk full", { retriable: true }));
  await assert.rejects(isolateFailures(range(8), { probe }), /disk full/);
});

Deno.test("isolateFailures of a single row that failed needs no probe", async () => {
  const { probe, calls } = probeFailingOn(new Set([5]));
  assert.deepEqual((await isolateFailures([5], { probe })).map((f) => f.item), [5]);
  assert.equal(calls.length, 0);
  assert.deepEqual(await isolateFailures([], { probe }), []);
});

Deno.test("isolateFailures reports progress after every probe", async () => {
  const { probe } = probeFailingOn(new Set([0, 9]));
  const seen: [number, number][] = [];
  await isolateFailures(range(10), { probe, onProbe: (p, f) => seen.push([p, f]) });
  assert.deepEqual(seen.map(([p]) => p), range(seen.length).map((i) => i + 1));
  assert.equal(seen.at(-1)![1], 2);
});
