import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { FaultSpec, ProviderControl } from "../provider/control.js";
import type { Provider, ProviderFailure, ProviderResult } from "../provider/port.js";
import { assertInsideVitest } from "./vitest-runner.js";

/** What a conformance run needs: a fresh provider wired to a controllable fake upstream. */
export interface ProviderConformanceSubject {
  readonly provider: Provider;
  readonly control: ProviderControl;
  /** Stops what `setup` started (a fake server), after each test. */
  readonly teardown?: () => void | Promise<void>;
}

/** Options of {@link describeProviderConformance}. */
export interface ProviderConformanceOptions {
  /** Name shown in the test report. */
  readonly name: string;
  /** Builds a fresh provider and its upstream for each test. */
  readonly setup: () => Promise<ProviderConformanceSubject>;
}

const HOUR_MS = 3_600_000;

/** Unwraps an `Ok`, failing the test with the error otherwise. */
function okValue<T>(r: ProviderResult<T>): T {
  if (r.isErr()) throw new Error(`expected Ok, got ${JSON.stringify(r.error)}`);
  return r.value;
}

/** Unwraps an `Err`, failing the test with the value otherwise. */
function errValue<T>(r: ProviderResult<T>): ProviderFailure {
  if (r.isOk()) throw new Error(`expected Err, got Ok ${JSON.stringify(r.value)}`);
  return r.error;
}

/**
 * Registers a vitest suite that checks a {@link Provider} implementation against the port contract, driving its
 * upstream through {@link ProviderControl}: purchase, codes, another code, cancel windows, provider expiry,
 * reconciliation lists, rentals and the classification of every injected fault. Capability flags
 * (`supportsRent`, `supportsAnotherCode`, `supportsOrderId`) select what is checked.
 */
