/**
 * The production market (`npm start -- --market production`): a month of a platform with the profile its operator
 * measured over 30 days — 24.1 % success, 38.4 % cancelled (every cancel at the 20-minute limit), 25.0 % timeout,
 * 12.5 % expired; services that never deliver, weak services, codes that come in the first minutes when they come
 * at all, countries that differ. The parameters below were fixed from those figures before any policy ran (see
 * `docs/wait-times.md`); the same seeded traffic then runs four ways: as is; with the health gate; with gate,
 * routing and a retry on another country; with all of that and the learned wait-time policy.
 */
import {
  createLearnedWaitTime,
  createRouter,
  createServiceGate,
  type ExperimentReport,
  evaluateHealthPolicies,
  experimentReport,
  type HealthCountryRouter,
  type HealthServiceGate,
  type LearnedWaitTime,
} from "../src/health/index.js";
import {
  type ActivationRecord,
  checkLedgerInvariants,
  createFes,
  createPricing,
  createRefundPolicy,
  WAIT_TIME_POLICY_REASON,
} from "../src/index.js";
import { createMemoryStorage } from "../src/memory/index.js";
import {
  type ActivationBehaviour,
  createFakeProvider,
  ManualClock,
  seededRandom,
} from "../src/testing/index.js";
import { decisionSpeed } from "./wait-decision-speed.js";

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2026, 9, 1);

/** Services whose best country delivers this often; their other countries deliver 0.6× and 0.3× as often. */
const GOOD = { tg: 0.78, wa: 0.72, go: 0.68, vk: 0.66, ok: 0.62, ma: 0.6, fb: 0.58, ig: 0.56 } as const;
/** Weak services: below 30 % even in their best country. */
const WEAK = { tw: 0.28, ds: 0.24, ub: 0.2, am: 0.18, nf: 0.14, yo: 0.1 } as const;
/** Eight services that never deliver, still on sale. */
const DEAD = ["mm", "ya", "av", "sn", "tk", "wb", "ot", "lf"] as const;
const COUNTRIES = ["0", "6", "12"] as const;
const COUNTRY_FACTOR = [1, 0.6, 0.3] as const;
/** How customers choose a country as is: by habit, not by how well it delivers. */
const COUNTRY_CHOICE = [0.45, 0.35, 0.2] as const;
/** Purchases per service: good 4, weak 3, dead 1.5 (solved so that as-is success is 24.1 % after expiries). */
const WEIGHT = { good: 4, weak: 3, dead: 1.5 } as const;
/** Share of numbers the provider ends early (uniformly between 1 and 19 minutes): 12.5 % of activations expire. */
const PROVIDER_END_SHARE = 0.17;
/** Of customers still without a code at the limit, the share that presses cancel (38.4 / (38.4 + 25.0)). */
const CANCELLER_SHARE = 0.606;
/** When a code comes: 75 % within 3 minutes, 20 % within 3–8, 5 % within 8–19. */
const DELAYS: readonly (readonly [number, readonly [number, number]])[] = [
  [0.75, [10 * SECOND, 3 * MINUTE]],
  [0.2, [3 * MINUTE, 8 * MINUTE]],
  [0.05, [8 * MINUTE, 19 * MINUTE]],
];

/** A code's delay in the production profile, from two uniform draws (the band, then the place in it). */
export function productionDelayMs(u: number, v: number): number {
  const [lo, hi] = pick(DELAYS, ([share]) => share, u)[1];
  return lo + v * (hi - lo);
}

/** One service × country of the market. */
interface Pair {
  readonly service: string;
  readonly country: string;
  readonly success: number;
  readonly price: string;
}

/** The market, as data: every pair with its chance of a code and its provider price. */
export const PRODUCTION_MARKET: readonly Pair[] = (() => {
  const pairs: Pair[] = [];
  const services: [string, number][] = [
    ...Object.entries(GOOD),
    ...Object.entries(WEAK),
    ...DEAD.map((s): [string, number] => [s, 0]),
  ];
  services.forEach(([service, best], i) => {
    COUNTRIES.forEach((country, j) => {
      // The best country differs by service; prices differ by country, not by quality.
      const factor = COUNTRY_FACTOR[(j - (i % 3) + 3) % 3]!;
      pairs.push({ service, country, success: best * factor, price: ["0.30", "0.45", "0.20"][j]! });
    });
  });
  return pairs;
})();

