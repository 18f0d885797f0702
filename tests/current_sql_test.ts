/**
 * orders_current is customized through its SQL files (--sql-dir):
 * - the shipped rule keeps CANCELLED and RETURNED final (later events are
 *   ignored and counted); an edited current_merge.sql / current_changes.sql
 *   that lets a CANCELLED order be reinstated applies them instead;
 * - a derived column added to current_changes.sql (and set by the MERGE)
 *   evolves the table that already holds rows: rows written since carry it,
 *   older rows read it as NULL (pyiceberg), and the state store follows;
 * - a customized current_merge.sql may read any column of the row it merges
 *   into, so the state store keeps them all for it; for the shipped file it
 *   leaves out the ones that file never reads;
 * - a broken current_merge.sql or current_changes.sql stops start-up with
 *   an error naming the file and line (exit 1).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { RawRecord } from "../src/batch/types.ts";
import { startEngine } from "../src/streams/engine.ts";
import {
  applyEvents,
  assertCurrentRows,
  assertStateMatchesTable,
  editedSqlDir,
  engineConfig,
  expectedCurrent,
  generated,
  type KafkaRecord,
  localWarehouse,
  orderEvent,
  type OrderRow,
  place,
  rawRecords,
  readCurrent,
  storeColumns,
} from "./_current.ts";
import { requireKafka, runCli } from "./_services.ts";

async function feed(dir: string, records: readonly RawRecord[], sqlDir?: string) {
  const log: string[] = [];
  const engine = await startEngine(engineConfig(dir, { sqlDir, log }));
  try {
    await engine.pipeline.offer(records);
    await engine.pipeline.flush();
    return { stats: { ...engine.pipeline.stats }, log };
  } finally {
    await engine.close();
  }
}

/** A CANCELLED order may be reinstated; RETURNED stays final. */
const REINSTATE: Readonly<Record<string, (sql: string) => string>> = {
  "current_changes.sql": (sql) =>
    sql.replace(
      "payload.current_status IN ('CANCELLED', 'RETURNED')",
      "payload.current_status = 'RETURNED'",
    ),
  "current_merge.sql": (sql) =>
    sql.replace("t.status NOT IN ('CANCELLED', 'RETURNED')", "t.status <> 'RETURNED'"),
};

Deno.test("events after CANCELLED are ignored by the shipped rule and applied by an edited current_merge.sql that reinstates cancelled orders", async () => {
  const shipped = await Deno.makeTempDir();
  const custom = await Deno.makeTempDir();
  try {
    const next = new Map<number, bigint>();
    const first = place(generated("current-sql-rule", 4_000, 0.01), next);
    const state = expectedCurrent(first);
    const cancelled = [...state.values()].filter((r) => r.status === "CANCELLED");
    const returned = [...state.values()].filter((r) => r.status === "RETURNED");
    const paidThenCancelled = cancelled.filter((r) => r.paid_at !== null);
    const unpaidCancelled = cancelled.filter((r) => r.paid_at === null);
    assert.ok(paidThenCancelled.length >= 2 && unpaidCancelled.length >= 2 && returned.length >= 1);
    const hour = 3_600;
    // Cancelled orders paid (again) and shipped after all; a returned one shipped again.
    const later = (r: OrderRow, hours: number) => r.updated_at / 1_000_000 + hours * hour;
    const reinstated = [...paidThenCancelled.slice(0, 2), ...unpaidCancelled.slice(0, 2)];
    const second: KafkaRecord[] = place([
      ...reinstated.map((r) => orderEvent(r, "ORDER_PAID", later(r, 1))),
      ...reinstated.map((r) => orderEvent(r, "ORDER_SHIPPED", later(r, 2))),
      orderEvent(returned[0], "ORDER_SHIPPED", later(returned[0], 1)),
    ], next);

    // Shipped rule: nothing after a terminal status applies; each event is counted.
    await feed(shipped, rawRecords(first, "orders"));
    const a = await feed(shipped, rawRecords(second, "orders"));
    assert.equal(a.stats.ignored, second.length);
    assert.equal(a.stats.rows.get("orders_current") ?? 0n, 0n);
    assertCurrentRows(
      await readCurrent(localWarehouse(shipped)),
      expectedCurrent([...first, ...second]),
    );

    // Edited rule: the reinstated orders move on, the returned one does not.
    const sqlDir = await editedSqlDir(custom, "sql", REINSTATE);
    await feed(custom, rawRecords(first, "orders"), sqlDir);
    const b = await feed(custom, rawRecords(second, "orders"), sqlDir);
    assert.equal(b.stats.ignored, 1);
    assert.equal(b.stats.rows.get("orders_current"), BigInt(reinstated.length));
    const expected = expectedCurrent([...first, ...second], { terminal: ["RETURNED"] });
    const rows = await readCurrent(localWarehouse(custom));
    assertCurrentRows(rows, expected);
    for (const r of reinstated) {
      const row = rows.find((x) => x.order_id === r.order_id)!;
      assert.equal(row.status, "SHIPPED");
      assert.equal(row.cancelled_at, r.cancelled_at);
      assert.equal(row.event_count, r.event_count + 2);
      // A step keeps the time it first happened: a payment before the cancellation stays.
      assert.equal(row.paid_at, r.paid_at ?? Math.round(later(r, 1) * 1_000_000));
    }
    assert.equal(rows.find((x) => x.order_id === returned[0].order_id)!.status, "RETURNED");
    await assertStateMatchesTable(join(custom, "state"), localWarehouse(custom), custom);
  } finally {
    await Deno.remove(shipped, { recursive: true });
    await Deno.remove(custom, { recursive: true });
  }
});

