import { afterEach, describe, expect, it } from "vitest";
import {
  createSmsActivateProvider,
  type FetchLike,
  ManualTimer,
  type SmsActivateEvent,
  type Timer,
} from "../../src/provider/sms-activate/index.js";
import {
  type FakeSmsActivateServer,
  type HttpFault,
  startFakeSmsActivateServer,
} from "../../src/testing/fake-server.js";

let server: FakeSmsActivateServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** Fires short delays on the next event-loop turn and never the request timeout: no wall-clock waiting. */
const instantRetries: Timer = {
  setTimeout: (cb, ms) => (ms < 60_000 ? setImmediate(cb) : null),
  clearTimeout: (h) => {
    if (h) clearImmediate(h as NodeJS.Immediate);
  },
};

async function setup(
  opts: {
    dialect?: "sms-activate" | "hero-sms" | "clone";
    timer?: Timer;
    attempts?: number;
    apiKey?: string;
    onEvent?: (e: SmsActivateEvent) => void;
    fetch?: FetchLike;
  } = {},
) {
  const dialect = opts.dialect ?? "sms-activate";
  server = await startFakeSmsActivateServer({ dialect, ...(opts.apiKey ? { apiKey: opts.apiKey } : {}) });
  server.setStock("tg", "6", { price: "0.25", count: 10 });
  server.setRentStock("full", "0", { pricePerHour: "0.1", count: 3 });
  const provider = createSmsActivateProvider({
    preset: dialect === "clone" ? "generic" : dialect,
    baseUrl: server.url,
    apiKey: server.apiKey,
    clock: server.clock,
    timer: opts.timer ?? instantRetries,
    timeoutMs: 60_000,
    retry: { attempts: opts.attempts ?? 3, baseDelayMs: 100, maxDelayMs: 5_000 },
    ...(opts.onEvent ? { onEvent: opts.onEvent } : {}),
    ...(opts.fetch ? { fetch: opts.fetch } : {}),
  });
  return { server, provider };
}

const lostModes: readonly HttpFault[] = [
  { mode: "reset", after: true },
  { mode: "empty", after: true },
  { mode: "garbled", after: true },
  { mode: "html", after: true },
  { mode: "status", status: 500, after: true },
  { mode: "status", status: 503, after: true },
];

describe("sms-activate adapter: purchases are never retried", () => {
  for (const fault of lostModes) {
    it(`a buy whose answer is lost (${fault.mode}${fault.status ?? ""}) is unknown, sent once, and found in the active list`, async () => {
      const { server, provider } = await setup();
      server.injectHttpFault({ ...fault, action: "getNumberV2" });
      const r = await provider.buyActivation({ service: "tg", country: "6", orderId: "ord-7" });
      expect(r._unsafeUnwrapErr().class).toBe("unknown");
      expect(server.requests.filter((q) => q.action.startsWith("getNumber"))).toHaveLength(1);
      const list = (await provider.listActiveActivations())._unsafeUnwrap();
      expect(list).toHaveLength(1);
      expect(list[0]?.orderId).toBe("ord-7");
    });
  }

  it("a buy that hangs times out through the injected timer: unknown, no second buy", async () => {
    const timer = new ManualTimer();
    const { server, provider } = await setup({ timer });
    server.injectHttpFault({ action: "getNumberV2", mode: "hang", after: true });
    const pending = provider.buyActivation({ service: "tg", country: "6", orderId: "ord-h" });
    await server.waitForRequest("getNumberV2");
    timer.advance(60_000);
    expect((await pending)._unsafeUnwrapErr()).toMatchObject({ class: "unknown", reason: "timeout" });
    expect(server.requests.filter((q) => q.action.startsWith("getNumber"))).toHaveLength(1);
    expect(server.activations()).toHaveLength(1);
  });

  it("falls back to getNumber only on BAD_ACTION, and then prices the number from getPrices", async () => {
    const { server, provider } = await setup({ dialect: "clone" });
    const a = (await provider.buyActivation({ service: "tg", country: "6", orderId: "o" }))._unsafeUnwrap();
    expect(a.cost).toBe("0.25");
    expect(server.requests.map((q) => q.action)).toEqual(["getNumberV2", "getNumber", "getPrices"]);
    (await provider.buyActivation({ service: "tg", country: "6", orderId: "o2" }))._unsafeUnwrap();
    expect(server.requests.filter((q) => q.action === "getNumberV2")).toHaveLength(1);
  });

  it("no fallback to getNumber after a lost getNumberV2 answer", async () => {
    const { server, provider } = await setup();
    server.injectHttpFault({ action: "getNumberV2", mode: "status", status: 502, after: true });
    expect(
      (await provider.buyActivation({ service: "tg", country: "6", orderId: "o" }))._unsafeUnwrapErr().class,
    ).toBe("unknown");
    expect(server.requests.map((q) => q.action)).toEqual(["getNumberV2"]);
  });

  it("a text answer to getNumberV2 is still a purchase (without a price)", async () => {
    const { server, provider } = await setup();
    server.injectHttpFault({ action: "getNumberV2", mode: "text_v2" });
    const a = (await provider.buyActivation({ service: "tg", country: "6", orderId: "o" }))._unsafeUnwrap();
    expect(a.providerActivationId).toBe(server.activations()[0]?.providerActivationId);
    expect(a.cost).toBeNull();
  });

  it("a lost rent answer is unknown and not retried", async () => {
    const { server, provider } = await setup();
    server.injectHttpFault({ action: "getRentNumber", mode: "reset", after: true });
    expect(
      (await provider.rent({ service: "full", country: "0", hours: 4, orderId: "r" }))._unsafeUnwrapErr()
        .class,
    ).toBe("unknown");
    expect(server.requests.filter((q) => q.action === "getRentNumber")).toHaveLength(1);
    expect((await provider.listActiveRentals())._unsafeUnwrap()).toHaveLength(1);
  });
});

