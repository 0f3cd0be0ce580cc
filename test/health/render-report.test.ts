import { describe, expect, it } from "vitest";
import type {
  HealthDecision,
  HealthPolicyReport,
  HealthRateJudgement,
  HealthTargetCheck,
  HealthTargetStatus,
} from "../../src/health/policies.js";
import { renderHealthHtml } from "../../src/health/render-html.js";
import { renderHealthDecisions, renderHealthTargets } from "../../src/health/render-text.js";
import { computeHealthOverview } from "../../src/health/stats.js";
import { DAY, T0 } from "./fixtures.js";

const judgement = (successes: number, n: number, floor: number): HealthRateJudgement => ({
  successes,
  n,
  interval: { lower: 0, upper: 0.2, point: successes / n },
  judge: "upper",
  confidence: 0.95,
  value: 0.2,
  floor,
});

const check = (
  metric: HealthTargetCheck["metric"],
  target: number,
  numerator: number,
  denominator: number,
  status: HealthTargetStatus,
): HealthTargetCheck => ({
  metric,
  direction: metric === "success" ? "above" : "below",
  target,
  share: { numerator, denominator },
  interval: { lower: 0, upper: 1, point: denominator === 0 ? 0 : numerator / denominator },
  status,
});

const decisions: HealthDecision[] = [
  {
    type: "disable",
    scope: "service",
    service: "mm",
    country: null,
    reason: "service mm: dead",
    judgement: judgement(0, 30, 0.15),
  },
  {
    type: "disable",
    scope: "service_country",
    service: "mm",
    country: "0",
    reason: "service mm in 0: dead",
    judgement: judgement(0, 30, 0.15),
  },
  {
    type: "warn",
    scope: "service",
    service: "<b>",
    country: null,
    reason: "service <b>: weak",
    judgement: judgement(3, 20, 0.4),
  },
  {
    type: "cancel_pile_up",
    scope: "all",
    service: null,
    country: null,
    fromSeconds: 119,
    toSeconds: 121,
    modeSeconds: 120,
    share: { numerator: 15, denominator: 20 },
    reason: "cancels pile up for all services",
  },
];

const report: HealthPolicyReport = {
  nowMs: T0 + 90 * 60_000 + 59_999, // 2024-03-01 01:30:59.999
  historyWindow: { fromMs: T0 - 30 * DAY, toMs: T0 },
  alertWindow: { fromMs: T0 - DAY, toMs: T0 },
  decisions,
  targets: [
    {
      service: null,
      decided: 60,
      checks: [
        check("success", 0.6, 30, 60, "uncertain"),
        check("cancel", 0.2, 3, 60, "met"),
        check("timeout", 0.1, 27, 60, "missed"),
        check("expired", 0.15, 0, 60, "met"),
      ],
    },
    {
      service: "<b>",
      decided: 4,
      checks: [
        check("success", 0.6, 1, 4, "insufficient_sample"),
        check("cancel", 0.2, 0, 4, "insufficient_sample"),
        check("timeout", 0.1, 3, 4, "insufficient_sample"),
        check("expired", 0.15, 0, 4, "insufficient_sample"),
      ],
    },
    {
      service: "mm",
      decided: 0,
      checks: [
        check("success", 0.6, 0, 0, "insufficient_sample"),
        check("cancel", 0.2, 0, 0, "insufficient_sample"),
        check("timeout", 0.1, 0, 0, "insufficient_sample"),
        check("expired", 0.15, 0, 0, "insufficient_sample"),
      ],
    },
  ],
};

describe("renderHealthDecisions", () => {
  it("groups the decisions by type, one reason a line, under the instant to the minute", () => {
    expect(renderHealthDecisions(report).split("\n")).toEqual([
      "Policy decisions (as of 2024-03-01 01:30)",
      "  disable (2)",
      "    service mm: dead",
      "    service mm in 0: dead",
      "  warn (1)",
      "    service <b>: weak",
      "  cancel pile-up (1)",
      "    cancels pile up for all services",
    ]);
  });

  it("says so when nothing was decided", () => {
    expect(renderHealthDecisions({ ...report, decisions: [] }).split("\n")).toEqual([
      "Policy decisions (as of 2024-03-01 01:30)",
      "  none: every service is within its limits",
    ]);
  });
});

describe("renderHealthTargets", () => {
  it("prints the overall row, then one row per service, each share with its verdict", () => {
    expect(renderHealthTargets(report).split("\n")).toEqual([
      "Targets (met/MISSED when the 95% Wilson interval is wholly on one side, else uncertain)",
      "  service  ended    success > 60%  cancel < 20%  timeout < 10%  expired < 15%",
      "  -------  -----  ---------------  ------------  -------------  -------------",
      "  overall     60  50.0% uncertain      5.0% met   45.0% MISSED       0.0% met",
      "  <b>          4    25.0% too few  0.0% too few  75.0% too few   0.0% too few",
      "  mm           0        — too few     — too few      — too few      — too few",
    ]);
  });

  it("says how the targets were judged when that was not the default", () => {
    expect(renderHealthTargets(report, { judge: "bounds", confidence: 0.9 }).split("\n")[0]).toBe(
      "Targets (met/MISSED when the 90% Wilson interval is wholly on one side, else uncertain)",
    );
    expect(renderHealthTargets(report, { judge: "point", confidence: 0.95 }).split("\n")[0]).toBe(
      "Targets (met/MISSED by the observed share)",
    );
  });

  it("prints the header alone when there is no row", () => {
    expect(
      renderHealthTargets({ ...report, targets: [] })
        .split("\n")
        .slice(1),
    ).toEqual(["  service  ended", "  -------  -----"]);
  });
});

describe("renderHealthHtml with policies", () => {
  const html = renderHealthHtml({ overview: computeHealthOverview([]), policies: report });

  it("adds the targets as a table of escaped text after the decisions", () => {
    const section = html.match(/<section><h2>Targets<\/h2>.*?<\/section>/s)?.[0];
    expect(section).toBe(
      "<section><h2>Targets</h2>" +
        '<p class="muted">met/MISSED when the 95% Wilson interval is wholly on one side, else uncertain</p>' +
        "<table><thead><tr><th>service</th><th>ended</th><th>success &gt; 60%</th><th>cancel &lt; 20%</th>" +
        "<th>timeout &lt; 10%</th><th>expired &lt; 15%</th></tr></thead><tbody>" +
        "<tr><th>overall</th><td>60</td><td>50.0% uncertain</td><td>5.0% met</td><td>45.0% MISSED</td>" +
        "<td>0.0% met</td></tr>" +
        "<tr><th>&lt;b&gt;</th><td>4</td><td>25.0% too few</td><td>0.0% too few</td><td>75.0% too few</td>" +
        "<td>0.0% too few</td></tr>" +
        "<tr><th>mm</th><td>0</td><td>— too few</td><td>— too few</td><td>— too few</td><td>— too few</td></tr>" +
        "</tbody></table></section>",
    );
    expect(html.indexOf("<h2>Policy decisions</h2>")).toBeLessThan(html.indexOf("<h2>Targets</h2>"));
    expect(html).toContain("<li>warn: service &lt;b&gt;: weak</li>");
    expect(html).not.toContain("<b>");
    expect(html).not.toMatch(/<script|<link|\ssrc=|\shref=|url\(/i);
  });

  it("has no targets section without policies", () => {
    expect(renderHealthHtml({ overview: computeHealthOverview([]) })).not.toContain("Targets");
  });
});
