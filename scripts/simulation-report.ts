/**
 * What the simulation prints: the summary of a run (outcomes, money, wallets, invariants) and its health
 * (statistics per service and country, the policy decisions, the targets report and the coherence report), with
 * plain-text renderings of what `src/health` does not render itself (decisions, targets, a short coherence
 * summary), and the same as one static HTML page.
 */
import {
  buildCoherenceReport,
  type CoherenceReport,
  computeHealthOverview,
  defaultHealthPolicyConfig,
  escapeHealthHtml,
  evaluateHealthPolicies,
  formatHealthShare,
  type HealthDecision,
  type HealthGroupStats,
  type HealthOverview,
  type HealthPolicyReport,
  type HealthTargetStatus,
  renderHealthHtml,
  renderHealthTables,
  renderHealthTextTable,
} from "../src/health/index.js";
import type { SimulationResult, summarize } from "./simulation.js";

/** The summary {@link summarize} returns. */
export type SimulationSummary = Awaited<ReturnType<typeof summarize>>;

/** The health of a finished run, judged as of the end of its traffic. */
export interface SimulationHealth {
  /** The instant the policies judge from: the end of the simulated traffic. */
  readonly asOfMs: number;
  readonly overview: HealthOverview;
  readonly policies: HealthPolicyReport;
  readonly coherence: CoherenceReport;
}

/**
 * Computes the health of a run. The policies and the coherence report look from the end of the traffic (not
 * from the end of the final sweep, days later), so the 24-hour alert window covers the last simulated day.
 */
export async function simulationHealth(result: SimulationResult): Promise<SimulationHealth> {
  const read = result.storage.read;
  const [activations, rentals, transfers, holds, wallets] = await Promise.all([
    read.listActivations(),
    read.listRentals(),
    read.listTransfers(),
    read.listHolds(),
    read.listWallets(),
  ]);
  const asOfMs = result.trafficEndMs;
  const overview = computeHealthOverview(activations);
  const policies = evaluateHealthPolicies(activations, { nowMs: asOfMs });
  const coherence = buildCoherenceReport({
    wallets,
    transfers,
    holds,
    activations,
    rentals,
    nowMs: asOfMs,
    // The run is sequential on a manual clock: unrelated operations share one instant (a top-up and the purchase
    // it pays for, a sweep ending several activations of one wallet), so closeness in time says nothing here.
    options: { raceThresholdMs: 0 },
  });
  return { asOfMs, overview, policies, coherence };
}

const DECISION_TITLES: Readonly<Record<HealthDecision["type"], string>> = {
  disable: "disable",
  warn: "warn",
  alert: "alert",
  cancel_pile_up: "cancel pile-up",
};

/** The policy decisions, one line each with its reason, grouped by type (disable, warn, alert, pile-up). */
export function renderDecisions(policies: HealthPolicyReport): string {
  const lines = [`Policy decisions (as of ${isoMinute(policies.nowMs)})`];
  if (policies.decisions.length === 0) lines.push("  none: every service is within its limits");
  for (const type of ["disable", "warn", "alert", "cancel_pile_up"] as const) {
    const of = policies.decisions.filter((d) => d.type === type);
    if (of.length === 0) continue;
    lines.push(`  ${DECISION_TITLES[type]} (${of.length})`);
    for (const d of of) lines.push(`    ${d.reason}`);
  }
  return lines.join("\n");
}

const STATUS_MARK: Readonly<Record<HealthTargetStatus, string>> = {
  met: "met",
  missed: "MISSED",
  uncertain: "uncertain",
  insufficient_sample: "too few",
};

function targetRows(policies: HealthPolicyReport): { header: string[]; rows: string[][] } {
  const first = policies.targets[0];
  const header = [
    "service",
    "ended",
    ...(first?.checks ?? []).map(
      (c) => `${c.metric} ${c.direction === "above" ? ">" : "<"} ${Math.round(c.target * 100)}%`,
    ),
  ];
  const rows = policies.targets.map((row) => [
    row.service ?? "overall",
    String(row.decided),
    ...row.checks.map((c) => `${formatHealthShare(c.share)} ${STATUS_MARK[c.status]}`),
  ]);
  return { header, rows };
}

/** The targets report: one row per service after the overall row, each share with its verdict. */
export function renderTargets(policies: HealthPolicyReport): string {
  const { header, rows } = targetRows(policies);
  const confidence = Math.round(defaultHealthPolicyConfig.targets.confidence * 100);
  const judge = `met/MISSED when the ${confidence}% Wilson interval is wholly on one side, else uncertain`;
  return `Targets (${judge})\n${indent(renderHealthTextTable(header, rows))}`;
}

