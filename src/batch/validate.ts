/**
 * Decode + validate of one Kafka record value into an order event. Runs on
 * every record, so the common path is straight-line checks on the parsed
 * object; anything that explains a rejection is computed only on rejection.
 *
 * Besides the event contract, it rejects what would make DuckDB's read_json
 * fail on the staged batch (duplicate keys, unpaired surrogate escapes,
 * quantities beyond INTEGER, amounts beyond DECIMAL(12, 2)): one such record
 * accepted would fail its whole batch on every retry.
 */
import { MAX_EVENT_BYTES } from "../generate/bad.ts";
import {
  EVENT_FIELDS,
  EVENT_TYPES,
  type EventType,
  type OrderStatus,
  STATUSES,
} from "../generate/model.ts";

export type RejectKind =
  | "null_value"
  | "oversized"
  | "invalid_utf8"
  | "malformed_json"
  | "not_an_object"
  | "missing_field"
  | "wrong_type"
  | "unknown_event_type"
  | "invalid_value"
  | "inconsistent";

export interface ValidItem {
  readonly sku: string;
  readonly quantity: number;
  readonly unit_price: number;
  readonly category: string;
}

/** An OrderEvent that passed every check; payment_method may be null (none chosen yet). */
export interface ValidEvent {
  readonly event_id: string;
  readonly event_type: EventType;
  /** Epoch seconds. */
  readonly event_timestamp: number;
  readonly order_id: string;
  readonly user_id: string;
  readonly total_amount: number;
  readonly currency: string;
  readonly payment_method: string | null;
  readonly items: readonly ValidItem[];
  readonly current_status: OrderStatus;
}

export type ValidationResult =
  | { readonly ok: true; readonly event: ValidEvent }
  | { readonly ok: false; readonly reason: string; readonly kind: RejectKind };

/** 2000-01-01T00:00:00Z and 2100-01-01T00:00:00Z in epoch seconds: plausible event times. */
export const EVENT_TIMESTAMP_MIN = 946_684_800;
export const EVENT_TIMESTAMP_END = 4_102_444_800;
/** Amounts land in DECIMAL(12, 2). */
export const AMOUNT_END = 1e10;
/** Quantities land in a 32-bit INTEGER. */
export const QUANTITY_MAX = 2_147_483_647;
export const ORDER_ID_LENGTH_MAX = 128;

/**
 * Fields that must be present. payment_method is among them although it may
 * be null: the producer always writes the key, and its absence is one of the
 * generator's missing-field faults.
 */
export const REQUIRED_FIELDS = EVENT_FIELDS;

const ITEM_FIELDS = ["sku", "quantity", "unit_price", "category"] as const;

/** Longest rendering of an offending value in a reason. */
const SHOWN_CHARS_MAX = 80;
/** Longest JSON.parse message quoted in a reason (V8 quotes the input). */
const PARSE_MESSAGE_CHARS_MAX = 200;

const EVENT_TYPE_LIST = EVENT_TYPES.join(", ");
const STATUS_LIST = STATUSES.join(", ");

// Decoding never fails; invalid input shows up as U+FFFD, and only a payload
// holding one is checked exactly (it may be a genuine U+FFFD). Non-fatal
// decoding measured several times faster than fatal decoding here. The byte
// order mark is kept so that JSON.parse rejects it, as DuckDB would.
const DECODER = new TextDecoder("utf-8", { ignoreBOM: true });

