import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { HoldRecord, WalletRecord } from "../../src/index.js";
import { UnitPlan } from "../../src/wallet/unit-plan.js";

const wallet: WalletRecord = {
  id: "w",
  currency: "USD",
  balanceMinor: 0,
  frozenMinor: 0,
  version: 1,
  createdAtMs: 0,
};

type Step =
  | { op: "credit"; amount: number }
  | { op: "debit"; amount: number }
  | { op: "freeze"; amount: number }
  | { op: "settle"; hold: number; share: number }
  | { op: "release"; hold: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ op: fc.constant("credit" as const), amount: fc.integer({ min: 1, max: 1_000 }) }),
  fc.record({ op: fc.constant("debit" as const), amount: fc.integer({ min: 1, max: 1_000 }) }),
  fc.record({ op: fc.constant("freeze" as const), amount: fc.integer({ min: 1, max: 1_000 }) }),
  fc.record({
    op: fc.constant("settle" as const),
    hold: fc.nat(20),
    share: fc.double({ min: 0, max: 1.2, noNaN: true }),
  }),
  fc.record({ op: fc.constant("release" as const), hold: fc.nat(20) }),
);

describe("the unit plan's ledger arithmetic", () => {
  it("keeps balance ≥ 0 and available ≥ 0, resolves each hold once, and its plan replays to its counters", () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const plan = new UnitPlan("u", 0, "test", null, [wallet]);
        const holds: HoldRecord[] = [];
        const resolved = new Set<string>();
        for (const s of steps) {
          const before = plan.wallet("w");
          if (s.op === "credit") plan.post("deposit", "w", "credit", "deposits", s.amount, "op", null);
          else if (s.op === "debit") {
            const r = plan.post("withdrawal", "w", "debit", "deposits", s.amount, "op", null);
            // A debit beyond available is refused and changes nothing.
            expect(r.isErr()).toBe(s.amount > before.availableMinor);
            if (r.isErr()) expect(plan.wallet("w")).toEqual(before);
          } else if (s.op === "freeze") {
            const r = plan.freeze("w", {
              id: `h${holds.length}`,
              amountMinor: s.amount,
              ownerType: "manual",
              ownerId: "o",
            });
            expect(r.isErr()).toBe(s.amount > before.availableMinor);
            if (r.isOk()) holds.push(r.value);
          } else {
            const hold = holds[s.hold % Math.max(1, holds.length)];
            if (hold === undefined) continue;
            const amount = s.op === "release" ? 0 : Math.floor(hold.amountMinor * s.share);
            const r = plan.settle(resolved.has(hold.id) ? { ...hold, state: "settled" } : hold, amount);
            expect(r.isOk()).toBe(!resolved.has(hold.id) && amount <= hold.amountMinor);
            if (r.isOk()) resolved.add(hold.id);
          }
          const now = plan.wallet("w");
          expect(now.balanceMinor).toBeGreaterThanOrEqual(0);
          expect(now.availableMinor).toBeGreaterThanOrEqual(0);
        }
        const built = plan.build();
        const delta = built.walletDeltas?.[0] ?? { balanceDeltaMinor: 0, frozenDeltaMinor: 0 };
        const replay = (built.transfers ?? []).reduce(
          (sum, t) => sum + (t.creditAccountId === "w" ? t.amountMinor : -t.amountMinor),
          0,
        );
        // Stored balance = replay of the transfers; stored frozen = the holds left open.
        expect(delta.balanceDeltaMinor).toBe(replay);
        const open = holds.filter((h) => !resolved.has(h.id)).reduce((s, h) => s + h.amountMinor, 0);
        expect(delta.frozenDeltaMinor).toBe(open);
        expect(built.resolveHolds?.length).toBe(resolved.size);
      }),
      { numRuns: 500 },
    );
  });
});
