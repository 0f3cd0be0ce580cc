import { afterEach, describe, expect, it } from "vitest";
import {
  createSmsActivateProvider,
  type FetchLike,
  parseBody,
  type SmsActivateProvider,
} from "../../src/provider/sms-activate/index.js";
import {
  type FakeServerDialect,
  type FakeSmsActivateServer,
  startFakeSmsActivateServer,
} from "../../src/testing/fake-server.js";
import { ManualClock } from "../../src/testing/manual-clock.js";

/** A fetch that answers every call from a table of (action → status, body). */
function scripted(
  answers: Record<
    string,
    { status?: number; body: string } | ((params: URLSearchParams) => { status?: number; body: string })
  >,
): {
  fetch: FetchLike;
  calls: URLSearchParams[];
} {
  const calls: URLSearchParams[] = [];
  const fetch: FetchLike = async (url) => {
    const params = new URL(url).searchParams;
    calls.push(params);
    const a = answers[params.get("action") ?? ""];
    const r = typeof a === "function" ? a(params) : (a ?? { status: 200, body: "BAD_ACTION" });
    return { status: r.status ?? 200, headers: new Headers(), text: async () => r.body };
  };
  return { fetch, calls };
}

const clock = () => new ManualClock(Date.UTC(2026, 0, 1));

function adapter(
  fetch: FetchLike,
  preset: "hero-sms" | "sms-activate" | "generic" = "generic",
): SmsActivateProvider {
  return createSmsActivateProvider({
    preset,
    baseUrl: "http://upstream.test/stubs/handler_api.php",
    apiKey: "k",
    fetch,
    clock: clock(),
    retry: { attempts: 1 },
  });
}

let server: FakeSmsActivateServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function overServerWithFirstId(firstId: bigint) {
  const s = await startFakeSmsActivateServer({ firstId });
  s.setStock("tg", "6", { price: "0.25", count: 10 });
  const provider = createSmsActivateProvider({
    preset: "sms-activate",
    baseUrl: s.url,
    apiKey: s.apiKey,
    clock: s.clock,
  });
  const id = (await provider.buyActivation({ service: "tg", country: "6", orderId: "o" }))._unsafeUnwrap()
    .providerActivationId;
  return { server: s, id };
}

async function overServer(dialect: FakeServerDialect = "sms-activate") {
  server = await startFakeSmsActivateServer({ dialect });
  server.setStock("tg", "6", { price: "0.25", count: 10 });
  server.setRentStock("full", "0", { pricePerHour: "0.1", count: 3 });
  const provider = createSmsActivateProvider({
    preset: dialect === "clone" ? "generic" : dialect,
    baseUrl: server.url,
    apiKey: server.apiKey,
    clock: server.clock,
    retry: { attempts: 1 },
  });
  const bought = (
    await provider.buyActivation({ service: "tg", country: "6", orderId: "o-1" })
  )._unsafeUnwrap();
  return { server, provider, id: bought.providerActivationId };
}