export function validateEvent(value: Uint8Array | null): ValidationResult {
  if (value === null) return reject("null_value", "payload is null (a Kafka tombstone)");
  if (value.length > MAX_EVENT_BYTES) {
    return reject(
      "oversized",
      `payload is ${value.length} bytes, above the ${MAX_EVENT_BYTES}-byte limit`,
    );
  }
  const text = DECODER.decode(value);
  if (text.indexOf("\uFFFD") !== -1) {
    const at = invalidUtf8Offset(value);
    if (at !== -1) return reject("invalid_utf8", `invalid UTF-8 at byte ${at}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return reject(
      "malformed_json",
      `malformed JSON: ${truncate(message, PARSE_MESSAGE_CHARS_MAX)}`,
    );
  }
  // In valid JSON a backslash only starts an escape, so most payloads skip this.
  if (text.indexOf("\\") !== -1) {
    const escape = unpairedSurrogate(text);
    if (escape !== undefined) {
      return reject(
        "malformed_json",
        `malformed JSON: unpaired surrogate escape ${escape} (not representable in UTF-8)`,
      );
    }
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return reject("not_an_object", `expected a JSON object, got ${shown(parsed)}`);
  }
  const duplicate = findDuplicateKey(text, parsed as Record<string, unknown>);
  if (duplicate !== undefined) {
    return reject("malformed_json", `malformed JSON: duplicate key ${shownText(duplicate)}`);
  }
  return checkEvent(parsed as Record<string, unknown>);
}

/** The field checks proper, in the order of REQUIRED_FIELDS. */
function checkEvent(e: Record<string, unknown>): ValidationResult {
  // Named loads (not a loop over names) keep the property accesses monomorphic.
  const eventId = e.event_id;
  const eventType = e.event_type;
  const eventTimestamp = e.event_timestamp;
  const orderId = e.order_id;
  const userId = e.user_id;
  const totalAmount = e.total_amount;
  const currency = e.currency;
  const paymentMethod = e.payment_method;
  const items = e.items;
  const currentStatus = e.current_status;
  // JSON.parse never yields undefined, so undefined means absent.
  if (
    eventId === undefined || eventType === undefined || eventTimestamp === undefined ||
    orderId === undefined || userId === undefined || totalAmount === undefined ||
    currency === undefined || paymentMethod === undefined || items === undefined ||
    currentStatus === undefined
  ) {
    for (const field of REQUIRED_FIELDS) {
      if (e[field] === undefined) {
        return reject("missing_field", `${field}: required field is missing`);
      }
    }
  }

  if (typeof eventId !== "string") return wrongType("event_id", "a UUID string", eventId);
  if (!isUuid(eventId)) return invalidValue("event_id", "a UUID string", eventId);

  if (typeof eventType !== "string") {
    return wrongType("event_type", `one of ${EVENT_TYPE_LIST}`, eventType);
  }
  const typeIndex = (EVENT_TYPES as readonly string[]).indexOf(eventType);
  if (typeIndex === -1) {
    return reject("unknown_event_type", `event_type: unknown event type ${shownText(eventType)}`);
  }

  if (typeof eventTimestamp !== "number") {
    return wrongType("event_timestamp", TIMESTAMP_EXPECTED, eventTimestamp);
  }
  if (!(eventTimestamp >= EVENT_TIMESTAMP_MIN && eventTimestamp < EVENT_TIMESTAMP_END)) {
    return invalidValue("event_timestamp", TIMESTAMP_EXPECTED, eventTimestamp);
  }

  if (typeof orderId !== "string") return wrongType("order_id", ORDER_ID_EXPECTED, orderId);
  if (orderId.length === 0 || orderId.length > ORDER_ID_LENGTH_MAX) {
    return invalidValue("order_id", ORDER_ID_EXPECTED, orderId);
  }

  if (typeof userId !== "string") return wrongType("user_id", "a non-empty string", userId);
  if (userId.length === 0) return invalidValue("user_id", "a non-empty string", userId);

  const amountProblem = checkAmount("total_amount", totalAmount);
  if (amountProblem !== undefined) return amountProblem;

  if (typeof currency !== "string") return wrongType("currency", CURRENCY_EXPECTED, currency);
  if (!isCurrencyCode(currency)) return invalidValue("currency", CURRENCY_EXPECTED, currency);

  if (paymentMethod !== null && typeof paymentMethod !== "string") {
    return wrongType("payment_method", "a string or null", paymentMethod);
  }

  if (!Array.isArray(items)) return wrongType("items", ITEMS_EXPECTED, items);
  if (items.length === 0) return invalidValue("items", ITEMS_EXPECTED, items);
  let sumCents = 0;
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    if (typeof item !== "object" || item === null || Array.isArray(item)) {
      return wrongType(`items[${i}]`, "an object with sku, quantity, unit_price, category", item);
    }
    const problem = checkItem(item as Record<string, unknown>, i);
    if (problem !== undefined) return problem;
    sumCents += (item.quantity as number) * Math.round((item.unit_price as number) * 100);
  }

  if (typeof currentStatus !== "string") {
    return wrongType("current_status", `one of ${STATUS_LIST}`, currentStatus);
  }
  const statusIndex = (STATUSES as readonly string[]).indexOf(currentStatus);
  if (statusIndex === -1) {
    return invalidValue("current_status", `one of ${STATUS_LIST}`, currentStatus);
  }
  if (statusIndex !== typeIndex) {
    return reject(
      "inconsistent",
      `current_status: ${shownText(currentStatus)} does not follow event_type ` +
        `${shownText(eventType)} (expected ${shownText(STATUSES[typeIndex])})`,
    );
  }

  const totalCents = Math.round((totalAmount as number) * 100);
  if (totalCents !== sumCents) {
    return reject(
      "inconsistent",
      `total_amount: ${String(totalAmount)} differs from the items' sum of ` +
        `quantity * unit_price, ${(sumCents / 100).toFixed(2)}`,
    );
  }
  return { ok: true, event: e as unknown as ValidEvent };
}

