/**
 * The coherence report: a read-only audit of exported records that finds the defects the money model forbids
 * (docs/design.md §2 invariants) and the patterns behind a bad month — stored balances that differ from the ledger,
 * frozen amounts that differ from the open holds, holds without an owner, owners without a hold, money events
 * of different operations racing on one wallet, stuck purchases — plus the health figures and the policies'
 * recommendations. Data first; {@link renderCoherenceReport} turns it into text.
 */
import type {
  ActivationRecord,
  ActivationState,
  HoldRecord,
  RentalRecord,
  RentalState,
  TransferKind,
  TransferRecord,
  WalletRecord,
} from "../core/records.js";
import { ACTIVATION_STATES, isPlatformAccountId, RENTAL_STATES } from "../core/records.js";
import {
  type BalanceMismatch,
  type FrozenMismatch,
  findLedgerProblems,
  type MalformedTransfer,
  type OrphanHold,
  type OwnerHoldProblem,
} from "../wallet/invariants.js";
import {
  defaultHealthPolicyConfig,
  evaluateHealthPolicies,
  type HealthPolicyConfig,
  type HealthPolicyReport,
} from "./policies.js";
import { computeHealthOverview, type HealthGroupStats, type HealthStats } from "./stats.js";
import type { HealthWindow } from "./window.js";

/** Options of {@link buildCoherenceReport}. */
export interface CoherenceOptions {
  /** Money events of different operations on one wallet closer than this are a race pair. Default 1000 ms. */
  readonly raceThresholdMs?: number;
  /** A `pending` activation or rental older than this is stuck. Default 10 minutes. */
  readonly stuckPendingMs?: number;
  /** At most this many race pairs are listed (closest first); the count is always complete. Default 1000. */
  readonly maxRacePairs?: number;
  /** The window of the health sections (by `createdAtMs`). Default: every record. */
  readonly window?: HealthWindow;
  /** The policies behind the recommendations. Default {@link defaultHealthPolicyConfig}. */
  readonly policy?: HealthPolicyConfig;
}

/** Everything {@link buildCoherenceReport} reads. */
export interface CoherenceInput {
  readonly wallets: readonly WalletRecord[];
  readonly transfers: readonly TransferRecord[];
  readonly holds: readonly HoldRecord[];
  readonly activations: readonly ActivationRecord[];
  readonly rentals: readonly RentalRecord[];
  readonly nowMs: number;
  readonly options?: CoherenceOptions;
}

/** A wallet whose stored balance is not the replay of its transfers. */
export type CoherenceBalanceMismatch = BalanceMismatch;

/** A wallet whose stored frozen amount is not the sum of its open holds. */
export type CoherenceFrozenMismatch = FrozenMismatch;

/** Per currency: stored and replayed customer money against the platform accounts. */
export interface CoherenceCurrencyTotals {
  readonly currency: string;
  readonly customerStoredMinor: number;
  readonly customerReplayedMinor: number;
  /** Σ derived balances of the platform accounts. */
  readonly platformMinor: number;
  /** `customerStored + platform`: zero when every stored balance is right. */
  readonly sumStoredMinor: number;
  /** `customerReplayed + platform`: zero when every transfer nets to zero. */
  readonly sumReplayedMinor: number;
}

/** A transfer that breaks the ledger's shape. */
export type CoherenceMalformedTransfer = MalformedTransfer;

/** A transfer whose `walletBalanceAfterMinor` differs from the running replay (the first one per wallet). */
export interface CoherenceStatementBreak {
  readonly walletId: string;
  readonly transferId: string;
  readonly recordedMinor: number;
  readonly replayedMinor: number;
}

/** An open hold whose owner is missing or already terminal. */
export type CoherenceOrphanHold = OrphanHold;

/** An activation or rental that should hold money and does not (or holds too much). */
export type CoherenceOwnerHoldProblem = OwnerHoldProblem;

