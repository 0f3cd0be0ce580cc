import { err, ok } from "neverthrow";
import type {
  ActivationStatus,
  ActiveActivation,
  ActiveRental,
  ExtendedRental,
  IssuedActivation,
  IssuedRental,
  ProviderCapabilities,
  ProviderFailure,
  ProviderResult,
  Quote,
  RentalStatus,
} from "../../src/provider/port.js";
import type { FaultRates } from "./faults.js";
import { TimerHeap } from "./heap.js";
import type { Rng } from "./rng.js";
import type { Coverage, World } from "./world.js";

const MINUTE = 60_000;
const HOUR = 3_600_000;

/** The simulated provider's timing rules (those of the reference provider). */
export function simCapabilities(name: string): ProviderCapabilities {
  return {
    name,
    earlyCancelWindowMs: 2 * MINUTE,
    activationLifetimeMs: 20 * MINUTE,
    rentRefundWindowMs: 20 * MINUTE,
    supportsOrderId: true,
    supportsAnotherCode: true,
    supportsRent: true,
    rentHours: { min: 4, max: 1344 },
    extendHours: { min: 1, max: 1344 },
  };
}

/** An activation as the provider keeps it. */
export interface UpActivation {
  readonly id: string;
  readonly orderId: string;
  readonly service: string;
  readonly country: string;
  readonly phone: string;
  readonly costMinor: number;
  readonly createdAtMs: number;
  readonly endsAtMs: number;
  status: "waiting" | "code" | "retry" | "cancelled" | "finished" | "expired";
  readonly codes: string[];
  nextCodeAtMs: number | null;
  /** When the first code arrived (provider time). */
  codeAtMs: number | null;
  /** Refunded to the platform (cancelled or expired without a code). */
  refunded: boolean;
}

/** A rental as the provider keeps it. */
export interface UpRental {
  readonly id: string;
  readonly orderId: string;
  readonly service: string;
  readonly country: string;
  readonly phone: string;
  readonly startedAtMs: number;
  endsAtMs: number;
  status: "active" | "finished" | "cancelled" | "revoked";
  /** Hours of each period the provider granted (the first one and each extension). */
  readonly periods: number[];
  endedAtMs: number | null;
  /** Who ended it. */
  endedBy: "customer" | "provider" | "time" | null;
}

const declined = (reason: Extract<ProviderFailure, { class: "declined" }>["reason"], extra = {}) =>
  err<never, ProviderFailure>({ class: "declined", reason, ...extra });

/** Where a webhook goes: a code delivered to some process of this provider. */
export type WebhookSink = (providerActivationId: string, code: string, receivedAtMs: number) => void;

/**
 * The simulated upstream: the provider's own state, decided from its own clock (ours plus a skew). Every call is
 * O(1) by id, or O(log n) amortized for the active lists (ended records leave them through a heap by end time),
 * so the upstream never scans its history. It acts on its own through world timers (codes, expiries, provider-side
 * cancels and revocations). Synchronous: the per-process link adds latency, faults and crash points.
 */
export class SimUpstream {
  readonly capabilities: ProviderCapabilities;
  readonly activations = new Map<string, UpActivation>();
  readonly rentals = new Map<string, UpRental>();
  private readonly activeActivations = new Map<string, UpActivation>();
  private readonly activeRentals = new Map<string, UpRental>();
  private readonly activationEnds = new TimerHeap();
  private readonly rentalEnds = new TimerHeap();
  private seq = 0;
  private heapSeq = 0;
  private readonly stock = new Map<string, number>();
  private readonly basePrice = new Map<string, number>();
  skewMs = 0;

  constructor(
    readonly name: string,
    private readonly world: World,
    private readonly rng: Rng,
    private readonly rates: () => FaultRates,
    private readonly coverage: Coverage,
    private readonly webhook: WebhookSink,
    readonly rentListWithoutService: boolean,
  ) {
    this.capabilities = simCapabilities(name);
    for (const [key, cents] of [
      ["tg/6", 50],
      ["wa/0", 125],
      ["rent:tg/6", 10],
    ] as const) {
      this.basePrice.set(key, cents);
      this.stock.set(key, 1_000_000);
    }
  }

