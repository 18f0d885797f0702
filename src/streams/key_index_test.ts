import assert from "node:assert/strict";
import { KeyIndex } from "./key_index.ts";
import { Random } from "../core/random.ts";

/** Rows as the store gives them: 64-bit hashes and seqs, two little-endian words each. */
function words(pairs: readonly (readonly [bigint, number])[]) {
  const hashes = new BigUint64Array(pairs.map(([h]) => h));
  const seqs = new BigInt64Array(pairs.map(([, q]) => BigInt(q)));
  return {
    hashes: new Uint32Array(hashes.buffer),
    seqs: new Uint32Array(seqs.buffer),
    rows: pairs.length,
  };
}

function lookup(index: KeyIndex, keys: readonly bigint[]): number[] {
  const w = words(keys.map((k) => [k, 0]));
  return index.lookupAll(w.hashes, w.rows).sort((a, b) => a - b);
}

Deno.test("KeyIndex: finds every row of a key, collisions included, and forgets removed ones", () => {
  const index = new KeyIndex();
  const a = 0x1234_5678_9abc_def0n;
  const sameHigh = 0x1234_5678_0000_0001n; // another key, the same high word
  const b = 0xffff_ffff_ffff_ffffn;
  const big = 2 ** 52 + 3; // seqs above 2^32 survive the words
  const w = words([[a, 1], [sameHigh, 2], [b, big], [a, 7]]);
  index.addAll(w.hashes, w.seqs, w.rows);
  assert.equal(index.size, 4);
  assert.deepEqual(lookup(index, [a]), [1, 2, 7]);
  assert.deepEqual(lookup(index, [b]), [big]);
  assert.deepEqual(lookup(index, [0n]), []);
  const r = words([[a, 1], [b, big]]);
  assert.equal(index.removeAll(r.hashes, r.seqs, r.rows), 0);
  assert.deepEqual(lookup(index, [a, b]), [2, 7]);
  // A row that is not indexed is counted, not invented.
  const gone = words([[a, 1], [a, 99]]);
  assert.equal(index.removeAll(gone.hashes, gone.seqs, gone.rows), 2);
  assert.equal(index.size, 2);
});

Deno.test("KeyIndex: random adds and removes across growth match a plain map", () => {
  const rng = new Random(12);
  const random = () => rng.float();
  const index = new KeyIndex();
  const truth = new Map<number, bigint>(); // seq -> hash
  // Few distinct high words, so that probe runs are long and removals shift entries.
  const highs = Array.from({ length: 3_000 }, () => BigInt(Math.floor(random() * 2 ** 32)));
  let seq = 0;
  for (let round = 0; round < 40; round++) {
    const added: [bigint, number][] = [];
    for (let i = 0; i < 2_000; i++) {
      const hash = (highs[Math.floor(random() * highs.length)] << 32n) |
        BigInt(Math.floor(random() * 2 ** 32));
      added.push([hash, seq]);
      truth.set(seq++, hash);
    }
    const w = words(added);
    index.addAll(w.hashes, w.seqs, w.rows);
    const removed: [bigint, number][] = [];
    for (const [q, hash] of truth) if (random() < 0.1) removed.push([hash, q]);
    for (const [, q] of removed) truth.delete(q);
    const r = words(removed);
    assert.equal(index.removeAll(r.hashes, r.seqs, r.rows), 0);
    assert.equal(index.size, truth.size);
  }
  const byHigh = new Map<bigint, number[]>();
  for (const [q, hash] of truth) {
    const list = byHigh.get(hash >> 32n) ?? [];
    list.push(q);
    byHigh.set(hash >> 32n, list);
  }
  for (const high of highs) {
    assert.deepEqual(lookup(index, [high << 32n]), (byHigh.get(high) ?? []).sort((a, b) => a - b));
  }
  assert.ok(
    index.bytes > 16 * 1024 * 12,
    `${index.bytes} bytes: the index grew past its first size`,
  );
});