const serviceWeight = (service: string) =>
  service in GOOD ? WEIGHT.good : service in WEAK ? WEIGHT.weak : WEIGHT.dead;

/** The four ways the month runs. */
export const VARIANTS = ["as is", "health gate", "gate + routing + retry", "all + learned wait"] as const;
/** One of the four ways. */
export type Variant = (typeof VARIANTS)[number];

/** Options of {@link runProductionMarket}. */
export interface ProductionMarketOptions {
  readonly seed: number;
  /** Customer purchases over the month (default 3000). */
  readonly purchases?: number;
  readonly days?: number;
  readonly onProgress?: (variant: Variant, done: number) => void;
}

/** What one way of running the month produced. */
export interface VariantResult {
  readonly variant: Variant;
  /** Customer purchases asked for. */
  readonly asked: number;
  /** Purchases refused before a number was bought (the gate, no country left). */
  readonly refused: number;
  /** Purchases that got a number. */
  readonly bought: number;
  /** Purchases that got a code, on the first number or its retry. */
  readonly succeeded: number;
  /** Purchases whose code came within 20 minutes of the purchase. */
  readonly within20: number;
  /** Activations (first numbers and retries) that ended, by outcome. */
  readonly outcomes: {
    readonly ended: number;
    readonly received: number;
    readonly cancelled: number;
    readonly waitEnded: number;
    readonly timeout: number;
    readonly expired: number;
  };
  readonly retries: number;
  /** Customer money frozen, in minor-unit minutes. */
  readonly frozenMinorMinutes: number;
  /** From purchase to the first code, over successful purchases (ms). */
  readonly medianTimeToCodeMs: number | null;
  readonly p90TimeToCodeMs: number | null;
  /** What the 50 % cashback on timeouts paid over the month (minor units). */
  readonly cashbackMinor: number;
  readonly invariantsOk: boolean;
  /** The learned waits at the end of the month (last variant only). */
  readonly waits?: LearnedWaitTime["choices"];
  /** The learned policy's own A/B test, full window against learned wait, per activation (last variant only). */
  readonly explore?: ExperimentReport;
}

interface Purchase {
  readonly at: number;
  readonly firstId: string;
  /** The number the customer is waiting on now: the first, then its retry. */
  currentId: string;
}

type Event =
  | { at: number; kind: "buy"; n: number }
  | { at: number; kind: "poll"; id: string; purchase: number }
  | { at: number; kind: "providerEnd"; id: string }
  | { at: number; kind: "cancel"; purchase: number }
  | { at: number; kind: "sweep" }
  | { at: number; kind: "daily" };

/** Events in time order, ties in insertion order. */
class Agenda {
  readonly #buckets = new Map<number, Event[]>();
  readonly #times: number[] = [];
  push(e: Event) {
    let b = this.#buckets.get(e.at);
    if (b === undefined) {
      b = [];
      this.#buckets.set(e.at, b);
      // Insert the new time in order (binary search): the agenda holds a few thousand distinct times.
      let lo = 0;
      let hi = this.#times.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (this.#times[mid]! < e.at) lo = mid + 1;
        else hi = mid;
      }
      this.#times.splice(lo, 0, e.at);
    }
    b.push(e);
  }
  shift(): Event | undefined {
    const t = this.#times[0];
    if (t === undefined) return undefined;
    const b = this.#buckets.get(t)!;
    const e = b.shift();
    if (b.length === 0) {
      this.#buckets.delete(t);
      this.#times.shift();
    }
    return e;
  }
}

/** The item a uniform draw `u` falls on, items weighted by `weight`. */
function pick<T>(items: readonly T[], weight: (item: T, i: number) => number, u: number): T {
  const total = items.reduce((s, x, i) => s + weight(x, i), 0);
  let left = u * total;
  for (const [i, x] of items.entries()) {
    left -= weight(x, i);
    if (left < 0) return x;
  }
  return items[items.length - 1]!;
}