  /** The provider's clock. */
  now(): number {
    return this.world.nowMs + this.skewMs;
  }

  private price(key: string): number {
    const base = this.basePrice.get(key) ?? 0;
    if (!this.rng.chance(this.rates().priceChange)) return base;
    this.coverage.hit("fault.priceChange");
    return Math.max(1, base + this.rng.int(-base / 2, base));
  }

  private inStock(key: string): boolean {
    if (this.rng.chance(this.rates().stockOut)) {
      this.coverage.hit("fault.stockOut");
      return false;
    }
    return (this.stock.get(key) ?? 0) > 0;
  }

  private decimal(cents: number): string {
    return (cents / 100).toFixed(2);
  }

  quote(q: { service: string; country: string }): ProviderResult<Quote> {
    const key = `${q.service}/${q.country}`;
    if (!this.basePrice.has(key)) return declined("service_unavailable");
    const stock = this.inStock(key) ? (this.stock.get(key) ?? 0) : 0;
    return ok({ price: this.decimal(this.basePrice.get(key) ?? 0), currency: "USD", stock });
  }

  buyActivation(o: { service: string; country: string; maxPrice?: string; orderId: string }) {
    const key = `${o.service}/${o.country}`;
    if (!this.basePrice.has(key)) return declined("service_unavailable");
    if (!this.inStock(key)) return declined("no_numbers");
    const cents = this.price(key);
    if (o.maxPrice !== undefined && cents > Math.round(Number(o.maxPrice) * 100)) {
      return declined("price_too_low", { minPrice: this.decimal(cents) });
    }
    const t = this.now();
    const id = `${this.name}-a${++this.seq}`;
    const lifetime = this.capabilities.activationLifetimeMs;
    // Most numbers get a code, at a time spread over the lifetime; some never do.
    const codeAt = this.rng.chance(0.7) ? t + this.rng.int(5_000, lifetime + 5 * MINUTE) : null;
    const a: UpActivation = {
      id,
      orderId: o.orderId,
      service: o.service,
      country: o.country,
      phone: `+${this.seq}`,
      costMinor: cents,
      createdAtMs: t,
      endsAtMs: t + lifetime,
      status: "waiting",
      codes: [],
      nextCodeAtMs: codeAt,
      codeAtMs: null,
      refunded: false,
    };
    this.activations.set(id, a);
    this.activeActivations.set(id, a);
    this.activationEnds.push({ atMs: a.endsAtMs, seq: this.heapSeq++, fire: () => {} });
    this.endIndex.set(this.heapSeq - 1, id);
    if (codeAt !== null) this.scheduleCode(a, codeAt);
    if (this.rng.chance(this.rates().upstreamCancelsActivation)) {
      this.world.at(t - this.skewMs + this.rng.int(MINUTE, lifetime), () => {
        this.refresh(a);
        if ((a.status === "waiting" || a.status === "retry") && a.codes.length === 0) {
          a.status = "cancelled";
          a.refunded = true;
          this.activeActivations.delete(a.id);
          this.coverage.hit("fault.upstreamCancelsActivation");
        }
      });
    }
    return ok<IssuedActivation, ProviderFailure>({
      providerActivationId: id,
      phone: a.phone,
      cost: this.decimal(cents),
      currency: "USD",
      endsAtMs: a.endsAtMs,
      canGetAnotherSms: true,
    });
  }

  private readonly endIndex = new Map<number, string>();

