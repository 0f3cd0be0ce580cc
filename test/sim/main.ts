/**
 * `npm run dst -- --seed N --ops M --seeds K [--off kind,kind] [--all-faults]`: runs K seeded worlds from seed N,
 * M commands each, prints the figures and exits non-zero on any violation or on a crash point or fault window that
 * never fired. Without flags: the CI configuration.
 */

import { fork } from "node:child_process";
import { availableParallelism } from "node:os";
import { performance } from "node:perf_hooks";
import { ciSwitches, runCampaign, runSeeds, type SeedSummary } from "./campaign.js";
import { allFaultsOn, type FaultKind, faultKinds } from "./faults.js";

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i < 0 ? undefined : args[i + 1];
};
const seed = Number(flag("seed") ?? 1);
const ops = Number(flag("ops") ?? 50_000);
const seeds = Number(flag("seeds") ?? 20);
const switches = { ...(args.includes("--all-faults") ? allFaultsOn : ciSwitches) };
for (const k of (flag("off") ?? "").split(",").filter((x) => x !== "")) {
  if (!(faultKinds as readonly string[]).includes(k)) throw new Error(`unknown fault kind ${k}`);
  switches[k as FaultKind] = false;
}
for (const k of (flag("on") ?? "").split(",").filter((x) => x !== "")) switches[k as FaultKind] = true;

const jobs = Number(flag("jobs") ?? Math.min(2, availableParallelism()));

// A child runs the seeds it is given and hands back their figures.
if (process.send !== undefined && flag("child-seeds") !== undefined) {
  const mine = (flag("child-seeds") ?? "").split(",").map(Number);
  process.send(await runSeeds(mine, ops, switches));
  process.exit(0);
}

/** Splits the seeds round-robin over `jobs` child processes (each seed still runs alone in its world). */
const parallel = async (all: number[]): Promise<SeedSummary[]> => {
  if (jobs <= 1) return runSeeds(all, ops, switches);
  const groups = Array.from({ length: jobs }, (_, j) => all.filter((_, i) => i % jobs === j)).filter(
    (g) => g.length > 0,
  );
  const parts = await Promise.all(
    groups.map(
      (g) =>
        new Promise<SeedSummary[]>((resolve, reject) => {
          const child = fork(process.argv[1] as string, [...args, "--child-seeds", g.join(",")], {
            execArgv: process.execArgv,
          });
          child.on("message", (m) => resolve(m as SeedSummary[]));
          child.on("exit", (code) =>
            code === 0 ? undefined : reject(new Error(`seed group ${g} exited ${code}`)),
          );
        }),
    ),
  );
  return parts.flat();
};

const started = performance.now();
const result = await runCampaign({
  seed,
  ops,
  seeds,
  switches,
  runner: parallel,
  log: (line) => console.log(line),
});
console.log(`wall time ${((performance.now() - started) / 1000).toFixed(1)} s`);
process.exitCode = result.ok ? 0 : 1;
