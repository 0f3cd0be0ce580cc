/**
 * Runs the smoke tests of the examples on other runtimes, each with its own database on one throwaway
 * PostgreSQL: Deno and Bun (installed from npm into their example folders by `npm ci` there), and the Worker
 * under Miniflare on memory storage. Called by
 * `npm run test:examples` after the Node examples; `npm run build` must have run (they import `dist/`).
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import pg from "pg";
import { startThrowawayServer } from "../test/postgres/throwaway-server.js";

const root = new URL("..", import.meta.url).pathname;
const runtimes = [
  {
    name: "deno",
    bin: "examples/deno/node_modules/.bin/deno",
    args: ["run", "-A", "--config", "examples/deno/deno.json", "examples/deno/smoke.ts"],
  },
  { name: "bun", bin: "examples/bun/node_modules/.bin/bun", args: ["examples/bun/smoke.ts"] },
  // Miniflare (workerd) is driven from Node; the Worker keeps memory storage (no TCP to PostgreSQL there).
  {
    name: "workers",
    bin: "node_modules/.bin/tsx",
    args: ["examples/workers/smoke.ts"],
    needs: "examples/workers/node_modules/miniflare",
  },
];

const server = await startThrowawayServer();
let failed = 0;
try {
  for (const r of runtimes) {
    if (!existsSync(`${root}${r.bin}`) || ("needs" in r && !existsSync(`${root}${r.needs}`))) {
      console.error(`${r.name}: not installed (npm ci --prefix examples/${r.name})`);
      failed += 1;
      continue;
    }
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    await admin.query(`CREATE DATABASE smoke_${r.name}`);
    await admin.end();
    const run = spawnSync(`${root}${r.bin}`, r.args, {
      cwd: root,
      stdio: "inherit",
      env: { ...process.env, DATABASE_URL: server.urlFor(`smoke_${r.name}`), NO_COLOR: "1" },
      timeout: 120_000,
    });
    if (run.status !== 0) {
      console.error(`${r.name}: the smoke test failed (exit ${run.status ?? run.signal})`);
      failed += 1;
    }
  }
} finally {
  server.stop();
}
console.log(`runtimes: ${runtimes.length - failed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
