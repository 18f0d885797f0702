import assert from "node:assert/strict";
import { LakehouseError } from "../../core/errors.ts";
import {
  compareBytesUnsigned,
  compareStrings,
  decodeBound,
  encodeBound,
  truncateBinaryLower,
  truncateBinaryUpper,
  truncateStringLower,
  truncateStringUpper,
} from "./bounds.ts";
import type { PrimitiveType } from "./types.ts";

const hex = (bytes: Uint8Array) =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");

Deno.test("encodeBound() matches the spec's examples", () => {
  assert.equal(hex(encodeBound("int", 17486)), "4e 44 00 00");
  assert.equal(hex(encodeBound("date", 17486)), "4e 44 00 00");
  assert.equal(hex(encodeBound("decimal(4, 2)", 1420n)), "05 8c");
  assert.equal(hex(encodeBound("timestamp", 1510871468000000n)), "00 c3 26 2d 21 5e 05 00");
  assert.equal(hex(encodeBound("timestamptz", 1510871468000000n)), "00 c3 26 2d 21 5e 05 00");
});

Deno.test("decimal bounds are minimal two's complement", () => {
  const cases: [bigint, string][] = [
    [0n, "00"],
    [-1n, "ff"],
    [127n, "7f"],
    [128n, "00 80"],
    [-128n, "80"],
    [-129n, "ff 7f"],
    [255n, "00 ff"],
    [32768n, "00 80 00"],
    [-(10n ** 38n - 1n), "b4 c4 b3 57 a5 79 3b 85 f6 75 dd c0 00 00 00 01"],
  ];
  for (const [value, bytes] of cases) {
    const encoded = encodeBound("decimal(38, 2)", value);
    assert.equal(hex(encoded), bytes, `${value}`);
    assert.equal(decodeBound("decimal(38, 2)", encoded), value);
  }
});

Deno.test("every primitive type round-trips", () => {
  const cases: [PrimitiveType, unknown, string][] = [
    ["boolean", true, "01"],
    ["boolean", false, "00"],
    ["int", -1, "ff ff ff ff"],
    ["long", 9007199254740993n, "01 00 00 00 00 00 20 00"],
    ["long", -9223372036854775808n, "00 00 00 00 00 00 00 80"],
    ["time", 81068000000n, "00 83 07 e0 12 00 00 00"],
    ["float", 1.5, "00 00 c0 3f"],
    ["double", -2.5, "00 00 00 00 00 00 04 c0"],
    ["string", "iceberg", "69 63 65 62 65 72 67"],
    ["string", "é😀", "c3 a9 f0 9f 98 80"],
    [
      "uuid",
      "f79c3e09-677c-4bbd-a479-3f349cb785e7",
      "f7 9c 3e 09 67 7c 4b bd a4 79 3f 34 9c b7 85 e7",
    ],
    ["binary", Uint8Array.of(0, 255), "00 ff"],
    ["fixed[2]", Uint8Array.of(1, 2), "01 02"],
  ];
  for (const [type, value, bytes] of cases) {
    const encoded = encodeBound(type, value);
    assert.equal(hex(encoded), bytes, `${type} ${String(value)}`);
    assert.deepEqual(decodeBound(type, encoded), value);
  }
  assert.equal(decodeBound("long", encodeBound("long", 5)), 5n);
});

Deno.test("decodeBound() reads bounds written before int->long and float->double promotion", () => {
  assert.equal(decodeBound("long", encodeBound("int", -7)), -7n);
  assert.equal(decodeBound("double", encodeBound("float", 1.5)), 1.5);
});

Deno.test("encodeBound() and decodeBound() reject bad values and lengths", () => {
  assert.throws(() => encodeBound("int", 1.5), LakehouseError);
  assert.throws(() => encodeBound("int", 2 ** 31), LakehouseError);
  assert.throws(() => encodeBound("long", 2n ** 63n), LakehouseError);
  assert.throws(() => encodeBound("long", 2 ** 60), LakehouseError);
  assert.throws(() => encodeBound("decimal(4, 2)", 14.2), LakehouseError);
  assert.throws(() => encodeBound("decimal(4, 2)", 10000n), LakehouseError);
  assert.throws(() => encodeBound("string", "a\udc00"), LakehouseError);
  assert.throws(() => encodeBound("fixed[3]", Uint8Array.of(1)), LakehouseError);
  assert.throws(() => encodeBound("boolean", 1), LakehouseError);
  assert.throws(() => decodeBound("int", Uint8Array.of(1, 2)), /expected 4/);
  assert.throws(() => decodeBound("string", Uint8Array.of(0xff)), /not valid UTF-8/);
  assert.throws(() => decodeBound("uuid", new Uint8Array(15)), LakehouseError);
});

