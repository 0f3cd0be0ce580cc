/**
 * `createFesHandler`: one Web-standard `(request) => Promise<Response>` serving the customer API, the admin API
 * and dashboard, the provider webhook and the OpenAPI document under a prefix. Hono, Express (through an
 * adapter), `Deno.serve`, Bun and Workers mount it as it is.
 */
import { type Clock, systemClock } from "../core/clock.js";
import { buildCoherenceReport, type CoherenceOptions } from "../health/coherence.js";
import {
  defaultHealthPolicyConfig,
  evaluateHealthPolicies,
  type HealthPolicyConfig,
} from "../health/policies.js";
import { healthWindows } from "../health/window.js";
import type { StorageReader } from "../storage/port.js";
import { type DashboardWindow, dashboardCsp, renderDashboard } from "./dashboard.js";
import { readWindowHealth } from "./health-read.js";
import { buildOpenApiDocument } from "./openapi.js";
import { problemResponse } from "./problem.js";
import { check, readBodyText, readJsonBody, readQuery } from "./request.js";
import {
  type HttpFes,
  type Route,
  type RouteExtras,
  type RouteResult,
  routes,
  type TypedError,
} from "./routes.js";
import { idempotencyKeyHeader, idParam, walletIdParam } from "./schemas.js";

/** A value or a promise of it. */
type MaybePromise<T> = T | Promise<T>;

/** A result as the price list returns it: a neverthrow `Result`, or a promise of one. */
type ResultLike = { isOk(): boolean; readonly value?: unknown; readonly error?: unknown };

/** The price list the quote routes serve from (any object with these two methods). */
export interface HttpPriceList {
  /** The customer price of one service in one country (`hours` for a rental). */
  quote(input: {
    readonly service: string;
    readonly country: string;
    readonly hours?: number;
    readonly walletId: string;
  }): PromiseLike<ResultLike> | ResultLike;
  /** The price list, optionally narrowed to a service or a country. */
  priceList(input: {
    readonly service?: string;
    readonly country?: string;
    readonly walletId: string;
  }): PromiseLike<ResultLike> | ResultLike;
}

/** The provider webhook helper (`createWebhookHandler` of an adapter), mounted as it is. */
export interface HttpWebhook {
  handle(request: { readonly body: unknown; readonly token?: string | null }): Promise<{
    readonly status: number;
    readonly result: string;
  }>;
}

/** Options of {@link createFesHandler}. */
export interface FesHandlerOptions {
  /** Mount point, e.g. `/api`; default none. Requests outside it answer 404. */
  readonly prefix?: string;
  /**
   * Who the customer is: the wallet id, or `null` (answered 401), or a `Response` sent as it is (e.g. a 401 with
   * `WWW-Authenticate`). The library never decides this itself.
   */
  readonly authenticate: (request: Request) => MaybePromise<string | null | Response>;
  /** Whether the request may use the admin API and dashboard; without this hook they are not mounted. */
  readonly authorizeAdmin?: (request: Request) => MaybePromise<boolean | Response>;
  /** The storage the dashboard and `GET /admin/health` read; without it those two are not mounted. */
  readonly storage?: { readonly read: StorageReader };
  /** The dashboard's "now"; default the system clock. */
  readonly clock?: Clock;
  /** Serves `GET /quote` and `GET /prices` when given. */
  readonly priceList?: HttpPriceList;
  /** Serves `POST /webhook?token=…` when given: the provider's webhook helper, with its secret. */
  readonly webhook?: HttpWebhook;
  /** The largest request body accepted, in bytes; default 16 KiB. */
  readonly maxBodyBytes?: number;
  /** The dashboard's settings. */
  readonly dashboard?: {
    readonly title?: string;
    /** The policies judged on the page; default {@link defaultHealthPolicyConfig}. */
    readonly healthPolicy?: HealthPolicyConfig;
    /** Options of the coherence report, or `false` to leave it out (it reads every record). */
    readonly coherence?: CoherenceOptions | false;
    /** How many recent activations and rentals are listed; default 20. */
    readonly recentLimit?: number;
  };
  /** Called with anything thrown inside the handler (answered 500); default none. */
  readonly onError?: (error: unknown, request: Request) => void;
}

/** A Web-standard request handler. */
export type FesHandler = (request: Request) => Promise<Response>;

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
  "x-frame-options": "DENY",
};

const API_CSP = "default-src 'none'; frame-ancestors 'none'";

const WINDOW_SPANS: Readonly<Record<DashboardWindow, number>> = {
  "24h": 86_400_000,
  "7d": 7 * 86_400_000,
  "30d": 30 * 86_400_000,
};

