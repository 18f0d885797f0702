/**
 * The lakehouse tables (namespace `shop`): schemas with stable field ids and
 * partition specs. Field ids never change once a table exists; new columns
 * get new ids.
 */
import type { PartitionSpec, Schema } from "../iceberg/spec/types.ts";

export const NAMESPACE = ["shop"] as const;

/** list<struct<sku, quantity, unit_price, category>> with the given ids. */
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

export const ORDERS_EVENTS_SCHEMA: Schema = {
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

export const ORDERS_EVENTS_SPEC: PartitionSpec = {
  "spec-id": 0,
  fields: [{ "source-id": 3, "field-id": 1000, name: "event_timestamp_hour", transform: "hour" }],
};

export const ORDERS_REJECTS_SCHEMA: Schema = {
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

export const ORDERS_REJECTS_SPEC: PartitionSpec = {
  "spec-id": 0,
  fields: [{ "source-id": 8, "field-id": 1000, name: "received_at_day", transform: "day" }],
};

export const TABLES = {
  orders_events: { schema: ORDERS_EVENTS_SCHEMA, spec: ORDERS_EVENTS_SPEC },
  orders_rejects: { schema: ORDERS_REJECTS_SCHEMA, spec: ORDERS_REJECTS_SPEC },
} as const;

export type TableName = keyof typeof TABLES;