const TIMESTAMP_EXPECTED = "epoch seconds as a number in [946684800, 4102444800) (years 2000-2099)";
const ORDER_ID_EXPECTED = `a non-empty string of at most ${ORDER_ID_LENGTH_MAX} characters`;
const CURRENCY_EXPECTED = "3 upper-case letters (ISO 4217)";
const ITEMS_EXPECTED = "a non-empty array of items";
const QUANTITY_TYPE_EXPECTED = "an integer >= 1";
const QUANTITY_RANGE_EXPECTED = `an integer from 1 to ${QUANTITY_MAX}`;
const AMOUNT_TYPE_EXPECTED = "a number with at most 2 decimals";
const AMOUNT_RANGE_EXPECTED = `a number >= 0 and below ${AMOUNT_END}`;

function checkItem(item: Record<string, unknown>, i: number): ValidationResult | undefined {
  const sku = item.sku;
  const quantity = item.quantity;
  const unitPrice = item.unit_price;
  const category = item.category;
  if (
    sku === undefined || quantity === undefined || unitPrice === undefined ||
    category === undefined
  ) {
    for (const field of ITEM_FIELDS) {
      if (item[field] === undefined) {
        return reject("missing_field", `items[${i}].${field}: required field is missing`);
      }
    }
  }
  if (typeof sku !== "string") return wrongType(`items[${i}].sku`, "a non-empty string", sku);
  if (sku.length === 0) return invalidValue(`items[${i}].sku`, "a non-empty string", sku);
  // A fraction is a type error: the column is an integer type.
  if (typeof quantity !== "number" || !Number.isInteger(quantity)) {
    return wrongType(`items[${i}].quantity`, QUANTITY_TYPE_EXPECTED, quantity);
  }
  if (quantity < 1 || quantity > QUANTITY_MAX) {
    return invalidValue(`items[${i}].quantity`, QUANTITY_RANGE_EXPECTED, quantity);
  }
  const priceProblem = checkAmount(`items[${i}].unit_price`, unitPrice);
  if (priceProblem !== undefined) return priceProblem;
  if (typeof category !== "string") return wrongType(`items[${i}].category`, "a string", category);
  return undefined;
}

