/**
 * `npm run bench [name…]`: runs the benchmarks (all, or those named) and prints each one's figures. Every figure
 * is a ratio to a baseline measured in the same run, plus the absolute numbers.
 */
const all = ["fes", "mapping", "health", "sms-activate", "postgres"] as const;
const wanted = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const names = wanted.length === 0 ? all : all.filter((n) => wanted.includes(n));

for (const name of names) {
  const mod = (await import(`./${name}.ts`)) as {
    default: () => Promise<{ title: string; lines: string[] }>;
  };
  const started = performance.now();
  const report = await mod.default();
  process.stdout.write(`\n## ${report.title}  (${((performance.now() - started) / 1000).toFixed(1)} s)\n`);
  for (const line of report.lines) process.stdout.write(`  ${line}\n`);
}

export {};