/** An order keeps its first user: the MERGE reads t.user_id, which the shipped one never reads. */
const FIRST_USER: Readonly<Record<string, (sql: string) => string>> = {
  "current_merge.sql": (sql) =>
    sql.replace(
      /^(\s*)user_id(\s+)= s\.user_id,$/m,
      "$1user_id$2= coalesce(t.user_id, s.user_id),",
    ),
};

Deno.test("the state store keeps the columns a customized current_merge.sql reads; with the shipped one it leaves them out and rebuilds itself narrow", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const next = new Map<number, bigint>();
    const first = place(generated("current-sql-first-user", 3_000, 0), next);
    const open = [...expectedCurrent(first).values()]
      .filter((r) => r.status === "CREATED" || r.status === "PAID").slice(0, 20);
    assert.ok(open.length >= 10, `${open.length} open orders`);
    // Their next step, sent under another user id.
    const claim = (rows: readonly OrderRow[], hours: number) =>
      place(
        rows.map((r) => {
          const step = r.status === "CREATED" ? "ORDER_PAID" : "ORDER_SHIPPED";
          return orderEvent(
            { ...r, user_id: `other-${r.user_id}` },
            step,
            r.updated_at / 1_000_000 + hours * 3_600,
          );
        }),
        next,
      );
    const second = claim(open.slice(0, 10), 1);

    const sqlDir = await editedSqlDir(dir, "sql", FIRST_USER);
    await feed(dir, rawRecords(first, "orders"), sqlDir);
    await feed(dir, rawRecords(second, "orders"), sqlDir);
    const state = join(dir, "state");
    assert.ok((await storeColumns(state)).includes("user_id"));
    let rows = await readCurrent(localWarehouse(dir));
    for (const r of open.slice(0, 10)) {
      const row = rows.find((x) => x.order_id === r.order_id)!;
      assert.equal(row.user_id, r.user_id, "the customized merge keeps the first user");
      assert.notEqual(row.status, r.status, "the claim's step was applied");
    }
    await assertStateMatchesTable(state, localWarehouse(dir), dir);

    // Back to the shipped file: the store drops what that merge never reads,
    // and the latest event's user wins again.
    const third = claim(open.slice(10), 1);
    const { log } = await feed(dir, rawRecords(third, "orders"));
    assert.ok(
      log.some((l) => l.includes("it keeps other columns than the merge needs")),
      log.join("\n"),
    );
    const kept = await storeColumns(state);
    assert.ok(!kept.includes("user_id") && !kept.includes("items"), kept.join(", "));
    rows = await readCurrent(localWarehouse(dir));
    for (const r of open.slice(10)) {
      assert.equal(rows.find((x) => x.order_id === r.order_id)!.user_id, `other-${r.user_id}`);
    }
    for (const r of open.slice(0, 10)) {
      assert.equal(rows.find((x) => x.order_id === r.order_id)!.user_id, r.user_id);
    }
    await assertStateMatchesTable(state, localWarehouse(dir), dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Units in the order (the sum of its items' quantities), a derived column. */
const ITEMS_COUNT: Readonly<Record<string, (sql: string) => string>> = {
  "current_changes.sql": (sql) =>
    sql.replace(
      /(b\.kafka_offset\s+AS last_kafka_offset)\n/,
      "$1,\n  CAST(list_sum(list_transform(b.payload.items, i -> i.quantity)) AS INTEGER) " +
        "AS items_count\n",
    ),
  "current_merge.sql": (sql) =>
    sql.replace(
      /^(\s*)items(\s+)= s\.items,$/m,
      "$1items$2= s.items,\n$1items_count          = s.items_count,",
    ),
};

Deno.test("a derived column added to current_changes.sql evolves orders_current: rows written since carry it, older rows read NULL", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const placed = place(generated("current-sql-column", 6_000, 0.01));
    const split = 3_000;
    await feed(dir, rawRecords(placed.slice(0, split), "orders"));
    const sqlDir = await editedSqlDir(dir, "sql", ITEMS_COUNT);
    const { log } = await feed(dir, rawRecords(placed.slice(split), "orders"), sqlDir);
    assert.ok(
      log.some((l) => /orders_current: schema changed: .*items_count/.test(l)),
      log.join("\n"),
    );
    assert.ok(
      log.some((l) => /built from a scan of the table \(the table's schema changed\)/.test(l)),
      log.join("\n"),
    );
    const before = expectedCurrent(placed.slice(0, split));
    const expected = new Map(before);
    applyEvents(expected, placed.slice(split));
    // Orders whose row was written again after the change.
    const touched = new Set(
      [...expected.values()].filter((r) => r.event_count !== before.get(r.order_id)?.event_count)
        .map((r) => r.order_id),
    );
    assert.ok(touched.size > 0 && touched.size < expected.size, `${touched.size} touched`);
    const rows = await readCurrent(localWarehouse(dir));
    assertCurrentRows(rows, expected, (r) => ({
      items_count: touched.has(r.order_id) ? r.items.reduce((n, i) => n + i.quantity, 0) : null,
    }));
    await assertStateMatchesTable(join(dir, "state"), localWarehouse(dir), dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a broken current_merge.sql or current_changes.sql stops start-up naming the file and line", async () => {
  const brokers = await requireKafka();
  const dir = await Deno.makeTempDir();
  try {
    const cases: { name: string; file: string; edit: (sql: string) => string; marker: string }[] = [
      {
        name: "merge-syntax",
        file: "current_merge.sql",
        edit: (sql) => sql.replace("THEN INSERT BY NAME", "THEN INSERT BY NAMEX"),
        marker: "INSERT BY NAMEX",
      },
      {
        name: "merge-column",
        file: "current_merge.sql",
        edit: (sql) =>
          sql.replace("t.event_count + s.event_count", "t.event_count + s.no_such_column"),
        marker: "s.no_such_column",
      },
      {
        name: "changes-column",
        file: "current_changes.sql",
        edit: (sql) =>
          sql.replace(/min\(kafka_offset\)(\s+)AS end_offset/, "min(kafka_offsett)$1AS end_offset"),
        marker: "kafka_offsett",
      },
    ];
    for (const c of cases) {
      const sqlDir = await editedSqlDir(dir, c.name, { [c.file]: c.edit });
      const path = join(sqlDir, c.file);
      const lines = (await Deno.readTextFile(path)).split("\n");
      const line = lines.findIndex((l) => l.includes(c.marker)) + 1;
      assert.ok(line > 0);
      const topic = `it-current-sql-${crypto.randomUUID().slice(0, 8)}`;
      const out = await runCli([
        "run",
        ...["--brokers", brokers, "--topic", topic, "--group-id", `g-${topic}`],
        ...["--warehouse", join(dir, c.name, "wh"), "--state-dir", join(dir, c.name, "state")],
        ...["--sql-dir", sqlDir, "--idle-exit", "1s"],
      ], { TMPDIR: dir });
      assert.equal(out.code, 1, `${c.name}: exit ${out.code}\n${out.stderr}`);
      assert.ok(
        out.stderr.includes(`${path}:${line}: `),
        `${c.name}: expected ${path}:${line}\n${out.stderr}`,
      );
      assert.doesNotMatch(out.stderr, /assigned partitions/, c.name);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
