import { describe, expect, it } from "vitest";
import type {
  ActivationRecord,
  HoldRecord,
  RentalRecord,
  TransferRecord,
  WalletRecord,
} from "../../src/core/records.js";
import { platformAccountId } from "../../src/core/records.js";
import { buildCoherenceReport, type CoherenceInput } from "../../src/health/coherence.js";
import { renderCoherenceReport } from "../../src/health/render-text.js";
import { findLedgerProblems, ledgerViolations } from "../../src/wallet/invariants.js";
import { activation, MINUTE, SECOND, T0 } from "./fixtures.js";

const DEPOSITS = platformAccountId("deposits", "USD");
const REVENUE = platformAccountId("revenue", "USD");
const NOW = T0 + 30 * MINUTE;

let seq = 0;
function transfer(
  over: Partial<TransferRecord> & Pick<TransferRecord, "id" | "operationId">,
): TransferRecord {
  seq++;
  return {
    seq,
    kind: "deposit",
    debitAccountId: DEPOSITS,
    creditAccountId: "w1",
    amountMinor: 1000,
    currency: "USD",
    walletId: "w1",
    walletBalanceAfterMinor: 1000,
    holdId: null,
    reason: null,
    createdAtMs: T0,
    ...over,
  };
}

function hold(over: Partial<HoldRecord> & Pick<HoldRecord, "id" | "ownerId" | "createdAtMs">): HoldRecord {
  return {
    walletId: "w1",
    currency: "USD",
    amountMinor: 100,
    state: "open",
    settledMinor: 0,
    ownerType: "activation",
    resolvedAtMs: null,
    ...over,
  };
}

/**
 * A coherent world: a deposit of 1000; a2 received (hold settled, 100 to revenue); a3 cancelled 300 ms after its
 * freeze (its own release, no race); a1 waiting with its hold open. Balance 900, frozen 100.
 */
function world(): {
  wallets: WalletRecord[];
  transfers: TransferRecord[];
  holds: HoldRecord[];
  activations: ActivationRecord[];
} {
  seq = 0;
  return {
    wallets: [
      { id: "w1", currency: "USD", balanceMinor: 900, frozenMinor: 100, version: 5, createdAtMs: T0 },
    ],
    transfers: [
      transfer({ id: "t1", operationId: "dep-1", createdAtMs: T0 }),
      transfer({
        id: "t2",
        operationId: "a2",
        kind: "settle",
        debitAccountId: "w1",
        creditAccountId: REVENUE,
        amountMinor: 100,
        walletBalanceAfterMinor: 900,
        holdId: "h-a2",
        createdAtMs: T0 + 40 * SECOND,
      }),
    ],
    holds: [
      hold({
        id: "h-a2",
        ownerId: "a2",
        createdAtMs: T0 + 10 * SECOND,
        state: "settled",
        settledMinor: 100,
        resolvedAtMs: T0 + 40 * SECOND,
      }),
      hold({
        id: "h-a3",
        ownerId: "a3",
        createdAtMs: T0 + 60 * SECOND,
        state: "released",
        resolvedAtMs: T0 + 60 * SECOND + 300,
      }),
      hold({ id: "h-a1", ownerId: "a1", createdAtMs: T0 + 300 * SECOND }),
    ],
    activations: [
      activation({ id: "a1", state: "waiting", holdId: "h-a1", createdAtMs: T0 + 300 * SECOND }),
      activation({ id: "a2", state: "received", holdId: "h-a2", createdAtMs: T0 + 10 * SECOND }),
      activation({ id: "a3", state: "cancelled", holdId: "h-a3", createdAtMs: T0 + 60 * SECOND }),
    ],
  };
}

function report(w: ReturnType<typeof world>, options: CoherenceInput["options"] = {}) {
  return buildCoherenceReport({ ...w, rentals: [], nowMs: NOW, options });
}

