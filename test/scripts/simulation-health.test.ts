import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import pg from "pg";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { type SimulationResult, simulate, summarize } from "../../scripts/simulation.js";
import { freshSchemaName, httpProvider, postgresStorage } from "../../scripts/simulation-adapters.js";
import {
  renderHealthPage,
  renderHealthText,
  type SimulationHealth,
  simulationHealth,
} from "../../scripts/simulation-report.js";
import type { FakeSmsActivateServer } from "../../src/testing/fake-server.js";

describe("the simulation's health output", () => {
  const options = { seed: 3, customers: 30, activations: 800, rentals: 20, days: 3 };
  let result: SimulationResult;
  let health: SimulationHealth;
  beforeAll(async () => {
    result = await simulate(options);
    health = await simulationHealth(result);
  });

  it("judges as of the end of the traffic, over every activation", async () => {
    expect(health.asOfMs).toBe(result.startMs + 3 * 86_400_000);
    expect(health.overview.total.total).toBe((await summarize(result)).activations);
    expect(health.overview.byService.groups.map((g) => g.key.service)).toContain("mm");
    expect(health.overview.byCountry.groups.map((g) => g.key.country)).toContain("0");
  });

  it("disables the dead service, everywhere and in its country, with its reason", () => {
    const mm = health.overview.byService.groups.find((g) => g.key.service === "mm");
    expect(mm?.received).toBe(0);
    expect(mm?.decided).toBeGreaterThanOrEqual(10);
    const disabled = health.policies.decisions.filter((d) => d.type === "disable");
    expect(disabled).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: "disable", scope: "service", service: "mm", country: null }),
        expect.objectContaining({ type: "disable", scope: "service_country", service: "mm", country: "0" }),
      ]),
    );
    // Only the dead service is disabled: the others succeed often enough.
    expect(new Set(disabled.map((d) => d.service))).toEqual(new Set(["mm"]));
    for (const d of disabled) expect(d.reason).toMatch(/^service mm.*below the disable floor/);
    const mmTargets = health.policies.targets.find((t) => t.service === "mm");
    expect(mmTargets?.checks.find((c) => c.metric === "success")?.status).toBe("missed");
    expect(health.policies.targets[0]?.service).toBeNull();
  });

  it("finds the money coherent", () => {
    expect(health.coherence.ok).toBe(true);
    expect(health.coherence.coherence.balanceMismatches).toEqual([]);
    expect(health.coherence.coherence.frozenMismatches).toEqual([]);
    expect(health.coherence.activations.stuckPending).toEqual([]);
    // Race pairs are not judged on a sequential run: none is looked for, and `ok` never depended on them.
    expect(health.coherence.raceConditions.thresholdMs).toBe(0);
    expect(renderHealthText(health)).toContain("race pairs: not judged (a sequential run on a manual clock)");
  });

  it("prints the tables, the decisions, the targets and the coherence section", () => {
    const text = renderHealthText(health);
    for (const heading of ["Per service", "Per country", "Policy decisions", "Targets", "Coherence: OK"]) {
      expect(text).toContain(heading);
    }
    expect(text).toMatch(/disable \(2\)\n {4}service mm: /);
    expect(text).toMatch(/\n {2}mm +\d+ +\d+ +0\.0%/);
  });

  it("writes one static HTML page with no external asset", async () => {
    const page = renderHealthPage(health, await summarize(result), "a <run>", "provider memory");
    expect(page.startsWith("<!doctype html>")).toBe(true);
    expect(page).toContain("<title>a &lt;run&gt;</title>");
    expect(page).toContain("<h2>Targets</h2>");
    expect(page).toContain("invariants: OK");
    expect(page).toMatch(/disable: service mm/);
    expect(page).not.toMatch(/<script|<link|\ssrc=|\shref=|url\(/i);
    expect(page.trimEnd().endsWith("</body></html>")).toBe(true);
  });
});

describe("the simulation over HTTP (--provider http)", () => {
  it("runs through the SMS-Activate adapter against the fake server and keeps every invariant", async () => {
    let server: FakeSmsActivateServer | undefined;
    const make = httpProvider({ seed: 5 });
    const result = await simulate({
      seed: 5,
      customers: 5,
      activations: 60,
      rentals: 3,
      days: 1,
      makeProvider: async (clock, behaviour) => {
        const made = await make(clock, behaviour);
        server = made.control as FakeSmsActivateServer;
        return made;
      },
    });
    const summary = await summarize(result);
    expect(summary.invariants).toEqual({ ok: true, violations: [] });
    expect(summary.activations).toBe(60);
    expect(summary.outcomes.received).toBeGreaterThan(0);
    expect(summary.wallets.frozenMinor).toBe(0);
    const actions = new Set(server?.requests.map((r) => r.action));
    for (const action of ["getNumberV2", "getStatus", "setStatus", "getRentNumber"]) {
      expect(actions).toContain(action);
    }
    // The server's upstream sold what the core bought (a lost answer may add one the core reconciled).
    expect(server?.activations().length).toBeGreaterThanOrEqual(
      summary.activations - (summary.outcomes.failed ?? 0),
    );
    expect((await simulationHealth(result)).coherence.ok).toBe(true);
  });
});

describe("the simulation on PostgreSQL (--storage postgres)", () => {
  it("gives the same run as on memory, on a fresh schema it drops afterwards", async () => {
    const options = { seed: 2, customers: 5, activations: 40, rentals: 2, days: 1 };
    const schema = freshSchemaName();
    const run = await postgresStorage(inject("pgUrl"), schema);
    await expect(postgresStorage(inject("pgUrl"), schema)).rejects.toThrow(/already exists/);
    let onPostgres: Awaited<ReturnType<typeof summarize>>;
    try {
      onPostgres = await summarize(await simulate({ ...options, storage: run.storage }));
    } finally {
      await run.close({ keepSchema: false });
    }
    const onMemory = await summarize(await simulate(options));
    expect(onPostgres.invariants.ok).toBe(true);
    expect(onPostgres).toEqual(onMemory);
    const client = new pg.Client({ connectionString: inject("pgUrl") });
    await client.connect();
    try {
      const left = await client.query("SELECT 1 FROM information_schema.schemata WHERE schema_name = $1", [
        schema,
      ]);
      expect(left.rowCount).toBe(0);
    } finally {
      await client.end();
    }
  });
});

describe("npm start (the CLI)", () => {
  it("prints the health data in --json and writes --report html", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sms-fes-sim-"));
    try {
      const file = join(dir, "report.html");
      const args = ["tsx", "scripts/simulate.ts", "--seed", "3", "--customers", "25", "--activations", "400"];
      const { stdout } = await promisify(execFile)(
        "npx",
        [...args, "--rentals", "5", "--days", "3", "--json", "--report", "html", file],
        { cwd: fileURLToPath(new URL("../..", import.meta.url)), maxBuffer: 64 * 1024 * 1024 },
      );
      const out = JSON.parse(stdout);
      expect(out.invariants.ok).toBe(true);
      expect(out.setup).toEqual({ provider: "memory (in-process fake)", storage: "memory" });
      expect(out.health.byService.map((g: { label: string }) => g.label)).toContain("mm");
      expect(out.health.decisions).toContainEqual(
        expect.objectContaining({ type: "disable", scope: "service", service: "mm" }),
      );
      expect(out.health.coherence.ok).toBe(true);
      expect(readFileSync(file, "utf8")).toContain("<h2>Policy decisions</h2>");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
