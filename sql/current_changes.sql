-- orders_current, step 1 of 2: the batch's events folded into one change
-- per order.
--
-- Input relation `batch`: as in events.sql (one row per valid Kafka record
-- the table does not hold yet: `payload`, `payload_json` and the Kafka
-- lineage). An order's events share its Kafka key, so they are on one
-- partition and kafka_offset orders them.
--
-- Output: one row per order_id with the columns of table shop.orders_current
-- (they ARE its columns: a new column evolves the table, as for events.sql).
-- current_merge.sql then merges these changes into the orders' current rows.
--
-- Within a batch, events after the one that made an order CANCELLED or
-- RETURNED are left out: a terminal status is final (see current_merge.sql).
--
-- Only narrow columns go through the grouping: the order's latest event is
-- found by its row (rowid of `batch`) and its attributes, items included,
-- are read once per order at the end. Carrying the nested payload through
-- the aggregates cost about three times as much.
WITH events AS (
  SELECT
    rowid                                                                      AS row_id,
    payload.order_id                                                           AS order_id,
    payload.event_type                                                         AS event_type,
    make_timestamptz(CAST(round(payload.event_timestamp * 1000000) AS BIGINT)) AS event_time,
    payload.current_status IN ('CANCELLED', 'RETURNED')                        AS terminal,
    kafka_offset
  FROM batch
),
-- The offset of each order's first terminal event in the batch (orders with one only).
terminal AS (
  SELECT order_id, min(kafka_offset) AS end_offset FROM events WHERE terminal GROUP BY order_id
),
folded AS (
  SELECT
    e.order_id,
    arg_max(e.row_id, e.kafka_offset)                                                    AS latest,
    -- A step's time is its first event's in Kafka order (not the earliest
    -- stamp): current_merge.sql keeps the time from the first batch that saw
    -- the step, so this way a step delivered twice gets the same time however
    -- the events were cut into batches.
    arg_min(e.event_time, e.kafka_offset) FILTER (WHERE e.event_type = 'ORDER_CREATED')   AS created_at,
    arg_min(e.event_time, e.kafka_offset) FILTER (WHERE e.event_type = 'ORDER_PAID')      AS paid_at,
    arg_min(e.event_time, e.kafka_offset) FILTER (WHERE e.event_type = 'ORDER_SHIPPED')   AS shipped_at,
    arg_min(e.event_time, e.kafka_offset) FILTER (WHERE e.event_type = 'ORDER_CANCELLED') AS cancelled_at,
    arg_min(e.event_time, e.kafka_offset) FILTER (WHERE e.event_type = 'ORDER_RETURNED')  AS returned_at,
    CAST(count(*) AS INTEGER)                                                            AS event_count
  FROM events e LEFT JOIN terminal t ON e.order_id = t.order_id
  WHERE t.end_offset IS NULL OR e.kafka_offset <= t.end_offset
  GROUP BY e.order_id
)
-- The latest event decides the attributes, as it is: a null payment_method
-- in it is copied (no method chosen), not an older one.
SELECT
  f.order_id,
  b.payload.user_id                                                            AS user_id,
  b.payload.current_status                                                     AS status,
  b.payload.total_amount                                                       AS total_amount,
  b.payload.currency                                                           AS currency,
  b.payload.payment_method                                                     AS payment_method,
  b.payload.items                                                              AS items,
  f.created_at,
  f.paid_at,
  f.shipped_at,
  f.cancelled_at,
  f.returned_at,
  make_timestamptz(CAST(round(b.payload.event_timestamp * 1000000) AS BIGINT)) AS updated_at,
  b.payload.event_id                                                           AS last_event_id,
  b.payload.event_type                                                         AS last_event_type,
  f.event_count,
  b.kafka_partition                                                            AS last_kafka_partition,
  b.kafka_offset                                                               AS last_kafka_offset
FROM folded f JOIN batch b ON b.rowid = f.latest