/** One money event on a wallet. */
export interface CoherenceMoneyEvent {
  readonly kind: `transfer:${TransferKind}` | "hold_open" | "hold_settle" | "hold_release";
  /** The transfer or hold id. */
  readonly id: string;
  /** The operation it belongs to: the transfer's `operationId`, the hold's owner. */
  readonly operationId: string;
  readonly atMs: number;
}

/** Two money events of different operations on one wallet, closer than the threshold. */
export interface CoherenceRacePair {
  readonly walletId: string;
  readonly gapMs: number;
  readonly first: CoherenceMoneyEvent;
  readonly second: CoherenceMoneyEvent;
}

/** A purchase stuck in `pending` longer than the threshold. */
export interface CoherenceStuckPending {
  readonly ownerType: "activation" | "rental";
  readonly id: string;
  readonly walletId: string;
  readonly provider: string;
  readonly createdAtMs: number;
  readonly ageMs: number;
}

/** A recommendation, most severe first. */
export interface CoherenceRecommendation {
  readonly severity: "critical" | "warning" | "info";
  readonly text: string;
}

/** The coherence report, one section per concern. */
export interface CoherenceReport {
  readonly generatedAtMs: number;
  /**
   * `true` when the money is coherent: every stored balance equals its ledger replay (none has negative available
   * money, every transfer names a known wallet and every currency sums to zero), every stored frozen amount equals
   * the wallet's open holds, no open hold lacks a live owner, every live activation or rental holds exactly its
   * money, no purchase is stuck in `pending`, and no transfer is malformed or breaks its wallet's statement.
   * Race pairs do not count (see {@link CoherenceReport.raceFree}), nor do the policies' findings.
   */
  readonly ok: boolean;
  /**
   * `true` when no race pair was found (`raceConditions.count === 0`). Judged apart from {@link ok}: closeness in
   * time is a sign of a missing lock on a concurrent system, and says nothing on a sequential run or a manual
   * clock, where unrelated operations share one instant.
   */
  readonly raceFree: boolean;
  readonly state: {
    readonly wallets: number;
    readonly transfers: number;
    readonly holds: { readonly open: number; readonly settled: number; readonly released: number };
    readonly activations: Readonly<Record<ActivationState, number>>;
    readonly rentals: Readonly<Record<RentalState, number>>;
  };
  readonly activations: {
    readonly window: HealthWindow;
    readonly total: HealthGroupStats;
    readonly stuckPending: readonly CoherenceStuckPending[];
    readonly retries: number;
    readonly lateCodes: number;
  };
  readonly transactions: {
    readonly byKind: readonly {
      readonly kind: TransferKind;
      readonly currency: string;
      readonly count: number;
      readonly amountMinor: number;
    }[];
    readonly malformed: readonly CoherenceMalformedTransfer[];
    readonly statementBreaks: readonly CoherenceStatementBreak[];
  };
  readonly raceConditions: {
    readonly thresholdMs: number;
    /** Every pair found (the list may be cut at `maxRacePairs`). */
    readonly count: number;
    /** Closest first; one per wallet and pair of operations, at its smallest gap. */
    readonly pairs: readonly CoherenceRacePair[];
  };
  readonly coherence: {
    readonly balanceMismatches: readonly CoherenceBalanceMismatch[];
    readonly frozenMismatches: readonly CoherenceFrozenMismatch[];
    readonly negativeAvailable: readonly {
      readonly walletId: string;
      readonly balanceMinor: number;
      readonly frozenMinor: number;
    }[];
    /** Transfers or holds naming a customer wallet that is not among the wallets. */
    readonly unknownWallets: readonly string[];
    readonly platformAccounts: readonly {
      readonly accountId: string;
      readonly currency: string;
      readonly balanceMinor: number;
    }[];
    readonly currencies: readonly CoherenceCurrencyTotals[];
    readonly orphanHolds: readonly CoherenceOrphanHold[];
    readonly ownerHoldProblems: readonly CoherenceOwnerHoldProblem[];
  };
  readonly temporal: { readonly byDay: HealthStats; readonly byHour: HealthStats };
  readonly services: {
    readonly byService: HealthStats;
    readonly byServiceCountry: HealthStats;
    /** Services with ended activations and not one success. */
    readonly neverSucceeded: readonly string[];
    readonly policies: HealthPolicyReport;
  };
  readonly recommendations: readonly CoherenceRecommendation[];
}

