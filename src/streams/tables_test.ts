/**
 * The shipped SQL files define the same tables as the schemas this build's
 * predecessors wrote by hand (kept below as golden copies): a warehouse made
 * by an earlier build opens without a schema change, and a new one gets the
 * same field ids and partitioning.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { openCatalog } from "../catalog/mod.ts";
import { FakeClock } from "../core/clock.ts";
import { createLogger } from "../core/log.ts";
import { currentSchema, defaultSpec } from "../iceberg/spec/metadata.ts";
import type { PartitionSpec, Schema } from "../iceberg/spec/types.ts";
import { loadTable } from "../iceberg/table.ts";
import { openStore } from "../storage/mod.ts";
import { startEngine } from "./engine.ts";
import { NAMESPACE } from "./tables.ts";

function itemsType(elementId: number, firstId: number) {
  return {
    type: "list" as const,
    "element-id": elementId,
    "element-required": false,
    element: {
      type: "struct" as const,
      fields: [
        { id: firstId, name: "sku", required: false, type: "string" as const },
        { id: firstId + 1, name: "quantity", required: false, type: "int" as const },
        { id: firstId + 2, name: "unit_price", required: false, type: "decimal(12, 2)" as const },
        { id: firstId + 3, name: "category", required: false, type: "string" as const },
      ],
    },
  };
}

const ORDERS_EVENTS_SCHEMA: Schema = {
  type: "struct",
  "schema-id": 0,
  fields: [
    { id: 1, name: "event_id", required: true, type: "string" },
    { id: 2, name: "event_type", required: true, type: "string" },
    { id: 3, name: "event_timestamp", required: true, type: "timestamptz" },
    { id: 4, name: "order_id", required: true, type: "string" },
    { id: 5, name: "user_id", required: false, type: "string" },
    { id: 6, name: "total_amount", required: false, type: "decimal(12, 2)" },
    { id: 7, name: "currency", required: false, type: "string" },
    { id: 8, name: "payment_method", required: false, type: "string" },
    { id: 9, name: "items", required: false, type: itemsType(10, 11) },
    { id: 15, name: "current_status", required: false, type: "string" },
    { id: 16, name: "kafka_partition", required: true, type: "int" },
    { id: 17, name: "kafka_offset", required: true, type: "long" },
    { id: 18, name: "ingested_at", required: true, type: "timestamptz" },
  ],
};

const ORDERS_EVENTS_SPEC: PartitionSpec = {
  "spec-id": 0,
  fields: [{ "source-id": 3, "field-id": 1000, name: "event_timestamp_hour", transform: "hour" }],
};

const ORDERS_REJECTS_SCHEMA: Schema = {
  type: "struct",
  "schema-id": 0,
  fields: [
    { id: 1, name: "payload", required: false, type: "binary" },
    { id: 2, name: "payload_text", required: false, type: "string" },
    { id: 3, name: "reason", required: true, type: "string" },
    { id: 4, name: "reject_kind", required: true, type: "string" },
    { id: 5, name: "topic", required: true, type: "string" },
    { id: 6, name: "partition", required: true, type: "int" },
    { id: 7, name: "offset", required: true, type: "long" },
    { id: 8, name: "received_at", required: true, type: "timestamptz" },
  ],
};

const ORDERS_REJECTS_SPEC: PartitionSpec = {
  "spec-id": 0,
  fields: [{ "source-id": 8, "field-id": 1000, name: "received_at_day", transform: "day" }],
};

Deno.test("the shipped SQL files create orders_events and orders_rejects with the golden schemas", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const engine = await startEngine({
      warehouse: join(dir, "wh"),
      catalog: join(dir, "catalog.db"),
      topic: "orders",
      tempDir: join(dir, "tmp"),
      stateDir: join(dir, "state"),
      targetFileSizeBytes: 1 << 20,
      batchRecordsMax: 10,
      batchBytesMax: 1 << 20,
      triggerIntervalMs: 1000,
      queuedBatchesMax: 1,
      decodeInline: true,
      clock: new FakeClock(0),
      logger: createLogger("silent"),
    });
    await engine.close();
    const catalog = await openCatalog(join(dir, "catalog.db"));
    try {
      const store = openStore(`file://${join(dir, "wh")}`, undefined);
      const expect: [string, Schema, PartitionSpec][] = [
        ["orders_events", ORDERS_EVENTS_SCHEMA, ORDERS_EVENTS_SPEC],
        ["orders_rejects", ORDERS_REJECTS_SCHEMA, ORDERS_REJECTS_SPEC],
      ];
      for (const [name, schema, spec] of expect) {
        const table = await loadTable(catalog, store, { namespace: [...NAMESPACE], name });
        assert.deepEqual(currentSchema(table.metadata), schema, name);
        assert.deepEqual(defaultSpec(table.metadata), spec, name);
        assert.equal(table.metadata.schemas.length, 1, `${name} evolved on creation`);
      }
    } finally {
      await catalog.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
