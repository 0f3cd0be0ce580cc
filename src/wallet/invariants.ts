import { isActivationTerminal } from "../activation/machine.js";
import type {
  ActivationRecord,
  HoldRecord,
  RentalRecord,
  TransferRecord,
  WalletRecord,
} from "../core/records.js";
import { isPlatformAccountId } from "../core/records.js";
import { isRentalTerminal } from "../rental/machine.js";
import type { StorageReader } from "../storage/port.js";

/** The records {@link findLedgerProblems} reads: a whole store, or every record of a few wallets. */
export interface LedgerSnapshot {
  readonly wallets: readonly WalletRecord[];
  readonly transfers: readonly TransferRecord[];
  readonly holds: readonly HoldRecord[];
  readonly activations: readonly ActivationRecord[];
  readonly rentals: readonly RentalRecord[];
}

/** A wallet whose stored balance is not the replay of its transfers. */
export interface BalanceMismatch {
  readonly walletId: string;
  readonly currency: string;
  readonly storedMinor: number;
  readonly replayedMinor: number;
  /** `stored − replayed`. */
  readonly differenceMinor: number;
}

/** A wallet whose stored frozen amount is not the sum of its open holds. */
export interface FrozenMismatch {
  readonly walletId: string;
  readonly storedMinor: number;
  readonly openHoldsMinor: number;
  /** `stored − Σ open holds`. */
  readonly differenceMinor: number;
}

/** A customer wallet whose stored balance is below its stored frozen amount. */
export interface NegativeAvailable {
  readonly walletId: string;
  readonly balanceMinor: number;
  readonly frozenMinor: number;
}

/** A transfer that breaks the ledger's shape. */
export interface MalformedTransfer {
  readonly transferId: string;
  readonly problem:
    | "non_positive_amount"
    | "same_account_both_sides"
    | "wallet_not_on_a_side"
    | "two_customer_wallets"
    | "currency_mismatch";
}

/** An open hold whose owner is missing or already terminal. */
export interface OrphanHold {
  readonly holdId: string;
  readonly walletId: string;
  readonly amountMinor: number;
  readonly ownerType: "activation" | "rental";
  readonly ownerId: string;
  readonly problem: "owner_missing" | "owner_terminal";
  /** The owner's state when it exists. */
  readonly ownerState: string | null;
}

/** An activation or rental that should hold money and does not, holds too much, or names a hold that is missing. */
export interface OwnerHoldProblem {
  readonly ownerType: "activation" | "rental";
  readonly ownerId: string;
  readonly walletId: string;
  readonly state: string;
  readonly problem:
    | "no_open_hold"
    | "several_open_holds"
    | "period_without_open_hold"
    | "failed_period_with_open_hold"
    | "hold_missing";
  readonly openHolds: number;
  /** For the period problems and `hold_missing` (a terminal owner naming a hold that does not exist): the hold. */
  readonly holdId: string | null;
}

/** A hold whose resolution does not match the transfers posted for it. */
export interface HoldResolutionProblem {
  readonly holdId: string;
  readonly state: HoldRecord["state"];
  readonly settledMinor: number;
  /** The amounts of the transfers that name this hold. */
  readonly postedMinor: readonly number[];
  readonly problem: "posted_mismatch" | "settled_out_of_range" | "settled_zero";
}

/**
 * What {@link findLedgerProblems} finds, one list per concern (each empty when the snapshot is coherent), and the
 * replayed balance of every account it saw.
 */
export interface LedgerFindings {
  /** Σ credits − Σ debits per account (customer wallets and platform accounts), over the snapshot's transfers. */
  readonly replayedMinor: ReadonlyMap<string, number>;
  readonly malformedTransfers: readonly MalformedTransfer[];
  readonly balanceMismatches: readonly BalanceMismatch[];
  readonly frozenMismatches: readonly FrozenMismatch[];
  readonly negativeAvailable: readonly NegativeAvailable[];
  readonly holdResolutionProblems: readonly HoldResolutionProblem[];
  readonly orphanHolds: readonly OrphanHold[];
  readonly ownerHoldProblems: readonly OwnerHoldProblem[];
}

function addTo<K>(map: Map<K, number>, key: K, amount: number): void {
  map.set(key, (map.get(key) ?? 0) + amount);
}