/** A money amount: a JSON number in [0, 1e10) with at most 2 decimals. */
function checkAmount(field: string, value: unknown): ValidationResult | undefined {
  if (typeof value !== "number") return wrongType(field, AMOUNT_TYPE_EXPECTED, value);
  if (!(value >= 0 && value < AMOUNT_END)) return invalidValue(field, AMOUNT_RANGE_EXPECTED, value);
  const scaled = value * 100;
  const cents = Math.round(scaled);
  // 1e-6 absorbs binary rounding (12.34 * 100 = 1233.9999999999998). That
  // error is about 2e-16 of the value, so it would pass 1e-6 near 5e9 cents;
  // above 1e9 the bound scales with the value instead, still far below the
  // 0.1 cent that a third decimal adds. Amounts land in DECIMAL(12, 2), whose
  // cast rounds to the same whole cents.
  const tolerance = cents > 1e9 ? cents * 4 * Number.EPSILON : 1e-6;
  if (Math.abs(scaled - cents) >= tolerance) {
    return invalidValue(field, AMOUNT_TYPE_EXPECTED, value);
  }
  return undefined;
}

/** 8-4-4-4-12 hex digits (either case); version and variant bits are not checked. */
function isUuid(s: string): boolean {
  if (s.length !== 36) return false;
  for (let i = 0; i < 36; i++) {
    const c = s.charCodeAt(i);
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== 0x2d) return false;
    } else if (
      !((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46))
    ) {
      return false;
    }
  }
  return true;
}

function isCurrencyCode(s: string): boolean {
  if (s.length !== 3) return false;
  for (let i = 0; i < 3; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x41 || c > 0x5a) return false;
  }
  return true;
}

function reject(kind: RejectKind, reason: string): ValidationResult {
  return { ok: false, reason, kind };
}

function wrongType(field: string, expected: string, value: unknown): ValidationResult {
  return reject("wrong_type", `${field}: expected ${expected}, got ${shown(value)}`);
}

function invalidValue(field: string, expected: string, value: unknown): ValidationResult {
  return reject("invalid_value", `${field}: expected ${expected}, got ${shown(value)}`);
}

/** A value as JSON text, shortened, with its JSON type: `"12.50" (string)`. */
function shown(value: unknown): string {
  const type = value === null ? "null" : Array.isArray(value) ? "array" : typeof value;
  let text: string;
  if (typeof value === "number") {
    text = String(value); // JSON.stringify would print Infinity (from 1e999) as null
  } else {
    try {
      text = JSON.stringify(value);
    } catch {
      // Nesting deep enough to overflow the stack.
      text = type === "array" ? "[...]" : "{...}";
    }
  }
  return `${truncate(text, SHOWN_CHARS_MAX)} (${type})`;
}

/** A string as a shortened JSON string literal. */
function shownText(s: string): string {
  return truncate(JSON.stringify(s), SHOWN_CHARS_MAX);
}

/**
 * At most `max` characters, marked with "..." when cut. Never splits a
 * surrogate pair: a lone half in a reason would make the rejects batch
 * unreadable, like in a payload.
 */
function truncate(s: string, max: number): string {
  if (s.length <= max) return s;
  let end = max - 3;
  const c = s.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end--;
  return s.slice(0, end) + "...";
}

/**
 * A key that occurs twice in one object of the payload, or undefined.
 * JSON.parse keeps the last of duplicate keys where other readers keep the
 * first or fail, so such a payload means different things to different readers.
 *
 * Every key is followed by a colon, and only strings hold other colons. The
 * common event has exactly its required keys, REQUIRED_FIELDS.length at the
 * top and ITEM_FIELDS.length per item: when the text has exactly that many
 * colons, it has no key beyond them, so no duplicate, or else a required key
 * is missing and the presence checks reject it anyway. Only other payloads
 * (extra fields, colons in strings) pay for counting the parsed keys, and only
 * a mismatch there for the exact scan.
 */
function findDuplicateKey(text: string, event: Record<string, unknown>): string | undefined {
  const colons = countChar(text, ":");
  const items = event.items;
  const itemCount = Array.isArray(items) ? items.length : 0;
  if (colons === REQUIRED_FIELDS.length + ITEM_FIELDS.length * itemCount) return undefined;
  if (colons === countKeys(event)) return undefined;
  return duplicateKey(text);
}

