/**
 * The live admin dashboard: one server-rendered page, readable without JavaScript, with inline SVG charts and a
 * single inline stylesheet allowed by its hash in the Content-Security-Policy (no script, no external asset, no
 * `style` attribute). Every value from the storage is escaped. Numbers carry `data-k` attributes so a test can
 * compare them with the analytics.
 */
import type { ActivationRecord, RentalRecord } from "../core/records.js";
import type { CoherenceReport } from "../health/coherence.js";
import type { HealthPolicyReport } from "../health/policies.js";
import { escapeHealthHtml as esc } from "../health/render-html.js";
import {
  describeHealthTargetsJudging,
  formatHealthDuration,
  type HealthTargetsJudging,
  healthTargetsTable,
} from "../health/render-text.js";
import type { HealthGroupStats, HealthStats } from "../health/stats.js";
import type { WindowHealth } from "./health-read.js";

/** The windows the dashboard offers. */
export type DashboardWindow = "24h" | "7d" | "30d";

/** Everything one page shows. */
export interface DashboardData {
  readonly title: string;
  readonly nowMs: number;
  readonly window: DashboardWindow;
  /** The dashboard's own path, for the window links. */
  readonly path: string;
  readonly health: WindowHealth;
  readonly policies: HealthPolicyReport;
  readonly targetsJudging?: HealthTargetsJudging;
  /** `null` when the coherence report is turned off. */
  readonly coherence: CoherenceReport | null;
  readonly recentActivations: readonly ActivationRecord[];
  readonly recentRentals: readonly RentalRecord[];
}

const WINDOW_LABELS: Readonly<Record<DashboardWindow, string>> = {
  "24h": "24 h",
  "7d": "7 days",
  "30d": "30 days",
};

const COLOURS = {
  received: "#2e7d32",
  cancelled: "#f9a825",
  timeout: "#ef6c00",
  expired: "#8e24aa",
  volume: "#90a4ae",
  line: "#1565c0",
} as const;

/** The page's only stylesheet; its SHA-256 goes into the CSP. */
export const DASHBOARD_CSS = [
  "*{box-sizing:border-box}",
  "body{font-family:system-ui,sans-serif;margin:0;padding:1rem;color:#1a1a1a;background:#fafafa;max-width:80rem}",
  "h1{font-size:1.4rem;margin:0 0 .25rem}h2{font-size:1.1rem;margin:1.5rem 0 .5rem}",
  "nav a{margin-right:.75rem}nav a[aria-current=page]{font-weight:bold;text-decoration:none;color:#1a1a1a}",
  ".cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(9rem,1fr));gap:.5rem}",
  ".card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.5rem}",
  ".card b{display:block;font-size:1.3rem;font-variant-numeric:tabular-nums}",
  ".scroll{overflow-x:auto;max-width:100%}",
  "table{border-collapse:collapse;font-size:13px;background:#fff}",
  "th,td{padding:3px 8px;border-bottom:1px solid #ddd;white-space:nowrap}",
  "td{text-align:right;font-variant-numeric:tabular-nums}th{text-align:left}td.t{text-align:left}",
  "tr.total{font-weight:bold}.muted{color:#666}.ok{color:#2e7d32}.bad{color:#b71c1c}",
  "svg{max-width:100%;height:auto;background:#fff;border:1px solid #eee}",
  ".timelines{display:grid;grid-template-columns:repeat(auto-fit,minmax(16rem,1fr));gap:.5rem}",
  "figure{margin:0}figcaption{font-size:13px}",
].join("");

let cssHash: Promise<string> | undefined;

