/**
 * Plain-text renderings: health tables for a terminal (`npm start`), the policy decisions, the targets report and
 * the coherence report. Money is shown in major units with the currency's decimals (see `display.ts`).
 */
import type { CoherenceReport } from "./coherence.js";
import { formatMinorAmount } from "./display.js";
import {
  defaultHealthPolicyConfig,
  type HealthDecision,
  type HealthPolicyConfig,
  type HealthPolicyReport,
  type HealthTargetStatus,
} from "./policies.js";
import type { HealthGroupStats, HealthMoney, HealthOverview, HealthShare, HealthStats } from "./stats.js";
import type { HealthWindow } from "./window.js";

/** A share as a percentage with one decimal, or `—` when its denominator is 0. */
export function formatHealthShare(s: HealthShare): string {
  return s.denominator === 0 ? "—" : `${((100 * s.numerator) / s.denominator).toFixed(1)}%`;
}

/** A duration in ms as `850 ms`, `12.3 s` or `2m 05s`; `—` for null. */
export function formatHealthDuration(ms: number | null): string {
  if (ms === null) return "—";
  if (Math.abs(ms) < 1000) return `${Math.round(ms)} ms`;
  if (Math.abs(ms) < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const total = Math.round(ms / 1000);
  const m = Math.floor(total / 60);
  const s = total - m * 60;
  return `${m}m ${String(s).padStart(2, "0")}s`;
}

function formatMoney(money: readonly HealthMoney[], pick: (m: HealthMoney) => number): string {
  if (money.length === 0) return "0";
  return money.map((m) => formatMinorAmount(pick(m), m.currency)).join("; ");
}

function formatWindow(w: HealthWindow): string {
  if (!Number.isFinite(w.fromMs) && !Number.isFinite(w.toMs)) return "all records";
  const at = (ms: number) => (Number.isFinite(ms) ? new Date(ms).toISOString().replace(".000Z", "Z") : "…");
  return `${at(w.fromMs)} – ${at(w.toMs)}`;
}

/** Lays rows out as a fixed-width table; the first column is left-aligned, the others right-aligned. */
export function renderHealthTextTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  return [line(header), rule, ...rows.map(line)].join("\n");
}

const HEALTH_HEADER = [
  "group",
  "total",
  "ended",
  "success",
  "cancel",
  "timeout",
  "expired",
  "failed",
  "open",
  "code p50",
  "code p95",
  "cancel p50",
  "settled",
  "released",
  "cashback",
  "margin",
] as const;

function healthRow(g: HealthGroupStats): string[] {
  return [
    g.label,
    String(g.total),
    String(g.decided),
    formatHealthShare(g.shares.received),
    formatHealthShare(g.shares.cancelled),
    formatHealthShare(g.shares.timeout),
    formatHealthShare(g.shares.expired),
    String(g.failed),
    String(g.open),
    formatHealthDuration(g.timeToCodeMs.median),
    formatHealthDuration(g.timeToCodeMs.p95),
    formatHealthDuration(g.timeToCancelMs.median),
    formatMoney(g.money, (m) => m.revenueSettledMinor),
    formatMoney(g.money, (m) => m.releasedMinor),
    formatMoney(g.money, (m) => m.cashbackPaidMinor),
    g.money.some((m) => m.margin.count > 0)
      ? formatMoney(
          g.money.filter((m) => m.margin.count > 0),
          (m) => m.margin.marginMinor,
        )
      : "—",
  ];
}

/** One table: a row per group, then the total. Shares are over ended activations (`ended`). */
export function renderHealthTable(stats: HealthStats, title?: string): string {
  const heading = title ?? `By ${stats.groupBy.length === 0 ? "nothing" : stats.groupBy.join(" × ")}`;
  const rows = [...stats.groups.map(healthRow), healthRow(stats.total)];
  return `${heading} (${formatWindow(stats.window)})\n${renderHealthTextTable(HEALTH_HEADER, rows)}`;
}

/** The tables per service and per country of an overview. */
export function renderHealthTables(overview: HealthOverview): string {
  return [
    renderHealthTable(overview.byService, "Per service"),
    renderHealthTable(overview.byCountry, "Per country"),
  ].join("\n\n");
}

const DECISION_TITLES: Readonly<Record<HealthDecision["type"], string>> = {
  disable: "disable",
  warn: "warn",
  alert: "alert",
  cancel_pile_up: "cancel pile-up",
};

/**
 * The policy decisions as plain text: a heading with the instant they were taken (UTC, to the minute), then the
 * decisions grouped by type (disable, warn, alert, cancel pile-up), one reason per line.
 *
 * ```text
 * Policy decisions (as of 2026-10-31 00:00)
 *   disable (1)
 *     service mm: success upper bound 2.3 % (0/163 at 95.0 %) is below the disable floor 15.0 %
 * ```
 */
