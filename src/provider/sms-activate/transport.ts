import { readStreamBounded } from "../../core/bounded-read.js";
import type { Clock } from "../../core/clock.js";
import { type ParsedBody, parseBody } from "./parse.js";
import type { Timer } from "./timer.js";

/**
 * A minimal `fetch` signature (the global one, or any compatible implementation). The adapter asks for
 * `redirect: "manual"` and reads `body` as a stream when there is one (so the read is bounded after
 * decompression); `text()` is the fallback for implementations without a stream.
 */
export type FetchLike = (
  url: string,
  init: {
    method: string;
    signal: AbortSignal;
    headers?: Record<string, string>;
    redirect?: "manual" | "follow" | "error";
  },
) => Promise<{
  /** The HTTP status. */
  status: number;
  /** The response headers (only `retry-after` is read). */
  headers: {
    /** A header's value, or `null`. */
    get(name: string): string | null;
  };
  /** The body as a stream, when the implementation has one. */
  body?: ReadableStream<Uint8Array> | null;
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
  /** Most bytes of a body read (after decompression); a longer body is a lost answer (default 1 MiB). */
  readonly maxBodyBytes?: number | undefined;
}

/** Milliseconds from a monotonic timer. */
const monotonicNow = (): number => globalThis.performance?.now() ?? Date.now();

/** The default bound on a body's bytes. */
export const DEFAULT_MAX_BODY_BYTES = 1_048_576;

/** Longest excerpt of an answer kept in a failure's `detail`. */
export const DETAIL_EXCERPT_CHARS = 160;

/** Cuts a text to a short excerpt for a failure's `detail` (whole characters, never half a surrogate pair). */
export function excerpt(text: string, max = DETAIL_EXCERPT_CHARS): string {
  if (text.length <= max) return text;
  const cut = Array.from(text.slice(0, max + 1))
    .slice(0, -1)
    .join("");
  return `${cut.slice(0, max)}… (${text.length} chars)`;
}

/** Keys shorter than this are not searched for in answers (a 1-letter test key would blank every such letter). */
const MIN_REDACTED_KEY_LENGTH = 6;

/**
 * Removes every spelling of the key (raw, URL-encoded, upper- and lower-case) from a text that leaves the
 * adapter. Applied to every answer body before it is parsed, so nothing derived from an answer carries it.
 */
export function redact(text: string, apiKey: string): string {
  if (apiKey.length < MIN_REDACTED_KEY_LENGTH) return text;
  let out = text;
  for (const k of new Set([
    apiKey,
    encodeURIComponent(apiKey),
    new URLSearchParams({ k: apiKey }).toString().slice(2),
    apiKey.toUpperCase(),
    apiKey.toLowerCase(),
  ])) {
    out = out.split(k).join("***");
  }
  return out;
}

/** Reads a body up to `max` bytes (after decompression); `null` when it is longer. */
async function readBounded(res: Awaited<ReturnType<FetchLike>>, max: number): Promise<string | null> {
  const stream = res.body;
  if (stream === undefined || stream === null || typeof stream.getReader !== "function") {
    const text = await res.text();
    return text.length > max ? null : text;
  }
  const all = await readStreamBounded(stream, max);
  if (all === null) return null;
  return new TextDecoder().decode(all);
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
 * covers reading the body). Redirects are not followed (a 3xx is a lost answer: another origin's body is never
 * trusted); the body is read up to `maxBodyBytes` after decompression. Every answer is parsed; what is not a
 * protocol answer is `lost`, a 429 or a Cloudflare 1020 block is `limited`. Never throws, and nothing it returns
 * contains the key.
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
  // Durations come from a monotonic timer, never the business clock (a manual clock in tests stands still).
  const started = monotonicNow();
  const report = (a: Attempt): Attempt => {
    config.onEvent?.({
      action,
      attempt: attemptNo,
      outcome: a.type,
      httpStatus: a.type === "lost" ? null : a.httpStatus,
      reason: a.type === "lost" ? a.reason : null,
      durationMs: monotonicNow() - started,
    });
    return a;
  };
  try {
    const res = await config.fetch(url, { method: "GET", signal: controller.signal, redirect: "manual" });
    if (res.status >= 300 && res.status < 400) {
      await res.body?.cancel?.().catch(() => undefined);
      return report({
        type: "lost",
        reason: "redirect",
        detail: `HTTP ${res.status} redirect, not followed`,
      });
    }
    const max = config.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    const raw = await readBounded(res, max);
    if (raw === null) {
      return report({
        type: "lost",
        reason: "too_large",
        detail: `HTTP ${res.status}, body over ${max} bytes`,
      });
    }
    const text = redact(raw, config.apiKey);
    const retryAfterMs = parseRetryAfter(res.headers.get("retry-after"), config.clock.now());
    const body: ParsedBody =
      res.status === 204 && text.trim() === "" ? { kind: "no_content" } : parseBody(text);
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
      detail: excerpt(redact(timedOut ? `no answer within ${config.timeoutMs} ms` : message, config.apiKey)),
    });
  } finally {
    config.timer.clearTimeout(handle);
  }
}
