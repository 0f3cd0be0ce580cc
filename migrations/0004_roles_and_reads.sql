-- sms-fes version 4: reads that scale, idempotency retention, and the grants of the application role.

-- One row per activation with what the health statistics aggregate: the SQL twin of the fields
-- `computeHealthStats` reads (canonical id, else the raw code; UTC day number and hour of `created_at_ms`;
-- time to code from `issued_at_ms` to `first_code_at_ms`; time to cancel for cancelled activations).
CREATE VIEW activation_health_facts AS
SELECT
  a.created_at_ms,
  coalesce(a.service, a.service_code) AS service,
  coalesce(a.country, a.country_code) AS country,
  a.provider,
  floor(a.created_at_ms::float8 / 86400000)::bigint AS day_number,
  ((((a.created_at_ms % 86400000) + 86400000) % 86400000) / 3600000)::integer AS hour,
  a.state,
  a.currency,
  a.price_minor,
  a.cost_minor,
  a.cashback_minor,
  CASE WHEN a.issued_at_ms IS NOT NULL AND a.first_code_at_ms IS NOT NULL
    THEN a.first_code_at_ms - a.issued_at_ms END AS time_to_code_ms,
  CASE WHEN a.state = 'cancelled' AND a.issued_at_ms IS NOT NULL AND a.ended_at_ms IS NOT NULL
    THEN a.ended_at_ms - a.issued_at_ms END AS time_to_cancel_ms
FROM activations AS a;

-- Paged reads in byte order of ids.
CREATE INDEX wallets_id_bytes ON wallets (id COLLATE "C");
CREATE INDEX holds_id_bytes ON holds (id COLLATE "C");

-- The pruning step deletes the oldest keys first.
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at_ms);
