import * as z from "zod";

/**
 * Text a database can store as it was given. PostgreSQL `text` and `jsonb` cannot hold the NUL character, and a
 * lone UTF-16 surrogate has no UTF-8 form: the driver would store U+FFFD in its place, or the server refuses it.
 * Customer input is checked against this at the boundary, and the storage adapters refuse such text the same way.
 */

/** NUL, or a surrogate half without its partner (no `u` flag: the pattern sees UTF-16 code units). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching NUL is the point.
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** NUL or any surrogate half: text without one is storable, and the pattern above need not run (it is slower). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching NUL is the point.
const SUSPECT = /[\u0000\uD800-\uDFFF]/;

/** Why `text` cannot be stored unchanged, or `undefined` when it can. */
export function unstorableTextReason(text: string): string | undefined {
  if (!SUSPECT.test(text)) return undefined;
  const match = UNSTORABLE.exec(text);
  if (match === null) return undefined;
  return match[0] === "\u0000" ? "contains the NUL character" : "contains a lone UTF-16 surrogate";
}

/** Whether `text` can be stored unchanged (no NUL, no lone surrogate). */
export function isStorableText(text: string): boolean {
  return unstorableTextReason(text) === undefined;
}

/** A zod check for string schemas: refuses text a database cannot store unchanged. */
export const storableText = z.check<string>((ctx) => {
  const reason = unstorableTextReason(ctx.value);
  if (reason !== undefined)
    ctx.issues.push({ code: "custom", message: `text ${reason}`, input: ctx.value, continue: false });
});

/** The first string inside `value` (a record, a JSON value) a database cannot store unchanged, with its path. */
export function findUnstorableText(value: unknown, path = ""): string | undefined {
  if (typeof value === "string") {
    const reason = unstorableTextReason(value);
    return reason === undefined ? undefined : `${path || "value"} ${reason}`;
  }
  if (value === null || typeof value !== "object") return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findUnstorableText(value[i], `${path}[${i}]`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  for (const [key, v] of Object.entries(value)) {
    const keyReason = unstorableTextReason(key);
    if (keyReason !== undefined) return `${path}.${JSON.stringify(key)} (a key) ${keyReason}`;
    const found = findUnstorableText(v, path === "" ? key : `${path}.${key}`);
    if (found !== undefined) return found;
  }
  return undefined;
}
