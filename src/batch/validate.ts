/**
 * Decode + validate of one Kafka record into an order event. Runs on every
 * record, so the common path is straight-line checks on the parsed object;
 * anything that explains a rejection is computed only on rejection.
 *
 * The payload (the record value) is checked first, then the record's own
 * attributes, which are input as much as the payload is (validateRecord):
 * - the timestamp is epoch milliseconds in [0, 253402300799999]
 *   (1970-01-01T00:00:00.000Z .. 9999-12-31T23:59:59.999Z), or -1, Kafka's
 *   "no timestamp", which is accepted and staged as null; anything else would
 *   overflow DuckDB's timestamp arithmetic and fail the batch on every retry;
 * - the key is exactly the UTF-8 bytes of the payload's order_id: the
 *   producer contract that keeps one order's events on one partition, in
 *   order. A record without a key, or keyed otherwise, is rejected.
 * Headers are never read: whatever a record carries there (binary, huge,
 * duplicate or empty names) does not change its outcome.
 *
 * Besides the event contract, it rejects what would make DuckDB's read_json
 * fail on the staged batch (duplicate keys, unpaired surrogate escapes,
 * quantities beyond INTEGER, amounts beyond DECIMAL(12, 2)): one such record
 * accepted would fail its whole batch on every retry. Amounts are decided on
 * their JSON text, not on the parsed double: 297.980000001 has 9 decimals
 * even though it parses to a double that rounds to 297.98.
 *
 * Reasons are plain text for people and tables: characters that would not
 * show or would break a line (C0 and C1 controls, DEL, U+2028, U+2029, lone
 * surrogates) are written as \uXXXX escapes wherever they come from (a
 * quoted value, a key, the JSON parser's message).
 */
import {
  AMOUNT_END,
  EVENT_FIELDS,
  EVENT_TIMESTAMP_END,
  EVENT_TIMESTAMP_MIN,
  EVENT_TYPES,
  type EventType,
  ITEM_FIELDS as ITEM_FIELD_SPECS,
  MAX_EVENT_BYTES,
  ORDER_ID_LENGTH_MAX,
  type OrderStatus,
  QUANTITY_MAX,
  STATUSES,
} from "../events/contract.ts";

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
  | "inconsistent"
  /** The record's timestamp is neither a plausible instant nor -1 (none). */
  | "invalid_record"
  /** The record's key is missing or is not the payload's order_id. */
  | "invalid_key"
  /** Valid, but a table write failed on its values (src/streams/isolate.ts). */
  | "write_failed";

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

/** Kafka's record timestamp for "none" (a producer that sets none, old message formats). */
export const KAFKA_TIMESTAMP_NONE = -1;
/** 9999-12-31T23:59:59.999Z: the last instant every reader's timestamp type holds. */
export const KAFKA_TIMESTAMP_MAX = 253_402_300_799_999;

/**
 * Fields that must be present. payment_method is among them although it may
 * be null: the producer always writes the key, and its absence is one of the
 * generator's missing-field faults.
 */
export const REQUIRED_FIELDS = EVENT_FIELDS;

const ITEM_FIELDS = ITEM_FIELD_SPECS.map((f) => f.name);

/** Longest rendering of an offending value in a reason. */
const SHOWN_CHARS_MAX = 80;
/** Longest JSON.parse message quoted in a reason (V8 quotes the input). */
const PARSE_MESSAGE_CHARS_MAX = 200;
/** Keys up to this many bytes are shown as text (when UTF-8); longer ones by a hex prefix. */
const KEY_SHOWN_BYTES_MAX = 256;
/** Bytes of a key shown in hex. */
const KEY_HEX_BYTES_MAX = 32;

const EVENT_TYPE_LIST = EVENT_TYPES.join(", ");
const STATUS_LIST = STATUSES.join(", ");

// Decoding never fails; invalid input shows up as U+FFFD, and only a payload
// holding one is checked exactly (it may be a genuine U+FFFD). Non-fatal
// decoding measured several times faster than fatal decoding here. A leading
// byte order mark is rejected before decoding (DuckDB would refuse it too);
// ignoreBOM keeps the decoder from silently dropping one.
const DECODER = new TextDecoder("utf-8", { ignoreBOM: true });
const ENCODER = new TextEncoder();

/**
 * Validates a whole record: its payload (validateEvent), then its timestamp,
 * then its key. A record with a bad payload is rejected for the payload,
 * whatever its key and timestamp.
 */
