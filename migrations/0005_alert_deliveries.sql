-- sms-fes alert delivery state, version 5: what the notifier has seen and sent, shared by every worker.
-- Runs inside the migration transaction with `search_path` set to the target schema, so names are unqualified.

-- One row per condition (a disabled service, money not coherent …): its last change, under a version check so that
-- of several workers observing one change exactly one records it.
CREATE TABLE alert_states (
  source text NOT NULL,
  key text NOT NULL,
  state text NOT NULL CHECK (state IN ('raised', 'cleared')),
  version integer NOT NULL CHECK (version > 0),
  kind text NOT NULL,
  summary text NOT NULL,
  PRIMARY KEY (source, key)
);

-- One row per change and sink. A claim sets a lease; a worker that dies mid-delivery leaves the row pending and
-- the lease expires, so another worker sends it again under the same id (at least once).
CREATE TABLE alert_deliveries (
  id text PRIMARY KEY,
  sink text NOT NULL,
  change jsonb NOT NULL,
  state text NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at_ms bigint NOT NULL,
  lease_until_ms bigint NOT NULL DEFAULT 0,
  delivered_at_ms bigint,
  last_error text,
  seq bigserial NOT NULL
);

CREATE INDEX alert_deliveries_due ON alert_deliveries (next_attempt_at_ms, id) WHERE state = 'pending';
