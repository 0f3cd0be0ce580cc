import type { DeclineReason, ProviderFailure } from "../port.js";
import { normalizePrice, parseProviderDate } from "./parse.js";
import { excerpt } from "./transport.js";

/**
 * How each error token of the protocol family is classified (tokens are matched by prefix, see
 * {@link matchErrorToken}). `server_error` and `rate_limit` are retried by the adapter on calls that are not
 * purchases; on a purchase `server_error` is `unknown` (the buy may have happened) and `rate_limit` is returned
 * as `retryable` (nothing happened, the caller decides).
 */
export const ERROR_TOKENS = {
  BAD_KEY: { class: "fatal" },
  NO_KEY: { class: "fatal" },
  BAD_ACTION: { class: "fatal" },
  UNPROCESSABLE_ENTITY: { class: "fatal" },
  BAD_SERVICE: { class: "declined", reason: "unknown_service" },
  WRONG_SERVICE: { class: "declined", reason: "unknown_service" },
  INVALID_TIME: { class: "declined", reason: "invalid_duration" },
  BAD_TIME: { class: "declined", reason: "invalid_duration" },
  BAD_DURATION: { class: "declined", reason: "invalid_duration" },
  BAD_COUNTRY: { class: "fatal" },
  WRONG_COUNTRY: { class: "fatal" },
  ACCOUNT_INACTIVE: { class: "fatal" },
  WRONG_EXCEPTION_PHONE: { class: "fatal" },
  INCORECT_STATUS: { class: "fatal" },
  INCORRECT_STATUS: { class: "fatal" },
  BAD_STATUS: { class: "declined", reason: "not_active" },
  NO_NUMBERS: { class: "declined", reason: "no_numbers" },
  NO_BALANCE: { class: "declined", reason: "no_balance" },
  WRONG_MAX_PRICE: { class: "declined", reason: "price_too_low" },
  BANNED: { class: "declined", reason: "banned" },
  CHANNELS_LIMIT: { class: "declined", reason: "too_many_numbers" },
  SERVICE_NOT_AVAILABLE: { class: "declined", reason: "service_unavailable" },
  ORDER_ALREADY_EXISTS: { class: "declined", reason: "order_exists" },
  NO_ACTIVATION: { class: "declined", reason: "not_found" },
  NOT_FOUND: { class: "declined", reason: "not_found" },
  WRONG_ACTIVATION_ID: { class: "declined", reason: "not_found" },
  EARLY_CANCEL_DENIED: { class: "declined", reason: "early_cancel" },
  OTP_RECEIVED: { class: "declined", reason: "code_received" },
  NEW_OTP_RECEIVED: { class: "declined", reason: "code_received" },
  FREE_CANCELLATION_EXPIRED: { class: "declined", reason: "refund_window_passed" },
  ACTIVATION_NOT_ACTIVE: { class: "declined", reason: "not_active" },
  CANT_CANCEL: { class: "declined", reason: "refund_window_passed" },
  ALREADY_FINISH: { class: "declined", reason: "not_active" },
  ALREADY_CANCEL: { class: "declined", reason: "not_active" },
  NO_ID_RENT: { class: "declined", reason: "not_found" },
  RENT_DIE: { class: "declined", reason: "rent_expired" },
  MAX_HOURS_EXCEED: { class: "declined", reason: "max_hours_exceeded" },
  ERROR_SQL: { class: "server_error" },
  SERVER_ERROR: { class: "server_error" },
  RATE_LIMIT: { class: "rate_limit" },
} as const satisfies Record<
  string,
  | { class: "fatal" }
  | { class: "declined"; reason: DeclineReason }
  | { class: "server_error" }
  | { class: "rate_limit" }
>;

/** A known error token. */
export type ErrorToken = keyof typeof ERROR_TOKENS;

const BY_LENGTH = (Object.keys(ERROR_TOKENS) as ErrorToken[]).sort((a, b) => b.length - a.length);

/**
 * Finds the known error token a token starts with (`BANNED` in `BANNED:'…'`, `WRONG_MAX_PRICE` in
 * `WRONG_MAX_PRICE:0.025`). The character after the prefix must not continue a token, so `NO_NUMBERSX` is not
 * `NO_NUMBERS`. Never a substring search of the whole body.
 */
export function matchErrorToken(token: string): ErrorToken | null {
  for (const k of BY_LENGTH) {
    if (token.startsWith(k) && !/^[A-Z0-9_]/.test(token.slice(k.length))) return k;
  }
  return null;
}

/** What the classifier needs besides the token. */
export interface ClassifyContext {
  /** Current time, epoch ms. */
  readonly nowMs: number;
  /** Zone of zone-less provider dates, minutes east of UTC. */
  readonly dateZoneOffsetMinutes: number;
  /** The early-cancel window, for `EARLY_CANCEL_DENIED` answers that say nothing about time. */
  readonly earlyCancelWindowMs: number;
  /** When the activation concerned was issued, if this adapter knows. */
  readonly issuedAtMs?: number | undefined;
  /** A Retry-After the response carried, ms. */
  readonly retryAfterMs?: number | undefined;
}

/** A classified error answer: a port failure, or a signal the adapter handles (retry on server error). */
export type ClassifiedError =
  | { readonly type: "failure"; readonly failure: ProviderFailure }
  | { readonly type: "server_error"; readonly token: string }
  | { readonly type: "rate_limit"; readonly retryAfterMs: number };

/**
 * Classifies an error token with its data (`data` after the first colon, `info`/`details` from a JSON envelope).
 * `null` when the token is not a known error.
 */
