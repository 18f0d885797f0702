/**
 * The common record's verdict in one pass over its bytes, without a parse
 * into objects: a payload the producer wrote plainly (the contract's fields
 * only, each once; ASCII strings without escapes; numbers without sign or
 * exponent) that passes every check of validateRecord is accepted here.
 * Anything else (an extra field, an escape, a non-ASCII byte, a value that
 * fails a check, anything unusual) gets "don't know", and validateRecord
 * decides and explains. So this may only ever say yes where validateRecord
 * says yes; it never rejects (tested differentially, src/batch/fast_accept_test.ts).
 *
 * Payloads are still staged with their bytes as received: only the decision
 * is taken here, DuckDB parses the accepted ones into columns.
 */
import {
  AMOUNT_END,
  EVENT_FIELDS,
  EVENT_TIMESTAMP_END,
  EVENT_TIMESTAMP_MIN,
  EVENT_TYPES,
  ITEM_FIELDS,
  MAX_EVENT_BYTES,
  ORDER_ID_LENGTH_MAX,
  QUANTITY_MAX,
  STATUSES,
} from "../events/contract.ts";
import { isUuidCode, isValidKafkaTimestamp } from "./validate.ts";

const ENCODER = new TextEncoder();
const QUOTE = 0x22;
const COMMA = 0x2c;
const COLON = 0x3a;

/** The contract's field names as bytes, in EVENT_FIELDS order (a bit each). */
const EVENT_KEYS = EVENT_FIELDS.map((f) => ENCODER.encode(f));
const ITEM_KEYS = ITEM_FIELDS.map((f) => ENCODER.encode(f.name));
const ALL_EVENT_KEYS = (1 << EVENT_KEYS.length) - 1;
const ALL_ITEM_KEYS = (1 << ITEM_KEYS.length) - 1;
// Field numbers as literals for the switches below (an object's properties
// there cost a lookup per case per field); checked against the contract.
const EVENT_ID = 0;
const EVENT_TYPE = 1;
const EVENT_TIMESTAMP = 2;
const ORDER_ID = 3;
const USER_ID = 4;
const TOTAL_AMOUNT = 5;
const CURRENCY = 6;
const PAYMENT_METHOD = 7;
const ITEMS = 8;
const CURRENT_STATUS = 9;
const SKU = 0;
const QUANTITY = 1;
const UNIT_PRICE = 2;
const CATEGORY = 3;
const NUMBERED = [
  "event_id",
  "event_type",
  "event_timestamp",
  "order_id",
  "user_id",
  "total_amount",
  "currency",
  "payment_method",
  "items",
  "current_status",
];
const ITEM_NUMBERED = ["sku", "quantity", "unit_price", "category"];
if (
  EVENT_FIELDS.join() !== NUMBERED.join() || ITEM_FIELDS.map((f) => f.name).join() !==
    ITEM_NUMBERED.join()
) {
  throw new Error("fast_accept.ts: field numbers differ from the event contract's fields");
}
const TYPE_NAMES = EVENT_TYPES.map((t) => ENCODER.encode(t));
const STATUS_NAMES = STATUSES.map((s) => ENCODER.encode(s));
/**
 * Fraction digits of event_timestamp taken here: with at most 6, a value
 * below EVENT_TIMESTAMP_END as written stays below it as a double (the
 * spacing of doubles there is about 5e-7), so the integer part decides the
 * range exactly.
 */
const TIMESTAMP_FRACTION_DIGITS_MAX = 6;
const AMOUNT_CENTS_END = AMOUNT_END * 100;

// Results of the helpers beyond the position they return (nothing is
// allocated per record). Each helper takes the payload and a position and
// returns the position after what it read, or -1 when that is not plain.
/** The last string's content: bytes [strStart, strEnd). */
let strStart = 0;
let strEnd = 0;
/** The last number: its integer part, fraction digits as an integer, and their count. */
let intPart = 0;
let fraction = 0;
let fractionDigits = 0;
/** items(): the sum of quantity * unit_price in cents. */
let itemsCents = 0;
/**
 * Whether the payload last decided holds a CR or LF byte. A plain payload
 * can hold them only as whitespace between tokens (its strings have no
 * control characters), and space() sees every such byte.
 */
let lineBreak = false;

/**
 * After fastAccepts said yes: whether that payload holds a CR or LF byte
 * (staging must then blank it to keep the payload on one line). Spares
 * the stager a second scan of every payload for them.
 */