export function validateRecord(
  value: Uint8Array | null,
  key: Uint8Array | null,
  timestampMs: number,
): ValidationResult {
  const result = validateEvent(value);
  if (!result.ok) return result;
  if (!isValidKafkaTimestamp(timestampMs)) {
    return reject(
      "invalid_record",
      `Kafka record timestamp ${String(timestampMs)} ms is outside ${KAFKA_TIMESTAMP_RANGE}`,
    );
  }
  const orderId = result.event.order_id;
  if (key === null) {
    return reject("invalid_key", `record has no key; expected the order_id ${shownText(orderId)}`);
  }
  if (!isUtf8Of(key, orderId)) {
    return reject(
      "invalid_key",
      `record key ${shownKey(key)} does not match order_id ${shownText(orderId)}`,
    );
  }
  return result;
}

/** A record timestamp the engine takes: an instant every reader's timestamp holds, or none (-1). */
export function isValidKafkaTimestamp(timestampMs: number): boolean {
  return (timestampMs >= 0 && timestampMs <= KAFKA_TIMESTAMP_MAX) ||
    timestampMs === KAFKA_TIMESTAMP_NONE;
}

const KAFKA_TIMESTAMP_RANGE = `${new Date(0).toISOString()}..${
  new Date(KAFKA_TIMESTAMP_MAX).toISOString()
}`;

