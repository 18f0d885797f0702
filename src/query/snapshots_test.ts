import assert from "node:assert/strict";
import type { Snapshot, TableMetadata } from "../iceberg/spec/types.ts";
import { asOfProblem, parseAsOf, pinOne, pinTables } from "./snapshots.ts";

function snapshot(id: bigint, ms: number): Snapshot {
  return {
    "snapshot-id": id,
    "sequence-number": 1n,
    "timestamp-ms": ms,
    "manifest-list": `file:///m/${id}.avro`,
    summary: { operation: "append" },
  } as Snapshot;
}

/** Metadata with just what time travel reads: snapshots and their log. */
function table(snapshots: Snapshot[]): TableMetadata {
  return {
    snapshots,
    "snapshot-log": snapshots.map((s) => ({
      "snapshot-id": s["snapshot-id"],
      "timestamp-ms": s["timestamp-ms"],
    })),
    "current-snapshot-id": snapshots.at(-1)?.["snapshot-id"],
  } as unknown as TableMetadata;
}

const EVENTS = table([snapshot(7000000000000000001n, 1000), snapshot(7000000000000000002n, 2000)]);
const REJECTS = table([snapshot(8000000000000000001n, 1500)]);
const TABLES = new Map([["orders_events", EVENTS], ["orders_rejects", REJECTS]]);

const ids = (pins: Map<string, { snapshot: Snapshot | undefined }>) =>
  Object.fromEntries([...pins].map(([k, v]) => [k, v.snapshot?.["snapshot-id"]]));

Deno.test("--as-of values: snapshot ids, ISO-8601 instants, epoch milliseconds", () => {
  assert.deepEqual(parseAsOf("7000000000000000001"), {
    kind: "integer",
    id: 7000000000000000001n,
    ms: undefined,
    text: "7000000000000000001",
  });
  assert.deepEqual(parseAsOf("1767225600000"), {
    kind: "integer",
    id: 1767225600000n,
    ms: 1767225600000,
    text: "1767225600000",
  });
  const instant = (text: string) => {
    const parsed = parseAsOf(text);
    return "ms" in parsed ? parsed.ms : parsed;
  };
  assert.equal(instant("2026-01-01T00:00:00Z"), Date.UTC(2026, 0, 1));
  assert.equal(instant("2026-01-01 01:00:00+01:00"), Date.UTC(2026, 0, 1));
  assert.equal(instant("2026-01-01T00:00:00.123456Z"), Date.UTC(2026, 0, 1) + 123);
  assert.equal(instant("2026-01-01"), Date.UTC(2026, 0, 1));
  assert.match(asOfProblem("2026-01-01T00:00:00")!, /time zone/);
  assert.match(asOfProblem("yesterday")!, /snapshot id, an ISO-8601 instant/);
  assert.match(asOfProblem("99999999999999999999")!, /at most 2\^63-1/);
});

Deno.test("pinning every table: current, at an instant, at one table's snapshot", () => {
  assert.deepEqual(ids(pinTables(TABLES, undefined)), {
    orders_events: 7000000000000000002n,
    orders_rejects: 8000000000000000001n,
  });
  assert.deepEqual(ids(pinTables(TABLES, parseAsOf("1600") as never)), {
    orders_events: 7000000000000000001n,
    orders_rejects: 8000000000000000001n,
  });
  // The other tables as they were when that snapshot was committed.
  const atFirst = pinTables(TABLES, parseAsOf("7000000000000000001") as never);
  assert.deepEqual(ids(atFirst), {
    orders_events: 7000000000000000001n,
    orders_rejects: undefined,
  });
  assert.match(atFirst.get("orders_rejects")!.emptyBecause!, /had no snapshot at 1970/);
  assert.throws(
    () => pinTables(TABLES, parseAsOf("7000000000000000009") as never),
    /no table has a snapshot with this id/,
  );
});

Deno.test("pinning one table by name@spec", () => {
  assert.equal(
    pinOne(EVENTS, "7000000000000000001", "shop.orders_events").snapshot?.["snapshot-id"],
    7000000000000000001n,
  );
  assert.equal(
    pinOne(EVENTS, "1970-01-01T00:00:01.999Z", "shop.orders_events").snapshot?.["snapshot-id"],
    7000000000000000001n,
  );
  assert.throws(
    () => pinOne(EVENTS, "7000000000000000003", "shop.orders_events"),
    /shop\.orders_events has no snapshot 7000000000000000003 .*"orders_events\$snapshots"/,
  );
  const early = pinOne(EVENTS, "5", "shop.orders_events");
  assert.equal(early.snapshot, undefined);
  assert.match(early.emptyBecause!, /5 is no snapshot id, so it was taken as epoch milliseconds/);
  assert.throws(() => pinOne(EVENTS, "soon", "shop.orders_events"), /the part after @ must be/);
});
