-- sms-fes schema, version 3: one provider rental belongs to at most one rental; end requests and the last moment a
-- rental was known active are recorded, so a lost end step is decided from what the provider says happened.

-- One provider rental belongs to one rental (as for activations): a reconciliation can never adopt a number that
-- another rental owns, and a late answer cannot record it twice.
CREATE UNIQUE INDEX rentals_provider_id ON rentals (provider, provider_rental_id)
  WHERE provider_rental_id IS NOT NULL;

-- The cancel or finish asked of the provider, recorded before the call (`EndRequest` of core/records.ts).
ALTER TABLE activations ADD COLUMN end_request jsonb;
ALTER TABLE rentals ADD COLUMN end_request jsonb;
-- The last moment the rental was known active upstream: a revocation noticed late is charged up to it.
ALTER TABLE rentals ADD COLUMN last_active_at_ms bigint;

-- The sweeper's question for lost end steps: open records with an end request, oldest first.
CREATE INDEX activations_end_requested ON activations (created_at_ms, id COLLATE "C")
  WHERE state = 'waiting' AND end_request IS NOT NULL;
CREATE INDEX rentals_end_requested ON rentals (created_at_ms, id COLLATE "C")
  WHERE state = 'active' AND end_request IS NOT NULL;
