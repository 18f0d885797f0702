import assert from "node:assert/strict";
import { Random } from "../core/random.ts";
import { BAD_KINDS, type BadKind, makeBadRecord, OVERSIZED_BYTES_MAX, pickBadKind } from "./bad.ts";
import {
  EVENT_FIELDS,
  EVENT_TYPES,
  MAX_EVENT_BYTES,
  type OrderEvent,
  STATUSES,
} from "../events/contract.ts";
import { OrderLifecycle } from "./model.ts";

const START_MS = Date.UTC(2026, 0, 1);
const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true });
const LENIENT_UTF8 = new TextDecoder("utf-8");

function templates(n: number): OrderEvent[] {
  const lifecycle = new OrderLifecycle({ seed: "bad-templates", startTimeMs: START_MS });
  return Array.from({ length: n }, () => lifecycle.next());
}

/**
 * What a strict validator would object to in a parsed payload, as
 * "missing:<field>", "type:<field>" or "unknown_event_type".
 */
function problems(value: unknown): string[] {
  const out: string[] = [];
  const e = value as Record<string, unknown>;
  for (const f of EVENT_FIELDS) if (!(f in e)) out.push(`missing:${f}`);
  for (const f of ["event_id", "order_id", "user_id", "currency", "payment_method"]) {
    if (f in e && typeof e[f] !== "string") out.push(`type:${f}`);
  }
  if ("event_type" in e) {
    if (typeof e.event_type !== "string") out.push("type:event_type");
    else if (!(EVENT_TYPES as readonly string[]).includes(e.event_type)) {
      out.push("unknown_event_type");
    }
  }
  if ("current_status" in e && !(STATUSES as readonly unknown[]).includes(e.current_status)) {
    out.push("type:current_status");
  }
  for (const f of ["event_timestamp", "total_amount"]) {
    if (f in e && typeof e[f] !== "number") out.push(`type:${f}`);
  }
  if ("items" in e) {
    if (!Array.isArray(e.items)) {
      out.push("type:items");
    } else {
      let sum = 0;
      for (const item of e.items as Record<string, unknown>[]) {
        if (typeof item.sku !== "string") out.push("type:sku");
        if (typeof item.category !== "string") out.push("type:category");
        if (!Number.isInteger(item.quantity)) out.push("type:quantity");
        if (typeof item.unit_price !== "number") out.push("type:unit_price");
        else sum += (item.quantity as number) * Math.round(item.unit_price * 100);
      }
      if (typeof e.total_amount === "number" && Math.round(e.total_amount * 100) !== sum) {
        out.push("total_amount_mismatch");
      }
    }
  }
  return out;
}

function records(kind: BadKind, n: number, seed: string = kind) {
  const random = new Random(seed);
  return templates(n).map((template) => ({ template, ...makeBadRecord(kind, random, template) }));
}

Deno.test("makeBadRecord malformed_json fails to parse and is otherwise valid UTF-8", () => {
  for (const { value } of records("malformed_json", 300)) {
    const text = STRICT_UTF8.decode(value);
    assert.throws(() => JSON.parse(text), SyntaxError, text);
  }
});

Deno.test("makeBadRecord missing_field lacks exactly one required field", () => {
  const missing = new Set<string>();
  for (const { value } of records("missing_field", 300)) {
    const found = problems(JSON.parse(STRICT_UTF8.decode(value)));
    assert.equal(found.length, 1, found.join(", "));
    assert.match(found[0], /^missing:/);
    missing.add(found[0]);
  }
  assert.equal(missing.size, EVENT_FIELDS.length, "every field is dropped sometimes");
});

Deno.test("makeBadRecord wrong_type has a field of the wrong type and nothing else wrong", () => {
  const kinds = new Set<string>();
  for (const { value } of records("wrong_type", 300)) {
    const found = problems(JSON.parse(STRICT_UTF8.decode(value)));
    // A mistyped amount also breaks the sum check, which only follows from it.
    const types = found.filter((p) => p !== "total_amount_mismatch");
    assert.equal(types.length, 1, found.join(", "));
    assert.match(types[0], /^type:/);
    kinds.add(types[0]);
  }
  for (const f of ["total_amount", "event_timestamp", "items", "quantity", "unit_price"]) {
    assert.ok(kinds.has(`type:${f}`), `never mistypes ${f}`);
  }
});

