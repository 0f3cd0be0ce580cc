import { describe, expect, it } from "vitest";
import { activationIdFor } from "../../src/fes/keys.js";
import { checkLedgerInvariants, createFes, createRefundPolicy, type RefundPolicy } from "../../src/index.js";
import { createMemoryStorage } from "../../src/memory/index.js";
import type { Provider } from "../../src/provider/port.js";
import { createFakeProvider, ManualClock } from "../../src/testing/index.js";
import { fund, setup } from "../fes/setup.js";

const HOUR = 3_600_000;
const MIN = 60_000;

const releaseAllOnRevoke = (): RefundPolicy =>
  createRefundPolicy({ rentalRevoked: "release_all" })._unsafeUnwrap();

const buy = async (fes: Awaited<ReturnType<typeof setup>>["fes"], key: string) =>
  (
    await fes.buyActivation({ walletId: "alice", service: "tg", country: "6", idempotencyKey: key })
  )._unsafeUnwrap();

describe("regressions: money", () => {
  it("sweep settles in full a rental the provider revoked (policy release_all) instead of releasing it", async () => {
    const { fes, fake, clock, storage } = await setup({ policy: releaseAllOnRevoke() });
    await fund(fes, "alice", 1000);
    const r = (
      await fes.buyRental({ walletId: "alice", service: "tg", country: "6", hours: 4, idempotencyKey: "r" })
    )._unsafeUnwrap();
    clock.advance(HOUR);
    await fake.control.revokeRental(r.providerRentalId!); // STATUS_REVOKE upstream; no poll happened yet
    clock.advance(3 * HOUR);
    await fes.sweep();
    const after = (await fes.getRental(r.id))._unsafeUnwrap();
    expect(await checkLedgerInvariants(storage.read)).toEqual([]);
    // The provider took the number back: by policy nothing is charged.
    expect((await fes.getBalance("alice"))._unsafeUnwrap().balanceMinor).toBe(1000);
    expect(after.state).toBe("revoked");
  });

  it("finishRental on a rental the provider revoked settles it as finished (full charge) instead of revoked", async () => {
    const { fes, fake, clock } = await setup({ policy: releaseAllOnRevoke() });
    await fund(fes, "alice", 1000);
    const r = (
      await fes.buyRental({ walletId: "alice", service: "tg", country: "6", hours: 4, idempotencyKey: "r" })
    )._unsafeUnwrap();
    clock.advance(HOUR);
    await fake.control.revokeRental(r.providerRentalId!);
    const fin = (await fes.finishRental({ rentalId: r.id }))._unsafeUnwrap();
    expect((await fes.getBalance("alice"))._unsafeUnwrap().balanceMinor).toBe(1000);
    expect(fin.state).toBe("revoked");
  });

  it("cancelRental inside the refund window is refunded upstream but charged in full when the window closes during the provider call", async () => {
    const clock = new ManualClock();
    const fake = createFakeProvider({ clock, balance: "100000" });
    await fake.control.setRentStock("tg", "6", { pricePerHour: "0.10", count: 10 });
    // The provider call takes 2 s (ordinary latency).
    const provider: Provider = {
      ...fake.provider,
      cancelRental: async (id) => {
        const r = await fake.provider.cancelRental(id);
        clock.advance(2_000);
        return r;
      },
    };
    const storage = createMemoryStorage();
    const fes = createFes({ storage, provider, clock });
    await fes.createWallet({ walletId: "alice", currency: "USD" });
    await fund(fes, "alice", 1000);
    const r = (
      await fes.buyRental({ walletId: "alice", service: "tg", country: "6", hours: 4, idempotencyKey: "r" })
    )._unsafeUnwrap();
    clock.advance(20 * MIN - 1_000); // 1 s left in the refund window
    const c = (await fes.cancelRental({ rentalId: r.id }))._unsafeUnwrap();
    expect(fake.upstream.rental(r.providerRentalId!)?.state).toBe("cancelled"); // platform refunded upstream
    expect((await fes.getBalance("alice"))._unsafeUnwrap().balanceMinor).toBe(1000);
    expect(c.state).toBe("cancelled");
  });

  it("a code delivered by webhook after the deadline (sweeper not run yet) is charged instead of being a late code", async () => {
    const { fes, clock } = await setup();
    await fund(fes, "alice", 1000);
    const a = await buy(fes, "b");
    clock.advance(20 * MIN + MIN); // a minute past our deadline; provider already auto-cancelled and refunded us
    const coded = (await fes.onCode({ activationId: a.id, code: "1234" }))._unsafeUnwrap();
    // docs/design.md §3: timeout = no code by our deadline; a code after the activation ended is recorded, never charged.
    expect((await fes.getBalance("alice"))._unsafeUnwrap().balanceMinor).toBe(1000);
    expect(coded.state).toBe("timeout");
  });

  it("reconciliation without order ids leaves the second lost purchase pending (hold open) because it only ever tries the first match", async () => {
    const clock = new ManualClock();
    const storage = createMemoryStorage();
    const fake = createFakeProvider({ clock, balance: "100000", capabilities: { supportsOrderId: false } });
    await fake.control.setStock("tg", "6", { price: "0.50", count: 100 });
    const fes = createFes({ storage, provider: fake.provider, clock });
    await fes.createWallet({ walletId: "alice", currency: "USD" });
    await fund(fes, "alice", 1000);
    await fake.control.injectFault({ action: "buyActivation", kind: "unknown_after_success", times: 2 });
    const a1 = await buy(fes, "b1");
    clock.advance(1_000);
    const a2 = await buy(fes, "b2");
    expect([a1.state, a2.state]).toEqual(["pending", "pending"]);
    clock.advance(3 * MIN);
    await fes.sweep();
    await fes.sweep();
    const states = [
      (await fes.getActivation(a1.id))._unsafeUnwrap().state,
      (await fes.getActivation(a2.id))._unsafeUnwrap().state,
    ];
    // Both numbers were sold upstream and both are listed as active; each should be adopted.
    expect(states).toEqual(["waiting", "waiting"]);
  });
});

describe("regressions: the purchase saga", () => {
  it("a provider answer that arrives after the sweeper reconciled the purchase returns an error although the number is issued and the price frozen", async () => {
    const clock = new ManualClock();
    const storage = createMemoryStorage();
    const fake = createFakeProvider({ clock, balance: "100000" });
    await fake.control.setStock("tg", "6", { price: "0.50", count: 100 });
    let fesRef: ReturnType<typeof createFes> | undefined;
    const provider: Provider = {
      ...fake.provider,
      buyActivation: async (order) => {
        const r = await fake.provider.buyActivation(order);
        // A slow answer: meanwhile the grace period passes and another worker sweeps.
        clock.advance(3 * MIN);
        await fesRef!.sweep();
        return r;
      },
    };
    const fes = createFes({ storage, provider, clock });
    fesRef = fes;
    await fes.createWallet({ walletId: "alice", currency: "USD" });
    await fund(fes, "alice", 1000);
    const bought = await fes.buyActivation({
      walletId: "alice",
      service: "tg",
      country: "6",
      idempotencyKey: "b",
    });
    const stored = (await fes.getActivation(activationIdFor("alice", "b", 0)))._unsafeUnwrap();
    expect(stored.state).toBe("waiting");
    expect((await fes.getBalance("alice"))._unsafeUnwrap().frozenMinor).toBe(50);
    // docs/design.md §2.7: a success moved money, an error moved none.
    expect(bought.isErr() ? bought.error.type : "ok").toBe("ok");
  });
});