export function renderHealthDecisions(report: HealthPolicyReport): string {
  const lines = [`Policy decisions (as of ${isoMinute(report.nowMs)})`];
  if (report.decisions.length === 0) lines.push("  none: every service is within its limits");
  for (const type of ["disable", "warn", "alert", "cancel_pile_up"] as const) {
    const of = report.decisions.filter((d) => d.type === type);
    if (of.length === 0) continue;
    lines.push(`  ${DECISION_TITLES[type]} (${of.length})`);
    for (const d of of) lines.push(`    ${d.reason}`);
  }
  return lines.join("\n");
}

/** How a target verdict is printed in the targets report. */
const TARGET_MARKS: Readonly<Record<HealthTargetStatus, string>> = {
  met: "met",
  missed: "MISSED",
  uncertain: "uncertain",
  insufficient_sample: "too few",
};

/** How the targets were judged, for the heading of the targets report; default the default config's. */
export type HealthTargetsJudging = Pick<HealthPolicyConfig["targets"], "judge" | "confidence">;

/**
 * The targets report as cells: a header (`service`, `ended`, then one column per target such as
 * `success > 60%`) and one row per target row of the report (the overall row first, as `overall`), each share
 * with its verdict (`56.3% MISSED`). {@link renderHealthTargets} and the HTML dashboard lay these out.
 */
export function healthTargetsTable(report: HealthPolicyReport): {
  readonly header: readonly string[];
  readonly rows: readonly (readonly string[])[];
} {
  const first = report.targets[0];
  const header = [
    "service",
    "ended",
    ...(first?.checks ?? []).map(
      (c) => `${c.metric} ${c.direction === "above" ? ">" : "<"} ${Math.round(c.target * 100)}%`,
    ),
  ];
  const rows = report.targets.map((row) => [
    row.service ?? "overall",
    String(row.decided),
    ...row.checks.map((c) => `${formatHealthShare(c.share)} ${TARGET_MARKS[c.status]}`),
  ]);
  return { header, rows };
}

/** The sentence that says how the verdicts of the targets report were reached. */
export function describeHealthTargetsJudging(
  judging: HealthTargetsJudging = defaultHealthPolicyConfig.targets,
): string {
  return judging.judge === "bounds"
    ? `met/MISSED when the ${Math.round(judging.confidence * 100)}% Wilson interval is wholly on one side, else uncertain`
    : "met/MISSED by the observed share";
}

/**
 * The targets report as plain text: a heading saying how the verdicts were reached, then a table with the overall
 * row and one row per service. The report does not carry its configuration, so pass `judging` when the targets
 * were not judged by the default (`bounds` at 95 %).
 *
 * ```text
 * Targets (met/MISSED when the 95% Wilson interval is wholly on one side, else uncertain)
 *   service  ended  success > 60%  cancel < 20%  timeout < 10%  expired < 15%
 *   -------  -----  -------------  ------------  -------------  -------------
 * ```
 */
