-- sms-fes health views, version 2: the SQL twins of the pure analytics (DESIGN §7), over the same records.
-- Buckets are UTC days of the activation's `created_at_ms` (integer division, so no time-zone setting matters).
-- Denominator of every rate: activations that got a number and ended (received, cancelled, timeout, expired);
-- `failed` purchases never got a number and are counted apart. Time to code runs from `issued_at_ms` to
-- `first_code_at_ms`; percentiles interpolate linearly (`percentile_cont`). Money is per currency, never summed
-- across currencies: settled = what the activation's hold posted, released = the rest of a resolved hold.

-- One row per activation with everything the views aggregate.
CREATE VIEW activation_outcomes AS
SELECT
  a.id,
  a.currency,
  coalesce(a.service, a.service_code) AS service,
  coalesce(a.country, a.country_code) AS country,
  DATE '1970-01-01' + (a.created_at_ms / 86400000)::integer AS day,
  a.state,
  a.state IN ('received', 'cancelled', 'timeout', 'expired') AS ended,
  CASE WHEN a.issued_at_ms IS NOT NULL AND a.first_code_at_ms IS NOT NULL
    THEN a.first_code_at_ms - a.issued_at_ms END AS time_to_code_ms,
  a.price_minor,
  a.cost_minor,
  CASE WHEN h.state = 'settled' THEN h.settled_minor ELSE 0 END AS settled_minor,
  CASE WHEN h.state = 'settled' THEN h.amount_minor - h.settled_minor
       WHEN h.state = 'released' THEN h.amount_minor
       ELSE 0 END AS released_minor
FROM activations AS a
LEFT JOIN holds AS h ON h.id = a.hold_id;

-- Per canonical service (the raw code when the catalog did not resolve it), UTC day and currency.
CREATE VIEW service_health AS
SELECT
  service,
  day,
  currency,
  count(*)::integer AS activations,
  count(*) FILTER (WHERE ended)::integer AS ended,
  count(*) FILTER (WHERE state = 'received')::integer AS received,
  count(*) FILTER (WHERE state = 'cancelled')::integer AS cancelled,
  count(*) FILTER (WHERE state = 'timeout')::integer AS timeout,
  count(*) FILTER (WHERE state = 'expired')::integer AS expired,
  count(*) FILTER (WHERE state = 'failed')::integer AS failed,
  count(*) FILTER (WHERE state IN ('pending', 'waiting'))::integer AS in_flight,
  (count(*) FILTER (WHERE state = 'received'))::float8 / nullif(count(*) FILTER (WHERE ended), 0) AS success_rate,
  (count(*) FILTER (WHERE state = 'cancelled'))::float8 / nullif(count(*) FILTER (WHERE ended), 0) AS cancel_rate,
  (count(*) FILTER (WHERE state = 'timeout'))::float8 / nullif(count(*) FILTER (WHERE ended), 0) AS timeout_rate,
  (count(*) FILTER (WHERE state = 'expired'))::float8 / nullif(count(*) FILTER (WHERE ended), 0) AS expired_rate,
  percentile_cont(0.5) WITHIN GROUP (ORDER BY time_to_code_ms) AS median_time_to_code_ms,
  percentile_cont(0.95) WITHIN GROUP (ORDER BY time_to_code_ms) AS p95_time_to_code_ms,
  sum(settled_minor)::bigint AS settled_minor,
  sum(released_minor)::bigint AS released_minor,
  coalesce(sum(cost_minor) FILTER (WHERE state = 'received'), 0)::bigint AS cost_minor
FROM activation_outcomes
GROUP BY service, day, currency;

