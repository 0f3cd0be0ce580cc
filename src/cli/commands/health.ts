import { writeFileSync } from "node:fs";
import { systemClock } from "../../core/clock.js";
import { buildCoherenceReport } from "../../health/coherence.js";
import { withCountryNames } from "../../health/display.js";
import { evaluateHealthPolicies } from "../../health/policies.js";
import { renderHealthHtml } from "../../health/render-html.js";
import { renderCoherenceReport, renderHealthDecisions, renderHealthTable } from "../../health/render-text.js";
import { computeHealthOverview, type HealthDimension, type HealthGroupStats } from "../../health/stats.js";
import { healthWindows } from "../../health/window.js";
import { readHealthSnapshot, readHealthWindow } from "../../worker/health-window.js";
import { CONFIG_HELP, type Command } from "../command.js";
import { databaseUrl, openDatabase } from "../connect.js";
import { CliExit, commonOptions, EXIT, parseCommand, parseDurationMs, printJson } from "../io.js";

const GROUPINGS: Readonly<Record<string, readonly HealthDimension[]>> = {
  service: ["service"],
  country: ["country"],
  "service,country": ["service", "country"],
  "country,service": ["service", "country"],
};

const healthOptions = { ...commonOptions, window: { type: "string" }, by: { type: "string" } } as const;

function withoutBins({ cancelAgeSeconds: _bins, ...g }: HealthGroupStats) {
  return g;
}

/** `sms-fes health`. */
export const healthCommand: Command = {
  name: "health",
  summary:
    "success, cancel and timeout rates, time to code and money per service/country, and the policy decisions",
  help: `usage: sms-fes health [--window 24h|7d|30d] [--by service|country|service,country] [--json] [configuration]

The health table of the window (default 24h) grouped by --by (default service), money in major units, countries
by name beside the provider's code, then what the policies decide now (disable, warn, the 24 h alert, cancel
pile-ups). Exit 1 when a service or pair is disabled or alerted.
${CONFIG_HELP}`,
  async run(args, io) {
    const { values } = parseCommand(args, healthOptions);
    if (values.help === true) {
      io.stdout(`${this.help}\n`);
      return EXIT.ok;
    }
    const spanMs = parseDurationMs(values.window ?? "24h", "--window");
    const groupBy = Object.hasOwn(GROUPINGS, values.by ?? "service")
      ? GROUPINGS[values.by ?? "service"]
      : undefined;
    if (groupBy === undefined)
      throw new CliExit(`--by must be service, country or service,country, got ${values.by}`);
    const db = await openDatabase(io, databaseUrl(io, values), values.schema);
    try {
      const read = db.storage().read;
      const nowMs = systemClock.now();
      const stats = await readHealthWindow(read, { sinceMs: nowMs - spanMs, untilMs: nowMs, groupBy });
      const snapshot = await readHealthSnapshot(read, { nowMs });
      const decisions = snapshot.policies.decisions;
      if (values.json === true) {
        printJson(io, {
          window: { fromMs: stats.window.fromMs, toMs: stats.window.toMs },
          groupBy: stats.groupBy,
          total: withoutBins(stats.total),
          groups: stats.groups.map(withoutBins),
          decisions,
        });
      } else {
        io.stdout(`${renderHealthTable(withCountryNames(stats), `Health by ${groupBy.join(" × ")}`)}\n\n`);
        io.stdout(`${renderHealthDecisions(snapshot.policies)}\n`);
      }
      return decisions.some((d) => d.type === "disable" || d.type === "alert") ? EXIT.findings : EXIT.ok;
    } finally {
      await db.close();
    }
  },
};

/** Everything the coherence report reads, from storage. */
async function coherenceInput(read: ReturnType<Awaited<ReturnType<typeof openDatabase>>["storage"]>["read"]) {
  const [wallets, transfers, holds, activations, rentals] = await Promise.all([
    read.listWallets(),
    read.listTransfers(),
    read.listHolds(),
    read.listActivations(),
    read.listRentals(),
  ]);
  return { wallets, transfers, holds, activations, rentals };
}

/** `sms-fes coherence`. */
export const coherenceCommand: Command = {
  name: "coherence",
  summary:
    "audit the money: balances against the ledger, frozen against holds, orphans, stuck purchases, races",
  help: `usage: sms-fes coherence [--json] [configuration]

Replays the ledger and compares it with the stored balances, the frozen amounts with the open holds, finds holds
without an owner and owners without a hold, purchases stuck in pending and race pairs. Exit 1 when the money is
not coherent.
${CONFIG_HELP}`,
  async run(args, io) {
    const { values } = parseCommand(args, commonOptions);
    if (values.help === true) {
      io.stdout(`${this.help}\n`);
      return EXIT.ok;
    }
    const db = await openDatabase(io, databaseUrl(io, values), values.schema);
    try {
      const report = buildCoherenceReport({
        ...(await coherenceInput(db.storage().read)),
        nowMs: systemClock.now(),
      });
      if (values.json === true) printJson(io, report);
      else io.stdout(`${renderCoherenceReport(report)}\n`);
      return report.ok ? EXIT.ok : EXIT.findings;
    } finally {
      await db.close();
    }
  },
};

const reportOptions = { ...commonOptions, html: { type: "string" }, window: { type: "string" } } as const;

/** `sms-fes report --html FILE`. */
export const reportCommand: Command = {
  name: "report",
  summary: "write the static HTML health and coherence report",
  help: `usage: sms-fes report --html FILE [--window 30d] [configuration]

Writes one static HTML page (no script, no external asset): the health tables and charts of the window (default
30d), the policy decisions, the targets and the coherence report.
${CONFIG_HELP}`,
  async run(args, io) {
    const { values } = parseCommand(args, reportOptions);
    if (values.help === true) {
      io.stdout(`${this.help}\n`);
      return EXIT.ok;
    }
    if (values.html === undefined) throw new CliExit("report needs --html FILE");
    const spanMs = parseDurationMs(values.window ?? "30d", "--window");
    const db = await openDatabase(io, databaseUrl(io, values), values.schema);
    try {
      const nowMs = systemClock.now();
      const input = await coherenceInput(db.storage().read);
      const overview = computeHealthOverview(input.activations, {
        window: healthWindows.last(nowMs, spanMs),
      });
      const named = {
        ...overview,
        byCountry: withCountryNames(overview.byCountry),
        byServiceCountry: withCountryNames(overview.byServiceCountry),
      };
      const html = renderHealthHtml({
        overview: named,
        policies: evaluateHealthPolicies(input.activations, { nowMs }),
        coherence: buildCoherenceReport({ ...input, nowMs }),
        title: "sms-fes report",
        generatedAtMs: nowMs,
      });
      writeFileSync(values.html, html);
      if (values.json === true) printJson(io, { file: values.html, bytes: Buffer.byteLength(html) });
      else io.stdout(`report written to ${values.html}\n`);
      return EXIT.ok;
    } finally {
      await db.close();
    }
  },
};
