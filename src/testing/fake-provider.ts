import { err, ok, type Result } from "neverthrow";
import type { Clock } from "../core/clock.js";
import type { FakeActivationView, FaultAction, FaultSpec, ProviderControl } from "../provider/control.js";
import type {
  ActivationStatus,
  ActiveActivation,
  ActiveRental,
  ExtendedRental,
  IssuedActivation,
  IssuedRental,
  Provider,
  ProviderCapabilities,
  ProviderFailure,
  ProviderResult,
  Quote,
  RentalMessage,
  RentalStatus,
} from "../provider/port.js";
import { ManualClock } from "./manual-clock.js";

// ---------------------------------------------------------------------------------------------------------------
// Decimal prices. Upstream prices have at most 4 decimals; the fake keeps them as integers of 1/10 000 so that
// `pricePerHour × hours` and balances never meet a float.
// ---------------------------------------------------------------------------------------------------------------

const UNITS = 10_000;

/** Parses a decimal price string (at most 4 decimals) into integer units of 1/10 000. Throws on a malformed one. */
export function priceToUnits(price: string): number {
  const m = /^(\d+)(?:\.(\d{1,4}))?$/.exec(price.trim());
  if (!m) throw new RangeError(`not a decimal price with at most 4 decimals: ${price}`);
  return Number(m[1]) * UNITS + Number((m[2] ?? "").padEnd(4, "0"));
}

/** Formats integer units of 1/10 000 as the shortest decimal string (`250` → `"0.025"`). */
export function unitsToPrice(units: number): string {
  const whole = Math.floor(units / UNITS);
  const frac = String(units % UNITS)
    .padStart(4, "0")
    .replace(/0+$/, "");
  return frac === "" ? String(whole) : `${whole}.${frac}`;
}

/** A small seeded PRNG (mulberry32): the fake's randomness is reproducible from its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The upstream state model, shared by the in-process fake provider and the HTTP fake server.
// ---------------------------------------------------------------------------------------------------------------

/** How bought activations of one service×country behave in a simulation. */
export interface ActivationBehaviour {
  /** Probability (0–1) that a bought number receives a code. */
  readonly successRate: number;
  /** The code arrives uniformly within `[min, max]` ms after purchase (a code after the deadline never comes). */
  readonly codeDelayMs: readonly [number, number];
}

/** A behaviour for every pair, or a function choosing one per service×country (`undefined`: codes only by hand). */
export type BehaviourModel =
  | ActivationBehaviour
  | ((service: string, country: string) => ActivationBehaviour | undefined);

/** Why the upstream refused an operation; the fake provider and the fake server each spell it their own way. */
export type UpstreamError =
  | { readonly type: "no_numbers" }
  | { readonly type: "wrong_max_price"; readonly minPrice: string }
  | { readonly type: "bad_service" }
  | { readonly type: "no_balance" }
  | { readonly type: "order_exists" }
  | { readonly type: "early_cancel"; readonly retryAfterMs: number }
  | { readonly type: "code_received"; readonly codes: readonly string[] }
  | { readonly type: "no_activation" }
  | { readonly type: "not_active" }
  | { readonly type: "bad_status" }
  | { readonly type: "no_rent" }
  | { readonly type: "cant_cancel" }
  | { readonly type: "already_finished" }
  | { readonly type: "already_cancelled" }
  | { readonly type: "rent_die" }
  | { readonly type: "max_hours_exceeded" };

/** One received code. */
export interface UpstreamCode {
  readonly code: string;
  readonly text: string;
  readonly atMs: number;
}

/** An activation as the upstream keeps it. */
export interface UpstreamActivation {
  readonly id: string;
  readonly service: string;
  readonly country: string;
  readonly phone: string;
  readonly cost: string;
  readonly orderId: string | null;
  readonly issuedAtMs: number;
  readonly endsAtMs: number;
  readonly state: FakeActivationView["state"];
  readonly codes: readonly UpstreamCode[];
  /** True between a request for another code and the next code. */
  readonly retryRequested: boolean;
  readonly endedAtMs: number | null;
}

/** A rental as the upstream keeps it. `expired` is a natural end at `endsAtMs`. */
export interface UpstreamRental {
  readonly id: string;
  readonly service: string;
  readonly country: string;
  readonly phone: string;
  readonly pricePerHour: string;
  readonly cost: string;
  readonly orderId: string | null;
  readonly startedAtMs: number;
  readonly endsAtMs: number;
  readonly state: "active" | "finished" | "cancelled" | "revoked" | "expired";
  readonly messages: readonly RentalMessage[];
  readonly webhookUrl: string | null;
}