/** A short coherence section: the verdict, the money checks, race pairs and the recommendations. */
export function renderCoherenceSummary(report: CoherenceReport): string {
  const c = report.coherence;
  const defects =
    c.balanceMismatches.length +
    c.frozenMismatches.length +
    c.negativeAvailable.length +
    c.orphanHolds.length +
    c.ownerHoldProblems.length +
    report.transactions.malformed.length +
    report.transactions.statementBreaks.length;
  const lines = [`Coherence: ${report.ok ? "OK" : "DEFECTS FOUND"}`];
  lines.push(
    `  ledger: ${report.state.transfers} transfers, holds open ${report.state.holds.open} / settled ` +
      `${report.state.holds.settled} / released ${report.state.holds.released}; ${defects} money defect(s)`,
  );
  for (const cur of c.currencies) {
    lines.push(
      `  ${cur.currency}: Σ stored ${cur.sumStoredMinor}, Σ ledger ${cur.sumReplayedMinor} (minor units)`,
    );
  }
  lines.push(
    `  stuck pending: ${report.activations.stuckPending.length}; race pairs: not judged (a sequential run on a ` +
      "manual clock)",
  );
  if (report.recommendations.length > 0) lines.push("  recommendations:");
  for (const r of report.recommendations) lines.push(`    ${r.severity}: ${r.text}`);
  return lines.join("\n");
}

/** Everything health prints after the summary: tables, decisions, targets and the coherence section. */
export function renderHealthText(health: SimulationHealth): string {
  return [
    "Health (money in minor units: cents)",
    indent(renderHealthTables(health.overview)),
    "",
    renderDecisions(health.policies),
    "",
    renderTargets(health.policies),
    "",
    renderCoherenceSummary(health.coherence),
  ].join("\n");
}

/** Outcomes, money (in dollars), wallets and platform accounts of a run. */
export function renderSummary(summary: SimulationSummary): string {
  const money = (minor: number) => (minor / 100).toFixed(2);
  const share = (n: number, d: number) => (d === 0 ? "-" : `${((100 * n) / d).toFixed(1)}%`);
  const outcomes = (counts: Record<string, number>, total: number) =>
    Object.entries(counts)
      .sort(([, a], [, b]) => b - a)
      .map(([state, n]) => `  ${state.padEnd(10)} ${String(n).padStart(6)}  ${share(n, total).padStart(6)}`);
  return [
    "Activations by outcome",
    ...outcomes(summary.outcomes, summary.activations),
    "Rentals by outcome",
    ...outcomes(summary.rentalOutcomes, summary.rentals),
    "",
    "Money (USD)",
    `  deposited  ${money(summary.money.depositedMinor).padStart(12)}`,
    `  settled    ${money(summary.money.settledMinor).padStart(12)}`,
    `  released   ${money(summary.money.releasedMinor).padStart(12)}`,
    `  cashback   ${money(summary.money.cashbackMinor).padStart(12)}`,
    `  margin     ${money(summary.money.marginMinor).padStart(12)}  (on received activations)`,
    `Wallets: ${summary.wallets.count}, balance ${money(summary.wallets.balanceMinor)}, frozen ${money(summary.wallets.frozenMinor)}`,
    `Platform accounts: ${Object.entries(summary.platformAccounts)
      .map(([id, v]) => `${id} ${money(v)}`)
      .join(", ")}`,
  ].join("\n");
}

/** The invariant verdict: `invariants: OK`, or `FAILED` and every violation. */
export function renderInvariants(summary: SimulationSummary): string {
  return summary.invariants.ok
    ? "invariants: OK"
    : `invariants: FAILED\n${summary.invariants.violations.map((v) => `  [${v.invariant}] ${v.subject}: ${v.message}`).join("\n")}`;
}

/**
 * The run as one static HTML page (inline CSS and SVG, no script, no external asset): the dashboard of
 * `renderHealthHtml`, followed by the targets and the run's summary, which the dashboard does not show.
 */
export function renderHealthPage(
  health: SimulationHealth,
  summary: SimulationSummary,
  title: string,
  setupLine: string,
): string {
  const page = renderHealthHtml({
    overview: health.overview,
    policies: health.policies,
    coherence: health.coherence,
    title,
    generatedAtMs: health.asOfMs,
  });
  const pre = (text: string) => `<pre>${escapeHealthHtml(text)}</pre>`;
  const extra = [
    `<section><h2>Targets</h2>${targetsTable(health.policies)}</section>`,
    `<section><h2>Run</h2>${pre(`${setupLine}\n\n${renderSummary(summary)}\n\n${renderInvariants(summary)}`)}</section>`,
  ].join("\n");
  const end = page.lastIndexOf("</body>");
  return end === -1 ? `${page}${extra}` : `${page.slice(0, end)}${extra}\n${page.slice(end)}`;
}

function targetsTable(policies: HealthPolicyReport): string {
  const { header, rows } = targetRows(policies);
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

/** A compact JSON projection: the service and country tables, the decisions, the targets, the coherence verdict. */
export function healthJson(health: SimulationHealth) {
  const group = ({ cancelAgeSeconds: _bins, ...g }: HealthGroupStats) => g;
  const r = health.coherence;
  return {
    asOfMs: health.asOfMs,
    total: group(health.overview.total),
    byService: health.overview.byService.groups.map(group),
    byCountry: health.overview.byCountry.groups.map(group),
    decisions: health.policies.decisions,
    targets: health.policies.targets,
    coherence: {
      ok: r.ok,
      state: r.state,
      coherence: r.coherence,
      stuckPending: r.activations.stuckPending,
      raceConditions: { thresholdMs: r.raceConditions.thresholdMs, count: r.raceConditions.count },
      recommendations: r.recommendations,
    },
  };
}

function indent(text: string): string {
  return text
    .split("\n")
    .map((l) => (l === "" ? l : `  ${l}`))
    .join("\n");
}

function isoMinute(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16).replace("T", " ");
}