function transferProblem(
  t: TransferRecord,
  wallet: WalletRecord | undefined,
): MalformedTransfer["problem"] | null {
  if (!(t.amountMinor > 0)) return "non_positive_amount";
  if (t.debitAccountId === t.creditAccountId) return "same_account_both_sides";
  if (t.debitAccountId !== t.walletId && t.creditAccountId !== t.walletId) return "wallet_not_on_a_side";
  if (!isPlatformAccountId(t.debitAccountId) && !isPlatformAccountId(t.creditAccountId)) {
    return "two_customer_wallets";
  }
  if (wallet !== undefined && wallet.currency !== t.currency) return "currency_mismatch";
  return null;
}

/**
 * The one check of the ledger's state (docs/design.md §2, invariants 1–5): replays the transfers, compares stored balances
 * and frozen amounts with the replay and the open holds, finds negative available money, holds resolved with the
 * wrong transfers, open holds without a live owner and live owners without exactly their holds. "Live" is what the
 * machine tables call non-terminal. Pure; the snapshot may be a whole store or every record of a few wallets
 * (then the platform accounts' replay covers only those wallets' transfers).
 */
export function findLedgerProblems(snapshot: LedgerSnapshot): LedgerFindings {
  const { wallets, transfers, holds, activations, rentals } = snapshot;
  const walletById = new Map(wallets.map((w) => [w.id, w]));

  const replayedMinor = new Map<string, number>();
  const postedByHold = new Map<string, number[]>();
  const malformedTransfers: MalformedTransfer[] = [];
  for (const t of transfers) {
    const problem = transferProblem(t, walletById.get(t.walletId));
    if (problem !== null) malformedTransfers.push({ transferId: t.id, problem });
    addTo(replayedMinor, t.creditAccountId, t.amountMinor);
    addTo(replayedMinor, t.debitAccountId, -t.amountMinor);
    if (t.holdId !== null) {
      const list = postedByHold.get(t.holdId);
      if (list === undefined) postedByHold.set(t.holdId, [t.amountMinor]);
      else list.push(t.amountMinor);
    }
  }

  const openByWallet = new Map<string, number>();
  const openByOwner = new Map<string, number>();
  const holdResolutionProblems: HoldResolutionProblem[] = [];
  for (const h of holds) {
    if (h.state === "open") {
      addTo(openByWallet, h.walletId, h.amountMinor);
      addTo(openByOwner, `${h.ownerType}\u0000${h.ownerId}`, 1);
    }
    const postedMinor = postedByHold.get(h.id) ?? [];
    const base = { holdId: h.id, state: h.state, settledMinor: h.settledMinor, postedMinor } as const;
    if (h.settledMinor < 0 || h.settledMinor > h.amountMinor) {
      holdResolutionProblems.push({ ...base, problem: "settled_out_of_range" });
    } else if (h.state === "settled" && h.settledMinor === 0) {
      holdResolutionProblems.push({ ...base, problem: "settled_zero" });
    } else {
      const expected = h.state === "settled" ? [h.settledMinor] : [];
      if (postedMinor.length !== expected.length || postedMinor.some((p, i) => p !== expected[i])) {
        holdResolutionProblems.push({ ...base, problem: "posted_mismatch" });
      }
    }
  }

  const balanceMismatches: BalanceMismatch[] = [];
  const frozenMismatches: FrozenMismatch[] = [];
  const negativeAvailable: NegativeAvailable[] = [];
  for (const w of wallets) {
    const replayed = replayedMinor.get(w.id) ?? 0;
    if (w.balanceMinor !== replayed) {
      balanceMismatches.push({
        walletId: w.id,
        currency: w.currency,
        storedMinor: w.balanceMinor,
        replayedMinor: replayed,
        differenceMinor: w.balanceMinor - replayed,
      });
    }
    const open = openByWallet.get(w.id) ?? 0;
    if (w.frozenMinor !== open) {
      frozenMismatches.push({
        walletId: w.id,
        storedMinor: w.frozenMinor,
        openHoldsMinor: open,
        differenceMinor: w.frozenMinor - open,
      });
    }
    if (w.balanceMinor - w.frozenMinor < 0) {
      negativeAvailable.push({ walletId: w.id, balanceMinor: w.balanceMinor, frozenMinor: w.frozenMinor });
    }
  }

  const activationById = new Map(activations.map((a) => [a.id, a]));
  const rentalById = new Map(rentals.map((r) => [r.id, r]));
  const orphanHolds: OrphanHold[] = [];
  for (const h of holds) {
    if (h.state !== "open" || h.ownerType === "manual") continue;
    const owner = h.ownerType === "activation" ? activationById.get(h.ownerId) : rentalById.get(h.ownerId);
    const live =
      owner !== undefined &&
      (h.ownerType === "activation"
        ? !isActivationTerminal((owner as ActivationRecord).state)
        : !isRentalTerminal((owner as RentalRecord).state));
    if (live) continue;
    orphanHolds.push({
      holdId: h.id,
      walletId: h.walletId,
      amountMinor: h.amountMinor,
      ownerType: h.ownerType,
      ownerId: h.ownerId,
      problem: owner === undefined ? "owner_missing" : "owner_terminal",
      ownerState: owner?.state ?? null,
    });
  }

  const holdById = new Map(holds.map((h) => [h.id, h]));
  const ownerHoldProblems: OwnerHoldProblem[] = [];
  for (const a of activations) {
    const open = openByOwner.get(`activation\u0000${a.id}`) ?? 0;
    const live = !isActivationTerminal(a.state);
    const base = { ownerType: "activation", ownerId: a.id, walletId: a.walletId, state: a.state } as const;
    if (!live && !holdById.has(a.holdId)) {
      ownerHoldProblems.push({ ...base, problem: "hold_missing", openHolds: open, holdId: a.holdId });
    }
    if (live && open === 0)
      ownerHoldProblems.push({ ...base, problem: "no_open_hold", openHolds: 0, holdId: null });
    if (open > 1)
      ownerHoldProblems.push({ ...base, problem: "several_open_holds", openHolds: open, holdId: null });
  }
  for (const r of rentals) {
    const open = openByOwner.get(`rental\u0000${r.id}`) ?? 0;
    const base = { ownerType: "rental", ownerId: r.id, walletId: r.walletId, state: r.state } as const;
    if (isRentalTerminal(r.state)) {
      for (const p of r.periods) {
        if (!holdById.has(p.holdId)) {
          ownerHoldProblems.push({ ...base, problem: "hold_missing", openHolds: open, holdId: p.holdId });
        }
      }
      continue;
    }
    if (open === 0) {
      ownerHoldProblems.push({ ...base, problem: "no_open_hold", openHolds: 0, holdId: null });
      continue;
    }
    // Each paid (or being paid) period keeps its own hold open until the rental ends; a failed one holds nothing.
    for (const p of r.periods) {
      const holdOpen = holdById.get(p.holdId)?.state === "open";
      const problem =
        p.state === "failed"
          ? holdOpen
            ? "failed_period_with_open_hold"
            : null
          : holdOpen
            ? null
            : "period_without_open_hold";
      if (problem !== null) ownerHoldProblems.push({ ...base, problem, openHolds: open, holdId: p.holdId });
    }
  }

  return {
    replayedMinor,
    malformedTransfers,
    balanceMismatches,
    frozenMismatches,
    negativeAvailable,
    holdResolutionProblems,
    orphanHolds,
    ownerHoldProblems,
  };
}

