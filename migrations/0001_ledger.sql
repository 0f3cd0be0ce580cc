-- sms-fes ledger schema, version 1.
-- Runs inside the migration transaction with `search_path` set to the target schema, so names are unqualified.
-- Money is bigint minor units; times are epoch milliseconds (bigint); ids are text and compared in byte order.

-- A guard of a commit plan missed. Raised from inside the plan's single statement so that the statement (and so
-- every write of the plan) fails as a whole; the adapter turns SQLSTATE FES01 into a StorageConflictError whose
-- guard is the DETAIL.
CREATE FUNCTION fes_conflict(guard text, message text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION USING ERRCODE = 'FES01', MESSAGE = message, DETAIL = guard;
END
$$;

-- The ledger and the audit trail are append-only: a correction is a new row.
CREATE FUNCTION fes_reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP USING ERRCODE = 'FES02';
END
$$;

CREATE TABLE wallets (
  id text PRIMARY KEY,
  currency text NOT NULL,
  balance_minor bigint NOT NULL DEFAULT 0,
  frozen_minor bigint NOT NULL DEFAULT 0,
  version bigint NOT NULL DEFAULT 0,
  created_at_ms bigint NOT NULL,
  -- Platform accounts (`@revenue:USD`) are never rows: their balances are derived from transfers.
  CONSTRAINT wallets_customer_id CHECK (left(id, 1) <> '@'),
  -- The three guards of a wallet delta. The adapter maps their violation (23514) to a StorageConflictError.
  CONSTRAINT wallets_balance_nonnegative CHECK (balance_minor >= 0),
  CONSTRAINT wallets_frozen_nonnegative CHECK (frozen_minor >= 0),
  CONSTRAINT wallets_available_nonnegative CHECK (balance_minor - frozen_minor >= 0),
  CONSTRAINT wallets_balance_safe CHECK (balance_minor <= 9007199254740991)
);

CREATE TABLE transfers (
  -- The statement cursor: assigned on insert, strictly increasing.
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id text NOT NULL UNIQUE,
  kind text NOT NULL
    CHECK (kind IN ('deposit', 'withdrawal', 'adjustment', 'settle', 'cashback', 'reversal')),
  debit_account_id text NOT NULL,
  credit_account_id text NOT NULL,
  amount_minor bigint NOT NULL CONSTRAINT transfers_amount_positive CHECK (amount_minor > 0),
  currency text NOT NULL,
  wallet_id text NOT NULL,
  wallet_balance_after_minor bigint NOT NULL,
  hold_id text,
  operation_id text NOT NULL,
  reason text,
  created_at_ms bigint NOT NULL,
  CONSTRAINT transfers_two_accounts CHECK (debit_account_id <> credit_account_id),
  CONSTRAINT transfers_wallet_side CHECK (wallet_id IN (debit_account_id, credit_account_id))
);
CREATE INDEX transfers_wallet ON transfers (wallet_id, seq);
CREATE INDEX transfers_debit ON transfers (debit_account_id, seq);
CREATE INDEX transfers_credit ON transfers (credit_account_id, seq);
CREATE TRIGGER transfers_append_only BEFORE UPDATE OR DELETE ON transfers
  FOR EACH ROW EXECUTE FUNCTION fes_reject_change();
CREATE TRIGGER transfers_no_truncate BEFORE TRUNCATE ON transfers
  FOR EACH STATEMENT EXECUTE FUNCTION fes_reject_change();

CREATE TABLE holds (
  id text PRIMARY KEY,
  wallet_id text NOT NULL,
  currency text NOT NULL,
  amount_minor bigint NOT NULL CONSTRAINT holds_amount_positive CHECK (amount_minor > 0),
  state text NOT NULL CHECK (state IN ('open', 'settled', 'released')),
  settled_minor bigint NOT NULL DEFAULT 0,
  owner_type text NOT NULL CHECK (owner_type IN ('activation', 'rental', 'manual')),
  owner_id text NOT NULL,
  created_at_ms bigint NOT NULL,
  resolved_at_ms bigint,
  CONSTRAINT holds_settled_within_amount CHECK (settled_minor >= 0 AND settled_minor <= amount_minor),
  CONSTRAINT holds_settled_only_when_settled CHECK (state = 'settled' OR settled_minor = 0),
  CONSTRAINT holds_resolved_at CHECK ((state = 'open') = (resolved_at_ms IS NULL))
);
CREATE INDEX holds_wallet ON holds (wallet_id, id COLLATE "C");
CREATE INDEX holds_open ON holds (id COLLATE "C") WHERE state = 'open';
CREATE INDEX holds_owner ON holds (owner_type, owner_id);

CREATE TABLE activations (
  id text PRIMARY KEY,
  wallet_id text NOT NULL,
  provider text NOT NULL,
  provider_activation_id text,
  service_code text NOT NULL,
  country_code text NOT NULL,
  service text,
  country text,
  state text NOT NULL
    CHECK (state IN ('pending', 'waiting', 'received', 'cancelled', 'timeout', 'expired', 'failed')),
  phone text,
  price_minor bigint NOT NULL CHECK (price_minor >= 0),
  cost_minor bigint,
  currency text NOT NULL,
  codes jsonb NOT NULL DEFAULT '[]',
  late_codes jsonb NOT NULL DEFAULT '[]',
  hold_id text NOT NULL,
  retry_of text,
  failure_reason text,
  created_at_ms bigint NOT NULL,
  issued_at_ms bigint,
  first_code_at_ms bigint,
  ended_at_ms bigint,
  closed_at_ms bigint,
  deadline_at_ms bigint,
  cashback_minor bigint NOT NULL DEFAULT 0 CHECK (cashback_minor >= 0),
  version bigint NOT NULL
);
CREATE INDEX activations_wallet ON activations (wallet_id, created_at_ms, id COLLATE "C");
CREATE INDEX activations_created ON activations (created_at_ms, id COLLATE "C");
-- One provider activation belongs to one activation (a webhook must find exactly one).
CREATE UNIQUE INDEX activations_provider_id ON activations (provider, provider_activation_id)
  WHERE provider_activation_id IS NOT NULL;
-- The sweeper's questions, oldest first, each answered from a partial index that holds only non-terminal rows.
CREATE INDEX activations_waiting ON activations (created_at_ms, id COLLATE "C") INCLUDE (deadline_at_ms)
  WHERE state = 'waiting';
CREATE INDEX activations_pending ON activations (created_at_ms, id COLLATE "C") WHERE state = 'pending';

CREATE TABLE rentals (
  id text PRIMARY KEY,
  wallet_id text NOT NULL,
  provider text NOT NULL,
  provider_rental_id text,
  service_code text NOT NULL,
  country_code text NOT NULL,
  service text,
  country text,
  state text NOT NULL
    CHECK (state IN ('pending', 'active', 'cancelled', 'finished', 'expired', 'revoked', 'failed')),
  phone text,
  currency text NOT NULL,
  periods jsonb NOT NULL DEFAULT '[]',
  price_minor bigint NOT NULL CHECK (price_minor >= 0),
  cost_minor bigint,
  message_count integer NOT NULL DEFAULT 0,
  failure_reason text,
  created_at_ms bigint NOT NULL,
  started_at_ms bigint,
  ends_at_ms bigint,
  ended_at_ms bigint,
  version bigint NOT NULL
);
CREATE INDEX rentals_wallet ON rentals (wallet_id, created_at_ms, id COLLATE "C");
CREATE INDEX rentals_created ON rentals (created_at_ms, id COLLATE "C");
CREATE INDEX rentals_active ON rentals (created_at_ms, id COLLATE "C") INCLUDE (ends_at_ms) WHERE state = 'active';
CREATE INDEX rentals_pending ON rentals (created_at_ms, id COLLATE "C") WHERE state = 'pending';

-- Written in the same transaction as the effect it guards, so a key exists exactly when its effect does.
CREATE TABLE idempotency_keys (
  key text PRIMARY KEY,
  operation text NOT NULL,
  fingerprint text NOT NULL,
  result jsonb,
  created_at_ms bigint NOT NULL
);

CREATE TABLE audit_trail (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id text NOT NULL UNIQUE,
  at_ms bigint NOT NULL,
  actor text NOT NULL,
  action text NOT NULL,
  subject_type text NOT NULL CHECK (subject_type IN ('wallet', 'hold', 'activation', 'rental')),
  subject_id text NOT NULL,
  before jsonb,
  after jsonb,
  idempotency_key text
);
CREATE INDEX audit_trail_subject ON audit_trail (subject_id, seq);
CREATE TRIGGER audit_trail_append_only BEFORE UPDATE OR DELETE ON audit_trail
  FOR EACH ROW EXECUTE FUNCTION fes_reject_change();
CREATE TRIGGER audit_trail_no_truncate BEFORE TRUNCATE ON audit_trail
  FOR EACH STATEMENT EXECUTE FUNCTION fes_reject_change();

-- Every account's posted balance, replayed from the ledger: credits minus debits. For a customer wallet it must
-- equal `wallets.balance_minor`; platform accounts (`@…`) exist only here, so no settle ever locks a shared row.
CREATE VIEW account_balances AS
SELECT account_id, currency, sum(delta_minor)::bigint AS balance_minor, count(*)::bigint AS transfer_count
FROM (
  SELECT credit_account_id AS account_id, currency, amount_minor AS delta_minor FROM transfers
  UNION ALL
  SELECT debit_account_id, currency, -amount_minor FROM transfers
) AS legs
GROUP BY account_id, currency;

-- The platform accounts (revenue, promotions, deposits, adjustments) per currency.
CREATE VIEW platform_balances AS
SELECT account_id, currency, balance_minor, transfer_count FROM account_balances WHERE left(account_id, 1) = '@';
