/**
 * The route table of the HTTP API: data (method, path, access, schemas, the error types it may answer) plus the
 * function that serves it. The handler dispatches from it and the OpenAPI document is generated from it.
 */
import type { ResultAsync } from "neverthrow";
import type * as z from "zod";
import type { ActivationRecord, RentalRecord } from "../core/records.js";
import type { Fes } from "../fes/service.js";
import type { ProblemType } from "./problem.js";
import {
  activationView,
  buyActivationBody,
  buyRentalBody,
  createWalletBody,
  depositBody,
  emptyBody,
  extendRentalBody,
  healthQuery,
  priceListQuery,
  priceView,
  quoteQuery,
  rentalView,
  statementQuery,
  statementView,
  sweepView,
  walletView,
} from "./schemas.js";

/** The service methods the handler calls: a narrow view of the service object. */
export type HttpFes = Pick<
  Fes,
  | "createWallet"
  | "deposit"
  | "getBalance"
  | "statement"
  | "buyActivation"
  | "getActivation"
  | "pollActivation"
  | "requestAnotherCode"
  | "cancelActivation"
  | "finishActivation"
  | "buyRental"
  | "getRental"
  | "extendRental"
  | "cancelRental"
  | "finishRental"
  | "sweep"
>;

/** An error value as any of the library's unions carries it. */
export type TypedError = { readonly type: string; readonly [k: string]: unknown };

/** A result the way a route hands it back: an HTTP status and a JSON value, or an error for the problem table. */
export type RouteResult =
  | { readonly ok: true; readonly status: number; readonly json: unknown }
  | { readonly ok: true; readonly status: number; readonly html: string }
  | { readonly ok: false; readonly error: TypedError };

/** What a route's `serve` gets: the validated parts of the request. */
export interface RouteCall {
  readonly fes: HttpFes;
  /** The authenticated wallet (customer routes), else `""`. */
  readonly walletId: string;
  readonly params: Readonly<Record<string, string>>;
  readonly query: unknown;
  readonly body: unknown;
  /** The `Idempotency-Key` header, validated; `undefined` when absent. */
  readonly idempotencyKey: string | undefined;
  /** The actor recorded in the audit trail (`customer:<wallet>` or `admin`). */
  readonly actor: string;
  /** Extra services of the handler (price list, dashboard). */
  readonly extras: RouteExtras;
}

/** Services a route may need beyond the service object; set by the handler from its options. */
export interface RouteExtras {
  readonly quote?: (input: z.output<typeof quoteQuery> & { walletId: string }) => Promise<RouteResult>;
  readonly priceList?: (
    input: z.output<typeof priceListQuery> & { walletId: string },
  ) => Promise<RouteResult>;
  readonly dashboard?: (query: z.output<typeof healthQuery>) => Promise<RouteResult>;
  readonly health?: (query: z.output<typeof healthQuery>) => Promise<RouteResult>;
}

/** One route. */
export interface Route {
  readonly method: "GET" | "POST";
  /** Under the handler's prefix, with `{name}` parameters. */
  readonly path: string;
  readonly access: "customer" | "admin";
  readonly operationId: string;
  readonly summary: string;
  readonly query?: z.ZodType;
  readonly body?: z.ZodType;
  readonly idempotencyKey?: "required" | "optional";
  readonly response: { readonly status: number; readonly schema?: z.ZodType; readonly html?: true };
  /** The error types the route may answer with (besides the HTTP layer's own). */
  readonly errors: readonly ProblemType[];
  /** Which extra it needs; without it the route is not mounted. */
  readonly needs?: keyof RouteExtras;
  serve(call: RouteCall): Promise<RouteResult>;
}

/** Turns a service result into a route result. */
export async function answer<T>(
  result: ResultAsync<T, TypedError> | PromiseLike<{ isOk(): boolean; value?: T; error?: TypedError }>,
  status: number,
  view: (value: T) => unknown = (v) => v,
): Promise<RouteResult> {
  const r = (await result) as { isOk(): boolean; value: T; error: TypedError };
  return r.isOk() ? { ok: true, status, json: view(r.value) } : { ok: false, error: r.error };
}

