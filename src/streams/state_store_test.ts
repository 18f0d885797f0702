import assert from "node:assert/strict";
import { readShape } from "./state_store.ts";

const seqs = (...n: number[]) => n.map(BigInt);

Deno.test("readShape: no hits read nothing", () => {
  assert.deepEqual(readShape([], 100n, 2048), { from: 100n, rangeRows: 0, old: [] });
});

Deno.test("readShape: hits near the end are read as one range", () => {
  const shape = readShape(seqs(9_990, 9_500, 9_000), 10_000n, 2048);
  assert.deepEqual(shape, { from: 9_000n, rangeRows: 1_000, old: [] });
});

Deno.test("readShape: a few old hits are read one by one below the recent range", () => {
  const shape = readShape(seqs(99_990, 99_000, 98_500, 40_000, 12), 100_000n, 2048);
  assert.deepEqual(shape, { from: 98_500n, rangeRows: 1_500, old: seqs(40_000, 12) });
});

Deno.test("readShape: hits spread over the whole store are read as one range (after a rebuild)", () => {
  const spread = Array.from({ length: 500 }, (_, i) => BigInt(100_000 - 1 - i * 200));
  const shape = readShape(spread, 100_000n, 2048);
  assert.equal(shape.old.length, 0);
  assert.equal(shape.from, spread[spread.length - 1]);
});

Deno.test("readShape: the cut minimizes range rows + old hits x row group", () => {
  // Exhaustive check against the cost on small random inputs.
  let state = 7;
  const rand = (n: number) => (state = (state * 1_103_515_245 + 12_345) % 2 ** 31) % n;
  for (let t = 0; t < 200; t++) {
    const next = 1 + rand(50_000);
    const hits = [...new Set(Array.from({ length: 1 + rand(40) }, () => rand(next)))]
      .sort((a, b) => b - a).map(BigInt);
    const rg = 1 + rand(5_000);
    const shape = readShape(hits, BigInt(next), rg);
    const cost = (s: typeof shape) => s.rangeRows + s.old.length * rg;
    for (let i = 0; i < hits.length; i++) {
      const alt = { from: hits[i], rangeRows: next - Number(hits[i]), old: hits.slice(i + 1) };
      assert.ok(cost(shape) <= cost(alt), `cut at ${i} is cheaper for ${hits} (rg ${rg})`);
    }
    // Every hit is read exactly once.
    assert.equal(hits.filter((h) => h >= shape.from).length + shape.old.length, hits.length);
    assert.ok(shape.old.every((h) => h < shape.from));
  }
});
