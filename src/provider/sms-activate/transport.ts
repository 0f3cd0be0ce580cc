import type { Clock } from "../../core/clock.js";
import { type ParsedBody, parseBody } from "./parse.js";
import type { Timer } from "./timer.js";

/** A minimal `fetch` signature (the global one, or any compatible implementation). */
export type FetchLike = (
  url: string,
  init: { method: string; signal: AbortSignal; headers?: Record<string, string> },
) => Promise<{
  /** The HTTP status. */
  status: number;
  /** The response headers (only `retry-after` is read). */
  headers: {
    /** A header's value, or `null`. */
    get(name: string): string | null;
  };
  /** The body as text. */
  text(): Promise<string>;
}>;

/** One HTTP exchange, as reported to `onEvent`: never the URL, the key or the body. */
export interface SmsActivateEvent {
  readonly action: string;
  readonly attempt: number;
  /** `answer`: a protocol answer; `limited`: rate limited (nothing happened); `lost`: no usable answer. */
  readonly outcome: "answer" | "limited" | "lost";
  readonly httpStatus: number | null;
  /** For `lost`: why (`timeout`, `network`, `http_502`, `empty`, `html`, `garbled`, …). */
  readonly reason: string | null;
  readonly durationMs: number;
}

/** The result of one attempt. */
export type Attempt =
  | {
      readonly type: "answer";
      readonly httpStatus: number;
      readonly body: ParsedBody;
      readonly retryAfterMs: number | null;
    }
  | { readonly type: "limited"; readonly httpStatus: number; readonly retryAfterMs: number }
  | { readonly type: "lost"; readonly reason: string; readonly detail: string };

/** What the transport needs. */
export interface TransportConfig {
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly fetch: FetchLike;
  readonly timeoutMs: number;
  readonly timer: Timer;
  readonly clock: Clock;
  /** Called once per HTTP exchange, for metrics and logs. */
  readonly onEvent?: ((event: SmsActivateEvent) => void) | undefined;
}

/** Removes every spelling of the key (raw and URL-encoded) from a text that leaves the adapter. */
export function redact(text: string, apiKey: string): string {
  if (apiKey === "") return text;
  let out = text;
  for (const k of new Set([
    apiKey,
    encodeURIComponent(apiKey),
    new URLSearchParams({ k: apiKey }).toString().slice(2),
  ])) {
    out = out.split(k).join("***");
  }
  return out;
}

/** Parses a Retry-After header (seconds or an HTTP date) into ms from now; `null` when absent or invalid. */
export function parseRetryAfter(header: string | null, nowMs: number): number | null {
  if (header === null || header.trim() === "") return null;
  const s = header.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Math.ceil(Number(s) * 1000);
  const at = Date.parse(s);
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}

/**
 * Performs one call: GET `<baseUrl>?action=…&…&api_key=…` with a timeout driven by the injected timer (the timeout
 * covers reading the body). Every answer is parsed; what is not a protocol answer is `lost`, a 429 or a
 * Cloudflare 1020 block is `limited`. Never throws, and nothing it returns contains the key.
 */
export async function attempt(
  config: TransportConfig,
  action: string,
  params: Readonly<Record<string, string>>,
  attemptNo: number,
): Promise<Attempt> {
  const query = new URLSearchParams({ action, ...params, api_key: config.apiKey });
  const url = `${config.baseUrl}${config.baseUrl.includes("?") ? "&" : "?"}${query.toString()}`;
  const controller = new AbortController();
  let timedOut = false;
  const handle = config.timer.setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, config.timeoutMs);
  const started = config.clock.now();
  const report = (a: Attempt): Attempt => {
    config.onEvent?.({
      action,
      attempt: attemptNo,
      outcome: a.type,
      httpStatus: a.type === "lost" ? null : a.httpStatus,
      reason: a.type === "lost" ? a.reason : null,
      durationMs: config.clock.now() - started,
    });
    return a;
  };
  try {
    const res = await config.fetch(url, { method: "GET", signal: controller.signal });
    const text = await res.text();
    const retryAfterMs = parseRetryAfter(res.headers.get("retry-after"), config.clock.now());
    const body = parseBody(text);
    if (res.status === 429 || (body.kind === "unknown" && body.reason === "cloudflare")) {
      return report({ type: "limited", httpStatus: res.status, retryAfterMs: retryAfterMs ?? 1000 });
    }
    if (body.kind === "unknown") {
      const reason = res.status >= 200 && res.status < 300 ? body.reason : `http_${res.status}`;
      return report({ type: "lost", reason, detail: `HTTP ${res.status}, ${body.reason} body` });
    }
    // A token or JSON answer on a 5xx without an error envelope is not trusted as an answer.
    if (res.status >= 500 && body.kind !== "error" && body.kind !== "token") {
      return report({ type: "lost", reason: `http_${res.status}`, detail: `HTTP ${res.status}` });
    }
    return report({ type: "answer", httpStatus: res.status, body, retryAfterMs });
  } catch (e) {
    const reason = timedOut ? "timeout" : "network";
    // fetch reports a refused or reset connection as "fetch failed" with the reason in `cause`.
    const cause = e instanceof Error && e.cause instanceof Error ? e.cause : undefined;
    const message =
      cause !== undefined ? cause.message : e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    return report({
      type: "lost",
      reason,
      detail: redact(timedOut ? `no answer within ${config.timeoutMs} ms` : message, config.apiKey),
    });
  } finally {
    config.timer.clearTimeout(handle);
  }
}
