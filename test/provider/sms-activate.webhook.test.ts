import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { err, ok } from "neverthrow";
import { afterEach, describe, expect, it } from "vitest";
import {
  type ConfirmedCode,
  type ConfirmedRentalSms,
  createSmsActivateProvider,
  createWebhookHandler,
  verifyWebhookToken,
  type WebhookOutcome,
} from "../../src/provider/sms-activate/index.js";
import { type FakeSmsActivateServer, startFakeSmsActivateServer } from "../../src/testing/fake-server.js";

let upstream: FakeSmsActivateServer | undefined;
let receiver: Server | undefined;
afterEach(async () => {
  await upstream?.close();
  receiver?.closeAllConnections();
  await new Promise<void>((r) => (receiver ? receiver.close(() => r()) : r()));
  upstream = undefined;
  receiver = undefined;
});

/** The outcome's meaning: `detail` for 200 and 503, `result` otherwise. */
function what(o: WebhookOutcome): string {
  return o.status === 200 || o.status === 503 ? o.detail : o.result;
}

async function setup(secret: string | null = null, onCodeResult?: (c: ConfirmedCode) => unknown) {
  upstream = await startFakeSmsActivateServer({ dialect: "hero-sms", webhookDeliveries: 3 });
  upstream.setStock("go", "2", { price: "0.5", count: 5 });
  upstream.setRentStock("full", "0", { pricePerHour: "0.1", count: 2 });
  const provider = createSmsActivateProvider({
    preset: "hero-sms",
    baseUrl: upstream.url,
    apiKey: upstream.apiKey,
    clock: upstream.clock,
    retry: { attempts: 1 },
  });
  const codes: ConfirmedCode[] = [];
  const sms: ConfirmedRentalSms[] = [];
  const outcomes: WebhookOutcome[] = [];
  const handler = createWebhookHandler({
    provider,
    onCode: (c) => (onCodeResult ? onCodeResult(c) : codes.push(c)),
    onRentalSms: (m) => sms.push(m),
    clock: upstream.clock,
    secret,
  });
  const srv = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", async () => {
      const token = new URL(req.url ?? "/", "http://x").searchParams.get("token");
      const o = await handler.handle({ body, token });
      outcomes.push(o);
      res.writeHead(o.status).end();
    });
  });
  receiver = srv;
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/hook${secret === null ? "" : `?token=${secret}`}`;
  return { upstream, provider, handler, codes, sms, outcomes, url };
}

describe("sms-activate webhooks", () => {
  it("a code delivered three times (the id a bare JSON number) reaches onCode once, confirmed by polling", async () => {
    const { upstream, provider, codes, outcomes, url } = await setup();
    upstream.setWebhookUrl(url);
    const a = (await provider.buyActivation({ service: "go", country: "2", orderId: "o" }))._unsafeUnwrap();
    await upstream.deliverCode(a.providerActivationId, "00:42");
    expect(codes).toEqual([
      { providerActivationId: a.providerActivationId, code: "00:42", text: "Your code is 00:42" },
    ]);
    expect(outcomes.map(what).sort()).toEqual(["confirmed", "duplicate", "duplicate"]);
    expect(outcomes.every((o) => o.status === 200)).toBe(true);
    expect(upstream.requests.filter((r) => r.action === "getStatus").length).toBeGreaterThanOrEqual(1);
  });

  it("a lost webhook meets the last-poll bug: a delivery after the provider completed the activation is confirmed by the code its ended status shows", async () => {
    const { upstream, provider, handler, codes } = await setup();
    const a = (await provider.buyActivation({ service: "go", country: "2", orderId: "o" }))._unsafeUnwrap();
    await upstream.deliverCode(a.providerActivationId, "5150");
    (await provider.finishActivation(a.providerActivationId))._unsafeUnwrap();
    const late = { activationId: a.providerActivationId, code: "5150", service: "go", country: 2 };
    expect(what(await handler.handle({ body: late }))).toBe("confirmed");
    expect(codes).toEqual([{ providerActivationId: a.providerActivationId, code: "5150", text: null }]);
    // Another code than the one the ended status shows is still not confirmed.
    expect(what(await handler.handle({ body: { ...late, code: "0000" } }))).toBe("not_confirmed");
  });

  it("a forged body settles nothing and is answered like any processed delivery (200, no oracle)", async () => {
    const { upstream, provider, handler, codes } = await setup();
    const a = (await provider.buyActivation({ service: "go", country: "2", orderId: "o" }))._unsafeUnwrap();
    const forged = { activationId: a.providerActivationId, code: "999999", service: "go", country: 2 };
    expect(await handler.handle({ body: forged })).toEqual({
      status: 200,
      result: "processed",
      detail: "not_confirmed",
    });
    expect((await handler.handle({ body: { ...forged, activationId: "123" } })).status).toBe(200);
    expect(codes).toEqual([]);
    // The real code still gets through after a forged one with the same id.
    await upstream.deliverCode(a.providerActivationId, "999999");
    expect(what(await handler.handle({ body: forged }))).toBe("confirmed");
    expect(codes).toHaveLength(1);
  });

  it("regression: guessing another customer's code gets the same status for wrong and right guesses, and the guesses are rate limited per activation", async () => {
    const { upstream, provider, handler, codes } = await setup();
    const a = (await provider.buyActivation({ service: "go", country: "2", orderId: "o" }))._unsafeUnwrap();
    await upstream.deliverCode(a.providerActivationId, "4832");
    const statuses = new Set<number>();
    for (let guess = 0; guess < 50; guess++) {
      const code = String(guess).padStart(4, "0");
      statuses.add((await handler.handle({ body: { activationId: a.providerActivationId, code } })).status);
    }
    // Eight polls in the window, then 503 without polling: 0000–0049 never reach the real code.
    expect([...statuses].sort()).toEqual([200, 503]);
    expect(upstream.requests.filter((r) => r.action === "getStatus")).toHaveLength(8);
    const right = await handler.handle({ body: { activationId: a.providerActivationId, code: "4832" } });
    expect(right).toMatchObject({ status: 503, detail: "rate_limited" });
    await upstream.advance(10 * 60_000);
    expect(await handler.handle({ body: { activationId: a.providerActivationId, code: "4832" } })).toEqual({
      status: 200,
      result: "processed",
      detail: "confirmed",
    });
    expect(codes).toHaveLength(1);
  });

  it("a secret is required unless the caller opts out with null", async () => {
    const { provider } = await setup();
    const base = { provider, onCode: () => undefined };
    expect(() => createWebhookHandler(base as never)).toThrow(TypeError);
    expect(() => createWebhookHandler({ ...base, secret: "" })).toThrow(TypeError);
    expect(() => createWebhookHandler({ ...base, secret: null })).not.toThrow();
  });

  it("a delivery with code: null is processed (200) without a poll, so HeroSMS stops redelivering", async () => {
    const { upstream, provider, handler, codes } = await setup();
    const a = (await provider.buyActivation({ service: "go", country: "2", orderId: "o" }))._unsafeUnwrap();
    const before = upstream.requests.length;
    expect(
      await handler.handle({ body: `{"activationId":${a.providerActivationId},"code":null,"text":null}` }),
    ).toEqual({
      status: 200,
      result: "processed",
      detail: "no_code",
    });
    expect(upstream.requests).toHaveLength(before);
    expect(codes).toEqual([]);
  });

  it("regression: an Err from onCode answers 503 and is not deduplicated, so the redelivery hands the code over", async () => {
    let fail = true;
    const got: ConfirmedCode[] = [];
    const { upstream, provider, handler } = await setup(null, (c) => {
      if (fail) return err({ type: "storage_failure" });
      got.push(c);
      return ok(undefined);
    });
    const a = (await provider.buyActivation({ service: "go", country: "2", orderId: "o" }))._unsafeUnwrap();
    await upstream.deliverCode(a.providerActivationId, "31");
    const body = { activationId: a.providerActivationId, code: "31" };
    expect(await handler.handle({ body })).toEqual({
      status: 503,
      result: "unavailable",
      detail: "callback_failed",
    });
    fail = false;
    expect(what(await handler.handle({ body }))).toBe("confirmed");
    expect(what(await handler.handle({ body }))).toBe("duplicate");
    expect(got).toHaveLength(1);
  });

  it("a code sent as a bare number is confirmed with the provider's string (leading zeros kept)", async () => {
    const { upstream, provider, handler, codes } = await setup();
    const a = (await provider.buyActivation({ service: "go", country: "2", orderId: "o" }))._unsafeUnwrap();
    await upstream.deliverCode(a.providerActivationId, "007123");
    const o = await handler.handle({ body: `{"activationId":${a.providerActivationId},"code":7123}` });
    expect(what(o)).toBe("confirmed");
    expect(codes[0]?.code).toBe("007123");
  });

  it("rejects invalid bodies and a wrong token (checked before any poll)", async () => {
    const { upstream, handler } = await setup("s3cret");
    expect((await handler.handle({ body: "not json", token: "s3cret" })).status).toBe(400);
    expect((await handler.handle({ body: { hello: 1 }, token: "s3cret" })).status).toBe(400);
    expect(await handler.handle({ body: { activationId: 1, code: "1" }, token: "s3cre" })).toEqual({
      status: 401,
      result: "unauthorized",
    });
    expect(await handler.handle({ body: { activationId: 1, code: "1" } })).toEqual({
      status: 401,
      result: "unauthorized",
    });
    expect(upstream.requests).toEqual([]);
    expect(await verifyWebhookToken("s3cret", "s3cret")).toBe(true);
    expect(await verifyWebhookToken("", "")).toBe(true);
    expect(await verifyWebhookToken(null, "")).toBe(false);
  });

  it("answers 503 when the confirming poll fails, so the provider delivers again", async () => {
    const { upstream, provider, handler, codes } = await setup();
    const a = (await provider.buyActivation({ service: "go", country: "2", orderId: "o" }))._unsafeUnwrap();
    await upstream.deliverCode(a.providerActivationId, "5");
    upstream.injectHttpFault({ action: "getStatus", mode: "status", status: 502 });
    const body = { activationId: a.providerActivationId, code: "5" };
    expect((await handler.handle({ body })).status).toBe(503);
    expect(what(await handler.handle({ body }))).toBe("confirmed");
    expect(codes).toHaveLength(1);
  });

  it("concurrent duplicates hand the code over once", async () => {
    const { upstream, provider, handler, codes } = await setup();
    const a = (await provider.buyActivation({ service: "go", country: "2", orderId: "o" }))._unsafeUnwrap();
    await upstream.deliverCode(a.providerActivationId, "77");
    const body = JSON.stringify({ activationId: a.providerActivationId, code: "77" });
    const all = await Promise.all([1, 2, 3, 4].map(() => handler.handle({ body })));
    expect(all.map(what).sort()).toEqual(["confirmed", "duplicate", "duplicate", "duplicate"]);
    expect(codes).toHaveLength(1);
  });

  it("a rental SMS webhook (per-rental url) is confirmed by getRentStatus and deduplicated", async () => {
    const { upstream, provider, sms, outcomes, url } = await setup();
    const r = (
      await provider.rent({ service: "full", country: "0", hours: 4, orderId: "r", webhookUrl: url })
    )._unsafeUnwrap();
    await upstream.deliverRentalSms(r.providerRentalId, { from: "SPORTMASTER", text: "Code: 12:34" });
    expect(sms).toEqual([{ providerRentalId: r.providerRentalId, from: "SPORTMASTER", text: "Code: 12:34" }]);
    expect(outcomes.map(what).sort()).toEqual(["confirmed", "duplicate", "duplicate"]);
  });

  it("with a secret, the provider's deliveries carry the token and are processed", async () => {
    const { upstream, provider, codes, outcomes, url } = await setup("s3cret");
    upstream.setWebhookUrl(url);
    const a = (await provider.buyActivation({ service: "go", country: "2", orderId: "o" }))._unsafeUnwrap();
    await upstream.deliverCode(a.providerActivationId, "9");
    expect(codes).toHaveLength(1);
    expect(outcomes.every((o) => o.status === 200)).toBe(true);
  });
});
