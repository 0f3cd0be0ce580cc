/**
 * `npm start`: a seeded month of a platform on the embedded default (memory storage, fake provider), with a
 * progress bar, a summary, the health tables, the policy decisions, the targets and the invariant check. Exits
 * non-zero if an invariant fails. With `--gate`, the policies are re-evaluated once a simulated day and the service
 * stops selling what they disable. With `--market production`, the production profile runs four ways side by side
 * (as is; health gate; gate + routing + retry; all + learned wait) — see `docs/wait-times.md`.
 *
 *   npm start -- --seed 7 --customers 300 --activations 3000 --rentals 150 --days 30 [--json] [--gate]
 *                [--report html <file>] [--provider memory|http [--dialect hero-sms|sms-activate|clone]]
 *                [--storage memory|postgres --database-url <url> [--schema <name>] [--keep-schema]]
 */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import type { FakeServerDialect } from "../src/testing/fake-server.js";
import { simulate, summarize } from "./simulation.js";
import { freshSchemaName, httpProvider, type PostgresRun, postgresStorage } from "./simulation-adapters.js";
import {
  healthJson,
  renderHealthPage,
  renderHealthText,
  renderInvariants,
  renderSummary,
  simulationHealth,
} from "./simulation-report.js";

const usage = (message: string): never => {
  process.stderr.write(`${message}\n`);
  process.exit(2);
};

const HELP = `usage: sms-fes sim [options]   (or: npm start -- [options])

A seeded month of a platform on the embedded default (memory storage, fake provider): a summary, the health
tables, the policy decisions, the targets and the invariant check. Exits 1 if an invariant fails, 2 on bad usage.

  --seed N            PRNG seed (default 1)
  --customers N       customers (default 300; smaller with --provider http or --storage postgres)
  --activations N     activations (default 3000)
  --rentals N         rentals (default 150)
  --days N            simulated days (default 30)
  --gate              re-evaluate the health policies daily and stop selling what they disable
  --json              print the run as JSON
  --report html FILE  write the static HTML report
  --provider memory|http [--dialect hero-sms|sms-activate|clone]
  --storage memory|postgres --database-url URL (or DATABASE_URL) [--schema NAME] [--keep-schema]
  -h, --help          this help
`;

const parsed = (() => {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        seed: { type: "string", default: "1" },
        customers: { type: "string" },
        activations: { type: "string" },
        rentals: { type: "string" },
        days: { type: "string" },
        json: { type: "boolean", default: false },
        gate: { type: "boolean", default: false },
        report: { type: "string" },
        provider: { type: "string", default: "memory" },
        dialect: { type: "string", default: "hero-sms" },
        storage: { type: "string", default: "memory" },
        "database-url": { type: "string" },
        schema: { type: "string" },
        "keep-schema": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
        market: { type: "string", default: "default" },
      },
    });
  } catch (e) {
    return usage(e instanceof Error ? e.message : String(e));
  }
})();
const { values, positionals } = parsed;
if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}

if (values.market === "production") {
  const { productionMarketReport } = await import("./market-production.js");
  const n = Number(values.seed);
  const purchases = values.activations === undefined ? 3000 : Number(values.activations);
  if (!Number.isSafeInteger(n) || n < 0) usage(`--seed must be a non-negative integer, got ${values.seed}`);
  if (!Number.isSafeInteger(purchases) || purchases <= 0) usage(`--activations must be a positive integer`);
  const report = await productionMarketReport({
    seed: n,
    purchases,
    json: values.json,
    ...(process.stderr.isTTY && !values.json
      ? {
          onProgress: (v: string, done: number) =>
            process.stderr.write(`\r  ${v.padEnd(24)} ${(done * 100).toFixed(0).padStart(3)}%`),
        }
      : {}),
  });
  if (process.stderr.isTTY && !values.json) process.stderr.write("\r\x1b[K");
  process.stdout.write(`${report.text}\n`);
  process.exit(report.ok ? 0 : 1);
} else if (values.market !== "default") {
  usage(`--market must be default or production, got ${values.market}`);
}

if (values.provider !== "memory" && values.provider !== "http") {
  usage(`--provider must be memory or http, got ${values.provider}`);
}
if (values.storage !== "memory" && values.storage !== "postgres") {
  usage(`--storage must be memory or postgres, got ${values.storage}`);
}
const dialects: readonly FakeServerDialect[] = ["hero-sms", "sms-activate", "clone"];
const dialect =
  dialects.find((d) => d === values.dialect) ?? usage(`--dialect must be ${dialects.join(", ")}`);
