import type { AlertChange, AlertDelivery, AlertState, AlertStore } from "../alerts/store.js";
import { lastResult, type PoolLike } from "./queryable.js";
import { quoteIdent } from "./sql.js";
import { DEFAULT_SCHEMA } from "./storage.js";

/** Options of {@link createPostgresAlertStore}. */
export interface PostgresAlertStoreOptions {
  readonly pool: PoolLike;
  /** The migrated schema (default `sms_fes`); the alert tables come with migration 5. */
  readonly schema?: string;
}

function delivery(row: Record<string, unknown>): AlertDelivery {
  return {
    id: String(row.id),
    sink: String(row.sink),
    change: (typeof row.change === "string" ? JSON.parse(row.change) : row.change) as AlertChange,
    state: row.state as AlertDelivery["state"],
    attempts: Number(row.attempts),
    nextAttemptAtMs: Number(row.next_attempt_at_ms),
    leaseUntilMs: Number(row.lease_until_ms),
    deliveredAtMs: row.delivered_at_ms === null ? null : Number(row.delivered_at_ms),
    lastError: row.last_error === null ? null : String(row.last_error),
  };
}

/**
 * The notifier's store on PostgreSQL: a change is recorded in one statement guarded by the condition's version,
 * and deliveries are claimed with `FOR UPDATE SKIP LOCKED` and a lease, so any number of workers share it.
 */
export function createPostgresAlertStore(options: PostgresAlertStoreOptions): AlertStore {
  const s = quoteIdent(options.schema ?? DEFAULT_SCHEMA);
  const { pool } = options;
  const rows = async (text: string, values: unknown[]) => lastResult(await pool.query(text, values)).rows;
  const columns =
    "id, sink, change, state, attempts, next_attempt_at_ms, lease_until_ms, delivered_at_ms, last_error";
  return {
    async listStates(source) {
      const found = await rows(
        `SELECT source, key, state, version, kind, summary FROM ${s}.alert_states WHERE source = $1 ORDER BY key`,
        [source],
      );
      return found.map(
        (r): AlertState => ({
          source: String(r.source),
          key: String(r.key),
          state: r.state as AlertState["state"],
          version: Number(r.version),
          kind: String(r.kind),
          summary: String(r.summary),
        }),
      );
    },
    async recordChange(change, expectedVersion, sinks) {
      // One statement: the guarded upsert of the state, and the deliveries only when it wrote a row.
      const found = await rows(
        `WITH changed AS (
           INSERT INTO ${s}.alert_states AS st (source, key, state, version, kind, summary)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (source, key) DO UPDATE SET state = EXCLUDED.state, version = EXCLUDED.version,
             kind = EXCLUDED.kind, summary = EXCLUDED.summary
           WHERE st.version = $7
           RETURNING 1
         ), queued AS (
           INSERT INTO ${s}.alert_deliveries (id, sink, change, state, next_attempt_at_ms)
           SELECT $8 || '@' || sink, sink, $9::jsonb, 'pending', $10 FROM changed, unnest($11::text[]) AS sink
           RETURNING 1
         )
         SELECT (SELECT count(*) FROM changed) AS changed`,
        [
          change.source,
          change.key,
          change.change,
          change.version,
          change.kind,
          change.summary,
          // A first raise expects no row: the insert either wins or meets a row and updates nothing (-1 never matches).
          expectedVersion ?? -1,
          change.id,
          JSON.stringify(change),
          change.atMs,
          [...sinks],
        ],
      );
      return Number(found[0]?.changed ?? 0) === 1;
    },
    async claimDue({ nowMs, leaseMs, limit }) {
      const found = await rows(
        `UPDATE ${s}.alert_deliveries d SET attempts = d.attempts + 1, lease_until_ms = $2
         WHERE d.id IN (
           SELECT id FROM ${s}.alert_deliveries
           WHERE state = 'pending' AND next_attempt_at_ms <= $1 AND lease_until_ms <= $1
           ORDER BY next_attempt_at_ms, id LIMIT $3 FOR UPDATE SKIP LOCKED)
         RETURNING ${columns}`,
        [nowMs, nowMs + leaseMs, limit],
      );
      return found
        .map(delivery)
        .sort((a, b) => a.nextAttemptAtMs - b.nextAttemptAtMs || (a.id < b.id ? -1 : 1));
    },
    async complete(id, attempt, deliveredAtMs) {
      await pool.query(
        `UPDATE ${s}.alert_deliveries SET state = 'delivered', delivered_at_ms = $3
         WHERE id = $1 AND attempts = $2 AND state = 'pending'`,
        [id, attempt, deliveredAtMs],
      );
    },
    async fail(id, attempt, update) {
      await pool.query(
        `UPDATE ${s}.alert_deliveries SET state = $3, next_attempt_at_ms = $4, lease_until_ms = 0, last_error = $5
         WHERE id = $1 AND attempts = $2 AND state = 'pending'`,
        [id, attempt, update.giveUp ? "failed" : "pending", update.nextAttemptAtMs, update.error],
      );
    },
    async listDeliveries(filter = {}) {
      const found = await rows(
        `SELECT ${columns} FROM ${s}.alert_deliveries WHERE $1::text IS NULL OR state = $1 ORDER BY seq`,
        [filter.state ?? null],
      );
      return found.map(delivery);
    },
  };
}
