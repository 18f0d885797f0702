import assert from "node:assert/strict";
import { parseMetadataJson, stringifyJson } from "./json.ts";

Deno.test("parseMetadataJson() keeps ids beyond 2^53 exact", () => {
  const parsed = parseMetadataJson(
    '{"snapshot-id": 9007199254740993, "other": 9223372036854775807, "neg": -9007199254740993}',
  );
  assert.deepEqual(parsed, {
    "snapshot-id": 9007199254740993n,
    other: 9223372036854775807n,
    neg: -9007199254740993n,
  });
});

Deno.test("parseMetadataJson() reads long keys as bigint even when small, wherever they are", () => {
  const parsed = parseMetadataJson(
    `{"current-snapshot-id": -1, "last-sequence-number": 0,
      "snapshots": [{"snapshot-id": 1, "parent-snapshot-id": 2, "sequence-number": 3}],
      "refs": {"main": {"snapshot-id": 1}}}`,
  );
  assert.deepEqual(parsed, {
    "current-snapshot-id": -1n,
    "last-sequence-number": 0n,
    snapshots: [{ "snapshot-id": 1n, "parent-snapshot-id": 2n, "sequence-number": 3n }],
    refs: { main: { "snapshot-id": 1n } },
  });
});

Deno.test("parseMetadataJson() leaves safe integers, fractions and exponents as numbers", () => {
  const parsed = parseMetadataJson(
    '{"last-updated-ms": 1602638573590, "f": 1.5, "e": 1e3, "big": 1e300, "a": [1, 2], "s": "9007199254740993"}',
  );
  assert.deepEqual(parsed, {
    "last-updated-ms": 1602638573590,
    f: 1.5,
    e: 1000,
    big: 1e300,
    a: [1, 2],
    s: "9007199254740993",
  });
});

Deno.test("parseMetadataJson() rejects malformed JSON", () => {
  assert.throws(() => parseMetadataJson('{"a": 1,}'), SyntaxError);
});

Deno.test("stringifyJson() writes bigint as bare integers and round-trips", () => {
  const value = {
    "snapshot-id": 9007199254740993n,
    min: -9223372036854775808n,
    nested: [{ "sequence-number": 1n, n: 2, s: "x" }],
  };
  const text = stringifyJson(value);
  assert.equal(
    text,
    '{"snapshot-id":9007199254740993,"min":-9223372036854775808,"nested":[{"sequence-number":1,"n":2,"s":"x"}]}',
  );
  assert.deepEqual(parseMetadataJson(text), {
    ...value,
    nested: [{ "sequence-number": 1n, n: 2, s: "x" }],
  });
  assert.equal(stringifyJson({ a: 1n }, 2), '{\n  "a": 1\n}');
});

Deno.test("stringifyJson() refuses NaN and infinities instead of writing null", () => {
  assert.throws(() => stringifyJson({ a: NaN }), RangeError);
  assert.throws(() => stringifyJson([Infinity]), RangeError);
});
