/**
 * The shipped merge rules of orders_current on hand-written events the
 * generator never sends: a step event delivered twice (the second copy
 * stamped earlier), events after CANCELLED and after RETURNED, a step whose
 * event was rejected, event times that go backwards, a payment method that
 * is null until the payment, and one withdrawn (null) by a later event. The table is a function of the stream alone:
 * the same records committed in one batch, one record per batch and three
 * per batch give the same rows, equal to the model in tests/_current.ts.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startEngine } from "../src/streams/engine.ts";
import {
  assertCurrentRows,
  assertStateMatchesTable,
  engineConfig,
  expectedCurrent,
  localWarehouse,
  orderEvent,
  type OrderRow,
  place,
  rawRecords,
  readCurrent,
} from "./_current.ts";
import { readTables } from "./_engine.ts";

const T0 = 1_767_225_600;

/** An order's fixed contents; events are made with orderEvent. */
function order(paymentMethod: string | null = "credit_card"): OrderRow {
  return {
    order_id: crypto.randomUUID(),
    user_id: "user-000001",
    status: "CREATED",
    total_amount: "25.98",
    currency: "USD",
    payment_method: paymentMethod as string,
    items: [{ sku: "SKU-00001", quantity: 2, unit_price: "12.99", category: "books" }],
    created_at: null,
    paid_at: null,
    shipped_at: null,
    cancelled_at: null,
    returned_at: null,
    updated_at: 0,
    last_event_id: "",
    last_event_type: "",
    event_count: 0,
    last_kafka_partition: 0,
    last_kafka_offset: 0,
  };
}

/** The events, in the order a producer sends them, with the ones validation rejects marked. */
function stream() {
  const duplicated = order();
  const cancelled = order();
  const returned = order();
  const rejectedStep = order();
  const backwards = order();
  const unpaid = order(null);
  const withdrawn = order("paypal");
  const e = (o: OrderRow, type: string, seconds: number) => ({
    ...orderEvent(o, type, seconds),
    kind: "valid",
  });
  const bad = e(rejectedStep, "ORDER_PAID", T0 + 60);
  // Three decimals: refused by validation, so the step is never seen.
  bad.value = new TextEncoder().encode(
    new TextDecoder().decode(bad.value).replace('"total_amount":25.98', '"total_amount":25.985'),
  );
  bad.kind = "invalid_value";
  const perOrder = [
    [
      e(duplicated, "ORDER_CREATED", T0),
      e(duplicated, "ORDER_PAID", T0 + 60),
      // The same step again, stamped earlier: the step's time stays the first event's.
      e(duplicated, "ORDER_PAID", T0 + 30),
      e(duplicated, "ORDER_SHIPPED", T0 + 3_600),
    ],
    [
      e(cancelled, "ORDER_CREATED", T0),
      e(cancelled, "ORDER_CANCELLED", T0 + 600),
      e(cancelled, "ORDER_PAID", T0 + 700),
      e(cancelled, "ORDER_SHIPPED", T0 + 800),
    ],
    [
      e(returned, "ORDER_CREATED", T0),
      e(returned, "ORDER_PAID", T0 + 60),
      e(returned, "ORDER_SHIPPED", T0 + 3_600),
      e(returned, "ORDER_RETURNED", T0 + 86_400),
      e(returned, "ORDER_SHIPPED", T0 + 90_000),
    ],
    [e(rejectedStep, "ORDER_CREATED", T0), bad, e(rejectedStep, "ORDER_SHIPPED", T0 + 3_600)],
    [e(backwards, "ORDER_CREATED", T0 + 100), e(backwards, "ORDER_PAID", T0 + 50)],
    [
      e(unpaid, "ORDER_CREATED", T0),
      e({ ...unpaid, payment_method: "paypal" }, "ORDER_PAID", T0 + 60),
    ],
    // The latest event decides, a null too.
    [
      e(withdrawn, "ORDER_CREATED", T0),
      e({ ...withdrawn, payment_method: null as unknown as string }, "ORDER_CANCELLED", T0 + 60),
    ],
  ];
  // Round-robin over the orders: each order's events stay in order.
  const messages = [];
  for (let i = 0; perOrder.some((events) => i < events.length); i++) {
    for (const events of perOrder) if (i < events.length) messages.push(events[i]);
  }
  return { messages, duplicated, cancelled, returned, rejectedStep, backwards, unpaid, withdrawn };
}

