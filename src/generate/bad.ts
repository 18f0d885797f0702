/**
 * Bad-input injection: payloads that a validator must reject, each for exactly
 * one reason, so the reject table can be checked reason by reason. Every
 * payload is a single line (no 0x0A byte), because the file sink writes one
 * payload per line.
 */
import { assert } from "../core/assert.ts";
import type { Random } from "../core/random.ts";
import {
  EVENT_FIELDS,
  MAX_EVENT_BYTES,
  type OrderEvent,
  type OrderItem,
} from "../events/contract.ts";
import { encodeEvent, uuid } from "./model.ts";

export const BAD_KINDS = [
  "malformed_json",
  "missing_field",
  "wrong_type",
  "unknown_event_type",
  "oversized",
  "invalid_utf8",
] as const;
export type BadKind = typeof BAD_KINDS[number];

/** Oversized payloads stay below this, well under Kafka's default 1 MB message limit. */
export const OVERSIZED_BYTES_MAX = 900_000;

export interface BadRecord {
  /** An order id no real order has, so rejects never touch real orders. */
  readonly key: string;
  readonly value: Uint8Array;
}

/** Uniformly chosen kind. */
export function pickBadKind(random: Random): BadKind {
  return BAD_KINDS[random.int(BAD_KINDS.length)];
}

/**
 * A record that is invalid only for `kind`, built from `template` (which
 * must not be an event of the real stream). The payload's order_id is the
 * key; all randomness comes from `random`, so a seed reproduces the bytes.
 */
export function makeBadRecord(kind: BadKind, random: Random, template: OrderEvent): BadRecord {
  const key = uuid(random);
  // A plain copy in encoding order, with fresh ids: mutating it never
  // reaches the template or the items array it shares with other events.
  const event: Record<string, unknown> = {};
  for (const field of EVENT_FIELDS) event[field] = template[field];
  event.event_id = uuid(random);
  event.order_id = key;
  event.items = template.items.map((item) => ({ ...item }));
  let value: Uint8Array;
  switch (kind) {
    case "malformed_json":
      value = ENCODER.encode(malformedJson(random, JSON.stringify(event)));
      break;
    case "missing_field":
      delete event[random.pick(EVENT_FIELDS)];
      value = ENCODER.encode(JSON.stringify(event));
      break;
    case "wrong_type":
      mistype(random, event);
      value = ENCODER.encode(JSON.stringify(event));
      break;
    case "unknown_event_type":
      event.event_type = random.pick(UNKNOWN_EVENT_TYPES);
      value = ENCODER.encode(JSON.stringify(event));
      break;
    case "oversized":
      value = ENCODER.encode(oversized(random, event as unknown as OrderEvent));
      assert(
        value.length > MAX_EVENT_BYTES && value.length < OVERSIZED_BYTES_MAX,
        `oversized payload of ${value.length} bytes is out of bounds`,
      );
      break;
    case "invalid_utf8":
      value = invalidUtf8(random, JSON.stringify(event));
      break;
    default:
      throw new RangeError(`unknown bad record kind ${JSON.stringify(kind)}`);
  }
  assert(!value.includes(NEWLINE), `a ${kind} payload holds a newline`);
  return { key, value };
}

const ENCODER = new TextEncoder();
const NEWLINE = 0x0a;

/** Names no version of the schema defines (and not mere case variants of real ones). */
const UNKNOWN_EVENT_TYPES = [
  "ORDER_TELEPORTED",
  "ORDER_VANISHED",
  "ORDER_DUPLICATED",
  "ORDER_HALF_SHIPPED",
] as const;

/**
 * Breaks the syntax of a JSON object text in one of several ways a buggy
 * producer does. Each is invalid whatever the content: a proper prefix of an
 * object lacks its closing brace, and the others change the grammar itself.
 */
