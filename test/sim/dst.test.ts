import { describe, expect, it } from "vitest";
import { ciSwitches, runCampaign } from "./campaign.js";
import { runSimulation } from "./simulation.js";

describe("deterministic simulation", () => {
  it("replays a seed exactly: same figures, same coverage, same violations", async () => {
    const options = { seed: 7, ops: 400, switches: ciSwitches };
    const a = await runSimulation(options);
    const b = await runSimulation(options);
    expect(b.commits).toBe(a.commits);
    expect(b.steps).toBe(a.steps);
    expect(b.simulatedMs).toBe(a.simulatedMs);
    expect([...b.coverage.counts]).toEqual([...a.coverage.counts]);
    expect(b.violations).toEqual(a.violations);
  });

  it("a short campaign in the CI configuration finds no violation and reaches quiescence", async () => {
    const lines: string[] = [];
    const result = await runCampaign({
      seed: 1,
      ops: 800,
      seeds: 3,
      switches: ciSwitches,
      log: (l) => lines.push(l),
    });
    expect(result.summaries.every((r) => r.quiescent)).toBe(true);
    expect(result.summaries.flatMap((r) => r.violations)).toEqual([]);
  }, 60_000);
});
