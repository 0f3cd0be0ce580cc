/**
 * The body parser of the `handler_api` protocol family. Content-Type is unreliable, so the body alone decides:
 * trim; strip one layer of JSON quotes; JSON when it starts with `{` or `[`; else a token line split on the
 * **first** colon only (codes and SMS text contain colons). Three error envelopes are recognised: a text token
 * (HTTP 200 on the original service), HeroSMS's `{"title","details","info"}` (non-2xx), the rent API's
 * `{"status":"error","message"|"msg"|"error"}` (the original service's empty active list is
 * `{"status":"error","error":"NO_ACTIVATIONS"}`), and `{"status":"false","msg":"service is incorrect"}` of
 * `getPrices`. Anything else is `unknown`, never success.
 */

/** A parsed body. Whether a `token` is a success or an error is decided by the caller's token table. */
export type ParsedBody =
  /** A token line: `token` is the part before the first colon, `data` the rest (or `null` without a colon). */
  | { readonly kind: "token"; readonly token: string; readonly data: string | null }
  /** A JSON document that is not an error envelope. */
  | { readonly kind: "json"; readonly value: unknown }
  /** An error envelope (JSON); `token`/`data` split like a token line. */
  | {
      readonly kind: "error";
      readonly token: string;
      readonly data: string | null;
      readonly details: string | null;
      readonly info: Readonly<Record<string, unknown>> | null;
    }
  /** HTTP 204 with no body: a success without content (HeroSMS `finishActivation` / `cancelActivation`). */
  | { readonly kind: "no_content" }
  /** Not an answer of the protocol: empty, an HTML page, a Cloudflare block, garbage. */
  | { readonly kind: "unknown"; readonly reason: "empty" | "html" | "cloudflare" | "garbled" };

const TOKEN_LINE = /^([A-Z][A-Z0-9_]*)(?:(?::|\s+)([\s\S]*))?$/;

/** Parses a response body by the protocol's rules. */
export function parseBody(raw: string): ParsedBody {
  let text = raw.trim();
  if (text.length >= 2 && text.startsWith('"') && text.endsWith('"')) {
    // One layer only: `"\"X\""` stays a quoted string and falls through to `garbled`.
    try {
      const inner: unknown = JSON.parse(text);
      if (typeof inner === "string") text = inner.trim();
    } catch {
      return { kind: "unknown", reason: "garbled" };
    }
  }
  if (text === "") return { kind: "unknown", reason: "empty" };
  if (text.startsWith("{") || text.startsWith("[")) {
    let value: unknown;
    try {
      value = JSON.parse(quoteLongIntegers(text));
    } catch {
      return { kind: "unknown", reason: "garbled" };
    }
    return fromJson(value);
  }
  if (text.startsWith("<")) {
    // Cloudflare's 1020 block ("Access denied", served as an HTML 403 page): nothing reached the provider.
    if (/cloudflare/i.test(text) && /\b(?:error(?:\s+code)?:?\s*1020|1020)\b/i.test(text)) {
      return { kind: "unknown", reason: "cloudflare" };
    }
    return { kind: "unknown", reason: "html" };
  }
  if (/^error code:\s*1020\b/i.test(text)) return { kind: "unknown", reason: "cloudflare" };
  return splitTokenLine(text) ?? { kind: "unknown", reason: "garbled" };
}

/** Splits `TOKEN:data` on the first colon; `null` when the line does not start with an upper-case token. */
export function splitTokenLine(text: string): { kind: "token"; token: string; data: string | null } | null {
  const m = TOKEN_LINE.exec(text);
  if (!m?.[1]) return null;
  return { kind: "token", token: m[1], data: m[2] ?? null };
}

