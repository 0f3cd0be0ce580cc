/** The service mounted in Hono: every `/api/*` request goes to the sms-fes handler unchanged. */
import { Hono } from "hono";
import type { createService } from "../service.js";

/** The Hono app around the handler. */
export function createHonoApp(service: ReturnType<typeof createService>) {
  const app = new Hono();
  app.get("/", (c) => c.text("sms-fes on Hono: the API is under /api, the dashboard at /api/admin"));
  app.all("/api/*", (c) => service.handler(c.req.raw));
  return app;
}