/** Something the upstream pushes (what a webhook would carry). */
export type UpstreamEvent =
  | { readonly type: "code"; readonly activation: UpstreamActivation; readonly code: UpstreamCode }
  | { readonly type: "rental_sms"; readonly rental: UpstreamRental; readonly message: RentalMessage };

/** Options of the upstream state model. */
export interface FakeUpstreamOptions {
  readonly clock?: Clock;
  readonly earlyCancelWindowMs?: number;
  readonly activationLifetimeMs?: number;
  readonly rentRefundWindowMs?: number;
  /** Whether order ids are remembered (and duplicates refused with `order_exists`). */
  readonly supportsOrderId?: boolean;
  /** The reseller's upstream balance, decimal (default `"1000"`). */
  readonly balance?: string;
  readonly seed?: number;
  readonly behaviour?: BehaviourModel;
  /** First id issued; ids are 16-digit strings by default, above 2^53, to catch ids parsed as numbers. */
  readonly firstId?: bigint;
  /** Longest rental or extension, hours (default 1344). */
  readonly maxRentHours?: number;
}

type MutableActivation = { -readonly [K in keyof UpstreamActivation]: UpstreamActivation[K] };
type MutableRental = { -readonly [K in keyof UpstreamRental]: UpstreamRental[K] };
type Result2<T> = Result<T, UpstreamError>;

const HOUR_MS = 3_600_000;

/**
 * The state of a fake upstream provider: stock, prices, balance, activations and rentals, and their rules
 * (early-cancel window, lifetime and auto-cancel at the deadline, another code, rent refund window). Time comes
 * from the clock it was given; due events (scheduled codes, deadlines) are applied lazily on every call.
 */
export class FakeUpstream {
  readonly clock: Clock;
  readonly earlyCancelWindowMs: number;
  readonly activationLifetimeMs: number;
  readonly rentRefundWindowMs: number;
  readonly supportsOrderId: boolean;
  readonly maxRentHours: number;
  #balanceUnits: number;
  #nextId: bigint;
  #phoneSeq = 0;
  readonly #random: () => number;
  readonly #behaviour: BehaviourModel | undefined;
  readonly #stock = new Map<string, { priceUnits: number; count: number; price: string }>();
  readonly #rentStock = new Map<string, { perHourUnits: number; count: number }>();
  readonly #activations = new Map<string, MutableActivation>();
  readonly #rentals = new Map<string, MutableRental>();
  readonly #orders = new Set<string>();
  /** Scheduled automatic codes, by activation id. */
  readonly #scheduled = new Map<string, { atMs: number; code: string }>();
  readonly #listeners = new Set<(event: UpstreamEvent) => void>();

  constructor(options: FakeUpstreamOptions = {}) {
    this.clock = options.clock ?? new ManualClock();
    this.earlyCancelWindowMs = options.earlyCancelWindowMs ?? 120_000;
    this.activationLifetimeMs = options.activationLifetimeMs ?? 20 * 60_000;
    this.rentRefundWindowMs = options.rentRefundWindowMs ?? 20 * 60_000;
    this.supportsOrderId = options.supportsOrderId ?? true;
    this.maxRentHours = options.maxRentHours ?? 1344;
    this.#balanceUnits = priceToUnits(options.balance ?? "1000");
    this.#nextId = options.firstId ?? 9_100_000_000_000_001n;
    this.#random = seededRandom(options.seed ?? 1);
    this.#behaviour = options.behaviour;
  }

  /** The upstream's current time, after applying due events. */
  now(): number {
    this.tick();
    return this.clock.now();
  }

  /** Moves a {@link ManualClock} forward and applies what became due. Throws for any other clock. */
  advance(ms: number): void {
    const clock = this.clock as Partial<ManualClock>;
    if (typeof clock.advance !== "function") throw new TypeError("advance needs a ManualClock");
    clock.advance.call(this.clock, ms);
    this.tick();
  }