const quantile = (sorted: readonly number[], p: number): number | null => {
  if (sorted.length === 0) return null;
  const i = (sorted.length - 1) * p;
  const lo = Math.floor(i);
  const hi = Math.ceil(i);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (i - lo);
};

/** Runs the month one way. The traffic (who buys what, when, and how patient they are) is the same every way. */
export async function runVariant(variant: Variant, options: ProductionMarketOptions): Promise<VariantResult> {
  const days = options.days ?? 30;
  const purchases = options.purchases ?? 3000;
  const gateOn = variant !== "as is";
  const routeOn = variant === "gate + routing + retry" || variant === "all + learned wait";
  const waitOn = variant === "all + learned wait";
  // Two streams: the traffic's, identical in every variant, and the market's (codes, provider ends).
  const traffic = seededRandom(options.seed);
  const market = seededRandom(options.seed ^ 0x5bd1e995);
  const clock = new ManualClock(T0);
  const storage = createMemoryStorage();
  const behaviour = (service: string, country: string): ActivationBehaviour | undefined => {
    const pair = PRODUCTION_MARKET.find((p) => p.service === service && p.country === country);
    if (pair === undefined) return undefined;
    const band = pick(DELAYS, ([share]) => share, market())[1];
    return { successRate: pair.success, codeDelayMs: band };
  };
  const { provider, control } = createFakeProvider({
    clock,
    seed: options.seed,
    behaviour,
    balance: "100000000",
  });
  for (const p of PRODUCTION_MARKET)
    await control.setStock(p.service, p.country, { price: p.price, count: 1_000_000 });

  let gate: HealthServiceGate | undefined;
  let router: HealthCountryRouter | undefined;
  let learned: LearnedWaitTime | undefined;
  const pricing = createPricing({ markupPercent: "30", minimumPriceMinor: 10 })._unsafeUnwrap();
  const candidates = (service: string) =>
    PRODUCTION_MARKET.filter((p) => p.service === service).map((p) => ({
      country: p.country,
      priceMinor: Math.ceil(Number(p.price) * 130),
    }));
  const fes = createFes({
    storage,
    provider,
    clock,
    pricing,
    policy: createRefundPolicy({ timeoutCashbackPercent: 50 })._unsafeUnwrap(),
    ...(gateOn
      ? { gate: (q: { service: string; country: string }) => gate?.(q) ?? { enabled: true as const } }
      : {}),
    ...(routeOn
      ? {
          route: (q: { service: string; excludeCountries: readonly string[] }) =>
            router?.(q) ??
            candidates(q.service)
              .map((c) => c.country)
              .filter((c) => !q.excludeCountries.includes(c)),
          retryOnTimeout: true,
        }
      : {}),
    ...(waitOn ? { waitTime: { decide: (q) => learned?.decide(q) ?? { waitMs: q.lifetimeMs } } } : {}),
  });

  const customers = 300;
  for (let i = 0; i < customers; i++) {
    await fes.createWallet({ walletId: `c${i}`, currency: "USD" });
    await fes.deposit({
      walletId: `c${i}`,
      amountMinor: 1_000_000,
      currency: "USD",
      idempotencyKey: `seed-${i}`,
    });
  }
  const agenda = new Agenda();
  const span = days * DAY;
  const buyTimes = Array.from({ length: purchases }, () => T0 + Math.floor(traffic() * span)).sort(
    (a, b) => a - b,
  );
  for (const [n, at] of buyTimes.entries()) agenda.push({ at, kind: "buy", n });
  // Every five minutes, and at every activation's deadline (pushed as numbers are issued).
  for (let t = T0; t <= T0 + span + HOUR; t += 5 * MINUTE) agenda.push({ at: t, kind: "sweep" });
  for (let t = T0 + DAY; t < T0 + span; t += DAY) agenda.push({ at: t, kind: "daily" });

  const services = [...new Set(PRODUCTION_MARKET.map((p) => p.service))];
  const bought: Purchase[] = [];
  let refused = 0;
  let handled = 0;
  for (let e = agenda.shift(); e !== undefined; e = agenda.shift()) {
    if (e.at > clock.now()) clock.set(e.at);
    if (++handled % 5000 === 0) options.onProgress?.(variant, Math.min(1, (clock.now() - T0) / span));
    switch (e.kind) {
      case "sweep":
        await fes.sweep();
        break;
      case "daily": {
        const records = await storage.read.listActivations();
        gate = createServiceGate(evaluateHealthPolicies(records, { nowMs: clock.now() }).decisions);
        router = createRouter(records, { candidates, gate });
        if (waitOn) {
          const r = router;
          learned = createLearnedWaitTime(records, {
            nextCountry: (service, country) => r({ service, excludeCountries: [country] })[0],
          })._unsafeUnwrap();
        }
        break;
      }
      case "buy": {
        // The traffic draws the same numbers whatever the variant does with them.
        const service = pick(services, serviceWeight, traffic());
        const habit = pick(COUNTRIES, (_, j) => COUNTRY_CHOICE[j]!, traffic());
        const canceller = traffic() < CANCELLER_SHARE;
        const patienceMs = 19.5 * MINUTE + traffic() * 30 * SECOND;
        const providerEnds = traffic() < PROVIDER_END_SHARE;
        const providerEndAfterMs = MINUTE + traffic() * 18 * MINUTE;
        const walletId = `c${Math.floor(traffic() * customers)}`;
        const r = await fes.buyActivation({
          walletId,
          service,
          country: routeOn ? "auto" : habit,
          idempotencyKey: `p${e.n}`,
        });
        if (r.isErr() || r.value.state !== "waiting") {
          refused++;
          break;
        }
        const a = r.value;
        bought.push({ at: clock.now(), firstId: a.id, currentId: a.id });
        const purchase = bought.length - 1;
        agenda.push({ at: clock.now() + 30 * SECOND, kind: "poll", id: a.id, purchase });
        if (a.deadlineAtMs !== null) agenda.push({ at: a.deadlineAtMs, kind: "sweep" });
        // The customer presses cancel at the limit if no code came (on this number or its retry).
        if (canceller) agenda.push({ at: clock.now() + patienceMs, kind: "cancel", purchase });
        if (providerEnds)
          agenda.push({ at: clock.now() + providerEndAfterMs, kind: "providerEnd", id: a.id });
        break;
      }
      case "poll": {
        const p = bought[e.purchase]!;
        const polled = await fes.pollActivation(e.id);
        if (polled.isErr()) break;
        const a = polled.value;
        if (a.state === "received") {
          if (a.closedAtMs === null) await fes.finishActivation({ activationId: a.id });
          break;
        }
        if (a.state === "waiting") {
          agenda.push({ at: clock.now() + 30 * SECOND, kind: "poll", id: a.id, purchase: e.purchase });
          break;
        }
        // Ended without a code: the customer follows the retry, if one was bought.
        // Retry ids are opaque: the retry is the record whose `retryOf` is this activation.
        if (a.retryOf === null) {
          const mine = await storage.read.listActivations({
            walletId: a.walletId,
            createdSinceMs: a.createdAtMs,
          });
          const retry = mine.find((r) => r.retryOf === a.id);
          if (retry !== undefined) {
            p.currentId = retry.id;
            agenda.push({ at: clock.now() + 30 * SECOND, kind: "poll", id: retry.id, purchase: e.purchase });
            if (retry.deadlineAtMs !== null) agenda.push({ at: retry.deadlineAtMs, kind: "sweep" });
          }
        }
        break;
      }
      case "cancel": {
        const a = (await fes.getActivation(bought[e.purchase]!.currentId)).unwrapOr(undefined);
        if (a?.state === "waiting") await fes.cancelActivation({ activationId: a.id });
        break;
      }
      case "providerEnd": {
        const a = (await fes.getActivation(e.id)).unwrapOr(undefined);
        if (a?.state === "waiting" && a.providerActivationId !== null) {
          try {
            await control.endActivation(a.providerActivationId);
          } catch {
            // Already ended upstream.
          }
        }
        break;
      }
    }
  }
  clock.advance(DAY);
  for (let i = 0; i < 5; i++) await fes.sweep();

  const records = await storage.read.listActivations();
  const byId = new Map(records.map((a) => [a.id, a]));
  const retryOf = new Map(records.filter((a) => a.retryOf !== null).map((a) => [a.retryOf!, a]));
  const times: number[] = [];
  let succeeded = 0;
  let within20 = 0;
  for (const p of bought) {
    const first = byId.get(p.firstId);
    const retry = retryOf.get(p.firstId);
    const won = [first, retry].find(
      (a): a is ActivationRecord => a?.state === "received" && a.firstCodeAtMs !== null,
    );
    if (won === undefined) continue;
    succeeded++;
    const t = won.firstCodeAtMs! - p.at;
    times.push(t);
    if (t <= 20 * MINUTE) within20++;
  }
  times.sort((a, b) => a - b);
  const count = (pred: (a: ActivationRecord) => boolean) => records.filter(pred).length;
  const transfers = await storage.read.listTransfers();
  return {
    variant,
    asked: purchases,
    refused,
    bought: bought.length,
    succeeded,
    within20,
    outcomes: {
      ended: count((a) => ["received", "cancelled", "timeout", "expired"].includes(a.state)),
      received: count((a) => a.state === "received"),
      cancelled: count((a) => a.state === "cancelled" && a.failureReason !== WAIT_TIME_POLICY_REASON),
      waitEnded: count((a) => a.state === "cancelled" && a.failureReason === WAIT_TIME_POLICY_REASON),
      timeout: count((a) => a.state === "timeout"),
      expired: count((a) => a.state === "expired"),
    },
    retries: count((a) => a.retryOf !== null),
    frozenMinorMinutes: records.reduce(
      (s, a) => s + (a.endedAtMs === null ? 0 : (a.priceMinor * (a.endedAtMs - a.createdAtMs)) / MINUTE),
      0,
    ),
    medianTimeToCodeMs: quantile(times, 0.5),
    p90TimeToCodeMs: quantile(times, 0.9),
    cashbackMinor: transfers.filter((t) => t.kind === "cashback").reduce((s, t) => s + t.amountMinor, 0),
    invariantsOk: (await checkLedgerInvariants(storage.read)).length === 0,
    ...(learned === undefined
      ? {}
      : {
          waits: learned.choices,
          explore: experimentReport(records, learned.exploreId, { control: "full" }),
        }),
  };
}

