import { describe, expect, it } from "vitest";
import { activationIdFor } from "../../src/fes/keys.js";
import { computeHealthStats } from "../../src/health/index.js";
import {
  checkLedgerInvariants,
  createFes,
  createRefundPolicy,
  type Fes,
  type FesConfig,
  type FesEvent,
  type RefundPolicyOptions,
  type Storage,
  StorageConflictError,
} from "../../src/index.js";
import type { Provider } from "../../src/provider/port.js";
import {
  createFakeProvider,
  type FakeProvider,
  ManualClock,
  recordFixtures,
} from "../../src/testing/index.js";

const HOUR = 3_600_000;
const MIN = 60_000;

/** One service over the storage with the fake provider, a manual clock and funded wallets `alice` and `bob`. */
export async function world(
  storage: Storage,
  options: {
    policy?: RefundPolicyOptions;
    provider?: (p: Provider, fake: FakeProvider, clock: ManualClock) => Provider;
    name?: string;
    clock?: ManualClock;
    config?: Partial<FesConfig>;
    supportsOrderId?: boolean;
    /** The upstream's own activation lifetime, when it differs from what the port states. */
    upstreamLifetimeMs?: number;
  } = {},
) {
  const clock = options.clock ?? new ManualClock(Date.UTC(2026, 0, 1));
  const fake = createFakeProvider({
    clock,
    balance: "100000",
    capabilities: {
      ...(options.name === undefined ? {} : { name: options.name }),
      ...(options.supportsOrderId === undefined ? {} : { supportsOrderId: options.supportsOrderId }),
      ...(options.upstreamLifetimeMs === undefined
        ? {}
        : { activationLifetimeMs: options.upstreamLifetimeMs }),
    },
  });
  await fake.control.setStock("tg", "6", { price: "0.50", count: 100 });
  await fake.control.setRentStock("tg", "6", { pricePerHour: "0.10", count: 100 });
  await fake.control.setRentStock("wa", "0", { pricePerHour: "0.10", count: 100 });
  const provider = options.provider ? options.provider(fake.provider, fake, clock) : fake.provider;
  const fes = createFes({
    storage,
    provider,
    clock,
    policy: createRefundPolicy(options.policy ?? {})._unsafeUnwrap(),
    ...options.config,
  });
  for (const w of ["alice", "bob"]) {
    await fes.createWallet({ walletId: w, currency: "USD" });
    (
      await fes.deposit({ walletId: w, amountMinor: 1000, currency: "USD", idempotencyKey: `seed-${w}` })
    )._unsafeUnwrap();
  }
  const balance = async (w = "alice") => (await fes.getBalance(w))._unsafeUnwrap();
  return { clock, fake, fes, storage, balance };
}

const rent = async (fes: Fes, key: string, hours = 4, walletId = "alice", service = "tg") =>
  (
    await fes.buyRental({
      walletId,
      service,
      country: service === "tg" ? "6" : "0",
      hours,
      idempotencyKey: key,
    })
  )._unsafeUnwrap();

const buy = async (fes: Fes, key: string, walletId = "alice") =>
  (await fes.buyActivation({ walletId, service: "tg", country: "6", idempotencyKey: key }))._unsafeUnwrap();

/** Wraps a provider so that a chosen method fails (without calling upstream) while `on` is set. */
function flaky(p: Provider, method: keyof Provider, state: { on: boolean }): Provider {
  return new Proxy(p, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (prop !== method || typeof value !== "function") return value;
      return (...args: unknown[]) =>
        state.on
          ? Promise.resolve({
              isOk: () => false,
              isErr: () => true,
              error: { class: "retryable", reason: "rate_limited", retryAfterMs: 1000 },
            })
          : (value as (...a: unknown[]) => unknown).apply(target, args);
    },
  });
}

/**
 * The regression scenarios of the saga: each is a money bug found in the rental and activation paths, named after
 * it, and runs against the storage the factory makes (memory and PostgreSQL).
 */
