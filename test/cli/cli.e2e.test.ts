import { execFile, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createFes } from "../../src/fes/service.js";
import { createPostgresStorage, MIGRATIONS } from "../../src/postgres/index.js";
import { createSmsActivateProvider } from "../../src/provider/sms-activate/index.js";
import { type FakeSmsActivateServer, startFakeSmsActivateServer } from "../../src/testing/fake-server.js";
import { ManualClock } from "../../src/testing/manual-clock.js";
import { adminQuery, createTestDatabase, type TestDatabase } from "../postgres/database.js";
import { buildCli } from "./build-cli.js";

const KEY = "cli-e2e-key-7d41b9";

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

const APP_ROLE = `fes_cli_app_${process.pid}`;
let dir: string;
let cli: string;
let server: FakeSmsActivateServer;
let empty: TestDatabase;
let db: TestDatabase;

/** Runs the built bin as a user would, with only the environment given (no inherited DATABASE_URL). */
function run(args: readonly string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cli, ...args],
      { env: { PATH: process.env.PATH ?? "", ...env }, cwd: dir, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const envFor = (database: TestDatabase, key = KEY) => ({
  DATABASE_URL: database.url,
  SMS_FES_PROVIDER_URL: server.url,
  SMS_FES_PROVIDER_PRESET: "hero-sms",
  SMS_FES_PROVIDER_KEY: key,
});

beforeAll(async () => {
  // Inside the package (under the ignored .tmp/), so the bundle resolves its dependencies as an installed one does.
  mkdirSync(join(process.cwd(), ".tmp"), { recursive: true });
  dir = mkdtempSync(join(process.cwd(), ".tmp", "cli-e2e-"));
  // FES_CLI runs the suite against an installed bin instead (`node_modules/sms-fes/dist/cli.js` of a packed tarball).
  cli = process.env.FES_CLI ?? (await buildCli(join(dir, "dist")));
  server = await startFakeSmsActivateServer({
    dialect: "hero-sms",
    apiKey: KEY,
    clock: new ManualClock(Date.now()),
  });
  server.setStock("tg", "6", { price: "0.25", count: 10 });
  [empty, db] = await Promise.all([createTestDatabase({ migrated: false }), createTestDatabase()]);
}, 120_000);

afterAll(async () => {
  await server?.close();
  await Promise.all([empty?.drop(), db?.drop()]);
  // A role outlives the databases it was granted in: dropped once they are gone.
  await adminQuery(`DROP ROLE IF EXISTS ${APP_ROLE}`);
  rmSync(dir, { recursive: true, force: true });
});

describe("sms-fes (the built bin)", () => {
  it("prints its commands with --help and exits 2 on bad usage", async () => {
    const help = await run(["--help"]);
    expect(help.code).toBe(0);
    for (const c of ["migrate", "doctor", "worker", "reconcile", "health", "report", "coherence", "sim"]) {
      expect(help.stdout).toContain(`  ${c} `);
    }
    expect((await run(["frobnicate"])).code).toBe(2);
    expect((await run([])).code).toBe(2);
    const bad = await run(["health", "--bogus"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--bogus");
    expect((await run(["health", "--help"])).stdout).toContain("--window");
    expect((await run(["health", "--window", "soon"], { DATABASE_URL: db.url })).code).toBe(2);
    expect((await run(["doctor"], { DATABASE_URL: db.url })).stderr).toContain("SMS_FES_PROVIDER_KEY");
  });

  it("exits 2 when the database cannot be reached, without printing its password", async () => {
    const r = await run(["coherence"], { DATABASE_URL: "postgres://app:s3cret-pass@127.0.0.1:1/none" });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("cannot reach the database");
    expect(r.stdout + r.stderr).not.toContain("s3cret-pass");
  });

  it("migrate --status lists pending migrations (exit 1), migrate applies them, then the status is current", async () => {
    const all = MIGRATIONS.map((m) => m.version);
    const before = await run(["migrate", "--status", "--json"], { DATABASE_URL: empty.url });
    expect(before.code).toBe(1);
    expect(JSON.parse(before.stdout)).toMatchObject({ applied: [], pending: all, current: false });
    const applied = await run(["migrate"], { DATABASE_OWNER_URL: empty.url });
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain(`applied ${all.join(", ")}`);
    const after = await run(["migrate", "--status", "--json"], { DATABASE_URL: empty.url });
    expect(after.code).toBe(0);
    expect(JSON.parse(after.stdout)).toMatchObject({ applied: all, pending: [], current: true });
    expect((await run(["migrate"], { DATABASE_URL: empty.url })).stdout).toContain("is current");
  });

  it("migrate --app-role creates and grants the application role, which then serves the rows and nothing more", async () => {
    const password = "cli-app-s3cret";
    const missing = await run(["migrate", "--app-role", APP_ROLE], { DATABASE_OWNER_URL: db.url });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`the application role ${APP_ROLE} does not exist`);
    const granted = await run(["migrate", "--app-role", APP_ROLE], {
      DATABASE_OWNER_URL: db.url,
      SMS_FES_APP_ROLE_PASSWORD: password,
    });
    expect(granted.code).toBe(0);
    expect(granted.stdout + granted.stderr).not.toContain(password);
    const url = new URL(db.url);
    url.username = APP_ROLE;
    url.password = password;
    const app = new pg.Client({ connectionString: url.toString() });
    app.on("error", () => {});
    await app.connect();
    try {
      const rows = await app.query("SELECT count(*)::int AS n FROM sms_fes.wallets");
      expect(rows.rows[0]).toEqual({ n: expect.any(Number) });
      const refused = await app.query("DELETE FROM sms_fes.transfers").then(
        () => "ok",
        (e: { code?: string }) => e.code,
      );
      expect(refused).toBe("42501");
    } finally {
      await app.end();
    }
  });

  it("doctor passes against a migrated database and a reachable provider; a refused key is a finding", async () => {
    const ok = await run(["doctor", "--json"], envFor(db));
    expect(ok.code).toBe(0);
    const checks = (JSON.parse(ok.stdout) as { checks: { name: string; status: string }[] }).checks;
    expect(checks.map((c) => [c.name, c.status])).toEqual([
      ["database", "ok"],
      ["migrations", "ok"],
      ["provider", "ok"],
      ["key", "ok"],
      ["balance", "ok"],
      ["clock skew", "ok"],
      ["pending purchases", "ok"],
    ]);
    const down = await run(["doctor"], {
      ...envFor(db),
      SMS_FES_PROVIDER_URL: "http://127.0.0.1:1/stubs/handler_api.php",
    });
    expect(down.code).toBe(2);
    expect(down.stdout).toMatch(/fail\s+provider\s+unreachable/);
    const refused = await run(["doctor"], envFor(db, "wrong-key-0000"));
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/fail\s+key/);
    for (const r of [ok, refused]) {
      expect(r.stdout + r.stderr).not.toContain(KEY);
      expect(r.stdout + r.stderr).not.toContain("wrong-key-0000");
    }
  });

  describe("over a database with traffic", () => {
    beforeAll(async () => {
      const pool = new pg.Pool({ connectionString: db.url, max: 2 });
      try {
        const provider = createSmsActivateProvider({ apiKey: KEY, preset: "hero-sms", baseUrl: server.url });
        const fes = createFes({ storage: createPostgresStorage({ pool }), provider });
        expect((await fes.createWallet({ walletId: "w1", currency: "USD" })).isOk()).toBe(true);
        expect(
          (
            await fes.deposit({ walletId: "w1", amountMinor: 1_000, currency: "USD", idempotencyKey: "d1" })
          ).isOk(),
        ).toBe(true);
        const bought = await fes.buyActivation({
          walletId: "w1",
          service: "tg",
          country: "6",
          idempotencyKey: "b1",
        });
        expect(bought.isOk()).toBe(true);
        // A number bought upstream that no record knows (another system on the same key, or a lost record).
        expect(
          (await provider.buyActivation({ service: "tg", country: "6", orderId: "elsewhere" })).isOk(),
        ).toBe(true);
      } finally {
        await pool.end();
      }
    });

    it("reconcile lists the number no record knows (exit 1) and --apply sweeps", async () => {
      const r = await run(["reconcile", "--json"], envFor(db));
      expect(r.code).toBe(1);
      const findings = JSON.parse(r.stdout) as { unknownUpstream: unknown[]; missingUpstream: unknown[] };
      expect(findings.unknownUpstream).toHaveLength(1);
      expect(findings.missingUpstream).toEqual([]);
      const applied = await run(["reconcile", "--apply", "--json"], envFor(db));
      expect(JSON.parse(applied.stdout).applied).toMatchObject({ errors: 0 });
    });

    it("worker --once runs one sweep and prints its report", async () => {
      const r = await run(["worker", "--once", "--json"], envFor(db));
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ errors: 0, timedOut: 0 });
    });

    it("worker runs until SIGTERM, then stops after the sweep in hand and exits 0", async () => {
      const child = spawn(process.execPath, [cli, "worker", "--interval", "1h"], {
        env: { PATH: process.env.PATH ?? "", ...envFor(db) },
        cwd: dir,
      });
      let stdout = "";
      let stderr = "";
      child.stderr.on("data", (c: Buffer) => {
        stderr += c.toString();
      });
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
      await new Promise<void>((resolve) => {
        child.stdout.on("data", (c: Buffer) => {
          stdout += c.toString();
          if (stdout.includes('"event":"sweep"')) resolve();
        });
      });
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      expect(stderr).toContain('"event":"stopped"');
      expect(stdout + stderr).not.toContain(KEY);
    });

    it("health prints the window's table with money in major units and countries by name", async () => {
      const text = await run(["health", "--window", "7d", "--by", "service,country"], {
        DATABASE_URL: db.url,
      });
      expect(text.code).toBe(0);
      expect(text.stdout).toContain("tg × Indonesia (6)");
      expect(text.stdout).toContain("Policy decisions");
      const json = await run(["health", "--by", "country", "--json"], { DATABASE_URL: db.url });
      const parsed = JSON.parse(json.stdout) as { groups: { key: { country: string }; total: number }[] };
      expect(parsed.groups.map((g) => [g.key.country, g.total])).toEqual([["6", 1]]);
    });

    it("coherence finds the money coherent (exit 0) and report --html writes the page", async () => {
      const c = await run(["coherence", "--json"], { DATABASE_URL: db.url });
      expect(c.code).toBe(0);
      expect(JSON.parse(c.stdout).ok).toBe(true);
      const file = join(dir, "report.html");
      const r = await run(["report", "--html", file], { DATABASE_URL: db.url });
      expect(r.code).toBe(0);
      expect(readFileSync(file, "utf8")).toMatch(/^<!doctype html>/i);
    });
  });

  it("sim runs the market simulation with the npm start flags, and --help works", async () => {
    const help = await run(["sim", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("--activations");
    const r = await run([
      "sim",
      "--days",
      "1",
      "--customers",
      "5",
      "--activations",
      "40",
      "--rentals",
      "2",
      "--json",
    ]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).invariants).toEqual({ ok: true, violations: [] });
  });
});