let reportFile: string | undefined;
if (values.report !== undefined) {
  if (values.report !== "html") usage(`--report must be html, got ${values.report}`);
  if (positionals.length !== 1) usage("--report html needs one file name: --report html <file>");
  reportFile = positionals[0];
} else if (positionals.length > 0) {
  usage(`unexpected argument ${positionals[0]}`);
}
const databaseUrl = values["database-url"] ?? process.env.DATABASE_URL;
if (values.storage === "postgres" && databaseUrl === undefined) {
  usage("--storage postgres needs --database-url <url> (or DATABASE_URL)");
}

/**
 * Over HTTP and on Postgres every step is a round trip (a poll every 30 simulated seconds is a request, and a
 * few statements), so these modes default to a smaller run. Given flags always win.
 */
const defaults =
  values.storage === "postgres"
    ? { customers: "50", activations: "600", rentals: "15", days: "3" }
    : values.provider === "http"
      ? { customers: "100", activations: "600", rentals: "30", days: "7" }
      : { customers: "300", activations: "3000", rentals: "150", days: "30" };
const reducedFor = [
  ...(values.provider === "http" ? ["--provider http"] : []),
  ...(values.storage === "postgres" ? ["--storage postgres"] : []),
];
const reducedDefaults = (["customers", "activations", "rentals", "days"] as const).filter(
  (k) => values[k] === undefined,
);

const positive = (name: string, text: string | undefined): number => {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0 || (name !== "rentals" && name !== "seed" && n === 0)) {
    usage(`--${name} must be a positive integer, got ${text}`);
  }
  return n;
};

const options = {
  seed: positive("seed", values.seed),
  customers: positive("customers", values.customers ?? defaults.customers),
  activations: positive("activations", values.activations ?? defaults.activations),
  rentals: positive("rentals", values.rentals ?? defaults.rentals),
  days: positive("days", values.days ?? defaults.days),
  // Only when asked, so that the default output (and its JSON) stays as it was.
  ...(values.gate ? { gate: true } : {}),
};
const setup = {
  provider:
    values.provider === "http" ? `http (fake ${dialect} server on loopback)` : "memory (in-process fake)",
  storage: values.storage === "postgres" ? "postgres" : "memory",
  ...(values.gate ? { gate: "health policies re-evaluated daily" } : {}),
};

const tty = process.stderr.isTTY && !values.json;
const bar = (done: number) => {
  const width = 30;
  const filled = Math.round(done * width);
  process.stderr.write(
    `\r  simulating [${"#".repeat(filled)}${" ".repeat(width - filled)}] ${(done * 100).toFixed(0).padStart(3)}%`,
  );
};

let pg: PostgresRun | undefined;
if (values.storage === "postgres" && databaseUrl !== undefined) {
  try {
    pg = await postgresStorage(databaseUrl, values.schema ?? freshSchemaName());
  } catch (e) {
    process.stderr.write(`postgres: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(2);
  }
  setup.storage = `postgres (schema ${pg.schema}${values["keep-schema"] ? ", kept" : ", dropped at the end"})`;
}

const started = performance.now();
let ok = false;
try {
  const result = await simulate({
    ...options,
    ...(tty ? { onProgress: bar } : {}),
    ...(values.provider === "http" ? { makeProvider: httpProvider({ seed: options.seed, dialect }) } : {}),
    ...(pg ? { storage: pg.storage } : {}),
  });
  if (tty) process.stderr.write("\n");
  const summary = await summarize(result);
  const health = await simulationHealth(result);
  const elapsedMs = Math.round(performance.now() - started);
  ok = summary.invariants.ok;

  const title = `sms-fes simulation: seed ${options.seed}, ${options.customers} customers, ${options.activations} activations, ${options.rentals} rentals over ${options.days} days`;
  const setupLine = `provider ${setup.provider}, storage ${setup.storage}${setup.gate ? `, gate: ${setup.gate}` : ""}`;
  if (reportFile !== undefined)
    writeFileSync(reportFile, renderHealthPage(health, summary, title, setupLine));

  if (values.json) {
    process.stdout.write(
      `${JSON.stringify({ options, setup, elapsedMs, ...summary, health: healthJson(health) }, null, 2)}\n`,
    );
  } else {
    const sections = [
      `${title} (${elapsedMs} ms)`,
      setupLine,
      ...(reducedFor.length > 0 && reducedDefaults.length > 0
        ? [
            `smaller defaults for ${reducedFor.join(" and ")}: ${reducedDefaults.map((k) => `--${k} ${options[k]}`).join(" ")}`,
          ]
        : []),
      "",
      renderSummary(summary),
      "",
      renderHealthText(health),
      ...(reportFile === undefined ? [] : ["", `HTML report written to ${reportFile}`]),
      "",
      renderInvariants(summary),
    ];
    process.stdout.write(`${sections.join("\n")}\n`);
  }
} finally {
  await pg?.close({ keepSchema: values["keep-schema"] });
}
process.exit(ok ? 0 : 1);
