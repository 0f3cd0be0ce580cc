import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { type SimulationResult, simulate, summarize } from "../../scripts/simulation.js";
import { renderSummary, type SimulationSummary } from "../../scripts/simulation-report.js";

// Six days with enough traffic that the dead service `mm` (0 successes) crosses the disable rule's evidence
// (the Wilson upper bound of 0/n falls below 15 % from n = 22 ended activations) before the traffic ends.
const options = { seed: 3, customers: 30, activations: 900, rentals: 10, days: 6 };

interface Run {
  readonly result: SimulationResult;
  readonly summary: SimulationSummary;
  readonly mmBought: number;
  /** Purchase keys (`buy-<n>`) that left no idempotency record and no audit row. */
  readonly untraced: readonly string[];
}

async function run(gate: boolean): Promise<Run> {
  const result = await simulate({ ...options, gate });
  const summary = await summarize(result);
  const read = result.storage.read;
  const activations = await read.listActivations();
  const audited = new Set((await read.listAudit()).map((a) => a.idempotencyKey));
  const untraced: string[] = [];
  for (let n = 0; n < options.activations; n++) {
    const key = `buy-${n}`;
    if ((await read.getIdempotency(key)) === undefined && !audited.has(key)) untraced.push(key);
  }
  return {
    result,
    summary,
    mmBought: activations.filter((a) => a.serviceCode === "mm").length,
    untraced,
  };
}

describe("the simulation with --gate (the policies close the loop)", () => {
  let open: Run;
  let gated: Run;
  beforeAll(async () => {
    open = await run(false);
    gated = await run(true);
  });

  it("without the gate sells the dead service all along and refuses nothing", () => {
    expect(open.summary.counters["buy:service_disabled"]).toBeUndefined();
    expect(open.summary.counters.gateEvaluations).toBeUndefined();
    expect(open.summary.activations).toBe(options.activations);
    expect(open.untraced).toEqual([]);
    expect(renderSummary(open.summary)).not.toContain("refused by the gate");
  });

  it("stops selling mm once the daily evaluation disables it", () => {
    expect(gated.summary.counters.gateEvaluations).toBe(options.days - 1);
    const refused = gated.summary.counters["buy:service_disabled"] ?? 0;
    expect(refused).toBeGreaterThan(0);
    expect(gated.mmBought).toBeLessThan(open.mmBought);
    // Enough evidence was gathered first: the gate decided from at least the rule's minimum sample.
    expect(gated.mmBought).toBeGreaterThanOrEqual(22);
    expect(renderSummary(gated.summary)).toContain(
      `  refused by the gate (buy:service_disabled): ${refused}, policies evaluated ${options.days - 1} time(s)`,
    );
  });

  it("records nothing for a refused purchase, and every invariant holds", async () => {
    const refused = gated.summary.counters["buy:service_disabled"] ?? 0;
    // Every other purchase left an activation (bought, failed or pending) and its idempotency record.
    expect(gated.summary.activations).toBe(options.activations - refused);
    expect(gated.untraced).toHaveLength(refused);
    const activationHolds = (await gated.result.storage.read.listHolds()).filter(
      (h) => h.ownerType === "activation",
    );
    expect(activationHolds).toHaveLength(gated.summary.activations);
    expect(gated.summary.invariants).toEqual({ ok: true, violations: [] });
    expect(gated.summary.wallets.frozenMinor).toBe(0);
  });

  it("takes --gate on the command line and counts the refusals in --json", async () => {
    const args = ["tsx", "scripts/simulate.ts", "--seed", "3", "--customers", "30", "--activations", "900"];
    const { stdout } = await promisify(execFile)(
      "npx",
      [...args, "--rentals", "10", "--days", "6", "--json", "--gate"],
      { cwd: fileURLToPath(new URL("../..", import.meta.url)), maxBuffer: 64 * 1024 * 1024 },
    );
    const out = JSON.parse(stdout);
    expect(out.options.gate).toBe(true);
    expect(out.setup.gate).toBe("health policies re-evaluated daily");
    expect(out.counters["buy:service_disabled"]).toBe(gated.summary.counters["buy:service_disabled"]);
    expect(out.invariants.ok).toBe(true);
  });
});
