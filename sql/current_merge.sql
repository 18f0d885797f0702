-- orders_current, step 2 of 2: each order's change (relation `changes`,
-- from current_changes.sql) merged into its current row (relation
-- `orders_current`: the rows of the orders the batch touches, as the table
-- holds them). The engine writes every row this statement inserts or
-- changes as the order's new row and deletes the old one by position; rows
-- it leaves unchanged are not written.
--
-- Rules:
-- - The latest event decides the status and the order's attributes; each
--   lifecycle step keeps the time it first happened; a step never seen (its
--   event was rejected) stays NULL.
-- - A change whose last Kafka offset is not past the row's changes nothing
--   (a replay, or an event older than the state).
-- - Illegal transitions are ignored and counted: once an order is CANCELLED
--   or RETURNED its row is final, and later events for it (a SHIPPED after a
--   CANCELLED, anything after a RETURNED) change nothing; the engine counts
--   them as "ignored" in its log.
--
-- One statement. The engine finds the changed rows itself: no RETURNING is
-- needed.
MERGE INTO orders_current AS t
USING changes AS s
ON t.order_id = s.order_id
WHEN MATCHED
  AND t.status NOT IN ('CANCELLED', 'RETURNED')
  AND (s.last_kafka_partition <> t.last_kafka_partition OR s.last_kafka_offset > t.last_kafka_offset)
THEN UPDATE SET
  user_id              = s.user_id,
  status               = s.status,
  total_amount         = s.total_amount,
  currency             = s.currency,
  payment_method       = s.payment_method,
  items                = s.items,
  created_at           = coalesce(t.created_at, s.created_at),
  paid_at              = coalesce(t.paid_at, s.paid_at),
  shipped_at           = coalesce(t.shipped_at, s.shipped_at),
  cancelled_at         = coalesce(t.cancelled_at, s.cancelled_at),
  returned_at          = coalesce(t.returned_at, s.returned_at),
  updated_at           = s.updated_at,
  last_event_id        = s.last_event_id,
  last_event_type      = s.last_event_type,
  event_count          = t.event_count + s.event_count,
  last_kafka_partition = s.last_kafka_partition,
  last_kafka_offset    = s.last_kafka_offset
WHEN NOT MATCHED THEN INSERT BY NAME