export function describeSagaRegressions(name: string, createStorage: () => Promise<Storage>): void {
  const fresh = async (options: Parameters<typeof world>[1] = {}) => world(await createStorage(), options);

  describe(`saga regressions (${name})`, () => {
    it("bug 1: a rental cancelled upstream with a refund is charged in full when the answer and the status are lost", async () => {
      const status = { on: false };
      const w = await fresh({ provider: (p) => flaky(p, "getRentalStatus", status) });
      const r = await rent(w.fes, "r");
      w.clock.advance(5 * MIN);
      await w.fake.control.injectFault({ action: "cancelRental", kind: "unknown_after_success" });
      status.on = true;
      const first = await w.fes.cancelRental({ rentalId: r.id, idempotencyKey: "c" });
      expect(first._unsafeUnwrapErr().type).toBe("provider_unavailable");
      expect(w.fake.upstream.rental(r.providerRentalId!)?.state).toBe("cancelled");
      // Retried after the refund window: the recorded decision, not the clock, decides.
      w.clock.advance(30 * MIN);
      status.on = false;
      const again = (await w.fes.cancelRental({ rentalId: r.id, idempotencyKey: "c" }))._unsafeUnwrap();
      expect(again.state).toBe("cancelled");
      expect(await w.balance()).toMatchObject({ balanceMinor: 1000, frozenMinor: 0 });
      expect(await checkLedgerInvariants(w.storage.read)).toEqual([]);
    });

    it("bug 1: a lost cancel step is settled by the sweeper from the provider's state, not in full", async () => {
      const status = { on: false };
      const w = await fresh({ provider: (p) => flaky(p, "getRentalStatus", status) });
      const r = await rent(w.fes, "r");
      w.clock.advance(5 * MIN);
      await w.fake.control.injectFault({ action: "cancelRental", kind: "unknown_after_success" });
      status.on = true;
      expect((await w.fes.cancelRental({ rentalId: r.id }))._unsafeUnwrapErr().type).toBe(
        "provider_unavailable",
      );
      status.on = false;
      w.clock.advance(4 * HOUR);
      const report = (await w.fes.sweep())._unsafeUnwrap();
      expect(report).toMatchObject({ rentalsExpired: 1, errors: 0 });
      expect((await w.fes.getRental(r.id))._unsafeUnwrap().state).toBe("cancelled");
      expect(await w.balance()).toMatchObject({ balanceMinor: 1000, frozenMinor: 0 });
    });

    it("bug 1: a pro-rata finish whose step was lost is charged up to the recorded request, not in full", async () => {
      const status = { on: false };
      const w = await fresh({
        policy: { rentalEarlyEnd: "pro_rata" },
        provider: (p) => flaky(p, "getRentalStatus", status),
      });
      const r = await rent(w.fes, "r");
      w.clock.advance(HOUR);
      await w.fake.control.injectFault({ action: "finishRental", kind: "unknown_after_success" });
      status.on = true;
      expect((await w.fes.finishRental({ rentalId: r.id }))._unsafeUnwrapErr().type).toBe(
        "provider_unavailable",
      );
      status.on = false;
      w.clock.advance(3 * HOUR);
      (await w.fes.sweep())._unsafeUnwrap();
      expect((await w.fes.getRental(r.id))._unsafeUnwrap().state).toBe("finished");
      // A quarter of 40 used: 10 charged.
      expect(await w.balance()).toMatchObject({ balanceMinor: 990, frozenMinor: 0 });
    });

    it("bug 1: a commit that fails after the provider cancelled leaves the decision to the provider's state", async () => {
      const failing = { on: false, done: false };
      const storage = await createStorage();
      const broken: Storage = {
        read: storage.read,
        transaction: (work) =>
          failing.on ? Promise.reject(new Error("connection lost")) : storage.transaction(work),
      };
      const w = await world(broken, {
        provider: (p) => ({
          ...p,
          cancelRental: async (id) => {
            const done = await p.cancelRental(id);
            // The process dies between the provider's answer and the commit, once.
            failing.on = !failing.done;
            failing.done = true;
            return done;
          },
        }),
      });
      const r = await rent(w.fes, "r");
      w.clock.advance(5 * MIN);
      expect((await w.fes.cancelRental({ rentalId: r.id }))._unsafeUnwrapErr().type).toBe("storage_failure");
      failing.on = false;
      w.clock.advance(3 * MIN);
      expect((await w.fes.sweep())._unsafeUnwrap().rentalsExpired).toBe(1);
      expect(await w.balance()).toMatchObject({ balanceMinor: 1000, frozenMinor: 0 });
    });

    it("bug 2: one provider rental is never owned by two rentals (a pending sibling is not adopted)", async () => {
      let fesRef: Fes | undefined;
      let slow = false;
      const w = await fresh({
        provider: (p) => ({
          ...p,
          rent: async (order) => {
            const done = await p.rent(order);
            if (slow) {
              // A's answer is slow: meanwhile a sweeper reconciles B, whose grace has passed.
              slow = false;
              await fesRef!.sweep();
            }
            return done;
          },
        }),
      });
      fesRef = w.fes;
      await w.fake.control.injectFault({ action: "rent", kind: "unknown_before" });
      const b = await rent(w.fes, "b", 4, "bob");
      expect(b.state).toBe("pending");
      w.clock.advance(3 * MIN);
      slow = true;
      const a = await rent(w.fes, "a", 4, "alice");
      expect(a.state).toBe("active");
      expect((await w.fes.getRental(b.id))._unsafeUnwrap().state).toBe("failed");
      expect(await w.balance("bob")).toMatchObject({ balanceMinor: 1000, frozenMinor: 0 });
      expect(await w.balance("alice")).toMatchObject({ frozenMinor: 40 });
      expect(await checkLedgerInvariants(w.storage.read)).toEqual([]);
    });

    it("bug 2: a lost rental is released, not matched, when the provider's list carries no service", async () => {
      const w = await fresh({
        provider: (p) => ({
          ...p,
          listActiveRentals: async () =>
            (await p.listActiveRentals()).map((list) =>
              list.map((l) => ({ ...l, service: null, country: null })),
            ),
        }),
      });
      // Someone's tg rental of the same length is open upstream and owned by nobody here.
      (
        await w.fake.provider.rent({ service: "tg", country: "6", hours: 4, orderId: "elsewhere" })
      )._unsafeUnwrap();
      await w.fake.control.injectFault({ action: "rent", kind: "unknown_before" });
      const lost = await rent(w.fes, "wa", 4, "alice", "wa");
      w.clock.advance(3 * MIN);
      expect((await w.fes.sweep())._unsafeUnwrap()).toMatchObject({ reconciled: 0, releasedPending: 1 });
      expect((await w.fes.getRental(lost.id))._unsafeUnwrap().state).toBe("failed");
      expect(await w.balance()).toMatchObject({ balanceMinor: 1000, frozenMinor: 0 });
    });

    it("bug 2: the storage refuses a second rental with the same provider id", async () => {
      const s = await createStorage();
      const r1 = recordFixtures.rental("r1", { providerRentalId: "77", state: "active" });
      const r2 = recordFixtures.rental("r2", { providerRentalId: "77", state: "active" });
      await s.transaction((tx) => tx.apply({ rentals: [{ record: r1, expectedVersion: null }] }));
      const e = await s
        .transaction((tx) => tx.apply({ rentals: [{ record: r2, expectedVersion: null }] }))
        .then(
          () => undefined,
          (x: unknown) => x,
        );
      expect(e).toBeInstanceOf(StorageConflictError);
      expect((e as StorageConflictError).guard).toBe("unique:rentals_provider_id");
      expect((await s.read.findRentalByProviderId("fake", "77"))?.id).toBe("r1");
      // Another provider may use the same id.
      await s.transaction((tx) =>
        tx.apply({ rentals: [{ record: { ...r2, provider: "other" }, expectedVersion: null }] }),
      );
    });

    it("bug 4: an extension whose answer was lost is never sent again", async () => {
      const w = await fresh();
      const r = await rent(w.fes, "r");
      const upstreamEnd = w.fake.upstream.rental(r.providerRentalId!)!.endsAtMs;
      await w.fake.control.injectFault({ action: "extendRental", kind: "unknown_after_success" });
      const x = (await w.fes.extendRental({ rentalId: r.id, hours: 3, idempotencyKey: "x" }))._unsafeUnwrap();
      expect(x.periods.map((p) => p.state)).toEqual(["paid", "pending"]);
      const again = (
        await w.fes.extendRental({ rentalId: r.id, hours: 3, idempotencyKey: "x" })
      )._unsafeUnwrap();
      expect(again.periods.length).toBe(2);
      // Extended once upstream, not twice.
      expect(w.fake.upstream.rental(r.providerRentalId!)!.endsAtMs).toBe(upstreamEnd + 3 * HOUR);
      w.clock.advance(7 * HOUR);
      (await w.fes.sweep())._unsafeUnwrap();
      (await w.fes.sweep())._unsafeUnwrap();
      expect(await w.balance()).toMatchObject({ balanceMinor: 930, frozenMinor: 0 });
    });

    it("bug 5: two lost extensions are both billed from the provider's end", async () => {
      const w = await fresh();
      const r = await rent(w.fes, "r");
      await w.fake.control.injectFault({ action: "extendRental", kind: "unknown_after_success", times: 2 });
      (await w.fes.extendRental({ rentalId: r.id, hours: 2, idempotencyKey: "x" }))._unsafeUnwrap();
      (await w.fes.extendRental({ rentalId: r.id, hours: 3, idempotencyKey: "y" }))._unsafeUnwrap();
      w.clock.advance(4 * HOUR);
      expect((await w.fes.sweep())._unsafeUnwrap()).toMatchObject({ reconciled: 1, rentalsExpired: 0 });
      w.clock.advance(5 * HOUR);
      expect((await w.fes.sweep())._unsafeUnwrap().rentalsExpired).toBe(1);
      // 4 + 2 + 3 hours at 10 an hour.
      expect(await w.balance()).toMatchObject({ balanceMinor: 910, frozenMinor: 0 });
    });

    it("bug 5: a lost extension followed by a confirmed one is billed for both", async () => {
      const w = await fresh();
      const r = await rent(w.fes, "r");
      await w.fake.control.injectFault({ action: "extendRental", kind: "unknown_after_success" });
      (await w.fes.extendRental({ rentalId: r.id, hours: 2, idempotencyKey: "x" }))._unsafeUnwrap();
      const y = (await w.fes.extendRental({ rentalId: r.id, hours: 3, idempotencyKey: "y" }))._unsafeUnwrap();
      expect(y.periods.map((p) => p.state)).toEqual(["paid", "pending", "paid"]);
      w.clock.advance(9 * HOUR);
      (await w.fes.sweep())._unsafeUnwrap();
      (await w.fes.sweep())._unsafeUnwrap();
      expect(await w.balance()).toMatchObject({ balanceMinor: 910, frozenMinor: 0 });
    });

    it("bug 5: an unreadable provider at the rental's end defers the pending extension instead of releasing it", async () => {
      const status = { on: false };
      const w = await fresh({ provider: (p) => flaky(p, "getRentalStatus", status) });
      const r = await rent(w.fes, "r");
      await w.fake.control.injectFault({ action: "extendRental", kind: "unknown_after_success" });
      (await w.fes.extendRental({ rentalId: r.id, hours: 2, idempotencyKey: "x" }))._unsafeUnwrap();
      w.clock.advance(4 * HOUR);
      status.on = true;
      expect((await w.fes.sweep())._unsafeUnwrap()).toMatchObject({ deferred: 1, rentalsExpired: 0 });
      expect((await w.fes.getRental(r.id))._unsafeUnwrap().periods.map((p) => p.state)).toEqual([
        "paid",
        "pending",
      ]);
      status.on = false;
      w.clock.advance(2 * HOUR);
      (await w.fes.sweep())._unsafeUnwrap();
      (await w.fes.sweep())._unsafeUnwrap();
      expect(await w.balance()).toMatchObject({ balanceMinor: 940, frozenMinor: 0 });
    });

    it("lost extensions are under-billed: a finish after a lost extension bills the period the provider granted", async () => {
      const w = await fresh();
      const r = await rent(w.fes, "r");
      await w.fake.control.injectFault({ action: "extendRental", kind: "unknown_after_success" });
      (await w.fes.extendRental({ rentalId: r.id, hours: 3, idempotencyKey: "x" }))._unsafeUnwrap();
      w.clock.advance(HOUR);
      const done = (await w.fes.finishRental({ rentalId: r.id, idempotencyKey: "f" }))._unsafeUnwrap();
      expect(done.state).toBe("finished");
      // The provider granted 4 + 3 hours: both periods are decided from its end, none released.
      expect(done.periods.map((p) => p.state)).not.toContain("failed");
      expect(done.periods.map((p) => p.state)).not.toContain("pending");
      const b = await w.balance();
      expect(b.frozenMinor).toBe(0);
      expect(b.balanceMinor).toBeLessThan(1000 - 40);
      expect(await checkLedgerInvariants(w.storage.read)).toEqual([]);
    });

    it("lost rent answers leave unowned rentals upstream: released purchases give their numbers back", async () => {
      const w = await fresh();
      // Two lost answers of one service and country, close enough that neither number can be told apart.
      await w.fake.control.injectFault({ action: "rent", kind: "unknown_after_success", times: 2 });
      const a = await rent(w.fes, "a", 4, "alice");
      w.clock.advance(30_000);
      const b = await rent(w.fes, "b", 4, "bob");
      expect([a.state, b.state]).toEqual(["pending", "pending"]);
      expect((await w.fake.provider.listActiveRentals())._unsafeUnwrap()).toHaveLength(2);
      w.clock.advance(3 * MIN);
      expect((await w.fes.sweep())._unsafeUnwrap()).toMatchObject({ reconciled: 0, releasedPending: 2 });
      expect((await w.fes.getRental(a.id))._unsafeUnwrap().state).toBe("failed");
      expect((await w.fes.getRental(b.id))._unsafeUnwrap().state).toBe("failed");
      // Nobody owns them here, so they are cancelled upstream inside the refund window: the platform pays nothing.
      expect((await w.fake.provider.listActiveRentals())._unsafeUnwrap()).toEqual([]);
      expect(await w.balance("alice")).toMatchObject({ balanceMinor: 1000, frozenMinor: 0 });
      expect(await w.balance("bob")).toMatchObject({ balanceMinor: 1000, frozenMinor: 0 });
      expect(await checkLedgerInvariants(w.storage.read)).toEqual([]);
    });

    it("unowned rentals left upstream: a number held back by an in-flight sibling is closed once the sibling resolves", async () => {
      let fesRef: Fes | undefined;
      let slow = false;
      const w = await fresh({
        provider: (p) => ({
          ...p,
          rent: async (order) => {
            const done = await p.rent(order);
            if (slow) {
              // B's answer is slow: meanwhile a sweeper releases A, and both numbers could still be B's.
              slow = false;
              const first = (await fesRef!.sweep())._unsafeUnwrap();
              expect(first).toMatchObject({ releasedPending: 1, closedOrphans: [] });
            }
            return done;
          },
        }),
      });
      fesRef = w.fes;
      await w.fake.control.injectFault({ action: "rent", kind: "unknown_after_success" });
      const a = await rent(w.fes, "a", 4, "bob");
      expect(a.state).toBe("pending");
      const [lost] = (await w.fake.provider.listActiveRentals())._unsafeUnwrap();
      w.clock.advance(3 * MIN);
      slow = true;
      const b = await rent(w.fes, "b", 4, "alice");
      expect(b.state).toBe("active");
      expect(w.fake.upstream.rental(lost!.providerRentalId)?.state).toBe("active");
      // B resolved: A's number is nobody's, so the next sweep gives it back inside the refund window.
      w.clock.advance(MIN);
      const second = (await w.fes.sweep())._unsafeUnwrap();
      expect(second.closedOrphans).toEqual([
        { providerRentalId: lost!.providerRentalId, closedAs: "cancelled", releasedIds: [a.id] },
      ]);
      expect(w.fake.upstream.rental(lost!.providerRentalId)?.state).toBe("cancelled");
      expect(w.fake.upstream.rental(b.providerRentalId!)?.state).toBe("active");
      expect(await w.balance("bob")).toMatchObject({ balanceMinor: 1000, frozenMinor: 0 });
      expect(await w.balance("alice")).toMatchObject({ frozenMinor: 40 });
      expect(await checkLedgerInvariants(w.storage.read)).toEqual([]);
    });

    it("unowned rentals left upstream: without service and country in the list a lost rent answer is released and its number closed", async () => {
      const w = await fresh({
        provider: (p) => ({
          ...p,
          listActiveRentals: async () =>
            (await p.listActiveRentals()).map((list) =>
              list.map((l) => ({ ...l, service: null, country: null })),
            ),
        }),
      });
      const owned = await rent(w.fes, "owned", 4, "bob");
      await w.fake.control.injectFault({ action: "rent", kind: "unknown_after_success" });
      const lost = await rent(w.fes, "lost", 4, "alice");
      const number = (await w.fake.provider.listActiveRentals())
        ._unsafeUnwrap()
        .find((l) => l.providerRentalId !== owned.providerRentalId)!.providerRentalId;
      w.clock.advance(3 * MIN);
      const report = (await w.fes.sweep())._unsafeUnwrap();
      // Never adopted (nothing listed says it is this purchase's), never another's: the owned one stays.
      expect(report).toMatchObject({ reconciled: 0, releasedPending: 1, errors: 0 });
      expect(report.closedOrphans).toEqual([
        { providerRentalId: number, closedAs: "cancelled", releasedIds: [lost.id] },
      ]);
      expect(w.fake.upstream.rental(owned.providerRentalId!)?.state).toBe("active");
      expect((await w.fes.getRental(lost.id))._unsafeUnwrap().state).toBe("failed");
      expect(await w.balance("alice")).toMatchObject({ balanceMinor: 1000, frozenMinor: 0 });
      expect(await w.balance("bob")).toMatchObject({ frozenMinor: 40 });
    });

    for (const [after, closedAs] of [
      [MIN, "cancelled"],
      [20 * MIN + 30_000, "finished"],
    ] as const) {
      it(`unowned rentals left upstream: a number answered after its purchase was released, not given back then, is ${closedAs} by the sweeper`, async () => {
        const cancels = { on: false };
        let fesRef: Fes | undefined;
        let late = false;
        const w = await fresh({
          provider: (p, _fake, clock) => ({
            ...flaky(p, "cancelRental", cancels),
            rent: async (order) => {
              if (late) {
                // The request reaches the provider only after the sweeper released the purchase, and the number
                // in the late answer cannot be given back then.
                late = false;
                clock.advance(3 * MIN);
                expect((await fesRef!.sweep())._unsafeUnwrap()).toMatchObject({ releasedPending: 1 });
                cancels.on = true;
              }
              return p.rent(order);
            },
          }),
        });
        fesRef = w.fes;
        late = true;
        const bought = await w.fes.buyRental({
          walletId: "alice",
          service: "tg",
          country: "6",
          hours: 4,
          idempotencyKey: "late",
        });
        expect(bought._unsafeUnwrapErr()).toMatchObject({ type: "purchase_failed", reason: "lost_purchase" });
        const [number] = (await w.fake.provider.listActiveRentals())._unsafeUnwrap();
        expect(number).toBeDefined();
        cancels.on = false;
        w.clock.advance(after);
        const report = (await w.fes.sweep())._unsafeUnwrap();
        expect(report.closedOrphans).toEqual([
          {
            providerRentalId: number!.providerRentalId,
            closedAs,
            releasedIds: [(bought._unsafeUnwrapErr() as { id: string }).id],
          },
        ]);
        expect(w.fake.upstream.rental(number!.providerRentalId)?.state).toBe(closedAs);
        expect(await w.balance()).toMatchObject({ balanceMinor: 1000, frozenMinor: 0 });
        // Closed: later sweeps find nothing more to close.
        expect((await w.fes.sweep())._unsafeUnwrap().closedOrphans).toEqual([]);
      });
    }

    it("lost extensions are under-billed: a poll while an extension is in flight does not release it", async () => {
      const gate: { release?: () => void; reached?: () => void } = {};
      const reached = new Promise<void>((resolve) => {
        gate.reached = resolve;
      });
      const w = await fresh({
        provider: (p) => ({
          ...p,
          extendRental: async (id, hours) => {
            await new Promise<void>((resolve) => {
              gate.release = resolve;
              gate.reached?.();
            });
            return p.extendRental(id, hours);
          },
        }),
      });
      const r = await rent(w.fes, "r");
      const extending = w.fes.extendRental({ rentalId: r.id, hours: 1, idempotencyKey: "e" });
      // The poll reads the provider before the extension reached it.
      await reached;
      const polled = (await w.fes.syncRental(r.id))._unsafeUnwrap();
      expect(polled.periods.map((p) => p.state)).toEqual(["paid", "pending"]);
      gate.release?.();
      const extended = (await extending)._unsafeUnwrap();
      expect(extended.periods.map((p) => p.state)).toEqual(["paid", "paid"]);
      expect(extended.endsAtMs).toBe(r.endsAtMs! + HOUR);
      w.clock.advance(5 * HOUR);
      (await w.fes.sweep())._unsafeUnwrap();
      expect(await w.balance()).toMatchObject({ balanceMinor: 950, frozenMinor: 0 });
    });

    it("bug 7: the last poll before a timeout sees the code the provider completed with", async () => {
      // The provider completed the activation with a code at its deadline; its status still shows that code (as a
      // V2 status does for a completed activation).
      const w = await fresh({
        provider: (p, fake) => ({
          ...p,
          getActivationStatus: async (id) => {
            const upstream = fake.upstream.activation(id);
            const last = upstream?.codes.at(-1);
            if (upstream?.state === "finished" && last !== undefined)
              return {
                isOk: () => true,
                isErr: () => false,
                value: { state: "code", code: last.code, text: null },
              } as never;
            return p.getActivationStatus(id);
          },
        }),
      });
      const a = await buy(w.fes, "a");
      w.clock.advance(19 * MIN);
      await w.fake.control.deliverCode(a.providerActivationId!, "5555");
      w.clock.advance(MIN);
      const report = (await w.fes.sweep())._unsafeUnwrap();
      expect(report).toMatchObject({ receivedLate: 1, timedOut: 0 });
      expect(await w.balance()).toMatchObject({ balanceMinor: 950, frozenMinor: 0 });
    });

    it("bug 7: a completed activation the provider reports `ended` carries its code, and the timeout settles on it", async () => {
      const w = await fresh();
      const a = await buy(w.fes, "a");
      w.clock.advance(19 * MIN);
      // The code reached the provider, but its webhook never reached us.
      await w.fake.control.deliverCode(a.providerActivationId!, "5555");
      w.clock.advance(MIN);
      expect(w.fake.upstream.activation(a.providerActivationId!)?.state).toBe("finished");
      expect((await w.fake.provider.getActivationStatus(a.providerActivationId!))._unsafeUnwrap()).toEqual({
        state: "ended",
        code: "5555",
      });
      expect((await w.fes.sweep())._unsafeUnwrap()).toMatchObject({ receivedLate: 1, timedOut: 0 });
      expect((await w.fes.getActivation(a.id))._unsafeUnwrap()).toMatchObject({
        state: "received",
        codes: ["5555"],
      });
      expect(await w.balance()).toMatchObject({ balanceMinor: 950, frozenMinor: 0 });
    });

    it("bug 7: a webhook that reaches us after our deadline for a code the provider shows settles, not a late code", async () => {
      const w = await fresh();
      const a = await buy(w.fes, "a");
      w.clock.advance(20 * MIN - 200);
      await w.fake.control.deliverCode(a.providerActivationId!, "3141");
      // The delivery reaches us after our deadline; the provider completed the activation with that code.
      w.clock.advance(700);
      const coded = (
        await w.fes.onCode({ providerActivationId: a.providerActivationId!, code: "3141" })
      )._unsafeUnwrap();
      expect(coded).toMatchObject({ state: "received", codes: ["3141"] });
      expect(await w.balance()).toMatchObject({ balanceMinor: 950, frozenMinor: 0 });
      // A code the provider does not show is late: recorded, never charged.
      const b = await buy(w.fes, "b");
      w.clock.advance(21 * MIN);
      const late = (await w.fes.onCode({ activationId: b.id, code: "2718" }))._unsafeUnwrap();
      expect(late).toMatchObject({ state: "timeout", lateCodes: ["2718"] });
      expect(await w.balance()).toMatchObject({ balanceMinor: 950, frozenMinor: 0 });
    });

    it("bug 7: a webhook after our deadline while the provider cannot be read is answered provider_unavailable, then settles on the redelivery", async () => {
      const w = await fresh();
      const a = await buy(w.fes, "a");
      w.clock.advance(20 * MIN - 200);
      await w.fake.control.deliverCode(a.providerActivationId!, "3141");
      w.clock.advance(700);
      // The status that would tell whether the code reached the provider in time is refused: nothing is decided.
      await w.fake.control.injectFault({ action: "getActivationStatus", kind: "retryable" });
      const refused = await w.fes.onCode({ providerActivationId: a.providerActivationId!, code: "3141" });
      expect(refused._unsafeUnwrapErr()).toMatchObject({ type: "provider_unavailable" });
      expect(await w.fes.getActivation(a.id)).toMatchObject({ value: { state: "waiting", lateCodes: [] } });
      // The provider delivers again; now it answers, and shows the code.
      const coded = (
        await w.fes.onCode({ providerActivationId: a.providerActivationId!, code: "3141" })
      )._unsafeUnwrap();
      expect(coded).toMatchObject({ state: "received", codes: ["3141"] });
      expect(await w.balance()).toMatchObject({ balanceMinor: 950, frozenMinor: 0 });
    });

    it("bug 7: a poll that sees the completed activation `ended` with its code records the code", async () => {
      const w = await fresh();
      const a = await buy(w.fes, "a");
      w.clock.advance(5 * MIN);
      await w.fake.control.deliverCode(a.providerActivationId!, "7777");
      (await w.fake.provider.finishActivation(a.providerActivationId!))._unsafeUnwrap();
      expect((await w.fes.pollActivation(a.id))._unsafeUnwrap()).toMatchObject({
        state: "received",
        codes: ["7777"],
      });
      expect(await w.balance()).toMatchObject({ balanceMinor: 950, frozenMinor: 0 });
    });

    it("bug 7 (clock skew): at our timeout the provider still holds the number: cancelled upstream first, then timed out", async () => {
      // The provider's own end is later than our deadline (its clock behind ours, or a stated end past the
      // lifetime the port states): a code could still reach it after our timeout.
      const w = await fresh({
        policy: { timeoutCashbackPercent: 20 },
        upstreamLifetimeMs: 40 * MIN,
        provider: (p) => ({ ...p, capabilities: { ...p.capabilities, activationLifetimeMs: 20 * MIN } }),
        config: { waitTime: { decide: () => ({ waitMs: 30 * MIN }) } },
      });
      const a = await buy(w.fes, "a");
      expect(a.deadlineAtMs).toBe(a.issuedAtMs! + 30 * MIN);
      w.clock.advance(30 * MIN);
      expect((await w.fes.sweep())._unsafeUnwrap()).toMatchObject({ timedOut: 1 });
      // The refund upstream is certain: a code can no longer reach the number the customer was released from.
      expect(w.fake.upstream.activation(a.providerActivationId!)?.state).toBe("cancelled");
      expect((await w.fes.getActivation(a.id))._unsafeUnwrap().state).toBe("timeout");
      expect(await w.balance()).toMatchObject({ balanceMinor: 1010, frozenMinor: 0 });
    });

    it("bug 7 (clock skew): a code that reaches the provider after our deadline, before its own end, settles", async () => {
      const w = await fresh({
        upstreamLifetimeMs: 40 * MIN,
        provider: (p) => ({ ...p, capabilities: { ...p.capabilities, activationLifetimeMs: 20 * MIN } }),
        config: { waitTime: { decide: () => ({ waitMs: 30 * MIN }) } },
      });
      const a = await buy(w.fes, "a");
      w.clock.advance(30 * MIN);
      await w.fake.control.injectFault({
        action: "cancelActivation",
        kind: "code_during_cancel",
        code: "4242",
      });
      expect((await w.fes.sweep())._unsafeUnwrap()).toMatchObject({ receivedLate: 1, timedOut: 0 });
      expect((await w.fes.getActivation(a.id))._unsafeUnwrap()).toMatchObject({
        state: "received",
        codes: ["4242"],
      });
      expect(await w.balance()).toMatchObject({ balanceMinor: 950, frozenMinor: 0 });
    });

    it("bug 7: a refused cancel at the timeout defers it; the provider's answer decides once it is readable", async () => {
      const refused = { on: false };
      const w = await fresh({
        upstreamLifetimeMs: 40 * MIN,
        provider: (p) => {
          const cancelFlaky = flaky(p, "cancelActivation", refused);
          return { ...cancelFlaky, capabilities: { ...p.capabilities, activationLifetimeMs: 20 * MIN } };
        },
        config: { waitTime: { decide: () => ({ waitMs: 30 * MIN }) } },
      });
      const a = await buy(w.fes, "a");
      w.clock.advance(30 * MIN);
      refused.on = true;
      expect((await w.fes.sweep())._unsafeUnwrap()).toMatchObject({ deferred: 1, timedOut: 0 });
      expect(await w.balance()).toMatchObject({ frozenMinor: 50 });
      await w.fake.control.deliverCode(a.providerActivationId!, "8888");
      refused.on = false;
      w.clock.advance(MIN);
      expect((await w.fes.sweep())._unsafeUnwrap()).toMatchObject({ receivedLate: 1, timedOut: 0 });
      expect(await w.balance()).toMatchObject({ balanceMinor: 950, frozenMinor: 0 });
    });

    it("a lost activation purchase without an order id never adopts the number an in-flight sibling will record", async () => {
      // B's purchase reached the provider; its answer is still on its way while the sweeper reconciles A's lost one.
      const gate: { release?: () => void; reached?: () => void } = {};
      const reached = new Promise<void>((resolve) => {
        gate.reached = resolve;
      });
      let calls = 0;
      const w = await fresh({
        supportsOrderId: false,
        provider: (p) => ({
          ...p,
          buyActivation: async (order) => {
            const r = await p.buyActivation(order);
            if (++calls !== 2) return r;
            await new Promise<void>((resolve) => {
              gate.release = resolve;
              gate.reached?.();
            });
            return r;
          },
        }),
      });
      await w.fake.control.injectFault({ action: "buyActivation", kind: "unknown_after_success" });
      const a = await buy(w.fes, "a");
      expect(a.state).toBe("pending");
      // A's own number ended upstream (expired without a code): only B's number fits A now.
      const [mine] = await w.fake.control.activations();
      await w.fake.control.endActivation(mine!.providerActivationId);
      w.clock.advance(MIN + 50_000);
      const inFlight = w.fes.buyActivation({
        walletId: "bob",
        service: "tg",
        country: "6",
        idempotencyKey: "b",
      });
      await reached;
      w.clock.advance(20_000);
      expect((await w.fes.sweep())._unsafeUnwrap()).toMatchObject({ reconciled: 0, releasedPending: 0 });
      expect((await w.fes.getActivation(a.id))._unsafeUnwrap().state).toBe("pending");
      gate.release?.();
      const b = (await inFlight)._unsafeUnwrap();
      expect(b.state).toBe("waiting");
      w.clock.advance(2 * MIN);
      expect((await w.fes.sweep())._unsafeUnwrap()).toMatchObject({ releasedPending: 1 });
      expect((await w.fes.getActivation(a.id))._unsafeUnwrap().state).toBe("failed");
      expect(await w.balance("alice")).toMatchObject({ balanceMinor: 1000, frozenMinor: 0 });
      expect(await w.balance("bob")).toMatchObject({ frozenMinor: 50 });
    });

    it("bug 7: an unreadable provider defers the timeout by a bounded grace", async () => {
      const status = { on: false };
      const w = await fresh({
        provider: (p) => flaky(p, "getActivationStatus", status),
        config: { providerGraceMs: 5 * MIN },
      });
      const a = await buy(w.fes, "a");
      w.clock.advance(20 * MIN);
      status.on = true;
      expect((await w.fes.sweep())._unsafeUnwrap()).toMatchObject({ deferred: 1, timedOut: 0 });
      expect(await w.balance()).toMatchObject({ frozenMinor: 50 });
      w.clock.advance(5 * MIN);
      expect((await w.fes.sweep())._unsafeUnwrap()).toMatchObject({ timedOut: 1 });
      expect((await w.fes.getActivation(a.id))._unsafeUnwrap().state).toBe("timeout");
      expect(await w.balance()).toMatchObject({ balanceMinor: 1000, frozenMinor: 0 });
    });

    it("bug 8: a lost cancel step is a cancel, not a timeout with cashback", async () => {
      const status = { on: false };
      const w = await fresh({
        policy: { timeoutCashbackPercent: 20 },
        provider: (p) => flaky(p, "getActivationStatus", status),
      });
      const a = await buy(w.fes, "a");
      w.clock.advance(3 * MIN);
      await w.fake.control.injectFault({ action: "cancelActivation", kind: "unknown_after_success" });
      status.on = true;
      expect((await w.fes.cancelActivation({ activationId: a.id }))._unsafeUnwrapErr().type).toBe(
        "provider_unavailable",
      );
      status.on = false;
      w.clock.advance(20 * MIN);
      expect((await w.fes.sweep())._unsafeUnwrap()).toMatchObject({ cancelled: 1, timedOut: 0 });
      expect((await w.fes.getActivation(a.id))._unsafeUnwrap().state).toBe("cancelled");
      expect(await w.balance()).toMatchObject({ balanceMinor: 1000, frozenMinor: 0 });
    });

    it("bug 9: a late-noticed revocation is charged from the last moment the rental was known active", async () => {
      const w = await fresh();
      const r = await rent(w.fes, "r");
      w.clock.advance(HOUR);
      expect((await w.fes.syncRental(r.id))._unsafeUnwrap().state).toBe("active");
      await w.fake.control.revokeRental(r.providerRentalId!);
      w.clock.advance(3 * HOUR);
      (await w.fes.sweep())._unsafeUnwrap();
      expect((await w.fes.getRental(r.id))._unsafeUnwrap().state).toBe("revoked");
      // Known active for 1 h of 4: 10 of 40 charged.
      expect(await w.balance()).toMatchObject({ balanceMinor: 990, frozenMinor: 0 });
    });

    it("bug 3: a sweeper touches only its provider's records; a provider-facing call on another's is a typed error", async () => {
      const storage = await createStorage();
      const clock = new ManualClock(Date.UTC(2026, 0, 1));
      const one = await world(storage, { name: "p1", clock });
      const two = createFes({
        storage,
        provider: createFakeProvider({ clock, capabilities: { name: "p2" } }).provider,
        clock,
      });
      const a1 = await buy(one.fes, "a");
      // p2's lost purchase: pending, no number.
      const p2 = createFakeProvider({ clock, balance: "1000", capabilities: { name: "p2" } });
      await p2.control.setStock("tg", "6", { price: "0.50", count: 10 });
      const twoWithStock = createFes({ storage, provider: p2.provider, clock });
      await p2.control.injectFault({ action: "buyActivation", kind: "unknown_after_success" });
      const a2 = await buy(twoWithStock, "b", "bob");
      expect(a2.state).toBe("pending");
      clock.advance(21 * MIN);
      const report = (await one.fes.sweep())._unsafeUnwrap();
      expect(report).toMatchObject({ timedOut: 1, releasedPending: 0, reconciled: 0 });
      expect((await one.fes.getActivation(a2.id))._unsafeUnwrap().state).toBe("pending");
      expect((await one.fes.cancelActivation({ activationId: a2.id }))._unsafeUnwrapErr()).toMatchObject({
        type: "provider_mismatch",
        id: a2.id,
        provider: "p2",
        servedProvider: "p1",
      });
      expect((await two.getActivation(a1.id))._unsafeUnwrap().provider).toBe("p1");
      expect((await twoWithStock.sweep())._unsafeUnwrap()).toMatchObject({ releasedPending: 1, timedOut: 0 });
    });

    it("bug 6: one bad record does not stop the sweeper; the report names it and it is backed off", async () => {
      const w = await fresh({ policy: { timeoutCashbackPercent: 20 } });
      (
        await w.fes.deposit({
          walletId: "alice",
          amountMinor: Number.MAX_SAFE_INTEGER - 1000 - 5,
          currency: "USD",
          idempotencyKey: "big",
        })
      )._unsafeUnwrap();
      const bad = await buy(w.fes, "a", "alice");
      const good = await buy(w.fes, "b", "bob");
      w.clock.advance(20 * MIN);
      const report = (await w.fes.sweep())._unsafeUnwrap();
      expect(report.timedOut).toBe(1);
      expect(report.errors).toBe(1);
      expect(report.failures.map((f) => f.id)).toEqual([bad.id]);
      expect((await w.fes.getActivation(good.id))._unsafeUnwrap().state).toBe("timeout");
      expect((await w.fes.sweep())._unsafeUnwrap()).toMatchObject({ backedOff: 1, errors: 0 });
    });

    it("bug 10: the retry after a timeout happens for keys of every valid length", async () => {
      const w = await fresh({ config: { retryOnTimeout: true, route: () => ["6"] } });
      await w.fake.control.setStock("wa", "6", { price: "0.50", count: 10 });
      const key = "k".repeat(128);
      const a = (
        await w.fes.buyActivation({ walletId: "alice", service: "tg", country: "6", idempotencyKey: key })
      )._unsafeUnwrap();
      expect(a.id.length).toBeLessThanOrEqual(64);
      w.clock.advance(20 * MIN);
      expect((await w.fes.sweep())._unsafeUnwrap()).toMatchObject({ timedOut: 1, retried: 1 });
    });

    it("bug 11: idempotency keys are scoped per wallet and never appear in ids", async () => {
      const w = await fresh();
      const a = await buy(w.fes, "buy-1", "alice");
      const b = await buy(w.fes, "buy-1", "bob");
      expect(a.id).not.toBe(b.id);
      expect(`${a.id}${a.holdId}`).not.toContain("buy-1");
      const moved = (
        await w.fes.deposit({ walletId: "alice", amountMinor: 5, currency: "USD", idempotencyKey: "pay-981" })
      )._unsafeUnwrap();
      expect(moved.transferId).not.toContain("pay-981");
      const transfers = await w.storage.read.listTransfers({ accountId: "alice" });
      expect(transfers.some((t) => t.operationId.includes("pay-981") || t.id.includes("pay-981"))).toBe(
        false,
      );
    });

    it("bug 12: a rate-limited purchase bought nothing: provider_unavailable, released, no failure, the key runs again", async () => {
      const w = await fresh();
      await w.fake.control.injectFault({ action: "buyActivation", kind: "retryable" });
      const refused = await w.fes.buyActivation({
        walletId: "alice",
        service: "tg",
        country: "6",
        idempotencyKey: "k",
      });
      expect(refused._unsafeUnwrapErr()).toMatchObject({
        type: "provider_unavailable",
        reason: "refused:rate_limited",
        retryAfterMs: 1000,
      });
      expect(await w.balance()).toMatchObject({ balanceMinor: 1000, frozenMinor: 0 });
      const again = await buy(w.fes, "k");
      expect(again.state).toBe("waiting");
      expect(again.id).not.toBe(activationIdFor("alice", "k", 0));
      const records = await w.storage.read.listActivations();
      expect(records.length).toBe(2);
      const stats = computeHealthStats(records);
      expect(stats.total).toMatchObject({ failed: 0, waiting: 1 });
      // The refused attempt stays in the audit trail.
      expect(
        (await w.storage.read.listAudit({ subjectId: activationIdFor("alice", "k", 0) })).length,
      ).toBeGreaterThan(0);
    });

    it("bug 12: an unknown service is purchase_failed unknown_service, or unknown_service_code before freezing", async () => {
      const w = await fresh({
        provider: (p) => ({
          ...p,
          buyActivation: async () =>
            ({
              isOk: () => false,
              isErr: () => true,
              error: { class: "declined", reason: "unknown_service" },
            }) as never,
        }),
      });
      const r = await w.fes.buyActivation({
        walletId: "alice",
        service: "tg",
        country: "6",
        idempotencyKey: "z",
      });
      expect(r._unsafeUnwrapErr()).toMatchObject({ type: "purchase_failed", reason: "unknown_service" });
      const gated = await fresh({
        config: {
          resolveCodes: ({ service }) => ({
            service: null,
            country: null,
            unknownService: service === "zzz",
          }),
        },
      });
      const before = await gated.storage.read.listHolds();
      const z = await gated.fes.buyActivation({
        walletId: "alice",
        service: "zzz",
        country: "6",
        idempotencyKey: "z",
      });
      expect(z._unsafeUnwrapErr()).toMatchObject({
        type: "unknown_service_code",
        service: "zzz",
        provider: "fake",
      });
      expect(await gated.storage.read.listHolds()).toEqual(before);
    });

    it("durations outside the provider's extension range are invalid input before anything is frozen", async () => {
      const w = await fresh();
      const r = await rent(w.fes, "r");
      const x = await w.fes.extendRental({ rentalId: r.id, hours: 1345, idempotencyKey: "x" });
      expect(x._unsafeUnwrapErr().type).toBe("invalid_input");
      expect(await w.balance()).toMatchObject({ frozenMinor: 40 });
    });

    it("maxPriceMinor above the price is refused with price_above_max before anything is frozen", async () => {
      const w = await fresh();
      const r = await w.fes.buyActivation({
        walletId: "alice",
        service: "tg",
        country: "6",
        idempotencyKey: "m",
        maxPriceMinor: 49,
      });
      expect(r._unsafeUnwrapErr()).toMatchObject({
        type: "price_above_max",
        priceMinor: 50,
        maxPriceMinor: 49,
      });
      const rr = await w.fes.buyRental({
        walletId: "alice",
        service: "tg",
        country: "6",
        hours: 4,
        idempotencyKey: "m",
        maxPriceMinor: 39,
      });
      expect(rr._unsafeUnwrapErr()).toMatchObject({
        type: "price_above_max",
        priceMinor: 40,
        maxPriceMinor: 39,
      });
      expect(await w.balance()).toMatchObject({ frozenMinor: 0 });
      expect(await w.fake.control.activations()).toEqual([]);
    });

    it("the wait-time policy ends an activation before the provider would: cancelled upstream first, no cashback", async () => {
      const w = await fresh({
        policy: { timeoutCashbackPercent: 20 },
        config: { waitTime: { decide: () => ({ waitMs: 5 * MIN }) } },
      });
      const a = await buy(w.fes, "a");
      expect(a.deadlineAtMs).toBe(a.issuedAtMs! + 5 * MIN);
      w.clock.advance(5 * MIN);
      expect((await w.fes.sweep())._unsafeUnwrap()).toMatchObject({ cancelled: 1, timedOut: 0 });
      const ended = (await w.fes.getActivation(a.id))._unsafeUnwrap();
      expect(ended).toMatchObject({ state: "cancelled", failureReason: "wait_time_policy" });
      expect(w.fake.upstream.activation(a.providerActivationId!)?.state).toBe("cancelled");
      expect(await w.balance()).toMatchObject({ balanceMinor: 1000, frozenMinor: 0 });
    });

    it("the wait-time policy: a code that arrives during its cancel wins", async () => {
      const w = await fresh({ config: { waitTime: { decide: () => ({ waitMs: 1 }) } } });
      const a = await buy(w.fes, "a");
      // Clamped to the early-cancel window.
      expect(a.deadlineAtMs).toBe(a.issuedAtMs! + 2 * MIN);
      w.clock.advance(2 * MIN);
      await w.fake.control.injectFault({
        action: "cancelActivation",
        kind: "code_during_cancel",
        code: "4242",
      });
      (await w.fes.sweep())._unsafeUnwrap();
      expect((await w.fes.getActivation(a.id))._unsafeUnwrap()).toMatchObject({
        state: "received",
        codes: ["4242"],
      });
      expect(await w.balance()).toMatchObject({ balanceMinor: 950 });
    });

    it("the observer hears every unit of work, provider call and sweep, timed by the monotonic timer", async () => {
      const events: FesEvent[] = [];
      let tick = 0;
      const w = await fresh({
        config: { observer: { onEvent: (e) => events.push(e) }, monotonicNow: () => (tick += 2) },
      });
      events.length = 0;
      await buy(w.fes, "a");
      (await w.fes.sweep())._unsafeUnwrap();
      expect(events.map((e) => `${e.kind}:${"name" in e ? e.name : ""}`)).toEqual([
        "provider:quote",
        "unit:activation.buy.reserve",
        "provider:buyActivation",
        "unit:activation.issued",
        "sweep:",
      ]);
      expect(events.every((e) => e.durationMs === 2)).toBe(true);
      expect(events.find((e) => e.kind === "unit")).toMatchObject({ outcome: "ok", attempts: 1 });
    });
  });
}
