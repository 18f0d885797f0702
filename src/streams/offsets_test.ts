import assert from "node:assert/strict";
import { decodeOffsets, encodeOffsets, OFFSETS_KEY } from "./offsets.ts";

Deno.test("decodeOffsets reads what encodeOffsets writes", () => {
  const next = new Map([[0, 12n], [3, 9_007_199_254_740_993n]]);
  const text = encodeOffsets({ topic: "orders", next });
  assert.deepEqual(decodeOffsets(text, "snapshot 1"), { topic: "orders", next });
});

Deno.test("decodeOffsets errors name the snapshot and the problem, never the summary's text", () => {
  const planted = "PLANTED-SECRET-42";
  for (
    const text of [
      `{"topic": ${planted}}`,
      `"${planted}"`,
      `{"topic": "${planted}", "next": ["1"]}`,
      `{"topic": "t", "next": {"0": "${planted}"}}`,
      `{"topic": "t", "next": {"${planted}": "1"}}`,
      `{"topic": "t", "next": {"0": 12}}`,
    ]
  ) {
    assert.throws(() => decodeOffsets(text, "snapshot 7"), (error: Error) => {
      assert.ok(error.message.startsWith(`snapshot 7: ${OFFSETS_KEY}`), error.message);
      assert.ok(!error.message.includes(planted), error.message);
      return true;
    });
  }
});
