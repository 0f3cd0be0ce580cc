import { describe, expect, it } from "vitest";
import type { ActivationRecord } from "../../src/core/records.js";
import { createLearnedWaitTime } from "../../src/health/learned-wait-time.js";
import { codeWithin, timeToCodeCurves } from "../../src/health/time-to-code.js";
import type { WaitTimeQuery } from "../../src/policy/wait-time.js";
import { activation, MINUTE, SECOND, T0 } from "./fixtures.js";

/** `n` activations of telegram in `country`: a share `success` gets a code at `codeAt`, the rest time out at 20 min. */
function pair(country: string, n: number, success: number, codeAtMs: number): ActivationRecord[] {
  const out: ActivationRecord[] = [];
  for (let i = 0; i < n; i++) {
    const issued = T0 + SECOND;
    out.push(
      i < n * success
        ? activation({ state: "received", country, firstCodeAtMs: issued + codeAtMs })
        : activation({
            state: "timeout",
            country,
            endedAtMs: issued + 20 * MINUTE,
            deadlineAtMs: issued + 20 * MINUTE,
          }),
    );
  }
  return out;
}

const query = (activationId: string, over: Partial<WaitTimeQuery> = {}): WaitTimeQuery => ({
  activationId,
  service: "telegram",
  country: "id",
  provider: "hero",
  issuedAtMs: T0,
  lifetimeMs: 20 * MINUTE,
  earlyCancelWindowMs: 2 * MINUTE,
  ...over,
});

const history = [...pair("id", 100, 0.3, 150 * SECOND), ...pair("ru", 100, 0.6, 4 * MINUTE)];
const next = (_s: string, c: string) => (c === "id" ? "ru" : "id");

describe("createLearnedWaitTime", () => {
  it("keeps the lifetime when nothing comes after the wait (no retry): a shorter wait only loses chances", () => {
    const p = createLearnedWaitTime(history)._unsafeUnwrap();
    expect(p.choices.map((c) => [c.country, c.waitMs, c.reason])).toEqual([
      ["id", 20 * MINUTE, "learned"],
      ["ru", 20 * MINUTE, "learned"],
    ]);
  });

  it("with a retry elsewhere, waits just past where codes stop coming and leaves the customer time for the retry", () => {
    const p = createLearnedWaitTime(history, { nextCountry: next })._unsafeUnwrap();
    const id = p.choices.find((c) => c.country === "id")!;
    // Codes in id come at 2.5 min: the 3-minute wait gets them all and leaves 17 minutes for ru (60 % by 4 min).
    expect(id.waitMs).toBe(3 * MINUTE);
    // ru's 60 % counts at the lower bound of its band (100 observations): about 50 %.
    const ruLower = codeWithin(
      timeToCodeCurves(history).find((g) => g.country === "ru")!.curve,
      17 * MINUTE,
    ).lower;
    expect(ruLower).toBeGreaterThan(0.49);
    expect(ruLower).toBeLessThan(0.6);
    expect(id.candidates.find((c) => c.waitMs === 3 * MINUTE)!.value).toBeCloseTo(0.3 + 0.7 * ruLower, 12);
    expect(id.candidates.find((c) => c.waitMs === 20 * MINUTE)!.value).toBeCloseTo(0.3, 12);
    // ru's codes come at 4 min (a code at the deadline is in time), and id's within what is left.
    expect(p.choices.find((c) => c.country === "ru")!.waitMs).toBe(4 * MINUTE);
  });

  it("keeps the lifetime while a pair has too few observations", () => {
    const p = createLearnedWaitTime(history, { nextCountry: next, minObservations: 150 })._unsafeUnwrap();
    expect(p.choices.every((c) => c.waitMs === 20 * MINUTE && c.reason === "too_few")).toBe(true);
  });

  it("sends a share to the full window, waits the lifetime on a retry, and never answers past the lifetime", () => {
    const p = createLearnedWaitTime(history, { nextCountry: next, explore: { share: 0.2 } })._unsafeUnwrap();
    let full = 0;
    const n = 5000;
    for (let i = 0; i < n; i++) {
      const d = p.decide(query(`act:buy-${i}`));
      expect(d.experiment?.id).toBe("wait-explore");
      if (d.experiment?.arm === "full") {
        full++;
        expect(d.waitMs).toBe(20 * MINUTE);
      } else expect(d.waitMs).toBe(3 * MINUTE);
    }
    expect(Math.abs(full / n - 0.2)).toBeLessThan(4 * Math.sqrt((0.2 * 0.8) / n));
    expect(p.decide(query("act_9f2c", { retryOf: "act_1b7e" }))).toEqual({ waitMs: 20 * MINUTE });
    expect(p.decide(query("act:x", { lifetimeMs: 2 * MINUTE })).waitMs).toBeLessThanOrEqual(2 * MINUTE);
    // An unknown pair waits the lifetime.
    expect(p.decide(query("act:y", { country: "zz" })).waitMs).toBeGreaterThanOrEqual(3 * MINUTE);
  });

  it("opaque retry ids: a retry is known by its retryOf, not by its id, and waits the lifetime", () => {
    const p = createLearnedWaitTime(history, { nextCountry: next, explore: { share: 0 } })._unsafeUnwrap();
    expect(p.decide(query("act_4d1a")).waitMs).toBe(3 * MINUTE);
    expect(p.decide(query("act_4d1a", { retryOf: "act_0c3f" }))).toEqual({ waitMs: 20 * MINUTE });
    expect(p.decide(query("act_4d1a", { retryOf: null })).waitMs).toBe(3 * MINUTE);
  });

  it("minimising cost per success with a price on frozen minutes shortens the wait even without a retry", () => {
    const p = createLearnedWaitTime(history, {
      objective: { type: "cost_per_success", minuteCostMinor: 5 },
    })._unsafeUnwrap();
    expect(p.choices.find((c) => c.country === "id")!.waitMs).toBe(3 * MINUTE);
  });

  it("rejects bad options with invalid_input", () => {
    expect(createLearnedWaitTime([], { candidatesMs: [] })._unsafeUnwrapErr().type).toBe("invalid_input");
    expect(createLearnedWaitTime([], { explore: { share: 2 } })._unsafeUnwrapErr().type).toBe(
      "invalid_input",
    );
  });
});
