import { describe, expect, it } from "vitest";
import { systemClock } from "../../src/core/clock.js";
import { createFakeProvider, priceToUnits, unitsToPrice } from "../../src/testing/fake-provider.js";
import { ManualClock } from "../../src/testing/manual-clock.js";

describe("fake provider", () => {
  it("converts decimal prices without floats", () => {
    expect(priceToUnits("0.025")).toBe(250);
    expect(unitsToPrice(250)).toBe("0.025");
    expect(unitsToPrice(priceToUnits("12")) + "").toBe("12");
    expect(unitsToPrice(priceToUnits("0.1") * 3)).toBe("0.3");
    expect(() => priceToUnits("1.23456")).toThrow(RangeError);
  });

  it("behaviour model: codes arrive lazily when the clock passes their time, reproducibly from the seed", async () => {
    const run = async (seed: number) => {
      const clock = new ManualClock();
      const { provider, control } = createFakeProvider({
        clock,
        seed,
        behaviour: { successRate: 0.5, codeDelayMs: [10_000, 60_000] },
      });
      control.setStock("tg", "6", { price: "0.1", count: 100 });
      const ids: string[] = [];
      for (let i = 0; i < 40; i++) {
        const r = await provider.buyActivation({ service: "tg", country: "6", orderId: `o${i}` });
        ids.push(r._unsafeUnwrap().providerActivationId);
      }
      expect((await control.activations()).every((a) => a.state === "waiting")).toBe(true);
      clock.advance(9_999);
      expect((await control.activations()).every((a) => a.state === "waiting")).toBe(true);
      control.advance(60_001);
      const views = await control.activations();
      return views.map((v) => v.codes.join(","));
    };
    const a = await run(7);
    expect(await run(7)).toEqual(a);
    const received = a.filter((c) => c !== "").length;
    expect(received).toBeGreaterThan(5);
    expect(received).toBeLessThan(35);
    expect(a.filter((c) => c !== "").every((c) => /^\d{6}$/.test(c))).toBe(true);
  });

  it("behaviour model: a code due after the deadline never comes; the activation expires", async () => {
    const { provider, control } = createFakeProvider({
      behaviour: () => ({ successRate: 1, codeDelayMs: [30 * 60_000, 30 * 60_000] }),
    });
    control.setStock("tg", "6", { price: "0.1", count: 1 });
    const id = (await provider.buyActivation({ service: "tg", country: "6", orderId: "o" }))._unsafeUnwrap()
      .providerActivationId;
    control.advance(60 * 60_000);
    expect(await control.activations()).toMatchObject([
      { providerActivationId: id, state: "expired", codes: [] },
    ]);
  });

  it("refunds the reseller's upstream balance on cancel and expiry, not after a code", async () => {
    const { provider, control, upstream } = createFakeProvider({ balance: "1" });
    control.setStock("tg", "6", { price: "0.25", count: 10 });
    const a = (await provider.buyActivation({ service: "tg", country: "6", orderId: "a" }))._unsafeUnwrap();
    const b = (await provider.buyActivation({ service: "tg", country: "6", orderId: "b" }))._unsafeUnwrap();
    expect(upstream.balance()).toBe("0.5");
    control.deliverCode(b.providerActivationId, "1");
    control.advance(20 * 60_000);
    expect(upstream.balance()).toBe("0.75");
    expect(a.providerActivationId).not.toBe(b.providerActivationId);
  });

  it("declines no_balance when the upstream balance is short, and order_exists on a reused order id", async () => {
    const { provider, control } = createFakeProvider({ balance: "0.3" });
    control.setStock("tg", "6", { price: "0.25", count: 10 });
    expect((await provider.buyActivation({ service: "tg", country: "6", orderId: "a" })).isOk()).toBe(true);
    expect(
      (await provider.buyActivation({ service: "tg", country: "6", orderId: "a" }))._unsafeUnwrapErr(),
    ).toEqual({
      class: "declined",
      reason: "order_exists",
    });
    expect(
      (await provider.buyActivation({ service: "tg", country: "6", orderId: "b" }))._unsafeUnwrapErr(),
    ).toEqual({
      class: "declined",
      reason: "no_balance",
    });
  });

  it("advance refuses a clock it cannot move", () => {
    const { control } = createFakeProvider({ clock: systemClock });
    expect(() => control.advance(1)).toThrow(TypeError);
  });

  it("issues 16-digit ids above 2^53 as strings", async () => {
    const { provider, control } = createFakeProvider();
    control.setStock("tg", "6", { price: "0.25", count: 10 });
    const id = (await provider.buyActivation({ service: "tg", country: "6", orderId: "a" }))._unsafeUnwrap()
      .providerActivationId;
    expect(id).toMatch(/^\d{16}$/);
    expect(BigInt(id) > BigInt(Number.MAX_SAFE_INTEGER)).toBe(true);
  });
});
