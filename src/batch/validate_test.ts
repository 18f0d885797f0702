import assert from "node:assert/strict";
import { systemClock } from "../core/clock.ts";
import { Random } from "../core/random.ts";
import { EVENT_FIELDS, MAX_EVENT_BYTES } from "../events/contract.ts";
import type { BadKind } from "../generate/bad.ts";
import { EventSource } from "../generate/source.ts";
import {
  decimalScale,
  duplicateKey,
  invalidUtf8Offset,
  KAFKA_TIMESTAMP_MAX,
  plainText,
  type RejectKind,
  REQUIRED_FIELDS,
  unpairedSurrogate,
  validateEvent,
  validateRecord,
  type ValidationResult,
} from "./validate.ts";

const ENCODER = new TextEncoder();
const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const START_MS = Date.UTC(2026, 0, 1);

/** A valid event as a plain object; tests change one thing at a time. */
function event(): Record<string, unknown> {
  return {
    event_id: "0b9f3c2e-8d41-4a6b-9c57-2f1e0d3a4b5c",
    event_type: "ORDER_PAID",
    event_timestamp: 1767225600.123,
    order_id: "a3c1e5f0-1111-4222-8333-944455556666",
    user_id: "user-00042",
    total_amount: 24.99,
    currency: "USD",
    payment_method: "credit_card",
    items: [
      { sku: "SKU-00001", quantity: 2, unit_price: 9.99, category: "books" },
      { sku: "SKU-00002", quantity: 1, unit_price: 5.01, category: "toys" },
    ],
    current_status: "PAID",
  };
}

function items(e: Record<string, unknown>): Record<string, unknown>[] {
  return e.items as Record<string, unknown>[];
}

function bytes(text: string): Uint8Array {
  return ENCODER.encode(text);
}

function validate(e: unknown): ValidationResult {
  return validateEvent(bytes(JSON.stringify(e)));
}

function rejected(kind: RejectKind, reason: string): ValidationResult {
  return { ok: false, kind, reason };
}

/** validate(event with `change` applied). */
function validateChanged(change: (e: Record<string, unknown>) => void): ValidationResult {
  const e = event();
  change(e);
  return validate(e);
}

/** The reject kind, or "ok" when accepted. */
function kindOf(result: ValidationResult): RejectKind | "ok" {
  return result.ok ? "ok" : result.kind;
}