-- Per canonical country (the raw code when unresolved), UTC day and currency. Same columns as service_health.
CREATE VIEW country_health AS
SELECT
  country,
  day,
  currency,
  count(*)::integer AS activations,
  count(*) FILTER (WHERE ended)::integer AS ended,
  count(*) FILTER (WHERE state = 'received')::integer AS received,
  count(*) FILTER (WHERE state = 'cancelled')::integer AS cancelled,
  count(*) FILTER (WHERE state = 'timeout')::integer AS timeout,
  count(*) FILTER (WHERE state = 'expired')::integer AS expired,
  count(*) FILTER (WHERE state = 'failed')::integer AS failed,
  count(*) FILTER (WHERE state IN ('pending', 'waiting'))::integer AS in_flight,
  (count(*) FILTER (WHERE state = 'received'))::float8 / nullif(count(*) FILTER (WHERE ended), 0) AS success_rate,
  (count(*) FILTER (WHERE state = 'cancelled'))::float8 / nullif(count(*) FILTER (WHERE ended), 0) AS cancel_rate,
  (count(*) FILTER (WHERE state = 'timeout'))::float8 / nullif(count(*) FILTER (WHERE ended), 0) AS timeout_rate,
  (count(*) FILTER (WHERE state = 'expired'))::float8 / nullif(count(*) FILTER (WHERE ended), 0) AS expired_rate,
  percentile_cont(0.5) WITHIN GROUP (ORDER BY time_to_code_ms) AS median_time_to_code_ms,
  percentile_cont(0.95) WITHIN GROUP (ORDER BY time_to_code_ms) AS p95_time_to_code_ms,
  sum(settled_minor)::bigint AS settled_minor,
  sum(released_minor)::bigint AS released_minor,
  coalesce(sum(cost_minor) FILTER (WHERE state = 'received'), 0)::bigint AS cost_minor
FROM activation_outcomes
GROUP BY country, day, currency;

-- Time to code per service × country × UTC day, over the activations that received a code.
CREATE VIEW response_time AS
SELECT
  service,
  country,
  day,
  count(time_to_code_ms)::integer AS coded,
  percentile_cont(0.5) WITHIN GROUP (ORDER BY time_to_code_ms) AS median_time_to_code_ms,
  percentile_cont(0.95) WITHIN GROUP (ORDER BY time_to_code_ms) AS p95_time_to_code_ms,
  min(time_to_code_ms) AS min_time_to_code_ms,
  max(time_to_code_ms) AS max_time_to_code_ms
FROM activation_outcomes
WHERE time_to_code_ms IS NOT NULL
GROUP BY service, country, day;

-- The admin dashboard, per UTC day and currency. Activation and rental counts are bucketed by creation day;
-- money by the day it moved: settled/released by the hold's resolution day (activations and rentals alike),
-- deposits and cashback by the transfer's day.
CREATE VIEW dashboard_stats AS
WITH act AS (
  SELECT day, currency,
    count(*)::integer AS activations,
    count(*) FILTER (WHERE ended)::integer AS ended,
    count(*) FILTER (WHERE state = 'received')::integer AS received,
    count(*) FILTER (WHERE state = 'failed')::integer AS failed
  FROM activation_outcomes
  GROUP BY day, currency
), ren AS (
  SELECT DATE '1970-01-01' + (created_at_ms / 86400000)::integer AS day, currency, count(*)::integer AS rentals
  FROM rentals
  GROUP BY 1, 2
), held AS (
  SELECT DATE '1970-01-01' + (resolved_at_ms / 86400000)::integer AS day, currency,
    sum(settled_minor)::bigint AS settled_minor,
    sum(amount_minor - settled_minor)::bigint AS released_minor
  FROM holds
  WHERE state <> 'open'
  GROUP BY 1, 2
), moved AS (
  SELECT DATE '1970-01-01' + (created_at_ms / 86400000)::integer AS day, currency,
    coalesce(sum(amount_minor) FILTER (WHERE kind = 'deposit'), 0)::bigint AS deposits_minor,
    coalesce(sum(amount_minor) FILTER (WHERE kind = 'cashback'), 0)::bigint AS cashback_minor
  FROM transfers
  GROUP BY 1, 2
), days AS (
  SELECT day, currency FROM act
  UNION SELECT day, currency FROM ren
  UNION SELECT day, currency FROM held
  UNION SELECT day, currency FROM moved
)
SELECT
  days.day,
  days.currency,
  coalesce(act.activations, 0) AS activations,
  coalesce(act.ended, 0) AS ended,
  coalesce(act.received, 0) AS received,
  coalesce(act.failed, 0) AS failed,
  act.received::float8 / nullif(act.ended, 0) AS success_rate,
  coalesce(ren.rentals, 0) AS rentals,
  coalesce(held.settled_minor, 0)::bigint AS settled_minor,
  coalesce(held.released_minor, 0)::bigint AS released_minor,
  coalesce(moved.deposits_minor, 0)::bigint AS deposits_minor,
  coalesce(moved.cashback_minor, 0)::bigint AS cashback_minor
FROM days
LEFT JOIN act ON act.day = days.day AND act.currency = days.currency
LEFT JOIN ren ON ren.day = days.day AND ren.currency = days.currency
LEFT JOIN held ON held.day = days.day AND held.currency = days.currency
LEFT JOIN moved ON moved.day = days.day AND moved.currency = days.currency;
