import { ACTIVATION_STATES, RENTAL_STATES } from "../core/records.js";
import type { CommitPlan } from "../storage/port.js";

/**
 * The schema's CHECK constraints that guard no decision of the core (states, kinds, signs, the safe-integer range,
 * both-or-neither columns): PostgreSQL refuses a row that breaks one as a database error (23514 or 22P02), not as a
 * conflict, so the memory adapter refuses the same rows the same way. The constraints that back a guard of `apply`
 * (counters, hold amounts, transfer sides) are checked with the guards, as conflicts.
 */
export function findSchemaViolation(plan: CommitPlan): string | undefined {
  for (const w of plan.createWallets ?? []) {
    if (w.id.startsWith("@")) return `wallet ${w.id}: an id starting with "@" names a platform account`;
    const bad = firstNotInteger({
      balanceMinor: w.balanceMinor,
      frozenMinor: w.frozenMinor,
      version: w.version,
    });
    if (bad !== undefined) return `wallet ${w.id}: ${bad}`;
  }
  for (const d of plan.walletDeltas ?? []) {
    const bad = firstNotInteger({
      balanceDeltaMinor: d.balanceDeltaMinor,
      frozenDeltaMinor: d.frozenDeltaMinor,
    });
    if (bad !== undefined) return `wallet delta ${d.walletId}: ${bad}`;
  }
  for (const t of plan.transfers ?? []) {
    if (!TRANSFER_KINDS.has(t.kind)) return `transfer ${t.id}: kind ${String(t.kind)}`;
    if (t.walletId !== t.debitAccountId && t.walletId !== t.creditAccountId)
      return `transfer ${t.id}: wallet ${t.walletId} is on neither side`;
    const bad = firstNotInteger({
      amountMinor: t.amountMinor,
      walletBalanceAfterMinor: t.walletBalanceAfterMinor,
    });
    if (bad !== undefined) return `transfer ${t.id}: ${bad}`;
  }
  for (const h of plan.openHolds ?? []) {
    if (!HOLD_OWNERS.has(h.ownerType)) return `hold ${h.id}: owner type ${String(h.ownerType)}`;
    if (!HOLD_STATES.has(h.state)) return `hold ${h.id}: state ${String(h.state)}`;
    if ((h.state === "open") !== (h.resolvedAtMs === null))
      return `hold ${h.id}: resolved exactly when it is not open`;
    if (h.state !== "settled" && h.settledMinor !== 0)
      return `hold ${h.id}: settles an amount while ${h.state}`;
    const bad = firstNotInteger({ amountMinor: h.amountMinor, settledMinor: h.settledMinor });
    if (bad !== undefined) return `hold ${h.id}: ${bad}`;
  }
  for (const r of plan.resolveHolds ?? []) {
    const bad = firstNotInteger({ settledMinor: r.settledMinor });
    if (bad !== undefined) return `hold ${r.holdId}: ${bad}`;
    if (r.state === "released" && r.settledMinor !== 0)
      return `hold ${r.holdId}: released with a settled amount`;
  }
  for (const { record: a } of plan.activations ?? []) {
    if (!ACTIVATION_STATE_SET.has(a.state)) return `activation ${a.id}: state ${String(a.state)}`;
    const bad = firstNotInteger({
      priceMinor: a.priceMinor,
      cashbackMinor: a.cashbackMinor,
      version: a.version,
    });
    if (bad !== undefined) return `activation ${a.id}: ${bad}`;
    if (a.priceMinor < 0 || a.cashbackMinor < 0) return `activation ${a.id}: a negative amount`;
    if (((a.experimentId ?? null) === null) !== ((a.experimentArm ?? null) === null))
      return `activation ${a.id}: an experiment id and arm go together`;
  }
  for (const { record: r } of plan.rentals ?? []) {
    if (!RENTAL_STATE_SET.has(r.state)) return `rental ${r.id}: state ${String(r.state)}`;
    const bad = firstNotInteger({ priceMinor: r.priceMinor, version: r.version });
    if (bad !== undefined) return `rental ${r.id}: ${bad}`;
    if (r.priceMinor < 0) return `rental ${r.id}: a negative price`;
  }
  for (const row of plan.audit ?? []) {
    if (!AUDIT_SUBJECTS.has(row.subjectType))
      return `audit ${row.id}: subject type ${String(row.subjectType)}`;
  }
  return undefined;
}

/** The balance a wallet may reach: PostgreSQL's `wallets_balance_safe`. */
export const MAX_BALANCE_MINOR = Number.MAX_SAFE_INTEGER;

function firstNotInteger(fields: Readonly<Record<string, number>>): string | undefined {
  for (const [name, value] of Object.entries(fields)) {
    if (!Number.isSafeInteger(value)) return `${name} ${String(value)} is not a safe integer`;
  }
  return undefined;
}

const TRANSFER_KINDS: ReadonlySet<string> = new Set([
  "deposit",
  "withdrawal",
  "adjustment",
  "settle",
  "cashback",
  "reversal",
]);
const HOLD_STATES: ReadonlySet<string> = new Set(["open", "settled", "released"]);
const HOLD_OWNERS: ReadonlySet<string> = new Set(["activation", "rental", "manual"]);
const ACTIVATION_STATE_SET: ReadonlySet<string> = new Set(ACTIVATION_STATES);
const RENTAL_STATE_SET: ReadonlySet<string> = new Set(RENTAL_STATES);
const AUDIT_SUBJECTS: ReadonlySet<string> = new Set(["wallet", "hold", "activation", "rental"]);
