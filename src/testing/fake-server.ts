import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Result } from "neverthrow";
import type { FakeActivationView, FaultAction, FaultSpec, ProviderControl } from "../provider/control.js";
import { formatProviderDate } from "../provider/sms-activate/parse.js";
import {
  type BehaviourModel,
  FakeUpstream,
  FaultQueue,
  priceToUnits,
  seededRandom,
  type UpstreamActivation,
  type UpstreamError,
  type UpstreamEvent,
  unitsToPrice,
} from "./fake-provider.js";
import { ManualClock } from "./manual-clock.js";

/**
 * Dialects of the protocol family the fake server speaks (the shapes are those of the wire corpus in
 * `test/provider/wire/`, see `docs/sms-activate.md`):
 * - `sms-activate`: the original service — errors are 200 text tokens, rent errors `{"status":"error","message"}`,
 *   `getNumberV2` with `orderId`, list under `activeActivations`, none open `{"status":"error","error":
 *   "NO_ACTIVATIONS"}`, an unknown service `BAD_SERVICE`, dates in Moscow time;
 * - `hero-sms`: errors are non-2xx JSON `{"title","details","info"}` except `NO_NUMBERS` on activations (200 text;
 *   404 JSON on rentals); `getNumberV2` with a string `activationId`, a numeric `countryCode` and dates with an
 *   offset; list under `data` (none open: `"data":[]` beside `activeActivations.rows`); an unknown service
 *   `WRONG_SERVICE`; rent by `duration` answered like `getNumberV2`; the other `getStatusV2` shape; and the
 *   actions only it has: `getAllSms`, `finishActivation`/`cancelActivation` (204), `getHistory`,
 *   `serviceCountRent`;
 * - `clone`: a compatible shop without `getNumberV2` (`BAD_ACTION`), prices and flags as strings, rent errors
 *   under `"msg"`.
 * Every dialect takes `rent_time` (or `time`, or `duration`; default 4, 4–1344 hours, else `INVALID_TIME`) and
 * validates `maxPrice` (a decimal), `freePrice` (`true`/`false`/`1`/`0`), `forward` and `json` (`0`/`1`).
 */
export type FakeServerDialect = "sms-activate" | "hero-sms" | "clone";

/** An HTTP-level fault. `after: true` processes the call first (the purchase happens), then loses the answer. */
export interface HttpFault {
  /** The protocol action it targets (`getNumberV2`, `setStatus`…); any action when omitted. */
  readonly action?: string;
  readonly mode:
    | "status"
    | "html"
    | "cloudflare"
    | "empty"
    | "garbled"
    | "hang"
    | "reset"
    | "quoted"
    | "text_v2"
    | "rate_limit";
  /** For `status`: the HTTP status (403, 429, 500, 502, 503…). */
  readonly status?: number;
  readonly after?: boolean;
  /** How many matching calls (default 1). */
  readonly times?: number;
}

/** Random faults before processing, drawn from a seeded PRNG. */
export interface RandomFaults {
  /** Probability per request (0–1). */
  readonly rate: number;
  readonly seed: number;
  readonly modes?: readonly HttpFault["mode"][];
}

/** Options of {@link startFakeSmsActivateServer}. */
export interface FakeServerOptions {
  readonly dialect?: FakeServerDialect;
  readonly apiKey?: string;
  readonly clock?: ManualClock;
  readonly earlyCancelWindowMs?: number;
  readonly activationLifetimeMs?: number;
  readonly rentRefundWindowMs?: number;
  readonly balance?: string;
  readonly seed?: number;
  readonly behaviour?: BehaviourModel;
  /** How an abstract `unknown_*` fault loses the answer (default `reset`). */
  readonly lostAnswer?: "reset" | "html" | "empty" | "garbled" | "status";
  /** Account webhook URL for incoming codes. */
  readonly webhookUrl?: string;
  /** How many times each webhook is delivered (default 2: providers retry, so duplicates are normal). */
  readonly webhookDeliveries?: number;
  readonly randomFaults?: RandomFaults;
  /** First id issued (default 10 digits, as in every public sample: clients that parse ids as numbers work). */
  readonly firstId?: bigint;
}

/** A request the server received, without the key. */
export interface RecordedRequest {
  readonly action: string;
  readonly params: Readonly<Record<string, string>>;
  readonly atMs: number;
}

/** A running fake server: its URL, its control interface, and HTTP-level knobs. */
export interface FakeSmsActivateServer extends ProviderControl {
  /** The `handler_api.php` URL on 127.0.0.1. */
  readonly url: string;
  readonly dialect: FakeServerDialect;
  readonly apiKey: string;
  readonly upstream: FakeUpstream;
  readonly clock: ManualClock;
  /** Activations the fake upstream has sold (synchronous here). */
  activations(): readonly FakeActivationView[];
  /** Every request received, oldest first (the key removed). */
  readonly requests: readonly RecordedRequest[];
  /** Queues an HTTP-level fault. */
  injectHttpFault(fault: HttpFault): void;
  /** Resolves when a request for `action` arrives (or at once if `count` already did). */
  waitForRequest(action: string, count?: number): Promise<void>;
  /** Sets the account webhook URL (or `null`). */
  setWebhookUrl(url: string | null): void;
  /** Waits for webhook deliveries in flight. */
  flushWebhooks(): Promise<void>;
  /** The reseller's upstream balance. */
  setBalance(balance: string): void;
  /** Stops the server, dropping hanging requests. */
  close(): Promise<void>;
}

