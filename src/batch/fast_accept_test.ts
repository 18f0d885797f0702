/**
 * The one-pass verdict (fastAccepts) against validateRecord, the reference:
 * on generated records, seeded byte mutations of them and hand-made edge
 * cases, fastAccepts never says yes where validateRecord says no; it says
 * yes to nearly every plain generated event (so the test exercises it);
 * and decodeBatch, which uses both, stages exactly the bytes and rejects
 * exactly the records, with the same reasons, that validateRecord alone
 * gives.
 */
import assert from "node:assert/strict";
import { systemClock } from "../core/clock.ts";
import { EventSource } from "../generate/source.ts";
import { mutatedCorpus } from "./_fuzz.ts";
import { decodeBatch } from "./decode.ts";
import { packBatch } from "./packed.ts";
import { acceptedHasLineBreak, fastAccepts } from "./fast_accept.ts";
import { StagedWriter } from "./staged.ts";
import type { RawRecord } from "./types.ts";
import { validateRecord } from "./validate.ts";

const ENCODER = new TextEncoder();
const TS = 1_767_225_600_000;
const ORDER = "8987b7c1-0359-415e-8222-48fa76a164bf";

function record(value: string | Uint8Array | null, key: string | null = ORDER, ts = TS): RawRecord {
  return {
    topic: "orders",
    partition: 0,
    offset: 0n,
    key: key === null ? null : ENCODER.encode(key),
    value: typeof value === "string" ? ENCODER.encode(value) : value,
    timestampMs: ts,
  };
}

/** A plain event with `edit` applied to its JSON text. */
function plain(edit: (json: string) => string = (j) => j): string {
  return edit(
    JSON.stringify({
      event_id: "a909086b-4775-462e-a155-e71c58c097d3",
      event_type: "ORDER_PAID",
      event_timestamp: 1767225600.026,
      order_id: ORDER,
      user_id: "user-026513",
      total_amount: 65.75,
      currency: "USD",
      payment_method: "credit_card",
      items: [
        { sku: "SKU-03981", quantity: 1, unit_price: 17.88, category: "toys" },
        { sku: "SKU-03914", quantity: 3, unit_price: 15.959, category: "kitchen" },
      ],
      current_status: "PAID",
    }).replace("15.959", "15.96").replace("65.75", "65.76"),
  );
}

