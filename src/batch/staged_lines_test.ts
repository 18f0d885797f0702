import assert from "node:assert/strict";
import { join } from "node:path";
import { decodeBatch } from "./decode.ts";
import { packBatch } from "./packed.ts";
import { StagedLines } from "./staged_lines.ts";
import type { RawRecord } from "./types.ts";

const ENCODER = new TextEncoder();

function event(i: number, extra = ""): string {
  const id = `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`;
  return `{"event_id":"${id}","event_type":"ORDER_CREATED","event_timestamp":1767225600,` +
    `"order_id":"${id}",${extra}"user_id":"u-${i}","total_amount":1.5,"currency":"USD",` +
    `"payment_method":null,"items":[{"sku":"S","quantity":1,"unit_price":1.5,"category":"c"}],` +
    `"current_status":"CREATED"}`;
}

Deno.test("StagedLines gives back each staged line's lineage and exact payload, CR/LF included", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const payloads = [
      event(1),
      // Raw CR/LF between tokens is valid JSON; staging blanks it to keep one line per record.
      event(2).replace('"user_id"', '\r\n  "user_id"'),
      "not json",
      event(3, '"note":"Zürich – 東京",'),
    ];
    const records: RawRecord[] = payloads.map((p, i) => ({
      topic: "orders.v1",
      partition: i % 2,
      offset: BigInt(100 + i),
      // The key is the order_id: events 1, 2, (none), 3.
      key: ENCODER.encode(`00000000-0000-4000-8000-${String([1, 2, 0, 3][i]).padStart(12, "0")}`),
      value: ENCODER.encode(p),
      timestampMs: i === 3 ? -1 : 1_767_225_600_000 + i,
    }));
    const decoded = decodeBatch(packBatch(records), 1_767_225_601_000, join(dir, "b"));
    const lines = await StagedLines.read(decoded.stagedPath, decoded.blanked);
    // "not json" was rejected: three lines, in batch order.
    assert.equal(lines.count, 3);
    assert.equal(decoded.blanked.length, 1);
    const kept = [0, 1, 3];
    for (let line = 0; line < 3; line++) {
      const r = records[kept[line]];
      assert.deepEqual(lines.lineage(line), {
        topic: "orders.v1",
        partition: r.partition,
        offset: r.offset,
        timestampMs: r.timestampMs,
      });
      assert.deepEqual(lines.payload(line), r.value);
      assert.deepEqual(lines.record(line).value, r.value);
    }
    // A subset is a staged file of those lines, in the order given.
    const subset = await StagedLines.read(await lines.writeSubset(dir, [2, 0]));
    assert.equal(subset.count, 2);
    assert.equal(subset.lineage(0).offset, 103n);
    assert.equal(subset.lineage(1).offset, 100n);
    // Several files read as one sequence.
    const both = await StagedLines.read([decoded.stagedPath, decoded.stagedPath]);
    assert.equal(both.count, 6);
    assert.equal(both.lineage(4).offset, 101n);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
