import { describe, expect, it } from "vitest";
import {
  type ActivationRecord,
  activationDiagram,
  activationTransitions,
  canActivation,
  createRefundPolicy,
  defaultRefundPolicy,
  isActivationTerminal,
  transitionActivation,
} from "../../src/index.js";

const T0 = 1_000_000;
const waiting: ActivationRecord = {
  id: "a1",
  walletId: "w",
  provider: "fake",
  providerActivationId: "1",
  serviceCode: "tg",
  countryCode: "6",
  service: null,
  country: null,
  state: "waiting",
  phone: "62000",
  priceMinor: 99,
  costMinor: 50,
  currency: "USD",
  codes: [],
  lateCodes: [],
  holdId: "hold:a1",
  retryOf: null,
  failureReason: null,
  createdAtMs: T0,
  issuedAtMs: T0,
  firstCodeAtMs: null,
  endedAtMs: null,
  closedAtMs: null,
  deadlineAtMs: T0 + 1_200_000,
  cashbackMinor: 0,
  version: 2,
};
const ctx = (nowMs: number, policy = defaultRefundPolicy) => ({
  nowMs,
  policy,
  earlyCancelWindowMs: 120_000,
});

describe("activation machine", () => {
  it("derives terminal states and the diagram from the table", () => {
    expect(Object.keys(activationTransitions).filter((s) => isActivationTerminal(s as never))).toEqual([
      "received",
      "closed",
      "cancelled",
      "timeout",
      "expired",
      "failed",
    ]);
    expect(canActivation("waiting", "cancel")).toBe(true);
    expect(canActivation("received", "cancel")).toBe(false);
    expect(activationDiagram).toContain("waiting --> received: code");
  });

  it("a code settles the price", () => {
    const r = transitionActivation(waiting, { type: "code", code: "1:2" }, ctx(T0 + 5000))._unsafeUnwrap();
    expect(r.next).toMatchObject({
      state: "received",
      codes: ["1:2"],
      firstCodeAtMs: T0 + 5000,
      endedAtMs: T0 + 5000,
    });
    expect(r.effects).toEqual([{ type: "hold.settle", holdId: "hold:a1", amountMinor: 99 }]);
  });

  it("a duplicate code is a no-op and another code on a received number moves no money", () => {
    const received = transitionActivation(waiting, { type: "code", code: "1" }, ctx(T0))._unsafeUnwrap().next;
    expect(transitionActivation(received, { type: "code", code: "1" }, ctx(T0))._unsafeUnwrap()).toEqual({
      next: received,
      effects: [],
    });
    const second = transitionActivation(received, { type: "code", code: "2" }, ctx(T0))._unsafeUnwrap();
    expect(second.next.codes).toEqual(["1", "2"]);
    expect(second.effects).toEqual([]);
  });

  it("cancel is refused inside the early-cancel window with the time to wait, exactly until its end", () => {
    expect(
      transitionActivation(waiting, { type: "cancel" }, ctx(T0 + 119_999))._unsafeUnwrapErr(),
    ).toMatchObject({
      type: "too_early_to_cancel",
      retryAfterMs: 1,
    });
    const r = transitionActivation(waiting, { type: "cancel" }, ctx(T0 + 120_000))._unsafeUnwrap();
    expect(r.next.state).toBe("cancelled");
    expect(r.effects).toEqual([{ type: "hold.settle", holdId: "hold:a1", amountMinor: 0 }]);
  });

  it("the provider ending it before our deadline is expired; at or after it, a timeout", () => {
    const before = transitionActivation(
      waiting,
      { type: "provider_ended", reason: "revoked" },
      ctx(T0 + 1_199_999),
    );
    expect(before._unsafeUnwrap().next.state).toBe("expired");
    const at = transitionActivation(
      waiting,
      { type: "provider_ended", reason: "revoked" },
      ctx(T0 + 1_200_000),
    );
    expect(at._unsafeUnwrap().next.state).toBe("timeout");
  });

  it("the deadline is exact: not due a millisecond before, a timeout with cashback at it (paid out, rounded down)", () => {
    const policy = createRefundPolicy({ timeoutCashbackPercent: 50 })._unsafeUnwrap();
    expect(transitionActivation(waiting, { type: "deadline" }, ctx(T0 + 1_199_999, policy)).isErr()).toBe(
      true,
    );
    const r = transitionActivation(
      waiting,
      { type: "deadline" },
      ctx(T0 + 1_200_000, policy),
    )._unsafeUnwrap();
    expect(r.next).toMatchObject({ state: "timeout", cashbackMinor: 49 });
    expect(r.effects).toEqual([
      { type: "hold.settle", holdId: "hold:a1", amountMinor: 0 },
      { type: "wallet.cashback", amountMinor: 49 },
    ]);
  });

  it("a late code after a release is recorded and charges nothing", () => {
    const cancelled = transitionActivation(waiting, { type: "cancel" }, ctx(T0 + 200_000))._unsafeUnwrap()
      .next;
    const late = transitionActivation(
      cancelled,
      { type: "code", code: "7" },
      ctx(T0 + 300_000),
    )._unsafeUnwrap();
    expect(late.next).toMatchObject({ state: "cancelled", lateCodes: ["7"], codes: [] });
    expect(late.effects).toEqual([{ type: "late_code", code: "7" }]);
  });

  it("illegal transitions are typed errors", () => {
    expect(
      transitionActivation(
        { ...waiting, state: "failed" },
        { type: "code", code: "1" },
        ctx(T0),
      )._unsafeUnwrapErr(),
    ).toMatchObject({
      type: "transition_not_allowed",
      from: "failed",
      event: "code",
    });
  });
});
