import { describe, expect, it } from "vitest";
import { buildCoherenceReport } from "../../src/health/coherence.js";
import { evaluateHealthPolicies } from "../../src/health/policies.js";
import { renderHealthHtml } from "../../src/health/render-html.js";
import {
  formatHealthDuration,
  formatHealthShare,
  renderCoherenceReport,
  renderHealthTables,
} from "../../src/health/render-text.js";
import { computeHealthOverview } from "../../src/health/stats.js";
import { activation, HOUR, many, T0 } from "./fixtures.js";

const records = [
  ...many(3, { state: "received", service: "telegram", country: "id" }),
  ...many(1, { state: "cancelled", service: "telegram", country: "ru", createdAtMs: T0 + 5 * HOUR }),
  ...many(2, { state: "timeout", service: "<script>", country: "ru" }),
  activation({ state: "failed", service: "google", country: "id" }),
];

describe("formatting", () => {
  it("formats shares and durations", () => {
    expect(formatHealthShare({ numerator: 1, denominator: 3 })).toBe("33.3%");
    expect(formatHealthShare({ numerator: 0, denominator: 0 })).toBe("—");
    expect(formatHealthDuration(null)).toBe("—");
    expect(formatHealthDuration(850)).toBe("850 ms");
    expect(formatHealthDuration(12_340)).toBe("12.3 s");
    expect(formatHealthDuration(125_000)).toBe("2m 05s");
  });
});

describe("renderHealthTables", () => {
  it("prints one table per service and per country, with a total row", () => {
    const text = renderHealthTables(computeHealthOverview(records));
    expect(text).toContain("Per service (all records)");
    expect(text).toContain("Per country (all records)");
    const telegramRow = text.split("\n").find((l) => l.startsWith("telegram "));
    expect(telegramRow?.split(/\s{2,}/).slice(0, 5)).toEqual(["telegram", "4", "4", "75.0%", "25.0%"]);
    expect(text.split("\n").filter((l) => l.startsWith("all ")).length).toBe(2);
  });
});

describe("renderHealthHtml", () => {
  it("is one static page with inline SVG, escaped text and no external asset", () => {
    const overview = computeHealthOverview(records);
    const html = renderHealthHtml({
      overview,
      policies: evaluateHealthPolicies(records, { nowMs: T0 + HOUR }),
      title: "Health & <more>",
      generatedAtMs: T0,
    });
    expect(html.startsWith("<!doctype html>")).toBe(true);
    expect(html).toContain("<svg");
    expect(html).toContain("Health &amp; &lt;more&gt;");
    expect(html).toContain("&lt;script&gt;");
    expect(html).not.toContain("<script");
    expect(html).not.toMatch(/\s(src|href)=/);
    expect(html).not.toContain("<link");
  });
});

describe("renderCoherenceReport", () => {
  it("prints every section", () => {
    const report = buildCoherenceReport({
      wallets: [{ id: "w1", currency: "USD", balanceMinor: 10, frozenMinor: 0, version: 1, createdAtMs: T0 }],
      transfers: [],
      holds: [],
      activations: records,
      rentals: [],
      nowMs: T0 + HOUR,
    });
    const text = renderCoherenceReport(report);
    for (const s of [
      "State",
      "Activations",
      "Transactions",
      "Race conditions",
      "Coherence",
      "Temporal patterns",
      "Service patterns",
      "Recommendations",
    ]) {
      expect(text).toContain(`== ${s} ==`);
    }
    expect(text).toContain("DEFECTS FOUND");
    expect(text).toContain("balance w1: stored 10, ledger 0 (+10 USD)");
  });
});
