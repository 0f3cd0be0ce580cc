/**
 * The dashboard in a real browser: Debian's Chromium through playwright-core, against the handler over a
 * PostgreSQL test database seeded through the service. The page renders, its figures equal the analytics', it
 * logs no console error, asks no other origin for anything, carries its CSP, and fits a 375 px wide screen.
 * Screenshots go to `FES_SCREENSHOT_DIR` (default a folder under the system temp dir) as CI artefacts.
 */
import { mkdirSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getRequestListener } from "@hono/node-server";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { computeHealthStats, healthWindows } from "../../src/health/index.js";
import { createFesHandler } from "../../src/http/index.js";
import { createPostgresStorage } from "../../src/postgres/index.js";
import { seedActivity, setupService } from "../http/seed.js";
import { createTestDatabase, type TestDatabase } from "../postgres/database.js";

const CHROMIUM = process.env.FES_CHROMIUM ?? "/usr/bin/chromium";
const SHOTS = process.env.FES_SCREENSHOT_DIR ?? join(tmpdir(), "sms-fes-screenshots");
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

let db: TestDatabase;
let server: Server;
let browser: Browser;
let origin: string;
let service: Awaited<ReturnType<typeof setupService>>;

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  db = await createTestDatabase();
  service = await setupService(createPostgresStorage({ pool: db.pool(4) }));
  await seedActivity(service);
  const handler = createFesHandler(service.fes, {
    prefix: "/api",
    authenticate: (r) => r.headers.get("x-wallet"),
    authorizeAdmin: (r) => r.headers.get("x-admin") === "yes",
    storage: service.storage,
    clock: service.clock,
    dashboard: { title: "Shop <admin> & co" },
  });
  server = createServer(getRequestListener(handler));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => server?.close(resolve));
  await db?.drop();
});

async function open(path: string, width: number, shot: string) {
  const context = await browser.newContext({
    viewport: { width, height: 900 },
    extraHTTPHeaders: { "x-admin": "yes" },
  });
  const page = await context.newPage();
  const consoleErrors: string[] = [];
  const foreign: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") consoleErrors.push(m.text());
  });
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  page.on("request", (r) => {
    if (!r.url().startsWith(`${origin}/`)) foreign.push(r.url());
  });
  const response = await page.goto(`${origin}${path}`);
  await page.screenshot({ path: join(SHOTS, `${shot}.png`), fullPage: true });
  return { context, page, response, consoleErrors, foreign };
}

describe("the dashboard in Chromium", () => {
  it("shows the analytics' figures per service and per country, with no console error and no other origin", async () => {
    const { context, page, response, consoleErrors, foreign } = await open(
      "/api/admin?window=7d",
      1280,
      "dashboard-7d",
    );
    expect(response?.status()).toBe(200);
    const csp = response?.headers()["content-security-policy"] ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("style-src 'sha256-");
    expect(await page.title()).toBe("Shop <admin> & co");
    const records = await service.storage.read.listActivations();
    const window = healthWindows.last7d(service.clock.now());
    for (const dim of ["service", "country"] as const) {
      const expected = computeHealthStats(records, { window, groupBy: [dim] });
      const rows = await page.$$eval(`table[data-table="${dim}"] tbody tr`, (trs) =>
        trs.map((tr) => ({
          group: tr.getAttribute("data-group"),
          cells: Object.fromEntries(
            [...tr.querySelectorAll("td[data-k]")].map((td) => [td.getAttribute("data-k"), td.textContent]),
          ),
        })),
      );
      const want = [...expected.groups, expected.total].map((g) => ({
        group: g.label,
        total: String(g.total),
        decided: String(g.decided),
        received: String(g.received),
        cancelled: String(g.cancelled),
        timeout: String(g.timeout),
        expired: String(g.expired),
        failed: String(g.failed),
        open: String(g.open),
      }));
      expect(rows.map((r) => ({ group: r.group, ...pick(r.cells) }))).toEqual(want);
    }
    // The service named `<b>x</b>` is shown as text, not markup.
    expect(await page.locator("table[data-table=service] th", { hasText: "<b>x</b>" }).count()).toBe(1);
    expect(await page.locator("b", { hasText: "x" }).count()).toBe(0);
    expect(await page.locator("svg").count()).toBeGreaterThan(1);
    expect(await page.locator('[data-k="coherence"]').textContent()).toContain("Coherent");
    expect(consoleErrors).toEqual([]);
    expect(foreign).toEqual([]);
    await context.close();
  });

  it("works at 375 px: no sideways scroll of the page, the window links lead to the other windows", async () => {
    const { context, page, consoleErrors, foreign } = await open("/api/admin", 375, "dashboard-24h-375px");
    // Evaluated in the page, where `document` and `window` exist (the test's own types have no DOM).
    const overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth");
    expect(overflow).toBeLessThanOrEqual(0);
    await page.getByRole("link", { name: "30 days" }).click();
    await page.waitForURL(/window=30d/);
    await page.screenshot({ path: join(SHOTS, "dashboard-30d-375px.png"), fullPage: true });
    expect(await page.locator('nav a[aria-current="page"]').textContent()).toBe("30 days");
    const total = await page.locator('[data-card="activations"] b').textContent();
    const records = await service.storage.read.listActivations();
    expect(total).toBe(
      String(computeHealthStats(records, { window: healthWindows.last30d(service.clock.now()) }).total.total),
    );
    expect(consoleErrors).toEqual([]);
    expect(foreign).toEqual([]);
    await context.close();
  });

  it("refuses the page without the admin grant", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const response = await page.goto(`${origin}/api/admin`);
    expect(response?.status()).toBe(403);
    await context.close();
  });
});

function pick(cells: Record<string, string | null>) {
  const keys = ["total", "decided", "received", "cancelled", "timeout", "expired", "failed", "open"] as const;
  return Object.fromEntries(keys.map((k) => [k, cells[k]]));
}
