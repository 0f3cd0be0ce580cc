import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { createPostgresStorage } from "sms-fes/postgres";
import { type FakeSmsActivateServer, startFakeSmsActivateServer } from "sms-fes/testing";
import { afterAll, beforeAll, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../test/postgres/database.js";
import { createService } from "../service.js";
import { runSmokeScenario, SMOKE } from "../smoke/scenario.js";
import { createHonoApp } from "./app.js";

let db: TestDatabase;
let upstream: FakeSmsActivateServer;
let server: ReturnType<typeof serve>;
let origin: string;

beforeAll(async () => {
  db = await createTestDatabase();
  upstream = await startFakeSmsActivateServer({ dialect: "hero-sms" });
  const service = createService({
    storage: createPostgresStorage({ pool: db.pool(4) }),
    providerUrl: upstream.url,
    providerKey: upstream.apiKey,
    clock: upstream.clock,
    ...SMOKE,
  });
  const app = createHonoApp(service);
  await new Promise<void>((resolve) => {
    server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve());
  });
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await upstream?.close();
  await db?.drop();
});

it("Hono on Node over PostgreSQL: wallet, deposit, buy, webhook code, cancel, sweep, statement, dashboard", async () => {
  await runSmokeScenario(origin, upstream);
});
