/**
 * The service mounted in Express 5 through a small adapter: the Node request becomes a Web `Request` (its body
 * streamed, not parsed by Express), the Web `Response` is written back. No body-parsing middleware runs on
 * `/api`, so the handler's own size limit and validation apply.
 */
import { Readable } from "node:stream";
import express, { type Request as ExpressRequest, type Response as ExpressResponse } from "express";
import type { createService } from "../service.js";

/** A Web `Request` for an Express request. */
function toWebRequest(req: ExpressRequest): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else if (value !== undefined) headers.set(name, value);
  }
  const url = `${req.protocol}://${req.get("host") ?? "localhost"}${req.originalUrl}`;
  const hasBody = req.method !== "GET" && req.method !== "HEAD";
  return new Request(url, {
    method: req.method,
    headers,
    ...(hasBody ? { body: Readable.toWeb(req) as ReadableStream, duplex: "half" } : {}),
  } as RequestInit);
}

/** Writes a Web `Response` to an Express response. */
async function send(response: Response, res: ExpressResponse): Promise<void> {
  res.status(response.status);
  for (const [name, value] of response.headers) res.setHeader(name, value);
  res.end(Buffer.from(await response.arrayBuffer()));
}

/** The Express app around the handler. */
export function createExpressApp(service: ReturnType<typeof createService>) {
  const app = express();
  app.disable("x-powered-by");
  app.get("/", (_req, res) => {
    res.type("text").send("sms-fes on Express: the API is under /api, the dashboard at /api/admin");
  });
  app.all("/api/{*rest}", async (req, res, next) => {
    try {
      await send(await service.handler(toWebRequest(req)), res);
    } catch (error) {
      next(error);
    }
  });
  return app;
}