/**
 * Keys of all objects in a parsed JSON value. An explicit stack rather than
 * recursion, since JSON.parse accepts nesting deeper than the call stack.
 */
function countKeys(root: object): number {
  const stack: object[] = [root];
  let n = 0;
  while (stack.length > 0) {
    const v = stack.pop()!;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const x = v[i];
        if (typeof x === "object" && x !== null) stack.push(x);
      }
    } else {
      const o = v as Record<string, unknown>;
      for (const k in o) {
        n++;
        const x = o[k];
        if (typeof x === "object" && x !== null) stack.push(x);
      }
    }
  }
  return n;
}

function countChar(s: string, c: string): number {
  let n = 0;
  for (let i = s.indexOf(c); i !== -1; i = s.indexOf(c, i + 1)) n++;
  return n;
}

/**
 * The first key repeated within one object of valid JSON text, or undefined.
 * Keys are compared decoded, so "a" and "\u0061" are the same key.
 */
export function duplicateKey(text: string): string | undefined {
  // One entry per open container: the keys seen so far, or null for an array.
  const stack: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      let end = i + 1;
      for (;;) {
        const d = text.charCodeAt(end);
        if (d === 0x5c) end += 2;
        else if (d === 0x22) break;
        else end++;
      }
      if (expectKey) {
        const keys = stack[stack.length - 1]!;
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        if (keys.has(key)) return key;
        keys.add(key);
        expectKey = false;
      }
      i = end;
    } else if (c === 0x7b) {
      stack.push(new Set());
      expectKey = true;
    } else if (c === 0x5b) {
      stack.push(null);
    } else if (c === 0x7d || c === 0x5d) {
      stack.pop();
      expectKey = false;
    } else if (c === 0x2c) {
      expectKey = stack[stack.length - 1] !== null;
    }
  }
  return undefined;
}

/**
 * The first \u escape of valid JSON text that denotes half a surrogate pair
 * without its other half, or undefined. UTF-8 cannot encode such a string,
 * and DuckDB's reader rejects it.
 */
export function unpairedSurrogate(text: string): string | undefined {
  // Outside strings valid JSON has no backslash, and "\\" is consumed whole,
  // so hopping from backslash to backslash visits exactly the escapes.
  for (let i = text.indexOf("\\"); i !== -1; i = text.indexOf("\\", i)) {
    if (text.charCodeAt(i + 1) !== 0x75) {
      i += 2;
      continue;
    }
    const unit = parseInt(text.slice(i + 2, i + 6), 16);
    if (unit >= 0xdc00 && unit <= 0xdfff) return text.slice(i, i + 6);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = text.charCodeAt(i + 6) === 0x5c && text.charCodeAt(i + 7) === 0x75
        ? parseInt(text.slice(i + 8, i + 12), 16)
        : -1;
      if (!(next >= 0xdc00 && next <= 0xdfff)) return text.slice(i, i + 6);
      i += 12;
    } else {
      i += 6;
    }
  }
  return undefined;
}

/**
 * Byte offset of the first ill-formed UTF-8 sequence, or -1 (Unicode table
 * 3-7: no overlong forms, no surrogates, nothing above U+10FFFF, no
 * truncated sequences).
 */
export function invalidUtf8Offset(bytes: Uint8Array): number {
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    // Continuation bytes are 0x80-0xbf, except that the first one after
    // E0, ED, F0 and F4 is narrower (overlong, surrogate, above U+10FFFF).
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0;
      else if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90;
      else if (b === 0xf4) hi = 0x8f;
    } else {
      return i;
    }
    for (let k = 1; k <= need; k++) {
      if (i + k >= n) return i;
      const c = bytes[i + k];
      if (c < lo || c > hi) return i;
      lo = 0x80;
      hi = 0xbf;
    }
    i += need + 1;
  }
  return -1;
}
