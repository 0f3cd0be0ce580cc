/**
 * The smoke test of the Deno example, run by Deno itself (`deno run -A smoke.ts`): the fake upstream on
 * 127.0.0.1, the service on PostgreSQL (`DATABASE_URL`, else memory) under `Deno.serve`, and the shared scenario.
 */
import pg from "pg";
import { createPostgresStorage, migrate } from "sms-fes/postgres";
import { startFakeSmsActivateServer } from "../../src/testing/fake-server.js";
import { createService } from "../service.js";
import { runSmokeScenario, SMOKE } from "../smoke/scenario.js";

declare const Deno: {
  env: { get(name: string): string | undefined };
  serve(
    options: { port: number; hostname: string; onListen?: (addr: { port: number }) => void },
    handler: (request: Request) => Promise<Response>,
  ): { addr: { port: number }; shutdown(): Promise<void> };
};

const url = Deno.env.get("DATABASE_URL");
const pool = url === undefined ? undefined : new pg.Pool({ connectionString: url });
if (pool !== undefined) await migrate(pool);
const upstream = await startFakeSmsActivateServer({ dialect: "hero-sms" });
const service = createService({
  ...(pool === undefined ? {} : { storage: createPostgresStorage({ pool }) }),
  providerUrl: upstream.url,
  providerKey: upstream.apiKey,
  clock: upstream.clock,
  ...SMOKE,
});
const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, service.handler);
try {
  await runSmokeScenario(`http://127.0.0.1:${server.addr.port}`, upstream);
  console.log(`deno example (${pool === undefined ? "memory" : "PostgreSQL"}): 1 passed, 0 failed`);
} finally {
  await server.shutdown();
  await upstream.close();
  await pool?.end();
}
