-- orders_rejects: dead letters. One row per Kafka record that failed
-- validation, with the payload exactly as received.
--
-- Input relation `rejects`: topic, partition, offset, received_at,
-- reject_kind, reason, payload (BLOB, the raw bytes), payload_text (the
-- payload as text when it is valid UTF-8, else NULL).
--
-- Output: exactly the columns of table shop.orders_rejects.
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
