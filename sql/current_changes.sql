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
WITH events AS (
  SELECT
    payload.order_id                                                           AS order_id,
    payload.event_type                                                         AS event_type,
    make_timestamptz(CAST(round(payload.event_timestamp * 1000000) AS BIGINT)) AS event_time,
    payload,
    kafka_partition,
    kafka_offset,
    coalesce(bool_or(payload.current_status IN ('CANCELLED', 'RETURNED')) OVER (
      PARTITION BY payload.order_id ORDER BY kafka_offset
      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), false)               AS after_terminal
  FROM batch
)
SELECT
  order_id,
  arg_max(payload.user_id, kafka_offset)                                   AS user_id,
  arg_max(payload.current_status, kafka_offset)                            AS status,
  arg_max(payload.total_amount, kafka_offset)                              AS total_amount,
  arg_max(payload.currency, kafka_offset)                                  AS currency,
  -- payment_method may be null (no method chosen): arg_max would skip a
  -- latest null and keep an older method, where current_merge.sql copies
  -- the null from a later batch; arg_max_null takes the latest as it is.
  arg_max_null(payload.payment_method, kafka_offset)                       AS payment_method,
  arg_max(payload.items, kafka_offset)                                     AS items,
  -- A step's time is its first event's in Kafka order (not the earliest
  -- stamp): current_merge.sql keeps the time from the first batch that saw
  -- the step, so this way a step delivered twice gets the same time however
  -- the events were cut into batches.
  arg_min(event_time, kafka_offset) FILTER (WHERE event_type = 'ORDER_CREATED')   AS created_at,
  arg_min(event_time, kafka_offset) FILTER (WHERE event_type = 'ORDER_PAID')      AS paid_at,
  arg_min(event_time, kafka_offset) FILTER (WHERE event_type = 'ORDER_SHIPPED')   AS shipped_at,
  arg_min(event_time, kafka_offset) FILTER (WHERE event_type = 'ORDER_CANCELLED') AS cancelled_at,
  arg_min(event_time, kafka_offset) FILTER (WHERE event_type = 'ORDER_RETURNED')  AS returned_at,
  arg_max(event_time, kafka_offset)                                        AS updated_at,
  arg_max(payload.event_id, kafka_offset)                                  AS last_event_id,
  arg_max(event_type, kafka_offset)                                        AS last_event_type,
  CAST(count(*) AS INTEGER)                                                AS event_count,
  arg_max(kafka_partition, kafka_offset)                                   AS last_kafka_partition,
  max(kafka_offset)                                                        AS last_kafka_offset
FROM events
WHERE NOT after_terminal
GROUP BY order_id