export function renderHealthTargets(report: HealthPolicyReport, judging?: HealthTargetsJudging): string {
  const { header, rows } = healthTargetsTable(report);
  return `Targets (${describeHealthTargetsJudging(judging)})\n${indent(renderHealthTextTable(header, rows))}`;
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

function describeDecision(d: HealthDecision): string {
  return `[${d.type}] ${d.reason}`;
}

/**
 * The coherence report as plain text, one section per concern. The first line gives the money verdict (`OK` or
 * `DEFECTS FOUND`, from `ok`) and, when there are race pairs, their count apart.
 */
export function renderCoherenceReport(report: CoherenceReport): string {
  const out: string[] = [];
  const section = (title: string) => out.push("", `== ${title} ==`);
  const at = (ms: number) => new Date(ms).toISOString();

  const races = report.raceFree ? "" : `; ${report.raceConditions.count} race pair(s) to look into`;
  out.push(`Coherence report at ${at(report.generatedAtMs)}: ${report.ok ? "OK" : "DEFECTS FOUND"}${races}`);

  section("State");
  const s = report.state;
  out.push(
    `wallets ${s.wallets}, transfers ${s.transfers}, holds open ${s.holds.open} / settled ${s.holds.settled} / ` +
      `released ${s.holds.released}`,
  );
  out.push(
    `activations: ${Object.entries(s.activations)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}`,
  );
  out.push(
    `rentals: ${Object.entries(s.rentals)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}`,
  );

  section("Activations");
  const t = report.activations.total;
  out.push(
    `${t.total} in ${formatWindow(report.activations.window)}; ended ${t.decided}: success ` +
      `${formatHealthShare(t.shares.received)}, cancel ${formatHealthShare(t.shares.cancelled)}, timeout ` +
      `${formatHealthShare(t.shares.timeout)}, expired ${formatHealthShare(t.shares.expired)}; failed ${t.failed}; ` +
      `open ${t.open}`,
  );
  out.push(
    `time to code p50 ${formatHealthDuration(t.timeToCodeMs.median)}, p95 ` +
      `${formatHealthDuration(t.timeToCodeMs.p95)}; time to cancel p50 ${formatHealthDuration(t.timeToCancelMs.median)}`,
  );
  out.push(`retries ${report.activations.retries}, late codes ${report.activations.lateCodes}`);
  if (report.activations.stuckPending.length === 0) out.push("no purchase stuck in pending");
  for (const p of report.activations.stuckPending) {
    out.push(
      `stuck pending: ${p.ownerType} ${p.id} (wallet ${p.walletId}, ${p.provider}) for ${formatHealthDuration(p.ageMs)}`,
    );
  }

  section("Transactions");
  for (const k of report.transactions.byKind) {
    out.push(`${k.kind}: ${k.count} transfer(s), ${k.amountMinor} ${k.currency}`);
  }
  for (const m of report.transactions.malformed) out.push(`malformed transfer ${m.transferId}: ${m.problem}`);
  for (const b of report.transactions.statementBreaks) {
    out.push(
      `statement break on ${b.walletId} at ${b.transferId}: recorded ${b.recordedMinor}, replayed ${b.replayedMinor}`,
    );
  }

  section("Race conditions");
  const race = report.raceConditions;
  out.push(`${race.count} pair(s) of different operations on one wallet within ${race.thresholdMs} ms`);
  for (const p of race.pairs) {
    out.push(
      `${p.walletId}: ${p.gapMs} ms between ${p.first.kind} ${p.first.id} (${p.first.operationId}) and ` +
        `${p.second.kind} ${p.second.id} (${p.second.operationId}) at ${at(p.first.atMs)}`,
    );
  }
  if (race.pairs.length < race.count) out.push(`… ${race.count - race.pairs.length} more`);

  section("Coherence");
  const c = report.coherence;
  for (const m of c.balanceMismatches) {
    out.push(
      `balance ${m.walletId}: stored ${m.storedMinor}, ledger ${m.replayedMinor} (${m.differenceMinor > 0 ? "+" : ""}` +
        `${m.differenceMinor} ${m.currency})`,
    );
  }
  for (const m of c.frozenMismatches) {
    out.push(
      `frozen ${m.walletId}: stored ${m.storedMinor}, open holds ${m.openHoldsMinor} (${m.differenceMinor})`,
    );
  }
  for (const w of c.negativeAvailable) {
    out.push(`negative available ${w.walletId}: balance ${w.balanceMinor}, frozen ${w.frozenMinor}`);
  }
  for (const id of c.unknownWallets) out.push(`unknown wallet ${id}`);
  for (const p of c.platformAccounts) out.push(`platform ${p.accountId}: ${p.balanceMinor}`);
  for (const cur of c.currencies) {
    out.push(
      `${cur.currency}: customers stored ${cur.customerStoredMinor} / ledger ${cur.customerReplayedMinor}, ` +
        `platform ${cur.platformMinor}, Σ stored ${cur.sumStoredMinor}, Σ ledger ${cur.sumReplayedMinor}`,
    );
  }
  for (const h of c.orphanHolds) {
    out.push(
      `orphan hold ${h.holdId} (${h.amountMinor} on ${h.walletId}): ${h.ownerType} ${h.ownerId} ` +
        `${h.problem === "owner_missing" ? "is missing" : `is ${h.ownerState}`}`,
    );
  }
  for (const o of c.ownerHoldProblems) {
    out.push(
      `${o.ownerType} ${o.ownerId} (${o.state}): ${o.problem.replaceAll("_", " ")}` +
        (o.holdId === null ? "" : ` ${o.holdId}`) +
        (o.problem === "several_open_holds" ? ` (${o.openHolds})` : ""),
    );
  }
  const clean =
    c.balanceMismatches.length +
      c.frozenMismatches.length +
      c.negativeAvailable.length +
      c.orphanHolds.length +
      c.ownerHoldProblems.length ===
    0;
  if (clean) out.push("balances, frozen amounts and holds agree with the ledger");

  section("Temporal patterns");
  out.push(renderHealthTable(report.temporal.byDay, "Per day (UTC)"));
  out.push("");
  out.push(renderHealthTable(report.temporal.byHour, "Per hour of day (UTC)"));

  section("Service patterns");
  out.push(renderHealthTable(report.services.byService, "Per service"));
  if (report.services.neverSucceeded.length > 0) {
    out.push(`never succeeded: ${report.services.neverSucceeded.join(", ")}`);
  }
  for (const d of report.services.policies.decisions) out.push(describeDecision(d));
  for (const row of report.services.policies.targets) {
    out.push(
      `targets ${row.service ?? "overall"} (${row.decided} ended): ` +
        row.checks.map((k) => `${k.metric} ${formatHealthShare(k.share)} ${k.status}`).join(", "),
    );
  }

  section("Recommendations");
  if (report.recommendations.length === 0) out.push("none");
  for (const r of report.recommendations) out.push(`${r.severity.toUpperCase()}: ${r.text}`);
  return `${out.join("\n")}\n`;
}