/** One broken invariant of docs/design.md §2, with the numbers that show it. */
export interface LedgerViolation {
  readonly invariant: 1 | 2 | 3 | 4 | 5 | 8;
  readonly subject: string;
  readonly message: string;
}

/** The findings of {@link findLedgerProblems} as violations numbered by the invariant they break. */
export function ledgerViolations(findings: LedgerFindings): LedgerViolation[] {
  const out: LedgerViolation[] = [];
  let total = 0;
  for (const [account, balance] of findings.replayedMinor) {
    total += balance;
    if (!isPlatformAccountId(account) && balance < 0)
      out.push({ invariant: 1, subject: account, message: `customer replay ${balance} < 0` });
  }
  if (total !== 0) out.push({ invariant: 1, subject: "ledger", message: `accounts sum to ${total}, not 0` });
  for (const t of findings.malformedTransfers)
    out.push({ invariant: 1, subject: t.transferId, message: `transfer ${t.problem.replaceAll("_", " ")}` });
  for (const m of findings.balanceMismatches)
    out.push({
      invariant: 2,
      subject: m.walletId,
      message: `stored balance ${m.storedMinor} ≠ replay ${m.replayedMinor}`,
    });
  for (const m of findings.frozenMismatches)
    out.push({
      invariant: 2,
      subject: m.walletId,
      message: `stored frozen ${m.storedMinor} ≠ open holds ${m.openHoldsMinor}`,
    });
  for (const w of findings.negativeAvailable)
    out.push({
      invariant: 3,
      subject: w.walletId,
      message: `available ${w.balanceMinor - w.frozenMinor} < 0`,
    });
  for (const h of findings.holdResolutionProblems)
    out.push({
      invariant: 4,
      subject: h.holdId,
      message: `hold ${h.state} settled ${h.settledMinor} but posted [${h.postedMinor.join(", ")}] (${h.problem})`,
    });
  for (const h of findings.orphanHolds)
    out.push({
      invariant: 5,
      subject: h.holdId,
      message: `open hold owned by ${h.ownerState ?? "nobody"} ${h.ownerType} ${h.ownerId}`,
    });
  for (const o of findings.ownerHoldProblems)
    out.push({
      invariant: 5,
      subject: o.ownerId,
      message: `${o.ownerType} ${o.state}: ${o.problem.replaceAll("_", " ")}${o.holdId === null ? "" : ` ${o.holdId}`}`,
    });
  return out;
}