function countBy<S extends string>(states: readonly S[], items: readonly { state: S }[]): Record<S, number> {
  const out = Object.fromEntries(states.map((s) => [s, 0])) as Record<S, number>;
  for (const i of items) out[i.state] = (out[i.state] ?? 0) + 1;
  return out;
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Builds the coherence report from exported records. Pure: reads its input, changes nothing. */
export function buildCoherenceReport(input: CoherenceInput): CoherenceReport {
  const { wallets, transfers, holds, activations, rentals, nowMs } = input;
  const options = input.options ?? {};
  const raceThresholdMs = options.raceThresholdMs ?? 1000;
  const stuckPendingMs = options.stuckPendingMs ?? 10 * 60_000;
  const maxRacePairs = options.maxRacePairs ?? 1000;
  const policy = options.policy ?? defaultHealthPolicyConfig;

  const walletById = new Map(wallets.map((w) => [w.id, w]));
  const holdById = new Map(holds.map((h) => [h.id, h]));
  const unknownWallets = new Set<string>();
  const findings = findLedgerProblems({ wallets, transfers, holds, activations, rentals });
  const replayed = findings.replayedMinor;
  const { balanceMismatches, frozenMismatches, negativeAvailable, orphanHolds, ownerHoldProblems } = findings;
  const malformed = findings.malformedTransfers;

  const platformCurrency = new Map<string, string>();
  const byKind = new Map<
    string,
    { kind: TransferKind; currency: string; count: number; amountMinor: number }
  >();
  for (const t of transfers) {
    for (const id of [t.debitAccountId, t.creditAccountId]) {
      if (isPlatformAccountId(id)) platformCurrency.set(id, t.currency);
      else if (!walletById.has(id)) unknownWallets.add(id);
    }
    const kindKey = `${t.kind}\u0000${t.currency}`;
    const k = byKind.get(kindKey) ?? { kind: t.kind, currency: t.currency, count: 0, amountMinor: 0 };
    k.count++;
    k.amountMinor += t.amountMinor;
    byKind.set(kindKey, k);
  }
  const statementBreaks = findStatementBreaks(transfers);
  const holdCounts = { open: 0, settled: 0, released: 0 };
  for (const h of holds) {
    holdCounts[h.state]++;
    if (!walletById.has(h.walletId)) unknownWallets.add(h.walletId);
  }

  // Platform accounts and per-currency totals.
  const platformAccounts = [...platformCurrency.entries()]
    .map(([accountId, currency]) => ({ accountId, currency, balanceMinor: replayed.get(accountId) ?? 0 }))
    .sort((a, b) => compareStrings(a.accountId, b.accountId));
  const currencies = currencyTotals(wallets, replayed, platformAccounts);

  const race = findWalletRacePairs(transfers, holds, holdById, raceThresholdMs, maxRacePairs);

  const stuckPending: CoherenceStuckPending[] = [];
  for (const a of activations) {
    if (a.state === "pending" && nowMs - a.createdAtMs > stuckPendingMs) {
      stuckPending.push({
        ownerType: "activation",
        id: a.id,
        walletId: a.walletId,
        provider: a.provider,
        createdAtMs: a.createdAtMs,
        ageMs: nowMs - a.createdAtMs,
      });
    }
  }
  for (const r of rentals) {
    if (r.state === "pending" && nowMs - r.createdAtMs > stuckPendingMs) {
      stuckPending.push({
        ownerType: "rental",
        id: r.id,
        walletId: r.walletId,
        provider: r.provider,
        createdAtMs: r.createdAtMs,
        ageMs: nowMs - r.createdAtMs,
      });
    }
  }
  stuckPending.sort((a, b) => b.ageMs - a.ageMs || compareStrings(a.id, b.id));

  const overview = computeHealthOverview(activations, options.window ? { window: options.window } : {});
  const policies = evaluateHealthPolicies(activations, { nowMs, config: policy });
  const neverSucceeded = overview.byService.groups
    .filter((g) => g.decided > 0 && g.received === 0)
    .map((g) => g.key.service as string);

  const coherence = {
    balanceMismatches,
    frozenMismatches,
    negativeAvailable,
    unknownWallets: [...unknownWallets].sort(compareStrings),
    platformAccounts,
    currencies,
    orphanHolds,
    ownerHoldProblems,
  };
  const ok =
    balanceMismatches.length === 0 &&
    frozenMismatches.length === 0 &&
    negativeAvailable.length === 0 &&
    coherence.unknownWallets.length === 0 &&
    currencies.every((c) => c.sumStoredMinor === 0 && c.sumReplayedMinor === 0) &&
    orphanHolds.length === 0 &&
    ownerHoldProblems.length === 0 &&
    stuckPending.length === 0 &&
    malformed.length === 0 &&
    statementBreaks.length === 0;

  const report: Omit<CoherenceReport, "recommendations"> = {
    generatedAtMs: nowMs,
    ok,
    raceFree: race.count === 0,
    state: {
      wallets: wallets.length,
      transfers: transfers.length,
      holds: holdCounts,
      activations: countBy(ACTIVATION_STATES, activations),
      rentals: countBy(RENTAL_STATES, rentals),
    },
    activations: {
      window: overview.window,
      total: overview.total,
      stuckPending,
      retries: activations.filter((a) => a.retryOf !== null).length,
      lateCodes: activations.reduce((n, a) => n + a.lateCodes.length, 0),
    },
    transactions: {
      byKind: [...byKind.values()].sort(
        (a, b) => compareStrings(a.kind, b.kind) || compareStrings(a.currency, b.currency),
      ),
      malformed,
      statementBreaks,
    },
    raceConditions: { thresholdMs: raceThresholdMs, count: race.count, pairs: race.pairs },
    coherence,
    temporal: { byDay: overview.byDay, byHour: overview.byHour },
    services: {
      byService: overview.byService,
      byServiceCountry: overview.byServiceCountry,
      neverSucceeded,
      policies,
    },
  };
  return { ...report, recommendations: recommend(report) };
}

function findStatementBreaks(transfers: readonly TransferRecord[]): CoherenceStatementBreak[] {
  const byWallet = new Map<string, TransferRecord[]>();
  for (const t of transfers) {
    const list = byWallet.get(t.walletId);
    if (list === undefined) byWallet.set(t.walletId, [t]);
    else list.push(t);
  }
  const breaks: CoherenceStatementBreak[] = [];
  for (const [walletId, list] of byWallet) {
    list.sort((a, b) => a.seq - b.seq || a.createdAtMs - b.createdAtMs);
    let running = 0;
    for (const t of list) {
      if (t.creditAccountId === walletId) running += t.amountMinor;
      if (t.debitAccountId === walletId) running -= t.amountMinor;
      if (running !== t.walletBalanceAfterMinor) {
        breaks.push({
          walletId,
          transferId: t.id,
          recordedMinor: t.walletBalanceAfterMinor,
          replayedMinor: running,
        });
        break;
      }
    }
  }
  return breaks.sort((a, b) => compareStrings(a.walletId, b.walletId));
}

function currencyTotals(
  wallets: readonly WalletRecord[],
  replayed: ReadonlyMap<string, number>,
  platformAccounts: readonly { currency: string; balanceMinor: number }[],
): CoherenceCurrencyTotals[] {
  const totals = new Map<string, { stored: number; replayed: number; platform: number }>();
  const get = (c: string) => {
    let t = totals.get(c);
    if (t === undefined) {
      t = { stored: 0, replayed: 0, platform: 0 };
      totals.set(c, t);
    }
    return t;
  };
  for (const w of wallets) {
    const t = get(w.currency);
    t.stored += w.balanceMinor;
    t.replayed += replayed.get(w.id) ?? 0;
  }
  for (const p of platformAccounts) get(p.currency).platform += p.balanceMinor;
  return [...totals.entries()]
    .sort((a, b) => compareStrings(a[0], b[0]))
    .map(([currency, t]) => ({
      currency,
      customerStoredMinor: t.stored,
      customerReplayedMinor: t.replayed,
      platformMinor: t.platform,
      sumStoredMinor: t.stored + t.platform,
      sumReplayedMinor: t.replayed + t.platform,
    }));
}

/**
 * Race pairs: per wallet, every two money events closer than the threshold whose operations differ. A hold's
 * events belong to its owner, and so does a transfer that settles a known hold, so a freeze, its own settle
 * transfer and its release never pair with one another. Each wallet and pair of operations is reported once, at
 * its smallest gap.
 */
export function findWalletRacePairs(
  transfers: readonly TransferRecord[],
  holds: readonly HoldRecord[],
  holdById: ReadonlyMap<string, HoldRecord> = new Map(holds.map((h) => [h.id, h])),
  thresholdMs = 1000,
  maxPairs = Number.POSITIVE_INFINITY,
): { count: number; pairs: CoherenceRacePair[] } {
  const byWallet = new Map<string, CoherenceMoneyEvent[]>();
  const push = (walletId: string, e: CoherenceMoneyEvent) => {
    const list = byWallet.get(walletId);
    if (list === undefined) byWallet.set(walletId, [e]);
    else list.push(e);
  };
  for (const t of transfers) {
    const hold = t.holdId === null ? undefined : holdById.get(t.holdId);
    const operationId = hold === undefined ? t.operationId : hold.ownerId;
    push(t.walletId, { kind: `transfer:${t.kind}`, id: t.id, operationId, atMs: t.createdAtMs });
  }
  for (const h of holds) {
    push(h.walletId, { kind: "hold_open", id: h.id, operationId: h.ownerId, atMs: h.createdAtMs });
    if (h.state !== "open" && h.resolvedAtMs !== null) {
      const kind = h.state === "settled" ? "hold_settle" : "hold_release";
      push(h.walletId, { kind, id: h.id, operationId: h.ownerId, atMs: h.resolvedAtMs });
    }
  }
  const pairs: CoherenceRacePair[] = [];
  for (const [walletId, events] of byWallet) {
    events.sort((a, b) => a.atMs - b.atMs || compareStrings(a.id, b.id));
    const closest = new Map<string, CoherenceRacePair>();
    for (let i = 0; i < events.length; i++) {
      const a = events[i] as CoherenceMoneyEvent;
      for (let j = i + 1; j < events.length; j++) {
        const b = events[j] as CoherenceMoneyEvent;
        const gapMs = b.atMs - a.atMs;
        if (gapMs >= thresholdMs) break;
        if (a.operationId === b.operationId) continue;
        const key =
          a.operationId < b.operationId
            ? `${a.operationId}\u0000${b.operationId}`
            : `${b.operationId}\u0000${a.operationId}`;
        const seen = closest.get(key);
        if (seen === undefined || gapMs < seen.gapMs)
          closest.set(key, { walletId, gapMs, first: a, second: b });
      }
    }
    pairs.push(...closest.values());
  }
  pairs.sort(
    (a, b) => a.gapMs - b.gapMs || compareStrings(a.walletId, b.walletId) || a.first.atMs - b.first.atMs,
  );
  return { count: pairs.length, pairs: pairs.length > maxPairs ? pairs.slice(0, maxPairs) : pairs };
}

function recommend(r: Omit<CoherenceReport, "recommendations">): CoherenceRecommendation[] {
  const out: CoherenceRecommendation[] = [];
  const c = r.coherence;
  const critical = (text: string) => out.push({ severity: "critical", text });
  const warning = (text: string) => out.push({ severity: "warning", text });
  const info = (text: string) => out.push({ severity: "info", text });

  if (c.balanceMismatches.length > 0) {
    critical(
      `${c.balanceMismatches.length} wallet(s) store a balance that differs from their ledger ` +
        `(e.g. ${c.balanceMismatches[0]?.walletId}): fix the code path that writes balances outside a transfer, ` +
        `then correct each with an adjustment transfer, never by rewriting the balance.`,
    );
  }
  if (c.frozenMismatches.length > 0) {
    critical(
      `${c.frozenMismatches.length} wallet(s) store a frozen amount that differs from their open holds ` +
        `(e.g. ${c.frozenMismatches[0]?.walletId}): a resolution changed the balance without resolving the hold, ` +
        `or the reverse.`,
    );
  }
  if (c.negativeAvailable.length > 0) {
    critical(
      `${c.negativeAvailable.length} wallet(s) have negative available money: a freeze skipped its check.`,
    );
  }
  if (r.transactions.malformed.length > 0 || r.transactions.statementBreaks.length > 0) {
    critical(
      `${r.transactions.malformed.length} malformed transfer(s) and ${r.transactions.statementBreaks.length} ` +
        `statement break(s): the ledger is not append-only double entry somewhere.`,
    );
  }
  for (const t of r.coherence.currencies) {
    if (t.sumStoredMinor !== 0) {
      critical(
        `${t.currency}: stored customer balances plus platform accounts sum to ${t.sumStoredMinor}, not 0.`,
      );
    }
  }
  if (c.unknownWallets.length > 0) {
    warning(
      `${c.unknownWallets.length} wallet id(s) appear in transfers or holds but not among the wallets.`,
    );
  }
  if (c.orphanHolds.length > 0) {
    critical(
      `${c.orphanHolds.length} open hold(s) without a live owner keep customers' money frozen: ` +
        `release them (run the sweeper; check that every terminal transition resolves its hold).`,
    );
  }
  if (c.ownerHoldProblems.length > 0) {
    critical(
      `${c.ownerHoldProblems.length} activation(s)/rental(s) in a live state do not hold exactly their money: ` +
        `a purchase or extension must place its hold in the same transaction that creates it.`,
    );
  }
  if (r.raceConditions.count > 0) {
    const p = r.raceConditions.pairs[0];
    critical(
      `${r.raceConditions.count} pair(s) of money events from different operations on one wallet within ` +
        `${r.raceConditions.thresholdMs} ms (closest ${p?.gapMs} ms on ${p?.walletId}): make sure every money ` +
        `operation locks the wallet row inside its transaction.`,
    );
  }
  if (r.activations.stuckPending.length > 0) {
    warning(
      `${r.activations.stuckPending.length} purchase(s) stuck in pending: reconcile them against the provider's ` +
        `active list (the sweeper does this) instead of retrying the purchase.`,
    );
  }
  const policies = r.services.policies;
  for (const d of policies.decisions) {
    if (d.type === "disable") warning(`Disable ${d.reason}.`);
  }
  for (const d of policies.decisions) {
    if (d.type === "alert") warning(`Alert on ${d.reason}.`);
  }
  for (const d of policies.decisions) {
    if (d.type === "cancel_pile_up") {
      warning(
        `Cancel pile-up: ${d.reason}; customers are probably waiting out a timer (refund limit or UI) ` +
          `rather than cancelling when they give up.`,
      );
    }
  }
  for (const d of policies.decisions) {
    if (d.type === "warn") info(`Watch ${d.reason}.`);
  }
  if (r.services.neverSucceeded.length > 0) {
    info(`Never succeeded: ${r.services.neverSucceeded.join(", ")}.`);
  }
  const overall = policies.targets[0];
  for (const check of overall?.checks ?? []) {
    if (check.status === "missed") {
      info(
        `Target missed overall: ${check.metric} ${check.share.numerator}/${check.share.denominator} ` +
          `should be ${check.direction} ${Math.round(check.target * 100)} %.`,
      );
    }
  }
  const rank = { critical: 0, warning: 1, info: 2 } as const;
  return out.sort((a, b) => rank[a.severity] - rank[b.severity]);
}
