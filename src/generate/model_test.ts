import assert from "node:assert/strict";
import { Random } from "../core/random.ts";
import {
  EVENT_FIELDS,
  EVENT_TYPES,
  eventTypeOf,
  isValidTransition,
  type OrderEvent,
  type OrderStatus,
  STATUSES,
  TRANSITIONS,
} from "../events/contract.ts";
import {
  DEFAULT_LIFECYCLE,
  encodeEvent,
  type LifecycleInit,
  lifecycleOptions,
  OrderLifecycle,
  uuid,
} from "./model.ts";

const START_MS = Date.UTC(2026, 0, 1);

function take(lifecycle: OrderLifecycle, n: number): OrderEvent[] {
  const out: OrderEvent[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = lifecycle.next();
  return out;
}

function cents(amount: number): number {
  const c = Math.round(amount * 100);
  // Two decimals at most: the amount is exactly the cent value's nearest double.
  assert.equal(c / 100, amount, `${amount} has more than 2 decimals`);
  return c;
}

Deno.test("isValidTransition allows exactly the lifecycle edges", () => {
  const allowed = new Set([
    "null>CREATED",
    "CREATED>PAID",
    "CREATED>CANCELLED",
    "PAID>SHIPPED",
    "PAID>CANCELLED",
    "SHIPPED>RETURNED",
  ]);
  for (const from of [null, ...STATUSES]) {
    for (const to of STATUSES) {
      assert.equal(isValidTransition(from, to), allowed.has(`${from}>${to}`), `${from} -> ${to}`);
    }
  }
  assert.deepEqual(TRANSITIONS.CANCELLED, []);
  assert.deepEqual(TRANSITIONS.RETURNED, []);
});

Deno.test("eventTypeOf maps each status to the event that reaches it", () => {
  assert.deepEqual(STATUSES.map(eventTypeOf), [...EVENT_TYPES]);
});

Deno.test("OrderLifecycle.next never emits an invalid transition over 200k events", () => {
  const lifecycle = new OrderLifecycle({ seed: "transitions", startTimeMs: START_MS });
  const status = new Map<string, OrderStatus>();
  const lastMs = new Map<string, number>();
  let previousTs = -Infinity;
  const counts = Object.fromEntries(EVENT_TYPES.map((t) => [t, 0]));
  for (let i = 0; i < 200_000; i++) {
    const e = lifecycle.next();
    counts[e.event_type]++;
    const from = status.get(e.order_id) ?? null;
    if (from === null) assert.equal(e.event_type, "ORDER_CREATED", `first event of ${e.order_id}`);
    assert.ok(
      isValidTransition(from, e.current_status),
      `${e.order_id}: ${from} -> ${e.current_status} at event ${i}`,
    );
    status.set(e.order_id, e.current_status);
    assert.ok(e.event_timestamp >= previousTs, `global time went back at event ${i}`);
    previousTs = e.event_timestamp;
    const ms = Math.round(e.event_timestamp * 1000);
    const last = lastMs.get(e.order_id);
    if (last !== undefined) assert.ok(ms > last, `${e.order_id} time did not increase`);
    lastMs.set(e.order_id, ms);
  }
  // Every kind of step actually happens, so the checks above were exercised.
  for (const type of EVENT_TYPES) assert.ok(counts[type] > 0, `no ${type} events`);
});

Deno.test("OrderLifecycle.next is deterministic for a seed", () => {
  const options = { seed: 1234, startTimeMs: START_MS };
  const a = new OrderLifecycle(options);
  const b = new OrderLifecycle(options);
  for (let i = 0; i < 50_000; i++) {
    const x = encodeEvent(a.next());
    const y = encodeEvent(b.next());
    if (x !== y) assert.fail(`streams diverge at event ${i}:\n${x}\n${y}`);
  }
  assert.equal(a.nowMs, b.nowMs);
  assert.equal(a.inFlight, b.inFlight);
});

Deno.test("OrderLifecycle.next differs between seeds", () => {
  const a = take(new OrderLifecycle({ seed: 1, startTimeMs: START_MS }), 1000).map(encodeEvent);
  const b = take(new OrderLifecycle({ seed: 2, startTimeMs: START_MS }), 1000).map(encodeEvent);
  const c = take(new OrderLifecycle({ seed: "1", startTimeMs: START_MS }), 1000).map(encodeEvent);
  const shared = (x: string[], y: string[]) => x.filter((s, i) => s === y[i]).length;
  assert.equal(shared(a, b), 0);
  // A number and its decimal text are one seed, so `--seed 1` matches seed: 1.
  assert.deepEqual(a, c);
});

Deno.test("OrderLifecycle.next emits totals equal to the item sums in cents", () => {
  const lifecycle = new OrderLifecycle({ seed: "totals", startTimeMs: START_MS });
  for (let i = 0; i < 50_000; i++) {
    const e = lifecycle.next();
    let sum = 0;
    for (const item of e.items) sum += item.quantity * cents(item.unit_price);
    assert.equal(cents(e.total_amount), sum, `event ${i} of ${e.order_id}`);
  }
});

Deno.test("OrderLifecycle.next emits well-formed orders", () => {
  const lifecycle = new OrderLifecycle({ seed: "shape", startTimeMs: START_MS });
  const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
  const eventIds = new Set<string>();
  for (let i = 0; i < 20_000; i++) {
    const e = lifecycle.next();
    assert.deepEqual(Object.keys(e), [...EVENT_FIELDS]);
    assert.match(e.event_id, uuidPattern);
    assert.match(e.order_id, uuidPattern);
    assert.ok(!eventIds.has(e.event_id), `duplicate event_id ${e.event_id}`);
    eventIds.add(e.event_id);
    assert.match(e.user_id, /^user-\d{6}$/);
    assert.ok(["USD", "EUR", "GBP"].includes(e.currency), e.currency);
    assert.ok(
      ["credit_card", "debit_card", "paypal", "apple_pay", "bank_transfer"].includes(
        e.payment_method,
      ),
      e.payment_method,
    );
    assert.ok(e.items.length >= 1 && e.items.length <= 8, `${e.items.length} items`);
    assert.equal(new Set(e.items.map((item) => item.sku)).size, e.items.length, "repeated sku");
    for (const item of e.items) {
      assert.match(item.sku, /^SKU-\d{5}$/);
      assert.ok(Number.isInteger(item.quantity) && item.quantity >= 1, `quantity ${item.quantity}`);
      assert.ok(item.unit_price >= 1.99 && item.unit_price <= 999.99, `price ${item.unit_price}`);
      assert.equal(typeof item.category, "string");
    }
    // Millisecond precision: the timestamp is an exact number of milliseconds.
    assert.equal(Math.round(e.event_timestamp * 1000) / 1000, e.event_timestamp);
  }
});

Deno.test("OrderLifecycle.next keeps current_status consistent with event_type", () => {
  const lifecycle = new OrderLifecycle({ seed: "status", startTimeMs: START_MS });
  for (let i = 0; i < 20_000; i++) {
    const e = lifecycle.next();
    assert.equal(e.current_status, STATUSES[EVENT_TYPES.indexOf(e.event_type)]);
  }
});

Deno.test("OrderLifecycle.next repeats an order's contents on each of its events", () => {
  const lifecycle = new OrderLifecycle({ seed: "contents", startTimeMs: START_MS });
  const first = new Map<string, string>();
  for (let i = 0; i < 50_000; i++) {
    const e = lifecycle.next();
    const contents = JSON.stringify([
      e.user_id,
      e.total_amount,
      e.currency,
      e.payment_method,
      e.items,
    ]);
    const seen = first.get(e.order_id);
    if (seen === undefined) first.set(e.order_id, contents);
    else assert.equal(contents, seen, `${e.order_id} changed`);
  }
});

Deno.test("OrderLifecycle.next starts at startTimeMs and then keeps the arrival rate", () => {
  // Short delays and a roomy bound: arrivals never wait for capacity.
  const lifecycle = new OrderLifecycle({
    seed: "rate",
    startTimeMs: START_MS + 0.9,
    ordersPerSecond: 200,
    maxOrdersInFlight: 1_000_000,
    shipDelayMeanMs: 60_000,
    returnDelayMeanMs: 60_000,
  });
  const firstEvent = lifecycle.next();
  assert.equal(firstEvent.event_type, "ORDER_CREATED");
  assert.equal(firstEvent.event_timestamp, START_MS / 1000);
  let created = 1;
  while (lifecycle.nowMs < START_MS + 600_000) {
    if (lifecycle.next().event_type === "ORDER_CREATED") created++;
  }
  // 120,000 expected; a Poisson count's standard deviation is about 350.
  assert.ok(Math.abs(created - 120_000) < 2_000, `${created} orders in 600 s at 200/s`);
});

Deno.test("OrderLifecycle.next follows the step probabilities and delay means", () => {
  const init: LifecycleInit = {
    seed: "distribution",
    startTimeMs: START_MS,
    ordersPerSecond: 20,
    maxOrdersInFlight: 1_000_000,
    // Short enough that every order started below is resolved when the loop
    // ends: a delay above 80 minutes has a chance of e^-16.
    shipDelayMeanMs: 5 * 60_000,
    returnDelayMeanMs: 5 * 60_000,
  };
  const o = lifecycleOptions(init);
  const lifecycle = new OrderLifecycle(init);
  const createdAt = new Map<string, number>();
  const paidAt = new Map<string, number>();
  const paid = new Set<string>();
  const cancelledUnpaid = new Set<string>();
  const shipped = new Set<string>();
  const returned = new Set<string>();
  const payDelays: number[] = [];
  const cutoffMs = START_MS + 30 * 60_000;
  while (lifecycle.nowMs < cutoffMs + 2 * 60 * 60_000) {
    const e = lifecycle.next();
    const ms = Math.round(e.event_timestamp * 1000);
    if (e.event_type === "ORDER_CREATED") {
      if (ms < cutoffMs) createdAt.set(e.order_id, ms);
      continue;
    }
    const created = createdAt.get(e.order_id);
    if (created === undefined) continue;
    if (e.event_type === "ORDER_PAID") {
      paid.add(e.order_id);
      paidAt.set(e.order_id, ms);
      payDelays.push(ms - created);
    } else if (e.event_type === "ORDER_CANCELLED" && !paid.has(e.order_id)) {
      cancelledUnpaid.add(e.order_id);
    } else if (e.event_type === "ORDER_SHIPPED") {
      shipped.add(e.order_id);
    } else if (e.event_type === "ORDER_RETURNED") {
      returned.add(e.order_id);
    }
  }
  const n = createdAt.size;
  assert.ok(n > 30_000, `${n} orders`);
  const near = (actual: number, expected: number, tolerance: number, what: string) =>
    assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual} vs ${expected}`);
  near(paid.size / n, o.pPaid, 0.01, "share paid");
  near(cancelledUnpaid.size / (n - paid.size), o.pCancelUnpaid, 0.01, "share cancelled unpaid");
  near(shipped.size / paid.size, (1 - o.pCancelPaid) * o.pShipped, 0.01, "share shipped");
  near(returned.size / shipped.size, o.pReturned, 0.01, "share returned");
  const meanPayMs = payDelays.reduce((a, b) => a + b, 0) / payDelays.length;
  near(meanPayMs / o.payDelayMeanMs, 1, 0.03, "mean pay delay ratio");
});

Deno.test("OrderLifecycle.next skews users, item counts and quantities", () => {
  const lifecycle = new OrderLifecycle({ seed: "skew", startTimeMs: START_MS });
  const perUser = new Map<string, number>();
  const itemCounts = [0, 0, 0, 0, 0, 0, 0, 0, 0];
  let quantityOne = 0;
  let quantities = 0;
  let usd = 0;
  let orders = 0;
  for (let i = 0; i < 100_000; i++) {
    const e = lifecycle.next();
    if (e.event_type !== "ORDER_CREATED") continue;
    orders++;
    perUser.set(e.user_id, (perUser.get(e.user_id) ?? 0) + 1);
    itemCounts[e.items.length]++;
    for (const item of e.items) {
      quantities++;
      if (item.quantity === 1) quantityOne++;
    }
    if (e.currency === "USD") usd++;
  }
  const frequencies = [...perUser.values()].sort((a, b) => b - a);
  const median = frequencies[frequencies.length >> 1];
  assert.ok(frequencies[0] > 50 * median, `top user ${frequencies[0]}, median ${median}`);
  assert.ok((itemCounts[1] + itemCounts[2]) / orders > 0.6, "orders of 1-2 items");
  assert.ok(itemCounts[1] > itemCounts[2] && itemCounts[2] > itemCounts[3], "item counts");
  assert.ok(quantityOne / quantities > 0.6, "quantity 1");
  assert.ok(usd / orders > 0.7 && usd / orders < 0.9, "share USD");
});

Deno.test("OrderLifecycle.next keeps at most maxOrdersInFlight orders", () => {
  const lifecycle = new OrderLifecycle({
    seed: "bound",
    startTimeMs: START_MS,
    maxOrdersInFlight: 50,
  });
  let created = 0;
  let peak = 0;
  for (let i = 0; i < 20_000; i++) {
    if (lifecycle.next().event_type === "ORDER_CREATED") created++;
    assert.ok(lifecycle.inFlight <= 50, `${lifecycle.inFlight} in flight at event ${i}`);
    peak = Math.max(peak, lifecycle.inFlight);
  }
  assert.equal(peak, 50);
  // Arrivals resume whenever an order finishes: the stream does not stall.
  assert.ok(created > 1_000, `${created} orders created`);
});

Deno.test("OrderLifecycle.next works with a single in-flight order and a single SKU", () => {
  const lifecycle = new OrderLifecycle({
    seed: "tiny",
    startTimeMs: START_MS,
    maxOrdersInFlight: 1,
    users: 1,
    skus: 1,
  });
  const status = new Map<string, OrderStatus>();
  for (const e of take(lifecycle, 5_000)) {
    assert.ok(isValidTransition(status.get(e.order_id) ?? null, e.current_status));
    status.set(e.order_id, e.current_status);
    assert.equal(e.items.length, 1);
    assert.equal(e.user_id, "user-000001");
    assert.ok(lifecycle.inFlight <= 1);
  }
});

Deno.test("OrderLifecycle rejects invalid options with a RangeError naming them", () => {
  const cases: [Partial<LifecycleInit>, string][] = [
    [{ ordersPerSecond: -1 }, "ordersPerSecond must be a finite number > 0, got -1"],
    [{ ordersPerSecond: 0 }, "ordersPerSecond must be a finite number > 0, got 0"],
    [{ ordersPerSecond: Infinity }, "ordersPerSecond must be a finite number > 0, got Infinity"],
    [{ users: 0 }, "users must be an integer >= 1, got 0"],
    [{ skus: 2.5 }, "skus must be an integer >= 1, got 2.5"],
    [{ maxOrdersInFlight: 0 }, "maxOrdersInFlight must be an integer >= 1, got 0"],
    [{ pPaid: 1.5 }, "pPaid must be a number in [0, 1], got 1.5"],
    [{ pCancelUnpaid: -0.1 }, "pCancelUnpaid must be a number in [0, 1], got -0.1"],
    [{ pCancelPaid: NaN }, "pCancelPaid must be a number in [0, 1], got NaN"],
    [{ pShipped: 2 }, "pShipped must be a number in [0, 1], got 2"],
    [{ pReturned: -1 }, "pReturned must be a number in [0, 1], got -1"],
    [{ payDelayMeanMs: -5 }, "payDelayMeanMs must be a finite number >= 0, got -5"],
    [
      { returnDelayMeanMs: Infinity },
      "returnDelayMeanMs must be a finite number >= 0, got Infinity",
    ],
    [{ zipfExponent: -1 }, "zipfExponent must be a finite number >= 0, got -1"],
    [{ startTimeMs: -1 }, "startTimeMs must be a finite number >= 0, got -1"],
    [{ seed: NaN }, "seed must be a finite number or a string, got NaN"],
    [
      { pPaid: "0.5" as unknown as number },
      'pPaid must be a number in [0, 1], got "0.5"',
    ],
  ];
  for (const [override, message] of cases) {
    const init = { seed: 1, startTimeMs: START_MS, ...override };
    assert.throws(() => new OrderLifecycle(init), { name: "RangeError", message });
  }
});

Deno.test("lifecycleOptions fills in DEFAULT_LIFECYCLE", () => {
  const o = lifecycleOptions({ seed: "x", startTimeMs: START_MS, pPaid: 0.5 });
  assert.equal(o.pPaid, 0.5);
  assert.equal(o.ordersPerSecond, DEFAULT_LIFECYCLE.ordersPerSecond);
  assert.equal(o.maxOrdersInFlight, 20_000);
  assert.equal(o.users, 100_000);
  assert.equal(o.skus, 5_000);
  assert.ok(Object.isFrozen(o));
});

Deno.test("encodeEvent writes the keys in interface order whatever the object's order", () => {
  const e = new OrderLifecycle({ seed: "encode", startTimeMs: START_MS }).next();
  const text = encodeEvent(e);
  assert.equal(text, JSON.stringify(e));
  assert.deepEqual(Object.keys(JSON.parse(text)), [...EVENT_FIELDS]);
  const reversed = Object.fromEntries(Object.entries(e).reverse()) as unknown as OrderEvent;
  assert.equal(encodeEvent(reversed), text);
  const plainCopy = JSON.parse(text) as OrderEvent;
  assert.equal(encodeEvent(plainCopy), text);
});

Deno.test("encodeEvent matches JSON.stringify for generated events", () => {
  const lifecycle = new OrderLifecycle({ seed: "stringify", startTimeMs: START_MS });
  for (let i = 0; i < 50_000; i++) {
    const e = lifecycle.next();
    const text = encodeEvent(e);
    if (text !== JSON.stringify(e)) assert.fail(`event ${i}:\n${text}\n${JSON.stringify(e)}`);
  }
});

Deno.test("encodeEvent reflects fields changed on a generated event", () => {
  const lifecycle = new OrderLifecycle({ seed: "mutate", startTimeMs: START_MS });
  for (const e of take(lifecycle, 200)) {
    const changed = { ...e, total_amount: 12.5, user_id: 'quote"d', event_timestamp: 1.5 };
    assert.equal(encodeEvent(changed), JSON.stringify(changed));
    assert.equal(encodeEvent(e), JSON.stringify(e));
  }
});

Deno.test("encodeEvent escapes strings like JSON.stringify", () => {
  const e: OrderEvent = {
    event_id: "a\nb",
    event_type: "ORDER_PAID",
    event_timestamp: 1767225600.123,
    order_id: "\u0001\\",
    user_id: "ünïcode \ud83d\ude00 lone \ud800",
    total_amount: 12.5,
    currency: "USD",
    payment_method: "paypal",
    items: [{ sku: '"q"', quantity: 1, unit_price: 12.5, category: "books" }],
    current_status: "PAID",
  };
  assert.equal(encodeEvent(e), JSON.stringify(e));
  assert.ok(!encodeEvent(e).includes("\n"));
});

Deno.test("OrderLifecycle.next shares one frozen items array per order", () => {
  const lifecycle = new OrderLifecycle({ seed: "frozen", startTimeMs: START_MS });
  const e = lifecycle.next();
  assert.ok(Object.isFrozen(e.items) && Object.isFrozen(e.items[0]));
  assert.throws(() => {
    e.items[0].quantity = 99;
  }, TypeError);
  // The event itself is the caller's to change (a wall-clock source rewrites timestamps).
  e.event_timestamp = 1;
  assert.equal(JSON.parse(encodeEvent(e)).event_timestamp, 1);
});

Deno.test("uuid returns what Random.uuid returns from the same state", () => {
  for (let seed = 0; seed < 2_000; seed++) {
    const a = new Random(seed);
    const b = new Random(seed);
    for (let i = 0; i < 3; i++) assert.equal(uuid(a), b.uuid());
  }
});