export function validateEvent(value: Uint8Array | null): ValidationResult {
  if (value === null) return reject("null_value", "payload is null (a Kafka tombstone)");
  if (value.length > MAX_EVENT_BYTES) {
    return reject(
      "oversized",
      `payload is ${value.length} bytes, above the ${MAX_EVENT_BYTES}-byte limit`,
    );
  }
  if (value.length === 0) return reject("malformed_json", "malformed JSON: empty payload");
  if (value[0] === 0xef && value[1] === 0xbb && value[2] === 0xbf) {
    return reject(
      "malformed_json",
      "malformed JSON: payload starts with a UTF-8 byte order mark (EF BB BF)",
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
    return malformed(text, error);
  }
  // In valid JSON a backslash only starts an escape, so most payloads skip this.
  const escaped = text.indexOf("\\") !== -1;
  if (escaped) {
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
  const event = parsed as Record<string, unknown>;
  const items = event.items;
  const itemCount = Array.isArray(items) ? items.length : 0;
  scanColons(text, escaped);
  // Every key is followed by a colon, and only strings hold other colons.
  const onlyRequiredKeys = scan.colons ===
    REQUIRED_FIELDS.length + ITEM_FIELDS.length * itemCount;
  // Whether scanColons saw every amount key (see there).
  let amountKeysSeen = !escaped;
  if (!onlyRequiredKeys) {
    const duplicate = findDuplicateKey(text, event, scan.colons);
    if (duplicate !== undefined) {
      return reject("malformed_json", `malformed JSON: duplicate key ${shownText(duplicate)}`);
    }
    // findDuplicateKey counted the parsed keys by name.
    amountKeysSeen ||= keyCount.totalAmounts === scan.totalAmounts &&
      keyCount.unitPrices === scan.unitPrices;
  } else {
    amountKeysSeen ||= scan.totalAmounts === 1 && scan.unitPrices === itemCount;
  }
  const amountsChecked = amountKeysSeen && scan.amountsPlain;
  return checkEvent(event, amountsChecked ? undefined : amountLiterals(text));
}

/**
 * The reason for text JSON.parse refused: a raw control character inside a
 * string in words, when it is the parser's first complaint, else the parser's
 * message (shortened; reject() escapes what it quotes).
 */
function malformed(text: string, error: unknown): ValidationResult {
  const message = error instanceof Error ? error.message : String(error);
  const control = controlCharacterInString(text);
  if (control !== undefined) {
    // V8 names the offset of what it stumbled on; a syntax error before the
    // control character is the one to report.
    const position = / at position (\d+)/.exec(message);
    if (position === null || Number(position[1]) === control.at) {
      const code = control.code.toString(16).toUpperCase().padStart(4, "0");
      return reject(
        "malformed_json",
        `malformed JSON: control character U+${code} ${control.where}`,
      );
    }
  }
  return reject("malformed_json", `malformed JSON: ${truncate(message, PARSE_MESSAGE_CHARS_MAX)}`);
}

/**
 * The field checks proper, in the order of REQUIRED_FIELDS. `literals` are
 * the amounts' number literals as written, or undefined when every amount
 * literal is already known to have at most 2 decimals.
 */
function checkEvent(
  e: Record<string, unknown>,
  literals: AmountLiterals | undefined,
): ValidationResult {
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

  const amountProblem = checkAmount(
    "total_amount",
    totalAmount,
    literals === undefined ? undefined : literals.total ?? String(totalAmount),
  );
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
    const problem = checkItem(
      item as Record<string, unknown>,
      i,
      literals === undefined ? undefined : literals.unitPrices[i] ?? String(item.unit_price),
    );
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

function checkItem(
  item: Record<string, unknown>,
  i: number,
  unitPriceLiteral: string | undefined,
): ValidationResult | undefined {
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
  const priceProblem = checkAmount(`items[${i}].unit_price`, unitPrice, unitPriceLiteral);
  if (priceProblem !== undefined) return priceProblem;
  if (typeof category !== "string") return wrongType(`items[${i}].category`, "a string", category);
  return undefined;
}

/**
 * A money amount: a JSON number in [0, 1e10) with at most 2 decimals.
 * `literal` is its number literal as written, or undefined when its decimals
 * were checked already. Amounts land in DECIMAL(12, 2).
 */
function checkAmount(
  field: string,
  value: unknown,
  literal: string | undefined,
): ValidationResult | undefined {
  if (typeof value !== "number") return wrongType(field, AMOUNT_TYPE_EXPECTED, value);
  if (!(value >= 0 && value < AMOUNT_END)) return invalidValue(field, AMOUNT_RANGE_EXPECTED, value);
  if (literal !== undefined && !(decimalScale(literal, 0) <= 2)) {
    return reject(
      "invalid_value",
      `${field}: expected ${AMOUNT_TYPE_EXPECTED}, got ${
        truncate(literal, SHOWN_CHARS_MAX)
      } (number)`,
    );
  }
  return undefined;
}

/**
 * What scanColons found in the last text it scanned (one object reused:
 * nothing is allocated per record).
 */
const scan = {
  colons: 0,
  /** Keys taken for total_amount (see scanColons). */
  totalAmounts: 0,
  /** Keys taken for unit_price. */
  unitPrices: 0,
  /** Whether the values of all those keys are number literals with at most 2 decimals. */
  amountsPlain: true,
};

/**
 * Counts the colons of valid JSON text and, on the way, decides the
 * decimals of the amounts on their literals as written, for the common
 * payload, without a second parse.
 *
 * Each colon outside strings follows a key, and each key named total_amount
 * or unit_price spelled without escapes is taken here, wherever it is: by
 * its raw length and last two characters (cheap, and among the required
 * keys only those two match; checked at start-up), or, with `exactNames`,
 * by its whole name. The caller may rely on amountsPlain (every amount
 * literal has at most 2 decimals) once it knows that no amount key hides
 * behind an escape:
 * - the text has no backslash at all;
 * - or it holds nothing but the required keys (the colon count): an
 *   accepted event then has 1 total_amount key and one unit_price key per
 *   item, so counts of exactly 1 and the number of items mean all were seen
 *   (a payload that is not accepted is rejected whatever this says);
 * - or the counts, taken with `exactNames`, equal those of the parsed keys
 *   by name (countKeys).
 * Otherwise amountLiterals finds the amounts by their path.
 */
function scanColons(text: string, exactNames: boolean): void {
  let colons = 0;
  let totalAmounts = 0;
  let unitPrices = 0;
  let amountsPlain = true;
  for (let i = text.indexOf(":"); i !== -1; i = text.indexOf(":", i + 1)) {
    colons++;
    // The key's closing quote, before any whitespace. A quote before a
    // colon inside a string is escaped: a backslash precedes it, which the
    // checks below never take for a name's last letter.
    let end = i - 1;
    let c = text.charCodeAt(end);
    while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = text.charCodeAt(--end);
    if (c !== 0x22) continue;
    c = text.charCodeAt(end - 1);
    let start: number;
    if (c === 0x74 && text.charCodeAt(end - 2) === 0x6e) { // "...nt"
      start = end - 13;
      if (text.charCodeAt(start) !== 0x22) continue;
      if (exactNames && !text.startsWith(TOTAL_AMOUNT_KEY, start)) continue;
      totalAmounts++;
    } else if (c === 0x65 && text.charCodeAt(end - 2) === 0x63) { // "...ce"
      start = end - 11;
      if (text.charCodeAt(start) !== 0x22) continue;
      if (exactNames && !text.startsWith(UNIT_PRICE_KEY, start)) continue;
      unitPrices++;
    } else {
      continue;
    }
    // An escaped opening quote is part of a longer key: leave it to amountLiterals.
    if (text.charCodeAt(start - 1) === 0x5c || !(decimalScale(text, skipSpace(text, i + 1)) <= 2)) {
      amountsPlain = false;
    }
  }
  scan.colons = colons;
  scan.totalAmounts = totalAmounts;
  scan.unitPrices = unitPrices;
  scan.amountsPlain = amountsPlain;
}

const TOTAL_AMOUNT_KEY = '"total_amount"';
const UNIT_PRICE_KEY = '"unit_price"';

// scanColons tells the amount keys by raw length and last two characters:
// no other required key may share those.
for (const name of [...REQUIRED_FIELDS, ...ITEM_FIELDS]) {
  const tail = name.slice(-2);
  const amountLike = (name.length === 12 && tail === "nt") || (name.length === 10 && tail === "ce");
  if (amountLike !== (name === "total_amount" || name === "unit_price")) {
    throw new Error(`required field ${name} looks like an amount key to scanColons`);
  }
}

function skipSpace(text: string, at: number): number {
  for (;;) {
    const c = text.charCodeAt(at);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return at;
    at++;
  }
}

/**
 * Decimal places of the JSON number literal starting at `at`: fraction
 * digits minus the exponent, not counting trailing zeros (12.340 -> 2,
 * 1.5e1 -> 0, 1e-3 -> 3, 1000e-4 -> 1, 0.000 -> 0). NaN when no number
 * starts there. Exact for any literal: no conversion to a double.
 */
export function decimalScale(text: string, at: number): number {
  let i = at;
  let c = text.charCodeAt(i);
  if (c === 0x2d) c = text.charCodeAt(++i);
  if (!(c >= 0x30 && c <= 0x39)) return NaN;
  // Trailing zeros of the digits so far (integer and fraction together).
  let zeros = 0;
  let nonzero = false;
  for (; c >= 0x30 && c <= 0x39; c = text.charCodeAt(++i)) {
    if (c === 0x30) zeros++;
    else {
      zeros = 0;
      nonzero = true;
    }
  }
  let fraction = 0;
  if (c === 0x2e) {
    for (c = text.charCodeAt(++i); c >= 0x30 && c <= 0x39; c = text.charCodeAt(++i)) {
      fraction++;
      if (c === 0x30) zeros++;
      else {
        zeros = 0;
        nonzero = true;
      }
    }
  }
  // The common literal (12.34, 7) ends here.
  if (c !== 0x65 && c !== 0x45) return nonzero ? fraction - zeros : 0;
  c = text.charCodeAt(++i);
  let sign = 1;
  if (c === 0x2d) {
    sign = -1;
    c = text.charCodeAt(++i);
  } else if (c === 0x2b) {
    c = text.charCodeAt(++i);
  }
  // Beyond 2^53 digits stop counting exactly, but such an exponent is
  // out of range either way (Infinity or a scale far above 2).
  let exponent = 0;
  for (; c >= 0x30 && c <= 0x39; c = text.charCodeAt(++i)) exponent = exponent * 10 + c - 0x30;
  return nonzero ? fraction - sign * exponent - zeros : 0;
}

/** The amounts' number literals as written (undefined where the value is not a number). */
interface AmountLiterals {
  readonly total: string | undefined;
  /** By item index. */
  readonly unitPrices: readonly (string | undefined)[];
}

/**
 * The literals of total_amount (top level) and items[i].unit_price, found
 * by walking the JSON text (valid JSON: it parsed): exact whatever the
 * layout, escapes in keys, extra fields or nesting (an explicit stack, no
 * recursion). Of repeated keys the last counts, as for JSON.parse.
 */
function amountLiterals(text: string): AmountLiterals {
  let total: string | undefined;
  let unitPrices: (string | undefined)[] = [];
  // Per open container: whether it is an array, and its current element
  // index (arrays) or the KEY_* code of its current key (objects).
  const arrays: boolean[] = [];
  const steps: number[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      const end = stringEnd(text, i);
      if (expectKey) {
        steps[steps.length - 1] = keyCode(text, i, end);
        expectKey = false;
      }
      i = end;
    } else if (c === 0x7b) {
      arrays.push(false);
      steps.push(KEY_OTHER);
      expectKey = true;
    } else if (c === 0x5b) {
      // A new items array replaces an earlier one (a repeated key).
      if (steps.length === 1 && steps[0] === KEY_ITEMS) unitPrices = [];
      arrays.push(true);
      steps.push(0);
    } else if (c === 0x7d || c === 0x5d) {
      arrays.pop();
      steps.pop();
    } else if (c === 0x2c) {
      const top = steps.length - 1;
      if (arrays[top]) steps[top]++;
      else expectKey = true;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      let end = i + 1;
      for (; end < text.length; end++) {
        const d = text.charCodeAt(end);
        if (
          !((d >= 0x30 && d <= 0x39) || d === 0x2e || d === 0x65 || d === 0x45 || d === 0x2b ||
            d === 0x2d)
        ) break;
      }
      const depth = steps.length;
      if (depth === 1 && steps[0] === KEY_TOTAL_AMOUNT) {
        total = text.slice(i, end);
      } else if (
        depth === 3 && steps[0] === KEY_ITEMS && arrays[1] && !arrays[2] &&
        steps[2] === KEY_UNIT_PRICE
      ) {
        unitPrices[steps[1]] = text.slice(i, end);
      }
      i = end - 1;
    }
  }
  return { total, unitPrices };
}

const KEY_OTHER = 0;
const KEY_TOTAL_AMOUNT = 1;
const KEY_ITEMS = 2;
const KEY_UNIT_PRICE = 3;

/** Which of the keys amountLiterals follows is quoted at text[start..end], if any. */
function keyCode(text: string, start: number, end: number): number {
  const backslash = text.indexOf("\\", start);
  if (backslash !== -1 && backslash < end) {
    const key = decodeKey(text, start, end);
    return key === "total_amount"
      ? KEY_TOTAL_AMOUNT
      : key === "items"
      ? KEY_ITEMS
      : key === "unit_price"
      ? KEY_UNIT_PRICE
      : KEY_OTHER;
  }
  const length = end - start - 1;
  if (length === 12 && text.startsWith("total_amount", start + 1)) return KEY_TOTAL_AMOUNT;
  if (length === 5 && text.startsWith("items", start + 1)) return KEY_ITEMS;
  if (length === 10 && text.startsWith("unit_price", start + 1)) return KEY_UNIT_PRICE;
  return KEY_OTHER;
}

/**
 * Index of the closing quote of the string whose opening quote is at
 * `start` (text.length if none): the next quote after an even number of
 * backslashes.
 */
function stringEnd(text: string, start: number): number {
  for (let end = text.indexOf('"', start + 1); end !== -1; end = text.indexOf('"', end + 1)) {
    let k = end - 1;
    while (text.charCodeAt(k) === 0x5c) k--;
    if ((end - 1 - k) % 2 === 0) return end;
  }
  return text.length;
}

/** The key whose quoted text is text[start..end], decoded. */
function decodeKey(text: string, start: number, end: number): string {
  const raw = text.slice(start + 1, end);
  if (raw.indexOf("\\") === -1) return raw;
  try {
    return JSON.parse(text.slice(start, end + 1)) as string;
  } catch {
    return raw;
  }
}

/**
 * The first raw control character (U+0000-U+001F, which JSON strings must
 * escape) inside a string of JSON text, with the field it is in, or
 * undefined. For text JSON.parse refused, so it only keeps what structure it
 * can: the path is right up to the first syntax error.
 */
function controlCharacterInString(
  text: string,
): { at: number; code: number; where: string } | undefined {
  const path: (string | number)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      let end = i + 1;
      for (; end < text.length; end++) {
        const d = text.charCodeAt(end);
        if (d === 0x5c) end++;
        else if (d === 0x22) break;
        else if (d < 0x20) {
          const where = expectKey
            ? path.length === 1
              ? "in a top-level field name"
              : `in a field name in ${pathText(path.slice(0, -1))}`
            : `in field ${pathText(path)}`;
          return { at: end, code: d, where };
        }
      }
      if (expectKey) {
        path[path.length - 1] = decodeKey(text, i, end);
        expectKey = false;
      }
      i = end;
    } else if (c === 0x7b) {
      path.push("");
      expectKey = true;
    } else if (c === 0x5b) {
      path.push(0);
    } else if (c === 0x7d || c === 0x5d) {
      path.pop();
      expectKey = false;
    } else if (c === 0x2c) {
      const top = path.length - 1;
      if (typeof path[top] === "number") path[top] = (path[top] as number) + 1;
      else if (top >= 0) expectKey = true;
    }
  }
  return undefined;
}

