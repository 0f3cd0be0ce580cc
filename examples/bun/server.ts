/**
 * Bun serving the sms-fes HTTP API: `Bun.serve` takes the handler as it is. `npm run build`, then
 * `DATABASE_URL=… PROVIDER_URL=… bun examples/bun/server.ts`.
 */
import pg from "pg";
import { createPostgresStorage, migrate } from "sms-fes/postgres";
import { configFromEnv, createService } from "../service.js";

declare const Bun: {
  env: Record<string, string | undefined>;
  serve(options: { port: number; fetch: (request: Request) => Promise<Response> }): { port: number };
};

const pool = new pg.Pool({ connectionString: Bun.env.DATABASE_URL });
await migrate(pool);
const service = createService({ ...configFromEnv(Bun.env), storage: createPostgresStorage({ pool }) });
const server = Bun.serve({ port: Number(Bun.env.PORT ?? 3000), fetch: service.handler });
console.log(`listening on http://localhost:${server.port}`);
// The worker: several processes may run it at once (the sweep is idempotent).
setInterval(() => void service.work(), 5_000);
