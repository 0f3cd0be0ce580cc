import { expect } from "vitest";
import {
  type ActivationRecord,
  checkLedgerInvariants,
  createFes,
  type Fes,
  type FesConfig,
  type Storage,
} from "../../src/index.js";
import { createMemoryStorage } from "../../src/memory/index.js";
import {
  type BehaviourModel,
  createFakeProvider,
  type FakeProvider,
  ManualClock,
} from "../../src/testing/index.js";

export const SECOND = 1000;
export const MINUTE = 60_000;

/** One pair on sale at the fake provider, and how its numbers behave. */
export interface Offering {
  readonly service: string;
  readonly country: string;
  readonly price: string;
  readonly successRate: number;
}

/** A simulated market: a fake provider whose numbers succeed per service × country as given, and the service. */
export interface Market {
  readonly clock: ManualClock;
  readonly storage: Storage;
  readonly fake: FakeProvider;
  readonly fes: Fes;
  /** Another service over the same storage, provider and clock (a redeploy with a new config). */
  readonly with: (overrides: Partial<FesConfig>) => Fes;
}

/** Builds a market over memory storage with a manual clock; codes arrive 5 s to 2 min after purchase. */
export function createMarket(
  offerings: readonly Offering[],
  overrides: Partial<FesConfig> = {},
  seed = 7,
): Market {
  const clock = new ManualClock();
  const storage = createMemoryStorage();
  const rates = new Map(offerings.map((o) => [`${o.service}/${o.country}`, o.successRate]));
  const behaviour: BehaviourModel = (service, country) => {
    const successRate = rates.get(`${service}/${country}`);
    return successRate === undefined ? undefined : { successRate, codeDelayMs: [5 * SECOND, 2 * MINUTE] };
  };
  const fake = createFakeProvider({ clock, behaviour, seed, balance: "100000" });
  // The fake's control is synchronous; the port allows a promise for remote fakes, which this market never uses.
  for (const o of offerings)
    void fake.control.setStock(o.service, o.country, { price: o.price, count: 10_000 });
  const with_ = (more: Partial<FesConfig>) =>
    createFes({ storage, provider: fake.provider, clock, ...overrides, ...more });
  return { clock, storage, fake, fes: with_({}), with: with_ };
}

/** The value of an Ok result; an Err fails the test with the error itself. */
export function must<T, E>(result: { isOk(): boolean; _unsafeUnwrap(): T; _unsafeUnwrapErr(): E }): T {
  if (!result.isOk()) throw new Error(`expected Ok, got ${JSON.stringify(result._unsafeUnwrapErr())}`);
  return result._unsafeUnwrap();
}

/** Creates a wallet and deposits into it. */
export async function openWallet(fes: Fes, walletId: string, amountMinor: number): Promise<void> {
  must(await fes.createWallet({ walletId, currency: "USD" }));
  must(await fes.deposit({ walletId, amountMinor, currency: "USD", idempotencyKey: `dep:${walletId}` }));
}

/**
 * Lets time pass minute by minute until no activation is open: each minute the sweeper runs first (deadlines,
 * timeouts, retries), then every open activation whose deadline is still ahead is polled for its code, as a
 * platform without webhooks does.
 */
export async function runUntilSettled(m: Market, fes: Fes = m.fes, maxMinutes = 120): Promise<void> {
  for (let minute = 0; minute < maxMinutes; minute++) {
    m.clock.advance(MINUTE);
    must(await fes.sweep());
    const open = await m.storage.read.listActivations({ states: ["pending", "waiting"] });
    if (open.length === 0) return;
    const now = m.clock.now();
    for (const a of open) {
      if (a.state === "waiting" && a.deadlineAtMs !== null && a.deadlineAtMs > now) {
        must(await fes.pollActivation(a.id));
      }
    }
  }
  throw new Error(`activations still open after ${maxMinutes} minutes`);
}

/** The transfers of one kind and their sum. */
export async function sumTransfers(storage: Storage, kind: string, walletId?: string): Promise<number> {
  const transfers = await storage.read.listTransfers(walletId === undefined ? {} : { accountId: walletId });
  return transfers.filter((t) => t.kind === kind).reduce((s, t) => s + t.amountMinor, 0);
}

/** Everything a purchase could have written, to compare before and after a refused one. */
export async function snapshot(storage: Storage) {
  const r = storage.read;
  return {
    wallets: await r.listWallets(),
    transfers: await r.listTransfers(),
    holds: await r.listHolds(),
    activations: await r.listActivations(),
    audit: await r.listAudit(),
  };
}

/** The ledger invariants hold over everything the run wrote. */
export async function expectCoherentLedger(storage: Storage): Promise<void> {
  expect(await checkLedgerInvariants(storage.read)).toEqual([]);
}

/** Originals (not retries) with their retry, if one was bought. */
export function purchases(records: readonly ActivationRecord[]) {
  const retries = new Map(records.filter((r) => r.retryOf !== null).map((r) => [r.retryOf as string, r]));
  return records
    .filter((r) => r.retryOf === null)
    .map((original) => ({ original, retry: retries.get(original.id) }));
}
