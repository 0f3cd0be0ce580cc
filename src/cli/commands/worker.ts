import {
  coherenceAlertConditions,
  healthAlertConditions,
  stuckPurchaseConditions,
} from "../../alerts/conditions.js";
import { createNotifier, type Notifier } from "../../alerts/notifier.js";
import { type AlertSink, slackAlertSink, webhookAlertSink } from "../../alerts/sinks.js";
import { systemClock } from "../../core/clock.js";
import { createFes } from "../../fes/service.js";
import { buildCoherenceReport } from "../../health/coherence.js";
import type { HealthServiceGate } from "../../health/gate.js";
import type { HealthCountryRouter } from "../../health/routing.js";
import { createLoggerObserver, type LoggerLike } from "../../observe/logger.js";
import { startWorker } from "../../worker/worker.js";
import { CONFIG_HELP, type Command } from "../command.js";
import { databaseUrl, openDatabase, openProvider, providerSettings } from "../connect.js";
import {
  type CliIo,
  commonOptions,
  EXIT,
  parseCommand,
  parseDurationMs,
  printJson,
  providerOptions,
} from "../io.js";

const options = {
  ...commonOptions,
  ...providerOptions,
  interval: { type: "string" },
  "health-every": { type: "string" },
  grace: { type: "string" },
  "coherence-every": { type: "string" },
  once: { type: "boolean" },
} as const;

/** The alert sinks configured in the environment (none: alerts are recorded but not sent). */
export function sinksFromEnv(io: CliIo): AlertSink[] {
  const sinks: AlertSink[] = [];
  const webhook = io.env.SMS_FES_ALERT_WEBHOOK_URL;
  if (webhook !== undefined && webhook !== "") {
    const secret = io.env.SMS_FES_ALERT_WEBHOOK_SECRET;
    if (secret === undefined || secret === "")
      throw new Error("SMS_FES_ALERT_WEBHOOK_URL needs SMS_FES_ALERT_WEBHOOK_SECRET");
    sinks.push(webhookAlertSink({ url: webhook, secret }));
  }
  const slack = io.env.SMS_FES_ALERT_SLACK_URL;
  if (slack !== undefined && slack !== "") sinks.push(slackAlertSink({ url: slack }));
  return sinks;
}