interface Reply {
  status: number;
  body: string;
  headers?: Record<string, string>;
}

const HTML_502 =
  "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n" +
  "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";
const CLOUDFLARE_1020 = "error code: 1020";

/** HTTP statuses HeroSMS uses for its JSON error envelopes. */
const HERO_STATUS: Readonly<Record<string, number>> = {
  BAD_KEY: 401,
  NO_BALANCE: 402,
  NO_ACTIVATION: 404,
  NOT_FOUND: 404,
  NO_ACTIVATIONS: 404,
  NO_ID_RENT: 404,
  NO_NUMBERS: 404,
  EARLY_CANCEL_DENIED: 409,
  OTP_RECEIVED: 409,
  NEW_OTP_RECEIVED: 409,
  ACTIVATION_NOT_ACTIVE: 409,
  CANT_CANCEL: 409,
  ALREADY_FINISH: 409,
  ALREADY_CANCEL: 409,
  RENT_DIE: 409,
  BANNED: 403,
  UNPROCESSABLE_ENTITY: 422,
};

/** Rent durations every dialect accepts, hours. */
const RENT_HOURS = { min: 4, max: 1344 } as const;
/** Extension durations, hours. */
const EXTEND_HOURS = { min: 2, max: 1344 } as const;

/** The inner map of `outer` at `key`, created when missing (Maps: stocked codes may be any string). */
function nested(outer: Map<string, Map<string, unknown>>, key: string): Map<string, unknown> {
  let inner = outer.get(key);
  if (inner === undefined) {
    inner = new Map();
    outer.set(key, inner);
  }
  return inner;
}

/** A two-level Map as a JSON object (`Object.fromEntries` defines own keys, `__proto__` included). */
function toObject(outer: Map<string, Map<string, unknown>>): Record<string, Record<string, unknown>> {
  return Object.fromEntries([...outer].map(([k, inner]) => [k, Object.fromEntries(inner)]));
}

/** Actions only HeroSMS has; other dialects answer `BAD_ACTION`. */
const HERO_ONLY: ReadonlySet<string> = new Set([
  "getAllSms",
  "finishActivation",
  "cancelActivation",
  "getHistory",
  "serviceCountRent",
]);

const FAULT_ACTIONS: Readonly<Record<string, FaultAction>> = {
  getPrices: "quote",
  getNumber: "buyActivation",
  getNumberV2: "buyActivation",
  getStatus: "getActivationStatus",
  getStatusV2: "getActivationStatus",
  getActiveActivations: "listActiveActivations",
  getRentServicesAndCountries: "quoteRental",
  getRentNumber: "rent",
  getRentStatus: "getRentalStatus",
  continueRentNumber: "extendRental",
  getRentList: "listActiveRentals",
};

function faultActionOf(action: string, params: Readonly<Record<string, string>>): FaultAction | null {
  if (action === "setStatus") {
    const byStatus = new Map<string | undefined, FaultAction>([
      ["3", "requestAnotherCode"],
      ["6", "finishActivation"],
      ["8", "cancelActivation"],
    ]);
    return byStatus.get(params.status) ?? null;
  }
  if (action === "setRentStatus") return params.status === "2" ? "cancelRental" : "finishRental";
  return Object.hasOwn(FAULT_ACTIONS, action) ? (FAULT_ACTIONS[action] ?? null) : null;
}

/**
 * Starts a stateful fake `handler_api.php` server on 127.0.0.1 (random port) over the same {@link FakeUpstream}
 * state model as the in-process fake, with a manual clock, per-call / per-action / seeded random faults, and
 * duplicated webhook deliveries.
 */
