/**
 * The smoke test of the Bun example, run by Bun itself (`bun smoke.ts`): the fake upstream on 127.0.0.1, the
 * service on PostgreSQL (`DATABASE_URL`, else memory) under `Bun.serve`, and the shared scenario.
 */
import pg from "pg";
import { createPostgresStorage, migrate } from "sms-fes/postgres";
import { startFakeSmsActivateServer } from "../../src/testing/fake-server.js";
import { createService } from "../service.js";
import { runSmokeScenario, SMOKE } from "../smoke/scenario.js";

declare const Bun: {
  env: Record<string, string | undefined>;
  serve(options: { port: number; hostname: string; fetch: (request: Request) => Promise<Response> }): {
    port: number;
    stop(force?: boolean): Promise<void>;
  };
};

const url = Bun.env.DATABASE_URL;
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
const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: service.handler });
try {
  await runSmokeScenario(`http://127.0.0.1:${server.port}`, upstream);
  console.log(`bun example (${pool === undefined ? "memory" : "PostgreSQL"}): 1 passed, 0 failed`);
} finally {
  await server.stop(true);
  await upstream.close();
  await pool?.end();
}
