import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { activationMachineState } from "../../src/activation/machine.js";
import { targetsOf } from "../../src/core/machine.js";
import {
  type ActivationEvent,
  type ActivationRecord,
  activationTransitions,
  createRefundPolicy,
  type RentalEvent,
  type RentalRecord,
  rentalTransitions,
  transitionActivation,
  transitionRental,
} from "../../src/index.js";
import { recordFixtures } from "../../src/testing/index.js";

const T0 = 1_000_000;
const HOUR = 3_600_000;
const policy = createRefundPolicy({ timeoutCashbackPercent: 50, rentalEarlyEnd: "pro_rata" })._unsafeUnwrap();

const activationArb: fc.Arbitrary<ActivationRecord> = fc
  .record({
    state: fc.constantFrom("pending", "waiting", "received", "cancelled", "timeout", "expired", "failed"),
    closed: fc.boolean(),
    codes: fc.subarray(["1", "2"]),
    lateCodes: fc.subarray(["3"]),
    deadlineOffset: fc.integer({ min: -HOUR, max: HOUR }),
    endRequest: fc.boolean(),
  })
  .map((r) =>
    recordFixtures.activation("a1", {
      state: r.state,
      providerActivationId: r.state === "pending" ? null : "9",
      issuedAtMs: r.state === "pending" ? null : T0,
      closedAtMs: r.state === "received" && r.closed ? T0 : null,
      // Only an activation that left `waiting` can hold codes.
      codes: r.state === "pending" || r.state === "waiting" ? [] : r.codes,
      lateCodes: r.state === "pending" || r.state === "waiting" ? [] : r.lateCodes,
      deadlineAtMs: r.state === "pending" ? null : T0 + 20 * 60_000 + r.deadlineOffset,
      endRequest: r.endRequest ? { event: "cancel", refunded: true, atMs: T0, reason: "customer" } : null,
    }),
  );

const activationEventArb: fc.Arbitrary<ActivationEvent> = fc.oneof(
  fc.constant({
    type: "issued" as const,
    providerActivationId: "9",
    phone: "1",
    costMinor: 10,
    deadlineAtMs: T0 + HOUR,
  }),
  fc.constant({ type: "purchase_failed" as const, reason: "no_numbers" }),
  fc
    .record({
      type: fc.constant("code" as const),
      code: fc.constantFrom("1", "2", "3", "4"),
      receivedAtMs: fc.option(fc.integer({ min: T0, max: T0 + 2 * HOUR }), { nil: undefined }),
    })
    .map((e) => (e.receivedAtMs === undefined ? { type: e.type, code: e.code } : e)),
  fc.constant({
    type: "cancel_requested" as const,
    request: { event: "cancel" as const, refunded: true, atMs: T0, reason: "customer" },
  }),
  fc.constant({ type: "cancel" as const }),
  fc.constant({ type: "another_code" as const }),
  fc.constant({ type: "finish" as const }),
  fc.constant({ type: "deadline" as const }),
  fc.constant({ type: "provider_ended" as const, reason: "provider_ended" }),
);

const rentalArb: fc.Arbitrary<RentalRecord> = fc
  .record({
    state: fc.constantFrom("pending", "active", "cancelled", "finished", "expired", "revoked", "failed"),
    pending: fc.boolean(),
    endRequest: fc.option(fc.constantFrom("cancel" as const, "finish" as const), { nil: null }),
  })
  .map((r) =>
    recordFixtures.rental("r1", {
      state: r.state,
      providerRentalId: r.state === "pending" ? null : "7",
      startedAtMs: r.state === "pending" ? null : T0,
      endsAtMs: r.state === "pending" ? null : T0 + 4 * HOUR,
      periods: [
        { holdId: "hold:r1:0", hours: 4, priceMinor: 40, state: r.state === "pending" ? "pending" : "paid" },
        ...(r.pending ? [{ holdId: "hold:r1:1", hours: 2, priceMinor: 20, state: "pending" as const }] : []),
      ],
      priceMinor: 40,
      endRequest:
        r.endRequest === null
          ? null
          : { event: r.endRequest, refunded: r.endRequest === "cancel", atMs: T0, reason: "customer" },
    }),
  );

const rentalEventArb: fc.Arbitrary<RentalEvent> = fc.oneof(
  fc.constant({
    type: "issued" as const,
    providerRentalId: "7",
    phone: "1",
    endsAtMs: T0 + 4 * HOUR,
    costMinor: 40,
  }),
  fc.constant({ type: "purchase_failed" as const, reason: "no_numbers" }),
  fc.constant({ type: "extend_requested" as const, holdId: "hold:r1:2", hours: 1, priceMinor: 10 }),
  fc.constant({
    type: "extend_confirmed" as const,
    holdId: "hold:r1:1",
    endsAtMs: T0 + 6 * HOUR,
    costMinor: 20,
  }),
  fc.constant({ type: "extend_failed" as const, holdId: "hold:r1:1", reason: "declined" }),
  fc.constant({
    type: "periods_reconciled" as const,
    confirmed: ["hold:r1:1"],
    released: [],
    endsAtMs: T0 + 6 * HOUR,
  }),
  fc.constant({ type: "observed" as const, messageCount: 2, atMs: T0 + HOUR }),
  fc.constant({
    type: "end_requested" as const,
    request: { event: "finish" as const, refunded: false, atMs: T0 + HOUR, reason: "customer" },
  }),
  fc
    .record({ type: fc.constant("cancel" as const), refunded: fc.option(fc.boolean(), { nil: undefined }) })
    .map((e) => (e.refunded === undefined ? { type: e.type } : e)),
  fc.constant({ type: "finish" as const }),
  fc.constant({ type: "end" as const }),
  fc.constant({ type: "revoke" as const }),
);

const nowArb = fc.integer({ min: T0, max: T0 + 8 * HOUR });

describe("machine tables", () => {
  it("every activation transition lands in a target its table lists", () => {
    fc.assert(
      fc.property(activationArb, activationEventArb, nowArb, (a, event, nowMs) => {
        const from = activationMachineState(a);
        const t = transitionActivation(a, event, { nowMs, policy, earlyCancelWindowMs: 120_000 });
        if (t.isErr()) return;
        expect(targetsOf(activationTransitions, from, event.type)).toContain(
          activationMachineState(t.value.next),
        );
      }),
      { numRuns: 2000 },
    );
  });

  it("every rental transition lands in a target its table lists", () => {
    fc.assert(
      fc.property(rentalArb, rentalEventArb, nowArb, (r, event, nowMs) => {
        const t = transitionRental(r, event, { nowMs, policy, rentRefundWindowMs: 20 * 60_000 });
        if (t.isErr()) return;
        expect(targetsOf(rentalTransitions, r.state, event.type)).toContain(t.value.next.state);
      }),
      { numRuns: 2000 },
    );
  });

  it("the diagrams print the guards", async () => {
    const { activationDiagram, rentalDiagram } = await import("../../src/index.js");
    expect(activationDiagram).toContain("waiting --> timeout: code [lateCode]");
    expect(activationDiagram).toContain("waiting --> cancelled: provider_ended [cancelRequested]");
    expect(activationDiagram).toContain("received --> closed: finish");
    expect(rentalDiagram).toContain("active --> cancelled: cancel [refunded]");
    expect(rentalDiagram).toContain("active --> expired: end [pastEnd]");
  });
});
