/**
 * The lakehouse tables (namespace `shop`). A table's columns are its SQL
 * file's output columns (see TableWriter.open): what is fixed here is only
 * what the SQL cannot say — which file writes the table, how it is
 * partitioned, and which columns a new table marks required.
 */
import { EVENT_FIELD_SPECS } from "../events/contract.ts";
import { SchemaChangeError, typeText } from "../iceberg/spec/evolve.ts";
import type { PartitionSpec, Schema, Transform } from "../iceberg/spec/types.ts";

export const NAMESPACE = ["shop"] as const;

export interface TableDefinition {
  readonly name: string;
  /** The file in sql/ whose output columns are the table's columns. */
  readonly sqlFile: string;
  /** The partition field: a transform of one output column. */
  readonly partition: {
    readonly column: string;
    readonly transform: Transform;
    readonly name: string;
  };
  /** Output columns a new table marks required (every row has them). */
  readonly required: readonly string[];
}

export const ORDERS_EVENTS: TableDefinition = Object.freeze<TableDefinition>({
  name: "orders_events",
  sqlFile: "events.sql",
  partition: { column: "event_timestamp", transform: "hour", name: "event_timestamp_hour" },
  required: [
    ...EVENT_FIELD_SPECS.filter((f) => f.required).map((f) => f.name),
    "kafka_partition",
    "kafka_offset",
    "ingested_at",
  ],
});

export const ORDERS_REJECTS: TableDefinition = Object.freeze<TableDefinition>({
  name: "orders_rejects",
  sqlFile: "rejects.sql",
  partition: { column: "received_at", transform: "day", name: "received_at_day" },
  required: ["reason", "reject_kind", "topic", "partition", "offset", "received_at"],
});

/** A new table's partition spec: the definition's transform of its column in `schema`. */
export function partitionSpecFor(definition: TableDefinition, schema: Schema): PartitionSpec {
  const { column, transform, name } = definition.partition;
  const source = schema.fields.find((f) => f.name === column);
  if (source === undefined) {
    throw new SchemaChangeError(
      `the SQL file must produce column ${column}: the table is partitioned by ` +
        `${transform}(${column})`,
    );
  }
  if (
    (transform === "hour" || transform === "day") &&
    source.type !== "timestamptz" && source.type !== "timestamp"
  ) {
    throw new SchemaChangeError(
      `column ${column} must be a timestamp: the table is partitioned by ` +
        `${transform}(${column}); it is ${typeText(source.type)}`,
    );
  }
  return { "spec-id": 0, fields: [{ "source-id": source.id, "field-id": 1000, name, transform }] };
}
