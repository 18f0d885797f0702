import assert from "node:assert/strict";
import { systemClock } from "../core/clock.ts";
import { Random } from "../core/random.ts";
import { type BadKind, MAX_EVENT_BYTES } from "../generate/bad.ts";
import { EVENT_FIELDS } from "../generate/model.ts";
import { EventSource } from "../generate/source.ts";
import {
  duplicateKey,
  invalidUtf8Offset,
  type RejectKind,
  REQUIRED_FIELDS,
  unpairedSurrogate,
  validateEvent,
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
  for (const bad of [text.slice(0, -1), text.slice(0, -1) + ",}", "", "{", "nope", "{'a':1}"]) {
    assert.deepEqual(
      validateEvent(bytes(bad)),
      rejected("malformed_json", `malformed JSON: ${parseMessage(bad)}`),
      bad,
    );
  }
});

Deno.test("validateEvent rejects a leading byte order mark as malformed JSON", () => {
  const result = validateEvent(bytes("\uFEFF" + JSON.stringify(event())));
  assert.equal(kindOf(result), "malformed_json");
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
