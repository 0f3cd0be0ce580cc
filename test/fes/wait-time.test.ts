import { describe, expect, it } from "vitest";
import { createFes, createRefundPolicy, type Provider } from "../../src/index.js";
import { createMemoryStorage } from "../../src/memory/index.js";
import type { WaitTimePolicy } from "../../src/policy/wait-time.js";
import { createFakeProvider, ManualClock } from "../../src/testing/index.js";
import { fund, setup } from "./setup.js";

const MINUTE = 60_000;

/** A policy answering a fixed wait, optionally as an experiment arm. */
const fixedWait = (waitMs: number, arm?: string): WaitTimePolicy => ({
  decide: () => (arm === undefined ? { waitMs } : { waitMs, experiment: { id: "wait-exp", arm } }),
});

async function buy(fes: Awaited<ReturnType<typeof setup>>["fes"], key = "b1") {
  return (
    await fes.buyActivation({ walletId: "alice", service: "tg", country: "6", idempotencyKey: key })
  )._unsafeUnwrap();
}

describe("wait-time policy in the service", () => {
  it("sets the deadline to issue + the wait, clamped to the early-cancel window and the lifetime", async () => {
    for (const [waitMs, expected] of [
      [5 * MINUTE, 5 * MINUTE],
      [10_000, 2 * MINUTE],
      [60 * MINUTE, 20 * MINUTE],
      [Number.NaN, 20 * MINUTE],
    ] as const) {
      const { fes, clock } = await setup({ waitTime: fixedWait(waitMs, "a") });
      await fund(fes, "alice", 1000);
      const a = await buy(fes);
      expect(a.deadlineAtMs! - clock.now()).toBe(expected);
      expect(a.issuedAtMs).toBe(clock.now());
      expect([a.experimentId, a.experimentArm]).toEqual(["wait-exp", "a"]);
    }
  });

  it("ends a shorter wait with a cancel upstream first: cancelled, reason wait_time_policy, released, no timeout cashback", async () => {
    const policy = createRefundPolicy({ timeoutCashbackPercent: 50 })._unsafeUnwrap();
    const { fes, clock, fake } = await setup({ waitTime: fixedWait(5 * MINUTE), policy });
    await fund(fes, "alice", 1000);
    const a = await buy(fes);
    clock.advance(5 * MINUTE - 1);
    expect((await fes.sweep())._unsafeUnwrap()).toMatchObject({ cancelled: 0, timedOut: 0 });
    clock.advance(1);
    expect((await fes.sweep())._unsafeUnwrap()).toMatchObject({ cancelled: 1, timedOut: 0, errors: 0 });
    const ended = (await fes.getActivation(a.id))._unsafeUnwrap();
    expect(ended).toMatchObject({ state: "cancelled", failureReason: "wait_time_policy", cashbackMinor: 0 });
    expect((await fes.getBalance("alice"))._unsafeUnwrap()).toMatchObject({
      balanceMinor: 1000,
      frozenMinor: 0,
    });
    // Cancelled upstream, so a code can no longer come (and cost the platform) there.
    expect((await fake.provider.getActivationStatus(a.providerActivationId!))._unsafeUnwrap()).toEqual({
      state: "ended",
    });
  });

  it("a code that arrives during the policy's cancel wins: received and settled", async () => {
    const clock = new ManualClock();
    const fake = createFakeProvider({ clock, balance: "100000" });
    await fake.control.setStock("tg", "6", { price: "0.50", count: 10 });
    // The SMS lands upstream between the sweeper's status poll and its cancel.
    const racing: Provider = {
      ...fake.provider,
      cancelActivation: async (id) => {
        await fake.control.deliverCode(id, "4242");
        return fake.provider.cancelActivation(id);
      },
    };
    const fes = createFes({
      storage: createMemoryStorage(),
      provider: racing,
      clock,
      waitTime: fixedWait(3 * MINUTE),
    });
    await fes.createWallet({ walletId: "alice", currency: "USD" });
    await fund(fes, "alice", 1000);
    const a = await buy(fes);
    clock.advance(3 * MINUTE);
    expect((await fes.sweep())._unsafeUnwrap()).toMatchObject({ receivedLate: 1, cancelled: 0 });
    expect((await fes.getActivation(a.id))._unsafeUnwrap()).toMatchObject({
      state: "received",
      codes: ["4242"],
    });
    expect((await fes.getBalance("alice"))._unsafeUnwrap()).toMatchObject({
      balanceMinor: 950,
      frozenMinor: 0,
    });
  });

  it("a wait equal to the lifetime times out as without a policy (cashback by the refund policy)", async () => {
    const policy = createRefundPolicy({ timeoutCashbackPercent: 50 })._unsafeUnwrap();
    const { fes, clock } = await setup({ waitTime: fixedWait(20 * MINUTE), policy });
    await fund(fes, "alice", 1000);
    const a = await buy(fes);
    clock.advance(20 * MINUTE);
    expect((await fes.sweep())._unsafeUnwrap()).toMatchObject({ timedOut: 1, cancelled: 0 });
    expect((await fes.getActivation(a.id))._unsafeUnwrap()).toMatchObject({
      state: "timeout",
      cashbackMinor: 25,
    });
  });

  it("with retryOnTimeout, a wait the policy ended is retried once on the next country", async () => {
    const { fes, clock, fake, storage } = await setup({
      waitTime: fixedWait(4 * MINUTE),
      retryOnTimeout: true,
      route: ({ excludeCountries }) => ["6", "0"].filter((c) => !excludeCountries.includes(c)),
    });
    await fake.control.setStock("tg", "0", { price: "0.50", count: 10 });
    await fund(fes, "alice", 1000);
    const a = await buy(fes);
    clock.advance(4 * MINUTE);
    expect((await fes.sweep())._unsafeUnwrap()).toMatchObject({ cancelled: 1, retried: 1 });
    const retry = (await storage.read.listActivations({ walletId: "alice" })).find((r) => r.retryOf === a.id);
    expect(retry).toMatchObject({ state: "waiting", countryCode: "0", retryOf: a.id });
    // The retry waits its own policy wait, is ended the same way, and is not retried again.
    clock.advance(4 * MINUTE);
    expect((await fes.sweep())._unsafeUnwrap()).toMatchObject({ cancelled: 1, retried: 0 });
    expect((await fes.getBalance("alice"))._unsafeUnwrap()).toMatchObject({
      balanceMinor: 1000,
      frozenMinor: 0,
    });
  });

  it("opaque retry ids: the policy is asked with retryOf, so it can tell a retry from a purchase", async () => {
    const asked: (string | null | undefined)[] = [];
    const { fes, clock, fake } = await setup({
      waitTime: {
        decide: (q) => {
          asked.push(q.retryOf);
          return { waitMs: 4 * MINUTE };
        },
      },
      retryOnTimeout: true,
      route: ({ excludeCountries }) => ["6", "0"].filter((c) => !excludeCountries.includes(c)),
    });
    await fake.control.setStock("tg", "0", { price: "0.50", count: 10 });
    await fund(fes, "alice", 1000);
    const a = await buy(fes);
    clock.advance(4 * MINUTE);
    expect((await fes.sweep())._unsafeUnwrap()).toMatchObject({ cancelled: 1, retried: 1 });
    expect(asked).toEqual([null, a.id]);
  });
});
