import * as z from "zod";
import { type Clock, systemClock } from "../../core/clock.js";
import { type InputIssue, issuesFromZod } from "../../core/errors.js";
import type { Provider, ProviderFailure } from "../port.js";
import { quoteLongIntegers } from "./parse.js";
import { idSchema } from "./schemas.js";

/*
 * Webhooks of the protocol family are unsigned and retried (so they arrive more than once). A body proves
 * nothing: the helper validates it, confirms it by polling the provider, deduplicates confirmed deliveries, and
 * only then hands the code to the caller (the orchestration's `onCode`).
 */

/** An activation webhook: `{"activationId":123456,"service":"go","text":"…","code":"12345","country":2,…}`. */
export const activationWebhookSchema = z.object({
  activationId: idSchema,
  code: z.union([z.string().min(1), z.number()]),
  text: z.string().optional().nullable(),
  service: z.string().optional().nullable(),
  country: z.union([z.string(), z.number()]).optional().nullable(),
  receivedAt: z.string().optional().nullable(),
});

/** A rental webhook: `{"rentId":"26251422","sms":{"phoneFrom":"…","text":"…","date":"…"}}`. */
export const rentalWebhookSchema = z.object({
  rentId: idSchema,
  sms: z.object({
    phoneFrom: z.union([z.string(), z.number()]).transform(String),
    text: z.string(),
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

/** Options of {@link createWebhookHandler}. */
export interface WebhookHandlerOptions {
  /** The provider the webhook claims to come from; polled to confirm every delivery. */
  readonly provider: Pick<Provider, "getActivationStatus" | "listActiveActivations" | "getRentalStatus">;
  /** Receives each confirmed code once. A rejection answers 500, so the provider delivers again. */
  readonly onCode: (code: ConfirmedCode) => unknown;
  /** Receives each confirmed rental SMS once. */
  readonly onRentalSms?: (sms: ConfirmedRentalSms) => unknown;
  /** A shared secret expected as a token in the webhook URL (compared in constant time). */
  readonly secret?: string;
  readonly clock?: Clock;
  /** How many confirmed deliveries are remembered, and for how long (default 10 000 for 3 hours). */
  readonly dedupe?: { readonly maxEntries?: number; readonly ttlMs?: number };
}

/**
 * What to answer the provider. A 200 stops its retries; other statuses invite another delivery:
 * - `confirmed` (200): polled and handed to the callback;
 * - `duplicate` (200): already handed over;
 * - `not_confirmed` (409): the provider does not report this code (a forged or premature body): nothing settled;
 * - `invalid` (400), `unauthorized` (401): rejected before any poll;
 * - `provider_unavailable` (503): the confirming poll failed; `callback_failed` (500): the callback threw.
 */
export type WebhookOutcome =
  | { readonly status: 200; readonly result: "confirmed" | "duplicate" }
  | { readonly status: 409; readonly result: "not_confirmed" }
  | { readonly status: 400; readonly result: "invalid"; readonly issues: readonly InputIssue[] }
  | { readonly status: 401; readonly result: "unauthorized" }
  | { readonly status: 503; readonly result: "provider_unavailable"; readonly failure: ProviderFailure }
  | { readonly status: 500; readonly result: "callback_failed" };

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
  const [a, b] = await Promise.all([
    globalThis.crypto.subtle.digest("SHA-256", enc.encode(received ?? "")),
    globalThis.crypto.subtle.digest("SHA-256", enc.encode(expected)),
  ]);
  const x = new Uint8Array(a);
  const y = new Uint8Array(b);
  let diff = received == null ? 1 : 0;
  for (let i = 0; i < x.length; i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/** True when a polled code is the one the body claims (a body may carry it as a number, losing leading zeros). */
function sameCode(polled: string, claimed: string | number): boolean {
  if (typeof claimed === "string") return polled === claimed;
  return /^\d+$/.test(polled) && BigInt(polled) === BigInt(Math.trunc(claimed));
}

/** Creates the webhook helper: validate, authenticate, confirm by polling, deduplicate, hand over once. */
export function createWebhookHandler(options: WebhookHandlerOptions): WebhookHandler {
  const clock = options.clock ?? systemClock;
  const maxEntries = options.dedupe?.maxEntries ?? 10_000;
  const ttlMs = options.dedupe?.ttlMs ?? 3 * 3_600_000;
  /** Confirmed delivery keys → expiry (epoch ms), oldest first. */
  const seen = new Map<string, number>();
  /** Deliveries being handled: a concurrent duplicate waits for the first. */
  const inFlight = new Map<string, Promise<WebhookOutcome>>();

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

  async function confirmCode(
    id: string,
    claimed: string | number,
  ): Promise<{ code: string; text: string | null } | null | ProviderFailure> {
    const status = await options.provider.getActivationStatus(id);
    if (status.isErr()) return status.error.class === "declined" ? null : status.error;
    const s = status.value;
    if (s.state === "code" && sameCode(s.code, claimed)) return { code: s.code, text: s.text };
    if (s.state === "waiting_retry" && sameCode(s.previousCode, claimed))
      return { code: s.previousCode, text: null };
    // The newest code may already be another one: the open list carries all codes.
    const list = await options.provider.listActiveActivations();
    if (list.isErr()) return list.error.class === "declined" ? null : list.error;
    const found = list.value
      .find((a) => a.providerActivationId === id)
      ?.codes.find((c) => sameCode(c, claimed));
    return found === undefined ? null : { code: found, text: null };
  }

  async function once(key: string, work: () => Promise<WebhookOutcome>): Promise<WebhookOutcome> {
    if (remembered(key)) return { status: 200, result: "duplicate" };
    const running = inFlight.get(key);
    if (running) {
      const first = await running;
      return first.result === "confirmed" ? { status: 200, result: "duplicate" } : first;
    }
    const p = work().then((o) => {
      if (o.result === "confirmed") remember(key);
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
      await callback();
      return { status: 200, result: "confirmed" };
    } catch {
      return { status: 500, result: "callback_failed" };
    }
  }

  return {
    async handle(request) {
      if (options.secret !== undefined && !(await verifyWebhookToken(request.token, options.secret))) {
        return { status: 401, result: "unauthorized" };
      }
      let body: unknown = request.body;
      if (typeof body === "string") {
        try {
          body = JSON.parse(quoteLongIntegers(body.trim()));
        } catch {
          return { status: 400, result: "invalid", issues: [{ path: "", message: "body is not JSON" }] };
        }
      }
      const activation = activationWebhookSchema.safeParse(body);
      if (activation.success) {
        const { activationId: id, code: claimed } = activation.data;
        return once(`a:${id}:${String(claimed)}`, async () => {
          const c = await confirmCode(id, claimed);
          if (c === null) return { status: 409, result: "not_confirmed" };
          if ("class" in c) return { status: 503, result: "provider_unavailable", failure: c };
          return deliver(() => options.onCode({ providerActivationId: id, code: c.code, text: c.text }));
        });
      }
      const rental = rentalWebhookSchema.safeParse(body);
      if (rental.success && options.onRentalSms) {
        const { rentId: id, sms } = rental.data;
        const onRentalSms = options.onRentalSms;
        return once(`r:${id}:${sms.phoneFrom}:${sms.date ?? ""}:${sms.text}`, async () => {
          const status = await options.provider.getRentalStatus(id);
          if (status.isErr()) {
            return status.error.class === "declined"
              ? { status: 409, result: "not_confirmed" }
              : { status: 503, result: "provider_unavailable", failure: status.error };
          }
          const m = status.value.messages.find((x) => x.from === sms.phoneFrom && x.text === sms.text);
          if (!m) return { status: 409, result: "not_confirmed" };
          return deliver(() => onRentalSms({ providerRentalId: id, from: m.from, text: m.text }));
        });
      }
      return { status: 400, result: "invalid", issues: issuesFromZod(activation.error.issues) };
    },
  };
}