/** Runs the month all four ways on the same seed. */
export async function runProductionMarket(
  options: ProductionMarketOptions,
): Promise<readonly VariantResult[]> {
  const results: VariantResult[] = [];
  for (const v of VARIANTS) results.push(await runVariant(v, options));
  return results;
}

const pct = (n: number, d: number) => (d === 0 ? "–" : `${((100 * n) / d).toFixed(1)} %`);
const minutes = (ms: number | null) => (ms === null ? "–" : `${(ms / MINUTE).toFixed(1)} min`);

/** The four ways side by side, with the platform's targets. */
export function renderProductionTable(results: readonly VariantResult[]): string {
  const rows: [string, (r: VariantResult) => string][] = [
    ["purchases refused (gate)", (r) => `${r.refused} of ${r.asked}`],
    ["success per purchase (target > 60 %)", (r) => pct(r.succeeded, r.bought)],
    ["code within 20 min of purchase", (r) => pct(r.within20, r.bought)],
    ["activations ended (incl. retries)", (r) => String(r.outcomes.ended)],
    ["received", (r) => pct(r.outcomes.received, r.outcomes.ended)],
    ["cancelled by the customer (target < 20 %)", (r) => pct(r.outcomes.cancelled, r.outcomes.ended)],
    ["ended by the wait policy", (r) => pct(r.outcomes.waitEnded, r.outcomes.ended)],
    ["timeout (target < 10 %)", (r) => pct(r.outcomes.timeout, r.outcomes.ended)],
    ["expired", (r) => pct(r.outcomes.expired, r.outcomes.ended)],
    ["retries on another country", (r) => String(r.retries)],
    ["money frozen (USD·min)", (r) => (r.frozenMinorMinutes / 100).toFixed(0)],
    ["time to code, median", (r) => minutes(r.medianTimeToCodeMs)],
    ["time to code, p90", (r) => minutes(r.p90TimeToCodeMs)],
    ["50 % timeout cashback (USD/month)", (r) => (r.cashbackMinor / 100).toFixed(2)],
    ["ledger invariants", (r) => (r.invariantsOk ? "ok" : "VIOLATED")],
  ];
  const head = ["", ...results.map((r) => r.variant)];
  const body = rows.map(([label, f]) => [label, ...results.map(f)]);
  const widths = head.map((_, i) => Math.max(...[head, ...body].map((row) => row[i]!.length)));
  const line = (row: readonly string[]) =>
    row.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [line(head), ...body.map(line)].join("\n");
}

