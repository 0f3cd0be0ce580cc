/**
 * `npm run dst -- --seed N --ops M --seeds K [--off kind,kind] [--all-faults]`: runs K seeded worlds from seed N,
 * M commands each, prints the figures and exits non-zero on any violation or on a crash point or fault window that
 * never fired. Without flags: the CI configuration.
 */
import { performance } from "node:perf_hooks";
import { ciSwitches, runCampaign } from "./campaign.js";
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

const started = performance.now();
const result = await runCampaign({ seed, ops, seeds, switches, log: (line) => console.log(line) });
console.log(`wall time ${((performance.now() - started) / 1000).toFixed(1)} s`);
process.exitCode = result.ok ? 0 : 1;
