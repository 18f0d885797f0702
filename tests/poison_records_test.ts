/**
 * Poison isolation on the real broker: among generated events, one record
 * with a hostile Kafka timestamp (-1e17 ms, which the broker accepts and
 * which overflowed DuckDB's timestamp arithmetic) and one event that a
 * customized events.sql fails on. On the first run, every other record is
 * committed, those two land in orders_rejects (invalid_record, write_failed)
 * with their reasons, and a second run adds nothing.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Kafka, logLevel, Partitioners } from "kafkajs";
import { assertExactlyOnce, groundTruth, produce, readTables, runArgs } from "./_engine.ts";
import { requireKafka, runCli } from "./_services.ts";

const POISON_USER = "user-poison";

function event(userId: string): { key: string; value: string } {
  const orderId = crypto.randomUUID();
  return {
    key: orderId,
    value: JSON.stringify({
      event_id: crypto.randomUUID(),
      event_type: "ORDER_CREATED",
      event_timestamp: 1_767_225_600.5,
      order_id: orderId,
      user_id: userId,
      total_amount: 12.5,
      currency: "EUR",
      payment_method: null,
      items: [{ sku: "SKU-1", quantity: 1, unit_price: 12.5, category: "books" }],
      current_status: "CREATED",
    }),
  };
}

Deno.test("a hostile timestamp and a value events.sql fails on are rejected on the first run; the rest commits", async () => {
  const brokers = await requireKafka();
  const topic = `it-poison-${crypto.randomUUID().slice(0, 8)}`;
  const dir = await Deno.makeTempDir();
  const kafka = new Kafka({
    clientId: "it-poison",
    brokers: [brokers],
    logLevel: logLevel.NOTHING,
  });
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  try {
    const count = 6_000;
    await produce(brokers, topic, "poison", count, 0.01);
    const hostile = event("user-early");
    const poisoned = event(POISON_USER);
    await producer.connect();
    await producer.send({
      topic,
      messages: [{ ...hostile, timestamp: "-100000000000000000" }],
    });
    await producer.send({ topic, messages: [poisoned] });
    await produce(brokers, topic, "poison-after", count, 0.01);

    const sqlDir = join(dir, "sql");
    await Deno.mkdir(sqlDir);
    const shipped = new URL("../sql/", import.meta.url);
    const events = await Deno.readTextFile(new URL("events.sql", shipped));
    const edited = events.replace(
      /payload\.user_id(\s+)AS user_id/,
      `CASE WHEN payload.user_id = '${POISON_USER}' THEN error('user ' || payload.user_id || ' is blocked') ` +
        "ELSE payload.user_id END$1AS user_id",
    );
    assert.notEqual(edited, events, "events.sql no longer has the line this test edits");
    await Deno.writeTextFile(join(sqlDir, "events.sql"), edited);
    for (const name of ["rejects.sql", "current_changes.sql", "current_merge.sql"]) {
      await Deno.copyFile(new URL(name, shipped), join(sqlDir, name));
    }

    const total = 2 * count + 2;
    const first = await runCli(
      runArgs(brokers, topic, dir, ["--sql-dir", sqlDir, "--stop-after", String(total)]),
      { TMPDIR: dir },
    );
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /orders_events: 1 record\(s\) go to orders_rejects as write_failed/);
    assert.match(first.stderr, /1 because a table write failed on them/);
    const tables = await readTables(dir);
    const truth = [
      ...groundTruth("poison", count, 0.01),
      ...groundTruth("poison-after", count, 0.01),
    ];
    const byId = (id: string) => tables.events.filter((e) => e.event_id === id);
    assert.equal(byId(JSON.parse(hostile.value).event_id).length, 0);
    assert.equal(byId(JSON.parse(poisoned.value).event_id).length, 0);
    const decoder = new TextDecoder();
    const payloadOf = (hex: unknown) =>
      decoder.decode(new Uint8Array(String(hex).match(/../g)!.map((b) => parseInt(b, 16))));
    const hostileReject = tables.rejects.filter((r) => payloadOf(r.payload) === hostile.value);
    assert.equal(hostileReject.length, 1, "the hostile-timestamp record is not rejected once");
    assert.equal(hostileReject[0].reject_kind, "invalid_record");
    assert.match(String(hostileReject[0].reason), /Kafka record timestamp -100000000000000000 ms/);
    const poisonReject = tables.rejects.filter((r) => payloadOf(r.payload) === poisoned.value);
    assert.equal(poisonReject.length, 1, "the poisoned record is not rejected once");
    assert.equal(poisonReject[0].reject_kind, "write_failed");
    assert.equal(
      poisonReject[0].reason,
      "orders_events write failed (events.sql): Invalid Input Error: user user-poison is blocked",
    );
    // Everything else exactly once, as the generator produced it.
    const others = {
      events: tables.events,
      rejects: tables.rejects.filter((r) => r !== hostileReject[0] && r !== poisonReject[0]),
    };
    assertExactlyOnce(others, truth);

    // A second run adds nothing.
    const second = await runCli(
      runArgs(brokers, topic, dir, ["--sql-dir", sqlDir, "--idle-exit", "5s"]),
      { TMPDIR: dir },
    );
    assert.equal(second.code, 0, second.stderr);
    const again = await readTables(dir);
    assert.equal(again.events.length, tables.events.length);
    assert.equal(again.rejects.length, tables.rejects.length);
  } finally {
    await producer.disconnect().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});
