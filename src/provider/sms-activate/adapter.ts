import { err, ok } from "neverthrow";
import type * as z from "zod";
import { type Clock, systemClock } from "../../core/clock.js";
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
} from "../port.js";
import { type ParsedBody, parseProviderDate } from "./parse.js";
import {
  NUMERIC_CURRENCIES,
  type SmsActivateFeatures,
  type SmsActivatePresetName,
  smsActivatePresets,
} from "./presets.js";
import {
  activeActivationsSchema,
  codeSchema,
  idSchema,
  isStorableText,
  MAX_CODE_LENGTH,
  numberV2Schema,
  phoneSchema,
  pricesSchema,
  rentListSchema,
  rentOkSchema,
  rentPhoneSchema,
  rentServicesSchema,
  rentStatusSchema,
  rentV2Schema,
  statusV2Schema,
} from "./schemas.js";
import { sleep, systemTimer, type Timer } from "./timer.js";
import { classifyErrorToken } from "./tokens.js";
import {
  type Attempt,
  attempt,
  excerpt,
  type FetchLike,
  type SmsActivateEvent,
  type TransportConfig,
} from "./transport.js";

/** Bounded retries of calls that are not purchases. */
export interface RetryOptions {
  /** Attempts in total, including the first (default 3). Purchases always make exactly one. */
  readonly attempts?: number;
  /** First backoff delay, doubled per attempt (default 250 ms). */
  readonly baseDelayMs?: number;
  /** Longest wait between attempts; a longer Retry-After is returned to the caller instead (default 10 s). */
  readonly maxDelayMs?: number;
}

/** Options of {@link createSmsActivateProvider}. */
export interface SmsActivateOptions {
  readonly apiKey: string;
  /** Defaults of a known provider (default `generic`). */
  readonly preset?: SmsActivatePresetName;
  /** The `handler_api.php` URL; required unless the preset has one. */
  readonly baseUrl?: string;
  readonly fetch?: FetchLike;
  /** Per attempt, including reading the body (default 15 s). */
  readonly timeoutMs?: number;
  readonly capabilities?: Partial<ProviderCapabilities>;
  readonly features?: Partial<SmsActivateFeatures>;
  /** Drives timeouts and retry delays; tests pass a `ManualTimer`. */
  readonly timer?: Timer;
  /** The source of "now" for deadlines and Retry-After dates. */
  readonly clock?: Clock;
  readonly retry?: RetryOptions;
  /** Currency of prices, when the provider does not say (default from the preset). */
  readonly currency?: string;
  /** Zone of the provider's zone-less dates, minutes east of UTC (default from the preset). */
  readonly dateZoneOffsetMinutes?: number;
  /** Called after every HTTP attempt, with no URL, key or body in it. */
  readonly onEvent?: (event: SmsActivateEvent) => void;
  /** Most bytes of an answer read, after decompression (default 1 MiB); a longer one is a lost answer. */
  readonly maxBodyBytes?: number;
}

/** The adapter: the {@link Provider} port plus the protocol's reads that the port does not need. */
export interface SmsActivateProvider extends Provider {
  /** The reseller's upstream balance (`ACCESS_BALANCE`), decimal in the provider's currency. */
  getBalance(): Promise<ProviderResult<string>>;
}

type CallKind = "purchase" | "mutation" | "read";
type AnswerAttempt = Extract<Attempt, { type: "answer" }>;
type Interpretation<T> =
  | { readonly type: "ok"; readonly value: T }
  | { readonly type: "failure"; readonly failure: ProviderFailure }
  | { readonly type: "server_error"; readonly token: string }
  | { readonly type: "rate_limit"; readonly retryAfterMs: number }
  | { readonly type: "unexpected"; readonly detail: string; readonly garbled?: boolean };

/**
 * A success decoder: a value, `undefined` when the body is not this action's success answer, or
 * {@link GARBLED} when it is, but carries a value that cannot be stored (an 8 KB id, a NUL in a code).
 */
type Decode<T> = (body: ParsedBody) => T | undefined | typeof GARBLED;

/** A decoder's verdict: the answer has this action's shape but an unusable value. */
const GARBLED: unique symbol = Symbol("garbled");