export function classifyErrorToken(
  token: string,
  data: string | null,
  info: Readonly<Record<string, unknown>> | null,
  details: string | null,
  ctx: ClassifyContext,
): ClassifiedError | null {
  const known = matchErrorToken(token);
  if (known === null) return null;
  const entry = ERROR_TOKENS[known];
  const rest = data ?? (token.length > known.length ? token.slice(known.length) : null);
  const detailText = details === null || details === "" ? undefined : excerpt(details);
  switch (entry.class) {
    case "fatal":
      return { type: "failure", failure: withDetail({ class: "fatal", reason: known }, detailText) };
    case "server_error":
      return { type: "server_error", token: known };
    case "rate_limit": {
      const seconds = rest === null ? Number.NaN : Number(rest.trim());
      const retryAfterMs = ctx.retryAfterMs ?? (Number.isFinite(seconds) ? seconds * 1000 : 1000);
      return { type: "rate_limit", retryAfterMs };
    }
    case "declined":
      break;
  }
  const reason = entry.reason;
  const base = { class: "declined" as const, reason, ...(detailText ? { detail: detailText } : {}) };
  switch (reason) {
    case "price_too_low": {
      // Text `WRONG_MAX_PRICE:0.025`; HeroSMS `info: { min }`; older envelopes `minPrice` / `price`.
      const minPrice =
        normalizePrice(rest?.trim()) ??
        normalizePrice(info?.min) ??
        normalizePrice(info?.minPrice) ??
        normalizePrice(info?.price);
      return { type: "failure", failure: minPrice === null ? base : { ...base, minPrice } };
    }
    case "banned": {
      // Text `BANNED:'2026-2-13 12-00-00'`; HeroSMS `info: { banned_until (unix s), retry_after_seconds }`.
      const untilMs =
        parseProviderDate(rest?.trim(), ctx.dateZoneOffsetMinutes) ??
        unixSeconds(info?.banned_until) ??
        secondsFrom(info?.retry_after_seconds, ctx.nowMs) ??
        parseProviderDate(info?.until, ctx.dateZoneOffsetMinutes);
      return { type: "failure", failure: untilMs === null ? base : { ...base, untilMs } };
    }
    case "early_cancel":
      return { type: "failure", failure: { ...base, retryAfterMs: earlyCancelWait(rest, info, ctx) } };
    case "code_received": {
      const codes = codesFrom(known, rest, info);
      return { type: "failure", failure: { ...base, codes } };
    }
    default:
      return { type: "failure", failure: base };
  }
}

/** Epoch ms from unix seconds (a number or a digit string); `null` otherwise. */
function unixSeconds(v: unknown): number | null {
  const n =
    typeof v === "number" ? v : typeof v === "string" && /^\d{9,11}$/.test(v) ? Number(v) : Number.NaN;
  return Number.isFinite(n) && n > 0 && n < 1e11 ? Math.round(n * 1000) : null;
}

/** `now + seconds` for a positive number of seconds; `null` otherwise. */
function secondsFrom(v: unknown, nowMs: number): number | null {
  const n = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : Number.NaN;
  return Number.isFinite(n) && n > 0 ? nowMs + Math.ceil(n * 1000) : null;
}

function withDetail<T extends object>(f: T, detail: string | undefined): T {
  return detail ? { ...f, detail } : f;
}

/**
 * How long to wait before a cancel is allowed. `EARLY_CANCEL_DENIED:<seconds>` is the time left; HeroSMS's
 * `info.minActivationTime` is the window's length, so the time left is computed from the issue time when this
 * adapter knows it, else the whole window (an upper bound).
 */
function earlyCancelWait(
  rest: string | null,
  info: Readonly<Record<string, unknown>> | null,
  ctx: ClassifyContext,
): number {
  const left = rest === null ? Number.NaN : Number(rest.trim());
  if (rest !== null && rest.trim() !== "" && Number.isFinite(left) && left >= 0)
    return Math.ceil(left * 1000);
  const minSeconds = Number(info?.minActivationTime);
  const windowMs =
    Number.isFinite(minSeconds) && minSeconds > 0 ? minSeconds * 1000 : ctx.earlyCancelWindowMs;
  if (ctx.issuedAtMs !== undefined) return Math.max(1, ctx.issuedAtMs + windowMs - ctx.nowMs);
  return windowMs;
}

function codesFrom(
  token: ErrorToken,
  rest: string | null,
  info: Readonly<Record<string, unknown>> | null,
): readonly string[] {
  // HeroSMS: `info: { data: [{ id, phoneFrom, code, text, service, date, type }] }`.
  if (Array.isArray(info?.data)) {
    return info.data
      .map((x: unknown) => (x !== null && typeof x === "object" ? (x as Record<string, unknown>).code : x))
      .filter((c): c is string | number => typeof c === "string" || typeof c === "number")
      .map(String)
      .filter((c) => c !== "");
  }
  const fromInfo = info?.codes ?? info?.code ?? info?.smsCode;
  if (Array.isArray(fromInfo))
    return fromInfo.filter((c) => typeof c === "string" || typeof c === "number").map(String);
  if (typeof fromInfo === "string" || typeof fromInfo === "number") return [String(fromInfo)];
  // `NEW_OTP_RECEIVED:<code>`: the rest is one code (codes may contain colons, so it is not split further).
  if (token === "NEW_OTP_RECEIVED" && rest !== null && rest.trim() !== "") return [rest.trim()];
  return [];
}
