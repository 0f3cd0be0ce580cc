import { describe, expect, it } from "vitest";
import { activationIdFor } from "../../src/fes/keys.js";
import { checkLedgerInvariants } from "../../src/index.js";
import { fund, setup } from "../fes/setup.js";

const MIN = 60_000;

describe("regressions: idempotency and typed errors", () => {
  it("extendRental replayed after a declined extension returns success (the first call returned purchase_failed)", async () => {
    const { fes, fake } = await setup();
    await fund(fes, "alice", 1000);
    const r = (
      await fes.buyRental({ walletId: "alice", service: "tg", country: "6", hours: 4, idempotencyKey: "r" })
    )._unsafeUnwrap();
    await fake.control.injectFault({ action: "extendRental", kind: "no_numbers" });
    const first = await fes.extendRental({ rentalId: r.id, hours: 3, idempotencyKey: "x" });
    expect(first._unsafeUnwrapErr().type).toBe("purchase_failed");
    const again = await fes.extendRental({ rentalId: r.id, hours: 3, idempotencyKey: "x" });
    // Same key, same request: the same outcome.
    expect(again.isErr() && again.error.type).toBe("purchase_failed");
  });

  it("cancelActivation with a key already used for another activation cancels that activation upstream before reporting the conflict", async () => {
    const { fes, fake, clock } = await setup();
    await fund(fes, "alice", 1000);
    const a = (
      await fes.buyActivation({ walletId: "alice", service: "tg", country: "6", idempotencyKey: "a" })
    )._unsafeUnwrap();
    const b = (
      await fes.buyActivation({ walletId: "alice", service: "tg", country: "6", idempotencyKey: "b" })
    )._unsafeUnwrap();
    clock.advance(3 * MIN);
    (await fes.cancelActivation({ activationId: a.id, idempotencyKey: "k" }))._unsafeUnwrap();
    const res = await fes.cancelActivation({ activationId: b.id, idempotencyKey: "k" });
    expect(res._unsafeUnwrapErr().type).toBe("idempotency_conflict");
    // "Same key + different request → idempotency_conflict, no effect."
    const upstream = (await fake.control.activations()).find(
      (v) => v.providerActivationId === b.providerActivationId,
    );
    expect(upstream?.state).toBe("waiting");
  });

  it("cancelActivation with a key, answered by the received activation (code won), replays as transition_not_allowed", async () => {
    const { fes, fake, clock } = await setup();
    await fund(fes, "alice", 1000);
    const a = (
      await fes.buyActivation({ walletId: "alice", service: "tg", country: "6", idempotencyKey: "a" })
    )._unsafeUnwrap();
    clock.advance(3 * MIN);
    await fake.control.injectFault({ action: "cancelActivation", kind: "code_during_cancel", code: "777" });
    const first = await fes.cancelActivation({ activationId: a.id, idempotencyKey: "c" });
    expect(first._unsafeUnwrap().state).toBe("received");
    const again = await fes.cancelActivation({ activationId: a.id, idempotencyKey: "c" });
    expect(again.isOk()).toBe(true);
  });

  it("a purchase the provider declined spends its key: the retry replays the refusal without asking the provider again", async () => {
    const { fes, fake } = await setup();
    await fund(fes, "alice", 1000);
    await fake.control.injectFault({ action: "buyActivation", kind: "price_too_low" });
    const first = await fes.buyActivation({
      walletId: "alice",
      service: "tg",
      country: "6",
      idempotencyKey: "b",
    });
    expect(first._unsafeUnwrapErr()).toMatchObject({
      type: "purchase_failed",
      id: activationIdFor("alice", "b", 0),
      reason: "price_too_low",
    });
    // The decline happened after the purchase started (hold placed, provider asked): like a card decline under an
    // idempotency key, it is the recorded outcome. Errors found before anything runs record nothing.
    const retry = await fes.buyActivation({
      walletId: "alice",
      service: "tg",
      country: "6",
      idempotencyKey: "b",
    });
    expect(retry._unsafeUnwrapErr()).toEqual(first._unsafeUnwrapErr());
    expect((await fake.control.activations()).length).toBe(0);
    expect((await fes.getBalance("alice"))._unsafeUnwrap()).toMatchObject({
      balanceMinor: 1000,
      frozenMinor: 0,
    });
    const fresh = await fes.buyActivation({
      walletId: "alice",
      service: "tg",
      country: "6",
      idempotencyKey: "b2",
    });
    expect(fresh._unsafeUnwrap().state).toBe("waiting");
  });

  it("a deposit that would overflow the balance throws InvariantViolation instead of returning a typed error", async () => {
    const { fes } = await setup();
    await fund(fes, "alice", Number.MAX_SAFE_INTEGER);
    let outcome: unknown;
    try {
      const r = await fes.deposit({
        walletId: "alice",
        amountMinor: 1,
        currency: "USD",
        idempotencyKey: "d2",
      });
      outcome = r.isErr() ? r.error.type : "ok";
    } catch (e) {
      outcome = `threw ${(e as Error).name}`;
    }
    expect(outcome).not.toMatch(/^threw/);
  });

  it("a manual freeze reusing an operationId under a new key ends in storage_failure after 9 conflict retries instead of a typed error", async () => {
    const { fes, storage } = await setup();
    await fund(fes, "alice", 1000);
    (
      await fes.freeze({
        walletId: "alice",
        amountMinor: 10,
        currency: "USD",
        operationId: "op1",
        idempotencyKey: "f1",
      })
    )._unsafeUnwrap();
    const commitsBefore = storage.commits();
    const second = await fes.freeze({
      walletId: "alice",
      amountMinor: 10,
      currency: "USD",
      operationId: "op1",
      idempotencyKey: "f2",
    });
    expect(second._unsafeUnwrapErr().type).not.toBe("storage_failure");
    expect(storage.commits()).toBe(commitsBefore);
  });

  it("two concurrent extensions with different keys: the loser fails with storage_failure (hold id picked before the lock)", async () => {
    const { fes, storage } = await setup();
    await fund(fes, "alice", 1000);
    const r = (
      await fes.buyRental({ walletId: "alice", service: "tg", country: "6", hours: 4, idempotencyKey: "r" })
    )._unsafeUnwrap();
    const [x, y] = await Promise.all([
      fes.extendRental({ rentalId: r.id, hours: 1, idempotencyKey: "x" }),
      fes.extendRental({ rentalId: r.id, hours: 1, idempotencyKey: "y" }),
    ]);
    expect(await checkLedgerInvariants(storage.read)).toEqual([]);
    const types = [x, y].map((e) => (e.isErr() ? e.error.type : "ok"));
    expect(types).not.toContain("storage_failure");
  });
});