/** An activation as its customer sees it. */
export function viewActivation(a: ActivationRecord): z.output<typeof activationView> {
  return {
    id: a.id,
    state: a.state,
    service: a.service ?? a.serviceCode,
    country: a.country ?? a.countryCode,
    phone: a.phone,
    codes: [...a.codes],
    priceMinor: a.priceMinor,
    currency: a.currency,
    cashbackMinor: a.cashbackMinor,
    failureReason: a.failureReason,
    retryOf: a.retryOf,
    createdAtMs: a.createdAtMs,
    issuedAtMs: a.issuedAtMs,
    deadlineAtMs: a.deadlineAtMs,
    endedAtMs: a.endedAtMs,
    closedAtMs: a.closedAtMs,
  };
}

/** A rental as its customer sees it. */
export function viewRental(r: RentalRecord): z.output<typeof rentalView> {
  return {
    id: r.id,
    state: r.state,
    service: r.service ?? r.serviceCode,
    country: r.country ?? r.countryCode,
    phone: r.phone,
    currency: r.currency,
    priceMinor: r.priceMinor,
    periods: r.periods.map((p) => ({ hours: p.hours, priceMinor: p.priceMinor, state: p.state })),
    messageCount: r.messageCount,
    failureReason: r.failureReason,
    createdAtMs: r.createdAtMs,
    startedAtMs: r.startedAtMs,
    endsAtMs: r.endsAtMs,
    endedAtMs: r.endedAtMs,
  };
}

/** Loads an activation of the calling wallet; another wallet's is answered as not found. */
async function ownActivation(call: RouteCall): Promise<RouteResult & { record?: ActivationRecord }> {
  const id = call.params.id ?? "";
  const r = await call.fes.getActivation(id);
  if (r.isErr()) return { ok: false, error: r.error };
  if (r.value.walletId !== call.walletId) {
    return { ok: false, error: { type: "activation_not_found", activationId: id } };
  }
  return { ok: true, status: 200, json: null, record: r.value };
}

/** Loads a rental of the calling wallet; another wallet's is answered as not found. */
async function ownRental(call: RouteCall): Promise<RouteResult & { record?: RentalRecord }> {
  const id = call.params.id ?? "";
  const r = await call.fes.getRental(id);
  if (r.isErr()) return { ok: false, error: r.error };
  if (r.value.walletId !== call.walletId)
    return { ok: false, error: { type: "rental_not_found", rentalId: id } };
  return { ok: true, status: 200, json: null, record: r.value };
}

/** Runs `then` on the caller's own activation. */
const onActivation =
  (then: (call: RouteCall, a: ActivationRecord) => Promise<RouteResult>) =>
  async (call: RouteCall): Promise<RouteResult> => {
    const own = await ownActivation(call);
    return own.record === undefined ? own : then(call, own.record);
  };

/** Runs `then` on the caller's own rental. */
const onRental =
  (then: (call: RouteCall, r: RentalRecord) => Promise<RouteResult>) =>
  async (call: RouteCall): Promise<RouteResult> => {
    const own = await ownRental(call);
    return own.record === undefined ? own : then(call, own.record);
  };

const STEP_ERRORS = [
  "activation_not_found",
  "transition_not_allowed",
  "idempotency_conflict",
  "storage_failure",
] as const;
const RENTAL_STEP_ERRORS = [
  "rental_not_found",
  "transition_not_allowed",
  "idempotency_conflict",
  "storage_failure",
] as const;
const PURCHASE_ERRORS = [
  "invalid_input",
  "wallet_not_found",
  "currency_mismatch",
  "insufficient_funds",
  "idempotency_conflict",
  "idempotency_in_flight",
  "service_disabled",
  "purchase_failed",
  "provider_unavailable",
  "storage_failure",
] as const;