function fromJson(value: unknown): ParsedBody {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return { kind: "json", value };
  const o = value as Record<string, unknown>;
  // HeroSMS: {"title":"NO_NUMBERS","details":"…","info":{…}} on a non-2xx status.
  if (typeof o.title === "string" && ("details" in o || "info" in o) && o.status !== "success") {
    const t = splitTokenLine(o.title.trim());
    if (t) {
      return {
        kind: "error",
        token: t.token,
        data: t.data,
        details: typeof o.details === "string" ? o.details : null,
        info: isRecord(o.info) ? o.info : null,
      };
    }
  }
  // `getPrices` on an unknown service or country: {"status":"false","msg":"service is incorrect"}.
  if ((o.status === "false" || o.status === false) && typeof o.msg === "string") {
    const token = /service/i.test(o.msg) ? "BAD_SERVICE" : /country/i.test(o.msg) ? "BAD_COUNTRY" : null;
    if (token) return { kind: "error", token, data: null, details: o.msg, info: null };
    return { kind: "unknown", reason: "garbled" };
  }
  // The rent API: {"status":"error","message":"STATUS_WAIT_CODE"} (one clone says "msg"); the original
  // service's empty active list says {"status":"error","error":"NO_ACTIVATIONS"}.
  if (o.status === "error") {
    const message =
      typeof o.message === "string"
        ? o.message
        : typeof o.msg === "string"
          ? o.msg
          : typeof o.error === "string"
            ? o.error
            : null;
    const t = message === null ? null : splitTokenLine(message.trim());
    if (t) {
      return {
        kind: "error",
        token: t.token,
        data: t.data,
        details: null,
        info: isRecord(o.info) ? o.info : null,
      };
    }
    return { kind: "unknown", reason: "garbled" };
  }
  return { kind: "json", value };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/**
 * Quotes integer literals of 16 digits or more outside strings, so that ids above 2^53 survive `JSON.parse` with
 * every digit (`{"activationId":9100000000000001}` keeps its last digit as the string `"9100000000000001"`).
 */
export function quoteLongIntegers(json: string): string {
  // Strings are matched whole (and kept) so that digits inside them are never touched.
  if (!/\d{16}/.test(json)) return json;
  return json.replace(LONG_INTEGER_OR_STRING, (m) => (m.startsWith('"') ? m : `"${m}"`));
}

const LONG_INTEGER_OR_STRING = /"(?:[^"\\]|\\.)*"|(?<![\d.eE+-])-?\d{16,}(?![\d.eE])/g;

/**
 * Normalises a price that arrived as a number or a string into a decimal string of at most 4 decimals
 * (`12.5` → `"12.5"`, `"15"` → `"15"`, `0.1 + 0.2` → `"0.3"`); `null` when it is not a non-negative decimal.
 */
export function normalizePrice(v: unknown): string | null {
  let s: string;
  if (typeof v === "number") {
    if (!Number.isFinite(v) || v < 0) return null;
    s = v.toFixed(4);
  } else if (typeof v === "string" && /^\s*\d+(\.\d+)?\s*$/.test(v)) {
    const [whole = "0", frac = ""] = v.trim().split(".");
    if (frac.length > 4) return normalizePrice(Number(v));
    s = `${whole}.${frac}`;
  } else {
    return null;
  }
  const [whole = "0", frac = ""] = s.split(".");
  const w = whole.replace(/^0+(?=\d)/, "");
  const f = frac.replace(/0+$/, "");
  return f === "" ? w : `${w}.${f}`;
}

/**
 * Parses a provider date. One with an explicit zone (`Z` or `±hh:mm`) is exact; a zone-less one
 * (`2025-06-17 16:01:10`, `2026-2-13 12-00-00`) is read in the provider's zone, `offsetMinutes` east of UTC.
 * `null` when unparseable.
 */
export function parseProviderDate(v: unknown, offsetMinutes: number): number | null {
  if (typeof v !== "string") return null;
  const s = v.trim().replace(/^'|'$/g, "");
  const m =
    /^(\d{4})-(\d{1,2})-(\d{1,2})[T ](\d{1,2})[:-](\d{1,2})(?:[:-](\d{1,2}))?(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/.exec(
      s,
    );
  if (!m) return null;
  const [, y, mo, d, h, mi, se, zone] = m;
  const utc = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(se ?? 0));
  if (Number.isNaN(utc)) return null;
  if (zone === undefined) return utc - offsetMinutes * 60_000;
  if (zone === "Z") return utc;
  const zm = /^([+-])(\d{2}):?(\d{2})$/.exec(zone);
  if (!zm) return null;
  const sign = zm[1] === "-" ? -1 : 1;
  return utc - sign * (Number(zm[2]) * 60 + Number(zm[3])) * 60_000;
}

/** Formats epoch ms as a zone-less provider date `YYYY-MM-DD HH:mm:ss` in a zone `offsetMinutes` east of UTC. */
export function formatProviderDate(ms: number, offsetMinutes: number, separator: " " | "T" = " "): string {
  const d = new Date(ms + offsetMinutes * 60_000);
  const p = (n: number) => String(n).padStart(2, "0");
  return (
    `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())}${separator}` +
    `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`
  );
}