/**
 * Checks the ledger invariants over everything a storage holds: money nets to zero, stored balances equal their
 * replay and frozen equals the open holds, available is never negative, every hold resolved once with the right
 * transfer, every open hold owned by exactly one live activation or rental (and every live one holding), and
 * every money movement and state change in the audit trail. Returns the violations (empty when all hold).
 * Idempotency (6) and "an error moves nothing" (7) are properties of calls, checked by the conformance suite.
 */
export async function checkLedgerInvariants(read: StorageReader): Promise<readonly LedgerViolation[]> {
  const [wallets, transfers, holds, activations, rentals, audit] = await Promise.all([
    read.listWallets(),
    read.listTransfers(),
    read.listHolds(),
    read.listActivations(),
    read.listRentals(),
    read.listAudit(),
  ]);
  const out = ledgerViolations(findLedgerProblems({ wallets, transfers, holds, activations, rentals }));
  const fail = (invariant: LedgerViolation["invariant"], subject: string, message: string) =>
    out.push({ invariant, subject, message });

  const audited = new Map<string, number>();
  for (const a of audit) addTo(audited, `${a.subjectType}:${a.action}`, 1);
  const moneyAudits = [...audited]
    .filter(([k]) => /^wallet:wallet\.(?!create)/.test(k))
    .reduce((s, [, n]) => s + n, 0);
  if (moneyAudits !== transfers.length)
    fail(8, "audit", `${transfers.length} transfers but ${moneyAudits} money audit rows`);
  const holdAudits = audited.get("hold:hold.freeze") ?? 0;
  if (holdAudits !== holds.length)
    fail(8, "audit", `${holds.length} holds but ${holdAudits} freeze audit rows`);
  const resolvedAudits = (audited.get("hold:hold.settle") ?? 0) + (audited.get("hold:hold.release") ?? 0);
  const resolved = holds.filter((h) => h.state !== "open").length;
  if (resolvedAudits !== resolved)
    fail(8, "audit", `${resolved} resolved holds but ${resolvedAudits} resolution audit rows`);
  // Every state change of an activation or rental is one audit row: as many rows as versions.
  const changes = new Map<string, number>();
  for (const a of audit) {
    if (
      (a.subjectType === "activation" || a.subjectType === "rental") &&
      a.action !== "activation.late_code"
    ) {
      addTo(changes, a.subjectId, 1);
    }
  }
  for (const r of [...activations, ...rentals]) {
    const rows = changes.get(r.id) ?? 0;
    if (rows !== r.version) fail(8, r.id, `version ${r.version} but ${rows} state-change audit rows`);
  }
  return out;
}