/** A provider id from a token line, or `null` when it is not a valid one. */
function tokenId(raw: string): string | null {
  const r = idSchema.safeParse(raw);
  return r.success && /^\d+$/.test(r.data) ? r.data : null;
}

/** A bought number from a token line, or `null` (a masked number is not one). */
function tokenPhone(raw: string): string | null {
  const r = phoneSchema.safeParse(raw);
  return r.success ? r.data : null;
}

/** A code from a token line, or `null` when it cannot be stored. */
function tokenCode(raw: string): string | null {
  const r = codeSchema.safeParse(raw);
  return r.success ? r.data : null;
}

/** True when `key` is an own property of `o` (never a member of `Object.prototype`). */
function own<V>(o: Readonly<Record<string, V>>, key: string): V | undefined {
  return Object.hasOwn(o, key) ? o[key] : undefined;
}

const HOUR_MS = 3_600_000;
const MEMO_LIMIT = 10_000;

/** Whether a JSON value looks like an active list whose rows failed validation (never "none open"). */
function isListShaped(v: unknown): boolean {
  return v !== null && typeof v === "object" && ("data" in v || "activeActivations" in v);
}

/** Remembers a bounded number of entries (oldest evicted first). */
class Memo<V> {
  readonly #map = new Map<string, V>();
  get(k: string): V | undefined {
    return this.#map.get(k);
  }
  set(k: string, v: V): void {
    this.#map.delete(k);
    this.#map.set(k, v);
    if (this.#map.size > MEMO_LIMIT) {
      const first = this.#map.keys().next().value;
      if (first !== undefined) this.#map.delete(first);
    }
  }
}

function decodeJson<S extends z.ZodType>(schema: S, body: ParsedBody): z.output<S> | undefined {
  if (body.kind !== "json") return undefined;
  const r = schema.safeParse(body.value);
  return r.success ? r.data : undefined;
}

/** Whether the provider's success shape is there but one of its values failed validation. */
function garbledJson(keys: readonly string[], body: ParsedBody): boolean {
  if (body.kind !== "json" || body.value === null || typeof body.value !== "object") return false;
  return keys.every((k) => Object.hasOwn(body.value as object, k));
}

function isToken(body: ParsedBody, token: string): body is Extract<ParsedBody, { kind: "token" }> {
  return body.kind === "token" && body.token === token;
}

/** The answer's token in either form: a text token line or an error envelope. */
function tokenOf(body: ParsedBody): { token: string; data: string | null } | null {
  return body.kind === "token" || body.kind === "error" ? { token: body.token, data: body.data } : null;
}

/**
 * Creates the adapter for the SMS-Activate `handler_api` protocol family (HeroSMS and compatible shops) over
 * `fetch`. A purchase (`getNumberV2`, `getNumber`, `getRentNumber`) whose answer is lost is `unknown` and never
 * retried; other calls retry with bounded backoff and honour Retry-After. The key never leaves in an error.
 */
