import { describe, expect, it } from "vitest";
import { createFesHandler, type FesHandlerOptions } from "../../src/http/index.js";
import { seedActivity, setupService } from "./seed.js";

const BASE = "http://shop.test/api";

async function setup(extra: Partial<FesHandlerOptions> = {}) {
  const s = await setupService();
  const handler = createFesHandler(s.fes, {
    prefix: "/api",
    authenticate: (r) => r.headers.get("x-wallet"),
    authorizeAdmin: (r) => r.headers.get("x-admin") === "yes",
    storage: s.storage,
    clock: s.clock,
    ...extra,
  });
  const call = (
    method: string,
    path: string,
    o: {
      wallet?: string;
      admin?: boolean;
      key?: string;
      body?: unknown;
      headers?: Record<string, string>;
    } = {},
  ) => {
    const headers: Record<string, string> = { ...o.headers };
    if (o.wallet !== undefined) headers["x-wallet"] = o.wallet;
    if (o.admin) headers["x-admin"] = "yes";
    if (o.key !== undefined) headers["idempotency-key"] = o.key;
    let body: string | undefined;
    if (o.body !== undefined) {
      body = typeof o.body === "string" ? o.body : JSON.stringify(o.body);
      headers["content-type"] ??= "application/json";
    }
    return handler(
      new Request(`${BASE}${path}`, { method, headers, ...(body === undefined ? {} : { body }) }),
    );
  };
  const admin = async () => {
    for (const w of ["alice", "bob"]) {
      expect(
        (await call("POST", "/admin/wallets", { admin: true, body: { walletId: w, currency: "USD" } }))
          .status,
      ).toBe(201);
      const dep = await call("POST", `/admin/wallets/${w}/deposit`, {
        admin: true,
        key: `dep-${w}`,
        body: { amountMinor: 1000, currency: "USD" },
      });
      expect(dep.status).toBe(200);
    }
  };
  return { ...s, handler, call, admin };
}

