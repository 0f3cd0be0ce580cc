/**
 * What the simulation prints: the summary of a run (outcomes, money, wallets, invariants) and its health
 * (statistics per service and country, the policy decisions, the targets report and the coherence report), as
 * text (the library's renderings plus a short coherence summary worded for a sequential run) and as one static
 * HTML page.
 */
import {
  buildCoherenceReport,
  type CoherenceReport,
  computeHealthOverview,
  evaluateHealthPolicies,
  formatMinorAmount,
  type HealthGroupStats,
  type HealthOverview,
  type HealthPolicyReport,
  renderHealthDecisions,
  renderHealthHtml,
  renderHealthTables,
  renderHealthTargets,
  withCountryNames,
} from "../src/health/index.js";
import { escapeHealthHtml } from "../src/health/render-html.js";
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
    // `ok` judges the money alone; the zero threshold also keeps a race recommendation out of the report.
    options: { raceThresholdMs: 0 },
  });
  return { asOfMs, overview, policies, coherence };
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
      `  ${cur.currency}: Σ stored ${formatMinorAmount(cur.sumStoredMinor, cur.currency)}, Σ ledger ${formatMinorAmount(cur.sumReplayedMinor, cur.currency)}`,
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
    "Health",
    indent(renderHealthTables(named(health.overview))),
    "",
    renderHealthDecisions(health.policies),
    "",
    renderHealthTargets(health.policies),
    "",
    renderCoherenceSummary(health.coherence),
  ].join("\n");
}

/**
 * Outcomes, money (in dollars), wallets and platform accounts of a run; with `--gate`, how many purchases the gate
 * refused (they recorded nothing, so they are not among the outcomes).
 */
export function renderSummary(summary: SimulationSummary): string {
  const money = (minor: number) => formatMinorAmount(minor, "USD");
  const share = (n: number, d: number) => (d === 0 ? "-" : `${((100 * n) / d).toFixed(1)}%`);
  const outcomes = (counts: Record<string, number>, total: number) =>
    Object.entries(counts)
      .sort(([, a], [, b]) => b - a)
      .map(([state, n]) => `  ${state.padEnd(10)} ${String(n).padStart(6)}  ${share(n, total).padStart(6)}`);
  const evaluations = summary.counters.gateEvaluations;
  const gate =
    evaluations === undefined
      ? []
      : [
          `  refused by the gate (buy:service_disabled): ${summary.counters["buy:service_disabled"] ?? 0}, ` +
            `policies evaluated ${evaluations} time(s)`,
        ];
  return [
    "Activations by outcome",
    ...outcomes(summary.outcomes, summary.activations),
    ...gate,
    "Rentals by outcome",
    ...outcomes(summary.rentalOutcomes, summary.rentals),
    "",
    "Money",
    `  deposited  ${money(summary.money.depositedMinor).padStart(16)}`,
    `  settled    ${money(summary.money.settledMinor).padStart(16)}`,
    `  released   ${money(summary.money.releasedMinor).padStart(16)}`,
    `  cashback   ${money(summary.money.cashbackMinor).padStart(16)}`,
    `  margin     ${money(summary.money.marginMinor).padStart(16)}  (on received activations)`,
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
 * `renderHealthHtml` (decisions and targets included), followed by the run's summary, which it does not show.
 */
export function renderHealthPage(
  health: SimulationHealth,
  summary: SimulationSummary,
  title: string,
  setupLine: string,
): string {
  const page = renderHealthHtml({
    overview: named(health.overview),
    policies: health.policies,
    coherence: health.coherence,
    title,
    generatedAtMs: health.asOfMs,
  });
  const pre = (text: string) => `<pre>${escapeHealthHtml(text)}</pre>`;
  const extra = `<section><h2>Run</h2>${pre(`${setupLine}\n\n${renderSummary(summary)}\n\n${renderInvariants(summary)}`)}</section>`;
  const end = page.lastIndexOf("</body>");
  return end === -1 ? `${page}${extra}` : `${page.slice(0, end)}${extra}\n${page.slice(end)}`;
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

/** The overview with countries shown by name beside the provider's code. */
function named(overview: HealthOverview): HealthOverview {
  return {
    ...overview,
    byCountry: withCountryNames(overview.byCountry),
    byServiceCountry: withCountryNames(overview.byServiceCountry),
  };
}

function indent(text: string): string {
  return text
    .split("\n")
    .map((l) => (l === "" ? l : `  ${l}`))
    .join("\n");
}
