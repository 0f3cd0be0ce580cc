/**
 * Quoting for the places where the adapter writes values into SQL text: the schema name, and the statements of a
 * unit of work (the load, which travels with `BEGIN`, and the commit plan, which travels with `COMMIT`), sent as
 * simple-protocol messages of several statements, which take no parameters.
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
  // Most values (ids, states, keys) hold none of the three characters that need care.
  if (!NEEDS_CARE.test(value)) return `'${value}'`;
  if (value.includes("\u0000")) throw new RangeError("a SQL string cannot contain the NUL character");
  const quoted = `'${value.replaceAll("'", "''")}'`;
  return value.includes("\\") ? ` E${quoted.replaceAll("\\", "\\\\")}` : quoted;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is one of the characters looked for.
const NEEDS_CARE = /['\\\u0000]/;
