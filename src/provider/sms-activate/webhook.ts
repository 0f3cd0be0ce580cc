import * as z from "zod";
import { type Clock, systemClock } from "../../core/clock.js";
import { type InputIssue, issuesFromZod } from "../../core/errors.js";
import type { Provider, ProviderFailure } from "../port.js";
import { quoteLongIntegers } from "./parse.js";
import { codeSchema, idSchema, smsTextSchema } from "./schemas.js";

/*
 * Webhooks of the protocol family are unsigned and retried (so they arrive more than once). A body proves
 * nothing: the helper authenticates it by a shared secret in the URL, validates it, confirms it by polling the
 * provider, deduplicates processed deliveries, and only then hands the code to the caller (the orchestration's
 * `onCode`). Its answer never tells whether a claimed code was right (see {@link WebhookOutcome}).
 */

/** An activation webhook: `{"activationId":123456,"service":"go","text":"…","code":"12345","country":2,…}`. */
export const activationWebhookSchema = z.object({
  activationId: idSchema,
  /** `null` (or absent) when the SMS carried no code HeroSMS could read: accepted, nothing to confirm. */
  code: codeSchema.nullable().optional(),
  text: z.string().optional().nullable(),
  service: z.string().optional().nullable(),
  country: z.union([z.string(), z.number()]).optional().nullable(),
  receivedAt: z.string().optional().nullable(),
});

/** A rental webhook: `{"rentId":"26251422","sms":{"phoneFrom":"…","text":"…","date":"…"}}`. */
export const rentalWebhookSchema = z.object({
  rentId: idSchema,
  sms: z.object({
    phoneFrom: z.union([z.string(), z.number()]).transform(String).pipe(smsTextSchema),
    text: smsTextSchema,
    date: z.string().optional().nullable(),
  }),
});

/** A confirmed code, ready for the orchestration's `onCode`. */
export interface ConfirmedCode {
  readonly providerActivationId: string;
  /** The code as the provider reports it when polled (a string: leading zeros kept). */
  readonly code: string;
  readonly text: string | null;
}

/** A confirmed SMS on a rented number. */
export interface ConfirmedRentalSms {
  readonly providerRentalId: string;
  readonly from: string;
  readonly text: string;
}

/** Longest body accepted, in characters (a delivery is a few hundred). */
export const MAX_WEBHOOK_BODY_CHARS = 65_536;

/** Options of {@link createWebhookHandler}. */
export interface WebhookHandlerOptions {
  /** The provider the webhook claims to come from; polled to confirm every delivery. */
  readonly provider: Pick<Provider, "getActivationStatus" | "listActiveActivations" | "getRentalStatus">;
  /**
   * Receives each confirmed code once. Returning an `Err` (a neverthrow `Result`, or a promise of one) or
   * throwing answers 503: the delivery is not deduplicated, so the provider delivers it again.
   */
  readonly onCode: (code: ConfirmedCode) => unknown;
  /** Receives each confirmed rental SMS once; an `Err` or a throw answers 503 as for `onCode`. */
  readonly onRentalSms?: (sms: ConfirmedRentalSms) => unknown;
  /**
   * The shared secret expected as a token in the webhook URL (compared in constant time). Required: without
   * one anyone who can reach the endpoint makes it poll the provider. `null` opts out explicitly (the
   * endpoint is reachable only by the provider, e.g. behind an allow-list).
   */
  readonly secret: string | null;
  readonly clock?: Clock;
  /** How many processed deliveries are remembered, and for how long (default 10 000 for 3 hours). */
  readonly dedupe?: { readonly maxEntries?: number; readonly ttlMs?: number };
  /**
   * Confirming polls allowed per activation or rental and window (default 8 per 10 minutes, the provider's
   * redeliveries fit); beyond, 503 without a poll. At most `maxTracked` ids are tracked (default 10 000).
   */
  readonly confirmLimit?: {
    readonly perWindow?: number;
    readonly windowMs?: number;
    readonly maxTracked?: number;
  };
}

/**
 * What to answer the provider, one status per meaning (a 200 stops its retries; a 503 invites another delivery):
 * - 400 `invalid`: the body is malformed; nothing polled;
 * - 401 `unauthorized`: the secret is missing or wrong; nothing polled;
 * - 200 `processed`: a well-formed, authenticated delivery was handled, **whatever the code's correctness**:
 *   `detail` is `confirmed` (handed to the callback), `duplicate` (already handed over), `not_confirmed` (the
 *   provider does not report that code: nothing settled) or `no_code` (`code: null`). The caller must not
 *   tell these apart to the sender: the status is the same, so the endpoint is no oracle for guessing codes;
 * - 503 `unavailable`: processing failed — the confirming poll failed, the callback returned an `Err` or threw,
 *   or this activation's confirmations are rate limited. Not deduplicated: the provider delivers again.
 */