export function acceptedHasLineBreak(): boolean {
  return lineBreak;
}

/**
 * True only when validateRecord(value, key, timestampMs) would accept the
 * record; false means nothing (ask validateRecord).
 */
export function fastAccepts(
  value: Uint8Array | null,
  key: Uint8Array | null,
  timestampMs: number,
): boolean {
  if (value === null || key === null || value.length > MAX_EVENT_BYTES) return false;
  return isValidKafkaTimestamp(timestampMs) && event(value, key);
}

function event(b: Uint8Array, key: Uint8Array): boolean {
  lineBreak = false;
  let at = space(b, 0);
  if (b[at] !== 0x7b) return false; // {
  at++;
  let seen = 0;
  let typeIndex = -1;
  let statusIndex = -1;
  let totalCents = 0;
  let sumCents = 0;
  for (;;) {
    at = string(b, space(b, at));
    if (at < 0) return false;
    const field = keyIndex(b, EVENT_KEYS);
    if (field === -1 || (seen & (1 << field)) !== 0) return false;
    seen |= 1 << field;
    at = space(b, at);
    if (b[at] !== COLON) return false;
    at = space(b, at + 1);
    switch (field) {
      case EVENT_ID:
        at = string(b, at);
        if (at < 0 || !uuid(b)) return false;
        break;
      case EVENT_TYPE:
        at = string(b, at);
        if (at < 0) return false;
        typeIndex = keyIndex(b, TYPE_NAMES);
        if (typeIndex === -1) return false;
        break;
      case EVENT_TIMESTAMP:
        at = number(b, at);
        if (at < 0 || fractionDigits > TIMESTAMP_FRACTION_DIGITS_MAX) return false;
        if (intPart < EVENT_TIMESTAMP_MIN || intPart >= EVENT_TIMESTAMP_END) return false;
        break;
      case ORDER_ID: {
        at = string(b, at);
        if (at < 0) return false;
        const length = strEnd - strStart;
        if (length === 0 || length > ORDER_ID_LENGTH_MAX || length !== key.length) return false;
        for (let i = 0; i < length; i++) if (b[strStart + i] !== key[i]) return false;
        break;
      }
      case USER_ID:
        at = string(b, at);
        if (at < 0 || strEnd === strStart) return false;
        break;
      case TOTAL_AMOUNT:
        at = amount(b, at);
        if (at < 0) return false;
        totalCents = cents();
        break;
      case CURRENCY:
        at = string(b, at);
        if (at < 0 || strEnd - strStart !== 3) return false;
        for (let i = strStart; i < strEnd; i++) if (b[i] < 0x41 || b[i] > 0x5a) return false;
        break;
      case PAYMENT_METHOD:
        if (b[at] === 0x6e) { // null
          if (b[at + 1] !== 0x75 || b[at + 2] !== 0x6c || b[at + 3] !== 0x6c) return false;
          at += 4;
        } else {
          at = string(b, at);
          if (at < 0) return false;
        }
        break;
      case ITEMS:
        at = items(b, at);
        if (at < 0) return false;
        sumCents = itemsCents;
        break;
      case CURRENT_STATUS:
        at = string(b, at);
        if (at < 0) return false;
        statusIndex = keyIndex(b, STATUS_NAMES);
        if (statusIndex === -1) return false;
        break;
    }
    at = space(b, at);
    if (b[at] === COMMA) {
      at++;
      continue;
    }
    if (b[at] !== 0x7d) return false; // }
    at++;
    break;
  }
  return space(b, at) === b.length && seen === ALL_EVENT_KEYS && statusIndex === typeIndex &&
    totalCents === sumCents;
}

/**
 * The items array; its sum of quantity * unit_price in cents in itemsCents,
 * computed with the same double operations validateRecord uses.
 */
