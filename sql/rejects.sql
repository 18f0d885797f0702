-- orders_rejects: dead letters. One row per Kafka record that failed
-- validation, with the payload exactly as received.
--
-- Input relation `rejects`: topic, partition, offset, received_at,
-- reject_kind, reason, payload (BLOB, the raw bytes), payload_text (the
-- payload as text when it is valid UTF-8, else NULL).
--
-- Output: the columns of table shop.orders_rejects (its schema follows this
-- file as orders_events' follows events.sql; received_at partitions it). A
-- reject this file fails on is written through the shipped rejects.sql.
SELECT
  payload,
  payload_text,
  reason,
  reject_kind,
  topic,
  "partition",
  "offset",
  received_at
FROM rejects