describe("sms-activate adapter: other calls retry", () => {
  it("honours Retry-After between attempts of a read (driven by a manual timer)", async () => {
    const timer = new ManualTimer();
    const { server, provider } = await setup({ timer });
    server.injectHttpFault({ action: "getBalance", mode: "rate_limit", times: 2 });
    const pending = provider.getBalance();
    await timer.waitFor((d) => d === 1000);
    timer.advance(1000);
    await server.waitForRequest("getBalance", 2);
    await timer.waitFor((d) => d === 1000);
    timer.advance(1000);
    expect((await pending)._unsafeUnwrap()).toBe("1000");
    expect(server.requests.filter((q) => q.action === "getBalance")).toHaveLength(3);
  });

  it("backs off on 5xx, HTML and Cloudflare pages, then succeeds", async () => {
    const { server, provider } = await setup({ attempts: 4 });
    server.injectHttpFault({ action: "getPrices", mode: "status", status: 503 });
    server.injectHttpFault({ action: "getPrices", mode: "html" });
    server.injectHttpFault({ action: "getPrices", mode: "cloudflare" });
    expect((await provider.quote({ service: "tg", country: "6" }))._unsafeUnwrap().price).toBe("0.25");
    expect(server.requests.filter((q) => q.action === "getPrices")).toHaveLength(4);
  });

  it("gives up after the bounded attempts: a read is retryable", async () => {
    const { server, provider } = await setup({ attempts: 2 });
    server.injectHttpFault({ action: "getStatus", mode: "reset", times: 5 });
    expect((await provider.getActivationStatus("1"))._unsafeUnwrapErr().class).toBe("retryable");
    expect(server.requests.filter((q) => q.action === "getStatus")).toHaveLength(2);
  });

  it("a Retry-After longer than the longest wait is returned, not slept", async () => {
    const calls: string[] = [];
    const fetch: FetchLike = async (url) => {
      calls.push(url);
      return { status: 429, headers: new Headers({ "retry-after": "120" }), text: async () => "" };
    };
    const p = createSmsActivateProvider({
      baseUrl: "http://x.test/h",
      apiKey: "k",
      fetch,
      timer: instantRetries,
    });
    expect((await p.getBalance())._unsafeUnwrapErr()).toEqual({
      class: "retryable",
      reason: "rate_limited",
      retryAfterMs: 120_000,
    });
    expect(calls).toHaveLength(1);
  });

  it("a cancel whose first answer was lost and whose retry is declined is unknown, not declined", async () => {
    const { server, provider } = await setup();
    const a = (await provider.buyActivation({ service: "tg", country: "6", orderId: "o" }))._unsafeUnwrap();
    await server.advance(120_000);
    server.injectHttpFault({ action: "setStatus", mode: "reset", after: true });
    expect((await provider.cancelActivation(a.providerActivationId))._unsafeUnwrapErr().class).toBe(
      "unknown",
    );
    expect(server.activations()[0]?.state).toBe("cancelled");
  });

  it("server errors (ERROR_SQL) are retried on reads and unknown on a buy", async () => {
    let n = 0;
    const fetch: FetchLike = async (url) => {
      n += 1;
      const action = new URL(url).searchParams.get("action");
      const body =
        action === "getBalance" && n === 1
          ? "ERROR_SQL"
          : action === "getBalance"
            ? "ACCESS_BALANCE:3.5"
            : "ERROR_SQL";
      return { status: 200, headers: new Headers(), text: async () => body };
    };
    const p = createSmsActivateProvider({
      baseUrl: "http://x.test/h",
      apiKey: "k",
      fetch,
      timer: instantRetries,
    });
    expect((await p.getBalance())._unsafeUnwrap()).toBe("3.5");
    expect(
      (await p.buyActivation({ service: "tg", country: "6", orderId: "o" }))._unsafeUnwrapErr(),
    ).toMatchObject({
      class: "unknown",
      reason: "server_error",
    });
  });
});

