/**
 * Quoting for the few places where the adapter writes values into SQL text: the schema name, and the first
 * statement of a unit of work, which travels with its `BEGIN` in one simple-protocol message to save a round trip.
 */

/** Quotes an identifier (a schema name) for SQL text. */
export function quoteIdent(name: string): string {
  if (name.length === 0 || name.includes("\u0000"))
    throw new RangeError(`not a valid SQL identifier: ${name}`);
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Quotes a string as a SQL literal. Backslashes switch to the `E'…'` form (doubling them), which reads the same
 * whatever `standard_conforming_strings` says, as `pg`'s own `escapeLiteral` does. PostgreSQL text cannot hold NUL.
 */
export function quoteLiteral(value: string): string {
  if (value.includes("\u0000")) throw new RangeError("a SQL string cannot contain the NUL character");
  const quoted = `'${value.replaceAll("'", "''")}'`;
  return value.includes("\\") ? ` E${quoted.replaceAll("\\", "\\\\")}` : quoted;
}

/** Writes one parameter value as SQL text: strings, safe integers, booleans, null and arrays of strings. */
function literal(value: unknown): string {
  if (value === null || value === undefined) return "NULL";
  if (typeof value === "string") return quoteLiteral(value);
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw new RangeError(`not a safe integer parameter: ${value}`);
    return String(value);
  }
  if (typeof value === "boolean") return value ? "true" : "false";
  if (Array.isArray(value)) {
    return `ARRAY[${value.map((v) => {
      if (typeof v !== "string") throw new TypeError("only arrays of strings can be inlined");
      return quoteLiteral(v);
    })}]::text[]`;
  }
  throw new TypeError(`cannot inline a parameter of type ${typeof value}`);
}

/**
 * Replaces `$1…$n` in `text` with the literals of `values`. Only for the adapter's own statements, whose `$n`
 * never occur inside string literals or identifiers.
 */
export function inlineParameters(text: string, values: readonly unknown[]): string {
  return text.replace(/\$(\d+)/g, (_, n: string) => {
    const index = Number(n) - 1;
    if (index < 0 || index >= values.length) throw new RangeError(`no value for parameter $${n}`);
    return literal(values[index]);
  });
}