  private scheduleCode(a: UpActivation, codeAtMs: number): void {
    // The webhook leaves when the code arrives (on our clock), sometimes late, sometimes twice.
    const rates = this.rates();
    const late = this.rng.chance(rates.lateWebhook);
    const delay = late ? this.rng.int(20 * MINUTE, 40 * MINUTE) : this.rng.int(50, 3_000);
    const deliver = (duplicate: boolean) => () => {
      this.refresh(a);
      const code = a.codes[a.codes.length - 1];
      if (code === undefined) return;
      if (late) this.coverage.hit("fault.lateWebhook");
      if (duplicate) this.coverage.hit("fault.duplicateWebhook");
      this.webhook(a.id, code, codeAtMs);
    };
    this.world.at(codeAtMs - this.skewMs + delay, deliver(false));
    if (this.rng.chance(rates.duplicateWebhook)) {
      this.world.at(codeAtMs - this.skewMs + delay + this.rng.int(0, 10_000), deliver(true));
    }
  }

  private endsWithCode(): boolean {
    return this.rates().upstreamEndsWithCode > 0;
  }

  /** Advances one activation to the provider's now: a due code arrives, the lifetime ends. */
  refresh(a: UpActivation): void {
    const t = this.now();
    if ((a.status === "waiting" || a.status === "retry") && a.nextCodeAtMs !== null && a.nextCodeAtMs <= t) {
      if (a.nextCodeAtMs < a.endsAtMs) {
        a.codes.push(`${a.id.length}${a.codes.length}${this.seq % 997}`);
        a.codeAtMs ??= a.nextCodeAtMs;
        a.status = "code";
      }
      a.nextCodeAtMs = null;
    }
    if ((a.status === "waiting" || a.status === "retry" || a.status === "code") && t >= a.endsAtMs) {
      a.status = a.codes.length === 0 ? "expired" : "finished";
      a.refunded = a.codes.length === 0;
      this.activeActivations.delete(a.id);
    }
  }

  getActivationStatus(id: string): ProviderResult<ActivationStatus> {
    const a = this.activations.get(id);
    if (a === undefined) return declined("not_found");
    this.refresh(a);
    switch (a.status) {
      case "waiting":
        return ok({ state: "waiting" });
      case "retry":
        return ok({ state: "waiting_retry", previousCode: a.codes[a.codes.length - 1] ?? "" });
      case "code":
        return ok({ state: "code", code: a.codes[a.codes.length - 1] ?? "", text: null });
      case "finished":
        // Past its lifetime a completed activation still shows its code, unless this seed's provider says `ended`
        // (as SMS-Activate's `getStatus` does): then, as its `getStatusV2` does, the ended status carries the code.
        if (a.codes.length > 0 && !this.endsWithCode()) {
          return ok({ state: "code", code: a.codes[a.codes.length - 1] ?? "", text: null });
        }
        if (a.codes.length > 0) {
          this.coverage.hit("fault.upstreamEndsWithCode");
          return ok({ state: "ended", code: a.codes[a.codes.length - 1] ?? "" });
        }
        return ok({ state: "ended" });
      default:
        return ok({ state: "ended" });
    }
  }

  requestAnotherCode(id: string): ProviderResult<void> {
    const a = this.activations.get(id);
    if (a === undefined) return declined("not_found");
    this.refresh(a);
    if (a.status !== "code") return declined("not_active");
    a.status = "retry";
    if (this.rng.chance(0.5)) {
      a.nextCodeAtMs = this.now() + this.rng.int(5_000, 5 * MINUTE);
      this.scheduleCode(a, a.nextCodeAtMs);
    }
    return ok(undefined);
  }

