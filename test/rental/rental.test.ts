import { describe, expect, it } from "vitest";
import { createRefundPolicy } from "../../src/index.js";
import { fund, setup } from "../fes/setup.js";

const HOUR = 3_600_000;

describe("rental FES cycle", () => {
  it("regression: a rental is frozen until it ends, not charged at purchase", async () => {
    const { fes, clock } = await setup();
    await fund(fes, "alice", 1000);
    const r = (
      await fes.buyRental({ walletId: "alice", service: "tg", country: "6", hours: 4, idempotencyKey: "r" })
    )._unsafeUnwrap();
    expect(r.state).toBe("active");
    expect(r.priceMinor).toBe(40);
    // Bought: nothing posted, the price frozen.
    expect((await fes.getBalance("alice"))._unsafeUnwrap()).toMatchObject({
      balanceMinor: 1000,
      frozenMinor: 40,
      availableMinor: 960,
    });
    expect((await fes.statement({ walletId: "alice" }))._unsafeUnwrap().entries.map((e) => e.kind)).toEqual([
      "deposit",
    ]);
    clock.advance(4 * HOUR);
    await fes.sweep();
    expect((await fes.getBalance("alice"))._unsafeUnwrap()).toMatchObject({
      balanceMinor: 960,
      frozenMinor: 0,
    });
  });

  it("regression: ending a rental never leaves its amount frozen after the money is decided", async () => {
    const { fes, clock } = await setup();
    await fund(fes, "alice", 1000);
    const r = (
      await fes.buyRental({ walletId: "alice", service: "tg", country: "6", hours: 4, idempotencyKey: "r" })
    )._unsafeUnwrap();
    clock.advance(5 * 60_000);
    const cancelled = (await fes.cancelRental({ rentalId: r.id }))._unsafeUnwrap();
    expect(cancelled.state).toBe("cancelled");
    // The refund is a release of the hold: balance unchanged AND nothing left frozen (not counted twice).
    expect((await fes.getBalance("alice"))._unsafeUnwrap()).toMatchObject({
      balanceMinor: 1000,
      frozenMinor: 0,
      availableMinor: 1000,
    });
  });

  it("regression: expired rentals are closed by the sweeper and settled in full", async () => {
    const { fes, clock, storage } = await setup();
    await fund(fes, "alice", 1000);
    const r = (
      await fes.buyRental({ walletId: "alice", service: "tg", country: "6", hours: 4, idempotencyKey: "r" })
    )._unsafeUnwrap();
    clock.advance(4 * HOUR - 1);
    expect((await fes.sweep())._unsafeUnwrap().rentalsExpired).toBe(0);
    clock.advance(1);
    expect((await fes.sweep())._unsafeUnwrap().rentalsExpired).toBe(1);
    expect((await fes.getRental(r.id))._unsafeUnwrap().state).toBe("expired");
    expect(await storage.read.listHolds({ state: "open" })).toEqual([]);
  });

  it("an extension freezes a new hold per period and each is settled at the end", async () => {
    const { fes, clock, storage } = await setup();
    await fund(fes, "alice", 1000);
    const r = (
      await fes.buyRental({ walletId: "alice", service: "tg", country: "6", hours: 4, idempotencyKey: "r" })
    )._unsafeUnwrap();
    const endsAt = r.endsAtMs!;
    const x = (await fes.extendRental({ rentalId: r.id, hours: 3, idempotencyKey: "x" }))._unsafeUnwrap();
    expect(x.endsAtMs).toBe(endsAt + 3 * HOUR);
    expect(x.periods.map((p) => [p.holdId, p.state, p.priceMinor])).toEqual([
      [`hold:${r.id}:0`, "paid", 40],
      [`hold:${r.id}:1`, "paid", 30],
    ]);
    expect((await storage.read.listHolds({ state: "open" })).length).toBe(2);
    expect((await fes.getBalance("alice"))._unsafeUnwrap()).toMatchObject({ frozenMinor: 70 });
    // Replaying the extension changes nothing.
    expect(
      (await fes.extendRental({ rentalId: r.id, hours: 3, idempotencyKey: "x" }))._unsafeUnwrap().periods
        .length,
    ).toBe(2);
    clock.advance(7 * HOUR);
    await fes.sweep();
    expect((await fes.getBalance("alice"))._unsafeUnwrap()).toMatchObject({
      balanceMinor: 930,
      frozenMinor: 0,
    });
  });

  it("a cancel after the refund window is an early finish, pro rata by policy", async () => {
    const { fes, clock } = await setup({
      policy: createRefundPolicy({ rentalEarlyEnd: "pro_rata" })._unsafeUnwrap(),
    });
    await fund(fes, "alice", 1000);
    const r = (
      await fes.buyRental({ walletId: "alice", service: "tg", country: "6", hours: 4, idempotencyKey: "r" })
    )._unsafeUnwrap();
    clock.advance(HOUR);
    const done = (await fes.cancelRental({ rentalId: r.id }))._unsafeUnwrap();
    expect(done.state).toBe("finished");
    // 40 held, a quarter used: 30 refunded (rounded down), 10 settled.
    expect((await fes.getBalance("alice"))._unsafeUnwrap()).toMatchObject({
      balanceMinor: 990,
      frozenMinor: 0,
    });
  });

  it("a revoked rental releases the unused part, from the last moment it was known active", async () => {
    const { fes, clock, fake } = await setup();
    await fund(fes, "alice", 1000);
    const r = (
      await fes.buyRental({ walletId: "alice", service: "tg", country: "6", hours: 4, idempotencyKey: "r" })
    )._unsafeUnwrap();
    clock.advance(3 * HOUR);
    // A poll sees it active at 3 h; the provider takes it back right after.
    expect((await fes.syncRental(r.id))._unsafeUnwrap().state).toBe("active");
    await fake.control.revokeRental(r.providerRentalId!);
    expect((await fes.syncRental(r.id))._unsafeUnwrap().state).toBe("revoked");
    expect((await fes.getBalance("alice"))._unsafeUnwrap()).toMatchObject({
      balanceMinor: 970,
      frozenMinor: 0,
    });
  });

  it("an unknown rent outcome is reconciled by the sweeper", async () => {
    const { fes, clock, fake } = await setup();
    await fund(fes, "alice", 1000);
    await fake.control.injectFault({ action: "rent", kind: "unknown_after_success" });
    const r = (
      await fes.buyRental({ walletId: "alice", service: "tg", country: "6", hours: 4, idempotencyKey: "r" })
    )._unsafeUnwrap();
    expect(r.state).toBe("pending");
    clock.advance(121_000);
    expect((await fes.sweep())._unsafeUnwrap().reconciled).toBe(1);
    expect((await fes.getRental(r.id))._unsafeUnwrap().state).toBe("active");
  });

  it("an extension whose answer was lost is confirmed by the sweeper when the provider's end moved", async () => {
    const { fes, clock, fake, storage } = await setup();
    await fund(fes, "alice", 1000);
    const r = (
      await fes.buyRental({ walletId: "alice", service: "tg", country: "6", hours: 4, idempotencyKey: "r" })
    )._unsafeUnwrap();
    await fake.control.injectFault({ action: "extendRental", kind: "unknown_after_success" });
    const x = (await fes.extendRental({ rentalId: r.id, hours: 3, idempotencyKey: "x" }))._unsafeUnwrap();
    expect(x.periods.map((p) => p.state)).toEqual(["paid", "pending"]);
    clock.advance(4 * HOUR);
    expect((await fes.sweep())._unsafeUnwrap()).toMatchObject({ reconciled: 1, rentalsExpired: 0 });
    const kept = (await fes.getRental(r.id))._unsafeUnwrap();
    expect(kept).toMatchObject({ state: "active", endsAtMs: r.endsAtMs! + 3 * HOUR, priceMinor: 70 });
    clock.advance(3 * HOUR);
    expect((await fes.sweep())._unsafeUnwrap().rentalsExpired).toBe(1);
    expect((await fes.getBalance("alice"))._unsafeUnwrap()).toMatchObject({
      balanceMinor: 930,
      frozenMinor: 0,
    });
    expect(await storage.read.listHolds({ state: "open" })).toEqual([]);
  });

  it("a lost rent answer is not matched to an open rental of another length", async () => {
    const { fes, clock, fake } = await setup();
    await fund(fes, "alice", 1000);
    // Someone else's (or a manual) 24-hour rental of the same pair is open upstream.
    const other = await fake.provider.rent({ service: "tg", country: "6", hours: 24, orderId: "elsewhere" });
    expect(other.isOk()).toBe(true);
    await fake.control.injectFault({ action: "rent", kind: "unknown_before" });
    const r = (
      await fes.buyRental({ walletId: "alice", service: "tg", country: "6", hours: 4, idempotencyKey: "r" })
    )._unsafeUnwrap();
    clock.advance(121_000);
    expect((await fes.sweep())._unsafeUnwrap()).toMatchObject({ reconciled: 0, releasedPending: 1 });
    expect((await fes.getRental(r.id))._unsafeUnwrap().state).toBe("failed");
    expect((await fes.getBalance("alice"))._unsafeUnwrap()).toMatchObject({
      balanceMinor: 1000,
      frozenMinor: 0,
    });
  });

  it("rental durations outside the provider's 4–1344 hours are invalid input and write nothing", async () => {
    const { fes, storage } = await setup();
    await fund(fes, "alice", 1000);
    for (const hours of [0, -1, 1, 3, 1.5, 1345, Number.NaN]) {
      const r = await fes.buyRental({
        walletId: "alice",
        service: "tg",
        country: "6",
        hours,
        idempotencyKey: "r",
      });
      expect(r._unsafeUnwrapErr().type).toBe("invalid_input");
    }
    expect(await storage.read.listRentals()).toEqual([]);
  });
});
