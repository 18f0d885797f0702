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

/** The tables an engine can write, by their short names (`--tables`). */
export const TABLE_NAMES = ["events", "current", "rejects"] as const;
export type TableName = typeof TABLE_NAMES[number];

/** The SQL files each table is written through (all in sql/, customizable with --sql-dir). */
export const SQL_FILES_OF: Readonly<Record<TableName, readonly string[]>> = {
  events: ["events.sql"],
  current: ["current_changes.sql", "current_merge.sql"],
  rejects: ["rejects.sql"],
};

/**
 * Why a `--tables` value is not a usable set of tables (undefined when it
 * is): a comma-separated subset of TABLE_NAMES with events or current.
 */
export function tablesProblem(value: string | number | boolean): string | undefined {
  const names = String(value).split(",").map((n) => n.trim()).filter((n) => n !== "");
  const unknown = names.filter((n) => !(TABLE_NAMES as readonly string[]).includes(n));
  if (unknown.length > 0) {
    return `must list tables among ${TABLE_NAMES.join(", ")} (unknown: ${unknown.join(", ")})`;
  }
  if (!names.includes("events") && !names.includes("current")) {
    return "must include events or current (the tables fed from the topic)";
  }
  return undefined;
}

/** The table names of a `--tables` value tablesProblem accepted. */
export function parseTables(value: string): TableName[] {
  return [...new Set(value.split(",").map((n) => n.trim()).filter((n) => n !== ""))] as TableName[];
}

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
  /** The column that identifies a row (Iceberg's identifier field), for a table of current rows. */
  readonly identifier?: string;
  /** Table properties of a new table. */
  readonly properties?: Readonly<Record<string, string>>;
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

export const ORDERS_CURRENT: TableDefinition = Object.freeze<TableDefinition>({
  name: "orders_current",
  sqlFile: "current_changes.sql",
  partition: { column: "order_id", transform: "bucket[16]", name: "order_id_bucket" },
  required: [
    "order_id",
    "status",
    "updated_at",
    "last_event_id",
    "last_event_type",
    "event_count",
    "last_kafka_partition",
    "last_kafka_offset",
  ],
  identifier: "order_id",
  // Updates are new rows plus position deletes, never rewritten files.
  properties: {
    "write.delete.mode": "merge-on-read",
    "write.update.mode": "merge-on-read",
    "write.merge.mode": "merge-on-read",
  },
});

/** The file holding the MERGE rule of orders_current (its changes come from current_changes.sql). */
export const CURRENT_MERGE_SQL = "current_merge.sql";

/**
 * Columns of orders_current the shipped current_merge.sql never reads from
 * the row it merges into: when it updates a row it sets each of them from
 * the change (the latest event's attributes), and an inserted row takes
 * them from the change too. The state store leaves them out, and the MERGE
 * sees them as NULL, while the file is the shipped one exactly; a
 * customized file may read any column, so the store then keeps them all.
 */
export const SHIPPED_MERGE_UNREAD: readonly string[] = Object.freeze([
  "user_id",
  "total_amount",
  "currency",
  "payment_method",
  "items",
  "updated_at",
  "last_event_id",
  "last_event_type",
]);

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