Deno.test("the shipped rules give the same orders_current whatever the batch boundaries (duplicates, events after a terminal status, rejected steps)", async () => {
  const s = stream();
  const placed = place(s.messages);
  const expected = expectedCurrent(placed);
  // The model's view of the cases.
  assert.equal(expected.get(s.duplicated.order_id)!.paid_at, (T0 + 60) * 1_000_000);
  assert.equal(expected.get(s.cancelled.order_id)!.status, "CANCELLED");
  assert.equal(expected.get(s.returned.order_id)!.status, "RETURNED");
  assert.equal(expected.get(s.rejectedStep.order_id)!.paid_at, null);
  assert.equal(expected.get(s.backwards.order_id)!.updated_at, (T0 + 50) * 1_000_000);
  assert.equal(expected.get(s.unpaid.order_id)!.payment_method, "paypal");
  assert.equal(expected.get(s.withdrawn.order_id)!.payment_method, null);
  const results = [];
  for (const batchRecordsMax of [1_000, 1, 3]) {
    const dir = await Deno.makeTempDir();
    try {
      const engine = await startEngine(engineConfig(dir, { batchRecordsMax }));
      let stats;
      try {
        await engine.pipeline.offer(rawRecords(placed, "orders"));
        await engine.pipeline.flush();
        stats = { ...engine.pipeline.stats };
      } finally {
        await engine.close();
      }
      const rows = await readCurrent(localWarehouse(dir));
      try {
        assertCurrentRows(rows, expected);
      } catch (error) {
        throw new Error(`batches of ${batchRecordsMax}: ${(error as Error).message}`);
      }
      // Two events after CANCELLED, one after RETURNED: ignored and counted.
      assert.equal(stats.ignored, 3, `batches of ${batchRecordsMax}`);
      assert.equal(stats.rejects, 1);
      const { rejects } = await readTables(dir);
      assert.equal(rejects.length, 1);
      await assertStateMatchesTable(join(dir, "state"), localWarehouse(dir), dir);
      results.push(rows);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
  assert.deepEqual(results[1], results[0]);
  assert.deepEqual(results[2], results[0]);
});

Deno.test("orders_current added behind orders_events catches up on its own input while orders_events stages the same batches beside it", async () => {
  const s = stream();
  const placed = place(s.messages);
  const expected = expectedCurrent(placed);
  const dir = await Deno.makeTempDir();
  try {
    // First orders_events alone, over the first half of the stream.
    const half = placed.slice(0, Math.floor(placed.length / 2));
    const first = await startEngine({
      ...engineConfig(dir, { batchRecordsMax: 4 }),
      tables: ["events", "rejects"],
    });
    try {
      await first.pipeline.offer(rawRecords(half, "orders"));
      await first.pipeline.flush();
    } finally {
      await first.close();
    }
    // Then all three from the start: orders_events skips what it holds
    // (its rows differ from orders_current's), both stage each batch at
    // the same time on their own connections, in batches that straddle
    // the point where orders_events was left.
    const log: string[] = [];
    const second = await startEngine(
      engineConfig(dir, { batchRecordsMax: 5, log, logLevel: "debug" }),
    );
    let stats;
    try {
      await second.pipeline.offer(rawRecords(placed, "orders"));
      await second.pipeline.flush();
      stats = { ...second.pipeline.stats };
    } finally {
      await second.close();
    }
    assertCurrentRows(await readCurrent(localWarehouse(dir)), expected);
    await assertStateMatchesTable(join(dir, "state"), localWarehouse(dir), dir);
    const { events, rejects } = await readTables(dir);
    const valid = placed.filter((r) => r.valid);
    assert.equal(events.length, valid.length, "every valid event once in orders_events");
    assert.equal(
      new Set(events.map((e) => `${e.kafka_partition}/${e.kafka_offset}`)).size,
      valid.length,
    );
    assert.equal(rejects.length, 1, "the rejected step once in orders_rejects");
    assert.equal(stats.ignored, 3);
    // The batches that straddle: the two tables read different rows of one
    // batch, one from the shared input and the other from its own copy (when
    // their stagings overlap) or from the shared input loaded again (when
    // orders_events staged the batch ahead and was done with it).
    assert.ok(
      log.some((l) => /input loaded (for this table alone|again for this table)/.test(l)),
      "no batch had different rows for the two tables",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