function withHeaders(response: Response, headers: Readonly<Record<string, string>>): Response {
  const h = new Headers(response.headers);
  for (const [k, v] of Object.entries(headers)) if (!h.has(k)) h.set(k, v);
  return new Response(response.body, {
    status: response.status,
    statusText: response.statusText,
    headers: h,
  });
}

function json(status: number, value: unknown): Response {
  return new Response(JSON.stringify(value), {
    status,
    headers: { "content-type": "application/json", "content-security-policy": API_CSP },
  });
}

/** Matches `/activations/{id}` against a path's segments. */
function matchPath(pattern: string, segments: readonly string[]): Record<string, string> | null {
  const parts = pattern.split("/").filter((p) => p !== "");
  if (parts.length !== segments.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i] as string;
    const s = segments[i] as string;
    if (p.startsWith("{")) params[p.slice(1, -1)] = s;
    else if (p !== s) return null;
  }
  return params;
}

function priceResult(r: ResultLike): RouteResult {
  if (r.isOk()) return { ok: true, status: 200, json: r.value };
  const e = r.error as TypedError | undefined;
  return { ok: false, error: e !== undefined && typeof e.type === "string" ? e : { type: "internal_error" } };
}

/** The extras the options make available. */
function extrasOf(options: FesHandlerOptions, adminPath: string): RouteExtras {
  const extras: { -readonly [K in keyof RouteExtras]: RouteExtras[K] } = {};
  const { priceList, storage } = options;
  if (priceList !== undefined) {
    extras.quote = async (q) => priceResult(await priceList.quote(q));
    extras.priceList = async (q) => priceResult(await priceList.priceList(q));
  }
  if (storage !== undefined) {
    const clock = options.clock ?? systemClock;
    const settings = options.dashboard ?? {};
    const policy = settings.healthPolicy ?? defaultHealthPolicyConfig;
    const load = async (window: DashboardWindow) => {
      const nowMs = clock.now();
      const health = await readWindowHealth(storage.read, healthWindows.last(nowMs, WINDOW_SPANS[window]));
      const activations = await storage.read.listActivations();
      const policies = evaluateHealthPolicies(activations, { nowMs, config: policy });
      return { nowMs, health, activations, policies };
    };
    extras.health = async (q) => {
      const { health, policies } = await load(q.window);
      return {
        ok: true,
        status: 200,
        json: {
          window: health.window,
          total: health.byService.total,
          byService: health.byService.groups,
          byCountry: health.byCountry.groups,
          decisions: policies.decisions,
          targets: policies.targets,
        },
      };
    };
    extras.dashboard = async (q) => {
      const { nowMs, health, activations, policies } = await load(q.window);
      const rentals = await storage.read.listRentals();
      const coherence =
        settings.coherence === false
          ? null
          : buildCoherenceReport({
              wallets: await storage.read.listWallets(),
              transfers: await storage.read.listTransfers(),
              holds: await storage.read.listHolds(),
              activations,
              rentals,
              nowMs,
              options: { policy, ...settings.coherence },
            });
      const limit = settings.recentLimit ?? 20;
      const html = renderDashboard({
        title: settings.title ?? "SMS activations",
        nowMs,
        window: q.window,
        path: adminPath,
        health,
        policies,
        targetsJudging: policy.targets,
        coherence,
        recentActivations: activations.slice(-limit).reverse(),
        recentRentals: rentals.slice(-limit).reverse(),
      });
      return { ok: true, status: 200, html };
    };
  }
  return extras;
}

/**
 * Creates the handler. Every input is validated (path, query, `Idempotency-Key`, body within `maxBodyBytes`);
 * every error is an RFC 9457 problem whose status comes from the table in `./problem.ts`; nothing a client sends
 * makes it throw.
 */
