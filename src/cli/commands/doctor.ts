import { systemClock } from "../../core/clock.js";
import { MIGRATIONS } from "../../postgres/migrations.generated.js";
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
  scrub,
} from "../io.js";
import { appliedVersions } from "./migrate.js";

const options = { ...commonOptions, ...providerOptions, grace: { type: "string" } } as const;

/** One check of `doctor`. */
interface Check {
  readonly name: string;
  readonly status: "ok" | "warn" | "fail";
  readonly detail: string;
}

/** `sms-fes doctor`. */
export const doctorCommand: Command = {
  name: "doctor",
  summary:
    "check the database, the migrations, the provider, the key, the balance, clock skew and stuck purchases",
  help: `usage: sms-fes doctor [--grace 2m] [--json] [configuration]

Checks that the database is reachable and migrated, the provider reachable and the key valid, prints the upstream
balance and the clock skew between this machine and the provider (from its Date header), and counts purchases
still pending after the grace period (default 2m, the sweeper's). Exit 1 when a check fails or warns, 2 when the
database or the provider cannot be reached.
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
    const checks: Check[] = [{ name: "database", status: "ok", detail: `reachable at ${db.where}` }];
    let unreachable = false;
    try {
      const applied = await appliedVersions(db.pool, db.schema);
      const pending = MIGRATIONS.filter((m) => !applied.has(m.version)).map((m) => m.version);
      checks.push(
        pending.length === 0
          ? { name: "migrations", status: "ok", detail: `schema ${db.schema} is current` }
          : {
              name: "migrations",
              status: "fail",
              detail: `schema ${db.schema}: pending ${pending.join(", ")}`,
            },
      );
      const provider = openProvider(settings);
      const balance = await provider.getBalance();
      if (balance.isOk()) {
        checks.push({ name: "provider", status: "ok", detail: `reachable (${settings.preset})` });
        checks.push({ name: "key", status: "ok", detail: "accepted" });
        checks.push({ name: "balance", status: "ok", detail: balance.value });
      } else if (balance.error.class === "fatal") {
        checks.push({ name: "provider", status: "ok", detail: `reachable (${settings.preset})` });
        checks.push({ name: "key", status: "fail", detail: `refused (${balance.error.reason})` });
      } else {
        unreachable = true;
        checks.push({
          name: "provider",
          status: "fail",
          detail: `unreachable (${balance.error.class}:${balance.error.reason})`,
        });
      }
      if (!unreachable) checks.push(await clockSkew(settings.baseUrl));
      if (pending.length === 0) {
        const nowMs = systemClock.now();
        const due = await db.storage().read.listDue({ nowMs, pendingBeforeMs: nowMs - graceMs, limit: 1000 });
        const stuck = due.pendingActivations.length + due.pendingRentals.length;
        checks.push({
          name: "pending purchases",
          status: stuck === 0 ? "ok" : "warn",
          detail:
            stuck === 0
              ? `none older than ${values.grace ?? "2m"}`
              : `${stuck} older than ${values.grace ?? "2m"}: run the worker or sms-fes reconcile`,
        });
      }
    } catch (e) {
      throw new CliExit(scrub(e instanceof Error ? e.message : String(e), [db.secret, settings.apiKey]));
    } finally {
      await db.close();
    }
    if (values.json === true) printJson(io, { checks });
    else {
      for (const c of checks) io.stdout(`${c.status.padEnd(4)}  ${c.name.padEnd(17)}  ${c.detail}\n`);
    }
    if (unreachable) return EXIT.usage;
    return checks.every((c) => c.status === "ok") ? EXIT.ok : EXIT.findings;
  },
};

/** The provider's clock against ours, from the `Date` header of one request (to the second). */
async function clockSkew(baseUrl: string): Promise<Check> {
  try {
    const before = Date.now();
    const response = await fetch(baseUrl, { method: "GET", signal: AbortSignal.timeout(10_000) });
    const after = Date.now();
    await response.body?.cancel();
    const date = response.headers.get("date");
    const theirs = date === null ? Number.NaN : Date.parse(date);
    if (Number.isNaN(theirs))
      return { name: "clock skew", status: "warn", detail: "the provider sent no Date header" };
    const skewMs = theirs - (before + after) / 2;
    const seconds = Math.round(skewMs / 1000);
    return {
      name: "clock skew",
      status: Math.abs(skewMs) > 30_000 ? "warn" : "ok",
      detail: `${seconds >= 0 ? "+" : ""}${seconds} s (provider − local, ±1 s)`,
    };
  } catch {
    return { name: "clock skew", status: "warn", detail: "could not be measured" };
  }
}
