/**
 * The order event contract: the one definition of what a producer sends
 * (the JSON fields, their types, the event types and the order lifecycle)
 * and of the limits that follow from where the values land (DECIMAL(12, 2)
 * amounts, 32-bit quantities). The generator produces it, validation checks
 * it, the engine reads it into DuckDB with the struct type derived here, and
 * the shipped sql/events.sql maps it to orders_events. Pure: no I/O.
 */

export const EVENT_TYPES = [
  "ORDER_CREATED",
  "ORDER_PAID",
  "ORDER_SHIPPED",
  "ORDER_CANCELLED",
  "ORDER_RETURNED",
] as const;
export type EventType = typeof EVENT_TYPES[number];

/** Status reached by each event type: `STATUSES[i]` follows `EVENT_TYPES[i]`. */
export const STATUSES = ["CREATED", "PAID", "SHIPPED", "CANCELLED", "RETURNED"] as const;
export type OrderStatus = typeof STATUSES[number];

/** The lifecycle: CREATED -> PAID -> SHIPPED -> RETURNED; CREATED or PAID -> CANCELLED. */
export const TRANSITIONS: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = Object.freeze({
  CREATED: Object.freeze(["PAID", "CANCELLED"] as const),
  PAID: Object.freeze(["SHIPPED", "CANCELLED"] as const),
  SHIPPED: Object.freeze(["RETURNED"] as const),
  CANCELLED: Object.freeze([] as const),
  RETURNED: Object.freeze([] as const),
});

/** Statuses no event leads out of. */
export const TERMINAL_STATUSES: readonly OrderStatus[] = Object.freeze(
  STATUSES.filter((s) => TRANSITIONS[s].length === 0),
);

/** Whether an order in status `from` (null: not seen yet) may move to `to`. */
export function isValidTransition(from: OrderStatus | null, to: OrderStatus): boolean {
  if (from === null) return to === "CREATED";
  return TRANSITIONS[from].includes(to);
}

/** The event type that moves an order into `status`. */
export function eventTypeOf(status: OrderStatus): EventType {
  return EVENT_TYPES[STATUSES.indexOf(status)];
}

/** The status an event type leads to. */
export function statusOf(type: EventType): OrderStatus {
  return STATUSES[EVENT_TYPES.indexOf(type)];
}

export interface OrderItem {
  sku: string;
  quantity: number;
  /** Currency units with at most 2 decimals. */
  unit_price: number;
  category: string;
}

export interface OrderEvent {
  event_id: string;
  event_type: EventType;
  /** Epoch seconds with millisecond precision, e.g. 1767225600.123. */
  event_timestamp: number;
  order_id: string;
  user_id: string;
  /** Sum of quantity * unit_price over the items, exact to the cent. */
  total_amount: number;
  currency: string;
  /** Always written; a consumer also accepts null (no method chosen yet). */
  payment_method: string;
  /**
   * At least one item, distinct SKUs. Every event of an order carries the same
   * frozen array (building a copy per event would double the allocation rate).
   */
  items: OrderItem[];
  /** Status after this event: ORDER_PAID -> "PAID". */
  current_status: OrderStatus;
}

/**
 * A JSON field of the event: how DuckDB reads it from the staged payload
 * (`duckdb`), and whether a table row cannot be without it (`required`: the
 * identity, type and time of an event).
 */
export interface EventField {
  readonly name: keyof OrderEvent;
  readonly duckdb: string;
  readonly required: boolean;
}

/** Money lands in DECIMAL(AMOUNT_PRECISION, AMOUNT_SCALE). */
export const AMOUNT_PRECISION = 12;
export const AMOUNT_SCALE = 2;
const DECIMAL = `DECIMAL(${AMOUNT_PRECISION}, ${AMOUNT_SCALE})`;

export const ITEM_FIELDS = [
  { name: "sku", duckdb: "VARCHAR" },
  { name: "quantity", duckdb: "INTEGER" },
  { name: "unit_price", duckdb: DECIMAL },
  { name: "category", duckdb: "VARCHAR" },
] as const satisfies readonly { name: keyof OrderItem; duckdb: string }[];

const ITEM_STRUCT = `STRUCT(${ITEM_FIELDS.map((f) => `${f.name} ${f.duckdb}`).join(", ")})`;

/** The event's fields, in the order the generator writes them. */
export const EVENT_FIELD_SPECS: readonly EventField[] = Object.freeze([
  { name: "event_id", duckdb: "VARCHAR", required: true },
  { name: "event_type", duckdb: "VARCHAR", required: true },
  // Epoch seconds; sql/events.sql turns them into a timestamptz.
  { name: "event_timestamp", duckdb: "DOUBLE", required: true },
  { name: "order_id", duckdb: "VARCHAR", required: true },
  { name: "user_id", duckdb: "VARCHAR", required: false },
  { name: "total_amount", duckdb: DECIMAL, required: false },
  { name: "currency", duckdb: "VARCHAR", required: false },
  { name: "payment_method", duckdb: "VARCHAR", required: false },
  { name: "items", duckdb: `${ITEM_STRUCT}[]`, required: false },
  { name: "current_status", duckdb: "VARCHAR", required: false },
]);

/** Field names of an encoded event, in the order the generator writes them; all must be present. */
export const EVENT_FIELDS = EVENT_FIELD_SPECS.map((f) => f.name) as readonly (keyof OrderEvent)[];

/** The DuckDB type the engine reads a staged payload into (`payload` in sql/events.sql). */
export const EVENT_PAYLOAD_STRUCT = `STRUCT(${
  EVENT_FIELD_SPECS.map((f) => `${f.name} ${f.duckdb}`).join(", ")
})`;

/** Largest payload accepted, bytes. */
export const MAX_EVENT_BYTES = 131_072;
/** 2000-01-01T00:00:00Z and 2100-01-01T00:00:00Z in epoch seconds: plausible event times. */
export const EVENT_TIMESTAMP_MIN = 946_684_800;
export const EVENT_TIMESTAMP_END = 4_102_444_800;
/** Amounts fit DECIMAL(12, 2): below 10^(12 - 2). */
export const AMOUNT_END = 10 ** (AMOUNT_PRECISION - AMOUNT_SCALE);
/** Quantities land in a 32-bit INTEGER. */
export const QUANTITY_MAX = 2_147_483_647;
export const ORDER_ID_LENGTH_MAX = 128;

/**
 * The same struct as a json_transform structure, for reading a payload that
 * was loaded as JSON (when a SQL file also reads `payload_json`): fields the
 * producer sends beyond the contract are ignored, as by the typed read.
 */
export const EVENT_PAYLOAD_JSON_STRUCTURE = JSON.stringify(
  Object.fromEntries(
    EVENT_FIELD_SPECS.map((f) => [
      f.name,
      f.name === "items"
        ? [Object.fromEntries(ITEM_FIELDS.map((i) => [i.name, i.duckdb]))]
        : f.duckdb,
    ]),
  ),
);
