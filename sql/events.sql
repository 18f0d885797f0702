-- orders_events: one row per accepted event.
--
-- Input relation `batch`: one row per valid Kafka record, with the event JSON
-- parsed into `payload` (a struct with the event's fields, typed) and the
-- Kafka lineage columns kafka_topic, kafka_partition, kafka_offset,
-- kafka_timestamp, ingested_at.
--
-- Output: exactly the columns of table shop.orders_events (names and types
-- are checked against the table schema before anything is written). Edit
-- this file to change what the event log holds; keep one statement.
SELECT
  payload.event_id                                   AS event_id,
  payload.event_type                                 AS event_type,
  make_timestamptz(CAST(round(payload.event_timestamp * 1000000) AS BIGINT)) AS event_timestamp,
  payload.order_id                                   AS order_id,
  payload.user_id                                    AS user_id,
  payload.total_amount                               AS total_amount,
  payload.currency                                   AS currency,
  payload.payment_method                             AS payment_method,
  payload.items                                      AS items,
  payload.current_status                             AS current_status,
  kafka_partition                                    AS kafka_partition,
  kafka_offset                                       AS kafka_offset,
  ingested_at                                        AS ingested_at
FROM batch