/** Edge cases, each with what fastAccepts must say (true: accepted; false: left to validateRecord). */
const EDGES: [string, RawRecord, boolean][] = [
  ["plain", record(plain()), true],
  ["whitespace everywhere", record(plain((j) => JSON.stringify(JSON.parse(j), null, "\t"))), true],
  [
    "CRLF layout",
    record(plain((j) => JSON.stringify(JSON.parse(j), null, 2).replaceAll("\n", "\r\n"))),
    true,
  ],
  ["no payment method", record(plain((j) => j.replace('"credit_card"', "null"))), true],
  [
    "integer amounts",
    record(plain((j) => j.replace("17.88", "18").replace("65.76", "65.88"))),
    true,
  ],
  ["one decimal", record(plain((j) => j.replace("17.88", "17.8").replace("65.76", "65.68"))), true],
  [
    "largest quantity, total off",
    record(plain((j) => j.replace('"quantity":1,', '"quantity":2147483647,'))),
    false,
  ],
  [
    "quantity too large",
    record(plain((j) => j.replace('"quantity":1,', '"quantity":2147483648,'))),
    false,
  ],
  ["quantity 1.0", record(plain((j) => j.replace('"quantity":1,', '"quantity":1.0,'))), false],
  ["quantity 0", record(plain((j) => j.replace('"quantity":1,', '"quantity":0,'))), false],
  ["three decimals", record(plain((j) => j.replace("17.88", "17.880"))), false],
  ["exponent", record(plain((j) => j.replace("17.88", "1788e-2"))), false],
  ["negative zero amount", record(plain((j) => j.replace("17.88", "-0"))), false],
  ["leading zero", record(plain((j) => j.replace("17.88", "017.88"))), false],
  ["dot without digits", record(plain((j) => j.replace("17.88", "17."))), false],
  ["amount at the limit", record(plain((j) => j.replace("65.76", "10000000000"))), false],
  ["timestamp at the start", record(plain((j) => j.replace("1767225600.026", "946684800"))), true],
  [
    "timestamp before",
    record(plain((j) => j.replace("1767225600.026", "946684799.999999"))),
    false,
  ],
  ["timestamp last", record(plain((j) => j.replace("1767225600.026", "4102444799.999999"))), true],
  [
    "timestamp 7 decimals",
    record(plain((j) => j.replace("1767225600.026", "4102444799.9999999"))),
    false,
  ],
  ["timestamp at the end", record(plain((j) => j.replace("1767225600.026", "4102444800"))), false],
  ["uppercase uuid", record(plain((j) => j.replace("a909086b", "A909086B"))), true],
  ["uuid not hex", record(plain((j) => j.replace("a909086b", "g909086b"))), false],
  ["currency lower case", record(plain((j) => j.replace('"USD"', '"usd"'))), false],
  ["status inconsistent", record(plain((j) => j.replace('"PAID"}', '"SHIPPED"}'))), false],
  ["total one cent off", record(plain((j) => j.replace("65.76", "65.77"))), false],
  ["empty items", record(plain((j) => j.replace(/"items":\[.*\],/, '"items":[],'))), false],
  ["item without category", record(plain((j) => j.replace(',"category":"toys"', ""))), false],
  [
    "duplicate key",
    record(plain((j) => j.replace('"currency":"USD"', '"currency":"USD","currency":"USD"'))),
    false,
  ],
  [
    "duplicate item key",
    record(plain((j) => j.replace('"category":"toys"', '"category":"toys","sku":"x"'))),
    false,
  ],
  ["extra field", record(plain((j) => j.replace("{", '{"coupon":"X",'))), false],
  ["escape", record(plain((j) => j.replace("user-026513", "user-\\u0030"))), false],
  ["non-ASCII", record(plain((j) => j.replace("toys", "jouets-é"))), false],
  ["empty user", record(plain((j) => j.replace("user-026513", ""))), false],
  ["empty sku", record(plain((j) => j.replace("SKU-03981", ""))), false],
  ["empty category", record(plain((j) => j.replace('"toys"', '""'))), true],
  ["trailing garbage", record(plain() + "x"), false],
  ["trailing whitespace", record(plain() + " \n"), true],
  [
    "a lone CR between tokens",
    record(plain((j) => j.replace(',"currency"', ',\r"currency"'))),
    true,
  ],
  ["a lone LF before the first token", record("\n" + plain()), true],
  ["two objects", record(plain() + plain()), false],
  ["truncated", record(plain().slice(0, 200)), false],
  ["BOM", record("\uFEFF" + plain()), false],
  ["key mismatch", record(plain(), ORDER.toUpperCase()), false],
  ["no key", record(plain(), null), false],
  ["no timestamp", record(plain(), ORDER, -1), true],
  ["timestamp -2", record(plain(), ORDER, -2), false],
  ["timestamp max", record(plain(), ORDER, 253_402_300_799_999), true],
  ["timestamp past max", record(plain(), ORDER, 253_402_300_800_000), false],
  ["tombstone", record(null), false],
  [
    "oversized",
    record(plain((j) => j.replace('"user-026513"', `"${"u".repeat(140_000)}"`))),
    false,
  ],
  [
    "order id of 128",
    record(plain((j) => j.replace(ORDER, "o".repeat(128))), "o".repeat(128)),
    true,
  ],
  [
    "order id of 129",
    record(plain((j) => j.replace(ORDER, "o".repeat(129))), "o".repeat(129)),
    false,
  ],
];

