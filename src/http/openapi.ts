/**
 * The OpenAPI 3.1 document of the HTTP API, generated from the route table and its zod schemas
 * (`z.toJSONSchema`), so the document and the validation are one definition.
 */
import * as z from "zod";
import { problemStatuses } from "./problem.js";
import { routes as allRoutes, type Route } from "./routes.js";
import { idempotencyKeyHeader, idParam, problemView, walletIdParam } from "./schemas.js";

function schemaOf(schema: z.ZodType, io: "input" | "output"): Record<string, unknown> {
  const s = z.toJSONSchema(schema, { io, unrepresentable: "any" }) as Record<string, unknown>;
  delete s.$schema;
  return s;
}

/** The parameters of a route: path, query and the `Idempotency-Key` header. */
function parametersOf(route: Route): unknown[] {
  const out: unknown[] = [];
  for (const m of route.path.matchAll(/\{(\w+)\}/g)) {
    const name = m[1] as string;
    out.push({
      name,
      in: "path",
      required: true,
      schema: schemaOf(name === "walletId" ? walletIdParam : idParam, "input"),
    });
  }
  if (route.query !== undefined) {
    const q = schemaOf(route.query, "input") as { properties?: Record<string, unknown>; required?: string[] };
    for (const [name, schema] of Object.entries(q.properties ?? {})) {
      out.push({ name, in: "query", required: (q.required ?? []).includes(name), schema });
    }
  }
  if (route.idempotencyKey !== undefined) {
    out.push({
      name: "Idempotency-Key",
      in: "header",
      required: route.idempotencyKey === "required",
      description: "Scoped to the wallet: the same key with the same request replays the stored result",
      schema: schemaOf(idempotencyKeyHeader, "input"),
    });
  }
  return out;
}

function responsesOf(route: Route): Record<string, unknown> {
  const responses: Record<string, unknown> = {};
  const ok = route.response;
  responses[String(ok.status)] = {
    description: "Success",
    content: ok.html
      ? { "text/html": { schema: { type: "string" } } }
      : { "application/json": { schema: ok.schema === undefined ? {} : schemaOf(ok.schema, "output") } },
  };
  const problem = { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } };
  const byStatus = new Map<number, string[]>();
  const types = [
    ...route.errors,
    route.access === "admin" ? "forbidden" : "unauthorized",
    "internal_error",
  ] as const;
  for (const t of types) {
    const { status } = problemStatuses[t];
    byStatus.set(status, [...(byStatus.get(status) ?? []), t]);
  }
  if (route.body !== undefined) byStatus.set(413, ["payload_too_large"]).set(415, ["unsupported_media_type"]);
  for (const [status, list] of [...byStatus].sort(([a], [b]) => a - b)) {
    responses[String(status)] = {
      description: `Problem: ${[...new Set(list)].join(", ")}`,
      content: problem,
    };
  }
  return responses;
}

/** The document for these routes (by default all of them) mounted under `prefix`. */
export function buildOpenApiDocument(
  options: { readonly routes?: readonly Route[]; readonly prefix?: string; readonly webhook?: boolean } = {},
): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of options.routes ?? allRoutes) {
    const op: Record<string, unknown> = {
      operationId: route.operationId,
      summary: route.summary,
      tags: [route.access],
      "x-access": route.access,
      parameters: parametersOf(route),
      responses: responsesOf(route),
    };
    if (route.body !== undefined) {
      op.requestBody = {
        required: false,
        content: { "application/json": { schema: schemaOf(route.body, "input") } },
      };
    }
    paths[route.path] = { ...paths[route.path], [route.method.toLowerCase()]: op };
  }
  if (options.webhook === true) {
    paths["/webhook"] = {
      post: {
        operationId: "providerWebhook",
        summary: "The provider's webhook: validated, confirmed by polling the provider, handed over once",
        tags: ["provider"],
        parameters: [{ name: "token", in: "query", required: true, schema: { type: "string" } }],
        responses: {
          "200": { description: "Confirmed or duplicate" },
          "400": { description: "Invalid body" },
          "401": { description: "Wrong or missing token" },
          "503": { description: "The confirming poll failed; the provider delivers again" },
        },
      },
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "sms-fes HTTP API",
      version: "1",
      description:
        "Customer API (the caller's wallet, activations and rentals), admin API and dashboard. Errors are RFC 9457 problem documents.",
    },
    servers: [{ url: options.prefix === undefined || options.prefix === "" ? "/" : options.prefix }],
    paths,
    components: { schemas: { Problem: schemaOf(problemView, "output") } },
  };
}
