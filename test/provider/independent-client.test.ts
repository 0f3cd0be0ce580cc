import { HeroSMSClient } from "hero-sms";
import { afterEach, describe, expect, it } from "vitest";
import { type FakeSmsActivateServer, startFakeSmsActivateServer } from "../../src/testing/fake-server.js";

/*
 * An independent, published client of the protocol (the `hero-sms` npm package, pinned) against the fake server
 * in the HeroSMS dialect: what it sends and reads is not ours, so this checks the fake's wire shapes from outside.
 */

let server: FakeSmsActivateServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function setup() {
  server = await startFakeSmsActivateServer({ dialect: "hero-sms", balance: "25.5" });
  server.setStock("tg", "6", { price: "0.25", count: 10 });
  server.setRentStock("full", "0", { pricePerHour: "0.1", count: 3 });
  const client = new HeroSMSClient({ apiKey: server.apiKey, baseUrl: server.url, timeout: 5_000 });
  return { server, client };
}

describe("hero-sms client against the fake server", () => {
  it("balance, purchase (both versions), status, code, finish", async () => {
    const { server, client } = await setup();
    expect(await client.getBalance()).toBe(25.5);
    const v1 = await client.getNumber({ service: "tg", country: 6 });
    // Its parseInt keeps every digit of the fake's 10-digit ids.
    expect(String(v1.activationId)).toBe(server.activations()[0]?.providerActivationId);
    const v2 = await client.getNumberV2({ service: "tg", country: 6 });
    expect(v2).toMatchObject({ activationCost: 0.25, currency: 840, countryCode: 6, canGetAnotherSms: true });
    expect(typeof v2.activationId).toBe("string");
    expect(v2.activationEndTime).toMatch(/\+00:00$/);
    const id = Number(v2.activationId);
    expect(await client.getStatus(id)).toEqual({ status: "STATUS_WAIT_CODE" });
    await server.deliverCode(v2.activationId, "4711");
    expect(await client.getStatus(id)).toEqual({ status: "STATUS_OK", code: "4711" });
    expect(await client.getStatusV2(id)).toMatchObject({ data: { code: "4711" } });
    const sms = await client.getAllSms({ id: v2.activationId });
    expect(sms).toMatchObject({ data: [{ code: "4711", type: "sms" }], meta: { total: 1 } });
    await expect(client.finishActivation(v2.activationId)).resolves.toBeUndefined();
    expect(server.activations().find((a) => a.providerActivationId === v2.activationId)?.state).toBe(
      "finished",
    );
    await server.deliverCode(String(v1.activationId), "1");
    expect(await client.complete(v1.activationId)).toBe("ACCESS_ACTIVATION");
  });

  it("the active list in HeroSMS's shapes, the history, and refusals as it sees them", async () => {
    const { server, client } = await setup();
    expect(await client.getActiveActivations()).toMatchObject({ status: "success", data: [] });
    const a = await client.getNumberV2({ service: "tg", country: 6 });
    const list = await client.getActiveActivations();
    expect(list.data).toMatchObject([{ activationId: a.activationId, serviceCode: "tg", currency: "840" }]);
    expect(await client.getHistory()).toMatchObject([{ id: a.activationId }]);
    // Non-2xx JSON errors reach it as HTTP errors carrying the envelope.
    await expect(client.cancel(Number(a.activationId))).rejects.toMatchObject({
      response: { status: 409, data: { title: "EARLY_CANCEL_DENIED", info: { minActivationTime: 120 } } },
    });
    await expect(client.getNumberV2({ service: "tg", country: 6, maxPrice: 0.01 })).rejects.toMatchObject({
      response: { status: 400, data: { title: "WRONG_MAX_PRICE", info: { min: 0.25 } } },
    });
    server.setStock("tg", "6", { price: "0.25", count: 0 });
    await expect(client.getNumber({ service: "tg", country: 6 })).rejects.toMatchObject({
      code: "NO_NUMBERS",
    });
    await server.advance(120_000);
    await expect(client.cancelActivation(a.activationId)).resolves.toBeUndefined();
  });

  it("rentals by duration: quote, rent, price table", async () => {
    const { client } = await setup();
    const quote = await client.getRentServicesAndCountries({ country: 0, duration: 4 });
    expect(quote.services.full).toEqual({ quantity: 3, price: 0.4, retail_price: 0.8 });
    const rent = await client.getRentNumber({ service: "full", country: 0, duration: 4 });
    expect(rent).toMatchObject({ activationCost: 0.4, countryCode: 0 });
    expect(typeof rent.activationId).toBe("string");
    const prices = await client.getRentPrices({ service: "full" });
    expect(prices["0"]?.["4"]).toEqual({ price: 0.4, count: 2 });
  });
});