/** `sms-fes worker`. */
export const workerCommand: Command = {
  name: "worker",
  summary: "run the sweeper loop, the health refresh and alert delivery until SIGTERM",
  help: `usage: sms-fes worker [--interval 30s] [--health-every 5m] [--grace 2m] [--coherence-every 6h] [--once]
                      [--json] [configuration]

Runs the sweeper (timeouts, rental ends, stuck purchases) every --interval, never overlapping itself and backing
off when a whole sweep fails; refreshes the health policies, the service gate and the router every --health-every;
delivers each alert change once (a service disabled or re-enabled, warned, the 24 h alert, a cancel pile-up,
purchases stuck; with --coherence-every, money not coherent — that audit reads the whole ledger). Safe to run
several. SIGTERM or SIGINT stops it after the sweep in hand; a second one exits.
Prints one JSON line per sweep report. --once runs one sweep and exits (1 when it had errors).

Alert sinks (optional): SMS_FES_ALERT_WEBHOOK_URL with SMS_FES_ALERT_WEBHOOK_SECRET (signed JSON),
SMS_FES_ALERT_SLACK_URL (Slack-compatible incoming webhook).
${CONFIG_HELP}`,
  async run(args, io) {
    const { values } = parseCommand(args, options);
    if (values.help === true) {
      io.stdout(`${this.help}\n`);
      return EXIT.ok;
    }
    const intervalMs = parseDurationMs(values.interval ?? "30s", "--interval");
    const healthEveryMs = parseDurationMs(values["health-every"] ?? "5m", "--health-every");
    const graceMs = parseDurationMs(values.grace ?? "2m", "--grace");
    const coherenceEveryMs =
      values["coherence-every"] === undefined
        ? null
        : parseDurationMs(values["coherence-every"], "--coherence-every");
    let lastCoherenceMs = Number.NEGATIVE_INFINITY;
    const settings = providerSettings(io, values);
    const sinks = sinksFromEnv(io);
    const db = await openDatabase(io, databaseUrl(io, values), values.schema);
    const storage = db.storage();
    let gate: HealthServiceGate = () => ({ enabled: true });
    let route: HealthCountryRouter | undefined;
    const fes = createFes({
      storage,
      provider: openProvider(settings),
      pendingGraceMs: graceMs,
      gate: (q) => gate(q),
      route: (q) => route?.(q) ?? [],
      // Failed units of work and provider calls, one JSON line each on stderr (stdout carries the reports).
      observer: createLoggerObserver(jsonLineLogger(io), { level: "warn" }),
    });
    try {
      if (values.once === true) {
        const result = await fes.sweep();
        if (result.isErr()) {
          io.stderr(`sweep failed: ${result.error.type}\n`);
          return EXIT.findings;
        }
        if (values.json === true) printJson(io, result.value);
        else io.stdout(`${JSON.stringify({ event: "sweep", ...result.value })}\n`);
        return result.value.errors === 0 ? EXIT.ok : EXIT.findings;
      }
      const notifier: Notifier = createNotifier({
        store: db.alerts(),
        sinks,
        clock: systemClock,
        onProblem: (p) => io.stderr(`${JSON.stringify({ event: "alert_problem", ...p })}\n`),
      });
      const controller = new AbortController();
      const onSignal = () => {
        if (controller.signal.aborted) process.exit(130);
        io.stderr(`${JSON.stringify({ event: "stopping" })}\n`);
        controller.abort();
      };
      process.on("SIGTERM", onSignal);
      process.on("SIGINT", onSignal);
      io.stderr(
        `${JSON.stringify({ event: "started", intervalMs, healthEveryMs, sinks: sinks.map((s) => s.name) })}\n`,
      );
      const worker = startWorker({
        fes,
        intervalMs,
        signal: controller.signal,
        onReport: (report) => io.stdout(`${JSON.stringify({ event: "sweep", ...report })}\n`),
        onProblem: (p) => io.stderr(`${JSON.stringify({ event: "problem", ...p })}\n`),
        afterSweep: () => notifier.kick(),
        health: {
          reader: storage.read,
          clock: systemClock,
          everyMs: healthEveryMs,
          onSnapshot: async (snapshot) => {
            gate = snapshot.gate;
            route = snapshot.route;
            await notifier.observe("health", healthAlertConditions(snapshot.policies));
            // Purchases the sweeper should long since have reconciled.
            const due = await storage.read.listDue({
              nowMs: snapshot.nowMs,
              pendingBeforeMs: snapshot.nowMs - 5 * graceMs,
              limit: 50,
            });
            await notifier.observe("sweeper", stuckPurchaseConditions(due));
            if (coherenceEveryMs !== null && snapshot.nowMs - lastCoherenceMs >= coherenceEveryMs) {
              lastCoherenceMs = snapshot.nowMs;
              const [wallets, transfers, holds, activations, rentals] = await Promise.all([
                storage.read.listWallets(),
                storage.read.listTransfers(),
                storage.read.listHolds(),
                storage.read.listActivations(),
                storage.read.listRentals(),
              ]);
              const report = buildCoherenceReport({
                wallets,
                transfers,
                holds,
                activations,
                rentals,
                nowMs: snapshot.nowMs,
              });
              await notifier.observe("coherence", coherenceAlertConditions(report));
            }
          },
        },
      });
      const summary = await worker.stopped;
      await notifier.idle();
      process.off("SIGTERM", onSignal);
      process.off("SIGINT", onSignal);
      io.stderr(`${JSON.stringify({ event: "stopped", ...summary })}\n`);
      return EXIT.ok;
    } finally {
      await db.close();
    }
  },
};

/** A logger that writes each line as one JSON object on stderr. */
function jsonLineLogger(io: { stderr(text: string): void }): LoggerLike {
  const line =
    (level: string) =>
    (message: unknown, fields?: unknown): void =>
      io.stderr(`${JSON.stringify({ event: "fes", level, message, ...(fields as object) })}\n`);
  return { debug: line("debug"), info: line("info"), warn: line("warn"), error: line("error") };
}
