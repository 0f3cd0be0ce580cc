/**
 * Reading a request safely: a body read with a byte limit (the declared length is not trusted), JSON only, and
 * every part checked against its zod schema, each failure an error value for the problem table.
 */

import type * as z from "zod";
import { readStreamBounded } from "../core/bounded-read.js";
import { type InputIssue, issuesFromZod } from "../core/errors.js";

/** A failure while reading a request, answered through the problem table. */
export type RequestError =
  | { readonly type: "invalid_input"; readonly issues: readonly InputIssue[] }
  | { readonly type: "payload_too_large"; readonly limitBytes: number }
  | { readonly type: "unsupported_media_type"; readonly contentType: string };

/** Reads the body as text, stopping as soon as it exceeds `limitBytes`. */
export async function readBodyText(
  request: Request,
  limitBytes: number,
): Promise<{ ok: true; text: string } | { ok: false; error: RequestError }> {
  const tooLarge = { ok: false as const, error: { type: "payload_too_large" as const, limitBytes } };
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (Number.isFinite(declared) && declared > limitBytes) return tooLarge;
  if (request.body === null) return { ok: true, text: "" };
  const all = await readStreamBounded(request.body, limitBytes);
  if (all === null) return tooLarge;
  try {
    return { ok: true, text: new TextDecoder("utf-8", { fatal: true }).decode(all) };
  } catch {
    return { ok: false, error: invalid("", "the body is not UTF-8") };
  }
}

/** True for `application/json` and `application/<x>+json`, with any parameters. */
export function isJsonMediaType(contentType: string | null): boolean {
  if (contentType === null) return false;
  const type = contentType.split(";")[0]?.trim().toLowerCase() ?? "";
  return type === "application/json" || (type.startsWith("application/") && type.endsWith("+json"));
}

/** One `invalid_input` error with a single issue. */
export function invalid(path: string, message: string): RequestError {
  return { type: "invalid_input", issues: [{ path, message }] };
}

/** Parses a JSON body (an empty body is `{}`) and validates it. */
export async function readJsonBody<S extends z.ZodType>(
  request: Request,
  schema: S,
  limitBytes: number,
): Promise<{ ok: true; value: z.output<S> } | { ok: false; error: RequestError }> {
  const read = await readBodyText(request, limitBytes);
  if (!read.ok) return read;
  let data: unknown = {};
  if (read.text.trim() !== "") {
    const contentType = request.headers.get("content-type");
    if (!isJsonMediaType(contentType)) {
      return { ok: false, error: { type: "unsupported_media_type", contentType: contentType ?? "" } };
    }
    try {
      data = JSON.parse(read.text);
    } catch {
      return { ok: false, error: invalid("", "the body is not valid JSON") };
    }
  }
  return check(schema, data, "");
}

/** Validates the query string against a schema of string (or coerced) fields. Repeated keys are refused. */
export function readQuery<S extends z.ZodType>(
  url: URL,
  schema: S,
): { ok: true; value: z.output<S> } | { ok: false; error: RequestError } {
  const data: Record<string, string> = {};
  for (const [k, v] of url.searchParams) {
    if (Object.hasOwn(data, k)) return { ok: false, error: invalid(`query.${k}`, "given more than once") };
    data[k] = v;
  }
  return check(schema, data, "query");
}

/** Validates one value; issue paths are prefixed with `where`. */
export function check<S extends z.ZodType>(
  schema: S,
  data: unknown,
  where: string,
): { ok: true; value: z.output<S> } | { ok: false; error: RequestError } {
  const parsed = schema.safeParse(data);
  if (parsed.success) return { ok: true, value: parsed.data };
  const issues = issuesFromZod(parsed.error.issues).map((i) => ({
    path: where === "" ? i.path : i.path === "" ? where : `${where}.${i.path}`,
    message: i.message,
  }));
  return { ok: false, error: { type: "invalid_input", issues } };
}
