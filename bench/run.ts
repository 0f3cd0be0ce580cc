/**
 * `npm run bench [name…]`: runs the benchmarks (all, or those named) and prints each one's figures. Every figure
 * is a ratio to a baseline measured in the same run, plus the absolute numbers. The script is bundled by tsup
 * first, so the library and the baselines run as the same kind of plain JavaScript a user's build produces.
 */
import fes from "./fes.js";
import health from "./health.js";
import mapping from "./mapping.js";
import postgres from "./postgres.js";
import postgresFes from "./postgres-fes.js";
import postgresHealth from "./postgres-health.js";
import smsActivate from "./sms-activate.js";

const all = {
  fes,
  mapping,
  health,
  "sms-activate": smsActivate,
  postgres,
  "postgres-fes": postgresFes,
  "postgres-health": postgresHealth,
} as const;
const wanted = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const names = (Object.keys(all) as (keyof typeof all)[]).filter(
  (n) => wanted.length === 0 || wanted.includes(n),
);

for (const name of names) {
  const started = performance.now();
  const report = await all[name]();
  process.stdout.write(`\n## ${report.title}  (${((performance.now() - started) / 1000).toFixed(1)} s)\n`);
  for (const line of report.lines) process.stdout.write(`  ${line}\n`);
}
