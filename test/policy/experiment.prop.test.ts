import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { assignmentHash, createExperiment } from "../../src/policy/experiment.js";
import type { WaitTimeQuery } from "../../src/policy/wait-time.js";

const query = (activationId: string, over: Partial<WaitTimeQuery> = {}): WaitTimeQuery => ({
  activationId,
  service: "telegram",
  country: "id",
  provider: "hero",
  issuedAtMs: 0,
  lifetimeMs: 1_200_000,
  earlyCancelWindowMs: 120_000,
  ...over,
});

describe("createExperiment", () => {
  it("assigns the same arm to the same activation, in any instance, whatever the query's other fields", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1 }),
        fc.string({ minLength: 1 }),
        fc.nat(),
        (id, activationId, t) => {
          const arms = [
            { name: "short", wait: 300_000 },
            { name: "full", wait: "lifetime" as const },
          ];
          const one = createExperiment({ id, arms })._unsafeUnwrap();
          const two = createExperiment({ id, arms })._unsafeUnwrap();
          const a = one.decide(query(activationId));
          expect(two.decide(query(activationId, { issuedAtMs: t, service: "other" }))).toEqual(a);
          expect(a.experiment).toEqual({ id, arm: one.assign(activationId) });
          expect(a.waitMs).toBe(a.experiment?.arm === "short" ? 300_000 : 1_200_000);
        },
      ),
    );
  });

  it("is balanced: each arm's share is within 4 standard errors of its allocation", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 12 }),
        fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 2, maxLength: 4 }),
        fc.constantFrom("act:buy-", "act:", "x"),
        (id, weights, prefix) => {
          const arms = weights.map((_, i) => ({ name: `arm${i}`, wait: 120_000 + i * 60_000 }));
          const allocation = Object.fromEntries(weights.map((w, i) => [`arm${i}`, w]));
          const e = createExperiment({ id, arms, allocation })._unsafeUnwrap();
          const n = 4000;
          const counts = new Map<string, number>();
          for (let i = 0; i < n; i++) {
            const arm = e.assign(`${prefix}${i}`);
            counts.set(arm, (counts.get(arm) ?? 0) + 1);
          }
          const total = weights.reduce((s, w) => s + w, 0);
          weights.forEach((w, i) => {
            const p = w / total;
            const se = Math.sqrt((p * (1 - p)) / n);
            expect(Math.abs((counts.get(`arm${i}`) ?? 0) / n - p)).toBeLessThan(4 * se);
          });
        },
      ),
      { numRuns: 40 },
    );
  });

  it("assignments of two experiments are independent", () => {
    const arms = [
      { name: "a", wait: 180_000 },
      { name: "b", wait: 600_000 },
    ];
    const x = createExperiment({ id: "x", arms })._unsafeUnwrap();
    const y = createExperiment({ id: "y", arms })._unsafeUnwrap();
    const n = 4000;
    let same = 0;
    for (let i = 0; i < n; i++) if (x.assign(`act:${i}`) === y.assign(`act:${i}`)) same++;
    expect(Math.abs(same / n - 0.5)).toBeLessThan(4 * Math.sqrt(0.25 / n));
  });

  it("leaves ineligible activations to the fallback, without an experiment on their record", () => {
    const e = createExperiment({
      id: "e",
      arms: [{ name: "a", wait: 180_000 }],
      eligible: (q) => q.service === "telegram",
    })._unsafeUnwrap();
    expect(e.decide(query("1", { service: "whatsapp" }))).toEqual({ waitMs: 1_200_000 });
    expect(e.decide(query("1"))).toEqual({ waitMs: 180_000, experiment: { id: "e", arm: "a" } });
  });

  it("rejects bad options with invalid_input", () => {
    const bad = [
      { id: "", arms: [{ name: "a", wait: 1 }] },
      { id: "e", arms: [] },
      { id: "e", arms: [{ name: "a", wait: -5 }] },
      {
        id: "e",
        arms: [
          { name: "a", wait: 1 },
          { name: "a", wait: 2 },
        ],
      },
      { id: "e", arms: [{ name: "a", wait: 1 }], allocation: { b: 1 } },
      { id: "e", arms: [{ name: "a", wait: 1 }], allocation: { a: 0 } },
    ];
    for (const o of bad) expect(createExperiment(o as never)._unsafeUnwrapErr().type).toBe("invalid_input");
  });

  it("hashes are stable numbers (a change here reshuffles every running experiment)", () => {
    expect([
      assignmentHash(""),
      assignmentHash("act:buy-1"),
      assignmentHash("e:act:buy-1"),
    ]).toMatchInlineSnapshot(`
      [
        2872998923,
        1211917965,
        3462469766,
      ]
    `);
  });
});
