/**
 * A Supabase Edge Function (a `Deno.serve` function) serving the sms-fes HTTP API. Deploy it as
 * `supabase/functions/sms-fes/index.ts`, with `npm:sms-fes` in its import map instead of the repository's `dist/`.
 * With `DATABASE_URL` set the storage is the project's PostgreSQL (migrated once, e.g. by a deploy step);
 * without it, memory (a demo: an edge isolate does not keep memory between requests).
 */
import pg from "pg";
import { createPostgresStorage } from "sms-fes/postgres";
import { configFromEnv, createService } from "../service.js";

declare const Deno: {
  env: { toObject(): Record<string, string> };
  serve(handler: (request: Request) => Promise<Response>): unknown;
};

const env = Deno.env.toObject();
const storage =
  env.DATABASE_URL === undefined
    ? undefined
    : createPostgresStorage({ pool: new pg.Pool({ connectionString: env.DATABASE_URL }) });
const service = createService({ ...configFromEnv(env), ...(storage === undefined ? {} : { storage }) });

// Edge functions have no background timer: run the worker from a cron (pg_cron calling POST /api/admin/sweep).
Deno.serve((request) => service.handler(request));
