import type { AlertChange } from "./store.js";

/** How one delivery attempt went. */
export type AlertSinkOutcome =
  | { readonly ok: true }
  | { readonly ok: false; readonly retryable: boolean; readonly error: string };

/** What a sink is told besides the change. */
export interface AlertDeliveryMeta {
  /** Stable across retries and crashes: a receiver drops a repeat by it. */
  readonly deliveryId: string;
  /** 1 for the first attempt. */
  readonly attempt: number;
}

/** A place alerts go. `deliver` may throw or reject: that counts as a retryable failure. */
export interface AlertSink {
  /** Unique among the notifier's sinks; part of the delivery id, so keep it stable across deploys. */
  readonly name: string;
  deliver(change: AlertChange, meta: AlertDeliveryMeta): Promise<AlertSinkOutcome>;
}

/** The `fetch` the HTTP sinks use. */
export type AlertFetch = (
  url: string,
  init: { method: string; headers: Record<string, string>; body: string; signal: AbortSignal },
) => Promise<{ readonly status: number }>;

/** The headers of a webhook delivery. */
export const alertHeaders = {
  deliveryId: "sms-fes-delivery-id",
  timestamp: "sms-fes-timestamp",
  signature: "sms-fes-signature",
} as const;

const encoder = new TextEncoder();

function hex(bytes: ArrayBuffer): string {
  return [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The signature of a webhook body: `v1=` and the hex HMAC-SHA256, keyed by the shared secret, of
 * `<timestamp>.<body>` (the timestamp is the `sms-fes-timestamp` header, epoch seconds), so a receiver can also
 * refuse old replays.
 */
export async function signAlertPayload(secret: string, timestamp: string, body: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return `v1=${hex(await crypto.subtle.sign("HMAC", key, encoder.encode(`${timestamp}.${body}`)))}`;
}

/** Checks a webhook signature in constant time (for receivers, and for tests). */
export async function verifyAlertSignature(
  secret: string,
  timestamp: string,
  body: string,
  signature: string,
): Promise<boolean> {
  const expected = await signAlertPayload(secret, timestamp, body);
  if (expected.length !== signature.length) return false;
  let diff = 0;
  for (let i = 0; i < expected.length; i++) diff |= expected.charCodeAt(i) ^ signature.charCodeAt(i);
  return diff === 0;
}

/** The JSON body of the generic webhook: the change itself, with the delivery id. */
export function alertWebhookBody(change: AlertChange, meta: AlertDeliveryMeta): string {
  return JSON.stringify({ deliveryId: meta.deliveryId, ...change });
}

/** A Slack-compatible incoming-webhook message (`text`, plus a block with the facts). */
export function slackAlertMessage(change: AlertChange): { text: string; blocks: unknown[] } {
  const icon =
    change.change === "cleared"
      ? ":white_check_mark:"
      : change.kind === "warn"
        ? ":warning:"
        : ":rotating_light:";
  const text = `${icon} sms-fes ${change.kind} ${change.change}: ${change.summary}`;
  return {
    text,
    blocks: [
      { type: "section", text: { type: "mrkdwn", text } },
      {
        type: "context",
        elements: [
          {
            type: "mrkdwn",
            text: `${change.source} · ${change.key} · ${new Date(change.atMs).toISOString()}`,
          },
        ],
      },
    ],
  };
}

/** 2xx is delivered; 408, 429 and 5xx are retried; other statuses are refused for good (a bad URL or secret). */
function outcomeOfStatus(status: number): AlertSinkOutcome {
  if (status >= 200 && status < 300) return { ok: true };
  return { ok: false, retryable: status === 408 || status === 429 || status >= 500, error: `http ${status}` };
}

async function post(
  fetchFn: AlertFetch,
  url: string,
  headers: Record<string, string>,
  body: string,
  timeoutMs: number,
): Promise<AlertSinkOutcome> {
  try {
    const response = await fetchFn(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    return outcomeOfStatus(response.status);
  } catch (e) {
    // Never the URL: an incoming-webhook URL is a secret.
    return { ok: false, retryable: true, error: e instanceof Error ? e.name : "fetch failed" };
  }
}

/** Options of {@link webhookAlertSink}. */
export interface WebhookAlertSinkOptions {
  readonly url: string;
  /** Shared secret of the signature header. */
  readonly secret: string;
  /** Default `webhook`. */
  readonly name?: string;
  readonly fetch?: AlertFetch;
  /** Per attempt (default 10 s). */
  readonly timeoutMs?: number;
  /** Epoch ms for the timestamp header (default `Date.now`). */
  readonly now?: () => number;
}

/** A generic JSON webhook: the change as JSON, signed (`sms-fes-signature`), with a stable delivery id header. */
export function webhookAlertSink(options: WebhookAlertSinkOptions): AlertSink {
  const fetchFn = options.fetch ?? (globalThis.fetch as unknown as AlertFetch);
  const now = options.now ?? Date.now;
  return {
    name: options.name ?? "webhook",
    async deliver(change, meta) {
      const body = alertWebhookBody(change, meta);
      const timestamp = String(Math.floor(now() / 1000));
      const signature = await signAlertPayload(options.secret, timestamp, body);
      return post(
        fetchFn,
        options.url,
        {
          [alertHeaders.deliveryId]: meta.deliveryId,
          [alertHeaders.timestamp]: timestamp,
          [alertHeaders.signature]: signature,
        },
        body,
        options.timeoutMs ?? 10_000,
      );
    },
  };
}

/** Options of {@link slackAlertSink}. */
export interface SlackAlertSinkOptions {
  /** The incoming-webhook URL (a secret: never logged). */
  readonly url: string;
  /** Default `slack`. */
  readonly name?: string;
  readonly fetch?: AlertFetch;
  readonly timeoutMs?: number;
}

/** A Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat, Discord's `/slack` endpoint). */
export function slackAlertSink(options: SlackAlertSinkOptions): AlertSink {
  const fetchFn = options.fetch ?? (globalThis.fetch as unknown as AlertFetch);
  return {
    name: options.name ?? "slack",
    deliver: (change, meta) =>
      post(
        fetchFn,
        options.url,
        { [alertHeaders.deliveryId]: meta.deliveryId },
        JSON.stringify(slackAlertMessage(change)),
        options.timeoutMs ?? 10_000,
      ),
  };
}

/** A sink that calls a function (email, a pager, a queue …); a throw or rejection is retried. */
export function callbackAlertSink(
  name: string,
  deliver: (change: AlertChange, meta: AlertDeliveryMeta) => void | PromiseLike<void>,
): AlertSink {
  return {
    name,
    async deliver(change, meta) {
      try {
        await deliver(change, meta);
        return { ok: true };
      } catch (e) {
        return { ok: false, retryable: true, error: e instanceof Error ? e.message : String(e) };
      }
    },
  };
}