/** The platform's measured month, to set beside the "as is" column. */
const MEASURED = { received: 24.1, cancelled: 38.4, timeout: 25.0, expired: 12.5 } as const;

/**
 * `npm start -- --market production`: the four ways side by side, the calibration against the measured month, the
 * learned waits and how much sooner nested waits decide than a plain split. Returns the text (or JSON) and whether
 * every run kept the ledger invariants.
 */
export async function productionMarketReport(options: ProductionMarketOptions & { readonly json?: boolean }) {
  const results = await runProductionMarket(options);
  const asIs = results[0]!;
  const learned = results[results.length - 1]!;
  const shortened = (learned.waits ?? []).filter((c) => c.waitMs < 20 * MINUTE);
  const speedFor = (success: number, fullShare: number) =>
    decisionSpeed({ seed: options.seed, success, delayMs: productionDelayMs, fullShare });
  const speed = { learning: speedFor(0.25, 1), steady: speedFor(0.25, 0.1) };
  const ok = results.every((r) => r.invariantsOk);
  if (options.json) return { ok, text: JSON.stringify({ options, results, speed }, null, 2) };
  const o = asIs.outcomes;
  const lines = [
    `sms-fes production market: seed ${options.seed}, ${options.purchases ?? 3000} purchases over ${options.days ?? 30} days, 300 customers, 50 % cashback on timeout`,
    `calibration, as is vs the measured month: received ${pct(o.received, o.ended)} (24.1 %), cancelled ${pct(o.cancelled, o.ended)} (${MEASURED.cancelled} %), timeout ${pct(o.timeout, o.ended)} (${MEASURED.timeout.toFixed(1)} %), expired ${pct(o.expired, o.ended)} (${MEASURED.expired} %)`,
    "",
    renderProductionTable(results),
    "",
    `learned waits at the end of the month: ${shortened.length} of ${learned.waits?.length ?? 0} service × country pairs shortened (${shortened
      .slice()
      .sort((a, b) => b.observations - a.observations)
      .slice(0, 8)
      .map((c) => `${c.service}/${c.country} ${c.waitMs / MINUTE} min`)
      .join(", ")}${shortened.length > 8 ? ", …" : ""}); 10 % of purchases keep the full window`,
    ...(learned.explore === undefined
      ? []
      : [
          `the policy's own A/B test (experiment ${learned.explore.experimentId}, per activation, mSPRT): ${learned.explore.arms
            .map(
              (a) =>
                `${a.arm}: ${a.ended} ended, received ${pct(a.received, a.ended)}, cancelled ${(100 * a.cancelled.point).toFixed(1)} % (by the policy ${(100 * a.waitEnded.point).toFixed(1)} %), median time to code ${minutes(a.medianTimeToCodeMs)}, cost per success ${a.costPerSuccessMinor === null ? "–" : (a.costPerSuccessMinor.point / 100).toFixed(2)} USD`,
            )
            .join("; ")}; ${learned.explore.comparisons
            .map((c) => `${c.arm} vs ${learned.explore!.control}: ${c.verdict} (p ${c.pValue.toFixed(3)})`)
            .join("; ")} — the purchase-level effect is the table's`,
        ]),
    `nested waits vs a plain split (every candidate's loss against the full window to ±2 points, a pair at 25 %): plain split of ${speed.learning.candidates} + 1 arms ${speed.learning.plainSplit} activations; nested, all waiting the window ${speed.learning.nested} (${(speed.learning.plainSplit / speed.learning.nested).toFixed(0)}× sooner); nested, 10 % waiting it ${speed.steady.nested} (${(speed.steady.plainSplit / speed.steady.nested).toFixed(1)}× sooner)`,
  ];
  return { ok, text: lines.join("\n") };
}