export function createFesHandler(fes: HttpFes, options: FesHandlerOptions): FesHandler {
  const prefix = (options.prefix ?? "").replace(/\/+$/, "");
  const limit = options.maxBodyBytes ?? 16 * 1024;
  const extras = extrasOf(options, `${prefix}/admin`);
  const mounted = routes.filter(
    (r) =>
      (r.needs === undefined || extras[r.needs] !== undefined) &&
      (r.access !== "admin" || options.authorizeAdmin),
  );
  let openApi: string | undefined;
  /**
   * Keys whose first request is still running in this process, per wallet: a second request with the same key
   * answers 409 at once (as the IETF Idempotency-Key draft does) instead of waiting. Across processes the service
   * itself serializes them: the loser replays the winner's result.
   */
  const inFlight = new Set<string>();

  const dispatch = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    if (prefix !== "" && url.pathname !== prefix && !url.pathname.startsWith(`${prefix}/`)) {
      return problemResponse({ type: "not_found" });
    }
    const rest = url.pathname.slice(prefix.length);
    let segments: string[];
    try {
      segments = rest
        .split("/")
        .filter((s) => s !== "")
        .map(decodeURIComponent);
    } catch {
      return problemResponse({ type: "not_found" });
    }
    const path = `/${segments.join("/")}`;
    if (path === "/openapi.json" && request.method === "GET") {
      openApi ??= JSON.stringify(
        buildOpenApiDocument({ routes: mounted, prefix, webhook: options.webhook !== undefined }),
      );
      return new Response(openApi, { status: 200, headers: { "content-type": "application/json" } });
    }
    if (path === "/webhook" && options.webhook !== undefined) {
      if (request.method !== "POST")
        return problemResponse({ type: "method_not_allowed" }, { allow: "POST" });
      const body = await readBodyText(request, limit);
      if (!body.ok) return problemResponse(body.error);
      const outcome = await options.webhook.handle({ body: body.text, token: url.searchParams.get("token") });
      return json(outcome.status, { result: outcome.result });
    }
    let allowed: string[] = [];
    for (const route of mounted) {
      const params = matchPath(route.path, segments);
      if (params === null) continue;
      if (route.method !== request.method) {
        allowed.push(route.method);
        continue;
      }
      allowed = [];
      return serve(route, params, request, url);
    }
    if (allowed.length > 0)
      return problemResponse({ type: "method_not_allowed" }, { allow: allowed.join(", ") });
    return problemResponse({ type: "not_found" });
  };

  const serve = async (
    route: Route,
    rawParams: Record<string, string>,
    request: Request,
    url: URL,
  ): Promise<Response> => {
    let walletId = "";
    let actor = "admin";
    if (route.access === "admin") {
      const verdict = await options.authorizeAdmin?.(request);
      if (verdict instanceof Response) return verdict;
      if (verdict !== true) return problemResponse({ type: "forbidden" });
    } else {
      const who = await options.authenticate(request);
      if (who instanceof Response) return who;
      if (typeof who !== "string" || who === "") return problemResponse({ type: "unauthorized" });
      walletId = who;
      actor = `customer:${who}`;
    }
    const params: Record<string, string> = {};
    for (const [name, value] of Object.entries(rawParams)) {
      const schema = name === "walletId" ? walletIdParam : idParam;
      const checked = check(schema, value, `path.${name}`);
      if (!checked.ok) return problemResponse(checked.error);
      params[name] = checked.value;
    }
    let query: unknown = {};
    if (route.query !== undefined) {
      const q = readQuery(url, route.query);
      if (!q.ok) return problemResponse(q.error);
      query = q.value;
    }
    let idempotencyKey: string | undefined;
    const rawKey = request.headers.get("idempotency-key");
    if (route.idempotencyKey !== undefined) {
      if (rawKey === null) {
        if (route.idempotencyKey === "required") {
          return problemResponse({
            type: "invalid_input",
            issues: [
              { path: "header.Idempotency-Key", message: "this request needs an Idempotency-Key header" },
            ],
          });
        }
      } else {
        const k = check(idempotencyKeyHeader, rawKey, "header.Idempotency-Key");
        if (!k.ok) return problemResponse(k.error);
        idempotencyKey = k.value;
      }
    }
    let body: unknown = {};
    if (route.body !== undefined) {
      const b = await readJsonBody(request, route.body, limit);
      if (!b.ok) return problemResponse(b.error);
      body = b.value;
    }
    const flightKey = idempotencyKey === undefined ? undefined : `${walletId || "admin"}\n${idempotencyKey}`;
    if (flightKey !== undefined) {
      if (inFlight.has(flightKey)) return problemResponse({ type: "idempotency_in_flight", idempotencyKey });
      inFlight.add(flightKey);
    }
    let result: RouteResult;
    try {
      result = await route.serve({ fes, walletId, params, query, body, idempotencyKey, actor, extras });
    } finally {
      if (flightKey !== undefined) inFlight.delete(flightKey);
    }
    if (!result.ok) return problemResponse(result.error);
    if ("html" in result) {
      return new Response(result.html, {
        status: result.status,
        headers: {
          "content-type": "text/html; charset=utf-8",
          "content-security-policy": await dashboardCsp(),
        },
      });
    }
    return json(result.status, result.json);
  };

  return async (request: Request): Promise<Response> => {
    let response: Response;
    try {
      response = await dispatch(request);
    } catch (error) {
      try {
        options.onError?.(error, request);
      } catch {
        // A failing error hook must not turn a 500 into a thrown request.
      }
      response = problemResponse({ type: "internal_error" });
    }
    // Headers the response already has (the dashboard's own CSP, a webhook's) are kept.
    return withHeaders(response, { ...SECURITY_HEADERS, "content-security-policy": API_CSP });
  };
}
