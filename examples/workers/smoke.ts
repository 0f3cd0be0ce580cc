/**
 * The smoke test of the Workers example, run on Node: the Worker bundled by esbuild and run by Miniflare
 * (workerd), the fake upstream on 127.0.0.1, and the shared scenario. The Worker keeps its own clock (workerd's),
 * so the scenario runs without moving time: the cancel is refused inside the early-cancel window and the sweep
 * finds nothing due yet.
 */
import { build } from "esbuild";
import { Miniflare } from "miniflare";
import { startFakeSmsActivateServer } from "../../src/testing/fake-server.js";
import { ManualClock } from "../../src/testing/manual-clock.js";
import { runSmokeScenario, SMOKE } from "../smoke/scenario.js";

const here = new URL(".", import.meta.url).pathname;
const bundle = await build({
  entryPoints: [`${here}worker.ts`],
  bundle: true,
  format: "esm",
  platform: "neutral",
  target: "es2022",
  write: false,
  mainFields: ["module", "main"],
  conditions: ["workerd", "worker", "import"],
});
const script = bundle.outputFiles[0]?.text ?? "";
// The fake upstream's clock follows the wall clock the Worker reads, so the deadlines both sides see agree.
const upstream = await startFakeSmsActivateServer({
  dialect: "hero-sms",
  clock: new ManualClock(Date.now()),
});
const mf = new Miniflare({
  modules: true,
  script,
  compatibilityDate: "2026-04-01",
  compatibilityFlags: ["nodejs_compat"],
  host: "127.0.0.1",
  port: 0,
  bindings: {
    PROVIDER_URL: upstream.url,
    PROVIDER_KEY: upstream.apiKey,
    WEBHOOK_SECRET: SMOKE.webhookSecret,
    ADMIN_TOKEN: SMOKE.adminToken,
    CUSTOMER_TOKENS: [...SMOKE.customers].map(([t, w]) => `${t}:${w}`).join(","),
  },
});
try {
  const url = await mf.ready;
  await runSmokeScenario(url.origin, upstream, { timeTravel: false });
  console.log(`workers example (memory, ${script.length} bytes of script): 1 passed, 0 failed`);
} finally {
  await mf.dispose();
  await upstream.close();
}
