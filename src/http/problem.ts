/**
 * Errors as RFC 9457 `application/problem+json`: one table from each error `type` (the library's and the HTTP
 * layer's own) to its status. `docs/http.md` prints the same table, kept in step by a test.
 */
import type { FesError } from "../core/errors.js";

/** Errors the HTTP layer itself answers with, before or around a call into the service. */
export type HttpLayerErrorType =
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "method_not_allowed"
  | "payload_too_large"
  | "unsupported_media_type"
  | "idempotency_in_flight"
  | "internal_error";

/** One row of the table: the status, a short title, and whether the answer carries `Retry-After`. */
export interface ProblemStatus {
  readonly status: number;
  readonly title: string;
  readonly retryAfter?: true;
}

/**
 * The status of every error `type`. 4xx answers carry the error's fields as extension members; 5xx answers carry
 * only the type (a database or provider message is no business of the caller). A type missing here (one added
 * later to a union) is answered as 500 `internal_error`'s row would be, never by throwing.
 */
export const problemStatuses = {
  invalid_input: { status: 400, title: "The request is not valid" },
  unauthorized: { status: 401, title: "Authentication required" },
  insufficient_funds: { status: 402, title: "Not enough available money in the wallet" },
  forbidden: { status: 403, title: "Not allowed" },
  not_found: { status: 404, title: "No such route" },
  wallet_not_found: { status: 404, title: "No such wallet" },
  activation_not_found: { status: 404, title: "No such activation" },
  rental_not_found: { status: 404, title: "No such rental" },
  hold_not_found: { status: 404, title: "No such hold" },
  method_not_allowed: { status: 405, title: "Method not allowed on this route" },
  wallet_exists: { status: 409, title: "The wallet exists with another currency" },
  hold_exists: { status: 409, title: "The operation already has a hold" },
  hold_not_open: { status: 409, title: "The hold is already resolved" },
  transition_not_allowed: { status: 409, title: "Not allowed in the current state" },
  price_above_max: { status: 409, title: "The price is above the ceiling the request set; quote again" },
  provider_mismatch: { status: 409, title: "The record belongs to another provider's service" },
  too_early_to_cancel: { status: 409, title: "Inside the provider's early-cancel window", retryAfter: true },
  idempotency_in_flight: {
    status: 409,
    title: "A request with this key is still being processed",
    retryAfter: true,
  },
  payload_too_large: { status: 413, title: "The request body is too large" },
  unsupported_media_type: { status: 415, title: "The request body must be application/json" },
  idempotency_conflict: { status: 422, title: "The idempotency key was used for another request" },
  currency_mismatch: { status: 422, title: "The currency is not the wallet's" },
  settle_exceeds_hold: { status: 422, title: "Settling more than the hold holds" },
  reversal_exceeds_settled: { status: 422, title: "Giving back more than was settled" },
  service_disabled: { status: 422, title: "This service is disabled in this country" },
  purchase_failed: { status: 422, title: "The provider sold no number" },
  unknown_service_code: { status: 422, title: "The provider has no such service code" },
  internal_error: { status: 500, title: "Internal error" },
  provider_unavailable: { status: 503, title: "The provider is unavailable; retry later", retryAfter: true },
  storage_failure: { status: 503, title: "The storage is unavailable; retry later", retryAfter: true },
} as const satisfies Record<FesError["type"] | HttpLayerErrorType, ProblemStatus>;

/** Every error type the table knows. */
export type ProblemType = keyof typeof problemStatuses;

/** The row of a type; an unknown type gets the `internal_error` row. */
export function problemStatusOf(type: string): ProblemStatus & { readonly known: boolean } {
  if (Object.hasOwn(problemStatuses, type)) {
    return { ...(problemStatuses[type as ProblemType] as ProblemStatus), known: true };
  }
  return { ...problemStatuses.internal_error, known: false };
}

/** The `type` URI of a problem: a URN naming the library's error type. */
export function problemTypeUri(type: string): string {
  return `urn:sms-fes:problem:${type}`;
}

/** The problem document of an error (any object with a string `type`), and the headers that go with it. */
export function problemOf(error: { readonly type: string; readonly [k: string]: unknown }): {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly headers: Record<string, string>;
} {
  const row = problemStatusOf(error.type);
  const code = row.known ? error.type : "internal_error";
  const body: Record<string, unknown> = {
    type: problemTypeUri(code),
    title: row.title,
    status: row.status,
    code,
  };
  if (row.status < 500) {
    for (const [k, v] of Object.entries(error)) if (k !== "type" && !(k in body)) body[k] = v;
    if (error.type === "invalid_input") body.detail = issuesDetail(error.issues);
  }
  const headers: Record<string, string> = { "content-type": "application/problem+json" };
  if ("retryAfter" in row) {
    const ms = typeof error.retryAfterMs === "number" && error.retryAfterMs > 0 ? error.retryAfterMs : 1000;
    const seconds = Math.max(1, Math.ceil(ms / 1000));
    headers["retry-after"] = String(seconds);
    body.retryAfterSeconds = seconds;
  }
  return { status: row.status, body, headers };
}

function issuesDetail(issues: unknown): string | undefined {
  if (!Array.isArray(issues)) return undefined;
  return issues
    .map((i: { path?: unknown; message?: unknown }) =>
      i.path === "" || i.path === undefined ? String(i.message) : `${String(i.path)}: ${String(i.message)}`,
    )
    .join("; ");
}

/** A problem+json `Response` for an error. */
export function problemResponse(
  error: { readonly type: string; readonly [k: string]: unknown },
  extraHeaders: Record<string, string> = {},
): Response {
  const p = problemOf(error);
  return new Response(JSON.stringify(p.body), {
    status: p.status,
    headers: { ...p.headers, ...extraHeaders },
  });
}

/** The table as Markdown rows (`| type | status | title |`), in status order: what `docs/http.md` prints. */
export function problemTableMarkdown(): string {
  const rows = Object.entries(problemStatuses as Record<string, ProblemStatus>)
    .sort(([a, x], [b, y]) => x.status - y.status || (a < b ? -1 : a > b ? 1 : 0))
    .map(
      ([type, r]) =>
        `| \`${type}\` | ${r.status} | ${r.title}${r.retryAfter ? " (with `Retry-After`)" : ""} |`,
    );
  return ["| error `type` | HTTP status | title |", "| --- | --- | --- |", ...rows].join("\n");
}
