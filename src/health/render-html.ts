/**
 * A static HTML dashboard: one self-contained page (inline CSS and SVG, no script, no external asset) with the
 * outcome mix per service, volume and success per day and per hour, the tables and, when given, the policy
 * decisions, the targets report and the coherence report's findings.
 */
import type { CoherenceReport } from "./coherence.js";
import type { HealthPolicyReport } from "./policies.js";
import {
  describeHealthTargetsJudging,
  formatHealthDuration,
  formatHealthShare,
  type HealthTargetsJudging,
  healthTargetsTable,
} from "./render-text.js";
import type { HealthGroupStats, HealthOverview, HealthStats } from "./stats.js";

/** What {@link renderHealthHtml} shows. */
export interface HealthHtmlInput {
  readonly overview: HealthOverview;
  /** Adds the policy decisions and the targets report. */
  readonly policies?: HealthPolicyReport;
  /** How the targets were judged (the report does not say); default the default config's (`bounds` at 95 %). */
  readonly targetsJudging?: HealthTargetsJudging;
  readonly coherence?: CoherenceReport;
  readonly title?: string;
  /** Printed in the header; default: none. */
  readonly generatedAtMs?: number;
}

const COLOURS = {
  received: "#2e7d32",
  cancelled: "#f9a825",
  timeout: "#ef6c00",
  expired: "#8e24aa",
  volume: "#90a4ae",
  line: "#1565c0",
} as const;

/** Escapes text for HTML content and attribute values. */
export function escapeHealthHtml(s: string): string {
  return s
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

function ratio(n: number, d: number): number {
  return d === 0 ? 0 : n / d;
}

function num(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(1);
}

/** Horizontal stacked bars: the outcome mix of each group (shares of ended activations). */
function outcomeBars(groups: readonly HealthGroupStats[]): string {
  const rowH = 22;
  const labelW = 160;
  const barW = 480;
  const height = groups.length * rowH + 30;
  const parts: string[] = [];
  groups.forEach((g, i) => {
    const y = i * rowH + 4;
    parts.push(
      `<text x="${labelW - 6}" y="${y + 14}" text-anchor="end">${escapeHealthHtml(g.label)} (${g.decided})</text>`,
    );
    let x = labelW;
    for (const k of ["received", "cancelled", "timeout", "expired"] as const) {
      const w = ratio(g.shares[k].numerator, g.decided) * barW;
      if (w > 0) {
        parts.push(
          `<rect x="${num(x)}" y="${y}" width="${num(w)}" height="${rowH - 6}" fill="${COLOURS[k]}">` +
            `<title>${escapeHealthHtml(`${g.label}: ${k} ${formatHealthShare(g.shares[k])}`)}</title></rect>`,
        );
      }
      x += w;
    }
    if (g.decided === 0) {
      parts.push(`<text x="${labelW + 4}" y="${y + 14}" fill="#888">no ended activation</text>`);
    }
  });
  const legendY = groups.length * rowH + 20;
  (["received", "cancelled", "timeout", "expired"] as const).forEach((k, i) => {
    const x = labelW + i * 110;
    parts.push(`<rect x="${x}" y="${legendY - 10}" width="10" height="10" fill="${COLOURS[k]}"/>`);
    parts.push(`<text x="${x + 14}" y="${legendY}">${k}</text>`);
  });
  return svg(labelW + barW + 10, height, parts);
}

/** Vertical bars of volume per group, with the success share as a line on a 0–100 % scale. */
function volumeAndSuccess(stats: HealthStats, label: (g: HealthGroupStats) => string): string {
  const groups = stats.groups;
  const width = 640;
  const height = 220;
  const left = 40;
  const bottom = 30;
  const plotH = height - bottom - 10;
  const maxVolume = Math.max(1, ...groups.map((g) => g.total));
  const step = groups.length === 0 ? 0 : (width - left - 10) / groups.length;
  const parts: string[] = [
    `<line x1="${left}" y1="${10 + plotH}" x2="${width - 10}" y2="${10 + plotH}" stroke="#999"/>`,
    `<text x="${left - 4}" y="16" text-anchor="end">${maxVolume}</text>`,
    `<text x="${width - 8}" y="16" text-anchor="end" fill="${COLOURS.line}">100%</text>`,
  ];
  const points: string[] = [];
  const every = Math.max(1, Math.ceil(groups.length / 12));
  groups.forEach((g, i) => {
    const h = (g.total / maxVolume) * plotH;
    const x = left + i * step;
    parts.push(
      `<rect x="${num(x + 1)}" y="${num(10 + plotH - h)}" width="${num(Math.max(1, step - 2))}" height="${num(h)}" ` +
        `fill="${COLOURS.volume}"><title>${escapeHealthHtml(
          `${label(g)}: ${g.total} activations, success ` + formatHealthShare(g.shares.received),
        )}</title></rect>`,
    );
    if (g.decided > 0) {
      const y = 10 + plotH - ratio(g.received, g.decided) * plotH;
      points.push(`${num(x + step / 2)},${num(y)}`);
    }
    if (i % every === 0) {
      parts.push(
        `<text x="${num(x + step / 2)}" y="${height - 12}" text-anchor="middle">${escapeHealthHtml(label(g))}</text>`,
      );
    }
  });
  if (points.length > 1) {
    parts.push(
      `<polyline points="${points.join(" ")}" fill="none" stroke="${COLOURS.line}" stroke-width="2"/>`,
    );
  }
  for (const p of points) {
    const [x, y] = p.split(",");
    parts.push(`<circle cx="${x}" cy="${y}" r="2.5" fill="${COLOURS.line}"/>`);
  }
  return svg(width, height, parts);
}

function svg(width: number, height: number, parts: readonly string[]): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${num(width)}" height="${num(height)}" ` +
    `viewBox="0 0 ${num(width)} ${num(height)}" font-size="11" font-family="sans-serif">${parts.join("")}</svg>`
  );
}