describe("createFesHandler: the customer API", () => {
  it("buys, receives a code, settles, and shows the balance", async () => {
    const { call, admin, fake } = await setup();
    await admin();
    const bought = await call("POST", "/activations", {
      wallet: "alice",
      key: "b1",
      body: { service: "tg", country: "6" },
    });
    expect(bought.status).toBe(201);
    const a = (await bought.json()) as { id: string; state: string; priceMinor: number };
    expect(a).toMatchObject({ state: "waiting", priceMinor: 50 });
    expect(a).not.toHaveProperty("costMinor");
    expect(await (await call("GET", "/wallet", { wallet: "alice" })).json()).toMatchObject({
      balanceMinor: 1000,
      frozenMinor: 50,
    });
    const [upstream] = await fake.control.activations();
    await fake.control.deliverCode(upstream!.providerActivationId, "4242");
    const polled = await call("POST", `/activations/${encodeURIComponent(a.id)}/poll`, { wallet: "alice" });
    expect(await polled.json()).toMatchObject({ state: "received", codes: ["4242"] });
    expect(await (await call("GET", "/wallet", { wallet: "alice" })).json()).toMatchObject({
      balanceMinor: 950,
      frozenMinor: 0,
    });
    const st = (await (await call("GET", "/wallet/statement?limit=1", { wallet: "alice" })).json()) as {
      entries: unknown[];
      nextAfterSeq: number | null;
    };
    expect(st.entries).toHaveLength(1);
    const next = await call("GET", `/wallet/statement?afterSeq=${st.nextAfterSeq}`, { wallet: "alice" });
    expect(((await next.json()) as { entries: { kind: string }[] }).entries.map((e) => e.kind)).toEqual([
      "settle",
    ]);
  });

  it("replays the same Idempotency-Key and refuses it for another request (422)", async () => {
    const { call, admin } = await setup();
    await admin();
    const body = { service: "tg", country: "6" };
    const first = await (await call("POST", "/activations", { wallet: "alice", key: "k", body })).json();
    const again = await call("POST", "/activations", { wallet: "alice", key: "k", body });
    expect(again.status).toBe(201);
    expect(await again.json()).toEqual(first);
    const other = await call("POST", "/activations", {
      wallet: "alice",
      key: "k",
      body: { service: "wa", country: "0" },
    });
    expect(other.status).toBe(422);
    expect(other.headers.get("content-type")).toBe("application/problem+json");
    expect(await other.json()).toMatchObject({
      code: "idempotency_conflict",
      status: 422,
      idempotencyKey: "k",
    });
  });

  it("answers 409 with Retry-After to a second request whose key is still in flight, then replays", async () => {
    const s = await setupService();
    await s.fes.createWallet({ walletId: "alice", currency: "USD" });
    await s.fes.deposit({ walletId: "alice", amountMinor: 1000, currency: "USD", idempotencyKey: "d" });
    let entered: () => void = () => {};
    const called = new Promise<void>((r) => {
      entered = r;
    });
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const fes = {
      ...s.fes,
      buyActivation: ((input) => {
        entered();
        const held = gate.then(() => s.fes.buyActivation(input));
        return held as unknown as ReturnType<typeof s.fes.buyActivation>;
      }) as typeof s.fes.buyActivation,
    };
    const handler = createFesHandler(fes, { authenticate: () => "alice" });
    const req = () =>
      handler(
        new Request("http://x/activations", {
          method: "POST",
          headers: { "idempotency-key": "k", "content-type": "application/json" },
          body: JSON.stringify({ service: "tg", country: "6" }),
        }),
      );
    const first = req();
    await called;
    const second = await req();
    expect(second.status).toBe(409);
    expect(second.headers.get("retry-after")).toBe("1");
    expect(await second.json()).toMatchObject({ code: "idempotency_in_flight", idempotencyKey: "k" });
    release();
    const done = await first;
    expect(done.status).toBe(201);
    const replay = await req();
    expect(replay.status).toBe(201);
    expect(await replay.json()).toEqual(await done.json());
  });

  it("needs an Idempotency-Key to buy, and validates it", async () => {
    const { call, admin } = await setup();
    await admin();
    const missing = await call("POST", "/activations", {
      wallet: "alice",
      body: { service: "tg", country: "6" },
    });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({
      code: "invalid_input",
      issues: [{ path: "header.Idempotency-Key", message: "this request needs an Idempotency-Key header" }],
    });
    const spaced = await call("POST", "/activations", {
      wallet: "alice",
      key: "a b",
      body: { service: "tg", country: "6" },
    });
    expect(spaced.status).toBe(400);
  });

  it("answers insufficient_funds with 402 and writes nothing", async () => {
    const { call, fes } = await setup();
    await fes.createWallet({ walletId: "carol", currency: "USD" });
    const r = await call("POST", "/activations", {
      wallet: "carol",
      key: "x",
      body: { service: "tg", country: "6" },
    });
    expect(r.status).toBe(402);
    expect(await r.json()).toMatchObject({
      type: "urn:sms-fes:problem:insufficient_funds",
      code: "insufficient_funds",
      availableMinor: 0,
      requestedMinor: 50,
    });
    expect((await fes.getBalance("carol"))._unsafeUnwrap().frozenMinor).toBe(0);
  });

  it("hides another wallet's activation and rental as 404", async () => {
    const { call, admin } = await setup();
    await admin();
    const a = (await (
      await call("POST", "/activations", { wallet: "alice", key: "b", body: { service: "tg", country: "6" } })
    ).json()) as { id: string };
    const peek = await call("GET", `/activations/${encodeURIComponent(a.id)}`, { wallet: "bob" });
    expect(peek.status).toBe(404);
    expect(await peek.json()).toMatchObject({ code: "activation_not_found" });
    const cancel = await call("POST", `/activations/${encodeURIComponent(a.id)}/cancel`, { wallet: "bob" });
    expect(cancel.status).toBe(404);
    const r = (await (
      await call("POST", "/rentals", {
        wallet: "alice",
        key: "r",
        body: { service: "tg", country: "6", hours: 4 },
      })
    ).json()) as { id: string };
    expect((await call("GET", `/rentals/${encodeURIComponent(r.id)}`, { wallet: "bob" })).status).toBe(404);
    expect((await call("GET", `/rentals/${encodeURIComponent(r.id)}`, { wallet: "alice" })).status).toBe(200);
  });

  it("refuses a cancel inside the early-cancel window with 409 and Retry-After", async () => {
    const { call, admin, clock } = await setup();
    await admin();
    const a = (await (
      await call("POST", "/activations", { wallet: "alice", key: "b", body: { service: "tg", country: "6" } })
    ).json()) as { id: string };
    clock.advance(30_000);
    const early = await call("POST", `/activations/${encodeURIComponent(a.id)}/cancel`, { wallet: "alice" });
    expect(early.status).toBe(409);
    expect(early.headers.get("retry-after")).toBe("90");
    expect(await early.json()).toMatchObject({ code: "too_early_to_cancel", retryAfterMs: 90_000 });
    clock.advance(90_000);
    const ok = await call("POST", `/activations/${encodeURIComponent(a.id)}/cancel`, { wallet: "alice" });
    expect(await ok.json()).toMatchObject({ state: "cancelled" });
    const twice = await call("POST", `/activations/${encodeURIComponent(a.id)}/finish`, { wallet: "alice" });
    expect(twice.status).toBe(409);
    expect(await twice.json()).toMatchObject({ code: "transition_not_allowed" });
  });

  it("answers provider_unavailable with 503 and Retry-After, without the provider's message", async () => {
    const { call, admin, fake } = await setup();
    await admin();
    await fake.control.injectFault({ action: "quote", kind: "retryable" });
    const r = await call("POST", "/activations", {
      wallet: "alice",
      key: "b",
      body: { service: "tg", country: "6" },
    });
    expect(r.status).toBe(503);
    expect(Number(r.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    const body = (await r.json()) as Record<string, unknown>;
    expect(body.code).toBe("provider_unavailable");
    expect(body).not.toHaveProperty("reason");
  });

  it("rents, extends and cancels a rental", async () => {
    const { call, admin } = await setup();
    await admin();
    const r = await call("POST", "/rentals", {
      wallet: "alice",
      key: "r1",
      body: { service: "tg", country: "6", hours: 4 },
    });
    expect(r.status).toBe(201);
    const rental = (await r.json()) as { id: string; state: string };
    expect(rental.state).toBe("active");
    const path = `/rentals/${encodeURIComponent(rental.id)}`;
    const ext = await call("POST", `${path}/extend`, { wallet: "alice", key: "e1", body: { hours: 2 } });
    expect(((await ext.json()) as { periods: unknown[] }).periods).toHaveLength(2);
    const c = await call("POST", `${path}/cancel`, { wallet: "alice" });
    expect(await c.json()).toMatchObject({ state: "cancelled" });
    expect(await (await call("GET", "/wallet", { wallet: "alice" })).json()).toMatchObject({
      frozenMinor: 0,
      balanceMinor: 1000,
    });
  });
});

describe("createFesHandler: requests it refuses", () => {
  it("401 without a wallet, 403 for a customer on the admin API, 404 outside the prefix", async () => {
    const { call, handler } = await setup();
    expect((await call("GET", "/wallet")).status).toBe(401);
    expect((await call("GET", "/admin/wallets/alice", { wallet: "alice" })).status).toBe(403);
    expect((await handler(new Request("http://shop.test/other"))).status).toBe(404);
    expect((await call("GET", "/nothing", { wallet: "alice" })).status).toBe(404);
  });

  it("sends the Response an authenticate hook returns", async () => {
    const { call } = await setup({
      authenticate: () => new Response("login", { status: 401, headers: { "www-authenticate": "Bearer" } }),
    });
    const r = await call("GET", "/wallet");
    expect(r.status).toBe(401);
    expect(r.headers.get("www-authenticate")).toBe("Bearer");
  });

  it("does not mount the admin API without authorizeAdmin", async () => {
    const s = await setupService();
    const handler = createFesHandler(s.fes, { authenticate: () => "alice" });
    expect((await handler(new Request("http://x/admin/sweep", { method: "POST" }))).status).toBe(404);
  });

  it("405 with Allow for a known path and another method", async () => {
    const { call } = await setup();
    const r = await call("DELETE", "/activations", { wallet: "alice" });
    expect(r.status).toBe(405);
    expect(r.headers.get("allow")).toBe("POST");
  });

  it("413 beyond the body limit, whatever Content-Length says", async () => {
    const { call } = await setup({ maxBodyBytes: 100 });
    const big = JSON.stringify({ service: "tg", country: "x".repeat(200) });
    const r = await call("POST", "/activations", { wallet: "alice", key: "k", body: big });
    expect(r.status).toBe(413);
    expect(await r.json()).toMatchObject({ code: "payload_too_large", limitBytes: 100 });
  });

  it("400 for a body that is not JSON, an unknown field, a bad path id or query; 415 for another media type", async () => {
    const { call } = await setup();
    const notJson = await call("POST", "/activations", { wallet: "alice", key: "k", body: "{" });
    expect(notJson.status).toBe(400);
    const extra = await call("POST", "/activations", {
      wallet: "alice",
      key: "k",
      body: { service: "tg", country: "6", walletId: "bob" },
    });
    expect(extra.status).toBe(400);
    const wrongType = await call("POST", "/activations", {
      wallet: "alice",
      key: "k",
      body: "service=tg",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(wrongType.status).toBe(415);
    const query = await call("GET", "/wallet/statement?limit=0", { wallet: "alice" });
    expect(query.status).toBe(400);
    expect(await query.json()).toMatchObject({ issues: [{ path: "query.limit" }] });
    const twice = await call("GET", "/wallet/statement?limit=1&limit=2", { wallet: "alice" });
    expect(twice.status).toBe(400);
    const badId = await call("GET", `/activations/${"x".repeat(400)}`, { wallet: "alice" });
    expect(badId.status).toBe(400);
  });

  it("answers 500 without throwing when the service throws, and reports it", async () => {
    const s = await setupService();
    const seen: unknown[] = [];
    const fes = {
      ...s.fes,
      getBalance: () => {
        throw new Error("database exploded: secret detail");
      },
    };
    const handler = createFesHandler(fes, { authenticate: () => "alice", onError: (e) => seen.push(e) });
    const r = await handler(new Request("http://x/wallet"));
    expect(r.status).toBe(500);
    const text = await r.text();
    expect(text).not.toContain("secret");
    expect(seen).toHaveLength(1);
  });

  it("sets the security headers on every answer", async () => {
    const { call } = await setup();
    const r = await call("GET", "/wallet", { wallet: "alice" });
    expect(r.headers.get("x-content-type-options")).toBe("nosniff");
    expect(r.headers.get("content-security-policy")).toBe("default-src 'none'; frame-ancestors 'none'");
    expect(r.headers.get("cache-control")).toBe("no-store");
  });
});

describe("createFesHandler: price list, webhook, sweep, OpenAPI", () => {
  it("serves the price list when one is given, and not otherwise", async () => {
    const priceList = {
      quote: async (q: { service: string; country: string }) =>
        ({ isOk: () => true, value: { service: q.service, country: q.country, priceMinor: 50 } }) as const,
      priceList: async () =>
        ({ isOk: () => false, error: { type: "provider_unavailable", reason: "x" } }) as const,
    };
    const { call } = await setup({ priceList });
    const q = await call("GET", "/quote?service=tg&country=6", { wallet: "alice" });
    expect(await q.json()).toEqual({ service: "tg", country: "6", priceMinor: 50 });
    expect((await call("GET", "/prices", { wallet: "alice" })).status).toBe(503);
    const without = await setup();
    expect((await without.call("GET", "/quote?service=tg&country=6", { wallet: "alice" })).status).toBe(404);
  });

  it("mounts the webhook helper at /webhook with the token from the query", async () => {
    const seen: unknown[] = [];
    const webhook = {
      handle: async (r: { body: unknown; token?: string | null }) => {
        seen.push(r);
        return r.token === "s3cret"
          ? { status: 200, result: "confirmed" }
          : { status: 401, result: "unauthorized" };
      },
    };
    const { handler } = await setup({ webhook });
    const ok = await handler(
      new Request(`${BASE}/webhook?token=s3cret`, { method: "POST", body: '{"activationId":1}' }),
    );
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ result: "confirmed" });
    expect(seen).toEqual([{ body: '{"activationId":1}', token: "s3cret" }]);
    expect((await handler(new Request(`${BASE}/webhook`, { method: "POST", body: "{}" }))).status).toBe(401);
    expect((await handler(new Request(`${BASE}/webhook?token=s3cret`))).status).toBe(405);
  });

  it("sweeps through the admin API", async () => {
    const { call, admin, clock } = await setup();
    await admin();
    await call("POST", "/activations", { wallet: "alice", key: "b", body: { service: "tg", country: "6" } });
    clock.advance(21 * 60_000);
    const r = await call("POST", "/admin/sweep", { admin: true });
    expect(r.status).toBe(200);
    expect(await (await call("GET", "/wallet", { wallet: "alice" })).json()).toMatchObject({
      frozenMinor: 0,
    });
  });

  it("serves an OpenAPI 3.1 document of the mounted routes, generated from the schemas", async () => {
    const { call } = await setup();
    const r = await call("GET", "/openapi.json");
    expect(r.status).toBe(200);
    const doc = (await r.json()) as {
      openapi: string;
      servers: { url: string }[];
      paths: Record<
        string,
        Record<
          string,
          {
            requestBody?: { content: Record<string, { schema: { properties: object; required: string[] } }> };
            parameters: { name: string; in: string; required: boolean }[];
            responses: Record<string, unknown>;
          }
        >
      >;
    };
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.servers).toEqual([{ url: "/api" }]);
    const buy = doc.paths["/activations"]!.post!;
    expect(Object.keys(buy.requestBody!.content["application/json"]!.schema.properties)).toEqual([
      "service",
      "country",
    ]);
    expect(buy.parameters).toContainEqual(
      expect.objectContaining({ name: "Idempotency-Key", in: "header", required: true }),
    );
    expect(Object.keys(buy.responses)).toEqual(
      expect.arrayContaining(["201", "400", "402", "409", "422", "503"]),
    );
    expect(doc.paths["/admin"]).toBeDefined();
    expect(doc.paths["/quote"]).toBeUndefined();
  });
});

describe("the dashboard", () => {
  it("renders behind authorizeAdmin with a strict CSP, escaped values and the analytics' numbers", async () => {
    const s = await setup();
    await seedActivity(s);
    const denied = await s.call("GET", "/admin");
    expect(denied.status).toBe(403);
    const r = await s.call("GET", "/admin?window=7d", { admin: true });
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const csp = r.headers.get("content-security-policy") ?? "";
    expect(csp).toMatch(/^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/=]+'/);
    const html = await r.text();
    expect(html).not.toContain("<script");
    expect(html).not.toContain("<b>x</b>");
    expect(html).toContain("&lt;b&gt;x&lt;/b&gt;");
    expect(html).not.toMatch(/ style="/);
    const health = (await (await s.call("GET", "/admin/health?window=7d", { admin: true })).json()) as {
      byService: { label: string; received: number; decided: number }[];
    };
    const tg = health.byService.find((g) => g.label === "tg")!;
    expect(tg.received).toBe(8);
    expect(html).toMatch(/<tr data-group="tg"><th scope="row">tg<\/th><td data-k="total">8<\/td>/);
    expect((await s.call("GET", "/admin?window=1y", { admin: true })).status).toBe(400);
  });
});