export type WebhookOutcome =
  | {
      readonly status: 200;
      readonly result: "processed";
      readonly detail: "confirmed" | "duplicate" | "not_confirmed" | "no_code";
    }
  | { readonly status: 400; readonly result: "invalid"; readonly issues: readonly InputIssue[] }
  | { readonly status: 401; readonly result: "unauthorized" }
  | {
      readonly status: 503;
      readonly result: "unavailable";
      readonly detail: "provider_unavailable" | "callback_failed" | "rate_limited";
      readonly failure?: ProviderFailure;
    };

/** The webhook helper. */
export interface WebhookHandler {
  /** Handles one delivery: `body` as received (text or parsed JSON), `token` from the webhook URL if any. */
  handle(request: { readonly body: unknown; readonly token?: string | null }): Promise<WebhookOutcome>;
}

/** Compares a received token with the expected secret in constant time (both hashed, so lengths do not leak). */
export async function verifyWebhookToken(
  received: string | null | undefined,
  expected: string,
): Promise<boolean> {
  const enc = new TextEncoder();
  const got = typeof received === "string" ? received : "";
  const [a, b] = await Promise.all([
    globalThis.crypto.subtle.digest("SHA-256", enc.encode(got)),
    globalThis.crypto.subtle.digest("SHA-256", enc.encode(expected)),
  ]);
  const x = new Uint8Array(a);
  const y = new Uint8Array(b);
  let diff = typeof received === "string" ? 0 : 1;
  for (let i = 0; i < x.length; i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/** True when a polled code is the one the body claims (a body may carry it as a number, losing leading zeros). */
function sameCode(polled: string, claimed: string): boolean {
  return (
    polled === claimed ||
    (/^\d+$/.test(polled) && /^\d+$/.test(claimed) && BigInt(polled) === BigInt(claimed))
  );
}

/** Whether a callback's return value is a neverthrow `Err` (duck-typed: it may come from another bundle). */
function isErrResult(v: unknown): boolean {
  if (v === null || typeof v !== "object") return false;
  const isErr = (v as { isErr?: unknown }).isErr;
  return typeof isErr === "function" && (isErr as () => unknown).call(v) === true;
}

const processed = (detail: "confirmed" | "duplicate" | "not_confirmed" | "no_code"): WebhookOutcome => ({
  status: 200,
  result: "processed",
  detail,
});
const unavailable = (
  detail: "provider_unavailable" | "callback_failed" | "rate_limited",
  failure?: ProviderFailure,
): WebhookOutcome =>
  failure === undefined
    ? { status: 503, result: "unavailable", detail }
    : { status: 503, result: "unavailable", detail, failure };

/**
 * Creates the webhook helper: authenticate, validate, confirm by polling (rate limited per id), deduplicate,
 * hand over once. Throws a `TypeError` when `secret` is neither a non-empty string nor an explicit `null`.
 */
export function createWebhookHandler(options: WebhookHandlerOptions): WebhookHandler {
  const secret: unknown = options.secret;
  if (secret !== null && (typeof secret !== "string" || secret === "")) {
    throw new TypeError(
      "createWebhookHandler: a secret is required (pass secret: null to opt out explicitly)",
    );
  }
  const clock = options.clock ?? systemClock;
  const maxEntries = options.dedupe?.maxEntries ?? 10_000;
  const ttlMs = options.dedupe?.ttlMs ?? 3 * 3_600_000;
  const perWindow = options.confirmLimit?.perWindow ?? 8;
  const windowMs = options.confirmLimit?.windowMs ?? 10 * 60_000;
  const maxTracked = options.confirmLimit?.maxTracked ?? 10_000;
  /** Processed delivery keys → expiry (epoch ms), oldest first. */
  const seen = new Map<string, number>();
  /** Deliveries being handled: a concurrent duplicate waits for the first. */
  const inFlight = new Map<string, Promise<WebhookOutcome>>();
  /** Confirming polls per id in the current window: id → { window start, count }, oldest first. */
  const polls = new Map<string, { startMs: number; count: number }>();

  const remembered = (key: string): boolean => {
    const until = seen.get(key);
    if (until === undefined) return false;
    if (until > clock.now()) return true;
    seen.delete(key);
    return false;
  };
  const remember = (key: string) => {
    seen.set(key, clock.now() + ttlMs);
    while (seen.size > maxEntries) {
      const oldest = seen.keys().next().value;
      if (oldest === undefined) break;
      seen.delete(oldest);
    }
  };
  /** Counts a confirming poll for `id`; false when the id used up its window. */
  const allowPoll = (id: string): boolean => {
    const now = clock.now();
    const w = polls.get(id);
    if (w === undefined || now - w.startMs >= windowMs) {
      polls.delete(id);
      polls.set(id, { startMs: now, count: 1 });
      while (polls.size > maxTracked) {
        const oldest = polls.keys().next().value;
        if (oldest === undefined) break;
        polls.delete(oldest);
      }
      return true;
    }
    if (w.count >= perWindow) return false;
    w.count += 1;
    return true;
  };

  async function confirmCode(
    id: string,
    claimed: string,
  ): Promise<{ code: string; text: string | null } | null | ProviderFailure> {
    const status = await options.provider.getActivationStatus(id);
    if (status.isErr()) return status.error.class === "declined" ? null : status.error;
    const s = status.value;
    if (s.state === "code" && sameCode(s.code, claimed)) return { code: s.code, text: s.text };
    if (s.state === "waiting_retry" && sameCode(s.previousCode, claimed))
      return { code: s.previousCode, text: null };
    // Completed upstream since: its ended status still shows the code where the provider gives it.
    if (s.state === "ended" && s.code !== undefined && sameCode(s.code, claimed))
      return { code: s.code, text: null };
    // The newest code may already be another one: the open list carries all codes.
    const list = await options.provider.listActiveActivations();
    if (list.isErr()) return list.error.class === "declined" ? null : list.error;
    const found = list.value
      .find((a) => a.providerActivationId === id)
      ?.codes.find((c) => sameCode(c, claimed));
    return found === undefined ? null : { code: found, text: null };
  }

  /** Runs a delivery once at a time per key; only a confirmed one is remembered (and so deduplicated). */
  async function once(key: string, work: () => Promise<WebhookOutcome>): Promise<WebhookOutcome> {
    if (remembered(key)) return processed("duplicate");
    const running = inFlight.get(key);
    if (running) {
      const first = await running;
      return first.status === 200 && first.detail === "confirmed" ? processed("duplicate") : first;
    }
    const p = work().then((o) => {
      if (o.status === 200 && o.detail === "confirmed") remember(key);
      return o;
    });
    inFlight.set(key, p);
    try {
      return await p;
    } finally {
      inFlight.delete(key);
    }
  }

  async function deliver(callback: () => unknown): Promise<WebhookOutcome> {
    try {
      const r = await callback();
      return isErrResult(r) ? unavailable("callback_failed") : processed("confirmed");
    } catch {
      return unavailable("callback_failed");
    }
  }

  async function handle(request: { readonly body: unknown; readonly token?: string | null }) {
    if (secret !== null && !(await verifyWebhookToken(request.token, secret as string))) {
      return { status: 401, result: "unauthorized" } as const;
    }
    let body: unknown = request.body;
    if (typeof body === "string") {
      if (body.length > MAX_WEBHOOK_BODY_CHARS) {
        return invalid("body is too long");
      }
      try {
        body = JSON.parse(quoteLongIntegers(body.trim()));
      } catch {
        return invalid("body is not JSON");
      }
    }
    const activation = activationWebhookSchema.safeParse(body);
    if (activation.success) {
      const { activationId: id, code: claimed } = activation.data;
      if (claimed === null || claimed === undefined) return processed("no_code");
      return once(`a:${id}:${claimed}`, async () => {
        if (!allowPoll(`a:${id}`)) return unavailable("rate_limited");
        const c = await confirmCode(id, claimed);
        if (c === null) return processed("not_confirmed");
        if ("class" in c) return unavailable("provider_unavailable", c);
        return deliver(() => options.onCode({ providerActivationId: id, code: c.code, text: c.text }));
      });
    }
    const rental = rentalWebhookSchema.safeParse(body);
    if (rental.success && options.onRentalSms) {
      const { rentId: id, sms } = rental.data;
      const onRentalSms = options.onRentalSms;
      return once(`r:${id}:${sms.phoneFrom}:${sms.date ?? ""}:${sms.text}`, async () => {
        if (!allowPoll(`r:${id}`)) return unavailable("rate_limited");
        const status = await options.provider.getRentalStatus(id);
        if (status.isErr()) {
          return status.error.class === "declined"
            ? processed("not_confirmed")
            : unavailable("provider_unavailable", status.error);
        }
        const m = status.value.messages.find((x) => x.from === sms.phoneFrom && x.text === sms.text);
        if (!m) return processed("not_confirmed");
        return deliver(() => onRentalSms({ providerRentalId: id, from: m.from, text: m.text }));
      });
    }
    return { status: 400, result: "invalid", issues: issuesFromZod(activation.error.issues) } as const;
  }

  return {
    async handle(request) {
      try {
        return await handle(request);
      } catch {
        // A provider whose promise rejects, a body whose getter throws: processing failed, deliver again.
        return unavailable("provider_unavailable");
      }
    },
  };
}

function invalid(message: string): WebhookOutcome {
  return { status: 400, result: "invalid", issues: [{ path: "", message }] };
}
