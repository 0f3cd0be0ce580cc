-- sms-fes version 6: the wait-time experiment and arm an activation was assigned to (both null outside an
-- experiment), and their health views. Rates use the same denominator as the other health views (activations that
-- got a number and ended); `cancelled_by_wait` counts the cancels the wait-time policy made (reason `wait_time_policy`).

ALTER TABLE activations
  ADD COLUMN experiment_id text,
  ADD COLUMN experiment_arm text,
  ADD CONSTRAINT activations_experiment_arm CHECK ((experiment_id IS NULL) = (experiment_arm IS NULL));
CREATE INDEX activations_experiment ON activations (experiment_id, experiment_arm) WHERE experiment_id IS NOT NULL;

-- The per-activation view gains the experiment and the failure reason (new columns go last, as a view allows).
CREATE OR REPLACE VIEW activation_outcomes AS
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
       ELSE 0 END AS released_minor,
  a.experiment_id,
  a.experiment_arm,
  a.failure_reason,
  a.cashback_minor
FROM activations AS a
LEFT JOIN holds AS h ON h.id = a.hold_id;

-- Per experiment × arm × currency: the raw counts of the per-arm report (its intervals and verdict are computed
-- from these counts by the library's experimentReport).
CREATE VIEW experiment_health AS
SELECT
  experiment_id,
  experiment_arm,
  currency,
  count(*)::integer AS activations,
  count(*) FILTER (WHERE ended)::integer AS ended,
  count(*) FILTER (WHERE state = 'received')::integer AS received,
  count(*) FILTER (WHERE state = 'cancelled')::integer AS cancelled,
  count(*) FILTER (WHERE state = 'cancelled' AND failure_reason = 'wait_time_policy')::integer AS cancelled_by_wait,
  count(*) FILTER (WHERE state = 'timeout')::integer AS timeout,
  count(*) FILTER (WHERE state = 'expired')::integer AS expired,
  (count(*) FILTER (WHERE state = 'received'))::float8 / nullif(count(*) FILTER (WHERE ended), 0) AS success_rate,
  percentile_cont(0.5) WITHIN GROUP (ORDER BY time_to_code_ms) AS median_time_to_code_ms,
  coalesce(sum(cost_minor) FILTER (WHERE state = 'received'), 0)::bigint AS cost_minor,
  sum(cashback_minor)::bigint AS cashback_minor
FROM activation_outcomes
WHERE experiment_id IS NOT NULL
GROUP BY experiment_id, experiment_arm, currency;