/** The CSP of the dashboard: nothing but its own stylesheet (by hash) and inline SVG. */
export async function dashboardCsp(): Promise<string> {
  cssHash ??= globalThis.crypto.subtle
    .digest("SHA-256", new TextEncoder().encode(DASHBOARD_CSS))
    .then((d) => btoa(String.fromCharCode(...new Uint8Array(d))));
  const hash = await cssHash;
  return [
    "default-src 'none'",
    `style-src 'sha256-${hash}'`,
    // The empty icon keeps the browser from asking the host for a favicon.
    "img-src data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

const pct = (n: number, d: number): string => (d === 0 ? "–" : `${((100 * n) / d).toFixed(1)}%`);
const ratio = (n: number, d: number): number => (d === 0 ? 0 : n / d);
const iso = (ms: number | null): string =>
  ms === null ? "–" : new Date(ms).toISOString().slice(0, 16).replace("T", " ");

function cell(key: string, value: string | number, text = false): string {
  return `<td${text ? ' class="t"' : ""} data-k="${esc(key)}">${esc(String(value))}</td>`;
}

function groupRow(g: HealthGroupStats, total = false): string {
  return (
    `<tr${total ? ' class="total"' : ""} data-group="${esc(g.label)}">` +
    `<th scope="row">${esc(g.label)}</th>` +
    cell("total", g.total) +
    cell("decided", g.decided) +
    cell("received", g.received) +
    cell("cancelled", g.cancelled) +
    cell("timeout", g.timeout) +
    cell("expired", g.expired) +
    cell("failed", g.failed) +
    cell("open", g.open) +
    cell("success", pct(g.received, g.decided)) +
    cell("median", formatHealthDuration(g.timeToCodeMs.median)) +
    cell("p95", formatHealthDuration(g.timeToCodeMs.p95)) +
    cell("settled", g.money.map((m) => `${m.revenueSettledMinor} ${m.currency}`).join(" ") || "0") +
    "</tr>"
  );
}

function healthTable(stats: HealthStats, name: string, first: string): string {
  const head = [first, "total", "ended", "received", "cancelled", "timeout", "expired", "failed", "open"]
    .concat(["success", "median code", "p95 code", "settled (minor)"])
    .map((h) => `<th scope="col">${esc(h)}</th>`)
    .join("");
  const rows = stats.groups.map((g) => groupRow(g)).join("") + groupRow(stats.total, true);
  return `<div class="scroll"><table data-table="${esc(name)}"><thead><tr>${head}</tr></thead><tbody>${rows}</tbody></table></div>`;
}

function plainTable(name: string, header: readonly string[], rows: readonly (readonly string[])[]): string {
  if (rows.length === 0) return `<p class="muted" data-table="${esc(name)}">None.</p>`;
  const head = header.map((h) => `<th scope="col">${esc(h)}</th>`).join("");
  const body = rows
    .map(
      (r) =>
        `<tr>${r.map((c, i) => `<td class="t" data-k="${esc(header[i] ?? "")}">${esc(c)}</td>`).join("")}</tr>`,
    )
    .join("");
  return `<div class="scroll"><table data-table="${esc(name)}"><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table></div>`;
}

/** Stacked horizontal bars: the outcome mix of each service (shares of ended activations). */
function outcomeBars(groups: readonly HealthGroupStats[]): string {
  if (groups.length === 0) return '<p class="muted">No activation in this window.</p>';
  const rowH = 22;
  const labelW = 110;
  const barW = 240;
  const h = groups.length * rowH + 24;
  const parts: string[] = [];
  groups.forEach((g, i) => {
    const y = i * rowH;
    parts.push(`<text x="0" y="${y + 15}" font-size="12">${esc(g.label.slice(0, 16))}</text>`);
    let x = labelW;
    for (const k of ["received", "cancelled", "timeout", "expired"] as const) {
      const w = barW * ratio(g[k], g.decided);
      if (w > 0) {
        parts.push(
          `<rect x="${x.toFixed(1)}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 6}" fill="${COLOURS[k]}"><title>${esc(
            `${g.label}: ${k} ${g[k]} of ${g.decided}`,
          )}</title></rect>`,
        );
      }
      x += w;
    }
    parts.push(
      `<text x="${labelW + barW + 6}" y="${y + 15}" font-size="12">${esc(pct(g.received, g.decided))}</text>`,
    );
  });
  let lx = 0;
  for (const k of ["received", "cancelled", "timeout", "expired"] as const) {
    parts.push(`<rect x="${lx}" y="${h - 14}" width="10" height="10" fill="${COLOURS[k]}"/>`);
    parts.push(`<text x="${lx + 13}" y="${h - 5}" font-size="11">${k}</text>`);
    lx += 80;
  }
  return `<svg role="img" aria-label="Outcomes per service" viewBox="0 0 ${labelW + barW + 50} ${h}" width="${labelW + barW + 50}">${parts.join("")}</svg>`;
}

/** One service's timeline: volume bars per bucket and the success share as a line. */
function timeline(
  label: string,
  buckets: readonly { name: string; label: string; g: HealthGroupStats | undefined }[],
): string {
  const w = 300;
  const h = 90;
  const n = Math.max(1, buckets.length);
  const step = w / n;
  const max = Math.max(1, ...buckets.map((b) => b.g?.total ?? 0));
  const bars: string[] = [];
  const points: string[] = [];
  buckets.forEach((b, i) => {
    const total = b.g?.total ?? 0;
    const bh = (70 * total) / max;
    if (total > 0) {
      bars.push(
        `<rect x="${(i * step + 1).toFixed(1)}" y="${(80 - bh).toFixed(1)}" width="${Math.max(1, step - 2).toFixed(1)}" height="${bh.toFixed(1)}" fill="${COLOURS.volume}"><title>${esc(
          `${b.name}: ${total} activations, success ${pct(b.g?.received ?? 0, b.g?.decided ?? 0)}`,
        )}</title></rect>`,
      );
    }
    if (b.g !== undefined && b.g.decided > 0) {
      points.push(
        `${(i * step + step / 2).toFixed(1)},${(80 - 70 * ratio(b.g.received, b.g.decided)).toFixed(1)}`,
      );
    }
  });
  const line =
    points.length > 0
      ? `<polyline points="${points.join(" ")}" fill="none" stroke="${COLOURS.line}" stroke-width="2"/>`
      : "";
  const first = buckets[0]?.label ?? "";
  const last = buckets[buckets.length - 1]?.label ?? "";
  return (
    `<figure><svg role="img" aria-label="${esc(`Timeline of ${label}`)}" viewBox="0 0 ${w} ${h}" width="${w}">` +
    `${bars.join("")}${line}<text x="0" y="${h - 1}" font-size="10">${esc(first)}</text>` +
    `<text x="${w}" y="${h - 1}" font-size="10" text-anchor="end">${esc(last)}</text></svg>` +
    `<figcaption>${esc(label)}</figcaption></figure>`
  );
}

function timelines(data: DashboardData): string {
  const { window } = data.health;
  const hourly = data.window === "24h";
  const stats = hourly ? data.health.byServiceHour : data.health.byServiceDay;
  const names: string[] = [];
  if (hourly) {
    const startHour = Math.floor(window.fromMs / 3_600_000);
    for (let i = 0; i < 24; i++) names.push(String((startHour + 1 + i) % 24));
  } else {
    const days = Math.round((window.toMs - window.fromMs) / 86_400_000);
    for (let i = days - 1; i >= 0; i--)
      names.push(new Date(window.toMs - 1 - i * 86_400_000).toISOString().slice(0, 10));
  }
  const services = data.health.byService.groups
    .slice()
    .sort((a, b) => b.total - a.total)
    .slice(0, 12);
  if (services.length === 0) return '<p class="muted">No activation in this window.</p>';
  const figures = services.map((s) => {
    const own = stats.groups.filter((g) => g.key.service === s.key.service);
    const byName = new Map(own.map((g) => [hourly ? String(g.key.hour) : (g.key.day ?? ""), g]));
    return timeline(
      s.label,
      names.map((name) => ({
        name,
        label: hourly ? `${name.padStart(2, "0")}:00 UTC` : name,
        g: byName.get(name),
      })),
    );
  });
  return `<div class="timelines">${figures.join("")}</div>`;
}

function coherenceSection(c: CoherenceReport | null): string {
  if (c === null) return "";
  const verdict = c.ok
    ? '<p class="ok" data-k="coherence">Coherent: balances, holds and owners agree.</p>'
    : '<p class="bad" data-k="coherence">Defects found.</p>';
  const race = c.raceFree
    ? ""
    : `<p>${esc(String(c.raceConditions.count))} race pair(s) of money events on one wallet within ${esc(String(c.raceConditions.thresholdMs))} ms.</p>`;
  const recs =
    c.recommendations.length === 0
      ? '<p class="muted">Nothing to recommend.</p>'
      : `<ul>${c.recommendations.map((r) => `<li>${esc(`${r.severity}: ${r.text}`)}</li>`).join("")}</ul>`;
  const stuck = plainTable(
    "stuck",
    ["kind", "id", "wallet", "provider", "created (UTC)", "age"],
    c.activations.stuckPending.map((s) => [
      s.ownerType,
      s.id,
      s.walletId,
      s.provider,
      iso(s.createdAtMs),
      formatHealthDuration(s.ageMs),
    ]),
  );
  return `<section><h2>Coherence</h2>${verdict}${race}${recs}<h2>Purchases stuck</h2>${stuck}</section>`;
}

/** The dashboard page. */
export function renderDashboard(data: DashboardData): string {
  const t = data.health.byService.total;
  const nav = (["24h", "7d", "30d"] as const)
    .map(
      (w) =>
        `<a href="${esc(`${data.path}?window=${w}`)}"${w === data.window ? ' aria-current="page"' : ""}>${esc(WINDOW_LABELS[w])}</a>`,
    )
    .join("");
  const money = t.money.map((m) => `${m.revenueSettledMinor} ${m.currency}`).join(", ") || "0";
  const released = t.money.map((m) => `${m.releasedMinor} ${m.currency}`).join(", ") || "0";
  const cards = [
    ["activations", "Activations", String(t.total)],
    ["success", "Success", pct(t.received, t.decided)],
    ["median", "Median time to code", formatHealthDuration(t.timeToCodeMs.median)],
    ["settled", "Settled (minor)", money],
    ["released", "Released (minor)", released],
    ["open", "Open now", String(t.open)],
  ]
    .map(
      ([k, label, v]) =>
        `<div class="card" data-card="${k}">${esc(label ?? "")}<b data-k="${k}">${esc(v ?? "")}</b></div>`,
    )
    .join("");
  const decisions = plainTable(
    "decisions",
    ["decision", "scope", "service", "country", "reason"],
    data.policies.decisions.map((d) => [d.type, d.scope, d.service ?? "all", d.country ?? "all", d.reason]),
  );
  const targets = healthTargetsTable(data.policies);
  const activations = plainTable(
    "activations",
    ["id", "wallet", "service", "country", "state", "price", "cost", "currency", "created (UTC)"],
    data.recentActivations.map((a) => [
      a.id,
      a.walletId,
      a.service ?? a.serviceCode,
      a.country ?? a.countryCode,
      a.state,
      String(a.priceMinor),
      a.costMinor === null ? "–" : String(a.costMinor),
      a.currency,
      iso(a.createdAtMs),
    ]),
  );
  const rentals = plainTable(
    "rentals",
    ["id", "wallet", "service", "country", "state", "hours", "price", "currency", "ends (UTC)"],
    data.recentRentals.map((r) => [
      r.id,
      r.walletId,
      r.service ?? r.serviceCode,
      r.country ?? r.countryCode,
      r.state,
      String(r.periods.reduce((s, p) => s + (p.state === "failed" ? 0 : p.hours), 0)),
      String(r.priceMinor),
      r.currency,
      iso(r.endsAtMs),
    ]),
  );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<link rel="icon" href="data:,"><title>${esc(data.title)}</title><style>${DASHBOARD_CSS}</style></head><body>
<header><h1>${esc(data.title)}</h1><p class="muted">${esc(`Window: last ${WINDOW_LABELS[data.window]}, up to ${iso(data.nowMs)} UTC`)}</p><nav aria-label="Window">${nav}</nav></header>
<main>
<section><h2>Summary</h2><div class="cards">${cards}</div></section>
${coherenceSection(data.coherence)}
<section><h2>Policy decisions</h2>${decisions}</section>
<section><h2>Targets</h2><p class="muted">${esc(describeHealthTargetsJudging(data.targetsJudging))}</p>${plainTable("targets", targets.header, targets.rows)}</section>
<section><h2>Outcomes per service</h2>${outcomeBars(data.health.byService.groups)}</section>
<section><h2>Timeline per service</h2>${timelines(data)}</section>
<section><h2>Per service</h2>${healthTable(data.health.byService, "service", "service")}</section>
<section><h2>Per country</h2>${healthTable(data.health.byCountry, "country", "country")}</section>
<section><h2>Recent activations</h2>${activations}</section>
<section><h2>Recent rentals</h2>${rentals}</section>
</main></body></html>
`;
}
