import { describe, expect, it } from "vitest";
import { checkLedgerInvariants } from "../../src/index.js";
import { fund, setup } from "../fes/setup.js";

/** Everything the ledger holds, to prove that a rejected call wrote nothing. */
async function ledger(storage: Awaited<ReturnType<typeof setup>>["storage"]) {
  const r = storage.read;
  return {
    wallets: await r.listWallets(),
    transfers: await r.listTransfers(),
    holds: await r.listHolds(),
    audit: (await r.listAudit()).length,
    activations: await r.listActivations(),
  };
}

describe("wallet operations", () => {
  it("deposit, withdraw, adjust and cashback post double-entry transfers with a running statement", async () => {
    const { fes, storage } = await setup();
    await fund(fes, "alice", 1000);
    expect(
      (
        await fes.withdraw({ walletId: "alice", amountMinor: 300, currency: "USD", idempotencyKey: "w" })
      )._unsafeUnwrap(),
    ).toMatchObject({
      balanceAfterMinor: 700,
    });
    (
      await fes.adjust({
        walletId: "alice",
        amountMinor: -50,
        currency: "USD",
        reason: "chargeback",
        idempotencyKey: "a",
      })
    )._unsafeUnwrap();
    (
      await fes.cashback({
        walletId: "alice",
        amountMinor: 20,
        currency: "USD",
        reason: "promo",
        idempotencyKey: "c",
      })
    )._unsafeUnwrap();
    const page1 = (await fes.statement({ walletId: "alice", limit: 2 }))._unsafeUnwrap();
    expect(page1.entries.map((e) => [e.kind, e.amountMinor, e.balanceAfterMinor])).toEqual([
      ["deposit", 1000, 1000],
      ["withdrawal", -300, 700],
    ]);
    const page2 = (
      await fes.statement({ walletId: "alice", limit: 2, afterSeq: page1.nextAfterSeq! })
    )._unsafeUnwrap();
    expect(page2.entries.map((e) => [e.kind, e.amountMinor, e.balanceAfterMinor, e.reason])).toEqual([
      ["adjustment", -50, 650, "chargeback"],
      ["cashback", 20, 670, "promo"],
    ]);
    expect(page2.nextAfterSeq).toBeNull();
    const transfers = await storage.read.listTransfers();
    expect(transfers.map((t) => [t.debitAccountId, t.creditAccountId])).toEqual([
      ["@deposits:USD", "alice"],
      ["alice", "@deposits:USD"],
      ["alice", "@adjustments:USD"],
      ["@promotions:USD", "alice"],
    ]);
    expect(await checkLedgerInvariants(storage.read)).toEqual([]);
  });

  it("a reversal gives settled money back from revenue as a new transfer; the settle stays", async () => {
    const { fes, storage } = await setup();
    await fund(fes, "alice", 1000);
    const a = (
      await fes.buyActivation({ walletId: "alice", service: "tg", country: "6", idempotencyKey: "b" })
    )._unsafeUnwrap();
    (await fes.onCode({ activationId: a.id, code: "1" }))._unsafeUnwrap();
    const r = await fes.reverse({
      walletId: "alice",
      amountMinor: 50,
      currency: "USD",
      reason: "wrong code",
      operationId: a.id,
      idempotencyKey: "rev",
    });
    expect(r._unsafeUnwrap()).toMatchObject({ balanceAfterMinor: 1000 });
    const kinds = (await storage.read.listTransfers()).map((t) => [
      t.kind,
      t.debitAccountId,
      t.creditAccountId,
    ]);
    expect(kinds).toEqual([
      ["deposit", "@deposits:USD", "alice"],
      ["settle", "alice", "@revenue:USD"],
      ["reversal", "@revenue:USD", "alice"],
    ]);
    expect(await checkLedgerInvariants(storage.read)).toEqual([]);
    // Given back in full: another key cannot give back more than was settled.
    const before = await storage.read.listTransfers();
    const again = await fes.reverse({
      walletId: "alice",
      amountMinor: 1,
      currency: "USD",
      reason: "again",
      operationId: a.id,
      idempotencyKey: "rev2",
    });
    expect(again._unsafeUnwrapErr()).toMatchObject({
      type: "reversal_exceeds_settled",
      operationId: a.id,
      settledMinor: 50,
      reversedMinor: 50,
      requestedMinor: 1,
    });
    expect(await storage.read.listTransfers()).toEqual(before);
    const unnamed = await fes.reverse({
      walletId: "alice",
      amountMinor: 1,
      currency: "USD",
      reason: "x",
      idempotencyKey: "rev3",
    } as never);
    expect(unnamed._unsafeUnwrapErr().type).toBe("invalid_input");
  });

  it("a manual hold settles in part and releases the rest in the same step, exactly once", async () => {
    const { fes } = await setup();
    await fund(fes, "alice", 1000);
    const hold = (
      await fes.freeze({
        walletId: "alice",
        amountMinor: 400,
        currency: "USD",
        operationId: "order-1",
        idempotencyKey: "f",
      })
    )._unsafeUnwrap();
    expect(hold.id).toBe("hold:manual:order-1");
    expect((await fes.getBalance("alice"))._unsafeUnwrap()).toMatchObject({
      balanceMinor: 1000,
      frozenMinor: 400,
      availableMinor: 600,
    });
    expect(
      (await fes.settle({ holdId: hold.id, amountMinor: 401, idempotencyKey: "s0" }))._unsafeUnwrapErr(),
    ).toMatchObject({
      type: "settle_exceeds_hold",
      holdId: hold.id,
      heldMinor: 400,
      requestedMinor: 401,
    });
    expect(
      (await fes.settle({ holdId: hold.id, amountMinor: 150, idempotencyKey: "s" }))._unsafeUnwrap(),
    ).toEqual({
      holdId: hold.id,
      state: "settled",
      settledMinor: 150,
      releasedMinor: 250,
    });
    expect((await fes.getBalance("alice"))._unsafeUnwrap()).toMatchObject({
      balanceMinor: 850,
      frozenMinor: 0,
    });
    expect((await fes.release({ holdId: hold.id, idempotencyKey: "r" }))._unsafeUnwrapErr()).toMatchObject({
      type: "hold_not_open",
      holdId: hold.id,
      state: "settled",
    });
  });

  it("an activation's hold cannot be resolved by hand", async () => {
    const { fes } = await setup();
    await fund(fes, "alice", 1000);
    const a = (
      await fes.buyActivation({ walletId: "alice", service: "tg", country: "6", idempotencyKey: "b" })
    )._unsafeUnwrap();
    expect((await fes.release({ holdId: a.holdId, idempotencyKey: "r" }))._unsafeUnwrapErr()).toMatchObject({
      type: "transition_not_allowed",
      from: "activation_hold",
      event: "manual_resolution",
    });
  });

  it("a freeze beyond available returns insufficient_funds, counting existing holds", async () => {
    const { fes } = await setup();
    await fund(fes, "alice", 100);
    (
      await fes.freeze({
        walletId: "alice",
        amountMinor: 70,
        currency: "USD",
        operationId: "o1",
        idempotencyKey: "f1",
      })
    )._unsafeUnwrap();
    expect(
      (
        await fes.freeze({
          walletId: "alice",
          amountMinor: 31,
          currency: "USD",
          operationId: "o2",
          idempotencyKey: "f2",
        })
      )._unsafeUnwrapErr(),
    ).toMatchObject({
      type: "insufficient_funds",
      walletId: "alice",
      availableMinor: 30,
      requestedMinor: 31,
    });
    expect(
      (
        await fes.withdraw({ walletId: "alice", amountMinor: 31, currency: "USD", idempotencyKey: "w" })
      )._unsafeUnwrapErr().type,
    ).toBe("insufficient_funds");
  });

  it("creating a wallet again with its currency returns it; another currency is wallet_exists", async () => {
    const { fes } = await setup();
    expect((await fes.createWallet({ walletId: "alice", currency: "USD" }))._unsafeUnwrap().walletId).toBe(
      "alice",
    );
    expect((await fes.createWallet({ walletId: "alice", currency: "EUR" }))._unsafeUnwrapErr()).toMatchObject(
      {
        type: "wallet_exists",
        walletId: "alice",
        currency: "USD",
      },
    );
  });

  describe("bad input gets a typed error and writes nothing", () => {
    const base = { walletId: "alice", amountMinor: 100, currency: "USD", idempotencyKey: "k" };
    const cases: [string, Record<string, unknown>, string][] = [
      ["a negative amount", { ...base, amountMinor: -1 }, "invalid_input"],
      ["a zero amount", { ...base, amountMinor: 0 }, "invalid_input"],
      ["a fractional amount", { ...base, amountMinor: 1.5 }, "invalid_input"],
      ["an unsafe amount", { ...base, amountMinor: 2 ** 53 }, "invalid_input"],
      ["a non-numeric amount", { ...base, amountMinor: "100" }, "invalid_input"],
      ["NaN", { ...base, amountMinor: Number.NaN }, "invalid_input"],
      ["an empty idempotency key", { ...base, idempotencyKey: "" }, "invalid_input"],
      ["an over-long idempotency key", { ...base, idempotencyKey: "k".repeat(129) }, "invalid_input"],
      ["a malformed currency", { ...base, currency: "usd" }, "invalid_input"],
      ["a platform account as wallet", { ...base, walletId: "@revenue:USD" }, "invalid_input"],
      ["an unknown wallet", { ...base, walletId: "bob" }, "wallet_not_found"],
      ["another currency", { ...base, currency: "EUR" }, "currency_mismatch"],
    ];
    it.each(cases)("deposit with %s", async (_name, input, type) => {
      const { fes, storage } = await setup();
      const before = await ledger(storage);
      const r = await fes.deposit(input as never);
      expect(r._unsafeUnwrapErr().type).toBe(type);
      expect(await ledger(storage)).toEqual(before);
    });

    it.each([
      ["an unknown activation", { activationId: "act:nope" }, "activation_not_found"],
      ["an empty activation id", { activationId: "" }, "invalid_input"],
    ])("cancel with %s", async (_name, input, type) => {
      const { fes, storage } = await setup();
      const before = await ledger(storage);
      expect((await fes.cancelActivation(input))._unsafeUnwrapErr().type).toBe(type);
      expect(await ledger(storage)).toEqual(before);
    });

    it("an event in the wrong state: cancelling a received activation", async () => {
      const { fes, storage, fake, clock } = await setup();
      await fund(fes, "alice", 1000);
      const a = (
        await fes.buyActivation({ walletId: "alice", service: "tg", country: "6", idempotencyKey: "b" })
      )._unsafeUnwrap();
      await fake.control.deliverCode(a.providerActivationId!, "1");
      await fes.pollActivation(a.id);
      clock.advance(200_000);
      const before = await ledger(storage);
      expect((await fes.cancelActivation({ activationId: a.id }))._unsafeUnwrapErr()).toMatchObject({
        type: "transition_not_allowed",
        from: "received",
        event: "cancel",
      });
      expect(await ledger(storage)).toEqual(before);
    });
  });
});