export async function startFakeSmsActivateServer(
  options: FakeServerOptions = {},
): Promise<FakeSmsActivateServer> {
  const dialect = options.dialect ?? "sms-activate";
  const apiKey = options.apiKey ?? "test-key-5f3a9c";
  const clock = options.clock ?? new ManualClock();
  const zone = dialect === "sms-activate" ? 180 : 0;
  const upstream = new FakeUpstream({
    clock,
    supportsOrderId: dialect === "sms-activate",
    ...(options.earlyCancelWindowMs === undefined
      ? {}
      : { earlyCancelWindowMs: options.earlyCancelWindowMs }),
    ...(options.activationLifetimeMs === undefined
      ? {}
      : { activationLifetimeMs: options.activationLifetimeMs }),
    ...(options.rentRefundWindowMs === undefined ? {} : { rentRefundWindowMs: options.rentRefundWindowMs }),
    ...(options.balance === undefined ? {} : { balance: options.balance }),
    ...(options.seed === undefined ? {} : { seed: options.seed }),
    ...(options.behaviour === undefined ? {} : { behaviour: options.behaviour }),
    firstId: options.firstId ?? 3_900_000_001n,
  });
  const faults = new FaultQueue();
  const httpFaults: { fault: HttpFault; left: number }[] = [];
  const random = options.randomFaults ? seededRandom(options.randomFaults.seed) : null;
  const requests: RecordedRequest[] = [];
  const waiters: { action: string; count: number; resolve: () => void }[] = [];
  const hanging = new Set<ServerResponse>();
  const deliveries = new Set<Promise<void>>();
  let webhookUrl: string | null = options.webhookUrl ?? null;
  const webhookDeliveries = options.webhookDeliveries ?? 2;
  const lostAnswer = options.lostAnswer ?? "reset";
  /** Codes delivered during a cancel, per activation: the next refusal carries them (`NEW_OTP_RECEIVED`). */
  const unseenCodes = new Map<string, string[]>();

  const post = (url: string, payload: unknown) => {
    const body = JSON.stringify(payload).replace(/"\\u0000(\d+)"/g, "$1");
    for (let i = 0; i < webhookDeliveries; i++) {
      const p = globalThis
        .fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body })
        .then((r) => r.text())
        .then(
          () => undefined,
          () => undefined,
        );
      deliveries.add(p);
      void p.finally(() => deliveries.delete(p));
    }
  };
  upstream.subscribe((e: UpstreamEvent) => {
    if (e.type === "code" && webhookUrl !== null) {
      // The id goes out as a bare number literal, as the provider sends it (16 digits exceed a double).
      post(webhookUrl, {
        activationId: `\u0000${e.activation.id}`,
        service: e.activation.service,
        text: e.code.text,
        code: e.code.code,
        country: Number(e.activation.country),
        receivedAt: formatProviderDate(e.code.atMs, zone),
      });
    }
    if (e.type === "rental_sms" && e.rental.webhookUrl !== null) {
      post(e.rental.webhookUrl, {
        rentId: e.rental.id,
        sms: {
          phoneFrom: e.message.from,
          text: e.message.text,
          date: formatProviderDate(e.message.atMs ?? 0, zone),
        },
      });
    }
  });

  // --- replies in the dialect ---------------------------------------------------------------------------------

  const text = (body: string, status = 200): Reply => ({ status, body });
  const noContent: Reply = { status: 204, body: "" };
  /** HeroSMS dates: ISO with an explicit offset. */
  const isoDate = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "+00:00");
  /** HeroSMS `getNumberV2`: `activationId` a string, `countryCode` a number, dates with an offset. */
  const numberV2Hero = (a: UpstreamActivation) => ({
    activationId: a.id,
    phoneNumber: a.phone,
    activationCost: Number(a.cost),
    currency: 840,
    countryCode: Number(a.country),
    countryPhoneCode: 62,
    canGetAnotherSms: true,
    activationTime: isoDate(a.issuedAtMs),
    activationEndTime: isoDate(a.endsAtMs),
    activationOperator: "any",
  });
  const json = (value: unknown, status = 200): Reply => ({
    status,
    body: JSON.stringify(value),
    headers: { "content-type": "application/json" },
  });
  /** A rent-style "error" that is a normal state (`STATUS_WAIT_CODE`…): always the rent envelope with 200. */
  const rentState = (token: string) =>
    json(dialect === "clone" ? { status: "error", msg: token } : { status: "error", message: token });

  function errorReply(
    token: string,
    context: "activation" | "rent",
    info: Record<string, unknown> = {},
  ): Reply {
    const head = token.split(":")[0] ?? token;
    if (dialect === "hero-sms") {
      if (head === "NO_NUMBERS" && context === "activation") return text(token);
      return json(
        { title: head, details: `${head.toLowerCase().replace(/_/g, " ")}`, info },
        Object.hasOwn(HERO_STATUS, head) ? (HERO_STATUS[head] ?? 400) : 400,
      );
    }
    if (context === "rent") return rentState(token);
    return text(token);
  }

  function upstreamErrorReply(
    e: UpstreamError,
    context: "activation" | "rent",
    activationId?: string,
  ): Reply {
    switch (e.type) {
      case "no_numbers":
        return errorReply("NO_NUMBERS", context);
      case "wrong_max_price":
        return errorReply(`WRONG_MAX_PRICE:${e.minPrice}`, context, { min: Number(e.minPrice) });
      case "bad_service":
        return errorReply("SERVICE_NOT_AVAILABLE", context);
      case "no_balance":
        return errorReply("NO_BALANCE", context);
      case "order_exists":
        return errorReply("ORDER_ALREADY_EXISTS", context);
      case "early_cancel":
        return dialect === "hero-sms"
          ? errorReply("EARLY_CANCEL_DENIED", context, {
              minActivationTime: upstream.earlyCancelWindowMs / 1000,
            })
          : errorReply("EARLY_CANCEL_DENIED", context);
      case "code_received": {
        const unseen = activationId === undefined ? undefined : unseenCodes.get(activationId);
        if (unseen && activationId !== undefined) {
          unseenCodes.delete(activationId);
          const a = activationId === undefined ? undefined : upstream.activation(activationId);
          return dialect === "hero-sms"
            ? errorReply("NEW_OTP_RECEIVED", context, {
                data: unseen.map((code, i) => ({
                  id: `${activationId}${i}`,
                  phoneFrom: "Service",
                  code,
                  text: `Your code is ${code}`,
                  service: a?.service ?? "",
                  date: isoDate(clock.now()),
                  type: "sms",
                })),
              })
            : errorReply(`NEW_OTP_RECEIVED:${unseen.at(-1)}`, context);
        }
        return errorReply("OTP_RECEIVED", context);
      }
      case "no_activation":
        return errorReply("NO_ACTIVATION", context);
      case "not_active":
        return errorReply("ACTIVATION_NOT_ACTIVE", context);
      case "bad_status":
        return errorReply("BAD_STATUS", context);
      case "no_rent":
        return errorReply("NO_ID_RENT", context);
      case "cant_cancel":
        return errorReply("CANT_CANCEL", context);
      case "already_finished":
        return errorReply("ALREADY_FINISH", context);
      case "already_cancelled":
        return errorReply("ALREADY_CANCEL", context);
      case "rent_die":
        return errorReply("RENT_DIE", context);
      case "max_hours_exceeded":
        return errorReply("MAX_HOURS_EXCEED", context);
    }
  }

  const num = (price: string): number | string => (dialect === "clone" ? price : Number(price));
  /** Ids go out as bare number literals, as real providers send them: 16 digits exceed a double's precision. */
  const bigId = (id: string): string => id;
  /** JSON with the `id` fields' digit strings turned into bare number literals. */
  const jsonRawIds = (value: unknown): Reply => ({
    status: 200,
    body: JSON.stringify(value).replace(/"id":"(\d+)"/g, '"id":$1'),
    headers: { "content-type": "application/json" },
  });

  function reply<T>(
    r: Result<T, UpstreamError>,
    context: "activation" | "rent",
    ok: (t: T) => Reply,
    id?: string,
  ) {
    return r.match(ok, (e) => upstreamErrorReply(e, context, id));
  }

  // --- the actions --------------------------------------------------------------------------------------------

  /** A refused parameter: 422 on HeroSMS, `ERROR_SQL` ("a parameter has an invalid value") on the original. */
  const badParameter = (name: string): Reply =>
    dialect === "hero-sms"
      ? json({ title: "UNPROCESSABLE_ENTITY", details: `invalid ${name}`, info: { field: name } }, 422)
      : text("ERROR_SQL");

  /** Validates the optional parameters the protocol defines; the first bad one is refused. */
  function badOptional(p: Readonly<Record<string, string>>): Reply | null {
    if (p.maxPrice !== undefined && !/^\d+(\.\d+)?$/.test(p.maxPrice)) return badParameter("maxPrice");
    if (p.freePrice !== undefined && !/^(true|false|1|0)$/.test(p.freePrice))
      return badParameter("freePrice");
    if (p.forward !== undefined && !/^[01]$/.test(p.forward)) return badParameter("forward");
    if (p.json !== undefined && !/^[01]$/.test(p.json)) return badParameter("json");
    return null;
  }

  /** Hours of a rent or an extension: `rent_time`, `time` or `duration`; `null` when missing. */
  const hoursOf = (p: Readonly<Record<string, string>>): string | undefined =>
    p.rent_time ?? p.time ?? p.duration;

  function invalidTime(context: "rent"): Reply {
    return dialect === "hero-sms" ? errorReply("INVALID_TIME", context) : rentState("INVALID_TIME");
  }

  function handle(action: string, p: Readonly<Record<string, string>>): Reply {
    if (p.api_key === undefined || p.api_key === "") return errorReply("NO_KEY", "activation");
    if (p.api_key !== apiKey) return errorReply("BAD_KEY", "activation");
    const service = p.service ?? "";
    const country = p.country ?? "0";
    const unknownService = () =>
      dialect === "hero-sms"
        ? errorReply("WRONG_SERVICE", "activation")
        : errorReply("BAD_SERVICE", "activation");
    const badCodes = () =>
      !/^[a-z0-9]{2,8}$/.test(service)
        ? unknownService()
        : !/^\d{1,4}$/.test(country)
          ? errorReply("BAD_COUNTRY", "activation")
          : (badOptional(p) ?? null);
    if (HERO_ONLY.has(action) && dialect !== "hero-sms") return errorReply("BAD_ACTION", "activation");
    switch (action) {
      case "getBalance":
        return text(`ACCESS_BALANCE:${upstream.balance()}`);
      case "getPrices": {
        if (p.service !== undefined && !/^[a-z0-9]{2,8}$/.test(p.service)) {
          return json({ status: "false", msg: "service is incorrect" });
        }
        const out = new Map<string, Map<string, unknown>>();
        for (const s of upstream.stockEntries()) {
          if ((p.service && p.service !== s.service) || (p.country && p.country !== s.country)) continue;
          nested(out, s.country).set(s.service, {
            cost: num(s.price),
            count: s.count,
            ...(dialect === "hero-sms" ? { physicalCount: s.count } : {}),
          });
        }
        return json(toObject(out));
      }
      case "getNumber":
      case "getNumberV2": {
        if (action === "getNumberV2" && dialect === "clone") return errorReply("BAD_ACTION", "activation");
        const bad = badCodes();
        if (bad) return bad;
        const r = upstream.buy({
          service,
          country,
          // `maxPrice` is a ceiling; `freePrice` (validated above) asks for any price up to it, which is how
          // this fake always reads a ceiling.
          maxPrice: p.maxPrice,
          orderId: action === "getNumberV2" ? (p.orderId ?? null) : null,
        });
        return reply(r, "activation", (a) => {
          if (action === "getNumber") return text(`ACCESS_NUMBER:${a.id}:${a.phone}`);
          if (dialect === "hero-sms") return json(numberV2Hero(a));
          const fields = [
            `"activationId":${bigId(a.id)}`,
            `"phoneNumber":"${a.phone}"`,
            `"activationCost":${JSON.stringify(num(a.cost))}`,
            `"currency":643`,
            `"countryCode":"${a.country}"`,
            `"canGetAnotherSms":"1"`,
            `"activationTime":"${formatProviderDate(a.issuedAtMs, zone)}"`,
            `"activationOperator":"any"`,
          ];
          return {
            status: 200,
            body: `{${fields.join(",")}}`,
            headers: { "content-type": "application/json" },
          };
        });
      }
      case "setStatus": {
        const id = p.id ?? "";
        switch (p.status) {
          case "1":
            return upstream.activation(id) ? text("ACCESS_READY") : errorReply("NO_ACTIVATION", "activation");
          case "3":
            return reply(upstream.requestAnotherCode(id), "activation", () => text("ACCESS_RETRY_GET"), id);
          case "6":
            return reply(upstream.finish(id), "activation", () => text("ACCESS_ACTIVATION"), id);
          case "8":
            return reply(upstream.cancel(id), "activation", () => text("ACCESS_CANCEL"), id);
          default:
            return errorReply("BAD_STATUS", "activation");
        }
      }
      case "getStatus":
        if (dialect === "hero-sms" && !upstream.activation(p.id ?? ""))
          return errorReply("NOT_FOUND", "activation");
        return reply(upstream.status(p.id ?? ""), "activation", (s) => {
          switch (s.state) {
            case "waiting":
              return text("STATUS_WAIT_CODE");
            case "waiting_retry":
              return text(`STATUS_WAIT_RETRY:${s.previousCode}`);
            case "code":
              return text(`STATUS_OK:${s.code}`);
            case "ended":
              return text("STATUS_CANCEL");
          }
        });
      case "getStatusV2": {
        const a = upstream.activation(p.id ?? "");
        if (!a) return errorReply("NO_ACTIVATION", "activation");
        const last = a.codes.at(-1);
        // A cancelled or expired activation answers the text; a completed one still shows its SMS.
        if (a.state !== "waiting" && a.state !== "code" && !(a.state === "finished" && last))
          return text("STATUS_CANCEL");
        if (dialect === "hero-sms") {
          return json({
            verificationType: "sms",
            data: last
              ? {
                  id: a.id,
                  phoneFrom: "Service",
                  code: last.code,
                  text: last.text,
                  service: a.service,
                  date: "",
                }
              : null,
          });
        }
        return json({
          verificationType: 0,
          sms: last
            ? { dateTime: formatProviderDate(last.atMs, zone), code: last.code, text: last.text }
            : null,
          call: null,
        });
      }
      case "getActiveActivations": {
        const list = upstream.listActive();
        if (list.length === 0) {
          if (dialect === "hero-sms") {
            return json({
              status: "success",
              data: [],
              activeActivations: { affected_rows: 0, insert_id: 0, num_rows: 0, rows: [] },
            });
          }
          return dialect === "sms-activate"
            ? json({ status: "error", error: "NO_ACTIVATIONS" })
            : text("NO_ACTIVATIONS");
        }
        const rows = list.map((a) =>
          dialect === "hero-sms"
            ? {
                // HeroSMS: one code as a string, the other fields as its client's types spell them.
                activationId: a.id,
                serviceCode: a.service,
                phoneNumber: a.phone,
                activationCost: Number(a.cost),
                activationStatus: a.codes.length > 0 ? "2" : "4",
                smsCode: a.codes.at(-1)?.code ?? null,
                smsText: a.codes.at(-1)?.text ?? null,
                activationTime: formatProviderDate(a.issuedAtMs, zone),
                discount: "0",
                repeated: "0",
                countryCode: a.country,
                countryName: "",
                canGetAnotherSms: "1",
                currency: "840",
              }
            : {
                activationId: a.id,
                serviceCode: a.service,
                phoneNumber: a.phone,
                activationCost: num(a.cost),
                activationStatus: a.codes.length > 0 ? "2" : "4",
                smsCode: a.codes.length > 0 ? a.codes.map((c) => c.code) : null,
                smsText: a.codes.at(-1)?.text ?? null,
                activationTime: formatProviderDate(a.issuedAtMs, zone),
                countryCode: a.country,
                canGetAnotherSms: "1",
                currency: 840,
                ...(dialect === "sms-activate" && a.orderId !== null ? { orderId: a.orderId } : {}),
              },
        );
        return json({ status: "success", [dialect === "hero-sms" ? "data" : "activeActivations"]: rows });
      }
      case "getRentServicesAndCountries": {
        const hours = Number(hoursOf(p) ?? "4");
        if (!Number.isInteger(hours) || hours < RENT_HOURS.min || hours > RENT_HOURS.max)
          return invalidTime("rent");
        const services = new Map<string, unknown>();
        for (const s of upstream.rentStockEntries(hours)) {
          if (p.country !== undefined && p.country !== s.country) continue;
          services.set(
            s.service,
            dialect === "hero-sms"
              ? { quantity: s.count, price: Number(s.price), retail_price: Number(s.price) * 2 }
              : {
                  cost: num(s.price),
                  quant: dialect === "clone" ? String(s.count) : { current: s.count, total: s.count },
                },
          );
        }
        return json({
          countries: { [country]: Number(country) },
          operators: { any: "any" },
          services: Object.fromEntries(services),
        });
      }
      case "getRentNumber": {
        const bad = badCodes();
        if (bad) return bad;
        const raw = hoursOf(p) ?? "4";
        const hours = /^\d{1,5}$/.test(raw) ? Number(raw) : Number.NaN;
        if (!Number.isInteger(hours) || hours < RENT_HOURS.min || hours > RENT_HOURS.max)
          return invalidTime("rent");
        return reply(upstream.rent({ service, country, hours, webhookUrl: p.url ?? null }), "rent", (r) =>
          dialect === "hero-sms"
            ? json({
                activationId: r.id,
                phoneNumber: r.phone,
                activationCost: Number(r.cost),
                currency: 840,
                countryCode: Number(r.country),
                canGetAnotherSms: true,
                activationTime: isoDate(r.startedAtMs),
                activationEndTime: isoDate(r.endsAtMs),
                activationOperator: "any",
              })
            : jsonRawIds({
                status: "success",
                phone: { id: r.id, endDate: formatProviderDate(r.endsAtMs, zone, "T"), number: r.phone },
              }),
        );
      }
      case "getRentStatus": {
        const r = upstream.rental(p.id ?? "");
        if (!r) return errorReply("NO_ID_RENT", "rent");
        if (r.state === "cancelled") return rentState("STATUS_CANCEL");
        if (r.state === "revoked") return rentState("STATUS_REVOKE");
        if (r.state !== "active") return rentState("STATUS_FINISH");
        if (r.messages.length === 0) return rentState("STATUS_WAIT_CODE");
        const values: Record<string, unknown> = {};
        r.messages.forEach((m, i) => {
          values[String(i)] = {
            phoneFrom: m.from,
            text: m.text,
            service: m.service,
            date: formatProviderDate(m.atMs ?? 0, zone),
          };
        });
        return json({ status: "success", quantity: String(r.messages.length), values });
      }
      case "setRentStatus": {
        const id = p.id ?? "";
        if (p.status === "1")
          return reply(upstream.finishRental(id), "rent", () => json({ status: "success" }));
        if (p.status === "2")
          return reply(upstream.cancelRental(id), "rent", () => json({ status: "success" }));
        return errorReply("INCORECT_STATUS", "rent");
      }
      case "continueRentNumber": {
        const raw = hoursOf(p) ?? "";
        const hours = /^\d{1,5}$/.test(raw) ? Number(raw) : Number.NaN;
        if (!Number.isInteger(hours) || hours < EXTEND_HOURS.min) return invalidTime("rent");
        return reply(upstream.extendRental(p.id ?? "", hours), "rent", (r) =>
          jsonRawIds({
            status: "success",
            phone: { id: r.id, endDate: formatProviderDate(r.endsAtMs, zone, "T"), number: r.phone },
            price: num(r.extensionCost),
          }),
        );
      }
      case "getAllSms": {
        const a = upstream.activation(p.id ?? "");
        if (!a) return errorReply("NOT_FOUND", "activation");
        if (a.state !== "waiting" && a.state !== "code")
          return errorReply("ACTIVATION_NOT_ACTIVE", "activation");
        return json({
          data: a.codes.map((c, i) => ({
            id: `${a.id}${i}`,
            phoneFrom: "Service",
            code: c.code,
            text: c.text,
            service: a.service,
            date: isoDate(c.atMs),
            type: "sms",
          })),
          meta: { total: a.codes.length, service: a.service },
        });
      }
      case "finishActivation":
        return reply(upstream.finish(p.id ?? ""), "activation", () => noContent, p.id);
      case "cancelActivation":
        return reply(upstream.cancel(p.id ?? ""), "activation", () => noContent, p.id);
      case "getHistory":
        return json(
          upstream.allActivations().map((a) => ({
            id: a.id,
            date: formatProviderDate(a.issuedAtMs, zone),
            phone: a.phone,
            sms: a.codes.map((c) => c.code),
            cost: Number(a.cost),
            status: a.state === "finished" || a.codes.length > 0 ? "6" : a.state === "waiting" ? "4" : "8",
            currency: 840,
          })),
        );
      case "serviceCountRent": {
        const out = new Map<string, Map<string, unknown>>();
        for (const hours of [4, 12, 24, 168, 720]) {
          for (const s of upstream.rentStockEntries(hours)) {
            if ((p.service && p.service !== s.service) || (p.country && p.country !== s.country)) continue;
            nested(out, s.country).set(String(hours), { price: Number(s.price), count: s.count });
          }
        }
        return json(toObject(out));
      }
      case "getRentList": {
        const values: Record<string, unknown> = {};
        upstream.listActiveRentals().forEach((r, i) => {
          values[String(i)] = { id: r.id, phone: r.phone, endDate: formatProviderDate(r.endsAtMs, zone) };
        });
        return json({ status: "success", values });
      }
      default:
        return errorReply("BAD_ACTION", "activation");
    }
  }

  /** Turns an abstract fault into what this server does; `null` = no abstract fault for this call. */
  function abstractFault(
    spec: FaultSpec,
    action: string,
    p: Readonly<Record<string, string>>,
  ): { reply: Reply } | { lose: "before" | "after" } | { run: () => void } {
    const context = action.includes("Rent") ? "rent" : "activation";
    switch (spec.kind) {
      case "no_numbers":
        return { reply: errorReply("NO_NUMBERS", context) };
      case "banned": {
        const untilMs = clock.now() + 3_600_000;
        return {
          reply: errorReply(`BANNED:'${formatProviderDate(untilMs, zone).replace(/:/g, "-")}'`, context, {
            scope: "global",
            banned_until: Math.floor(untilMs / 1000),
            retry_after_seconds: 3600,
            readable_date: formatProviderDate(untilMs, zone),
          }),
        };
      }
      case "price_too_low": {
        const q = upstream.quote(p.service ?? "", p.country ?? "");
        const min = q.isOk() ? unitsToPrice(priceToUnits(q.value.price) + 100) : "1";
        return { reply: errorReply(`WRONG_MAX_PRICE:${min}`, context, { minPrice: min }) };
      }
      case "service_unavailable":
        return { reply: errorReply("SERVICE_NOT_AVAILABLE", context) };
      case "retryable":
        return { reply: { status: 429, body: "RATE_LIMIT", headers: { "retry-after": "1" } } };
      case "fatal":
        return { reply: errorReply("BAD_KEY", context) };
      case "unknown_before":
        return { lose: "before" };
      case "unknown_after_success":
        return { lose: "after" };
      case "code_during_cancel":
        return {
          run: () => {
            const id = p.id ?? "";
            const code = spec.code ?? "424242";
            if (upstream.deliverCode(id, code).isOk())
              unseenCodes.set(id, [...(unseenCodes.get(id) ?? []), code]);
          },
        };
    }
  }

  function takeHttpFault(action: string): HttpFault | undefined {
    const i = httpFaults.findIndex((f) => f.fault.action === undefined || f.fault.action === action);
    const f = httpFaults[i];
    if (!f) return undefined;
    f.left -= 1;
    if (f.left <= 0) httpFaults.splice(i, 1);
    return f.fault;
  }

  function lostReply(mode: HttpFault["mode"], status?: number): Reply | "reset" | "hang" {
    switch (mode) {
      case "reset":
        return "reset";
      case "hang":
        return "hang";
      case "html":
        return { status: 502, body: HTML_502, headers: { "content-type": "text/html" } };
      case "cloudflare":
        return { status: 403, body: CLOUDFLARE_1020, headers: { "content-type": "text/plain" } };
      case "empty":
        return { status: 200, body: "" };
      case "garbled":
        return { status: 200, body: "ACC\u0000ESS_NUMB{" };
      case "rate_limit":
        return { status: 429, body: "", headers: { "retry-after": "1" } };
      default: {
        const s = status ?? 503;
        return { status: s, body: s === 503 ? "Service Temporarily Unavailable" : "" };
      }
    }
  }

  function respond(req: IncomingMessage, res: ServerResponse, r: Reply | "reset" | "hang"): void {
    if (r === "reset") {
      req.socket.destroy();
      return;
    }
    if (r === "hang") {
      hanging.add(res);
      return;
    }
    res.writeHead(r.status, { "content-type": "text/plain; charset=utf-8", ...r.headers });
    res.end(r.body);
  }

  function route(p: Record<string, string>): Reply | "reset" | "hang" {
    const action = p.action ?? "";
    const { api_key: _key, ...rest } = p;
    requests.push({ action, params: rest, atMs: clock.now() });
    for (let i = waiters.length - 1; i >= 0; i--) {
      const w = waiters[i];
      if (w && w.action === action && requests.filter((r) => r.action === action).length >= w.count) {
        waiters.splice(i, 1);
        w.resolve();
      }
    }
    if (random && options.randomFaults && random() < options.randomFaults.rate) {
      const modes = options.randomFaults.modes ?? [
        "status",
        "html",
        "cloudflare",
        "empty",
        "garbled",
        "reset",
      ];
      const mode = modes[Math.floor(random() * modes.length)] ?? "status";
      return lostReply(mode);
    }
    const hf = takeHttpFault(action);
    if (hf && !hf.after && hf.mode !== "quoted" && hf.mode !== "text_v2") {
      return lostReply(hf.mode, hf.status);
    }
    // An action this dialect lacks answers BAD_ACTION before any fault: faults target calls that exist.
    if (action === "getNumberV2" && dialect === "clone") return handle(action, p);
    const fa = faultActionOf(action, p);
    const spec = fa === null ? undefined : faults.take(fa);
    let r: Reply;
    if (spec) {
      const f = abstractFault(spec, action, p);
      if ("reply" in f) return f.reply;
      if ("lose" in f) {
        if (f.lose === "after") handle(action, p);
        return lostReply(lostAnswer);
      }
      f.run();
    }
    r = handle(action, p);
    if (hf?.after) return lostReply(hf.mode, hf.status);
    if (hf?.mode === "quoted") r = { ...r, body: JSON.stringify(r.body) };
    if (hf?.mode === "text_v2" && r.status === 200 && r.body.startsWith("{")) {
      const v = JSON.parse(r.body.replace(/"activationId":(\d+)/, '"activationId":"$1"')) as Record<
        string,
        unknown
      >;
      r = text(`ACCESS_NUMBER:${String(v.activationId)}:${String(v.phoneNumber)}`);
    }
    return r;
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const u = new URL(req.url ?? "/", "http://127.0.0.1");
      const params: Record<string, string> = Object.fromEntries(u.searchParams);
      if (req.method === "POST") {
        for (const [k, v] of new URLSearchParams(Buffer.concat(chunks).toString("utf8"))) params[k] = v;
      }
      try {
        respond(req, res, route(params));
      } catch (e) {
        res.writeHead(500, { "content-type": "text/plain" });
        res.end(`ERROR_SQL ${e instanceof Error ? e.message : ""}`);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;

  const must = <T>(what: string, r: Result<T, UpstreamError>): void => {
    if (r.isErr()) throw new Error(`${what} refused: ${r.error.type}`);
  };

  const flushWebhooks = async () => {
    while (deliveries.size > 0) await Promise.all([...deliveries]);
  };

  return {
    url: `http://127.0.0.1:${port}/stubs/handler_api.php`,
    dialect,
    apiKey,
    upstream,
    clock,
    requests,
    now: () => upstream.now(),
    advance: async (ms) => {
      upstream.advance(ms);
      await flushWebhooks();
    },
    setStock: (s, c, stock) => upstream.setStock(s, c, stock),
    setRentStock: (s, c, stock) => upstream.setRentStock(s, c, stock),
    deliverCode: async (id, code, t) => {
      must(`deliverCode(${id})`, upstream.deliverCode(id, code, t));
      await flushWebhooks();
    },
    deliverRentalSms: async (id, sms) => {
      must(`deliverRentalSms(${id})`, upstream.deliverRentalSms(id, sms));
      await flushWebhooks();
    },
    endActivation: (id) => must(`endActivation(${id})`, upstream.endActivation(id)),
    revokeRental: (id) => must(`revokeRental(${id})`, upstream.revokeRental(id)),
    injectFault: (f) => faults.add(f),
    clearFaults: () => {
      faults.clear();
      httpFaults.length = 0;
    },
    activations: (): readonly FakeActivationView[] => upstream.views(),
    injectHttpFault: (fault) => {
      httpFaults.push({ fault, left: fault.times ?? 1 });
    },
    waitForRequest: (action, count = 1) =>
      requests.filter((r) => r.action === action).length >= count
        ? Promise.resolve()
        : new Promise<void>((resolve) => waiters.push({ action, count, resolve })),
    setWebhookUrl: (url) => {
      webhookUrl = url;
    },
    flushWebhooks,
    setBalance: (b) => upstream.setBalance(b),
    close: async () => {
      for (const res of hanging) res.destroy();
      hanging.clear();
      await flushWebhooks();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