export function describeProviderConformance(options: ProviderConformanceOptions): void {
  assertInsideVitest("describeProviderConformance");
  describe(`provider conformance: ${options.name}`, () => {
    let subject: ProviderConformanceSubject;
    let p: Provider;
    let c: ProviderControl;

    beforeEach(async () => {
      subject = await options.setup();
      p = subject.provider;
      c = subject.control;
      await c.setStock("tg", "6", { price: "0.25", count: 5 });
      await c.setStock("wa", "22", { price: "1.5", count: 0 });
      await c.setRentStock("full", "0", { pricePerHour: "0.1", count: 3 });
    });

    afterEach(async () => {
      await subject.teardown?.();
    });

    const buy = async (orderId = "order-1", service = "tg", country = "6") =>
      okValue(await p.buyActivation({ service, country, orderId }));

    it("states rental and extension durations as ranges of whole hours", () => {
      for (const range of [p.capabilities.rentHours, p.capabilities.extendHours]) {
        expect(Number.isInteger(range.min) && Number.isInteger(range.max)).toBe(true);
        expect(range.min >= 1 && range.min <= range.max).toBe(true);
      }
    });

    describe("activations", () => {
      it("quotes price and stock, and declines an unknown pair with service_unavailable", async () => {
        const q = okValue(await p.quote({ service: "tg", country: "6" }));
        expect(Number(q.price)).toBe(0.25);
        expect(q.stock).toBe(5);
        expect(errValue(await p.quote({ service: "zz", country: "999" }))).toMatchObject({
          class: "declined",
          reason: "service_unavailable",
        });
      });

      it("sells a number: string id, deadline from the lifetime, stock decremented, cost stated", async () => {
        const now = await c.now();
        const a = await buy();
        expect(typeof a.providerActivationId).toBe("string");
        expect(a.providerActivationId.length).toBeGreaterThan(0);
        expect(a.phone).toMatch(/^\d+$/);
        if (a.endsAtMs !== null) expect(a.endsAtMs).toBe(now + p.capabilities.activationLifetimeMs);
        if (a.cost !== null) expect(Number(a.cost)).toBe(0.25);
        expect(okValue(await p.quote({ service: "tg", country: "6" })).stock).toBe(4);
        expect(okValue(await p.getActivationStatus(a.providerActivationId))).toEqual({ state: "waiting" });
        const views = await c.activations();
        expect(views.map((v) => v.providerActivationId)).toEqual([a.providerActivationId]);
        expect(views[0]?.state).toBe("waiting");
      });

      it("declines no_numbers when the stock is empty, and nothing is sold", async () => {
        expect(errValue(await p.buyActivation({ service: "wa", country: "22", orderId: "o" }))).toMatchObject(
          {
            class: "declined",
            reason: "no_numbers",
          },
        );
        expect(await c.activations()).toEqual([]);
      });

      it("declines price_too_low with the minimum when maxPrice is below the price", async () => {
        const f = errValue(
          await p.buyActivation({ service: "tg", country: "6", maxPrice: "0.2", orderId: "o" }),
        );
        expect(f).toMatchObject({ class: "declined", reason: "price_too_low" });
        expect(f.class === "declined" && Number(f.minPrice)).toBe(0.25);
        expect(await c.activations()).toEqual([]);
        okValue(await p.buyActivation({ service: "tg", country: "6", maxPrice: "0.25", orderId: "o2" }));
      });

      it("declines service_unavailable for a pair without stock entry", async () => {
        expect(
          errValue(await p.buyActivation({ service: "zz", country: "999", orderId: "o" })),
        ).toMatchObject({
          class: "declined",
          reason: "service_unavailable",
        });
      });

      it("reports a delivered code as a string, colons and leading zeros kept", async () => {
        const a = await buy();
        await c.deliverCode(a.providerActivationId, "0042:17", "Code 0042:17 for you");
        const s = okValue(await p.getActivationStatus(a.providerActivationId));
        expect(s).toMatchObject({ state: "code", code: "0042:17" });
        expect((await c.activations())[0]).toMatchObject({ state: "code", codes: ["0042:17"] });
      });

      it("another code: waiting_retry with the previous code, then the new code", async () => {
        if (!p.capabilities.supportsAnotherCode) return;
        const a = await buy();
        await c.deliverCode(a.providerActivationId, "111111");
        okValue(await p.requestAnotherCode(a.providerActivationId));
        expect(okValue(await p.getActivationStatus(a.providerActivationId))).toEqual({
          state: "waiting_retry",
          previousCode: "111111",
        });
        await c.deliverCode(a.providerActivationId, "222222");
        expect(okValue(await p.getActivationStatus(a.providerActivationId))).toMatchObject({
          state: "code",
          code: "222222",
        });
      });

      it("refuses a cancel inside the early-cancel window with the time left, then cancels after it", async () => {
        const a = await buy();
        await c.advance(30_000);
        const f = errValue(await p.cancelActivation(a.providerActivationId));
        expect(f).toMatchObject({ class: "declined", reason: "early_cancel" });
        const wait = f.class === "declined" ? (f.retryAfterMs ?? -1) : -1;
        expect(wait).toBeGreaterThan(0);
        expect(wait).toBeLessThanOrEqual(p.capabilities.earlyCancelWindowMs);
        await c.advance(p.capabilities.earlyCancelWindowMs - 30_000);
        okValue(await p.cancelActivation(a.providerActivationId));
        expect(okValue(await p.getActivationStatus(a.providerActivationId))).toEqual({ state: "ended" });
        expect((await c.activations())[0]?.state).toBe("cancelled");
      });

      it("declines a cancel after a code with code_received and the codes", async () => {
        const a = await buy();
        await c.advance(p.capabilities.earlyCancelWindowMs);
        await c.deliverCode(a.providerActivationId, "987654");
        const f = errValue(await p.cancelActivation(a.providerActivationId));
        expect(f).toMatchObject({ class: "declined", reason: "code_received" });
        expect(f.class === "declined" ? f.codes : undefined).toContain("987654");
        expect((await c.activations())[0]?.state).toBe("code");
      });

      it("finishes after a code; the status is then ended (not a refund), with the code where it shows one", async () => {
        const a = await buy();
        await c.deliverCode(a.providerActivationId, "5555");
        okValue(await p.finishActivation(a.providerActivationId));
        expect([{ state: "ended" }, { state: "ended", code: "5555" }]).toContainEqual(
          okValue(await p.getActivationStatus(a.providerActivationId)),
        );
        expect((await c.activations())[0]?.state).toBe("finished");
      });

      it("ends at the provider's deadline: expired without a code, finished with one", async () => {
        const a = await buy("o-a");
        const b = await buy("o-b");
        await c.deliverCode(b.providerActivationId, "3333");
        await c.advance(p.capabilities.activationLifetimeMs - 1);
        expect(okValue(await p.getActivationStatus(a.providerActivationId))).toEqual({ state: "waiting" });
        await c.advance(1);
        // Expired without a code: never a code to settle on.
        expect(okValue(await p.getActivationStatus(a.providerActivationId))).toEqual({ state: "ended" });
        expect([{ state: "ended" }, { state: "ended", code: "3333" }]).toContainEqual(
          okValue(await p.getActivationStatus(b.providerActivationId)),
        );
        const views = await c.activations();
        expect(views.find((v) => v.providerActivationId === a.providerActivationId)?.state).toBe("expired");
        expect(views.find((v) => v.providerActivationId === b.providerActivationId)?.state).toBe("finished");
        expect(okValue(await p.listActiveActivations())).toEqual([]);
      });

      it("endActivation ends it upstream before the deadline", async () => {
        const a = await buy();
        await c.endActivation(a.providerActivationId);
        expect(okValue(await p.getActivationStatus(a.providerActivationId))).toEqual({ state: "ended" });
        expect((await c.activations())[0]?.state).toBe("expired");
      });

      it("lists open activations with their order id and codes", async () => {
        const a = await buy("order-a");
        const b = await buy("order-b");
        await c.deliverCode(b.providerActivationId, "0777");
        const list = okValue(await p.listActiveActivations());
        expect(list.map((x) => x.providerActivationId).sort()).toEqual(
          [a.providerActivationId, b.providerActivationId].sort(),
        );
        const lb = list.find((x) => x.providerActivationId === b.providerActivationId);
        expect(lb?.codes).toEqual(["0777"]);
        expect(lb?.service).toBe("tg");
        expect(lb?.country).toBe("6");
        if (p.capabilities.supportsOrderId) expect(lb?.orderId).toBe("order-b");
        await c.advance(p.capabilities.earlyCancelWindowMs);
        okValue(await p.cancelActivation(a.providerActivationId));
        const after = okValue(await p.listActiveActivations());
        expect(after.map((x) => x.providerActivationId)).toEqual([b.providerActivationId]);
      });
    });

    describe("rentals", () => {
      it("quotes and rents for hours; status active with messages; listed", async () => {
        if (!p.capabilities.supportsRent) return;
        const q = okValue(await p.quoteRental({ service: "full", country: "0", hours: 4 }));
        expect(Number(q.price)).toBeCloseTo(0.4, 10);
        expect(q.stock).toBe(3);
        const now = await c.now();
        const r = okValue(await p.rent({ service: "full", country: "0", hours: 4, orderId: "r-1" }));
        expect(typeof r.providerRentalId).toBe("string");
        expect(r.endsAtMs).toBe(now + 4 * HOUR_MS);
        const first = okValue(await p.getRentalStatus(r.providerRentalId));
        expect(first).toMatchObject({ state: "active", messages: [] });
        // The provider's own end, where it states one: never earlier than the rental's start.
        expect(first.endsAtMs === null || first.endsAtMs > now).toBe(true);
        await c.deliverRentalSms(r.providerRentalId, { from: "SPORTMASTER", text: "Code: 12:34" });
        const s = okValue(await p.getRentalStatus(r.providerRentalId));
        expect(s.state).toBe("active");
        expect(s.messages).toHaveLength(1);
        expect(s.messages[0]).toMatchObject({ from: "SPORTMASTER", text: "Code: 12:34" });
        const list = okValue(await p.listActiveRentals());
        expect(list.map((x) => x.providerRentalId)).toEqual([r.providerRentalId]);
      });

      it("cancels a rental inside the refund window", async () => {
        if (!p.capabilities.supportsRent) return;
        const r = okValue(await p.rent({ service: "full", country: "0", hours: 4, orderId: "r-1" }));
        await c.advance(p.capabilities.rentRefundWindowMs - 1);
        okValue(await p.cancelRental(r.providerRentalId));
        expect(okValue(await p.getRentalStatus(r.providerRentalId)).state).toBe("cancelled");
        expect(okValue(await p.listActiveRentals())).toEqual([]);
      });

      it("refuses a cancel after the refund window; finishing still works", async () => {
        if (!p.capabilities.supportsRent) return;
        const r = okValue(await p.rent({ service: "full", country: "0", hours: 4, orderId: "r-1" }));
        await c.advance(p.capabilities.rentRefundWindowMs);
        expect(errValue(await p.cancelRental(r.providerRentalId))).toMatchObject({
          class: "declined",
          reason: "refund_window_passed",
        });
        okValue(await p.finishRental(r.providerRentalId));
        expect(okValue(await p.getRentalStatus(r.providerRentalId)).state).toBe("finished");
      });

      it("extends an active rental and declines rent_expired after the end", async () => {
        if (!p.capabilities.supportsRent) return;
        const now = await c.now();
        const hours = p.capabilities.rentHours.min;
        const more = p.capabilities.extendHours.min;
        const r = okValue(await p.rent({ service: "full", country: "0", hours, orderId: "r-1" }));
        const e = okValue(await p.extendRental(r.providerRentalId, more));
        expect(e.endsAtMs).toBe(now + (hours + more) * HOUR_MS);
        expect(e.providerRentalId).toBe(r.providerRentalId);
        if (e.cost !== null) expect(Number(e.cost)).toBeCloseTo(0.1 * more, 10);
        await c.advance((hours + more) * HOUR_MS);
        expect(errValue(await p.extendRental(r.providerRentalId, more))).toMatchObject({
          class: "declined",
          reason: "rent_expired",
        });
        expect(okValue(await p.getRentalStatus(r.providerRentalId)).state).toBe("finished");
      });

      it("reports a revoked rental", async () => {
        if (!p.capabilities.supportsRent) return;
        const r = okValue(
          await p.rent({
            service: "full",
            country: "0",
            hours: p.capabilities.rentHours.min,
            orderId: "r-1",
          }),
        );
        await c.revokeRental(r.providerRentalId);
        expect(okValue(await p.getRentalStatus(r.providerRentalId)).state).toBe("revoked");
        expect(okValue(await p.listActiveRentals())).toEqual([]);
      });
    });

    describe("faults", () => {
      const declinedOnBuy: readonly [FaultSpec["kind"], string][] = [
        ["no_numbers", "no_numbers"],
        ["banned", "banned"],
        ["price_too_low", "price_too_low"],
        ["service_unavailable", "service_unavailable"],
      ];
      for (const [kind, reason] of declinedOnBuy) {
        it(`buyActivation + ${kind} → declined ${reason}, nothing sold`, async () => {
          await c.injectFault({ action: "buyActivation", kind });
          const f = errValue(await p.buyActivation({ service: "tg", country: "6", orderId: "o" }));
          expect(f).toMatchObject({ class: "declined", reason });
          if (reason === "price_too_low")
            expect(f.class === "declined" && f.minPrice).toMatch(/^\d+(\.\d+)?$/);
          expect(await c.activations()).toEqual([]);
          okValue(await p.buyActivation({ service: "tg", country: "6", orderId: "o2" }));
        });
      }

      it("buyActivation + retryable → retryable with a delay, nothing sold", async () => {
        await c.injectFault({ action: "buyActivation", kind: "retryable" });
        const f = errValue(await p.buyActivation({ service: "tg", country: "6", orderId: "o" }));
        expect(f.class).toBe("retryable");
        expect(f.class === "retryable" && f.retryAfterMs).toBeGreaterThanOrEqual(0);
        expect(await c.activations()).toEqual([]);
      });

      it("buyActivation + fatal → fatal", async () => {
        await c.injectFault({ action: "buyActivation", kind: "fatal" });
        expect(errValue(await p.buyActivation({ service: "tg", country: "6", orderId: "o" })).class).toBe(
          "fatal",
        );
      });

      it("buyActivation + unknown_after_success → unknown; the number was bought and is listed", async () => {
        await c.injectFault({ action: "buyActivation", kind: "unknown_after_success" });
        expect(
          errValue(await p.buyActivation({ service: "tg", country: "6", orderId: "lost-1" })).class,
        ).toBe("unknown");
        const views = await c.activations();
        expect(views).toHaveLength(1);
        const list = okValue(await p.listActiveActivations());
        expect(list.map((x) => x.providerActivationId)).toEqual([views[0]?.providerActivationId]);
        if (p.capabilities.supportsOrderId) expect(list[0]?.orderId).toBe("lost-1");
      });

      it("buyActivation + unknown_before → unknown; nothing bought", async () => {
        await c.injectFault({ action: "buyActivation", kind: "unknown_before" });
        expect(errValue(await p.buyActivation({ service: "tg", country: "6", orderId: "o" })).class).toBe(
          "unknown",
        );
        expect(await c.activations()).toEqual([]);
      });

      it("cancelActivation + code_during_cancel → declined code_received with the code", async () => {
        const a = await buy();
        await c.advance(p.capabilities.earlyCancelWindowMs);
        await c.injectFault({ action: "cancelActivation", kind: "code_during_cancel", code: "13:37" });
        const f = errValue(await p.cancelActivation(a.providerActivationId));
        expect(f).toMatchObject({ class: "declined", reason: "code_received" });
        expect(f.class === "declined" ? f.codes : undefined).toContain("13:37");
        expect(okValue(await p.getActivationStatus(a.providerActivationId))).toMatchObject({
          state: "code",
          code: "13:37",
        });
      });

      it("cancelActivation + unknown_after_success → unknown, and the cancel did happen", async () => {
        const a = await buy();
        await c.advance(p.capabilities.earlyCancelWindowMs);
        await c.injectFault({ action: "cancelActivation", kind: "unknown_after_success", times: 5 });
        expect(errValue(await p.cancelActivation(a.providerActivationId)).class).toBe("unknown");
        await c.clearFaults();
        expect((await c.activations())[0]?.state).toBe("cancelled");
      });

      it("getActivationStatus + retryable → retryable; + unknown_before → unknown or retryable (a read changes nothing)", async () => {
        const a = await buy();
        await c.injectFault({ action: "getActivationStatus", kind: "retryable", times: 5 });
        expect(errValue(await p.getActivationStatus(a.providerActivationId)).class).toBe("retryable");
        await c.clearFaults();
        await c.injectFault({ action: "getActivationStatus", kind: "unknown_before", times: 5 });
        expect(["unknown", "retryable"]).toContain(
          errValue(await p.getActivationStatus(a.providerActivationId)).class,
        );
        await c.clearFaults();
        expect(okValue(await p.getActivationStatus(a.providerActivationId))).toEqual({ state: "waiting" });
      });

      it("rent + unknown_after_success → unknown; the rental exists and is listed", async () => {
        if (!p.capabilities.supportsRent) return;
        await c.injectFault({ action: "rent", kind: "unknown_after_success" });
        expect(
          errValue(
            await p.rent({
              service: "full",
              country: "0",
              hours: p.capabilities.rentHours.min,
              orderId: "r",
            }),
          ).class,
        ).toBe("unknown");
        expect(okValue(await p.listActiveRentals())).toHaveLength(1);
      });

      it("rent + no_numbers → declined no_numbers; + fatal → fatal", async () => {
        if (!p.capabilities.supportsRent) return;
        await c.injectFault({ action: "rent", kind: "no_numbers" });
        expect(
          errValue(
            await p.rent({
              service: "full",
              country: "0",
              hours: p.capabilities.rentHours.min,
              orderId: "r",
            }),
          ),
        ).toMatchObject({
          class: "declined",
          reason: "no_numbers",
        });
        await c.injectFault({ action: "rent", kind: "fatal" });
        expect(
          errValue(
            await p.rent({
              service: "full",
              country: "0",
              hours: p.capabilities.rentHours.min,
              orderId: "r",
            }),
          ).class,
        ).toBe("fatal");
        expect(okValue(await p.listActiveRentals())).toEqual([]);
      });

      it("clearFaults removes queued faults", async () => {
        await c.injectFault({ action: "quote", kind: "fatal", times: 3 });
        await c.clearFaults();
        okValue(await p.quote({ service: "tg", country: "6" }));
      });
    });
  });
}