  /** Registers a listener for pushed events (codes, rental SMS); returns the unsubscribe function. */
  subscribe(listener: (event: UpstreamEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The reseller's upstream balance, decimal. */
  balance(): string {
    return unitsToPrice(this.#balanceUnits);
  }

  /** Sets the reseller's upstream balance. */
  setBalance(balance: string): void {
    this.#balanceUnits = priceToUnits(balance);
  }

  /** Sets price and stock of activations for a pair. */
  setStock(service: string, country: string, stock: { price: string; count: number }): void {
    this.#stock.set(key(service, country), {
      priceUnits: priceToUnits(stock.price),
      price: unitsToPrice(priceToUnits(stock.price)),
      count: stock.count,
    });
  }

  /** Sets price per hour and stock of rentals for a pair. */
  setRentStock(service: string, country: string, stock: { pricePerHour: string; count: number }): void {
    this.#rentStock.set(key(service, country), {
      perHourUnits: priceToUnits(stock.pricePerHour),
      count: stock.count,
    });
  }

  /** All activation prices and stock, for `getPrices`-style listings. */
  stockEntries(): readonly { service: string; country: string; price: string; count: number }[] {
    return [...this.#stock].map(([k, v]) => ({ ...splitKey(k), price: v.price, count: v.count }));
  }

  /** Rental prices for `hours` hours and stock, for listings. */
  rentStockEntries(
    hours: number,
  ): readonly { service: string; country: string; price: string; count: number }[] {
    return [...this.#rentStock].map(([k, v]) => ({
      ...splitKey(k),
      price: unitsToPrice(v.perHourUnits * hours),
      count: v.count,
    }));
  }

  /** Price and stock of an activation; `bad_service` when the pair has no stock entry. */
  quote(service: string, country: string): Result2<{ price: string; stock: number }> {
    this.tick();
    const s = this.#stock.get(key(service, country));
    return s ? ok({ price: s.price, stock: s.count }) : err({ type: "bad_service" });
  }

  /** Price of a rental of `hours` hours and stock; `bad_service` when the pair has no rent stock entry. */
  quoteRental(service: string, country: string, hours: number): Result2<{ price: string; stock: number }> {
    this.tick();
    const s = this.#rentStock.get(key(service, country));
    return s
      ? ok({ price: unitsToPrice(s.perHourUnits * hours), stock: s.count })
      : err({ type: "bad_service" });
  }

  /** Sells an activation: checks stock, price ceiling, balance and order id; decrements stock; charges. */
  buy(order: {
    service: string;
    country: string;
    maxPrice?: string | undefined;
    orderId?: string | null | undefined;
  }): Result2<UpstreamActivation> {
    this.tick();
    const s = this.#stock.get(key(order.service, order.country));
    if (!s) return err({ type: "bad_service" });
    if (s.count <= 0) return err({ type: "no_numbers" });
    if (order.maxPrice !== undefined && priceToUnits(order.maxPrice) < s.priceUnits) {
      return err({ type: "wrong_max_price", minPrice: s.price });
    }
    const orderId = this.supportsOrderId ? (order.orderId ?? null) : null;
    if (orderId !== null && this.#orders.has(orderId)) return err({ type: "order_exists" });
    if (this.#balanceUnits < s.priceUnits) return err({ type: "no_balance" });
    s.count -= 1;
    this.#balanceUnits -= s.priceUnits;
    if (orderId !== null) this.#orders.add(orderId);
    const now = this.clock.now();
    const a: MutableActivation = {
      id: this.#newId(),
      service: order.service,
      country: order.country,
      phone: this.#newPhone(),
      cost: s.price,
      orderId,
      issuedAtMs: now,
      endsAtMs: now + this.activationLifetimeMs,
      state: "waiting",
      codes: [],
      retryRequested: false,
      endedAtMs: null,
    };
    this.#activations.set(a.id, a);
    this.#scheduleCode(a);
    return ok({ ...a });
  }

  /** The activation, or `undefined`. */
  activation(id: string): UpstreamActivation | undefined {
    this.tick();
    const a = this.#activations.get(id);
    return a ? { ...a } : undefined;
  }

  /** Every activation sold, oldest first. */
  allActivations(): readonly UpstreamActivation[] {
    this.tick();
    return [...this.#activations.values()].map((a) => ({ ...a }));
  }

  /**
   * The status as the port sees it: `ended` for cancelled, finished and expired alike; a finished activation's
   * `ended` carries its newest code (as a V2 status shows it).
   */
  status(id: string): Result2<ActivationStatus> {
    this.tick();
    const a = this.#activations.get(id);
    if (!a) return err({ type: "no_activation" });
    const last = a.codes.at(-1);
    if (a.state !== "waiting" && a.state !== "code") {
      return ok(a.state === "finished" && last ? { state: "ended", code: last.code } : { state: "ended" });
    }
    if (!last) return ok({ state: "waiting" });
    if (a.retryRequested) return ok({ state: "waiting_retry", previousCode: last.code });
    return ok({ state: "code", code: last.code, text: last.text });
  }

  /** Asks for another code (free); allowed once a code arrived and while the activation is open. */
  requestAnotherCode(id: string): Result2<void> {
    this.tick();
    const a = this.#activations.get(id);
    if (!a) return err({ type: "no_activation" });
    if (a.state !== "waiting" && a.state !== "code") return err({ type: "not_active" });
    if (a.codes.length === 0) return err({ type: "bad_status" });
    a.retryRequested = true;
    return ok(undefined);
  }

  /** Cancels with a refund: refused after a code and inside the early-cancel window. */
  cancel(id: string): Result2<void> {
    this.tick();
    const a = this.#activations.get(id);
    if (!a) return err({ type: "no_activation" });
    if (a.state !== "waiting" && a.state !== "code") return err({ type: "not_active" });
    if (a.codes.length > 0) return err({ type: "code_received", codes: a.codes.map((c) => c.code) });
    const now = this.clock.now();
    const openAt = a.issuedAtMs + this.earlyCancelWindowMs;
    if (now < openAt) return err({ type: "early_cancel", retryAfterMs: openAt - now });
    this.#endActivation(a, "cancelled", now);
    return ok(undefined);
  }

  /** Finishes an activation after its code (the charge stands). */
  finish(id: string): Result2<void> {
    this.tick();
    const a = this.#activations.get(id);
    if (!a) return err({ type: "no_activation" });
    if (a.state !== "waiting" && a.state !== "code") return err({ type: "not_active" });
    if (a.codes.length === 0) return err({ type: "bad_status" });
    this.#endActivation(a, "finished", this.clock.now());
    return ok(undefined);
  }

  /** Open activations (waiting or with a code, before their deadline). */
  listActive(): readonly UpstreamActivation[] {
    return this.allActivations().filter((a) => a.state === "waiting" || a.state === "code");
  }

  /** Delivers a code (an SMS arriving upstream). Ignored after the activation ended. */
  deliverCode(id: string, code: string, text?: string): Result2<void> {
    this.tick();
    const a = this.#activations.get(id);
    if (!a) return err({ type: "no_activation" });
    if (a.state !== "waiting" && a.state !== "code") return err({ type: "not_active" });
    this.#scheduled.delete(id);
    this.#addCode(a, code, text ?? `Your code is ${code}`, this.clock.now());
    return ok(undefined);
  }

  /** Ends an activation upstream before its deadline: without a code it is refunded (`expired`), else finished. */
  endActivation(id: string): Result2<void> {
    this.tick();
    const a = this.#activations.get(id);
    if (!a) return err({ type: "no_activation" });
    if (a.state !== "waiting" && a.state !== "code") return err({ type: "not_active" });
    this.#endActivation(a, a.codes.length > 0 ? "finished" : "expired", this.clock.now());
    return ok(undefined);
  }

  /** Rents a number for `hours` hours. */
  rent(order: {
    service: string;
    country: string;
    hours: number;
    orderId?: string | null | undefined;
    webhookUrl?: string | null | undefined;
  }): Result2<UpstreamRental> {
    this.tick();
    const s = this.#rentStock.get(key(order.service, order.country));
    if (!s) return err({ type: "bad_service" });
    if (!Number.isInteger(order.hours) || order.hours < 1) return err({ type: "bad_status" });
    if (order.hours > this.maxRentHours) return err({ type: "max_hours_exceeded" });
    if (s.count <= 0) return err({ type: "no_numbers" });
    const costUnits = s.perHourUnits * order.hours;
    if (this.#balanceUnits < costUnits) return err({ type: "no_balance" });
    s.count -= 1;
    this.#balanceUnits -= costUnits;
    const now = this.clock.now();
    const r: MutableRental = {
      id: this.#newId(),
      service: order.service,
      country: order.country,
      phone: this.#newPhone(),
      pricePerHour: unitsToPrice(s.perHourUnits),
      cost: unitsToPrice(costUnits),
      orderId: order.orderId ?? null,
      startedAtMs: now,
      endsAtMs: now + order.hours * HOUR_MS,
      state: "active",
      messages: [],
      webhookUrl: order.webhookUrl ?? null,
    };
    this.#rentals.set(r.id, r);
    return ok({ ...r });
  }

  /** The rental, or `undefined`. */
  rental(id: string): UpstreamRental | undefined {
    this.tick();
    const r = this.#rentals.get(id);
    return r ? { ...r } : undefined;
  }

  /** Every rental, oldest first. */
  allRentals(): readonly UpstreamRental[] {
    this.tick();
    return [...this.#rentals.values()].map((r) => ({ ...r }));
  }

  /** Cancels a rental with a refund, only inside the refund window. */
  cancelRental(id: string): Result2<void> {
    this.tick();
    const r = this.#rentals.get(id);
    if (!r) return err({ type: "no_rent" });
    const ended = rentalEndError(r);
    if (ended) return err(ended);
    const now = this.clock.now();
    if (now >= r.startedAtMs + this.rentRefundWindowMs) return err({ type: "cant_cancel" });
    r.state = "cancelled";
    this.#balanceUnits += priceToUnits(r.cost);
    return ok(undefined);
  }

  /** Finishes a rental early (no refund). */
  finishRental(id: string): Result2<void> {
    this.tick();
    const r = this.#rentals.get(id);
    if (!r) return err({ type: "no_rent" });
    const ended = rentalEndError(r);
    if (ended) return err(ended);
    r.state = "finished";
    return ok(undefined);
  }

  /** Extends an active rental by `hours`; `rent_die` once it ended. */
  extendRental(id: string, hours: number): Result2<UpstreamRental & { readonly extensionCost: string }> {
    this.tick();
    const r = this.#rentals.get(id);
    if (!r) return err({ type: "no_rent" });
    if (r.state !== "active") return err({ type: "rent_die" });
    if (!Number.isInteger(hours) || hours < 1) return err({ type: "bad_status" });
    if (hours > this.maxRentHours) return err({ type: "max_hours_exceeded" });
    const costUnits = priceToUnits(r.pricePerHour) * hours;
    if (this.#balanceUnits < costUnits) return err({ type: "no_balance" });
    this.#balanceUnits -= costUnits;
    r.endsAtMs += hours * HOUR_MS;
    r.cost = unitsToPrice(priceToUnits(r.cost) + costUnits);
    return ok({ ...r, extensionCost: unitsToPrice(costUnits) });
  }

  /** Takes a rented number back before its end; the unused part is refunded. */
  revokeRental(id: string): Result2<void> {
    this.tick();
    const r = this.#rentals.get(id);
    if (!r) return err({ type: "no_rent" });
    const ended = rentalEndError(r);
    if (ended) return err(ended);
    r.state = "revoked";
    return ok(undefined);
  }

  /** Delivers an SMS to a rented number. */
  deliverRentalSms(id: string, sms: { from: string; text: string; service?: string }): Result2<void> {
    this.tick();
    const r = this.#rentals.get(id);
    if (!r) return err({ type: "no_rent" });
    if (r.state !== "active") return err({ type: "rent_die" });
    const message: RentalMessage = {
      from: sms.from,
      text: sms.text,
      service: sms.service ?? r.service,
      atMs: this.clock.now(),
    };
    r.messages = [...r.messages, message];
    this.#emit({ type: "rental_sms", rental: { ...r }, message });
    return ok(undefined);
  }

  /** Open rentals. */
  listActiveRentals(): readonly UpstreamRental[] {
    return this.allRentals().filter((r) => r.state === "active");
  }

  /** The port-level view of the activations sold. */
  views(): readonly FakeActivationView[] {
    return this.allActivations().map((a) => ({
      providerActivationId: a.id,
      service: a.service,
      country: a.country,
      state: a.state,
      codes: a.codes.map((c) => c.code),
      orderId: a.orderId,
    }));
  }

  /**
   * Applies what became due by now, in time order per activation: scheduled codes strictly before the deadline,
   * then deadlines (no code: auto-cancel with refund; a code: completed), then rental ends.
   */
  tick(): void {
    const now = this.clock.now();
    for (const [id, s] of this.#scheduled) {
      const a = this.#activations.get(id);
      // A scheduled code exists only while waiting; one due at or after the deadline never comes.
      if (a?.state !== "waiting" || s.atMs >= a.endsAtMs) {
        this.#scheduled.delete(id);
        continue;
      }
      if (s.atMs <= now) {
        this.#scheduled.delete(id);
        this.#addCode(a, s.code, `Your code is ${s.code}`, s.atMs);
      }
    }
    for (const a of this.#activations.values()) {
      if ((a.state === "waiting" || a.state === "code") && now >= a.endsAtMs) {
        this.#endActivation(a, a.codes.length > 0 ? "finished" : "expired", a.endsAtMs);
      }
    }
    for (const r of this.#rentals.values()) {
      if (r.state === "active" && now >= r.endsAtMs) r.state = "expired";
    }
  }

  #endActivation(a: MutableActivation, state: "cancelled" | "finished" | "expired", atMs: number): void {
    a.state = state;
    a.endedAtMs = atMs;
    a.retryRequested = false;
    this.#scheduled.delete(a.id);
    // Without a code the provider gives the reseller its money back (cancel, provider-side end, expiry).
    if (state !== "finished") this.#balanceUnits += priceToUnits(a.cost);
  }

  #addCode(a: MutableActivation, code: string, text: string, atMs: number): void {
    const c: UpstreamCode = { code, text, atMs };
    a.codes = [...a.codes, c];
    a.state = "code";
    a.retryRequested = false;
    this.#emit({ type: "code", activation: { ...a }, code: c });
  }

  #scheduleCode(a: MutableActivation): void {
    const model = this.#behaviour;
    const b = typeof model === "function" ? model(a.service, a.country) : model;
    if (!b) return;
    // Always draw both numbers so that one pair's behaviour does not shift another pair's sequence.
    const success = this.#random() < b.successRate;
    const delay = b.codeDelayMs[0] + Math.floor(this.#random() * (b.codeDelayMs[1] - b.codeDelayMs[0] + 1));
    const code = String(Math.floor(this.#random() * 1_000_000)).padStart(6, "0");
    if (success) this.#scheduled.set(a.id, { atMs: a.issuedAtMs + delay, code });
  }

  #emit(event: UpstreamEvent): void {
    for (const l of this.#listeners) l(event);
  }

  #newId(): string {
    const id = this.#nextId;
    this.#nextId += 1n;
    return String(id);
  }

  #newPhone(): string {
    this.#phoneSeq += 1;
    return `7999${String(this.#phoneSeq).padStart(7, "0")}`;
  }
}

function key(service: string, country: string): string {
  return `${service}\u0000${country}`;
}

function splitKey(k: string): { service: string; country: string } {
  const [service = "", country = ""] = k.split("\u0000");
  return { service, country };
}

function rentalEndError(r: UpstreamRental): UpstreamError | null {
  switch (r.state) {
    case "active":
      return null;
    case "cancelled":
      return { type: "already_cancelled" };
    default:
      return { type: "already_finished" };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The in-process fake provider.
// ---------------------------------------------------------------------------------------------------------------

/** Options of {@link createFakeProvider}. */
export interface FakeProviderOptions {
  /** The clock shared with the core under test; `advance` needs a {@link ManualClock} (the default). */
  readonly clock?: Clock;
  readonly capabilities?: Partial<ProviderCapabilities>;
  /** Seed of the behaviour model's PRNG. */
  readonly seed?: number;
  /** Automatic codes for a simulation; without it codes come only from `deliverCode`. */
  readonly behaviour?: BehaviourModel;
  /** Currency of quotes and costs (default `USD`). */
  readonly currency?: string;
  /** The reseller's upstream balance (default `"1000"`). */
  readonly balance?: string;
}

/** The in-process fake: a {@link Provider} and its {@link ProviderControl}, plus the upstream state for assertions. */
export interface FakeProvider {
  readonly provider: Provider;
  readonly control: ProviderControl;
  readonly upstream: FakeUpstream;
}

/** The default capabilities of the fake provider (the reference provider's timing rules). */
export const fakeProviderCapabilities: ProviderCapabilities = {
  name: "fake",
  earlyCancelWindowMs: 120_000,
  activationLifetimeMs: 20 * 60_000,
  rentRefundWindowMs: 20 * 60_000,
  supportsOrderId: true,
  supportsAnotherCode: true,
  supportsRent: true,
  rentHours: { min: 4, max: 1344 },
  extendHours: { min: 1, max: 1344 },
};

/** Maps an upstream refusal to the port's classification. */
export function upstreamErrorToFailure(e: UpstreamError): ProviderFailure {
  switch (e.type) {
    case "no_numbers":
      return { class: "declined", reason: "no_numbers" };
    case "wrong_max_price":
      return { class: "declined", reason: "price_too_low", minPrice: e.minPrice };
    case "bad_service":
      return { class: "declined", reason: "service_unavailable" };
    case "no_balance":
      return { class: "declined", reason: "no_balance" };
    case "order_exists":
      return { class: "declined", reason: "order_exists" };
    case "early_cancel":
      return { class: "declined", reason: "early_cancel", retryAfterMs: e.retryAfterMs };
    case "code_received":
      return { class: "declined", reason: "code_received", codes: e.codes };
    case "no_activation":
    case "no_rent":
      return { class: "declined", reason: "not_found" };
    case "not_active":
    case "bad_status":
    case "already_finished":
    case "already_cancelled":
      return { class: "declined", reason: "not_active", detail: e.type };
    case "cant_cancel":
      return { class: "declined", reason: "refund_window_passed" };
    case "rent_die":
      return { class: "declined", reason: "rent_expired" };
    case "max_hours_exceeded":
      return { class: "declined", reason: "max_hours_exceeded" };
  }
}

/**
 * Creates the in-process fake provider: deterministic, no I/O, driven by the given clock. Faults queued with
 * `control.injectFault` apply to the next matching calls.
 */
export function createFakeProvider(options: FakeProviderOptions = {}): FakeProvider {
  const capabilities: ProviderCapabilities = { ...fakeProviderCapabilities, ...options.capabilities };
  const upstream = new FakeUpstream({
    clock: options.clock ?? new ManualClock(),
    earlyCancelWindowMs: capabilities.earlyCancelWindowMs,
    activationLifetimeMs: capabilities.activationLifetimeMs,
    rentRefundWindowMs: capabilities.rentRefundWindowMs,
    supportsOrderId: capabilities.supportsOrderId,
    ...(options.seed === undefined ? {} : { seed: options.seed }),
    ...(options.behaviour === undefined ? {} : { behaviour: options.behaviour }),
    ...(options.balance === undefined ? {} : { balance: options.balance }),
  });
  const currency = options.currency ?? "USD";
  const faults = new FaultQueue();

  /** Runs `work` under the first queued fault for `action`, if any. */
  function withFault<T>(
    action: FaultAction,
    work: () => ProviderResult<T>,
    context: { service?: string; country?: string; activationId?: string } = {},
  ): ProviderResult<T> {
    upstream.tick();
    const fault = faults.take(action);
    if (!fault) return work();
    switch (fault.kind) {
      case "no_numbers":
        return err({ class: "declined", reason: "no_numbers" });
      case "banned":
        return err({ class: "declined", reason: "banned", untilMs: upstream.now() + HOUR_MS });
      case "price_too_low": {
        const q =
          context.service !== undefined && context.country !== undefined
            ? upstream.quote(context.service, context.country)
            : undefined;
        const minPrice = q?.isOk() ? unitsToPrice(priceToUnits(q.value.price) + 100) : "1";
        return err({ class: "declined", reason: "price_too_low", minPrice });
      }
      case "service_unavailable":
        return err({ class: "declined", reason: "service_unavailable" });
      case "retryable":
        return err({ class: "retryable", reason: "rate_limited", retryAfterMs: 1000 });
      case "fatal":
        return err({ class: "fatal", reason: "bad_key" });
      case "unknown_before":
        return err({
          class: "unknown",
          reason: "timeout",
          detail: "answer lost before the call was processed",
        });
      case "unknown_after_success": {
        work();
        return err({
          class: "unknown",
          reason: "timeout",
          detail: "answer lost after the call was processed",
        });
      }
      case "code_during_cancel": {
        if (context.activationId !== undefined) {
          upstream.deliverCode(context.activationId, fault.code ?? "424242");
        }
        return work();
      }
    }
  }

  const fromUpstream = <T, U>(r: Result<T, UpstreamError>, map: (t: T) => U): ProviderResult<U> =>
    r.map(map).mapErr(upstreamErrorToFailure);

  const provider: Provider = {
    capabilities,
    quote: async ({ service, country }) =>
      withFault(
        "quote",
        () => fromUpstream(upstream.quote(service, country), (q): Quote => ({ ...q, currency })),
        { service, country },
      ),
    buyActivation: async (order) =>
      withFault(
        "buyActivation",
        () =>
          fromUpstream(
            upstream.buy({
              service: order.service,
              country: order.country,
              maxPrice: order.maxPrice,
              orderId: order.orderId,
            }),
            (a): IssuedActivation => ({
              providerActivationId: a.id,
              phone: a.phone,
              cost: a.cost,
              currency,
              endsAtMs: a.endsAtMs,
              canGetAnotherSms: capabilities.supportsAnotherCode,
            }),
          ),
        { service: order.service, country: order.country },
      ),
    getActivationStatus: async (id) =>
      withFault("getActivationStatus", () => fromUpstream(upstream.status(id), (s) => s)),
    requestAnotherCode: async (id) =>
      withFault("requestAnotherCode", () => fromUpstream(upstream.requestAnotherCode(id), () => undefined)),
    cancelActivation: async (id) =>
      withFault("cancelActivation", () => fromUpstream(upstream.cancel(id), () => undefined), {
        activationId: id,
      }),
    finishActivation: async (id) =>
      withFault("finishActivation", () => fromUpstream(upstream.finish(id), () => undefined)),
    listActiveActivations: async () =>
      withFault("listActiveActivations", () =>
        ok(
          upstream.listActive().map(
            (a): ActiveActivation => ({
              providerActivationId: a.id,
              service: a.service,
              country: a.country,
              phone: a.phone,
              orderId: a.orderId,
              codes: a.codes.map((c) => c.code),
              cost: a.cost,
              createdAtMs: a.issuedAtMs,
              endsAtMs: a.endsAtMs,
            }),
          ),
        ),
      ),
    quoteRental: async ({ service, country, hours }) =>
      withFault(
        "quoteRental",
        () => fromUpstream(upstream.quoteRental(service, country, hours), (q): Quote => ({ ...q, currency })),
        { service, country },
      ),
    rent: async (order) =>
      withFault(
        "rent",
        () =>
          fromUpstream(
            upstream.rent({
              service: order.service,
              country: order.country,
              hours: order.hours,
              orderId: order.orderId,
              webhookUrl: order.webhookUrl,
            }),
            (r): IssuedRental => ({
              providerRentalId: r.id,
              phone: r.phone,
              endsAtMs: r.endsAtMs,
              cost: r.cost,
              currency,
            }),
          ),
        { service: order.service, country: order.country },
      ),
    getRentalStatus: async (id) =>
      withFault("getRentalStatus", () => {
        const r = upstream.rental(id);
        if (!r) return err({ class: "declined", reason: "not_found" });
        return ok<RentalStatus>({
          state: rentalPortState(r.state),
          endsAtMs: r.endsAtMs,
          messages: r.messages,
        });
      }),
    extendRental: async (id, hours) =>
      withFault("extendRental", () =>
        fromUpstream(
          upstream.extendRental(id, hours),
          (r): ExtendedRental => ({ endsAtMs: r.endsAtMs, cost: r.extensionCost, providerRentalId: r.id }),
        ),
      ),
    cancelRental: async (id) =>
      withFault("cancelRental", () => fromUpstream(upstream.cancelRental(id), () => undefined)),
    finishRental: async (id) =>
      withFault("finishRental", () => fromUpstream(upstream.finishRental(id), () => undefined)),
    listActiveRentals: async () =>
      withFault("listActiveRentals", () =>
        ok(
          upstream.listActiveRentals().map(
            (r): ActiveRental => ({
              providerRentalId: r.id,
              phone: r.phone,
              service: r.service,
              country: r.country,
              endsAtMs: r.endsAtMs,
            }),
          ),
        ),
      ),
  };

  const control: ProviderControl = {
    now: () => upstream.now(),
    advance: (ms) => upstream.advance(ms),
    setStock: (service, country, stock) => upstream.setStock(service, country, stock),
    setRentStock: (service, country, stock) => upstream.setRentStock(service, country, stock),
    deliverCode: (id, code, text) => {
      upstream.deliverCode(id, code, text).match(
        () => undefined,
        (e) => {
          throw new Error(`deliverCode(${id}) refused: ${e.type}`);
        },
      );
    },
    deliverRentalSms: (id, sms) => {
      upstream.deliverRentalSms(id, sms).match(
        () => undefined,
        (e) => {
          throw new Error(`deliverRentalSms(${id}) refused: ${e.type}`);
        },
      );
    },
    endActivation: (id) => {
      upstream.endActivation(id).match(
        () => undefined,
        (e) => {
          throw new Error(`endActivation(${id}) refused: ${e.type}`);
        },
      );
    },
    revokeRental: (id) => {
      upstream.revokeRental(id).match(
        () => undefined,
        (e) => {
          throw new Error(`revokeRental(${id}) refused: ${e.type}`);
        },
      );
    },
    injectFault: (fault) => faults.add(fault),
    clearFaults: () => faults.clear(),
    activations: () => upstream.views(),
  };

  return { provider, control, upstream };
}

/** The port's view of an upstream rental state (a natural end is `finished`). */
export function rentalPortState(state: UpstreamRental["state"]): RentalStatus["state"] {
  return state === "expired" ? "finished" : state;
}

/** A queue of injected faults, matched by action, each consumed `times` times. */
export class FaultQueue {
  readonly #faults: { spec: FaultSpec; left: number }[] = [];

  /** Queues a fault. */
  add(spec: FaultSpec): void {
    this.#faults.push({ spec, left: spec.times ?? 1 });
  }

  /** Removes all faults. */
  clear(): void {
    this.#faults.length = 0;
  }

  /** Consumes one use of the first fault queued for `action`. */
  take(action: FaultAction): FaultSpec | undefined {
    const i = this.#faults.findIndex((f) => f.spec.action === action);
    const f = this.#faults[i];
    if (!f) return undefined;
    f.left -= 1;
    if (f.left <= 0) this.#faults.splice(i, 1);
    return f.spec;
  }
}