  cancelActivation(id: string): ProviderResult<void> {
    const a = this.activations.get(id);
    if (a === undefined) return declined("not_found");
    if (
      (a.status === "waiting" || a.status === "retry") &&
      a.codes.length === 0 &&
      this.rng.chance(this.rates().codeDuringCancel)
    ) {
      // The code reached the provider while our cancel was on its way.
      this.coverage.hit("fault.codeDuringCancel");
      a.nextCodeAtMs = this.now();
      this.scheduleCode(a, a.nextCodeAtMs);
    }
    this.refresh(a);
    if (a.status === "cancelled" || a.status === "finished" || a.status === "expired")
      return declined("not_active");
    if (a.codes.length > 0) return declined("code_received", { codes: [...a.codes] });
    const wait = a.createdAtMs + this.capabilities.earlyCancelWindowMs - this.now();
    if (wait > 0) return declined("early_cancel", { retryAfterMs: wait });
    a.status = "cancelled";
    a.refunded = true;
    this.activeActivations.delete(a.id);
    return ok(undefined);
  }

  finishActivation(id: string): ProviderResult<void> {
    const a = this.activations.get(id);
    if (a === undefined) return declined("not_found");
    this.refresh(a);
    if (a.status === "finished") return ok(undefined);
    if (a.codes.length === 0 || a.status === "cancelled" || a.status === "expired")
      return declined("not_active");
    a.status = "finished";
    this.activeActivations.delete(a.id);
    return ok(undefined);
  }

  private expireDue(heap: TimerHeap, purge: (seq: number) => void): void {
    const t = this.now();
    for (let top = heap.peek(); top !== undefined && top.atMs <= t; top = heap.peek()) {
      heap.pop();
      purge(top.seq);
    }
  }

  listActiveActivations(): ProviderResult<readonly ActiveActivation[]> {
    this.expireDue(this.activationEnds, (seq) => {
      const id = this.endIndex.get(seq);
      this.endIndex.delete(seq);
      const a = id === undefined ? undefined : this.activations.get(id);
      if (a !== undefined) this.refresh(a);
    });
    const out: ActiveActivation[] = [];
    for (const a of this.activeActivations.values()) {
      this.refresh(a);
      if (!this.activeActivations.has(a.id)) continue;
      out.push({
        providerActivationId: a.id,
        service: a.service,
        country: a.country,
        phone: a.phone,
        orderId: a.orderId,
        codes: [...a.codes],
        cost: this.decimal(a.costMinor),
        createdAtMs: a.createdAtMs,
        endsAtMs: a.endsAtMs,
      });
    }
    return ok(out);
  }

  quoteRental(q: { service: string; country: string; hours: number }): ProviderResult<Quote> {
    const key = `rent:${q.service}/${q.country}`;
    if (!this.basePrice.has(key)) return declined("service_unavailable");
    const stock = this.inStock(key) ? 1_000 : 0;
    return ok({ price: this.decimal((this.basePrice.get(key) ?? 0) * q.hours), currency: "USD", stock });
  }

  rent(o: {
    service: string;
    country: string;
    hours: number;
    orderId: string;
  }): ProviderResult<IssuedRental> {
    const key = `rent:${o.service}/${o.country}`;
    if (!this.basePrice.has(key)) return declined("service_unavailable");
    if (o.hours < this.capabilities.rentHours.min || o.hours > this.capabilities.rentHours.max)
      return declined("invalid_duration");
    if (!this.inStock(key)) return declined("no_numbers");
    const t = this.now();
    const id = `${this.name}-r${++this.seq}`;
    const r: UpRental = {
      id,
      orderId: o.orderId,
      service: o.service,
      country: o.country,
      phone: `+r${this.seq}`,
      startedAtMs: t,
      endsAtMs: t + o.hours * HOUR,
      status: "active",
      periods: [o.hours],
      endedAtMs: null,
      endedBy: null,
    };
    this.rentals.set(id, r);
    this.activeRentals.set(id, r);
    this.pushRentalEnd(r);
    const rates = this.rates();
    const ownEnd = (
      kind: "upstreamRevokesRental" | "upstreamFinishesRental" | "upstreamCancelsRental",
      status: UpRental["status"],
      withinMs: number,
    ) => {
      if (!this.rng.chance(rates[kind])) return;
      this.world.at(t - this.skewMs + this.rng.int(MINUTE, withinMs), () => {
        this.refreshRental(r);
        if (r.status !== "active") return;
        r.status = status;
        r.endedAtMs = this.now();
        r.endedBy = "provider";
        this.activeRentals.delete(r.id);
        this.coverage.hit(`fault.${kind}`);
      });
    };
    ownEnd("upstreamRevokesRental", "revoked", o.hours * HOUR);
    ownEnd("upstreamFinishesRental", "finished", o.hours * HOUR);
    ownEnd("upstreamCancelsRental", "cancelled", this.capabilities.rentRefundWindowMs);
    return ok({ providerRentalId: id, phone: r.phone, endsAtMs: r.endsAtMs, cost: null, currency: "USD" });
  }

