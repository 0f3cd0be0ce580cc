/**
 * A seeded simulation of a platform reselling activations and rentals: customers top up, buy, wait, cancel,
 * get codes or time out; the provider expires some numbers early; rentals are extended, cancelled or expire; a
 * sweeper runs every few minutes; with `gate`, the health policies are re-evaluated once a simulated day and the
 * service stops selling what they disable. Everything runs on a manual clock, so a month takes seconds.
 */

// The fakes entry, not `src/testing/index.ts`: that index brings the conformance suites and so vitest, which the
// `sms-fes sim` command of the installed package does not have.
import {
  type ActivationBehaviour,
  createFakeProvider,
  ManualClock,
  seededRandom,
} from "../src/fakes/index.js";
import { createServiceGate, evaluateHealthPolicies, type HealthServiceGate } from "../src/health/index.js";
import {
  checkLedgerInvariants,
  createFes,
  createPricing,
  createRefundPolicy,
  type Fes,
  type Provider,
  type Storage,
} from "../src/index.js";
import { createMemoryStorage } from "../src/memory/index.js";
import type { ProviderControl } from "../src/provider/control.js";

/** Options of a simulation run. */
export interface SimulationOptions {
  readonly seed: number;
  readonly customers: number;
  readonly activations: number;
  readonly rentals: number;
  readonly days: number;
  /** Called with the share done (0–1) as the simulation advances. */
  readonly onProgress?: (done: number) => void;
  /**
   * Close the loop: at the end of every simulated day, evaluate the health policies (default configuration) over
   * the activations recorded so far and give the running service the gate of their disable decisions, so a dead
   * service stops selling once the evidence is enough (`buy:service_disabled` in the counters). Default off.
   */
  readonly gate?: boolean;
  /** Storage to run on (default: a fresh memory storage). */
  readonly storage?: Storage;
  /**
   * Builds the provider over the simulation's clock (default: the in-process fake provider). It must return a
   * provider and its test control; stock and behaviour are set through the control.
   */
  readonly makeProvider?: (
    clock: ManualClock,
    behaviour: (service: string, country: string) => ActivationBehaviour | undefined,
  ) => Promise<{
    provider: Provider;
    control: ProviderControl;
    close?: () => Promise<void>;
  }>;
}

/** The market of the simulation: service×country pairs, their price, popularity and how often a code comes. */
export const MARKET = [
  { service: "tg", country: "6", price: "0.35", weight: 20, success: 0.78, delay: [15_000, 240_000] },
  { service: "tg", country: "0", price: "0.90", weight: 8, success: 0.6, delay: [20_000, 400_000] },
  { service: "wa", country: "6", price: "0.60", weight: 16, success: 0.7, delay: [20_000, 300_000] },
  { service: "wa", country: "22", price: "0.40", weight: 8, success: 0.45, delay: [30_000, 600_000] },
  { service: "go", country: "187", price: "0.75", weight: 10, success: 0.66, delay: [10_000, 200_000] },
  { service: "go", country: "16", price: "0.55", weight: 6, success: 0.5, delay: [30_000, 500_000] },
  { service: "ig", country: "12", price: "0.20", weight: 7, success: 0.35, delay: [60_000, 900_000] },
  { service: "fb", country: "6", price: "0.25", weight: 6, success: 0.55, delay: [20_000, 300_000] },
  { service: "oi", country: "187", price: "0.80", weight: 4, success: 0.62, delay: [15_000, 240_000] },
  // A service that never succeeds for anyone, still on sale: the health policies should disable it.
  { service: "mm", country: "0", price: "0.15", weight: 5, success: 0, delay: [0, 0] },
] as const;

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2026, 9, 1);
const OPEN = { enabled: true } as const;

type Event =
  | { at: number; kind: "buy"; n: number }
  | { at: number; kind: "rent"; n: number }
  | { at: number; kind: "poll"; activationId: string; cancelAt: number | null }
  | { at: number; kind: "cancel"; activationId: string }
  | { at: number; kind: "providerEnd"; activationId: string }
  | { at: number; kind: "extend"; rentalId: string; n: number }
  | { at: number; kind: "rentalCancel"; rentalId: string }
  | { at: number; kind: "sweep" }
  | { at: number; kind: "gate" };

