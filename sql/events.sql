-- orders_events: one row per accepted event.
--
-- Input relation `batch`: one row per valid Kafka record, with the event JSON
-- parsed into `payload` (a struct with the contract's fields, typed: see
-- src/events/contract.ts) and the Kafka lineage columns kafka_topic,
-- kafka_partition, kafka_offset, kafka_timestamp (NULL when the record has
-- none), ingested_at. `payload_json` is the payload as JSON text, for fields
-- the producer sends beyond the contract (payload_json->>'$.coupon').
--
-- Output: the columns of table shop.orders_events, in this order. A new
-- output column adds a column to the table at the next start (older rows
-- read it as NULL); a column left out is dropped from the table's current
-- schema (older files keep it); a type may only widen as Iceberg allows
-- (int -> long, float -> double, a wider decimal precision).
-- event_timestamp partitions the table and must stay. Rows a WHERE leaves
-- out are counted ("filtered" in the engine's log) and stored nowhere.
-- One statement per file.
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