function agrees(r: RawRecord): { fast: boolean; reference: boolean } {
  const fast = fastAccepts(r.value, r.key, r.timestampMs);
  if (fast) {
    // Staging trusts this instead of scanning the payload again for CR/LF.
    const held = r.value!.includes(0x0a) || r.value!.includes(0x0d);
    assert.equal(
      acceptedHasLineBreak(),
      held,
      `line break reported wrongly for offset ${r.offset}`,
    );
  }
  const reference = validateRecord(r.value, r.key, r.timestampMs).ok;
  return { fast, reference };
}

Deno.test("fastAccepts: edge cases, never yes where validateRecord says no", () => {
  for (const [name, r, expected] of EDGES) {
    const { fast, reference } = agrees(r);
    assert.ok(!fast || reference, `${name}: fastAccepts said yes, validateRecord no`);
    assert.equal(fast, expected, `${name}: fastAccepts said ${fast}`);
  }
  // The reference accepts some that the fast path leaves to it.
  assert.ok(EDGES.some(([, r, expected]) => !expected && agrees(r).reference));
});

Deno.test("fastAccepts: generated and mutated records agree with validateRecord", () => {
  let plainValid = 0;
  let fastValid = 0;
  const source = new EventSource({
    seed: "fast-accept",
    startTimeMs: Date.UTC(2026, 0, 1),
    badRate: 0.05,
    clock: systemClock,
  });
  for (const m of source.take(20_000)) {
    const r = record(m.value, m.key);
    const { fast, reference } = agrees(r);
    assert.ok(!fast || reference, `generated ${m.kind} record: fastAccepts yes, reference no`);
    if (m.kind === "valid") {
      assert.ok(reference);
      plainValid++;
      if (fast) fastValid++;
    }
  }
  // The generator writes plain events: nearly all take the one-pass path.
  assert.ok(fastValid >= plainValid * 0.99, `${fastValid} of ${plainValid} valid on the fast path`);
  let yes = 0;
  for (let round = 0; round < 5; round++) {
    for (const r of mutatedCorpus(`fast-accept-${round}`, 4000)) {
      const { fast, reference } = agrees(r);
      assert.ok(!fast || reference, `mutated record ${r.offset} of round ${round}`);
      if (fast) yes++;
    }
  }
  assert.ok(yes > 1000, `only ${yes} mutated records on the fast path`);
});

/** decodeBatch's outputs as validateRecord alone gives them: staged bytes and rejections. */
function reference(records: readonly RawRecord[], ingestedAtMs: number) {
  const out = new StagedWriter(1 << 20, ingestedAtMs);
  const rejections: { index: number; kind: string; reason: string }[] = [];
  records.forEach((r, index) => {
    const result = validateRecord(r.value, r.key, r.timestampMs);
    if (!result.ok) rejections.push({ index, kind: result.kind, reason: result.reason });
    else out.line(r.topic, r.partition, r.offset, r.timestampMs, r.value!);
  });
  return { staged: out.finish().slice(), rejections };
}

Deno.test("decodeBatch stages and rejects exactly what validateRecord alone does", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lakehouse-fast-" });
  try {
    const source = new EventSource({
      seed: "fast-accept-batch",
      startTimeMs: Date.UTC(2026, 0, 1),
      badRate: 0.05,
      clock: systemClock,
    });
    const generated = source.take(5000).map((m, i) => ({
      ...record(m.value, m.key),
      partition: i % 3,
      offset: BigInt(i),
    }));
    const corpora = [
      generated,
      mutatedCorpus("fast-accept-batch", 5000),
      EDGES.map(([, r], i) => ({ ...r, offset: BigInt(i) })),
    ];
    for (const [n, records] of corpora.entries()) {
      const decoded = decodeBatch(packBatch(records), TS, `${dir}/b${n}`);
      const expected = reference(records, TS);
      assert.deepEqual(decoded.rejections, expected.rejections, `corpus ${n}: rejections`);
      assert.deepEqual(await Deno.readFile(decoded.stagedPath), expected.staged, `corpus ${n}`);
      assert.equal(decoded.accepted, records.length - expected.rejections.length);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