/** A binary min-heap of events by time (ties in insertion order). */
class Agenda {
  readonly #heap: { e: Event; seq: number }[] = [];
  #seq = 0;
  get size() {
    return this.#heap.length;
  }
  push(e: Event) {
    const h = this.#heap;
    h.push({ e, seq: this.#seq++ });
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }
  pop(): Event | undefined {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last !== undefined) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.#less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.#less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top?.e;
  }
  #less(a: { e: Event; seq: number }, b: { e: Event; seq: number }) {
    return a.e.at < b.e.at || (a.e.at === b.e.at && a.seq < b.seq);
  }
}

/** What a run produced: the service and storage to inspect, and the counters of what happened. */
export interface SimulationResult {
  readonly fes: Fes;
  readonly storage: Storage;
  readonly startMs: number;
  /** The end of the simulated traffic: no purchase is made after it. */
  readonly trafficEndMs: number;
  /** The clock at the end: after the final sweep, every deadline passed. */
  readonly endMs: number;
  readonly counters: Record<string, number>;
}

/** Runs the simulation. Deterministic for a given seed (on the in-process provider). */
export async function simulate(options: SimulationOptions): Promise<SimulationResult> {
  const random = seededRandom(options.seed);
  const clock = new ManualClock(T0);
  const storage = options.storage ?? createMemoryStorage();
  const behaviour = (service: string, country: string): ActivationBehaviour | undefined => {
    const pair = MARKET.find((m) => m.service === service && m.country === country);
    return pair === undefined ? undefined : { successRate: pair.success, codeDelayMs: pair.delay };
  };
  const made: { provider: Provider; control: ProviderControl; close?: () => Promise<void> } =
    options.makeProvider
      ? await options.makeProvider(clock, behaviour)
      : createFakeProvider({ clock, seed: options.seed, behaviour, balance: "100000000" });
  const { provider, control } = made;
  for (const m of MARKET) await control.setStock(m.service, m.country, { price: m.price, count: 1_000_000 });
  await control.setRentStock("full", "6", { pricePerHour: "0.05", count: 1_000_000 });
  await control.setRentStock("tg", "0", { pricePerHour: "0.08", count: 1_000_000 });

  // The service takes its gate at construction: give it one that asks the latest evaluation (none yet: all open).
  let currentGate: HealthServiceGate | undefined;
  const fes = createFes({
    storage,
    provider,
    clock,
    ...(options.gate ? { gate: (q: { service: string; country: string }) => currentGate?.(q) ?? OPEN } : {}),
    pricing: createPricing({ markupPercent: "30", minimumPriceMinor: 10 })._unsafeUnwrap(),
    policy: createRefundPolicy({ timeoutCashbackPercent: 10, rentalEarlyEnd: "pro_rata" })._unsafeUnwrap(),
  });
  const counters: Record<string, number> = {};
  const bump = (k: string) => {
    counters[k] = (counters[k] ?? 0) + 1;
  };
  const customer = (i: number) => `c${String(i).padStart(4, "0")}`;
  for (let i = 0; i < options.customers; i++) {
    await fes.createWallet({ walletId: customer(i), currency: "USD" });
    await fes.deposit({
      walletId: customer(i),
      amountMinor: 500 + Math.floor(random() * 2000),
      currency: "USD",
      idempotencyKey: `seed-${i}`,
    });
  }

  const span = options.days * DAY;
  const agenda = new Agenda();
  // Purchases follow a daily rhythm: busier in the afternoon (UTC) than at night.
  const when = () => {
    for (;;) {
      const t = Math.floor(random() * span);
      const hour = (t % DAY) / HOUR;
      if (random() < 0.35 + 0.65 * Math.sin((Math.PI * hour) / 24) ** 2) return T0 + t;
    }
  };
  for (let n = 0; n < options.activations; n++) agenda.push({ at: when(), kind: "buy", n });
  for (let n = 0; n < options.rentals; n++) agenda.push({ at: when(), kind: "rent", n });
  for (let t = T0; t <= T0 + span + HOUR; t += 5 * MINUTE) agenda.push({ at: t, kind: "sweep" });
  if (options.gate) for (let t = T0 + DAY; t < T0 + span; t += DAY) agenda.push({ at: t, kind: "gate" });

  const totalWeight = MARKET.reduce((s, m) => s + m.weight, 0);
  const pickPair = () => {
    let x = random() * totalWeight;
    for (const m of MARKET) {
      x -= m.weight;
      if (x < 0) return m;
    }
    return MARKET[0];
  };
  const topUp = async (walletId: string, n: number) => {
    bump("topUps");
    await fes.deposit({
      walletId,
      amountMinor: 2000,
      currency: "USD",
      idempotencyKey: `topup-${walletId}-${n}`,
    });
  };

  // Progress is simulated time over the run's span: counting events instead divided by the initial agenda while
  // every purchase adds polls to it, and reached 100 % a fifth of the way through.
  const progressSpanMs = span + HOUR;
  let handled = 0;
  for (let e = agenda.pop(); e !== undefined; e = agenda.pop()) {
    if (e.at > clock.now()) clock.set(e.at);
    handled++;
    if (handled % 500 === 0) options.onProgress?.(Math.min(0.999, Math.max(0, (e.at - T0) / progressSpanMs)));
    switch (e.kind) {
      case "sweep": {
        const r = await fes.sweep();
        if (r.isErr()) bump("sweepErrors");
        break;
      }
      case "gate": {
        // The policies look from now over the activations recorded so far (the history window ends now).
        const records = await storage.read.listActivations();
        currentGate = createServiceGate(evaluateHealthPolicies(records, { nowMs: clock.now() }).decisions);
        bump("gateEvaluations");
        break;
      }
      case "buy": {
        const walletId = customer(Math.floor(random() * options.customers));
        const pair = pickPair();
        const key = `buy-${e.n}`;
        // Upstream trouble: sold out, or the answer to a purchase lost (after or before it happened). A fault is
        // armed for the next purchase, so none is armed for one the gate will refuse before asking the provider.
        const trouble = random();
        const refused = currentGate?.({ service: pair.service, country: pair.country }).enabled === false;
        if (!refused) {
          if (trouble < 0.02) await control.injectFault({ action: "buyActivation", kind: "no_numbers" });
          else if (trouble < 0.025)
            await control.injectFault({ action: "buyActivation", kind: "unknown_after_success" });
          else if (trouble < 0.028)
            await control.injectFault({ action: "buyActivation", kind: "unknown_before" });
        }
        let bought = await fes.buyActivation({
          walletId,
          service: pair.service,
          country: pair.country,
          idempotencyKey: key,
        });
        if (bought.isErr() && bought.error.type === "insufficient_funds") {
          await topUp(walletId, e.n);
          bought = await fes.buyActivation({
            walletId,
            service: pair.service,
            country: pair.country,
            idempotencyKey: key,
          });
        }
        if (bought.isErr()) {
          bump(`buy:${bought.error.type}`);
          break;
        }
        bump("bought");
        const a = bought.value;
        if (a.state === "pending") {
          bump("unknownOutcome");
          break;
        }
        // Some customers give up and cancel if no code came after a while; a few numbers are revoked upstream.
        const impatient = random() < 0.3;
        const cancelAt = impatient ? clock.now() + 2 * MINUTE + Math.floor(random() * 10 * MINUTE) : null;
        agenda.push({ at: clock.now() + 30_000, kind: "poll", activationId: a.id, cancelAt });
        if (random() < 0.06) {
          agenda.push({
            at: clock.now() + MINUTE + Math.floor(random() * 15 * MINUTE),
            kind: "providerEnd",
            activationId: a.id,
          });
        }
        break;
      }
      case "poll": {
        const r = await fes.pollActivation(e.activationId);
        if (r.isErr()) {
          bump(`poll:${r.error.type}`);
          break;
        }
        const a = r.value;
        if (a.state === "received") {
          if (a.closedAtMs === null) await fes.finishActivation({ activationId: a.id });
          break;
        }
        if (a.state !== "waiting") break;
        if (e.cancelAt !== null && clock.now() >= e.cancelAt) {
          agenda.push({ at: clock.now(), kind: "cancel", activationId: a.id });
        } else if (a.deadlineAtMs !== null && clock.now() < a.deadlineAtMs) {
          agenda.push({ at: clock.now() + 30_000, kind: "poll", activationId: a.id, cancelAt: e.cancelAt });
        }
        break;
      }
      case "cancel": {
        const r = await fes.cancelActivation({ activationId: e.activationId });
        if (r.isOk()) bump(r.value.state === "cancelled" ? "cancelled" : "cancelBecameSettle");
        else bump(`cancel:${r.error.type}`);
        break;
      }
      case "providerEnd": {
        const a = (await fes.getActivation(e.activationId)).unwrapOr(undefined);
        if (a?.state === "waiting" && a.providerActivationId !== null) {
          try {
            await control.endActivation(a.providerActivationId);
            bump("providerEnded");
          } catch {
            // Already ended upstream.
          }
        }
        break;
      }
      case "rent": {
        const walletId = customer(Math.floor(random() * options.customers));
        const hours = [4, 12, 24, 72][Math.floor(random() * 4)]!;
        const service = random() < 0.5 ? "full" : "tg";
        const country = service === "full" ? "6" : "0";
        const key = `rent-${e.n}`;
        let r = await fes.buyRental({ walletId, service, country, hours, idempotencyKey: key });
        if (r.isErr() && r.error.type === "insufficient_funds") {
          await topUp(walletId, 1_000_000 + e.n);
          r = await fes.buyRental({ walletId, service, country, hours, idempotencyKey: key });
        }
        if (r.isErr()) {
          bump(`rent:${r.error.type}`);
          break;
        }
        bump("rented");
        const roll = random();
        if (roll < 0.1)
          agenda.push({
            at: clock.now() + Math.floor(random() * 15 * MINUTE),
            kind: "rentalCancel",
            rentalId: r.value.id,
          });
        else if (roll < 0.3)
          agenda.push({
            at: clock.now() + Math.floor(random() * hours * HOUR * 0.8),
            kind: "extend",
            rentalId: r.value.id,
            n: e.n,
          });
        else if (roll < 0.35)
          agenda.push({
            at: clock.now() + Math.floor(random() * hours * HOUR * 0.8),
            kind: "rentalCancel",
            rentalId: r.value.id,
          });
        break;
      }
      case "extend": {
        const r = await fes.extendRental({ rentalId: e.rentalId, hours: 4, idempotencyKey: `extend-${e.n}` });
        bump(r.isOk() ? "extended" : `extend:${r.error.type}`);
        break;
      }
      case "rentalCancel": {
        const r = await fes.cancelRental({ rentalId: e.rentalId });
        bump(r.isOk() ? `rental:${r.value.state}` : `rentalCancel:${r.error.type}`);
        break;
      }
    }
  }
  // Let every deadline pass and sweep until nothing is due.
  clock.advance(4 * DAY);
  for (let i = 0; i < 10; i++) {
    const r = await fes.sweep();
    if (r.isOk() && Object.values(r.value).every((v) => v === 0)) break;
  }
  options.onProgress?.(1);
  await made.close?.();
  return { fes, storage, startMs: T0, trafficEndMs: T0 + span, endMs: clock.now(), counters };
}