describe("sms-activate adapter: the API key never leaks", () => {
  it("appears in no failure, event or thrown message, whatever goes wrong", async () => {
    const key = "SECRET-KEY-8d1f0b77";
    const events: SmsActivateEvent[] = [];
    const { server, provider } = await setup({ apiKey: key, attempts: 2, onEvent: (e) => events.push(e) });
    const outputs: unknown[] = [];
    const modes: HttpFault[] = [
      { mode: "reset" },
      { mode: "html" },
      { mode: "cloudflare" },
      { mode: "empty" },
      { mode: "garbled" },
      { mode: "status", status: 500 },
      { mode: "status", status: 403 },
    ];
    for (const m of modes) {
      server.injectHttpFault({ ...m, action: "getNumberV2" });
      outputs.push(await provider.buyActivation({ service: "tg", country: "6", orderId: "o" }));
      server.injectHttpFault({ ...m, action: "getStatus", times: 2 });
      outputs.push(await provider.getActivationStatus("1"));
    }
    outputs.push(await provider.buyActivation({ service: "BAD SERVICE", country: "6", orderId: "o" }));
    // A fetch implementation that puts the whole URL in its error message.
    const throwing = createSmsActivateProvider({
      baseUrl: "http://x.test/h",
      apiKey: key,
      fetch: async (url) => {
        throw new Error(`request to ${url} failed`);
      },
      timer: instantRetries,
    });
    outputs.push(
      await throwing.getBalance(),
      await throwing.buyActivation({ service: "tg", country: "6", orderId: "o" }),
    );
    const seen = JSON.stringify([outputs, events]);
    expect(seen).toContain("request to http://x.test/h");
    expect(seen).not.toContain(key);
    expect(seen).not.toContain(encodeURIComponent(key));
    expect(events.length).toBeGreaterThan(10);
  });
});

describe("fake server", () => {
  it("validates maxPrice, freePrice, forward and json per dialect, and answers NO_KEY without a key", async () => {
    for (const dialect of ["sms-activate", "hero-sms"] as const) {
      const s = await startFakeSmsActivateServer({ dialect });
      try {
        s.setStock("tg", "6", { price: "0.25", count: 5 });
        const get = async (q: string) => {
          const res = await fetch(`${s.url}?action=getNumber&service=tg&country=6&${q}&api_key=${s.apiKey}`);
          return { status: res.status, body: await res.text() };
        };
        for (const bad of ["maxPrice=abc", "freePrice=yes", "forward=2", "json=true"]) {
          const r = await get(bad);
          if (dialect === "hero-sms") expect(r.status, bad).toBe(422);
          else expect(r.body, bad).toBe("ERROR_SQL");
        }
        expect((await get("maxPrice=0.5&freePrice=true&forward=0&json=1")).body).toMatch(
          /^ACCESS_NUMBER:\d{10}:/,
        );
        expect((await get("maxPrice=0.1")).body).toContain("WRONG_MAX_PRICE");
        expect(s.activations()).toHaveLength(1);
        const noKey = await (await fetch(`${s.url}?action=getBalance`)).text();
        expect(noKey).toContain("NO_KEY");
      } finally {
        await s.close();
      }
    }
  });

  it("random faults from a seed are reproducible, and the adapter's retries ride them out on reads", async () => {
    const run = async () => {
      const s = await startFakeSmsActivateServer({ randomFaults: { rate: 0.3, seed: 42 } });
      const p = createSmsActivateProvider({
        baseUrl: s.url,
        apiKey: s.apiKey,
        clock: s.clock,
        timer: instantRetries,
        timeoutMs: 60_000,
        retry: { attempts: 8, baseDelayMs: 1 },
      });
      const results: boolean[] = [];
      for (let i = 0; i < 20; i++) results.push((await p.getBalance()).isOk());
      const actions = s.requests.length;
      await s.close();
      return { results, actions };
    };
    const a = await run();
    expect(a.results.every(Boolean)).toBe(true);
    expect(a.actions).toBeGreaterThan(20);
    expect(await run()).toEqual(a);
  });

  it("accepts rent_time, time or none (4 h), refuses 1–3 h with INVALID_TIME, answers BAD_KEY to a wrong key, and BAD_SERVICE to a malformed code", async () => {
    const { server } = await setup();
    const get = async (q: string) => (await fetch(`${server.url}?${q}`)).text();
    for (const hours of ["time=4&", "rent_time=5&", ""]) {
      expect(
        await get(`action=getRentNumber&service=full&country=0&${hours}api_key=${server.apiKey}`),
      ).toContain('"status":"success"');
    }
    for (const hours of ["rent_time=3", "rent_time=1345", "rent_time=x"]) {
      expect(
        JSON.parse(
          await get(`action=getRentNumber&service=full&country=0&${hours}&api_key=${server.apiKey}`),
        ),
      ).toEqual({ status: "error", message: "INVALID_TIME" });
    }
    expect(await get("action=getBalance&api_key=nope")).toBe("BAD_KEY");
    expect(await get(`action=getNumber&service=T%20G&country=6&api_key=${server.apiKey}`)).toBe(
      "BAD_SERVICE",
    );
    server.setBalance("0.1");
    expect(await get(`action=getNumber&service=tg&country=6&api_key=${server.apiKey}`)).toBe("NO_BALANCE");
    expect(server.requests.every((r) => !("api_key" in r.params))).toBe(true);
  });
});
