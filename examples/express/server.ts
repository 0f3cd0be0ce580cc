/** Express 5 on Node with PostgreSQL: `npm run build`, then `DATABASE_URL=… PROVIDER_URL=… npx tsx examples/express/server.ts`. */
import pg from "pg";
import { createPostgresStorage, migrate } from "sms-fes/postgres";
import { configFromEnv, createService } from "../service.js";
import { createExpressApp } from "./app.js";

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
await migrate(pool);
const service = createService({ ...configFromEnv(process.env), storage: createPostgresStorage({ pool }) });
const port = Number(process.env.PORT ?? 3000);
createExpressApp(service).listen(port, () => console.log(`listening on http://localhost:${port}`));
// The worker: several processes may run it at once (the sweep is idempotent).
setInterval(() => void service.work(), 5_000).unref();