  private readonly rentalEndIndex = new Map<number, string>();

  private pushRentalEnd(r: UpRental): void {
    const seq = this.heapSeq++;
    this.rentalEndIndex.set(seq, r.id);
    this.rentalEnds.push({ atMs: r.endsAtMs, seq, fire: () => {} });
  }

  /** Advances one rental to the provider's now: past its end it is finished. */
  refreshRental(r: UpRental): void {
    if (r.status === "active" && this.now() >= r.endsAtMs) {
      r.status = "finished";
      r.endedAtMs = r.endsAtMs;
      r.endedBy = "time";
      this.activeRentals.delete(r.id);
    }
  }

  getRentalStatus(id: string): ProviderResult<RentalStatus> {
    const r = this.rentals.get(id);
    if (r === undefined) return declined("not_found");
    this.refreshRental(r);
    return ok({ state: r.status, endsAtMs: r.endsAtMs, messages: [] });
  }

  extendRental(id: string, hours: number): ProviderResult<ExtendedRental> {
    const r = this.rentals.get(id);
    if (r === undefined) return declined("not_found");
    this.refreshRental(r);
    if (r.status !== "active") return declined("rent_expired");
    if (hours < this.capabilities.extendHours.min || hours > this.capabilities.extendHours.max)
      return declined("invalid_duration");
    r.endsAtMs += hours * HOUR;
    r.periods.push(hours);
    this.pushRentalEnd(r);
    return ok({ endsAtMs: r.endsAtMs, cost: null, providerRentalId: r.id });
  }

  cancelRental(id: string): ProviderResult<void> {
    const r = this.rentals.get(id);
    if (r === undefined) return declined("not_found");
    this.refreshRental(r);
    if (r.status !== "active") return declined("not_active");
    if (this.now() > r.startedAtMs + this.capabilities.rentRefundWindowMs)
      return declined("refund_window_passed");
    r.status = "cancelled";
    r.endedAtMs = this.now();
    r.endedBy = "customer";
    this.activeRentals.delete(r.id);
    return ok(undefined);
  }

  finishRental(id: string): ProviderResult<void> {
    const r = this.rentals.get(id);
    if (r === undefined) return declined("not_found");
    this.refreshRental(r);
    if (r.status !== "active") return declined("not_active");
    r.status = "finished";
    r.endedAtMs = this.now();
    r.endedBy = "customer";
    this.activeRentals.delete(r.id);
    return ok(undefined);
  }

  listActiveRentals(): ProviderResult<readonly ActiveRental[]> {
    this.expireDue(this.rentalEnds, (seq) => {
      const id = this.rentalEndIndex.get(seq);
      this.rentalEndIndex.delete(seq);
      const r = id === undefined ? undefined : this.rentals.get(id);
      if (r !== undefined) this.refreshRental(r);
    });
    const out: ActiveRental[] = [];
    for (const r of this.activeRentals.values()) {
      out.push({
        providerRentalId: r.id,
        phone: r.phone,
        service: this.rentListWithoutService ? null : r.service,
        country: this.rentListWithoutService ? null : r.country,
        endsAtMs: r.endsAtMs,
      });
    }
    return ok(out);
  }
}
