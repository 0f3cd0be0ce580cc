/**
 * A Cloudflare Worker serving the sms-fes HTTP API: the handler is the Worker's `fetch`. The configuration comes
 * from the Worker's bindings. Storage is memory here, which an isolate keeps only while it lives: a production
 * Worker reaches PostgreSQL through Hyperdrive with a driver that runs on Workers, and runs the sweep from a
 * Cron Trigger (`scheduled`).
 */
import { configFromEnv, createService } from "../service.js";

type Env = Record<string, string | undefined>;

let service: ReturnType<typeof createService> | undefined;

/** The service of this isolate, built on the first request from the bindings. */
function serviceFor(env: Env): ReturnType<typeof createService> {
  service ??= createService(configFromEnv(env));
  return service;
}

export default {
  fetch(request: Request, env: Env): Promise<Response> {
    return serviceFor(env).handler(request);
  },
  async scheduled(_event: unknown, env: Env): Promise<void> {
    await serviceFor(env).work();
  },
};