/** Every route, in the order the OpenAPI document lists them. */
export const routes: readonly Route[] = [
  {
    method: "GET",
    path: "/wallet",
    access: "customer",
    operationId: "getWallet",
    summary: "The caller's wallet: balance, frozen and available amounts",
    response: { status: 200, schema: walletView },
    errors: ["wallet_not_found", "storage_failure"],
    serve: (c) => answer(c.fes.getBalance(c.walletId), 200),
  },
  {
    method: "GET",
    path: "/wallet/statement",
    access: "customer",
    operationId: "getStatement",
    summary: "A page of the caller's statement, oldest first; page on with `afterSeq`",
    query: statementQuery,
    response: { status: 200, schema: statementView },
    errors: ["invalid_input", "wallet_not_found", "storage_failure"],
    serve: (c) => {
      const q = c.query as z.output<typeof statementQuery>;
      return answer(
        c.fes.statement({
          walletId: c.walletId,
          ...(q.afterSeq === undefined ? {} : { afterSeq: q.afterSeq }),
          ...(q.limit === undefined ? {} : { limit: q.limit }),
        }),
        200,
      );
    },
  },
  {
    method: "GET",
    path: "/quote",
    access: "customer",
    operationId: "getQuote",
    summary: "The customer price of a service in a country (an activation, or a rental with `hours`)",
    query: quoteQuery,
    response: { status: 200, schema: priceView },
    errors: ["invalid_input", "provider_unavailable"],
    needs: "quote",
    serve: (c) =>
      c.extras.quote?.({ ...(c.query as z.output<typeof quoteQuery>), walletId: c.walletId }) ??
      Promise.resolve({ ok: false, error: { type: "not_found" } }),
  },
  {
    method: "GET",
    path: "/prices",
    access: "customer",
    operationId: "getPriceList",
    summary: "The price list, optionally for one service or country",
    query: priceListQuery,
    response: { status: 200, schema: priceView },
    errors: ["invalid_input", "provider_unavailable"],
    needs: "priceList",
    serve: (c) =>
      c.extras.priceList?.({ ...(c.query as z.output<typeof priceListQuery>), walletId: c.walletId }) ??
      Promise.resolve({ ok: false, error: { type: "not_found" } }),
  },
  {
    method: "POST",
    path: "/activations",
    access: "customer",
    operationId: "buyActivation",
    summary: "Buys an activation: the price is frozen until a code arrives (settled) or it ends without one",
    body: buyActivationBody,
    idempotencyKey: "required",
    response: { status: 201, schema: activationView },
    errors: [...PURCHASE_ERRORS],
    serve: (c) => {
      const b = c.body as z.output<typeof buyActivationBody>;
      return answer(
        c.fes.buyActivation({
          walletId: c.walletId,
          service: b.service,
          country: b.country,
          idempotencyKey: c.idempotencyKey ?? "",
          actor: c.actor,
        }),
        201,
        viewActivation,
      );
    },
  },
  {
    method: "GET",
    path: "/activations/{id}",
    access: "customer",
    operationId: "getActivation",
    summary: "One of the caller's activations",
    response: { status: 200, schema: activationView },
    errors: ["activation_not_found", "storage_failure"],
    serve: onActivation(async (_c, a) => ({ ok: true, status: 200, json: viewActivation(a) })),
  },
  {
    method: "POST",
    path: "/activations/{id}/poll",
    access: "customer",
    operationId: "pollActivation",
    summary: "Asks the provider for news (a code, or the end of the activation) and answers the activation",
    body: emptyBody,
    response: { status: 200, schema: activationView },
    errors: [...STEP_ERRORS, "too_early_to_cancel", "provider_unavailable"],
    serve: onActivation((c, a) => answer(c.fes.pollActivation(a.id), 200, viewActivation)),
  },
  {
    method: "POST",
    path: "/activations/{id}/another-code",
    access: "customer",
    operationId: "requestAnotherCode",
    summary: "Asks for another code on the same number (free)",
    body: emptyBody,
    response: { status: 200, schema: activationView },
    errors: [...STEP_ERRORS, "provider_unavailable"],
    serve: onActivation((c, a) =>
      answer(c.fes.requestAnotherCode({ activationId: a.id, actor: c.actor }), 200, viewActivation),
    ),
  },
  {
    method: "POST",
    path: "/activations/{id}/cancel",
    access: "customer",
    operationId: "cancelActivation",
    summary:
      "Cancels an activation without a code (refused inside the early-cancel window, with Retry-After)",
    body: emptyBody,
    idempotencyKey: "optional",
    response: { status: 200, schema: activationView },
    errors: [...STEP_ERRORS, "too_early_to_cancel", "provider_unavailable"],
    serve: onActivation((c, a) =>
      answer(
        c.fes.cancelActivation({
          activationId: a.id,
          actor: c.actor,
          ...(c.idempotencyKey === undefined ? {} : { idempotencyKey: c.idempotencyKey }),
        }),
        200,
        viewActivation,
      ),
    ),
  },
  {
    method: "POST",
    path: "/activations/{id}/finish",
    access: "customer",
    operationId: "finishActivation",
    summary: "Finishes a received activation: the number stops being usable; the charge stands",
    body: emptyBody,
    response: { status: 200, schema: activationView },
    errors: [...STEP_ERRORS],
    serve: onActivation((c, a) =>
      answer(c.fes.finishActivation({ activationId: a.id, actor: c.actor }), 200, viewActivation),
    ),
  },
  {
    method: "POST",
    path: "/rentals",
    access: "customer",
    operationId: "buyRental",
    summary: "Rents a number for `hours`: the price stays frozen until the rental ends",
    body: buyRentalBody,
    idempotencyKey: "required",
    response: { status: 201, schema: rentalView },
    errors: [...PURCHASE_ERRORS],
    serve: (c) => {
      const b = c.body as z.output<typeof buyRentalBody>;
      return answer(
        c.fes.buyRental({
          walletId: c.walletId,
          service: b.service,
          country: b.country,
          hours: b.hours,
          idempotencyKey: c.idempotencyKey ?? "",
          actor: c.actor,
        }),
        201,
        viewRental,
      );
    },
  },
  {
    method: "GET",
    path: "/rentals/{id}",
    access: "customer",
    operationId: "getRental",
    summary: "One of the caller's rentals",
    response: { status: 200, schema: rentalView },
    errors: ["rental_not_found", "storage_failure"],
    serve: onRental(async (_c, r) => ({ ok: true, status: 200, json: viewRental(r) })),
  },
  {
    method: "POST",
    path: "/rentals/{id}/extend",
    access: "customer",
    operationId: "extendRental",
    summary: "Extends an active rental: the extra price is frozen as a new hold",
    body: extendRentalBody,
    idempotencyKey: "required",
    response: { status: 200, schema: rentalView },
    errors: [...RENTAL_STEP_ERRORS, ...PURCHASE_ERRORS],
    serve: onRental((c, r) =>
      answer(
        c.fes.extendRental({
          rentalId: r.id,
          hours: (c.body as z.output<typeof extendRentalBody>).hours,
          idempotencyKey: c.idempotencyKey ?? "",
          actor: c.actor,
        }),
        200,
        viewRental,
      ),
    ),
  },
  {
    method: "POST",
    path: "/rentals/{id}/cancel",
    access: "customer",
    operationId: "cancelRental",
    summary: "Cancels a rental: released inside the refund window, else an early finish",
    body: emptyBody,
    idempotencyKey: "optional",
    response: { status: 200, schema: rentalView },
    errors: [...RENTAL_STEP_ERRORS, "provider_unavailable"],
    serve: onRental((c, r) =>
      answer(
        c.fes.cancelRental({
          rentalId: r.id,
          actor: c.actor,
          ...(c.idempotencyKey === undefined ? {} : { idempotencyKey: c.idempotencyKey }),
        }),
        200,
        viewRental,
      ),
    ),
  },
  {
    method: "POST",
    path: "/rentals/{id}/finish",
    access: "customer",
    operationId: "finishRental",
    summary: "Ends a rental early: settled in full or pro rata by the refund policy",
    body: emptyBody,
    idempotencyKey: "optional",
    response: { status: 200, schema: rentalView },
    errors: [...RENTAL_STEP_ERRORS, "provider_unavailable"],
    serve: onRental((c, r) =>
      answer(
        c.fes.finishRental({
          rentalId: r.id,
          actor: c.actor,
          ...(c.idempotencyKey === undefined ? {} : { idempotencyKey: c.idempotencyKey }),
        }),
        200,
        viewRental,
      ),
    ),
  },
  {
    method: "GET",
    path: "/admin",
    access: "admin",
    operationId: "dashboard",
    summary: "The live dashboard (HTML) over the window `24h`, `7d` or `30d`",
    query: healthQuery,
    response: { status: 200, html: true },
    errors: ["invalid_input", "storage_failure"],
    needs: "dashboard",
    serve: (c) =>
      c.extras.dashboard?.(c.query as z.output<typeof healthQuery>) ??
      Promise.resolve({ ok: false, error: { type: "not_found" } }),
  },
  {
    method: "GET",
    path: "/admin/health",
    access: "admin",
    operationId: "health",
    summary: "The dashboard's figures as JSON: health per service and per country, decisions and targets",
    query: healthQuery,
    response: { status: 200 },
    errors: ["invalid_input", "storage_failure"],
    needs: "health",
    serve: (c) =>
      c.extras.health?.(c.query as z.output<typeof healthQuery>) ??
      Promise.resolve({ ok: false, error: { type: "not_found" } }),
  },
  {
    method: "POST",
    path: "/admin/wallets",
    access: "admin",
    operationId: "createWallet",
    summary: "Creates a customer wallet (the same id and currency again answers the wallet)",
    body: createWalletBody,
    response: { status: 201, schema: walletView },
    errors: ["invalid_input", "wallet_exists", "storage_failure"],
    serve: (c) => {
      const b = c.body as z.output<typeof createWalletBody>;
      return answer(c.fes.createWallet({ walletId: b.walletId, currency: b.currency, actor: c.actor }), 201);
    },
  },
  {
    method: "GET",
    path: "/admin/wallets/{walletId}",
    access: "admin",
    operationId: "getWalletAdmin",
    summary: "Any wallet's balance, frozen and available amounts",
    response: { status: 200, schema: walletView },
    errors: ["wallet_not_found", "storage_failure"],
    serve: (c) => answer(c.fes.getBalance(c.params.walletId ?? ""), 200),
  },
  {
    method: "POST",
    path: "/admin/wallets/{walletId}/deposit",
    access: "admin",
    operationId: "deposit",
    summary: "Credits a wallet from the deposits account",
    body: depositBody,
    idempotencyKey: "required",
    response: { status: 200 },
    errors: [
      "invalid_input",
      "wallet_not_found",
      "currency_mismatch",
      "idempotency_conflict",
      "storage_failure",
    ],
    serve: (c) => {
      const b = c.body as z.output<typeof depositBody>;
      return answer(
        c.fes.deposit({
          walletId: c.params.walletId ?? "",
          amountMinor: b.amountMinor,
          currency: b.currency,
          idempotencyKey: c.idempotencyKey ?? "",
          actor: c.actor,
          ...(b.reason === undefined ? {} : { reason: b.reason }),
        }),
        200,
      );
    },
  },
  {
    method: "POST",
    path: "/admin/sweep",
    access: "admin",
    operationId: "sweep",
    summary: "Runs one sweep: deadlines, rental ends, stuck purchases (safe from several workers at once)",
    body: emptyBody,
    response: { status: 200, schema: sweepView },
    errors: ["storage_failure"],
    serve: (c) => answer(c.fes.sweep(), 200),
  },
];