Deno.test("compareBytesUnsigned() treats bytes as unsigned and prefixes as smaller", () => {
  assert.ok(compareBytesUnsigned(Uint8Array.of(0x7f), Uint8Array.of(0x80)) < 0);
  assert.ok(compareBytesUnsigned(Uint8Array.of(1, 2), Uint8Array.of(1, 2, 0)) < 0);
  assert.equal(compareBytesUnsigned(Uint8Array.of(1, 2), Uint8Array.of(1, 2)), 0);
  assert.ok(compareBytesUnsigned(Uint8Array.of(2), Uint8Array.of(1, 255)) > 0);
});

Deno.test("compareStrings() orders by code point, unlike JavaScript's <", () => {
  const emoji = "\u{1F600}"; // surrogate pair d83d de00
  const replacement = "\uFFFD";
  assert.ok(emoji < replacement); // UTF-16 order
  assert.ok(compareStrings(emoji, replacement) > 0);
  assert.ok(compareStrings(replacement, emoji) < 0);
  assert.ok(compareStrings(`a${emoji}`, `a${replacement}`) > 0);
  assert.ok(compareStrings("\u{1F600}", "\u{1F601}") < 0);
  assert.ok(compareStrings("ab", "abc") < 0);
  assert.ok(compareStrings("b", "abc") > 0);
  assert.equal(compareStrings("same", "same"), 0);
  const encoder = new TextEncoder();
  const words = ["z", "\uE000", emoji, "é", "a", "\uFFFF", "\u{10FFFF}", "\u07FF", ""];
  const byCodePoint = [...words].sort(compareStrings);
  const byBytes = [...words].sort((x, y) =>
    compareBytesUnsigned(encoder.encode(x), encoder.encode(y))
  );
  assert.deepEqual(byCodePoint, byBytes);
});

Deno.test("truncateStringLower() keeps the first code points", () => {
  assert.equal(truncateStringLower("abcdefghijklmnopqrstuvwxyz", 16), "abcdefghijklmnop");
  assert.equal(truncateStringLower("short", 16), "short");
  assert.equal(truncateStringLower("😀😀😀", 2), "😀😀");
  assert.equal(truncateStringLower("😀😀", 2), "😀😀");
  assert.equal(truncateStringLower("abc", 3), "abc");
});

Deno.test("truncateStringUpper() increments the last kept code point like Java", () => {
  assert.equal(truncateStringUpper("abcdefghijklmnopqrstuvwxyz", 16), "abcdefghijklmnoq");
  assert.equal(truncateStringUpper("short", 16), "short");
  assert.equal(truncateStringUpper("a😀b", 2), "a😁");
  // U+D7FF + 1 is a surrogate: the next valid code point is U+E000.
  assert.equal(truncateStringUpper("a\uD7FFz", 2), "a\uE000");
  // U+FFFF + 1 needs a surrogate pair.
  assert.equal(truncateStringUpper("a\uFFFFz", 2), "a\u{10000}");
  // The maximum code point cannot grow: carry into the previous one.
  assert.equal(truncateStringUpper("a\u{10FFFF}z", 2), "b");
  assert.equal(truncateStringUpper("\u{10FFFF}\u{10FFFF}z", 2), undefined);
  for (const s of ["abcdefghijklmnopqrstuvwxyz", "a😀b", "a\uD7FFz", "a\u{10FFFF}z"]) {
    const upper = truncateStringUpper(s, 2)!;
    assert.ok(compareStrings(upper, s) > 0);
    assert.ok(upper.isWellFormed());
  }
  assert.throws(() => truncateStringUpper("abc", 0), RangeError);
});

Deno.test("binary truncation mirrors Java's BinaryUtil", () => {
  assert.deepEqual(truncateBinaryLower(Uint8Array.of(1, 2, 3), 2), Uint8Array.of(1, 2));
  assert.deepEqual(truncateBinaryUpper(Uint8Array.of(1, 2, 3), 2), Uint8Array.of(1, 3));
  assert.deepEqual(truncateBinaryUpper(Uint8Array.of(1, 0xff, 3), 2), Uint8Array.of(2));
  assert.equal(truncateBinaryUpper(Uint8Array.of(0xff, 0xff, 3), 2), undefined);
  assert.deepEqual(truncateBinaryUpper(Uint8Array.of(0xff), 2), Uint8Array.of(0xff));
});
