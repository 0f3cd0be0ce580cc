/**
 * Resolution cost: `resolveService` / `resolveCountry` over a mix of spellings (provider codes, canonical ids,
 * aliases, display names, ISO codes, unknown inputs), in ns per call and as a ratio to a bare `Map.get` of the
 * same keys measured in the same run. Also distinct unknown inputs, the worst case: every tier runs and an
 * error is built.
 */
import { defaultCatalog, resolveCountry, resolveService } from "../src/mapping/index.js";

type Input = readonly [string, { readonly provider?: string }];

const serviceInputs: readonly Input[] = [
  ["tg", { provider: "sms-activate" }],
  ["wb", { provider: "hero-sms" }],
  ["tiktok", { provider: "5sim" }],
  ["telegram", {}],
  ["Telegram", {}],
  ["GMAIL", {}],
  ["Google,youtube,Gmail", {}],
  ["no-such-service", {}],
];

const countryInputs: readonly Input[] = [
  ["187", { provider: "sms-activate" }],
  ["16", { provider: "hero-sms" }],
  ["england", { provider: "5sim" }],
  ["gb", {}],
  ["Indonesia", {}],
  ["US", {}],
  ["atlantis", { provider: "5sim" }],
];

const ROUNDS = 7;
const CALLS = 200_000;

/** Median ns per call of `body` over the inputs, after a warm-up. */
function measure(inputs: readonly Input[], body: (input: Input) => unknown): number {
  let sink = 0;
  const run = (): number => {
    const start = process.hrtime.bigint();
    for (let i = 0; i < CALLS; i++) if (body(inputs[i % inputs.length] as Input) !== undefined) sink++;
    return Number(process.hrtime.bigint() - start) / CALLS;
  };
  run();
  const samples = Array.from({ length: ROUNDS }, run).sort((a, b) => a - b);
  if (sink < 0) throw new Error("unreachable: keeps the loop from being optimised away");
  return samples[Math.floor(ROUNDS / 2)] as number;
}

/** Runs the benchmark and reports one line per resolver. */
export default async function run(): Promise<{ title: string; lines: string[] }> {
  const startBuild = process.hrtime.bigint();
  const catalog = defaultCatalog();
  const buildMs = Number(process.hrtime.bigint() - startBuild) / 1e6;

  // The baseline: a Map holding exactly the benchmarked keys, looked up by the same strings.
  const baselineMap = new Map<string, unknown>(
    [...serviceInputs, ...countryInputs].map(([key]) => [key, catalog.services[0]]),
  );
  const baselineNs = measure([...serviceInputs, ...countryInputs], ([key]) => baselineMap.get(key));
  const serviceNs = measure(serviceInputs, ([key, options]) => resolveService(key, options));
  const countryNs = measure(countryInputs, ([key, options]) => resolveCountry(key, options));
  const unknown: Input[] = Array.from({ length: CALLS }, (_, i) => [`Unknown Service ${i}`, {}] as const);
  let next = 0;
  const unknownNs = measure(unknown, () => {
    next = (next + 1) % unknown.length;
    const [key, options] = unknown[next] as Input;
    return resolveService(key, options);
  });

  const line = (name: string, ns: number): string =>
    `${name}: ${ns.toFixed(1)} ns/call (${(ns / baselineNs).toFixed(1)}× a bare Map.get)`;
  return {
    title: "Service and country mapping",
    lines: [
      `baseline Map.get: ${baselineNs.toFixed(1)} ns/call`,
      line(`resolveService (${serviceInputs.length} spellings)`, serviceNs),
      line(`resolveCountry (${countryInputs.length} spellings)`, countryNs),
      line("resolveService, distinct unknown inputs (every tier runs)", unknownNs),
      `default catalog built once, lazily, in ${buildMs.toFixed(1)} ms`,
    ],
  };
}
