/**
 * Order-lifecycle simulator: a pure, seeded source of e-commerce order events
 * in simulated event time. No I/O and no wall clock, so a seed reproduces the
 * stream exactly and tests can check every invariant the engine relies on.
 */
import { assert } from "../core/assert.ts";
import { Random, Zipf } from "../core/random.ts";
import { EVENT_TYPES, type OrderEvent, type OrderItem, STATUSES } from "../events/contract.ts";
import { ProductCatalog } from "./products.ts";

export interface LifecycleOptions {
  /** Everything derives from it; a number and its decimal text are the same seed. */
  seed: number | string;
  /** Event time of the first order, epoch milliseconds (fractions are dropped). */
  startTimeMs: number;
  /** Arrival rate of new orders in simulated time. */
  ordersPerSecond: number;
  /** Orders with a pending next event, at most; arrivals wait while it is reached. */
  maxOrdersInFlight: number;
  users: number;
  skus: number;
  /** Popularity skew of users and SKUs (Zipf exponent; 0 = uniform). */
  zipfExponent: number;
  /** P(CREATED -> PAID). */
  pPaid: number;
  /** P(CREATED -> CANCELLED | not paid); the rest are abandoned (no further events). */
  pCancelUnpaid: number;
  /** P(PAID -> CANCELLED). */
  pCancelPaid: number;
  /** P(PAID -> SHIPPED | not cancelled); the rest stay PAID. */
  pShipped: number;
  /** P(SHIPPED -> RETURNED). */
  pReturned: number;
  /** Means of the exponential delays before each step, in simulated milliseconds. */
  payDelayMeanMs: number;
  cancelDelayMeanMs: number;
  shipDelayMeanMs: number;
  returnDelayMeanMs: number;
}

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

export const DEFAULT_LIFECYCLE: Readonly<Omit<LifecycleOptions, "seed" | "startTimeMs">> = Object
  .freeze({
    ordersPerSecond: 50,
    maxOrdersInFlight: 20_000,
    users: 100_000,
    skus: 5_000,
    zipfExponent: 1.1,
    pPaid: 0.85,
    pCancelUnpaid: 0.05,
    pCancelPaid: 0.03,
    pShipped: 0.95,
    pReturned: 0.05,
    payDelayMeanMs: 3 * MINUTE_MS,
    cancelDelayMeanMs: 20 * MINUTE_MS,
    shipDelayMeanMs: 6 * HOUR_MS,
    returnDelayMeanMs: 4 * DAY_MS,
  });

/** Required options plus any overrides of DEFAULT_LIFECYCLE. */
export type LifecycleInit =
  & Pick<LifecycleOptions, "seed" | "startTimeMs">
  & Partial<Omit<LifecycleOptions, "seed" | "startTimeMs">>;

const PROBABILITIES = ["pPaid", "pCancelUnpaid", "pCancelPaid", "pShipped", "pReturned"] as const;
const DELAYS = [
  "payDelayMeanMs",
  "cancelDelayMeanMs",
  "shipDelayMeanMs",
  "returnDelayMeanMs",
] as const;
const COUNTS = ["maxOrdersInFlight", "users", "skus"] as const;

/** Fills in defaults and rejects values the simulation cannot honour. */
export function lifecycleOptions(init: LifecycleInit): Readonly<LifecycleOptions> {
  const o: LifecycleOptions = { ...DEFAULT_LIFECYCLE, ...init };
  const fail = (name: string, rule: string) => {
    const value = (o as unknown as Record<string, unknown>)[name];
    const shown = typeof value === "string" ? JSON.stringify(value) : String(value);
    return new RangeError(`${name} must be ${rule}, got ${shown}`);
  };
  if (!(typeof o.seed === "string" || (typeof o.seed === "number" && Number.isFinite(o.seed)))) {
    throw fail("seed", "a finite number or a string");
  }
  if (!isNumber(o.startTimeMs) || o.startTimeMs < 0) {
    throw fail("startTimeMs", "a finite number >= 0");
  }
  if (!isNumber(o.ordersPerSecond) || o.ordersPerSecond <= 0) {
    throw fail("ordersPerSecond", "a finite number > 0");
  }
  for (const name of COUNTS) {
    if (!Number.isSafeInteger(o[name]) || o[name] < 1) throw fail(name, "an integer >= 1");
  }
  if (!isNumber(o.zipfExponent) || o.zipfExponent < 0) {
    throw fail("zipfExponent", "a finite number >= 0");
  }
  for (const name of PROBABILITIES) {
    if (!isNumber(o[name]) || o[name] < 0 || o[name] > 1) throw fail(name, "a number in [0, 1]");
  }
  for (const name of DELAYS) {
    if (!isNumber(o[name]) || o[name] < 0) throw fail(name, "a finite number >= 0");
  }
  return Object.freeze(o);
}