function malformedJson(random: Random, json: string): string {
  const truncated = json.slice(0, 1 + random.int(json.length - 1));
  let broken: string;
  switch (random.int(4)) {
    case 0: // cut off mid-message
      return truncated;
    case 1: // trailing comma
      broken = json.slice(0, -1) + ",}";
      break;
    case 2: // unquoted key
      broken = json.replace('"event_type":', "event_type:");
      break;
    default: // a single-quoted string
      broken = json.replace(/"([A-Z_]+)"/, "'$1'");
      break;
  }
  // A template without the field a replacement looks for would come out
  // unchanged, hence valid; the truncation is invalid for any object text.
  return parses(broken) ? truncated : broken;
}

function parses(json: string): boolean {
  try {
    JSON.parse(json);
    return true;
  } catch {
    return false;
  }
}

/** Gives one field a value of the wrong JSON type (or a non-integer count). */
function mistype(random: Random, event: Record<string, unknown>): void {
  const items = event.items as Record<string, unknown>[];
  const variant = items.length > 0 ? random.int(6) : random.int(3);
  switch (variant) {
    case 0: // decimal as text, as some systems serialize it
      event.total_amount = (event.total_amount as number).toFixed(2);
      break;
    case 1: // ISO string instead of epoch seconds
      event.event_timestamp = new Date((event.event_timestamp as number) * 1000).toISOString();
      break;
    case 2: // items as an object instead of a list
      event.items = Object.fromEntries(items.map((item, i) => [String(i), item]));
      break;
    case 3: // fractional quantity
      random.pick(items).quantity = 1.5;
      break;
    case 4: { // quantity as text
      const item = random.pick(items);
      item.quantity = String(item.quantity);
      break;
    }
    default: { // unit price as text
      const item = random.pick(items);
      item.unit_price = (item.unit_price as number).toFixed(2);
      break;
    }
  }
}

/**
 * A valid event above MAX_EVENT_BYTES: the template's items repeated under
 * distinct SKUs, with total_amount recomputed, so size is the only fault.
 */
function oversized(random: Random, event: OrderEvent): string {
  const target = MAX_EVENT_BYTES + 1 + random.int(OVERSIZED_BYTES_MAX - MAX_EVENT_BYTES - 4096);
  const base = event.items.length > 0
    ? event.items
    : [{ sku: "SKU-00001", quantity: 1, unit_price: 9.99, category: "books" }];
  const items: OrderItem[] = [];
  let totalCents = 0;
  let bytes = encodeEvent({ ...event, items: [] }).length;
  for (let i = 0; bytes <= target; i++) {
    const source = base[i % base.length];
    const item = { ...source, sku: `${source.sku}-${i}` };
    items.push(item);
    totalCents += item.quantity * Math.round(item.unit_price * 100);
    // One item's JSON plus its separating comma; amounts below only change
    // total_amount's few digits, which the margin under the cap absorbs.
    bytes += JSON.stringify(item).length + 1;
  }
  return encodeEvent({ ...event, items, total_amount: totalCents / 100 });
}

/**
 * Byte sequences that no UTF-8 decoder accepts: a lead byte followed by a
 * non-continuation, bytes that never occur, an overlong encoding, an encoded
 * surrogate, and a sequence cut short.
 */
const INVALID_SEQUENCES = [
  [0xc3, 0x28],
  [0xff],
  [0xfe, 0xfe],
  [0xc0, 0xaf],
  [0xed, 0xa0, 0x80],
  [0xe2, 0x82],
] as const;

/** Text fields whose value gets the invalid bytes, at the start of the string. */
const UTF8_TARGETS = ['"user_id":"', '"currency":"', '"payment_method":"', '"sku":"'] as const;

/** Valid JSON apart from invalid UTF-8 inside one string value. */
function invalidUtf8(random: Random, json: string): Uint8Array {
  const bytes = ENCODER.encode(json);
  let target = ENCODER.encode(random.pick(UTF8_TARGETS));
  // order_id is always present (makeBadRecord sets it); the others may not be.
  if (indexOf(bytes, target) < 0) target = ENCODER.encode('"order_id":"');
  const at = indexOf(bytes, target) + target.length;
  const bad = random.pick(INVALID_SEQUENCES);
  const out = new Uint8Array(bytes.length + bad.length);
  out.set(bytes.subarray(0, at));
  out.set(bad, at);
  out.set(bytes.subarray(at), at + bad.length);
  return out;
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