/** A field path as in reasons: items[0].sku; "(top level)" for the root. */
function pathText(path: readonly (string | number)[]): string {
  let out = "";
  for (const step of path) {
    if (typeof step === "number") out += `[${step}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(step)) out += out === "" ? step : `.${step}`;
    else out += `[${shownText(step)}]`;
  }
  return out === "" ? "(top level)" : out;
}

/** 8-4-4-4-12 hex digits (either case); version and variant bits are not checked. */
function isUuid(s: string): boolean {
  if (s.length !== 36) return false;
  for (let i = 0; i < 36; i++) if (!isUuidCode(i, s.charCodeAt(i))) return false;
  return true;
}

/** Whether character code `c` may stand at position `i` of a 36-character UUID. */
export function isUuidCode(i: number, c: number): boolean {
  if (i === 8 || i === 13 || i === 18 || i === 23) return c === 0x2d;
  return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);
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
  return { ok: false, reason: plainText(reason), kind };
}

/**
 * `s` with every character that would not show or would break a line (C0
 * controls, DEL, C1 controls, U+2028, U+2029, unpaired surrogates) written
 * as a \uXXXX escape. A reason quotes input (values, keys, the parser's
 * message), which may hold any of them.
 */
export function plainText(s: string): string {
  let out: string | undefined;
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let unsafe = c < 0x20 || (c >= 0x7f && c <= 0x9f) || c === 0x2028 || c === 0x2029;
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = s.charCodeAt(i + 1);
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
      unsafe = true;
    }
    if (!unsafe) continue;
    out = (out ?? "") + s.slice(from, i) + "\\u" + c.toString(16).toUpperCase().padStart(4, "0");
    from = i + 1;
  }
  return out === undefined ? s : out + s.slice(from);
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

/** Whether `bytes` are exactly the UTF-8 encoding of `s` (a well-formed string). */
function isUtf8Of(bytes: Uint8Array, s: string): boolean {
  const n = s.length;
  // UTF-8 takes at least one byte per UTF-16 unit, exactly one only for ASCII.
  if (bytes.length === n) {
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80 || bytes[i] !== c) return false;
    }
    return true;
  }
  if (bytes.length < n || bytes.length > 3 * n) return false;
  const encoded = ENCODER.encode(s);
  if (encoded.length !== bytes.length) return false;
  for (let i = 0; i < encoded.length; i++) if (encoded[i] !== bytes[i]) return false;
  return true;
}

/**
 * A record key for a reason: as a quoted string when it is UTF-8 and short,
 * else by its length and a hex prefix (never raw bytes).
 */
function shownKey(key: Uint8Array): string {
  const utf8 = invalidUtf8Offset(key) === -1;
  if (utf8 && key.length <= KEY_SHOWN_BYTES_MAX) return shownText(DECODER.decode(key));
  let hex = "";
  for (let i = 0; i < Math.min(key.length, KEY_HEX_BYTES_MAX); i++) {
    hex += key[i].toString(16).padStart(2, "0");
  }
  if (key.length > KEY_HEX_BYTES_MAX) hex += "...";
  return `of ${key.length} bytes (${utf8 ? "" : "not UTF-8; "}hex ${hex})`;
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
 * is missing and the presence checks reject it anyway; the caller skips this
 * then. Only other payloads (extra fields, colons in strings) pay for
 * counting the parsed keys, and only a mismatch there for the exact scan.
 */
function findDuplicateKey(
  text: string,
  event: Record<string, unknown>,
  colons: number,
): string | undefined {
  if (colons === countKeys(event)) return undefined;
  return duplicateKey(text);
}

/**
 * Keys of all objects in a parsed JSON value (and in keyCount, those named
 * total_amount and unit_price). An explicit stack rather than recursion,
 * since JSON.parse accepts nesting deeper than the call stack.
 */
function countKeys(root: object): number {
  const stack: object[] = [root];
  let n = 0;
  let totalAmounts = 0;
  let unitPrices = 0;
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
        if (k === "total_amount") totalAmounts++;
        else if (k === "unit_price") unitPrices++;
        const x = o[k];
        if (typeof x === "object" && x !== null) stack.push(x);
      }
    }
  }
  keyCount.totalAmounts = totalAmounts;
  keyCount.unitPrices = unitPrices;
  return n;
}

/** What countKeys found besides the count: keys named like the amounts, anywhere. */
const keyCount = { totalAmounts: 0, unitPrices: 0 };

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