/** Money and outcome totals of a finished run, and the invariant check. */
export async function summarize(result: SimulationResult) {
  const read = result.storage.read;
  const [activations, rentals, transfers, holds, wallets] = await Promise.all([
    read.listActivations(),
    read.listRentals(),
    read.listTransfers(),
    read.listHolds(),
    read.listWallets(),
  ]);
  const outcomes: Record<string, number> = {};
  for (const a of activations) outcomes[a.state] = (outcomes[a.state] ?? 0) + 1;
  const rentalOutcomes: Record<string, number> = {};
  for (const r of rentals) rentalOutcomes[r.state] = (rentalOutcomes[r.state] ?? 0) + 1;
  const sum = (kind: string) =>
    transfers.filter((t) => t.kind === kind).reduce((s, t) => s + t.amountMinor, 0);
  const releasedMinor = holds.reduce(
    (s, h) => s + (h.state === "open" ? 0 : h.amountMinor - h.settledMinor),
    0,
  );
  const platform: Record<string, number> = {};
  for (const t of transfers) {
    for (const [id, sign] of [
      [t.debitAccountId, -1],
      [t.creditAccountId, 1],
    ] as const) {
      if (id.startsWith("@")) platform[id] = (platform[id] ?? 0) + sign * t.amountMinor;
    }
  }
  const violations = await checkLedgerInvariants(read);
  return {
    activations: activations.length,
    outcomes,
    rentals: rentals.length,
    rentalOutcomes,
    money: {
      depositedMinor: sum("deposit"),
      settledMinor: sum("settle"),
      releasedMinor,
      cashbackMinor: sum("cashback"),
      marginMinor: activations
        .filter((a) => a.state === "received" && a.costMinor !== null)
        .reduce((s, a) => s + a.priceMinor - (a.costMinor ?? 0), 0),
    },
    wallets: {
      count: wallets.length,
      balanceMinor: wallets.reduce((s, w) => s + w.balanceMinor, 0),
      frozenMinor: wallets.reduce((s, w) => s + w.frozenMinor, 0),
    },
    platformAccounts: platform,
    counters: result.counters,
    invariants: { ok: violations.length === 0, violations },
  };
}