function table(stats: HealthStats): string {
  const head = [
    "group",
    "total",
    "ended",
    "success",
    "cancel",
    "timeout",
    "expired",
    "failed",
    "code p50",
    "code p95",
  ];
  const row = (g: HealthGroupStats, cls = "") =>
    `<tr${cls}>${[
      g.label,
      String(g.total),
      String(g.decided),
      formatHealthShare(g.shares.received),
      formatHealthShare(g.shares.cancelled),
      formatHealthShare(g.shares.timeout),
      formatHealthShare(g.shares.expired),
      String(g.failed),
      formatHealthDuration(g.timeToCodeMs.median),
      formatHealthDuration(g.timeToCodeMs.p95),
    ]
      .map((c, i) => (i === 0 ? `<th>${escapeHealthHtml(c)}</th>` : `<td>${escapeHealthHtml(c)}</td>`))
      .join("")}</tr>`;
  return (
    `<table><thead><tr>${head.map((h) => `<th>${h}</th>`).join("")}</tr></thead><tbody>` +
    stats.groups.map((g) => row(g)).join("") +
    row(stats.total, ' class="total"') +
    "</tbody></table>"
  );
}

/** The targets report: one row per service after the overall row, each share with its verdict. */
function targetsTable(policies: HealthPolicyReport): string {
  const { header, rows } = healthTargetsTable(policies);
  const cells = (cs: readonly string[], tag: "th" | "td") =>
    cs
      .map((c, i) =>
        i === 0 || tag === "th" ? `<th>${escapeHealthHtml(c)}</th>` : `<td>${escapeHealthHtml(c)}</td>`,
      )
      .join("");
  return (
    `<table><thead><tr>${cells(header, "th")}</tr></thead><tbody>` +
    rows.map((r) => `<tr>${cells(r, "td")}</tr>`).join("") +
    "</tbody></table>"
  );
}

function list(items: readonly string[], empty: string): string {
  if (items.length === 0) return `<p class="muted">${escapeHealthHtml(empty)}</p>`;
  return `<ul>${items.map((i) => `<li>${escapeHealthHtml(i)}</li>`).join("")}</ul>`;
}

/** The dashboard as one static HTML page. */
export function renderHealthHtml(input: HealthHtmlInput): string {
  const { overview } = input;
  const title = input.title ?? "SMS activation health";
  const sections: string[] = [];
  if (input.coherence !== undefined) {
    const c = input.coherence;
    sections.push(
      `<section><h2>Coherence: ${c.ok ? "OK" : "defects found"}</h2>` +
        (c.raceFree
          ? ""
          : `<p>${c.raceConditions.count} race pair(s) of money events on one wallet within ` +
            `${c.raceConditions.thresholdMs} ms.</p>`) +
        list(
          c.recommendations.map((r) => `${r.severity}: ${r.text}`),
          "Nothing to recommend.",
        ) +
        "</section>",
    );
  }
  if (input.policies !== undefined) {
    sections.push(
      `<section><h2>Policy decisions</h2>${list(
        input.policies.decisions.map((d) => `${d.type}: ${d.reason}`),
        "No decision: every service is within its limits.",
      )}</section>`,
    );
    sections.push(
      `<section><h2>Targets</h2><p class="muted">${escapeHealthHtml(
        describeHealthTargetsJudging(input.targetsJudging),
      )}</p>${targetsTable(input.policies)}</section>`,
    );
  }
  sections.push(`<section><h2>Outcomes per service</h2>${outcomeBars(overview.byService.groups)}</section>`);
  sections.push(
    `<section><h2>Volume and success per day (UTC)</h2>${volumeAndSuccess(overview.byDay, (g) =>
      (g.key.day ?? "").slice(5),
    )}</section>`,
  );
  sections.push(
    `<section><h2>Volume and success per hour of day (UTC)</h2>${volumeAndSuccess(overview.byHour, (g) =>
      String(g.key.hour ?? ""),
    )}</section>`,
  );
  sections.push(`<section><h2>Per service</h2>${table(overview.byService)}</section>`);
  sections.push(`<section><h2>Per country</h2>${table(overview.byCountry)}</section>`);
  const generated =
    input.generatedAtMs === undefined
      ? ""
      : `<p class="muted">Generated ${new Date(input.generatedAtMs).toISOString()}</p>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHealthHtml(title)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse;font-size:13px}th,td{padding:3px 8px;border-bottom:1px solid #ddd}
td{text-align:right;font-variant-numeric:tabular-nums}th{text-align:left}tr.total{font-weight:bold}
.muted{color:#777}section{margin-bottom:2rem}
</style></head><body>
<h1>${escapeHealthHtml(title)}</h1>${generated}
${sections.join("\n")}
</body></html>
`;
}