Deno.test("makeBadRecord unknown_event_type names an event type that does not exist", () => {
  for (const { value } of records("unknown_event_type", 100)) {
    const parsed = JSON.parse(STRICT_UTF8.decode(value));
    assert.deepEqual(problems(parsed), ["unknown_event_type"]);
    assert.ok(!EVENT_TYPES.includes(parsed.event_type.toUpperCase()), parsed.event_type);
  }
});

Deno.test("makeBadRecord oversized is a valid event between the size limits", () => {
  let smallest = Infinity;
  let largest = 0;
  for (const { value } of records("oversized", 40)) {
    assert.ok(value.length > MAX_EVENT_BYTES, `${value.length} bytes`);
    assert.ok(value.length < OVERSIZED_BYTES_MAX, `${value.length} bytes`);
    assert.deepEqual(problems(JSON.parse(STRICT_UTF8.decode(value))), []);
    smallest = Math.min(smallest, value.length);
    largest = Math.max(largest, value.length);
  }
  // Sizes spread over the range rather than sitting just above the limit.
  assert.ok(largest - smallest > 200_000, `${smallest}..${largest}`);
  assert.ok(OVERSIZED_BYTES_MAX <= 900_000);
});

Deno.test("makeBadRecord invalid_utf8 fails strict decoding and is valid JSON otherwise", () => {
  for (const { value } of records("invalid_utf8", 300)) {
    assert.throws(() => STRICT_UTF8.decode(value), TypeError);
    // With the bad bytes replaced by U+FFFD the payload is a valid event: the
    // bytes sit inside a string value and break nothing else.
    assert.deepEqual(problems(JSON.parse(LENIENT_UTF8.decode(value))), []);
  }
});

Deno.test("makeBadRecord never writes a newline byte", () => {
  for (const kind of BAD_KINDS) {
    for (const { value } of records(kind, kind === "oversized" ? 20 : 300, `nl-${kind}`)) {
      assert.equal(value.indexOf(0x0a), -1, `${kind} payload holds a newline`);
    }
  }
});

Deno.test("makeBadRecord keys on a fresh order id and leaves the template alone", () => {
  for (const kind of BAD_KINDS) {
    for (const { template, key, value } of records(kind, 20, `key-${kind}`)) {
      const before = JSON.stringify(template);
      assert.match(key, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.notEqual(key, template.order_id);
      assert.equal(JSON.stringify(template), before);
      if (kind !== "malformed_json" && kind !== "invalid_utf8") {
        const parsed = JSON.parse(STRICT_UTF8.decode(value));
        if ("order_id" in parsed) assert.equal(parsed.order_id, key);
      }
    }
  }
});

Deno.test("makeBadRecord returns the same bytes for the same seed", () => {
  for (const kind of BAD_KINDS) {
    const a = records(kind, 10, "same");
    const b = records(kind, 10, "same");
    const c = records(kind, 10, "other");
    for (let i = 0; i < a.length; i++) {
      assert.equal(a[i].key, b[i].key);
      assert.deepEqual(a[i].value, b[i].value);
      assert.notDeepEqual(a[i].value, c[i].value);
    }
  }
});

Deno.test("makeBadRecord rejects an unknown kind", () => {
  const [template] = templates(1);
  assert.throws(
    () => makeBadRecord("late" as BadKind, new Random(1), template),
    { name: "RangeError", message: 'unknown bad record kind "late"' },
  );
});

Deno.test("pickBadKind picks every kind about equally often", () => {
  const random = new Random("pick");
  const counts = new Map<BadKind, number>();
  for (let i = 0; i < 60_000; i++) {
    const kind = pickBadKind(random);
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
  assert.deepEqual([...counts.keys()].sort(), [...BAD_KINDS].sort());
  for (const [kind, count] of counts) {
    assert.ok(Math.abs(count - 10_000) < 500, `${kind}: ${count}`);
  }
});
