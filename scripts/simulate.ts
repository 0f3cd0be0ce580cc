/**
 * `npm start`: a seeded month of a platform on the embedded default (memory storage, fake provider), with a
 * progress bar, a summary, the health tables and the invariant check. Exits non-zero if an invariant fails.
 *
 *   npm start -- --seed 7 --customers 300 --activations 3000 --days 30 [--json]
 */
import { parseArgs } from "node:util";
import { simulate, summarize } from "./simulation.js";

const { values } = parseArgs({
  options: {
    seed: { type: "string", default: "1" },
    customers: { type: "string", default: "300" },
    activations: { type: "string", default: "3000" },
    rentals: { type: "string", default: "150" },
    days: { type: "string", default: "30" },
    json: { type: "boolean", default: false },
  },
});

const positive = (name: string, text: string | undefined): number => {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0 || (name !== "rentals" && n === 0)) {
    process.stderr.write(`--${name} must be a positive integer, got ${text}\n`);
    process.exit(2);
  }
  return n;
};

const options = {
  seed: positive("seed", values.seed),
  customers: positive("customers", values.customers),
  activations: positive("activations", values.activations),
  rentals: positive("rentals", values.rentals),
  days: positive("days", values.days),
};

const tty = process.stderr.isTTY && !values.json;
const bar = (done: number) => {
  const width = 30;
  const filled = Math.round(done * width);
  process.stderr.write(
    `\r  simulating [${"#".repeat(filled)}${" ".repeat(width - filled)}] ${(done * 100).toFixed(0).padStart(3)}%`,
  );
};

const started = performance.now();
const result = await simulate({ ...options, ...(tty ? { onProgress: bar } : {}) });
if (tty) process.stderr.write("\n");
const summary = await summarize(result);
const elapsedMs = Math.round(performance.now() - started);

if (values.json) {
  process.stdout.write(`${JSON.stringify({ options, elapsedMs, ...summary }, null, 2)}\n`);
} else {
  const money = (minor: number) => (minor / 100).toFixed(2);
  const share = (n: number, d: number) => (d === 0 ? "-" : `${((100 * n) / d).toFixed(1)}%`);
  const lines = [
    `sms-fes simulation: seed ${options.seed}, ${options.customers} customers, ${options.activations} activations, ${options.rentals} rentals over ${options.days} days (${elapsedMs} ms)`,
    "",
    "Activations by outcome",
    ...Object.entries(summary.outcomes)
      .sort(([, a], [, b]) => b - a)
      .map(
        ([state, n]) =>
          `  ${state.padEnd(10)} ${String(n).padStart(6)}  ${share(n, summary.activations).padStart(6)}`,
      ),
    "Rentals by outcome",
    ...Object.entries(summary.rentalOutcomes)
      .sort(([, a], [, b]) => b - a)
      .map(
        ([state, n]) =>
          `  ${state.padEnd(10)} ${String(n).padStart(6)}  ${share(n, summary.rentals).padStart(6)}`,
      ),
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
    "",
    summary.invariants.ok
      ? "invariants: OK"
      : `invariants: FAILED\n${summary.invariants.violations.map((v) => `  [${v.invariant}] ${v.subject}: ${v.message}`).join("\n")}`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}
process.exit(summary.invariants.ok ? 0 : 1);
