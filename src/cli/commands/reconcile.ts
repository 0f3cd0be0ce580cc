import { systemClock } from "../../core/clock.js";
import { createFes } from "../../fes/service.js";
import { formatMinorAmount } from "../../health/display.js";
import type { Provider } from "../../provider/port.js";
import type { StorageReader } from "../../storage/port.js";
import { CONFIG_HELP, type Command } from "../command.js";
import { databaseUrl, openDatabase, openProvider, providerSettings } from "../connect.js";
import {
  CliExit,
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
  apply: { type: "boolean" },
  grace: { type: "string" },
} as const;

/** What the provider and the storage disagree on. */
export interface ReconcileFindings {
  /** Numbers open upstream that no record knows. */
  readonly unknownUpstream: readonly {
    kind: "activation" | "rental";
    providerId: string;
    service: string | null;
    country: string | null;
  }[];
  /** Open records whose number the provider does not list. */
  readonly missingUpstream: readonly {
    kind: "activation" | "rental";
    id: string;
    providerId: string;
    walletId: string;
  }[];
  /** Purchases pending past the grace period: the sweeper adopts them if listed upstream, else releases the hold. */
  readonly pendingPastGrace: readonly {
    kind: "activation" | "rental";
    id: string;
    walletId: string;
    amountMinor: number;
    currency: string;
    outcome: "adopt" | "release";
  }[];
}

/** Compares the provider's open activations and rentals with the storage's, reading only (no money moves). */
export async function findReconcileDifferences(
  provider: Provider,
  reader: StorageReader,
  query: { nowMs: number; graceMs: number },
): Promise<ReconcileFindings> {
  const [activations, rentals] = await Promise.all([
    provider.listActiveActivations(),
    provider.listActiveRentals(),
  ]);
  if (activations.isErr())
    throw new CliExit(
      `the provider did not list activations: ${activations.error.class}:${activations.error.reason}`,
    );
  const upstreamRentals = rentals.isOk() ? rentals.value : [];
  const [openActivations, openRentals] = await Promise.all([
    reader.listActivations({ states: ["pending", "waiting"] }),
    reader.listRentals({ states: ["pending", "active"] }),
  ]);
  const name = provider.capabilities.name;
  const unknownUpstream: ReconcileFindings["unknownUpstream"][number][] = [];
  for (const a of activations.value) {
    const known = await reader.findActivationByProviderId(name, a.providerActivationId);
    if (known === undefined && !openActivations.some((o) => o.id === a.orderId)) {
      unknownUpstream.push({
        kind: "activation",
        providerId: a.providerActivationId,
        service: a.service,
        country: a.country,
      });
    }
  }
  const rentalIds = new Set(openRentals.map((r) => r.providerRentalId));
  for (const r of upstreamRentals) {
    if (!rentalIds.has(r.providerRentalId)) {
      unknownUpstream.push({
        kind: "rental",
        providerId: r.providerRentalId,
        service: r.service,
        country: r.country,
      });
    }
  }
  const listedActivations = new Set(activations.value.map((a) => a.providerActivationId));
  const listedRentals = new Set(upstreamRentals.map((r) => r.providerRentalId));
  const missingUpstream: ReconcileFindings["missingUpstream"][number][] = [];
  for (const a of openActivations) {
    if (
      a.state === "waiting" &&
      a.providerActivationId !== null &&
      !listedActivations.has(a.providerActivationId)
    ) {
      missingUpstream.push({
        kind: "activation",
        id: a.id,
        providerId: a.providerActivationId,
        walletId: a.walletId,
      });
    }
  }
  if (rentals.isOk()) {
    for (const r of openRentals) {
      if (r.state === "active" && r.providerRentalId !== null && !listedRentals.has(r.providerRentalId)) {
        missingUpstream.push({
          kind: "rental",
          id: r.id,
          providerId: r.providerRentalId,
          walletId: r.walletId,
        });
      }
    }
  }
  const before = query.nowMs - query.graceMs;
  const pendingPastGrace: ReconcileFindings["pendingPastGrace"][number][] = [];
  for (const a of openActivations) {
    if (a.state !== "pending" || a.createdAtMs > before) continue;
    const listed = activations.value.some((l) => l.orderId === a.id);
    pendingPastGrace.push({
      kind: "activation",
      id: a.id,
      walletId: a.walletId,
      amountMinor: a.priceMinor,
      currency: a.currency,
      outcome: listed ? "adopt" : "release",
    });
  }
  for (const r of openRentals) {
    if (r.state !== "pending" || r.createdAtMs > before) continue;
    pendingPastGrace.push({
      kind: "rental",
      id: r.id,
      walletId: r.walletId,
      amountMinor: r.priceMinor,
      currency: r.currency,
      outcome: "release",
    });
  }
  return { unknownUpstream, missingUpstream, pendingPastGrace };
}

/** `sms-fes reconcile [--apply]`. */
export const reconcileCommand: Command = {
  name: "reconcile",
  summary: "compare the provider's open numbers with storage; --apply repairs through the sweeper",
  help: `usage: sms-fes reconcile [--apply] [--grace 2m] [--json] [configuration]

Lists numbers open at the provider that no record knows, open records the provider does not list, and purchases
pending past the grace period with the money that would move (adopted when found upstream, else the hold is
released). Reads only; exit 1 when there is anything to report. --apply then runs one sweep — the same code path as
the worker — and prints its report.
${CONFIG_HELP}`,
  async run(args, io) {
    const { values } = parseCommand(args, options);
    if (values.help === true) {
      io.stdout(`${this.help}\n`);
      return EXIT.ok;
    }
    const graceMs = parseDurationMs(values.grace ?? "2m", "--grace");
    const settings = providerSettings(io, values);
    const db = await openDatabase(io, databaseUrl(io, values), values.schema);
    try {
      const storage = db.storage();
      const provider = openProvider(settings);
      const findings = await findReconcileDifferences(provider, storage.read, {
        nowMs: systemClock.now(),
        graceMs,
      });
      let sweep: unknown;
      if (values.apply === true) {
        const result = await createFes({ storage, provider, pendingGraceMs: graceMs }).sweep();
        if (result.isErr()) throw new CliExit(`the sweep failed: ${result.error.type}`);
        sweep = result.value;
      }
      const count =
        findings.unknownUpstream.length + findings.missingUpstream.length + findings.pendingPastGrace.length;
      if (values.json === true)
        printJson(io, { ...findings, ...(sweep === undefined ? {} : { applied: sweep }) });
      else {
        io.stdout(`unknown upstream: ${findings.unknownUpstream.length}\n`);
        for (const u of findings.unknownUpstream) {
          io.stdout(`  ${u.kind} ${u.providerId} (${u.service ?? "?"} in ${u.country ?? "?"})\n`);
        }
        io.stdout(`not listed upstream: ${findings.missingUpstream.length}\n`);
        for (const m of findings.missingUpstream)
          io.stdout(`  ${m.kind} ${m.id} (provider id ${m.providerId})\n`);
        io.stdout(`pending past the grace period: ${findings.pendingPastGrace.length}\n`);
        for (const p of findings.pendingPastGrace) {
          io.stdout(
            `  ${p.kind} ${p.id}: ${p.outcome} ${formatMinorAmount(p.amountMinor, p.currency)} of wallet ${p.walletId}\n`,
          );
        }
        if (sweep !== undefined) io.stdout(`applied: ${JSON.stringify(sweep)}\n`);
      }
      return count === 0 ? EXIT.ok : EXIT.findings;
    } finally {
      await db.close();
    }
  },
};