describe("buildCoherenceReport", () => {
  it("finds nothing wrong in a coherent world (a freeze and its own release are not a race pair)", () => {
    const r = report(world());
    expect(r.ok).toBe(true);
    expect(r.raceFree).toBe(true);
    expect(r.raceConditions).toEqual({ thresholdMs: 1000, count: 0, pairs: [] });
    expect(r.coherence.balanceMismatches).toEqual([]);
    expect(r.coherence.frozenMismatches).toEqual([]);
    expect(r.coherence.orphanHolds).toEqual([]);
    expect(r.coherence.ownerHoldProblems).toEqual([]);
    expect(r.transactions.statementBreaks).toEqual([]);
    expect(r.coherence.platformAccounts).toEqual([
      { accountId: DEPOSITS, currency: "USD", balanceMinor: -1000 },
      { accountId: REVENUE, currency: "USD", balanceMinor: 100 },
    ]);
    expect(r.coherence.currencies).toEqual([
      {
        currency: "USD",
        customerStoredMinor: 900,
        customerReplayedMinor: 900,
        platformMinor: -900,
        sumStoredMinor: 0,
        sumReplayedMinor: 0,
      },
    ]);
    expect(r.recommendations.filter((x) => x.severity === "critical")).toEqual([]);
  });

  it("detects a wallet whose stored balance differs from its ledger", () => {
    const w = world();
    w.wallets[0] = { ...(w.wallets[0] as WalletRecord), balanceMinor: 950 };
    const r = report(w);
    expect(r.ok).toBe(false);
    expect(r.coherence.balanceMismatches).toEqual([
      { walletId: "w1", currency: "USD", storedMinor: 950, replayedMinor: 900, differenceMinor: 50 },
    ]);
    expect(r.coherence.currencies[0]?.sumStoredMinor).toBe(50);
    expect(r.recommendations[0]?.severity).toBe("critical");
  });

  it("detects a stored frozen amount that differs from the open holds", () => {
    const w = world();
    w.wallets[0] = { ...(w.wallets[0] as WalletRecord), frozenMinor: 200 };
    expect(report(w).coherence.frozenMismatches).toEqual([
      { walletId: "w1", storedMinor: 200, openHoldsMinor: 100, differenceMinor: 100 },
    ]);
  });

  it("detects orphan holds: owner missing, owner terminal", () => {
    const w = world();
    w.holds.push(hold({ id: "h-ghost", ownerId: "ghost", createdAtMs: T0 + 20 * MINUTE, amountMinor: 30 }));
    w.holds.push(hold({ id: "h-a3-again", ownerId: "a3", createdAtMs: T0 + 20 * MINUTE, amountMinor: 20 }));
    w.wallets[0] = { ...(w.wallets[0] as WalletRecord), frozenMinor: 150 };
    const r = report(w);
    expect(r.coherence.orphanHolds).toEqual([
      {
        holdId: "h-ghost",
        walletId: "w1",
        amountMinor: 30,
        ownerType: "activation",
        ownerId: "ghost",
        problem: "owner_missing",
        ownerState: null,
      },
      {
        holdId: "h-a3-again",
        walletId: "w1",
        amountMinor: 20,
        ownerType: "activation",
        ownerId: "a3",
        problem: "owner_terminal",
        ownerState: "cancelled",
      },
    ]);
    expect(r.coherence.frozenMismatches).toEqual([]);
  });

  it("detects an owner in a waiting state without an open hold", () => {
    const w = world();
    w.activations.push(
      activation({ id: "a4", state: "waiting", holdId: "h-a4", createdAtMs: T0 + 25 * MINUTE }),
    );
    expect(report(w).coherence.ownerHoldProblems).toEqual([
      {
        ownerType: "activation",
        ownerId: "a4",
        walletId: "w1",
        state: "waiting",
        problem: "no_open_hold",
        openHolds: 0,
        holdId: null,
      },
    ]);
  });

  it("detects a race pair of different operations at the given gap", () => {
    const w = world();
    // A second deposit lands 139 ms after a1's freeze: two operations, no lock between them.
    w.transfers.push(
      transfer({
        id: "t3",
        operationId: "dep-2",
        amountMinor: 50,
        walletBalanceAfterMinor: 950,
        createdAtMs: T0 + 300 * SECOND + 139,
      }),
    );
    w.wallets[0] = { ...(w.wallets[0] as WalletRecord), balanceMinor: 950 };
    const r = report(w);
    expect(r.raceConditions.count).toBe(1);
    expect(r.raceConditions.pairs[0]).toMatchObject({
      walletId: "w1",
      gapMs: 139,
      first: { kind: "hold_open", id: "h-a1", operationId: "a1" },
      second: { kind: "transfer:deposit", id: "t3", operationId: "dep-2" },
    });
    // The money is coherent: a race pair is reported and judged apart, not counted as a defect.
    expect(r.ok).toBe(true);
    expect(r.raceFree).toBe(false);
    expect(r.recommendations[0]).toMatchObject({
      severity: "critical",
      text: expect.stringMatching(/^1 pair/),
    });
    expect(renderCoherenceReport(r).split("\n")[0]).toBe(
      `Coherence report at ${new Date(NOW).toISOString()}: OK; 1 race pair(s) to look into`,
    );
    expect(report(w, { raceThresholdMs: 139 })).toMatchObject({ ok: true, raceFree: true });
    expect(report(w, { raceThresholdMs: 139 }).raceConditions.count).toBe(0);
    expect(report(w, { raceThresholdMs: 140 }).raceConditions.count).toBe(1);
  });

  it("reports each pair of operations once, at its smallest gap", () => {
    const w = world();
    // a3's freeze (t+60 s) and release (t+60.3 s) both lie near a deposit at t+60.5 s.
    w.transfers.push(
      transfer({
        id: "t3",
        operationId: "dep-2",
        amountMinor: 50,
        walletBalanceAfterMinor: 950,
        createdAtMs: T0 + 60_500,
      }),
    );
    w.wallets[0] = { ...(w.wallets[0] as WalletRecord), balanceMinor: 950 };
    const r = report(w);
    expect(r.raceConditions.pairs.map((p) => [p.gapMs, p.first.kind, p.second.id])).toEqual([
      [200, "hold_release", "t3"],
    ]);
  });

  it("detects purchases stuck in pending past the threshold", () => {
    const w = world();
    w.activations.push(activation({ id: "p-old", state: "pending", createdAtMs: NOW - 11 * MINUTE }));
    w.activations.push(activation({ id: "p-new", state: "pending", createdAtMs: NOW - 9 * MINUTE }));
    w.holds.push(hold({ id: "h-p-old", ownerId: "p-old", createdAtMs: NOW - 11 * MINUTE }));
    w.holds.push(hold({ id: "h-p-new", ownerId: "p-new", createdAtMs: NOW - 9 * MINUTE }));
    w.wallets[0] = { ...(w.wallets[0] as WalletRecord), frozenMinor: 300 };
    const r = report(w);
    expect(r.activations.stuckPending.map((p) => [p.id, p.ageMs])).toEqual([["p-old", 11 * MINUTE]]);
    // Money frozen for a purchase nobody resolves: not coherent.
    expect(r.ok).toBe(false);
    expect(report(w, { stuckPendingMs: 12 * MINUTE })).toMatchObject({ ok: true, raceFree: true });
  });

  it("detects a statement break and a malformed transfer", () => {
    const w = world();
    w.transfers[1] = { ...(w.transfers[1] as TransferRecord), walletBalanceAfterMinor: 901 };
    w.transfers.push(
      transfer({ id: "t-bad", operationId: "x", amountMinor: 0, walletBalanceAfterMinor: 900 }),
    );
    const r = report(w);
    expect(r.transactions.statementBreaks).toEqual([
      { walletId: "w1", transferId: "t2", recordedMinor: 901, replayedMinor: 900 },
    ]);
    expect(r.transactions.malformed).toEqual([{ transferId: "t-bad", problem: "non_positive_amount" }]);
    expect(r.ok).toBe(false);
  });

  it("carries the policy decisions into the recommendations", () => {
    const w = world();
    for (let i = 0; i < 30; i++) {
      w.activations.push(
        activation({ id: `dead-${i}`, state: "timeout", service: "dead", createdAtMs: NOW - MINUTE }),
      );
    }
    const r = report(w);
    expect(r.services.neverSucceeded).toEqual(["dead"]);
    expect(r.services.policies.decisions.some((d) => d.type === "disable" && d.service === "dead")).toBe(
      true,
    );
    expect(
      r.recommendations.some((x) => x.text.startsWith("Disable service dead: success upper bound")),
    ).toBe(true);
  });

  it("detects a live rental period whose hold is not open", () => {
    const w = world();
    const rental: RentalRecord = {
      id: "r1",
      walletId: "w1",
      provider: "hero",
      providerRentalId: "pr1",
      serviceCode: "tg",
      countryCode: "6",
      service: "telegram",
      country: "id",
      state: "active",
      phone: "62800000001",
      currency: "USD",
      periods: [
        { holdId: "h-r1-0", hours: 4, priceMinor: 100, state: "paid" },
        { holdId: "h-r1-1", hours: 4, priceMinor: 100, state: "paid" },
      ],
      priceMinor: 200,
      costMinor: null,
      messageCount: 0,
      failureReason: null,
      createdAtMs: T0 + 20 * MINUTE,
      startedAtMs: T0 + 20 * MINUTE,
      endsAtMs: T0 + 8 * 60 * MINUTE,
      endedAtMs: null,
      version: 2,
    };
    w.holds.push(hold({ id: "h-r1-0", ownerType: "rental", ownerId: "r1", createdAtMs: T0 + 20 * MINUTE }));
    w.wallets[0] = { ...(w.wallets[0] as WalletRecord), frozenMinor: 200 };
    const r = buildCoherenceReport({ ...w, rentals: [rental], nowMs: NOW });
    expect(r.coherence.ownerHoldProblems).toEqual([
      {
        ownerType: "rental",
        ownerId: "r1",
        walletId: "w1",
        state: "active",
        problem: "period_without_open_hold",
        openHolds: 1,
        holdId: "h-r1-1",
      },
    ]);
    expect(r.state.rentals.active).toBe(1);
  });

  it("aggregates the ledger check: its money sections are exactly what findLedgerProblems finds", () => {
    const w = world();
    // A terminal owner still holding, a live owner without a hold, a stored balance off by 7.
    w.activations[2] = { ...(w.activations[2] as ActivationRecord), state: "timeout" };
    w.holds[1] = { ...(w.holds[1] as HoldRecord), state: "open", resolvedAtMs: null };
    w.activations.push(activation({ id: "a9", state: "pending", holdId: "h-a9", createdAtMs: T0 }));
    w.wallets[0] = { ...(w.wallets[0] as WalletRecord), balanceMinor: 907 };
    const r = report(w);
    const f = findLedgerProblems({ ...w, rentals: [] });
    expect(r.coherence.balanceMismatches).toEqual(f.balanceMismatches);
    expect(r.coherence.frozenMismatches).toEqual(f.frozenMismatches);
    expect(r.coherence.orphanHolds).toEqual(f.orphanHolds);
    expect(r.coherence.ownerHoldProblems).toEqual(f.ownerHoldProblems);
    expect(f.orphanHolds.map((h) => [h.holdId, h.ownerState])).toEqual([["h-a3", "timeout"]]);
    expect(f.ownerHoldProblems.map((o) => [o.ownerId, o.problem])).toEqual([["a9", "no_open_hold"]]);
    expect(ledgerViolations(f).map((v) => v.invariant)).toEqual([2, 2, 5, 5]);
  });

  it("judges liveness by the machine tables: a failed extension holding money is a problem", () => {
    const w = world();
    const rental: RentalRecord = {
      id: "r1",
      walletId: "w1",
      provider: "hero",
      providerRentalId: "pr-1",
      serviceCode: "tg",
      countryCode: "6",
      service: "telegram",
      country: "id",
      state: "active",
      phone: "62800000001",
      currency: "USD",
      periods: [
        { holdId: "h-r1-0", hours: 4, priceMinor: 100, state: "paid" },
        { holdId: "h-r1-1", hours: 4, priceMinor: 100, state: "failed" },
      ],
      priceMinor: 100,
      costMinor: null,
      messageCount: 0,
      failureReason: null,
      createdAtMs: T0 + 20 * MINUTE,
      startedAtMs: T0 + 20 * MINUTE,
      endsAtMs: T0 + 4 * 60 * MINUTE,
      endedAtMs: null,
      version: 2,
    };
    w.holds.push(hold({ id: "h-r1-0", ownerType: "rental", ownerId: "r1", createdAtMs: T0 + 20 * MINUTE }));
    w.holds.push(hold({ id: "h-r1-1", ownerType: "rental", ownerId: "r1", createdAtMs: T0 + 21 * MINUTE }));
    w.wallets[0] = { ...(w.wallets[0] as WalletRecord), frozenMinor: 300 };
    const problems = findLedgerProblems({ ...w, rentals: [rental] }).ownerHoldProblems;
    expect(problems.map((o) => [o.ownerId, o.problem, o.holdId])).toEqual([
      ["r1", "failed_period_with_open_hold", "h-r1-1"],
    ]);
  });
});