export function createSmsActivateProvider(options: SmsActivateOptions): SmsActivateProvider {
  const preset = smsActivatePresets[options.preset ?? "generic"];
  const baseUrl = options.baseUrl ?? preset.baseUrl;
  if (baseUrl === null) throw new TypeError("createSmsActivateProvider: baseUrl is required for this preset");
  const capabilities: ProviderCapabilities = { ...preset.capabilities, ...options.capabilities };
  const features: SmsActivateFeatures = { ...preset.features, ...options.features };
  const currency = options.currency ?? preset.currency;
  const zone = options.dateZoneOffsetMinutes ?? preset.dateZoneOffsetMinutes;
  const clock = options.clock ?? systemClock;
  const timer = options.timer ?? systemTimer;
  const retry = {
    attempts: Math.max(1, options.retry?.attempts ?? 3),
    baseDelayMs: options.retry?.baseDelayMs ?? 250,
    maxDelayMs: options.retry?.maxDelayMs ?? 10_000,
  };
  const fetchImpl: FetchLike = options.fetch ?? ((url, init) => globalThis.fetch(url, init));
  const transport: TransportConfig = {
    baseUrl,
    apiKey: options.apiKey,
    fetch: fetchImpl,
    timeoutMs: options.timeoutMs ?? 15_000,
    timer,
    clock,
    onEvent: options.onEvent,
    maxBodyBytes: options.maxBodyBytes,
  };
  /** Issue times of activations bought here: the early-cancel wait is computed from them. */
  const issuedAt = new Memo<number>();
  /** Ends of rentals seen here: an extension's end when the provider's `endDate` is unreadable. */
  const rentEnds = new Memo<number>();
  let numberV2Missing = false;

  const backoff = (n: number) => Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (n - 1));

  function interpret<T>(a: AnswerAttempt, decode: Decode<T>, issuedAtMs?: number): Interpretation<T> {
    const value = decode(a.body);
    if (value === GARBLED) {
      return {
        type: "unexpected",
        detail: `garbled ${a.body.kind} answer (HTTP ${a.httpStatus})`,
        garbled: true,
      };
    }
    if (value !== undefined) return { type: "ok", value };
    if (a.body.kind === "token" || a.body.kind === "error") {
      const info = a.body.kind === "error" ? a.body.info : null;
      const details = a.body.kind === "error" ? a.body.details : null;
      const c = classifyErrorToken(a.body.token, a.body.data, info, details, {
        nowMs: clock.now(),
        dateZoneOffsetMinutes: zone,
        earlyCancelWindowMs: capabilities.earlyCancelWindowMs,
        issuedAtMs,
        retryAfterMs: a.retryAfterMs ?? undefined,
      });
      if (c) return c;
      return {
        type: "unexpected",
        detail: `unexpected answer ${excerpt(a.body.token, 64)} (HTTP ${a.httpStatus})`,
      };
    }
    return { type: "unexpected", detail: `unexpected ${a.body.kind} answer (HTTP ${a.httpStatus})` };
  }

  /** One protocol call with the retry policy of its kind. */
  async function call<T>(
    kind: CallKind,
    action: string,
    params: Readonly<Record<string, string>>,
    decode: Decode<T>,
    issuedAtMs?: number,
  ): Promise<ProviderResult<T>> {
    const attempts = kind === "purchase" ? 1 : retry.attempts;
    let lostBefore = false;
    let last: ProviderFailure = { class: "unknown", reason: "no_attempt" };
    for (let n = 1; n <= attempts; n++) {
      const a = await attempt(transport, action, params, n);
      let waitMs: number;
      if (a.type === "answer") {
        const r = interpret(a, decode, issuedAtMs);
        switch (r.type) {
          case "ok":
            return ok(r.value);
          case "failure":
            // After a lost answer the first attempt may have done it: a refusal now proves nothing.
            if (lostBefore && kind === "mutation" && r.failure.class === "declined") {
              return err({
                class: "unknown",
                reason: "lost_then_declined",
                detail: `an earlier attempt's answer was lost; the retry was declined (${r.failure.reason})`,
              });
            }
            return err(r.failure);
          case "unexpected":
            return err({
              class: "unknown",
              reason: r.garbled ? "garbled" : "unexpected_answer",
              detail: r.detail,
            });
          case "server_error":
            if (kind === "purchase")
              return err({ class: "unknown", reason: "server_error", detail: r.token });
            waitMs = a.retryAfterMs ?? backoff(n);
            last = { class: "retryable", reason: "server_error", retryAfterMs: waitMs };
            break;
          case "rate_limit":
            if (kind === "purchase")
              return err({ class: "retryable", reason: "rate_limited", retryAfterMs: r.retryAfterMs });
            waitMs = r.retryAfterMs;
            last = { class: "retryable", reason: "rate_limited", retryAfterMs: waitMs };
            break;
        }
      } else if (a.type === "limited") {
        if (kind === "purchase")
          return err({ class: "retryable", reason: "rate_limited", retryAfterMs: a.retryAfterMs });
        waitMs = a.retryAfterMs;
        last = { class: "retryable", reason: "rate_limited", retryAfterMs: waitMs };
      } else {
        if (kind === "purchase") return err({ class: "unknown", reason: a.reason, detail: a.detail });
        lostBefore = true;
        waitMs = backoff(n);
        last =
          kind === "read"
            ? { class: "retryable", reason: a.reason, retryAfterMs: waitMs, detail: a.detail }
            : { class: "unknown", reason: a.reason, detail: a.detail };
      }
      if (n === attempts || waitMs > retry.maxDelayMs) break;
      await sleep(timer, waitMs);
    }
    if (lostBefore && kind === "mutation" && last.class !== "unknown") {
      return err({ class: "unknown", reason: "lost_answer", detail: "an attempt's answer was lost" });
    }
    return err(last);
  }

  const currencyOf = (v: unknown): string => {
    if (typeof v === "string" && /^[A-Z]{3}$/.test(v)) return v;
    if (typeof v === "number" || (typeof v === "string" && /^\d+$/.test(v)))
      return own(NUMERIC_CURRENCIES, String(v)) ?? currency;
    return currency;
  };

  /** A provider deadline is trusted only when it is plausible (a wrong zone would move it by hours). */
  const plausibleDeadline = (raw: string | null | undefined, nowMs: number): number | null => {
    const at = parseProviderDate(raw, zone);
    if (at === null || at <= nowMs - 60_000 || at > nowMs + 3 * HOUR_MS) return null;
    return at;
  };

  async function quote(q: { service: string; country: string }): Promise<ProviderResult<Quote>> {
    return call("read", "getPrices", { service: q.service, country: q.country }, (body) => {
      const prices = decodeJson(pricesSchema, body);
      if (prices === undefined) return undefined;
      const byService = own(prices, q.country);
      const entry = byService === undefined ? undefined : own(byService, q.service);
      if (!entry) return null;
      return { price: entry.cost, currency, stock: entry.physicalCount ?? entry.count ?? 0 };
    }).then((r) =>
      r.andThen((v) =>
        v === null ? err({ class: "declined" as const, reason: "service_unavailable" as const }) : ok(v),
      ),
    );
  }

  async function buyWithGetNumber(order: {
    service: string;
    country: string;
    maxPrice?: string;
  }): Promise<ProviderResult<IssuedActivation>> {
    const nowMs = clock.now();
    const params: Record<string, string> = { service: order.service, country: order.country };
    if (order.maxPrice !== undefined) params.maxPrice = order.maxPrice;
    const bought = await call("purchase", "getNumber", params, (body) => {
      if (!isToken(body, "ACCESS_NUMBER") || body.data === null) return undefined;
      const i = body.data.indexOf(":");
      if (i < 0) return GARBLED;
      const id = tokenId(body.data.slice(0, i));
      const phone = tokenPhone(body.data.slice(i + 1));
      return id !== null && phone !== null ? { id, phone } : GARBLED;
    });
    if (bought.isErr()) return err(bought.error);
    issuedAt.set(bought.value.id, nowMs);
    // getNumber states no price: read it from getPrices (best effort, after the fact).
    const q = await quote({ service: order.service, country: order.country });
    return ok({
      providerActivationId: bought.value.id,
      phone: bought.value.phone,
      cost: q.isOk() ? q.value.price : null,
      currency: q.isOk() ? currency : null,
      endsAtMs: nowMs + capabilities.activationLifetimeMs,
      canGetAnotherSms: capabilities.supportsAnotherCode,
    });
  }

  async function buyActivation(order: {
    service: string;
    country: string;
    maxPrice?: string;
    orderId: string;
  }): Promise<ProviderResult<IssuedActivation>> {
    if (!features.numberV2 || numberV2Missing) return buyWithGetNumber(order);
    const nowMs = clock.now();
    const params: Record<string, string> = { service: order.service, country: order.country };
    if (order.maxPrice !== undefined) params.maxPrice = order.maxPrice;
    if (capabilities.supportsOrderId) params.orderId = order.orderId;
    const r = await call("purchase", "getNumberV2", params, (body) => {
      const v = decodeJson(numberV2Schema, body);
      if (v) {
        return {
          providerActivationId: v.activationId,
          phone: v.phoneNumber,
          cost: v.activationCost ?? null,
          currency: v.activationCost == null ? null : currencyOf(v.currency),
          endsAtMs:
            plausibleDeadline(v.activationEndTime, nowMs) ?? nowMs + capabilities.activationLifetimeMs,
          canGetAnotherSms: v.canGetAnotherSms ?? capabilities.supportsAnotherCode,
        };
      }
      if (garbledJson(["activationId", "phoneNumber"], body)) return GARBLED;
      // Some shops answer the V2 call with the V1 text line: it is still a purchase, just without a price.
      if (isToken(body, "ACCESS_NUMBER") && body.data !== null) {
        const i = body.data.indexOf(":");
        const id = i < 0 ? null : tokenId(body.data.slice(0, i));
        const phone = i < 0 ? null : tokenPhone(body.data.slice(i + 1));
        if (id === null || phone === null) return GARBLED;
        return {
          providerActivationId: id,
          phone,
          cost: null,
          currency: null,
          endsAtMs: nowMs + capabilities.activationLifetimeMs,
          canGetAnotherSms: capabilities.supportsAnotherCode,
        };
      }
      return undefined;
    });
    // Fall back only when the provider says the action does not exist: nothing was bought then.
    if (r.isErr() && r.error.class === "fatal" && r.error.reason === "BAD_ACTION") {
      numberV2Missing = true;
      return buyWithGetNumber(order);
    }
    if (r.isOk()) issuedAt.set(r.value.providerActivationId, nowMs);
    return r;
  }

  async function statusText(id: string, code: string): Promise<string | null> {
    const r = await call("read", "getStatusV2", { id }, (body) => {
      if (body.kind === "token" || body.kind === "error") return null;
      const v = decodeJson(statusV2Schema, body);
      if (!v) return undefined;
      const sms = v.sms ?? v.data ?? null;
      return sms && sms.code === code ? (sms.text ?? null) : null;
    });
    return r.isOk() ? r.value : null;
  }

  /**
   * `getStatus` answers `STATUS_CANCEL` for a cancelled and a completed activation alike; `getStatusV2` still shows
   * a completed activation's SMS and answers the text `STATUS_CANCEL` only for a cancelled (or expired) one. A V2
   * answer that cannot be read is the failure: the caller waits rather than take the end for a refund.
   */
  async function endedStatus(id: string): Promise<ProviderResult<ActivationStatus>> {
    return call("read", "getStatusV2", { id }, (body): ActivationStatus | undefined => {
      if (isToken(body, "STATUS_CANCEL")) return { state: "ended" };
      const v = decodeJson(statusV2Schema, body);
      if (!v) return undefined;
      const sms = v.sms ?? v.data ?? null;
      return sms ? { state: "ended", code: sms.code } : { state: "ended" };
    });
  }

  async function getActivationStatus(id: string): Promise<ProviderResult<ActivationStatus>> {
    const r = await call(
      "read",
      "getStatus",
      { id },
      (body): ActivationStatus | undefined | typeof GARBLED => {
        if (body.kind !== "token") return undefined;
        switch (body.token) {
          case "STATUS_WAIT_CODE":
          case "STATUS_WAIT_RESEND":
            return { state: "waiting" };
          case "STATUS_WAIT_RETRY": {
            // The previous code, not a new one.
            const previous = body.data ?? "";
            return isStorableText(previous, MAX_CODE_LENGTH)
              ? { state: "waiting_retry", previousCode: previous }
              : GARBLED;
          }
          case "STATUS_OK": {
            if (body.data === null || body.data === "") return undefined;
            const code = tokenCode(body.data);
            return code === null ? GARBLED : { state: "code", code, text: null };
          }
          case "STATUS_CANCEL":
            // Cancelled or completed: never by itself a refund.
            return { state: "ended" };
          default:
            return undefined;
        }
      },
    );
    if (r.isOk() && r.value.state === "code" && features.statusV2) {
      return ok({ ...r.value, text: await statusText(id, r.value.code) });
    }
    if (r.isOk() && r.value.state === "ended" && features.statusV2) return endedStatus(id);
    return r;
  }

  const setStatus = (id: string, status: 3 | 6 | 8, expected: string) =>
    call(
      "mutation",
      "setStatus",
      { id, status: String(status) },
      // `ACCESS_READY` answers status 1 only; from any other status it is not the expected confirmation. A 204
      // without a body is HeroSMS's success for finishing or cancelling.
      (body) => (isToken(body, expected) || (body.kind === "no_content" && status !== 3) ? true : undefined),
      issuedAt.get(id),
    ).then((r) => r.map(() => undefined));

  async function cancelActivation(id: string): Promise<ProviderResult<void>> {
    const r = await setStatus(id, 8, "ACCESS_CANCEL");
    if (
      r.isErr() &&
      r.error.class === "declined" &&
      r.error.reason === "code_received" &&
      !r.error.codes?.length
    ) {
      // `OTP_RECEIVED` names no code: read it, so the caller can settle with it.
      const s = await getActivationStatus(id);
      const codes = s.isOk()
        ? s.value.state === "code"
          ? [s.value.code]
          : s.value.state === "waiting_retry"
            ? [s.value.previousCode]
            : []
        : [];
      return err({ ...r.error, codes });
    }
    return r;
  }

  async function listActiveActivations(): Promise<ProviderResult<readonly ActiveActivation[]>> {
    // Only the protocol's "none open" answers are an empty list: any other document is an error, because the
    // sweeper releases a purchase whose answer was lost when the list says it does not exist.
    return call("read", "getActiveActivations", {}, (body) => {
      if (tokenOf(body)?.token === "NO_ACTIVATIONS") return [];
      const rows = decodeJson(activeActivationsSchema, body);
      if (rows === undefined) {
        return body.kind === "json" && isListShaped(body.value) ? GARBLED : undefined;
      }
      return rows.map(
        (a): ActiveActivation => ({
          providerActivationId: a.activationId,
          service: a.serviceCode ?? a.service ?? "",
          country: a.countryCode ?? "",
          phone: a.phoneNumber,
          orderId: a.orderId == null || a.orderId === "" ? null : String(a.orderId),
          codes: a.smsCode,
          cost: a.activationCost ?? null,
          createdAtMs: parseProviderDate(a.activationTime, zone),
          endsAtMs: parseProviderDate(a.activationEndTime, zone),
        }),
      );
    });
  }

  async function quoteRental(q: {
    service: string;
    country: string;
    hours: number;
  }): Promise<ProviderResult<Quote>> {
    const r = await call(
      "read",
      "getRentServicesAndCountries",
      { rent_time: String(q.hours), country: q.country },
      (body) => {
        const v = decodeJson(rentServicesSchema, body);
        if (!v) return undefined;
        const s = own(v.services, q.service);
        return s ? { price: s.cost, currency, stock: s.quant } : null;
      },
    );
    return r.andThen((v) =>
      v === null ? err({ class: "declined" as const, reason: "service_unavailable" as const }) : ok(v),
    );
  }

  async function rent(order: {
    service: string;
    country: string;
    hours: number;
    orderId: string;
    webhookUrl?: string;
  }): Promise<ProviderResult<IssuedRental>> {
    const nowMs = clock.now();
    const params: Record<string, string> = {
      service: order.service,
      rent_time: String(order.hours),
      country: order.country,
    };
    // HeroSMS names the hours `duration`; it is sent beside `rent_time`, which the original service reads.
    if (features.rentDuration) params.duration = String(order.hours);
    if (order.webhookUrl !== undefined) params.url = order.webhookUrl;
    const r = await call("purchase", "getRentNumber", params, (body) => {
      const v2 = decodeJson(rentV2Schema, body);
      if (v2) {
        return {
          providerRentalId: v2.activationId,
          phone: v2.phoneNumber,
          endsAtMs: nowMs + order.hours * HOUR_MS,
          cost: v2.activationCost ?? null,
          currency: v2.activationCost == null ? null : currencyOf(v2.currency),
        };
      }
      if (garbledJson(["activationId", "phoneNumber"], body)) return GARBLED;
      const v = decodeJson(rentPhoneSchema, body);
      if (!v) return garbledJson(["phone"], body) ? GARBLED : undefined;
      // `endDate` has no zone: the end is computed from our clock (it can only be early, never late).
      return {
        providerRentalId: v.phone.id,
        phone: v.phone.number,
        endsAtMs: nowMs + order.hours * HOUR_MS,
        cost: v.cost ?? v.price ?? null,
        currency: (v.cost ?? v.price) ? currency : null,
      };
    });
    if (r.isOk()) rentEnds.set(r.value.providerRentalId, r.value.endsAtMs);
    return r;
  }

  async function getRentalStatus(id: string): Promise<ProviderResult<RentalStatus>> {
    return call("read", "getRentStatus", { id, page: "0", size: "100" }, (body) => {
      const t = tokenOf(body);
      if (t) {
        switch (t.token) {
          case "STATUS_WAIT_CODE":
            return { state: "active", endsAtMs: null, messages: [] };
          case "STATUS_FINISH":
            return { state: "finished", endsAtMs: null, messages: [] };
          case "STATUS_CANCEL":
            return { state: "cancelled", endsAtMs: null, messages: [] };
          case "STATUS_REVOKE":
            return { state: "revoked", endsAtMs: null, messages: [] };
          default:
            return undefined;
        }
      }
      const v = decodeJson(rentStatusSchema, body);
      if (!v && garbledJson(["status", "values"], body)) return GARBLED;
      return v
        ? {
            state: "active" as const,
            // The provider's own end where it states it; never a value remembered here.
            endsAtMs: parseProviderDate(v.endDate, zone),
            messages: v.values.map(
              (m): RentalMessage => ({
                from: m.phoneFrom,
                text: m.text,
                service: m.service ?? null,
                atMs: parseProviderDate(m.date, zone),
              }),
            ),
          }
        : undefined;
    });
  }

  async function extendRental(id: string, hours: number): Promise<ProviderResult<ExtendedRental>> {
    const known = rentEnds.get(id);
    // An extension spends money: sent exactly once, like a purchase; a lost answer is `unknown`.
    const r = await call("purchase", "continueRentNumber", { id, rent_time: String(hours) }, (body) => {
      const v = decodeJson(rentPhoneSchema, body);
      if (!v) return garbledJson(["phone"], body) ? GARBLED : undefined;
      const stated = parseProviderDate(v.phone.endDate, zone);
      const endsAtMs =
        stated ??
        (known !== undefined && v.phone.id === id ? known + hours * HOUR_MS : clock.now() + hours * HOUR_MS);
      return { endsAtMs, cost: v.cost ?? v.price ?? null, providerRentalId: v.phone.id };
    });
    if (r.isOk()) rentEnds.set(r.value.providerRentalId, r.value.endsAtMs);
    return r;
  }

  const setRentStatus = (id: string, status: 1 | 2) =>
    call("mutation", "setRentStatus", { id, status: String(status) }, (body) =>
      decodeJson(rentOkSchema, body) ? true : undefined,
    ).then((r) => r.map(() => undefined));

  async function listActiveRentals(): Promise<ProviderResult<readonly ActiveRental[]>> {
    return call("read", "getRentList", {}, (body) => {
      const t = tokenOf(body);
      if (t && (t.token === "NO_ID_RENT" || t.token === "NO_RENTS" || t.token === "NO_ACTIVATIONS"))
        return [];
      const v = decodeJson(rentListSchema, body);
      if (!v) return garbledJson(["status", "values"], body) ? GARBLED : undefined;
      return v.values.map(
        (x): ActiveRental => ({
          providerRentalId: x.id,
          phone: x.phone,
          service: x.service ?? null,
          country: x.country ?? null,
          // The provider's end: an extension made upstream shows here.
          endsAtMs: parseProviderDate(x.endDate, zone),
        }),
      );
    });
  }

  return {
    capabilities,
    quote,
    buyActivation,
    getActivationStatus,
    requestAnotherCode: (id) => setStatus(id, 3, "ACCESS_RETRY_GET"),
    cancelActivation,
    finishActivation: (id) => setStatus(id, 6, "ACCESS_ACTIVATION"),
    listActiveActivations,
    quoteRental,
    rent,
    getRentalStatus,
    extendRental,
    cancelRental: (id) => setRentStatus(id, 2),
    finishRental: (id) => setRentStatus(id, 1),
    listActiveRentals,
    getBalance: () =>
      call("read", "getBalance", {}, (body) =>
        isToken(body, "ACCESS_BALANCE") && body.data !== null && /^\d+(\.\d+)?$/.test(body.data.trim())
          ? body.data.trim()
          : undefined,
      ),
  };
}
