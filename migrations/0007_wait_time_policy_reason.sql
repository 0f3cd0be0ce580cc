-- sms-fes version 7: the wait-time policy's cancels carry the reason `wait_time_policy` (the saga's name for them);
-- `cancelled_by_wait` of the experiment view counts that reason, as the library's experimentReport does.

CREATE OR REPLACE VIEW experiment_health AS
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