describe("sms-activate pitfalls", () => {
  it("a code containing colons is kept whole (split on the first colon only)", async () => {
    expect(parseBody("STATUS_OK:12:34:56")).toEqual({ kind: "token", token: "STATUS_OK", data: "12:34:56" });
    const { server, provider, id } = await overServer();
    await server.deliverCode(id, "G-12:34:56");
    expect((await provider.getActivationStatus(id))._unsafeUnwrap()).toMatchObject({
      state: "code",
      code: "G-12:34:56",
    });
  });

  it("BANNED:'…' and WRONG_MAX_PRICE:… are matched by prefix and their suffixes parsed", async () => {
    const { fetch } = scripted({
      getNumberV2: (p) =>
        p.get("service") === "tg"
          ? { body: "BANNED:'2026-2-13 12-00-00'" }
          : { body: "WRONG_MAX_PRICE:0.025" },
    });
    const p = adapter(fetch);
    expect((await p.buyActivation({ service: "tg", country: "6", orderId: "o" }))._unsafeUnwrapErr()).toEqual(
      {
        class: "declined",
        reason: "banned",
        untilMs: Date.UTC(2026, 1, 13, 12, 0, 0),
      },
    );
    expect((await p.buyActivation({ service: "wa", country: "6", orderId: "o" }))._unsafeUnwrapErr()).toEqual(
      {
        class: "declined",
        reason: "price_too_low",
        minPrice: "0.025",
      },
    );
    // Never a substring of the whole body: a token that only contains NO_NUMBERS is not NO_NUMBERS.
    const { fetch: f2 } = scripted({ getNumberV2: { body: "STATUS_NO_NUMBERS_X" } });
    expect(
      (await adapter(f2).buyActivation({ service: "tg", country: "6", orderId: "o" }))._unsafeUnwrapErr()
        .class,
    ).toBe("unknown");
  });

  it("STATUS_WAIT_RETRY:<old> is the previous code, not a new one", async () => {
    const { server, provider, id } = await overServer();
    await server.deliverCode(id, "111111");
    (await provider.requestAnotherCode(id))._unsafeUnwrap();
    expect((await provider.getActivationStatus(id))._unsafeUnwrap()).toEqual({
      state: "waiting_retry",
      previousCode: "111111",
    });
  });

  it("leading-zero and alphanumeric codes stay strings", async () => {
    const { server, provider, id } = await overServer("hero-sms");
    await server.deliverCode(id, "007123");
    expect((await provider.getActivationStatus(id))._unsafeUnwrap()).toMatchObject({
      state: "code",
      code: "007123",
    });
    (await provider.requestAnotherCode(id))._unsafeUnwrap();
    await server.deliverCode(id, "AB12x9");
    expect((await provider.getActivationStatus(id))._unsafeUnwrap()).toMatchObject({
      state: "code",
      code: "AB12x9",
      text: "Your code is AB12x9",
    });
    const { fetch } = scripted({
      getActiveActivations: {
        body: '{"status":"success","activeActivations":[{"activationId":1,"serviceCode":"vk","phoneNumber":"79********1","smsCode":[7,"0042"],"countryCode":2}]}',
      },
    });
    expect((await adapter(fetch).listActiveActivations())._unsafeUnwrap()[0]?.codes).toEqual(["7", "0042"]);
  });

  it("ids of 16 digits keep every digit even when sent as a bare JSON number; the fake server issues 10-digit ids", async () => {
    const big = await overServerWithFirstId(9_100_000_000_000_001n);
    expect(big.id).toBe("9100000000000001");
    expect(big.server.activations()).toMatchObject([{ providerActivationId: big.id }]);
    await big.server.close();
    const { server, provider, id } = await overServer();
    expect(id).toMatch(/^\d{10}$/);
    expect(server.activations()).toMatchObject([{ providerActivationId: id }]);
    const r = (
      await provider.rent({ service: "full", country: "0", hours: 4, orderId: "r" })
    )._unsafeUnwrap();
    expect(r.providerRentalId).toBe(server.upstream.allRentals()[0]?.id);
    expect(parseBody('{"t":"id 9100000000000001","f":1.12345678901234567,"n":-9100000000000001}')).toEqual({
      kind: "json",
      value: { t: "id 9100000000000001", f: Number("1.12345678901234567"), n: "-9100000000000001" },
    });
    expect(parseBody('{"activationId":9007199254740993,"x":[1234567890123456789]}')).toEqual({
      kind: "json",
      value: { activationId: "9007199254740993", x: ["1234567890123456789"] },
    });
  });

  it('canGetAnotherSms arrives as "1" and as true (and "0" is false)', async () => {
    const body = (flag: string) =>
      `{"activationId":"5","phoneNumber":"79990000000","activationCost":"12.50","currency":643,"canGetAnotherSms":${flag}}`;
    for (const [flag, expected] of [
      ['"1"', true],
      ["true", true],
      ['"0"', false],
      ["false", false],
    ] as const) {
      const { fetch } = scripted({ getNumberV2: { body: body(flag) } });
      const a = (
        await adapter(fetch).buyActivation({ service: "tg", country: "6", orderId: "o" })
      )._unsafeUnwrap();
      expect(a).toMatchObject({ canGetAnotherSms: expected, cost: "12.5", currency: "RUB" });
    }
  });

  it('rent values as an object keyed "0","1" are read in order', async () => {
    const { server, provider } = await overServer("clone");
    const r = (
      await provider.rent({ service: "full", country: "0", hours: 4, orderId: "r" })
    )._unsafeUnwrap();
    expect((await provider.getRentalStatus(r.providerRentalId))._unsafeUnwrap()).toMatchObject({
      state: "active",
      messages: [],
    });
    await server.deliverRentalSms(r.providerRentalId, { from: "A", text: "first: 1" });
    await server.deliverRentalSms(r.providerRentalId, { from: "B", text: "second: 2" });
    const s = (await provider.getRentalStatus(r.providerRentalId))._unsafeUnwrap();
    expect(s.messages.map((m) => [m.from, m.text])).toEqual([
      ["A", "first: 1"],
      ["B", "second: 2"],
    ]);
    const { fetch } = scripted({
      getRentStatus: {
        body: '{"status":"success","quantity":"2","values":{"1":{"phoneFrom":"Y","text":"b","service":"full","date":"2025-06-17 16:01:10"},"0":{"phoneFrom":"X","text":"a","service":"full","date":"2025-06-17 16:00:10"}}}',
      },
    });
    const s2 = (await adapter(fetch).getRentalStatus("1"))._unsafeUnwrap();
    expect(s2.messages.map((m) => m.from)).toEqual(["X", "Y"]);
    expect(s2.messages[0]?.atMs).toBe(Date.UTC(2025, 5, 17, 16, 0, 10));
  });

  it("STATUS_CANCEL after finish is `ended` with the code getStatusV2 still shows, not a refund", async () => {
    const { server, provider, id } = await overServer();
    await server.deliverCode(id, "5555");
    (await provider.finishActivation(id))._unsafeUnwrap();
    expect(server.requests.at(-1)?.params.status).toBe("6");
    expect((await provider.getActivationStatus(id))._unsafeUnwrap()).toEqual({
      state: "ended",
      code: "5555",
    });
    expect(server.requests.at(-1)?.action).toBe("getStatusV2");
    expect(server.activations()[0]?.state).toBe("finished");
  });

  it("the last poll cannot see the code: a completed activation is `ended` with its code, in both V2 shapes", async () => {
    for (const dialect of ["sms-activate", "hero-sms"] as const) {
      const { server, provider, id } = await overServer(dialect);
      await server.deliverCode(id, "0042");
      server.clock.advance(20 * 60_000);
      expect(server.activations()[0]?.state).toBe("finished");
      expect((await provider.getActivationStatus(id))._unsafeUnwrap()).toEqual({
        state: "ended",
        code: "0042",
      });
      await server.close();
    }
  });

  it("the last poll cannot see the code: a cancelled or expired activation is `ended` without one", async () => {
    const { server, provider, id } = await overServer();
    server.clock.advance(2 * 60_000);
    (await provider.cancelActivation(id))._unsafeUnwrap();
    expect((await provider.getActivationStatus(id))._unsafeUnwrap()).toEqual({ state: "ended" });
    const second = (
      await provider.buyActivation({ service: "tg", country: "6", orderId: "o-2" })
    )._unsafeUnwrap();
    server.clock.advance(20 * 60_000);
    expect((await provider.getActivationStatus(second.providerActivationId))._unsafeUnwrap()).toEqual({
      state: "ended",
    });
  });

  it("the last poll cannot see the code: an unreadable getStatusV2 after STATUS_CANCEL is a failure, not a refund", async () => {
    const { fetch } = scripted({
      getStatus: { body: "STATUS_CANCEL" },
      getStatusV2: { status: 502, body: "<html>bad gateway</html>" },
    });
    const r = await adapter(fetch, "sms-activate").getActivationStatus("1");
    expect(r.isErr()).toBe(true);
  });

  it("the last poll cannot see the code: without getStatusV2 the wire cannot tell, and `ended` carries no code", async () => {
    const { fetch, calls } = scripted({ getStatus: { body: "STATUS_CANCEL" } });
    expect((await adapter(fetch, "generic").getActivationStatus("1"))._unsafeUnwrap()).toEqual({
      state: "ended",
    });
    expect(calls.map((c) => c.get("action"))).toEqual(["getStatus"]);
  });

  it("NO_NUMBERS as a 200 text body and as a 404 JSON envelope", async () => {
    const { fetch } = scripted({
      getNumberV2: { body: "NO_NUMBERS" },
      getRentNumber: { status: 404, body: '{"title":"NO_NUMBERS","details":"No numbers","info":{}}' },
    });
    const p = adapter(fetch, "hero-sms");
    expect(
      (await p.buyActivation({ service: "tg", country: "6", orderId: "o" }))._unsafeUnwrapErr(),
    ).toMatchObject({
      class: "declined",
      reason: "no_numbers",
    });
    expect(
      (await p.rent({ service: "full", country: "0", hours: 4, orderId: "o" }))._unsafeUnwrapErr(),
    ).toMatchObject({
      class: "declined",
      reason: "no_numbers",
    });
    server = await startFakeSmsActivateServer({ dialect: "hero-sms" });
    server.setRentStock("full", "0", { pricePerHour: "0.1", count: 0 });
    const hp = createSmsActivateProvider({
      preset: "hero-sms",
      baseUrl: server.url,
      apiKey: server.apiKey,
      clock: server.clock,
    });
    expect(
      (await hp.rent({ service: "full", country: "0", hours: 4, orderId: "o" }))._unsafeUnwrapErr(),
    ).toMatchObject({
      class: "declined",
      reason: "no_numbers",
    });
  });

  it("a JSON-quoted text body is unquoted once", async () => {
    expect(parseBody('"ACCESS_BALANCE:12.4422"')).toEqual({
      kind: "token",
      token: "ACCESS_BALANCE",
      data: "12.4422",
    });
    expect(parseBody('"\\"ACCESS_BALANCE:1\\""').kind).toBe("unknown");
    const { server, provider, id } = await overServer();
    server.injectHttpFault({ action: "getStatus", mode: "quoted" });
    await server.deliverCode(id, "4321");
    expect((await provider.getActivationStatus(id))._unsafeUnwrap()).toMatchObject({
      state: "code",
      code: "4321",
    });
  });

  it("an HTML 502 page after a buy is unknown; a Cloudflare 1020 page is a rate limit", async () => {
    const { server, provider } = await overServer();
    server.injectHttpFault({ action: "getNumberV2", mode: "html", after: true });
    expect(
      (await provider.buyActivation({ service: "tg", country: "6", orderId: "o-2" }))._unsafeUnwrapErr(),
    ).toMatchObject({
      class: "unknown",
      reason: "http_502",
    });
    expect(server.activations()).toHaveLength(2);
    server.injectHttpFault({ action: "getNumberV2", mode: "cloudflare" });
    expect(
      (await provider.buyActivation({ service: "tg", country: "6", orderId: "o-3" }))._unsafeUnwrapErr(),
    ).toMatchObject({
      class: "retryable",
      reason: "rate_limited",
    });
    expect(server.activations()).toHaveLength(2);
    expect(server.requests.filter((r) => r.action === "getNumberV2")).toHaveLength(3);
  });

  it("ACCESS_READY (status 1, SMS sent) is not ACCESS_RETRY_GET (status 3, another code)", async () => {
    const { fetch, calls } = scripted({
      setStatus: (p) => ({ body: p.get("status") === "3" ? "ACCESS_READY" : "ACCESS_RETRY_GET" }),
    });
    // Another code is status 3, and its confirmation is ACCESS_RETRY_GET: an ACCESS_READY answer is not one.
    expect((await adapter(fetch).requestAnotherCode("1"))._unsafeUnwrapErr().class).toBe("unknown");
    expect(calls[0]?.get("status")).toBe("3");
    const { fetch: right } = scripted({
      setStatus: (p) => ({ body: p.get("status") === "3" ? "ACCESS_RETRY_GET" : "ACCESS_READY" }),
    });
    expect((await adapter(right).requestAnotherCode("1")).isOk()).toBe(true);
  });
});