function parseMessage(text: string): string {
  try {
    JSON.parse(text);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error(`${text} parses`);
}

Deno.test("validateEvent accepts a valid event and returns it parsed", () => {
  const e = event();
  assert.deepEqual(validate(e), { ok: true, event: e });
});

Deno.test("validateEvent accepts 100k generated events", () => {
  const source = new EventSource({
    seed: "v",
    startTimeMs: START_MS,
    badRate: 0,
    clock: systemClock,
  });
  for (let i = 0; i < 100_000; i++) {
    const message = source.next();
    const result = validateEvent(message.value);
    if (!result.ok) assert.fail(`message ${i} rejected: ${result.reason}`);
    assert.equal(result.event.order_id, message.key);
  }
});

/**
 * The reject kind each generator fault must get. Identity: every fault the
 * generator makes has a kind of its own here.
 */
const EXPECTED_KIND: Record<BadKind, RejectKind> = {
  malformed_json: "malformed_json",
  missing_field: "missing_field",
  wrong_type: "wrong_type",
  unknown_event_type: "unknown_event_type",
  oversized: "oversized",
  invalid_utf8: "invalid_utf8",
};

Deno.test("validateEvent rejects every generated bad record with its kind and names the fault", () => {
  const source = new EventSource({
    seed: "v",
    startTimeMs: START_MS,
    badRate: 0.2,
    clock: systemClock,
  });
  const seen: Record<string, number> = {};
  for (let i = 0; i < 20_000; i++) {
    const { kind, value } = source.next();
    const result = validateEvent(value);
    seen[kind] = (seen[kind] ?? 0) + 1;
    if (kind === "valid") {
      if (!result.ok) assert.fail(`valid message ${i} rejected: ${result.reason}`);
      continue;
    }
    if (result.ok) assert.fail(`${kind} message ${i} accepted: ${new TextDecoder().decode(value)}`);
    assert.equal(result.kind, EXPECTED_KIND[kind], `message ${i}: ${result.reason}`);
    // The reason points at the fault, checked against an independent reading.
    switch (kind) {
      case "missing_field": {
        const parsed = JSON.parse(STRICT_UTF8.decode(value));
        const missing = EVENT_FIELDS.filter((f) => !(f in parsed));
        assert.deepEqual(missing.length, 1);
        assert.equal(result.reason, `${missing[0]}: required field is missing`);
        break;
      }
      case "unknown_event_type": {
        const parsed = JSON.parse(STRICT_UTF8.decode(value));
        assert.equal(
          result.reason,
          `event_type: unknown event type ${JSON.stringify(parsed.event_type)}`,
        );
        break;
      }
      case "oversized":
        assert.equal(
          result.reason,
          `payload is ${value.length} bytes, above the ${MAX_EVENT_BYTES}-byte limit`,
        );
        break;
      case "invalid_utf8":
        // Generated JSON is ASCII, so the first byte above 0x7f starts the fault.
        assert.equal(result.reason, `invalid UTF-8 at byte ${value.findIndex((b) => b > 0x7f)}`);
        break;
      case "malformed_json":
        assert.match(result.reason, /^malformed JSON: /);
        break;
      case "wrong_type":
        assert.match(
          result.reason,
          /^(total_amount|event_timestamp|items|items\[\d+\]\.(quantity|unit_price)): expected /,
        );
        break;
    }
  }
  for (const kind of ["valid", ...Object.keys(EXPECTED_KIND)]) {
    assert.ok((seen[kind] ?? 0) > 0, `no ${kind} message in the sample`);
  }
});

Deno.test("validateEvent rejects a null value", () => {
  assert.deepEqual(
    validateEvent(null),
    rejected("null_value", "payload is null (a Kafka tombstone)"),
  );
});

Deno.test("validateEvent rejects a payload above MAX_EVENT_BYTES before decoding it", () => {
  const garbage = new Uint8Array(MAX_EVENT_BYTES + 1).fill(0xff);
  assert.deepEqual(
    validateEvent(garbage),
    rejected("oversized", `payload is 131073 bytes, above the 131072-byte limit`),
  );
});

Deno.test("validateEvent accepts a payload of exactly MAX_EVENT_BYTES", () => {
  const text = JSON.stringify(event());
  const padded = text + " ".repeat(MAX_EVENT_BYTES - text.length);
  assert.equal(validateEvent(bytes(padded)).ok, true);
  assert.equal(kindOf(validateEvent(bytes(padded + " "))), "oversized");
});

Deno.test("validateEvent rejects invalid UTF-8 with the offset of the first bad sequence", () => {
  const text = JSON.stringify(event());
  const at = text.indexOf("user-00042");
  const cases: [number[], number][] = [
    [[0xff], 0],
    [[0x80], 0], // a continuation byte without a lead
    [[0xc3, 0x28], 0], // lead followed by a non-continuation
    [[0xc0, 0xaf], 0], // overlong "/"
    [[0xe0, 0x80, 0xaf], 0], // overlong, three bytes
    [[0xed, 0xa0, 0x80], 0], // an encoded surrogate
    [[0xf4, 0x90, 0x80, 0x80], 0], // above U+10FFFF
    [[0xf5, 0x80, 0x80, 0x80], 0],
    [[0x41, 0xe2, 0x82], 1], // cut short by the closing quote
  ];
  for (const [sequence, offset] of cases) {
    const value = new Uint8Array([
      ...bytes(text.slice(0, at)),
      ...sequence,
      ...bytes(text.slice(at)),
    ]);
    assert.deepEqual(
      validateEvent(value),
      rejected("invalid_utf8", `invalid UTF-8 at byte ${at + offset}`),
      sequence.map((b) => b.toString(16)).join(" "),
    );
  }
  // Cut short by the end of the payload.
  assert.deepEqual(
    validateEvent(new Uint8Array([0x7b, 0x7d, 0x20, 0xf0, 0x9f, 0x98])),
    rejected("invalid_utf8", "invalid UTF-8 at byte 3"),
  );
});

Deno.test("validateEvent accepts non-ASCII text, including a literal U+FFFD", () => {
  const e = event();
  e.user_id = "Zoë \uFFFD 😀 用户";
  items(e)[0].category = "Bücher";
  assert.deepEqual(validate(e), { ok: true, event: e });
});

/**
 * Reference answer by brute force: walk the bytes one character at a time,
 * each the 1 to 4 bytes a fatal TextDecoder accepts as exactly one character.
 */
function referenceInvalidOffset(value: Uint8Array): number {
  let i = 0;
  next: while (i < value.length) {
    for (let length = 1; length <= 4 && i + length <= value.length; length++) {
      try {
        const text = STRICT_UTF8.decode(value.subarray(i, i + length));
        if ([...text].length === 1) {
          i += length;
          continue next;
        }
      } catch {
        // not a whole character yet
      }
    }
    return i;
  }
  return -1;
}

Deno.test("invalidUtf8Offset matches a reference built on a fatal TextDecoder", () => {
  const random = new Random("utf8");
  // Valid text with lead, continuation and never-valid bytes mixed in, so
  // every kind of fault and its position occur.
  const alphabet = [...bytes("aé€😀"), 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc2, 0xe0, 0xed];
  alphabet.push(0xef, 0xf0, 0xf4, 0xf5, 0xff);
  let invalid = 0;
  for (let n = 0; n < 20_000; n++) {
    const value = new Uint8Array(random.int(12));
    for (let i = 0; i < value.length; i++) {
      value[i] = random.chance(0.7) ? random.pick(alphabet) : random.int(256);
    }
    const offset = invalidUtf8Offset(value);
    assert.equal(offset, referenceInvalidOffset(value), `${value}`);
    if (offset !== -1) invalid++;
  }
  assert.ok(invalid > 1000 && invalid < 19_000, `${invalid} invalid`);
});

Deno.test("validateEvent rejects malformed JSON with the parser's message", () => {
  const text = JSON.stringify(event());
  for (const bad of [text.slice(0, -1), text.slice(0, -1) + ",}", " ", "{", "nope", "{'a':1}"]) {
    assert.deepEqual(
      validateEvent(bytes(bad)),
      rejected("malformed_json", `malformed JSON: ${parseMessage(bad)}`),
      bad,
    );
  }
});

Deno.test("validateEvent rejects a leading byte order mark as malformed JSON, in words", () => {
  assert.deepEqual(
    validateEvent(bytes("\uFEFF" + JSON.stringify(event()))),
    rejected(
      "malformed_json",
      "malformed JSON: payload starts with a UTF-8 byte order mark (EF BB BF)",
    ),
  );
  // Only at the start: inside a string it is a character like any other.
  const e = event();
  e.user_id = "\uFEFFuser";
  assert.equal(validate(e).ok, true);
  // A payload of just the mark, or a part of it.
  assert.equal(validateEvent(new Uint8Array([0xef, 0xbb, 0xbf])).ok, false);
  assert.equal(kindOf(validateEvent(new Uint8Array([0xef, 0xbb]))), "invalid_utf8");
});

Deno.test("validateEvent rejects an empty payload (0 bytes, not null) in words", () => {
  assert.deepEqual(
    validateEvent(new Uint8Array(0)),
    rejected("malformed_json", "malformed JSON: empty payload"),
  );
  assert.deepEqual(
    validateEvent(null),
    rejected("null_value", "payload is null (a Kafka tombstone)"),
  );
});

Deno.test("validateEvent names a raw control character in a string and its field", () => {
  const text = JSON.stringify(event());
  const cases: [string, string][] = [
    [text.replace('"SKU-00001"', '"SKU\u000b00001"'), "U+000B in field items[0].sku"],
    [text.replace('"toys"', '"to\tys"'), "U+0009 in field items[1].category"],
    [text.replace('"user-00042"', '"user\n42"'), "U+000A in field user_id"],
    [text.replace('"user-00042"', '"\u0000"'), "U+0000 in field user_id"],
    [text.replace('"currency"', '"curr\u001fency"'), "U+001F in a top-level field name"],
    [text.replace('"quantity":1', '"qu\rantity":1'), "U+000D in a field name in items[1]"],
    [text.replace("{", '{"x":{"a b":["\\"",{"c":"\u0001"}]},'), 'U+0001 in field x["a b"][1].c'],
    // A raw character after escapes in the same string.
    [text.replace('"user-00042"', '"\\u0041\\"\u0002"'), "U+0002 in field user_id"],
    ['"\u000b"', "U+000B in field (top level)"],
    ['["a","\u0003"]', "U+0003 in field [1]"],
  ];
  for (const [bad, what] of cases) {
    assert.deepEqual(
      validateEvent(bytes(bad)),
      rejected("malformed_json", `malformed JSON: control character ${what}`),
      JSON.stringify(bad),
    );
  }
});

Deno.test("validateEvent reports a syntax error before a control character as the parser does", () => {
  const bad = '{"a":1,,"b":"\u0001"}';
  const result = validateEvent(bytes(bad));
  assert.deepEqual(result, rejected("malformed_json", `malformed JSON: ${parseMessage(bad)}`));
});

/** Characters no reason may hold raw: C0, DEL, C1, line/paragraph separators, lone surrogates. */
const UNSAFE_IN_REASON = /[\p{Cc}\u2028\u2029]|\p{Cs}/u;

Deno.test("plainText escapes control characters and lone surrogates, nothing else", () => {
  assert.equal(plainText("plain: é 😀 \u00a0 ~"), "plain: é 😀 \u00a0 ~");
  assert.equal(
    plainText("a\u0000b\u001fc\u007fd\u0080e\u009ff\u2028g\u2029h"),
    "a\\u0000b\\u001Fc\\u007Fd\\u0080e\\u009Ff\\u2028g\\u2029h",
  );
  assert.equal(plainText("\ud800x\udc00\ud83d\ude00\ud83d"), "\\uD800x\\uDC00😀\\uD83D");
  for (let c = 0; c < 0x10000; c++) {
    const out = plainText(`<${String.fromCharCode(c)}>`);
    assert.ok(!UNSAFE_IN_REASON.test(out) && out.isWellFormed(), `U+${c.toString(16)}: ${out}`);
  }
});

Deno.test("no reason holds a raw control character or a lone surrogate", () => {
  const text = JSON.stringify(event());
  const nasty = "\u0000\u0001\u000b\u001b[31m\u007f\u0085\u009b\u2028\u2029";
  const payloads = [
    // The parser quotes the input in its message.
    `${nasty}{`,
    `{"a":1${nasty}}`,
    `{${nasty}:1}`,
    `[${nasty}]`,
    text.replace("{", `{"${nasty}":1,"${nasty}":2,`),
    text.replace('"USD"', JSON.stringify(nasty)),
    text.replace('"ORDER_PAID"', JSON.stringify(nasty)),
    text.replace('"PAID"}', JSON.stringify(nasty) + "}"),
    text.replace('"USD"', `"${nasty}"`),
    text.replace('"USD"', '"\\ud800\\u0085"'),
    JSON.stringify(nasty),
    `{"a":"\ud800${nasty}`,
  ];
  for (const payload of payloads) {
    const result = validateEvent(bytes(payload));
    assert.ok(!result.ok, JSON.stringify(payload));
    assert.ok(
      !UNSAFE_IN_REASON.test(result.reason) && result.reason.isWellFormed(),
      JSON.stringify(result.reason),
    );
  }
  const keys = [bytes(nasty), new Uint8Array([0x1b, 0x5b, 0x33, 0x31, 0x6d, 0x9b, 0x00])];
  for (const key of keys) {
    const result = validateRecord(bytes(text), key, 0);
    assert.ok(!result.ok && !UNSAFE_IN_REASON.test(result.reason), String(key));
  }
});

Deno.test("validateEvent shortens a long parser message", () => {
  const bad = JSON.stringify({ ...event(), user_id: "x".repeat(1000) }).slice(0, -1) + ",}";
  const result = validateEvent(bytes(bad));
  assert.equal(kindOf(result), "malformed_json");
  assert.ok(!result.ok && result.reason.length <= "malformed JSON: ".length + 200);
});

Deno.test("validateEvent rejects duplicate keys, which readers resolve differently", () => {
  const text = JSON.stringify(event());
  const cases: [string, string][] = [
    [text.replace('"currency":"USD"', '"currency":"USD","currency":"EUR"'), "currency"],
    [text.replace('"quantity":2', '"quantity":2,"quantity":3'), "quantity"],
    // An escape spells the same key differently.
    [text.replace('"user_id":', '"us\\u0065r_id":"x","user_id":'), "user_id"],
    // Extra fields with objects take the slower count.
    [text.replace("{", '{"extra":{"a":{"b":1}},"x":1,"x":2,'), "x"],
    [text.replace("{", '{"extra":{"a":1,"a":2},'), "a"],
  ];
  for (const [bad, key] of cases) {
    assert.deepEqual(
      validateEvent(bytes(bad)),
      rejected("malformed_json", `malformed JSON: duplicate key "${key}"`),
      bad,
    );
  }
});

Deno.test("validateEvent rejects a duplicate standing in for a missing key as missing", () => {
  // The colon count matches a complete event, so no key scan runs; the
  // presence check rejects it instead.
  const text = JSON.stringify(event()).replace('"currency":"USD"', '"user_id":"u2"');
  assert.deepEqual(
    validateEvent(bytes(text)),
    rejected("missing_field", "currency: required field is missing"),
  );
});

Deno.test("validateEvent keeps colons in strings and extra fields apart from duplicates", () => {
  const e = event();
  e.user_id = "urn:user:42";
  e.extra = { nested: [{ a: 1, b: { c: "d:e" } }], "": null, "k:": [] };
  items(e)[1].note = "a: b";
  assert.deepEqual(validate(e), { ok: true, event: e });
});

Deno.test("duplicateKey finds the first repeated key of any object", () => {
  assert.equal(duplicateKey('{"a":1,"b":{"a":2},"c":[{"a":1},{"a":2}]}'), undefined);
  assert.equal(duplicateKey('{"a":{},"b":[],"a":3}'), "a");
  assert.equal(duplicateKey('[{"a":"}","b":"\\"{","b":1}]'), "b");
  assert.equal(duplicateKey('{"a":[{"x":1,"y":{"z":1,"z":2}}]}'), "z");
  assert.equal(duplicateKey('{"\\\\":1,"\\\\":2}'), "\\");
  assert.equal(duplicateKey('"a:b"'), undefined);
});

Deno.test("validateEvent rejects unpaired surrogate escapes anywhere", () => {
  const text = JSON.stringify(event());
  const cases: [string, string][] = [
    [text.replace("SKU-00001", "SKU\\ud800"), "\\ud800"],
    [text.replace("SKU-00001", "SKU\\uDC00x"), "\\uDC00"],
    [text.replace("SKU-00001", "\\ud83d\\u0041"), "\\ud83d"],
    [text.replace("{", '{"x":["\\udbff"],'), "\\udbff"],
  ];
  for (const [bad, escape] of cases) {
    assert.deepEqual(
      validateEvent(bytes(bad)),
      rejected(
        "malformed_json",
        `malformed JSON: unpaired surrogate escape ${escape} (not representable in UTF-8)`,
      ),
    );
  }
});

Deno.test("validateEvent accepts paired surrogate escapes and escaped backslashes", () => {
  const text = JSON.stringify(event());
  for (const sku of ["\\ud83d\\ude00", "\\\\ud800", "a\\\\\\ud83d\\ude00", '\\"\\n\\u0041']) {
    const result = validateEvent(bytes(text.replace("SKU-00001", sku)));
    assert.equal(result.ok, true, sku);
  }
  assert.equal(unpairedSurrogate('"\\\\ud800"'), undefined);
  assert.equal(unpairedSurrogate('"\\\\\\ud800"'), "\\ud800");
});

Deno.test("validateEvent rejects JSON that is not an object", () => {
  const cases: [string, string][] = [
    ["[1,2]", "[1,2] (array)"],
    ['"text"', '"text" (string)'],
    ["42", "42 (number)"],
    ["null", "null (null)"],
    ["true", "true (boolean)"],
  ];
  for (const [text, shown] of cases) {
    assert.deepEqual(
      validateEvent(bytes(text)),
      rejected("not_an_object", `expected a JSON object, got ${shown}`),
    );
  }
});

Deno.test("validateEvent names the first missing required field", () => {
  for (const field of REQUIRED_FIELDS) {
    assert.deepEqual(
      validateChanged((e) => delete e[field]),
      rejected("missing_field", `${field}: required field is missing`),
    );
  }
  assert.deepEqual(
    validateChanged((e) => {
      delete e.items;
      delete e.currency;
    }),
    rejected("missing_field", "currency: required field is missing"),
  );
  for (const field of ["sku", "quantity", "unit_price", "category"]) {
    assert.deepEqual(
      validateChanged((e) => delete items(e)[1][field]),
      rejected("missing_field", `items[1].${field}: required field is missing`),
    );
  }
});

Deno.test("validateEvent accepts a null payment_method", () => {
  const e = event();
  e.payment_method = null;
  const result = validate(e);
  assert.ok(result.ok);
  assert.equal(result.event.payment_method, null);
});

Deno.test("validateEvent ignores unknown extra fields", () => {
  const e = { schema_version: 2, ...event(), trace: { id: "t" } };
  items(e)[0].discount = 0;
  assert.deepEqual(validate(e), { ok: true, event: e });
});

/** [change, kind, reason] for each field check. */
const FIELD_CASES: [(e: Record<string, unknown>) => void, RejectKind, string][] = [
  [
    (e) => (e.event_id = 42),
    "wrong_type",
    "event_id: expected a UUID string, got 42 (number)",
  ],
  [
    (e) => (e.event_id = "0b9f3c2e8d414a6b9c572f1e0d3a4b5c"),
    "invalid_value",
    'event_id: expected a UUID string, got "0b9f3c2e8d414a6b9c572f1e0d3a4b5c" (string)',
  ],
  [
    (e) => (e.event_id = "0b9f3c2e-8d41-4a6b-9c57-2f1e0d3a4b5g"),
    "invalid_value",
    'event_id: expected a UUID string, got "0b9f3c2e-8d41-4a6b-9c57-2f1e0d3a4b5g" (string)',
  ],
  [
    (e) => (e.event_type = 1),
    "wrong_type",
    "event_type: expected one of ORDER_CREATED, ORDER_PAID, ORDER_SHIPPED, ORDER_CANCELLED, " +
    "ORDER_RETURNED, got 1 (number)",
  ],
  [
    (e) => (e.event_type = "ORDER_TELEPORTED"),
    "unknown_event_type",
    'event_type: unknown event type "ORDER_TELEPORTED"',
  ],
  [
    (e) => (e.event_type = "order_paid"),
    "unknown_event_type",
    'event_type: unknown event type "order_paid"',
  ],
  [
    (e) => (e.event_timestamp = "2026-01-01T00:00:00.123Z"),
    "wrong_type",
    "event_timestamp: expected epoch seconds as a number in [946684800, 4102444800) " +
    '(years 2000-2099), got "2026-01-01T00:00:00.123Z" (string)',
  ],
  [
    (e) => (e.event_timestamp = 1767225600123),
    "invalid_value",
    "event_timestamp: expected epoch seconds as a number in [946684800, 4102444800) " +
    "(years 2000-2099), got 1767225600123 (number)",
  ],
  [
    (e) => (e.event_timestamp = 946684799.999),
    "invalid_value",
    "event_timestamp: expected epoch seconds as a number in [946684800, 4102444800) " +
    "(years 2000-2099), got 946684799.999 (number)",
  ],
  [
    (e) => (e.event_timestamp = 4102444800),
    "invalid_value",
    "event_timestamp: expected epoch seconds as a number in [946684800, 4102444800) " +
    "(years 2000-2099), got 4102444800 (number)",
  ],
  [
    (e) => (e.order_id = ""),
    "invalid_value",
    'order_id: expected a non-empty string of at most 128 characters, got "" (string)',
  ],
  [
    (e) => (e.order_id = null),
    "wrong_type",
    "order_id: expected a non-empty string of at most 128 characters, got null (null)",
  ],
  [
    (e) => (e.user_id = ""),
    "invalid_value",
    'user_id: expected a non-empty string, got "" (string)',
  ],
  [
    (e) => (e.user_id = ["u"]),
    "wrong_type",
    'user_id: expected a non-empty string, got ["u"] (array)',
  ],
  [
    (e) => (e.total_amount = "24.99"),
    "wrong_type",
    'total_amount: expected a number with at most 2 decimals, got "24.99" (string)',
  ],
  [
    (e) => (e.total_amount = 24.991),
    "invalid_value",
    "total_amount: expected a number with at most 2 decimals, got 24.991 (number)",
  ],
  [
    (e) => (e.total_amount = -0.01),
    "invalid_value",
    "total_amount: expected a number >= 0 and below 10000000000, got -0.01 (number)",
  ],
  [
    (e) => (e.total_amount = 1e10),
    "invalid_value",
    "total_amount: expected a number >= 0 and below 10000000000, got 10000000000 (number)",
  ],
  [
    (e) => (e.currency = "usd"),
    "invalid_value",
    'currency: expected 3 upper-case letters (ISO 4217), got "usd" (string)',
  ],
  [
    (e) => (e.currency = "EURO"),
    "invalid_value",
    'currency: expected 3 upper-case letters (ISO 4217), got "EURO" (string)',
  ],
  [
    (e) => (e.currency = 840),
    "wrong_type",
    "currency: expected 3 upper-case letters (ISO 4217), got 840 (number)",
  ],
  [
    (e) => (e.payment_method = 5),
    "wrong_type",
    "payment_method: expected a string or null, got 5 (number)",
  ],
  [
    (e) => (e.items = { 0: { sku: "SKU-1" } }),
    "wrong_type",
    'items: expected a non-empty array of items, got {"0":{"sku":"SKU-1"}} (object)',
  ],
  [
    (e) => (e.items = []),
    "invalid_value",
    "items: expected a non-empty array of items, got [] (array)",
  ],
  [
    (e) => items(e).push(null as unknown as Record<string, unknown>),
    "wrong_type",
    "items[2]: expected an object with sku, quantity, unit_price, category, got null (null)",
  ],
  [
    (e) => (items(e)[0].sku = ""),
    "invalid_value",
    'items[0].sku: expected a non-empty string, got "" (string)',
  ],
  [
    (e) => (items(e)[0].sku = 1),
    "wrong_type",
    "items[0].sku: expected a non-empty string, got 1 (number)",
  ],
  [
    (e) => (items(e)[1].quantity = 1.5),
    "wrong_type",
    "items[1].quantity: expected an integer >= 1, got 1.5 (number)",
  ],
  [
    (e) => (items(e)[1].quantity = "1"),
    "wrong_type",
    'items[1].quantity: expected an integer >= 1, got "1" (string)',
  ],
  [
    (e) => (items(e)[1].quantity = 0),
    "invalid_value",
    "items[1].quantity: expected an integer from 1 to 2147483647, got 0 (number)",
  ],
  [
    (e) => (items(e)[1].quantity = 2 ** 31),
    "invalid_value",
    "items[1].quantity: expected an integer from 1 to 2147483647, got 2147483648 (number)",
  ],
  [
    (e) => (items(e)[0].unit_price = "9.99"),
    "wrong_type",
    'items[0].unit_price: expected a number with at most 2 decimals, got "9.99" (string)',
  ],
  [
    (e) => (items(e)[0].unit_price = 9.999),
    "invalid_value",
    "items[0].unit_price: expected a number with at most 2 decimals, got 9.999 (number)",
  ],
  [
    (e) => (items(e)[0].category = false),
    "wrong_type",
    "items[0].category: expected a string, got false (boolean)",
  ],
  [
    (e) => (e.current_status = 1),
    "wrong_type",
    "current_status: expected one of CREATED, PAID, SHIPPED, CANCELLED, RETURNED, got 1 (number)",
  ],
  [
    (e) => (e.current_status = "LOST"),
    "invalid_value",
    'current_status: expected one of CREATED, PAID, SHIPPED, CANCELLED, RETURNED, got "LOST" ' +
    "(string)",
  ],
  [
    (e) => (e.current_status = "SHIPPED"),
    "inconsistent",
    'current_status: "SHIPPED" does not follow event_type "ORDER_PAID" (expected "PAID")',
  ],
  [
    (e) => (e.total_amount = 25),
    "inconsistent",
    "total_amount: 25 differs from the items' sum of quantity * unit_price, 24.99",
  ],
  [
    (e) => (items(e)[0].quantity = 3),
    "inconsistent",
    "total_amount: 24.99 differs from the items' sum of quantity * unit_price, 34.98",
  ],
];

Deno.test("validateEvent rejects each field fault with its kind and reason", () => {
  for (const [change, kind, reason] of FIELD_CASES) {
    assert.deepEqual(validateChanged(change), rejected(kind, reason));
  }
});

Deno.test("validateEvent checks fields in order and reports the first fault", () => {
  assert.deepEqual(
    validateChanged((e) => {
      e.currency = "usd";
      e.event_type = "ORDER_X";
      e.total_amount = "1";
    }),
    rejected("unknown_event_type", 'event_type: unknown event type "ORDER_X"'),
  );
});

Deno.test("validateEvent accepts boundary values", () => {
  const accepted: ((e: Record<string, unknown>) => void)[] = [
    (e) => (e.event_id = "0B9F3C2E-8D41-4A6B-9C57-2F1E0D3A4B5C"),
    (e) => (e.event_timestamp = 946684800),
    (e) => (e.event_timestamp = 4102444799.999),
    (e) => (e.order_id = "o".repeat(128)),
    (e) => (e.payment_method = ""),
    (e) => (items(e)[0].category = ""),
    (e) => {
      e.items = [{ sku: "s", quantity: 2147483647, unit_price: 0, category: "c" }];
      e.total_amount = 0;
    },
    (e) => {
      e.items = [{ sku: "s", quantity: 1, unit_price: 9999999999.99, category: "c" }];
      e.total_amount = 9999999999.99;
    },
    (e) => {
      // Binary fractions: 0.07 * 100 is 7.000000000000001.
      e.items = [{ sku: "s", quantity: 3, unit_price: 0.07, category: "c" }];
      e.total_amount = 0.21;
    },
    (e) => {
      e.event_type = "ORDER_CREATED";
      e.current_status = "CREATED";
    },
    (e) => {
      e.event_type = "ORDER_RETURNED";
      e.current_status = "RETURNED";
    },
  ];
  for (const change of accepted) {
    const e = event();
    change(e);
    const result = validate(e);
    assert.ok(result.ok, result.ok ? "" : result.reason);
  }
});

Deno.test("validateEvent tells a third decimal from binary rounding at any magnitude", () => {
  for (const cents of [1, 99, 1234567, 123456789012, 999999999999]) {
    const amount = cents / 100;
    const e = event();
    e.items = [{ sku: "s", quantity: 1, unit_price: amount, category: "c" }];
    e.total_amount = amount;
    assert.ok(validate(e).ok, `${amount}`);
    const third = Number((amount + 0.001).toFixed(3));
    e.total_amount = third;
    assert.equal(kindOf(validate(e)), "invalid_value", `${third}`);
  }
});

Deno.test("validateEvent rejects a number beyond double range as out of range", () => {
  const text = JSON.stringify(event()).replace('"total_amount":24.99', '"total_amount":1e999');
  assert.deepEqual(
    validateEvent(bytes(text)),
    rejected(
      "invalid_value",
      "total_amount: expected a number >= 0 and below 10000000000, got Infinity (number)",
    ),
  );
});

Deno.test("validateEvent shortens a long value in the reason without splitting characters", () => {
  const result = validateChanged((e) => (e.currency = "😀".repeat(100)));
  assert.ok(!result.ok);
  const shown = result.reason.slice(result.reason.indexOf("got ") + 4);
  assert.ok(shown.endsWith("... (string)"), shown);
  assert.ok(shown.length <= 80 + " (string)".length, shown);
  assert.ok(result.reason.isWellFormed());
  for (let n = 70; n < 90; n++) {
    const r = validateChanged((e) => (e.currency = "x".repeat(n) + "😀".repeat(10)));
    assert.ok(!r.ok && r.reason.isWellFormed());
  }
});

Deno.test("validateEvent survives nesting deeper than the call stack", () => {
  const deep = "[".repeat(30_000) + "]".repeat(30_000);
  const text = JSON.stringify(event());
  const asField = validateEvent(bytes(text.replace('"user-00042"', deep)));
  assert.equal(kindOf(asField), "wrong_type");
  const asExtra = validateEvent(bytes(text.replace("{", `{"x":${deep},"y":{"z":${deep}},`)));
  assert.equal(asExtra.ok, true);
  const duplicated = validateEvent(bytes(text.replace("{", `{"x":${deep},"x":1,`)));
  assert.deepEqual(duplicated, rejected("malformed_json", 'malformed JSON: duplicate key "x"'));
});

Deno.test("decimalScale counts decimal places exactly on the literal", () => {
  const cases: [string, number][] = [
    ["12", 0],
    ["12.3", 1],
    ["12.34", 2],
    ["12.340", 2],
    ["12.345", 3],
    ["297.980000001", 9],
    ["0.30000000000000004", 17],
    ["1.5e1", 0],
    ["1.25E+1", 1],
    ["1e-3", 3],
    ["2499e-2", 2],
    ["1000e-4", 1],
    ["100", -2],
    ["1e2", -2],
    ["0", 0],
    ["-0", 0],
    ["0.000", 0],
    ["0e-999", 0],
    ["-12.34", 2],
    ["5e-324", 324],
  ];
  for (const [literal, scale] of cases) {
    assert.equal(decimalScale(literal, 0), scale, literal);
    assert.equal(decimalScale(`{"a":${literal},"b":1}`, 5), scale, literal);
  }
  // An exponent beyond 2^53 is not counted exactly, but far beyond 2 either way.
  assert.ok(decimalScale("1e-99999999999999999999", 0) > 1e19);
  assert.ok(Number.isNaN(decimalScale('"12.34"', 0)));
  assert.ok(Number.isNaN(decimalScale("null", 0)));
});

/**
 * Reference decision on amounts, from JSON.parse's own view of each literal
 * (a reviver's context.source): every amount literal has at most 2 decimals.
 */
function referenceAmountsExact(text: string): boolean {
  const sources = new Map<object, Map<string, string>>();
  const root = JSON.parse(
    text,
    function (this: object, key: string, value: unknown, context?: { source?: string }) {
      if (typeof value === "number" && context?.source !== undefined) {
        if (!sources.has(this)) sources.set(this, new Map());
        sources.get(this)!.set(key, context.source);
      }
      return value;
    },
  );
  const literals = [sources.get(root)?.get("total_amount")];
  for (const item of root.items) literals.push(sources.get(item)?.get("unit_price"));
  return literals.every((l) => {
    const [mantissa, exponent = "0"] = l!.split(/[eE]/);
    const fraction = (mantissa.split(".")[1] ?? "").replace(/0+$/, "");
    return !/[1-9]/.test(mantissa) || fraction.length - Number(exponent) <= 2;
  });
}

Deno.test("validateEvent decides amounts on the literal: extra decimals are rejected, however small", () => {
  const text = JSON.stringify(event());
  const cases: [string, string, string][] = [
    ['"total_amount":24.99', '"total_amount":24.990000001', "total_amount"],
    ['"total_amount":24.99', '"total_amount":24.990000000000000001', "total_amount"],
    ['"unit_price":5.01', '"unit_price":5.0100000001', "items[1].unit_price"],
    ['"unit_price":9.99', '"unit_price":999e-2000', "items[0].unit_price"],
    ['"total_amount":24.99', '"total_amount":24.99e-1', "total_amount"],
  ];
  for (const [from, to, field] of cases) {
    const bad = text.replace(from, to);
    const literal = to.slice(to.indexOf(":") + 1);
    // 999e-2000 parses to 0, so the items no longer add up either; the
    // decimals come first.
    assert.deepEqual(
      validateEvent(bytes(bad)),
      rejected(
        "invalid_value",
        `${field}: expected a number with at most 2 decimals, got ${literal} (number)`,
      ),
      bad,
    );
  }
  // Any spelling of 2 decimals is fine.
  for (
    const [from, to] of [
      ['"total_amount":24.99', '"total_amount":24.990000'],
      ['"total_amount":24.99', '"total_amount":2499e-2'],
      ['"total_amount":24.99', '"total_amount":0.2499E+2'],
      ['"unit_price":5.01', '"unit_price":5.010'],
    ]
  ) {
    assert.equal(validateEvent(bytes(text.replace(from, to))).ok, true, to);
  }
});

Deno.test("validateEvent finds the amounts behind escapes, spacing and look-alike keys", () => {
  const text = JSON.stringify(event());
  const cases: [string, boolean][] = [
    // Keys spelled with escapes: found by their path.
    [text.replace('"total_amount":24.99', '"total\\u005famount":24.991'), false],
    [text.replace('"total_amount":24.99', '"total\\u005famount":24.99'), true],
    [text.replace('"unit_price":5.01', '"unit\\u005fprice":5.011'), false],
    // The same key names elsewhere, with other values.
    [text.replace("{", '{"x":{"total_amount":1.001,"unit_price":1.001},'), true],
    [text.replace('"category":"toys"', '"category":"toys","meta":{"unit_price":0.001}'), true],
    [
      text.replace('"total_amount":24.99', '"total\\u005famount":24.991')
        .replace("{", '{"x":{"total_amount":24.99},'),
      false,
    ],
    [
      text.replace('"unit_price":9.99', '"unit\\u005fprice":9.991')
        .replace('"category":"toys"', '"category":"toys","meta":{"unit_price":9.99}'),
      false,
    ],
    // An escape elsewhere, with look-alikes: the names are counted exactly then.
    [
      text.replace('"total_amount":24.99', '"total\\u005famount":24.991')
        .replace("{", '{"tax_discount":1.5,'),
      false,
    ],
    [text.replace('"user-00042"', '"us\\u0065r"').replace("{", '{"x":{"total_amount":1.5},'), true],
    [
      text.replace('"user-00042"', '"us\\u0065r"').replace("{", '{"x":{"total_amount":1.505},'),
      true,
    ],
    // Key names inside strings, and keys that only end like them.
    [text.replace('"user-00042"', '"\\"total_amount\\":1.001"'), true],
    [text.replace("{", '{"\\"total_amount":1.001,'), true],
    [text.replace("{", '{"tax_discount":1.001,"xxxxxxprice":0.001,"total_amount_":0.001,'), true],
    // Whitespace around the colon.
    [text.replace('"total_amount":24.99', '"total_amount" :\n 24.991'), false],
    [text.replace('"total_amount":24.99', '"total_amount"\t: 24.99'), true],
    [JSON.stringify(event(), null, 2).replace("24.99", "24.999"), false],
    [JSON.stringify(event(), null, 2), true],
  ];
  for (const [payload, ok] of cases) {
    assert.equal(referenceAmountsExact(payload), ok, `reference: ${payload}`);
    const result = validateEvent(bytes(payload));
    assert.equal(result.ok, ok, `${payload}: ${result.ok ? "accepted" : result.reason}`);
    if (!ok) assert.match((result as { reason: string }).reason, /at most 2 decimals/);
  }
});

Deno.test("validateEvent agrees with JSON.parse's literals on amounts in random layouts", () => {
  const random = new Random("amounts");
  const literals = ["1", "1.5", "1.50", "1.25", "1.250", "1.251", "125e-2", "1.25e0", "12.5E-1"];
  literals.push("0.125e1", "1.2500000000000001", "0.00", "0", "1e-3", "-0");
  let accepted = 0;
  for (let n = 0; n < 3000; n++) {
    const prices = [random.pick(literals), random.pick(literals)];
    const cents = prices.reduce((sum, p) => sum + Math.round(Number(p) * 100), 0);
    // The total adds up whatever its spelling, so the decimals alone decide.
    const total = random.pick([
      String(cents / 100),
      `${cents}e-2`,
      (cents / 100).toFixed(3),
      `${(cents / 100).toFixed(2)}01`,
    ]);
    const e = event();
    e.total_amount = -1;
    e.items = [
      { sku: "s", quantity: 1, unit_price: -1, category: "c" },
      { sku: "t", quantity: 1, unit_price: -1, category: "c" },
    ];
    // Look-alike keys elsewhere, with literals of their own.
    if (random.chance(0.3)) e.extra = { total_amount: -999, tax_discount: -999 };
    if (random.chance(0.3)) items(e)[1].meta = { unit_price: -999 };
    let text = JSON.stringify(e, null, random.chance(0.2) ? 1 : undefined);
    text = text.replace(/("total_amount": ?)-1/, `$1${total}`);
    let k = 0;
    text = text.replace(/("unit_price": ?)-1/g, (_, key) => key + prices[k++]);
    text = text.replace(/-999/g, () => random.pick(literals));
    if (random.chance(0.3)) text = text.replace('"total_amount"', '"total\\u005famount"');
    if (random.chance(0.3)) text = text.replace('"unit_price"', '"unit\\u005fprice"');
    // An escape outside the keys.
    if (random.chance(0.3)) text = text.replace('"user-00042"', '"user\\u002d00042"');
    const want = referenceAmountsExact(text);
    const result = validateEvent(bytes(text));
    assert.equal(result.ok, want, `${text}: ${result.ok ? "accepted" : result.reason}`);
    if (want) accepted++;
    else assert.match((result as { reason: string }).reason, /at most 2 decimals/, text);
  }
  assert.ok(accepted > 300 && accepted < 2700, `${accepted} accepted`);
});

/** A valid record's parts: the payload, its order_id as the key. */
function record(): { value: Uint8Array; key: Uint8Array } {
  const e = event();
  return { value: bytes(JSON.stringify(e)), key: bytes(e.order_id as string) };
}

const TIMESTAMP_RANGE = "1970-01-01T00:00:00.000Z..9999-12-31T23:59:59.999Z";

Deno.test("validateRecord accepts record timestamps from 1970 through 9999, and -1 (none)", () => {
  const { value, key } = record();
  assert.equal(KAFKA_TIMESTAMP_MAX, Date.parse("9999-12-31T23:59:59.999Z"));
  for (const ts of [-1, 0, 1, 1_767_225_600_000, KAFKA_TIMESTAMP_MAX]) {
    assert.equal(validateRecord(value, key, ts).ok, true, String(ts));
  }
  const cases: [number, string][] = [
    [-2, "-2"],
    [-1e17, "-100000000000000000"],
    [KAFKA_TIMESTAMP_MAX + 1, "253402300800000"],
    [9.2e18, "9200000000000000000"],
    [-(2 ** 63), "-9223372036854776000"],
    [NaN, "NaN"],
  ];
  for (const [ts, shown] of cases) {
    assert.deepEqual(
      validateRecord(value, key, ts),
      rejected(
        "invalid_record",
        `Kafka record timestamp ${shown} ms is outside ${TIMESTAMP_RANGE}`,
      ),
    );
  }
});

Deno.test("validateRecord wants the key to be the order_id's UTF-8 bytes", () => {
  const { value, key } = record();
  const orderId = '"a3c1e5f0-1111-4222-8333-944455556666"';
  assert.equal(validateRecord(value, key, 0).ok, true);
  const cases: [Uint8Array | null, string][] = [
    [null, `record has no key; expected the order_id ${orderId}`],
    [bytes(""), `record key "" does not match order_id ${orderId}`],
    [bytes("abc"), `record key "abc" does not match order_id ${orderId}`],
    [
      bytes("A3C1E5F0-1111-4222-8333-944455556666"),
      `record key "A3C1E5F0-1111-4222-8333-944455556666" does not match order_id ${orderId}`,
    ],
    [
      bytes("a3c1e5f0-1111-4222-8333-944455556666 "),
      `record key "a3c1e5f0-1111-4222-8333-944455556666 " does not match order_id ${orderId}`,
    ],
    [
      bytes("\u0000a3c1\u001b"),
      `record key "\\u0000a3c1\\u001b" does not match order_id ${orderId}`,
    ],
    [
      new Uint8Array([0xc3, 0x28, 0xff, 0x00]),
      `record key of 4 bytes (not UTF-8; hex c328ff00) does not match order_id ${orderId}`,
    ],
    [
      new Uint8Array(300_000).fill(0x61),
      `record key of 300000 bytes (hex ${"61".repeat(32)}...) does not match order_id ${orderId}`,
    ],
  ];
  for (const [k, reason] of cases) {
    assert.deepEqual(validateRecord(value, k, 0), rejected("invalid_key", reason));
  }
  // A key shown as text is shortened like any value.
  const long = validateRecord(value, bytes("k".repeat(200)), 0);
  assert.ok(!long.ok && long.reason.startsWith(`record key "${"k".repeat(76)}... does not`));
});

Deno.test("validateRecord compares non-ASCII order ids byte for byte", () => {
  for (const id of ["ordre-é", "注文-1", "😀", "é".repeat(128), "\u0085x"]) {
    const e = event();
    e.order_id = id;
    const value = bytes(JSON.stringify(e));
    assert.equal(validateRecord(value, bytes(id), 0).ok, true, id);
    // Latin-1 bytes of the same text: as many bytes as characters, not UTF-8.
    const latin1 = Uint8Array.from([...id].map((c) => c.codePointAt(0)! & 0xff));
    assert.equal(kindOf(validateRecord(value, latin1, 0)), "invalid_key", id);
    assert.equal(kindOf(validateRecord(value, bytes(id + "x"), 0)), "invalid_key", id);
    assert.equal(kindOf(validateRecord(value, bytes(id).subarray(1), 0)), "invalid_key", id);
  }
});

Deno.test("validateRecord checks the payload first, then the timestamp, then the key", () => {
  const { value, key } = record();
  const badPayload = bytes(JSON.stringify({ ...event(), currency: "usd" }));
  assert.equal(kindOf(validateRecord(badPayload, null, -5)), "invalid_value");
  assert.equal(kindOf(validateRecord(null, null, -5)), "null_value");
  assert.equal(kindOf(validateRecord(value, null, -5)), "invalid_record");
  assert.equal(kindOf(validateRecord(value, null, -1)), "invalid_key");
  assert.equal(kindOf(validateRecord(value, key, -1)), "ok");
});