function isNumber(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

const CURRENCIES = ["USD", "EUR", "GBP"] as const;
const CURRENCY_WEIGHTS = [0.8, 0.12, 0.08];
const PAYMENT_METHODS = [
  "credit_card",
  "debit_card",
  "paypal",
  "apple_pay",
  "bank_transfer",
] as const;
const PAYMENT_WEIGHTS = [0.45, 0.2, 0.18, 0.12, 0.05];
/** P(order has i + 1 distinct items): mostly one or two. */
const ITEM_COUNT_WEIGHTS = [0.45, 0.27, 0.13, 0.07, 0.04, 0.02, 0.01, 0.01];
/** P(quantity = i + 1): mostly one. */
const QUANTITY_WEIGHTS = [0.72, 0.16, 0.06, 0.03, 0.02, 0.01];

/** Cumulative form of `weights` for sampling by a linear scan (tables are tiny). */
function cumulative(weights: readonly number[]): Float64Array {
  const out = new Float64Array(weights.length);
  let sum = 0;
  for (let i = 0; i < weights.length; i++) out[i] = sum += weights[i];
  for (let i = 0; i < weights.length; i++) out[i] /= sum;
  out[weights.length - 1] = 1;
  return out;
}

function sampleIndex(random: Random, cdf: Float64Array): number {
  const u = random.float();
  let i = 0;
  while (cdf[i] <= u) i++;
  return i;
}

const CURRENCY_CDF = cumulative(CURRENCY_WEIGHTS);
/** JSON from after total_amount's value through the items' opening bracket, per pair. */
const CURRENCY_PAYMENT_JSON = CURRENCIES.flatMap((currency) =>
  PAYMENT_METHODS.map((method) =>
    `,"currency":"${currency}","payment_method":"${method}","items":[`
  )
);
const QUANTITY_TEXT = Array.from({ length: QUANTITY_WEIGHTS.length + 1 }, (_, q) => String(q));
const PAYMENT_CDF = cumulative(PAYMENT_WEIGHTS);
const ITEM_COUNT_CDF = cumulative(ITEM_COUNT_WEIGHTS);
const QUANTITY_CDF = cumulative(QUANTITY_WEIGHTS);

// Status codes, indexes into STATUSES and EVENT_TYPES.
const CREATED = 0;
const PAID = 1;
const SHIPPED = 2;
const CANCELLED = 3;
const RETURNED = 4;

/**
 * An in-flight order: its fixed contents, the status its pending event moves it
 * into, and the JSON of the fields every one of its events repeats.
 */
class Order implements EncodedOrder {
  next = CREATED;

  constructor(
    readonly orderId: string,
    readonly userId: string,
    readonly totalAmount: number,
    readonly currency: string,
    readonly paymentMethod: string,
    readonly items: OrderItem[],
    readonly json: string,
  ) {}
}

/**
 * Binary min-heap of pending events keyed by (time, seq), where seq is the push
 * order that keeps equal times deterministic. Keys and payload slots live in
 * typed arrays: with tens of thousands of orders in flight, comparing fields of
 * scattered objects missed the cache on every level.
 */
class EventHeap {
  #time = new Float64Array(0);
  #seq = new Float64Array(0);
  #slot = new Int32Array(0);
  #size = 0;
  readonly #capacityMax: number;

  constructor(capacityMax: number) {
    this.#capacityMax = capacityMax;
    this.#grow(Math.min(capacityMax, 1024));
  }

  get size(): number {
    return this.#size;
  }

  /** Time of the earliest event; only valid when size > 0. */
  get topTime(): number {
    return this.#time[0];
  }

  /** Slot of the earliest event; only valid when size > 0. */
  get topSlot(): number {
    return this.#slot[0];
  }

  push(time: number, seq: number, slot: number): void {
    if (this.#size === this.#time.length) this.#grow(Math.min(this.#capacityMax, 2 * this.#size));
    assert(this.#size < this.#time.length, "event heap over capacity");
    const times = this.#time;
    const seqs = this.#seq;
    const slots = this.#slot;
    let i = this.#size++;
    while (i > 0) {
      const parent = (i - 1) >>> 1;
      const pt = times[parent];
      if (pt < time || (pt === time && seqs[parent] < seq)) break;
      times[i] = pt;
      seqs[i] = seqs[parent];
      slots[i] = slots[parent];
      i = parent;
    }
    times[i] = time;
    seqs[i] = seq;
    slots[i] = slot;
  }

  /** Removes the earliest event. */
  pop(): void {
    const last = --this.#size;
    if (last > 0) this.#siftDown(this.#time[last], this.#seq[last], this.#slot[last]);
  }

  /** Gives the earliest event's slot a new, later key (cheaper than pop + push). */
  replaceTop(time: number, seq: number): void {
    this.#siftDown(time, seq, this.#slot[0]);
  }

  #siftDown(time: number, seq: number, slot: number): void {
    const times = this.#time;
    const seqs = this.#seq;
    const slots = this.#slot;
    const n = this.#size;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      let ct = times[child];
      const right = child + 1;
      if (right < n) {
        const rt = times[right];
        if (rt < ct || (rt === ct && seqs[right] < seqs[child])) {
          child = right;
          ct = rt;
        }
      }
      if (time < ct || (time === ct && seq < seqs[child])) break;
      times[i] = ct;
      seqs[i] = seqs[child];
      slots[i] = slots[child];
      i = child;
    }
    times[i] = time;
    seqs[i] = seq;
    slots[i] = slot;
  }

  #grow(capacity: number): void {
    const time = new Float64Array(capacity);
    const seq = new Float64Array(capacity);
    const slot = new Int32Array(capacity);
    time.set(this.#time);
    seq.set(this.#seq);
    slot.set(this.#slot);
    this.#time = time;
    this.#seq = seq;
    this.#slot = slot;
  }
}

/**
 * Simulates orders moving through CREATED -> PAID -> SHIPPED -> RETURNED (or
 * CANCELLED from CREATED or PAID) and yields their events in global event-time
 * order. New orders arrive as a Poisson process; each in-flight order has
 * exactly one pending event in a heap, decided when its previous event is
 * emitted. Per order, event times strictly increase (every delay is at least
 * 1 ms); globally they never decrease.
 */
export class OrderLifecycle {
  readonly options: Readonly<LifecycleOptions>;
  readonly #random: Random;
  readonly #catalog: ProductCatalog;
  readonly #userZipf: Zipf;
  readonly #skuZipf: Zipf;
  readonly #heap: EventHeap;
  /** In-flight orders by heap slot; freed slots are reused. */
  readonly #orders: (Order | undefined)[] = [];
  readonly #freeSlots: number[] = [];
  readonly #arrivalMeanMs: number;
  readonly #maxInFlight: number;
  readonly #maxItems: number;
  /** Scratch for distinct-SKU checks when building an order. */
  readonly #pickedRanks = new Int32Array(ITEM_COUNT_WEIGHTS.length);
  /** Item JSON per (SKU rank, quantity), flat, built on first use. */
  readonly #itemJson: (string | undefined)[];
  /** Pending arrival of the next new order; fractional so the rate stays exact. */
  #arrivalMs: number;
  #nowMs: number;
  #seq = 0;

  constructor(init: LifecycleInit) {
    const o = lifecycleOptions(init);
    this.options = o;
    this.#random = new Random(`${o.seed}/lifecycle`);
    this.#catalog = new ProductCatalog(o.seed, o.users, o.skus);
    this.#userZipf = new Zipf(o.users, o.zipfExponent);
    this.#skuZipf = new Zipf(o.skus, o.zipfExponent);
    this.#arrivalMeanMs = 1000 / o.ordersPerSecond;
    this.#maxInFlight = o.maxOrdersInFlight;
    this.#heap = new EventHeap(o.maxOrdersInFlight);
    this.#maxItems = Math.min(ITEM_COUNT_WEIGHTS.length, o.skus);
    this.#itemJson = new Array(o.skus * QUANTITY_TEXT.length);
    this.#nowMs = Math.floor(o.startTimeMs);
    this.#arrivalMs = this.#nowMs;
  }

  /** Orders that have a pending event. */
  get inFlight(): number {
    return this.#heap.size;
  }

  /** Event time of the last emitted event, epoch ms (the start time before the first). */
  get nowMs(): number {
    return this.#nowMs;
  }

  /** The next event in simulated event-time order. The stream never ends. */
  next(): OrderEvent {
    const heap = this.#heap;
    const arrivalMs = Math.floor(this.#arrivalMs);
    if (heap.size === 0 || (heap.size < this.#maxInFlight && arrivalMs < heap.topTime)) {
      // An arrival that waited for capacity happens as soon as there is room.
      const t = arrivalMs > this.#nowMs ? arrivalMs : this.#nowMs;
      this.#arrivalMs = Math.max(this.#arrivalMs, t) +
        this.#random.exponential(this.#arrivalMeanMs);
      this.#nowMs = t;
      const order = this.#newOrder();
      const event = this.#event(order, CREATED);
      const dueMs = this.#schedule(order, CREATED);
      if (dueMs >= 0) {
        const slot = this.#freeSlots.length > 0 ? this.#freeSlots.pop()! : this.#orders.length;
        this.#orders[slot] = order;
        heap.push(dueMs, this.#seq++, slot);
      }
      return event;
    }
    assert(heap.topTime >= this.#nowMs, "event time went backwards");
    this.#nowMs = heap.topTime;
    const slot = heap.topSlot;
    const order = this.#orders[slot]!;
    const event = this.#event(order, order.next);
    const dueMs = this.#schedule(order, order.next);
    if (dueMs >= 0) {
      heap.replaceTop(dueMs, this.#seq++);
    } else {
      heap.pop();
      this.#orders[slot] = undefined;
      this.#freeSlots.push(slot);
    }
    return event;
  }

  #event(order: Order, status: number): OrderEvent {
    return {
      event_id: uuid(this.#random),
      event_type: EVENT_TYPES[status],
      event_timestamp: this.#nowMs / 1000,
      order_id: order.orderId,
      user_id: order.userId,
      total_amount: order.totalAmount,
      currency: order.currency,
      payment_method: order.paymentMethod,
      items: order.items,
      current_status: STATUSES[status],
    };
  }

  /**
   * Decides what follows `status` for `order`, which was just emitted: sets
   * the status of its pending event and returns that event's time, or returns
   * -1 when the order is finished (terminal, abandoned, or left unshipped).
   */
  #schedule(order: Order, status: number): number {
    const o = this.options;
    const r = this.#random;
    let next: number;
    let meanMs: number;
    if (status === CREATED) {
      if (r.chance(o.pPaid)) {
        next = PAID;
        meanMs = o.payDelayMeanMs;
      } else if (r.chance(o.pCancelUnpaid)) {
        next = CANCELLED;
        meanMs = o.cancelDelayMeanMs;
      } else {
        return -1;
      }
    } else if (status === PAID) {
      if (r.chance(o.pCancelPaid)) {
        next = CANCELLED;
        meanMs = o.cancelDelayMeanMs;
      } else if (r.chance(o.pShipped)) {
        next = SHIPPED;
        meanMs = o.shipDelayMeanMs;
      } else {
        return -1;
      }
    } else if (status === SHIPPED && r.chance(o.pReturned)) {
      next = RETURNED;
      meanMs = o.returnDelayMeanMs;
    } else {
      return -1;
    }
    order.next = next;
    return this.#nowMs + Math.max(1, Math.round(r.exponential(meanMs)));
  }

  #newOrder(): Order {
    const r = this.#random;
    const orderId = uuid(r);
    const userId = this.#catalog.userId(this.#userZipf.sample(r));
    const currency = sampleIndex(r, CURRENCY_CDF);
    const payment = sampleIndex(r, PAYMENT_CDF);
    const count = Math.min(1 + sampleIndex(r, ITEM_COUNT_CDF), this.#maxItems);
    const picked = this.#pickedRanks;
    const items: OrderItem[] = new Array(count);
    let itemsJson = "";
    let totalCents = 0;
    for (let i = 0; i < count; i++) {
      const rank = this.#distinctSku(picked, i);
      picked[i] = rank;
      const product = this.#catalog.product(rank);
      const quantity = 1 + sampleIndex(r, QUANTITY_CDF);
      // Integer cents: summing binary fractions would drift off the cent.
      totalCents += quantity * product.unitPriceCents;
      items[i] = Object.freeze({
        sku: product.sku,
        quantity,
        unit_price: product.unitPrice,
        category: product.category,
      });
      const itemJson = this.#itemJsonOf(rank, quantity);
      itemsJson = i === 0 ? itemJson : itemsJson + "," + itemJson;
    }
    const totalAmount = totalCents / 100;
    // The order's share of every event's JSON, from pieces known not to need
    // escaping (generated ids, catalog names, constants). The pieces are flat
    // strings, so the order keeps only a handful of concatenation nodes;
    // joining each order into one flat string instead cost a third of next().
    const json = ',"order_id":"' + orderId + '","user_id":"' + userId + '","total_amount":' +
      String(totalAmount) + CURRENCY_PAYMENT_JSON[currency * PAYMENT_METHODS.length + payment] +
      itemsJson + "]";
    const order = new Order(
      orderId,
      userId,
      totalAmount,
      CURRENCIES[currency],
      PAYMENT_METHODS[payment],
      items,
      json,
    );
    // The link lets encodeEvent reuse the order's JSON; freezing the items
    // keeps that JSON true for as long as the array lives.
    Object.defineProperty(items, ENCODED_ORDER, { value: order });
    Object.freeze(items);
    return order;
  }

  #itemJsonOf(rank: number, quantity: number): string {
    const at = rank * QUANTITY_TEXT.length + quantity;
    let json = this.#itemJson[at];
    if (json === undefined) {
      // Joined once into a flat string that every order with this item shares.
      const p = this.#catalog.product(rank);
      json = [
        '{"sku":',
        quote(p.sku),
        ',"quantity":',
        QUANTITY_TEXT[quantity],
        ',"unit_price":',
        num(p.unitPrice),
        ',"category":',
        quote(p.category),
        "}",
      ].join("");
      this.#itemJson[at] = json;
    }
    return json;
  }

  /** A popular SKU rank not among `picked[0..count)`. */
  #distinctSku(picked: Int32Array, count: number): number {
    for (let attempt = 0; attempt < 16; attempt++) {
      const rank = this.#skuZipf.sample(this.#random);
      if (!contains(picked, count, rank)) return rank;
    }
    // Strong skew over a tiny catalog can keep hitting the same few SKUs;
    // fall back to the most popular one not yet taken (count < skus holds).
    let rank = 0;
    while (contains(picked, count, rank)) rank++;
    return rank;
  }
}

const HEX_DIGITS = new Uint8Array([...("0123456789abcdef")].map((c) => c.charCodeAt(0)));

/**
 * Exactly the string `random.uuid()` returns, from the same four draws, about
 * seven times faster: one flat string from char codes instead of a 16-byte
 * buffer and twenty concatenations. One per event plus one per order made
 * uuids the largest cost of `next()`.
 */
export function uuid(random: Random): string {
  const a = random.uint32();
  const b = random.uint32();
  const c = random.uint32();
  const d = random.uint32();
  const h = HEX_DIGITS;
  // Byte k of a word is (w >>> 8k) & 0xff, printed high nibble first, bytes
  // in little-endian order as Random.uuid lays them out.
  const version = ((b >>> 16) & 0x0f) | 0x40;
  const variant = (c & 0x3f) | 0x80;
  return String.fromCharCode(
    h[(a >>> 4) & 15],
    h[a & 15],
    h[(a >>> 12) & 15],
    h[(a >>> 8) & 15],
    h[(a >>> 20) & 15],
    h[(a >>> 16) & 15],
    h[a >>> 28],
    h[(a >>> 24) & 15],
    45,
    h[(b >>> 4) & 15],
    h[b & 15],
    h[(b >>> 12) & 15],
    h[(b >>> 8) & 15],
    45,
    h[version >>> 4],
    h[version & 15],
    h[b >>> 28],
    h[(b >>> 24) & 15],
    45,
    h[variant >>> 4],
    h[variant & 15],
    h[(c >>> 12) & 15],
    h[(c >>> 8) & 15],
    45,
    h[(c >>> 20) & 15],
    h[(c >>> 16) & 15],
    h[c >>> 28],
    h[(c >>> 24) & 15],
    h[(d >>> 4) & 15],
    h[d & 15],
    h[(d >>> 12) & 15],
    h[(d >>> 8) & 15],
    h[(d >>> 20) & 15],
    h[(d >>> 16) & 15],
    h[d >>> 28],
    h[(d >>> 24) & 15],
  );
}

function contains(values: Int32Array, count: number, value: number): boolean {
  for (let i = 0; i < count; i++) if (values[i] === value) return true;
  return false;
}

/**
 * JSON text of an event with keys in `OrderEvent` order, whatever order the
 * object's own keys are in, so equal events encode to equal bytes. Amounts are
 * JSON numbers (12.5 prints as 12.5).
 */
export function encodeEvent(e: OrderEvent): string {
  const cached = (e.items as { [ENCODED_ORDER]?: EncodedOrder })[ENCODED_ORDER];
  // Events from OrderLifecycle reuse their order's JSON, which is most of the
  // text, unless a caller has since changed one of those fields on the event.
  const orderFields = cached !== undefined && cached.orderId === e.order_id &&
      cached.userId === e.user_id && cached.totalAmount === e.total_amount &&
      cached.currency === e.currency && cached.paymentMethod === e.payment_method
    ? cached.json
    : encodeOrderFields(
      e.order_id,
      e.user_id,
      e.total_amount,
      e.currency,
      e.payment_method,
      e.items,
    );
  return '{"event_id":' + quote(e.event_id) +
    ',"event_type":' + quote(e.event_type) +
    ',"event_timestamp":' + num(e.event_timestamp) +
    orderFields +
    ',"current_status":' + quote(e.current_status) + "}";
}

/** Hidden (symbol-keyed, non-enumerable) link from a generated items array to its order. */
const ENCODED_ORDER = Symbol("encodedOrder");

interface EncodedOrder {
  readonly orderId: string;
  readonly userId: string;
  readonly totalAmount: number;
  readonly currency: string;
  readonly paymentMethod: string;
  /** `encodeOrderFields` of the fields above and the items array holding the link. */
  readonly json: string;
}

/** The part of an event's JSON from `,"order_id":` through the items array. */
function encodeOrderFields(
  orderId: string,
  userId: string,
  totalAmount: number,
  currency: string,
  paymentMethod: string,
  items: readonly OrderItem[],
): string {
  const parts = [
    ',"order_id":',
    quote(orderId),
    ',"user_id":',
    quote(userId),
    ',"total_amount":',
    num(totalAmount),
    ',"currency":',
    quote(currency),
    ',"payment_method":',
    quote(paymentMethod),
    ',"items":[',
  ];
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    parts.push(
      i === 0 ? '{"sku":' : ',{"sku":',
      quote(item.sku),
      ',"quantity":',
      num(item.quantity),
      ',"unit_price":',
      num(item.unit_price),
      ',"category":',
      quote(item.category),
      "}",
    );
  }
  parts.push("]");
  return parts.join("");
}

function quote(s: string): string {
  // Generated ids and names never need escaping, and a scan is cheaper than a
  // regular expression at these lengths; JSON.stringify handles the rest
  // (controls, quote, backslash, and surrogates, which it escapes when lone).
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) {
      return JSON.stringify(s);
    }
  }
  return '"' + s + '"';
}

function num(n: number): string {
  // Same as JSON.stringify: non-finite numbers become null.
  return Number.isFinite(n) ? String(n) : "null";
}