function items(b: Uint8Array, at: number): number {
  if (b[at] !== 0x5b) return -1; // [
  at = space(b, at + 1);
  let sum = 0;
  let count = 0;
  for (;;) {
    if (b[at] !== 0x7b) return -1;
    at++;
    let seen = 0;
    let quantity = 0;
    let priceCents = 0;
    for (;;) {
      at = string(b, space(b, at));
      if (at < 0) return -1;
      const field = keyIndex(b, ITEM_KEYS);
      if (field === -1 || (seen & (1 << field)) !== 0) return -1;
      seen |= 1 << field;
      at = space(b, at);
      if (b[at] !== COLON) return -1;
      at = space(b, at + 1);
      switch (field) {
        case SKU:
          at = string(b, at);
          if (at < 0 || strEnd === strStart) return -1;
          break;
        case QUANTITY:
          at = number(b, at);
          if (at < 0 || fractionDigits !== 0 || intPart < 1 || intPart > QUANTITY_MAX) return -1;
          quantity = intPart;
          break;
        case UNIT_PRICE:
          at = amount(b, at);
          if (at < 0) return -1;
          priceCents = cents();
          break;
        case CATEGORY:
          at = string(b, at);
          if (at < 0) return -1;
          break;
      }
      at = space(b, at);
      if (b[at] === COMMA) {
        at++;
        continue;
      }
      if (b[at] !== 0x7d) return -1;
      at++;
      break;
    }
    if (seen !== ALL_ITEM_KEYS) return -1;
    sum += quantity * priceCents;
    count++;
    at = space(b, at);
    if (b[at] === COMMA) {
      at = space(b, at + 1);
      continue;
    }
    if (b[at] !== 0x5d) return -1; // ]
    at++;
    break;
  }
  if (count === 0) return -1;
  itemsCents = sum;
  return at;
}

function space(b: Uint8Array, at: number): number {
  // Reads stay in bounds: an out-of-bounds read costs V8 a slower load.
  for (const n = b.length; at < n; at++) {
    const c = b[at];
    if (c === 0x0a || c === 0x0d) lineBreak = true;
    else if (c !== 0x20 && c !== 0x09) return at;
  }
  return at;
}

/** A string of printable ASCII without escapes; its content in strStart/strEnd. */
function string(b: Uint8Array, at: number): number {
  if (at < 0 || b[at] !== QUOTE) return -1;
  const start = ++at;
  const n = b.length;
  for (; at < n; at++) {
    const c = b[at];
    if (c === QUOTE) {
      strStart = start;
      strEnd = at;
      return at + 1;
    }
    // Escapes, control characters and non-ASCII bytes: not plain.
    if (c === 0x5c || c < 0x20 || c >= 0x80) return -1;
  }
  return -1;
}

/** Index of the last string among `names`, or -1. */
function keyIndex(b: Uint8Array, names: readonly Uint8Array[]): number {
  const length = strEnd - strStart;
  outer: for (let n = 0; n < names.length; n++) {
    const name = names[n];
    if (name.length !== length) continue;
    for (let i = 0; i < length; i++) if (b[strStart + i] !== name[i]) continue outer;
    return n;
  }
  return -1;
}

function uuid(b: Uint8Array): boolean {
  if (strEnd - strStart !== 36) return false;
  for (let i = 0; i < 36; i++) if (!isUuidCode(i, b[strStart + i])) return false;
  return true;
}

/**
 * A number `0|[1-9][0-9]*` with an optional fraction `.[0-9]+`: no sign,
 * no exponent, at most 15 integer digits (exact as a double).
 */
function number(b: Uint8Array, at: number): number {
  let c = b[at];
  if (!(c >= 0x30 && c <= 0x39)) return -1; // also the end (undefined)
  let value = 0;
  let digits = 0;
  if (c === 0x30) {
    at++;
    digits = 1;
  } else {
    while (c >= 0x30 && c <= 0x39) {
      value = value * 10 + (c - 0x30);
      digits++;
      c = b[++at];
    }
  }
  if (digits > 15) return -1;
  intPart = value;
  fraction = 0;
  fractionDigits = 0;
  c = b[at];
  if (c === 0x2e) {
    c = b[++at];
    while (c >= 0x30 && c <= 0x39) {
      if (fractionDigits < 15) fraction = fraction * 10 + (c - 0x30);
      fractionDigits++;
      c = b[++at];
    }
    if (fractionDigits === 0) return -1;
  }
  // An exponent, or a digit after a leading zero: not plain.
  return c === 0x65 || c === 0x45 || (c >= 0x30 && c <= 0x39) ? -1 : at;
}

/** A money amount as validateRecord takes it: at most 2 decimals, below AMOUNT_END. */
function amount(b: Uint8Array, at: number): number {
  at = number(b, at);
  if (at < 0 || fractionDigits > 2) return -1;
  return cents() < AMOUNT_CENTS_END ? at : -1;
}

/** The last number in cents (it has at most 2 decimals). */
function cents(): number {
  return intPart * 100 + fraction * (fractionDigits === 1 ? 10 : 1);
}
