import { describe, expect, it } from "vitest";
import { activationIdFor } from "../../src/fes/keys.js";
import { fund, setup } from "./setup.js";

describe("activation FES cycle", () => {
  it("freezes at purchase, settles on the code", async () => {
    const { fes, fake } = await setup();
    await fund(fes, "alice", 1000);
    const bought = await fes.buyActivation({
      walletId: "alice",
      service: "tg",
      country: "6",
      idempotencyKey: "buy-1",
    });
    const a = bought._unsafeUnwrap();
    expect(a.state).toBe("waiting");
    expect(a.priceMinor).toBe(50);
    expect((await fes.getBalance("alice"))._unsafeUnwrap()).toEqual({
      walletId: "alice",
      currency: "USD",
      balanceMinor: 1000,
      frozenMinor: 50,
      availableMinor: 950,
    });
    await fake.control.deliverCode(a.providerActivationId!, "12:34");
    const polled = (await fes.pollActivation(a.id))._unsafeUnwrap();
    expect(polled.state).toBe("received");
    expect(polled.codes).toEqual(["12:34"]);
    expect((await fes.getBalance("alice"))._unsafeUnwrap()).toMatchObject({
      balanceMinor: 950,
      frozenMinor: 0,
    });
  });

  it("releases on cancel after the early-cancel window and refuses it before", async () => {
    const { fes, clock } = await setup();
    await fund(fes, "alice", 1000);
    const a = (
      await fes.buyActivation({ walletId: "alice", service: "tg", country: "6", idempotencyKey: "b" })
    )._unsafeUnwrap();
    clock.advance(30_000);
    expect((await fes.cancelActivation({ activationId: a.id }))._unsafeUnwrapErr()).toMatchObject({
      type: "too_early_to_cancel",
      retryAfterMs: 90_000,
    });
    clock.advance(90_000);
    const c = (await fes.cancelActivation({ activationId: a.id }))._unsafeUnwrap();
    expect(c.state).toBe("cancelled");
    expect((await fes.getBalance("alice"))._unsafeUnwrap()).toMatchObject({
      balanceMinor: 1000,
      frozenMinor: 0,
    });
  });

  it("a code that arrives during the cancel wins: the cancel becomes a settle", async () => {
    const { fes, fake, clock } = await setup();
    await fund(fes, "alice", 1000);
    const a = (
      await fes.buyActivation({ walletId: "alice", service: "tg", country: "6", idempotencyKey: "b" })
    )._unsafeUnwrap();
    clock.advance(180_000);
    await fake.control.injectFault({ action: "cancelActivation", kind: "code_during_cancel", code: "777" });
    const c = (await fes.cancelActivation({ activationId: a.id }))._unsafeUnwrap();
    expect(c.state).toBe("received");
    expect(c.codes).toEqual(["777"]);
    expect((await fes.getBalance("alice"))._unsafeUnwrap()).toMatchObject({
      balanceMinor: 950,
      frozenMinor: 0,
    });
  });

  it("the sweeper times out an activation at its deadline and releases it, with cashback by policy", async () => {
    const { createRefundPolicy } = await import("../../src/index.js");
    const { fes, clock } = await setup({
      policy: createRefundPolicy({ timeoutCashbackPercent: 50 })._unsafeUnwrap(),
    });
    await fund(fes, "alice", 1000);
    const a = (
      await fes.buyActivation({ walletId: "alice", service: "tg", country: "6", idempotencyKey: "b" })
    )._unsafeUnwrap();
    clock.advance(20 * 60_000 - 1);
    expect((await fes.sweep())._unsafeUnwrap().timedOut).toBe(0);
    clock.advance(1);
    expect((await fes.sweep())._unsafeUnwrap().timedOut).toBe(1);
    expect((await fes.getActivation(a.id))._unsafeUnwrap()).toMatchObject({
      state: "timeout",
      cashbackMinor: 25,
    });
    expect((await fes.getBalance("alice"))._unsafeUnwrap()).toMatchObject({
      balanceMinor: 1025,
      frozenMinor: 0,
    });
    // Sweeping again changes nothing.
    expect((await fes.sweep())._unsafeUnwrap()).toMatchObject({ timedOut: 0, errors: 0 });
    expect((await fes.getBalance("alice"))._unsafeUnwrap()).toMatchObject({ balanceMinor: 1025 });
  });

  it("a late code after the release is recorded and never charged", async () => {
    const { fes, clock } = await setup();
    await fund(fes, "alice", 1000);
    const a = (
      await fes.buyActivation({ walletId: "alice", service: "tg", country: "6", idempotencyKey: "b" })
    )._unsafeUnwrap();
    clock.advance(20 * 60_000);
    await fes.sweep();
    const late = (await fes.onCode({ activationId: a.id, code: "999" }))._unsafeUnwrap();
    expect(late).toMatchObject({ state: "timeout", lateCodes: ["999"], codes: [] });
    expect((await fes.getBalance("alice"))._unsafeUnwrap()).toMatchObject({
      balanceMinor: 1000,
      frozenMinor: 0,
    });
  });

  it("insufficient funds writes nothing, so a retry after a deposit succeeds with the same key", async () => {
    const { fes, storage } = await setup();
    await fund(fes, "alice", 10);
    const first = await fes.buyActivation({
      walletId: "alice",
      service: "tg",
      country: "6",
      idempotencyKey: "k",
    });
    expect(first._unsafeUnwrapErr()).toMatchObject({
      type: "insufficient_funds",
      walletId: "alice",
      availableMinor: 10,
      requestedMinor: 50,
    });
    expect(await storage.read.listActivations()).toEqual([]);
    await fund(fes, "alice", 100);
    expect(
      (
        await fes.buyActivation({ walletId: "alice", service: "tg", country: "6", idempotencyKey: "k" })
      )._unsafeUnwrap().state,
    ).toBe("waiting");
  });

  it("the same key replays the purchase; another request under it is a conflict", async () => {
    const { fes, fake } = await setup();
    await fund(fes, "alice", 1000);
    const a = (
      await fes.buyActivation({ walletId: "alice", service: "tg", country: "6", idempotencyKey: "k" })
    )._unsafeUnwrap();
    const again = (
      await fes.buyActivation({ walletId: "alice", service: "tg", country: "6", idempotencyKey: "k" })
    )._unsafeUnwrap();
    expect(again.id).toBe(a.id);
    expect((await fake.control.activations()).length).toBe(1);
    expect(
      (
        await fes.buyActivation({ walletId: "alice", service: "wa", country: "0", idempotencyKey: "k" })
      )._unsafeUnwrapErr(),
    ).toMatchObject({
      type: "idempotency_conflict",
      idempotencyKey: "k",
    });
    expect((await fes.getBalance("alice"))._unsafeUnwrap().frozenMinor).toBe(50);
  });

  it("a declined purchase releases the hold and is recorded as failed", async () => {
    const { fes, fake } = await setup();
    await fund(fes, "alice", 1000);
    await fake.control.injectFault({ action: "buyActivation", kind: "no_numbers" });
    const r = await fes.buyActivation({
      walletId: "alice",
      service: "tg",
      country: "6",
      idempotencyKey: "k",
    });
    const id = activationIdFor("alice", "k", 0);
    expect(r._unsafeUnwrapErr()).toMatchObject({ type: "purchase_failed", id, reason: "no_numbers" });
    expect((await fes.getActivation(id))._unsafeUnwrap().state).toBe("failed");
    expect((await fes.getBalance("alice"))._unsafeUnwrap()).toMatchObject({
      balanceMinor: 1000,
      frozenMinor: 0,
    });
  });

  it("an unknown outcome is never retried blindly: the sweeper finds the number through the active list", async () => {
    const { fes, fake, clock } = await setup();
    await fund(fes, "alice", 1000);
    await fake.control.injectFault({ action: "buyActivation", kind: "unknown_after_success" });
    const a = (
      await fes.buyActivation({ walletId: "alice", service: "tg", country: "6", idempotencyKey: "k" })
    )._unsafeUnwrap();
    expect(a.state).toBe("pending");
    expect((await fake.control.activations()).length).toBe(1);
    clock.advance(121_000);
    expect((await fes.sweep())._unsafeUnwrap().reconciled).toBe(1);
    expect((await fes.getActivation(a.id))._unsafeUnwrap().state).toBe("waiting");
    expect((await fake.control.activations()).length).toBe(1);
  });

  it("an unknown outcome where nothing was bought is released by the sweeper", async () => {
    const { fes, fake, clock } = await setup();
    await fund(fes, "alice", 1000);
    await fake.control.injectFault({ action: "buyActivation", kind: "unknown_before" });
    const a = (
      await fes.buyActivation({ walletId: "alice", service: "tg", country: "6", idempotencyKey: "k" })
    )._unsafeUnwrap();
    clock.advance(121_000);
    expect((await fes.sweep())._unsafeUnwrap().releasedPending).toBe(1);
    expect((await fes.getActivation(a.id))._unsafeUnwrap().state).toBe("failed");
    expect((await fes.getBalance("alice"))._unsafeUnwrap()).toMatchObject({
      frozenMinor: 0,
      balanceMinor: 1000,
    });
  });

  it("a decision that throws is a bug (InvariantViolation), never reported as a storage failure", async () => {
    const { InvariantViolation, defaultRefundPolicy } = await import("../../src/index.js");
    const broken = {
      ...defaultRefundPolicy,
      activation: () => {
        throw new TypeError("policy bug");
      },
    };
    const { fes } = await setup({ policy: broken });
    await fund(fes, "alice", 1000);
    const a = (
      await fes.buyActivation({ walletId: "alice", service: "tg", country: "6", idempotencyKey: "b" })
    )._unsafeUnwrap();
    await expect(fes.onCode({ activationId: a.id, code: "1" })).rejects.toBeInstanceOf(InvariantViolation);
    expect((await fes.getBalance("alice"))._unsafeUnwrap()).toMatchObject({
      balanceMinor: 1000,
      frozenMinor: 50,
    });
  });
});
