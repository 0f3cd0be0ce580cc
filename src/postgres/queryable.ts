/**
 * The few methods the adapter needs from a database client, typed structurally so that `pg` (a `Pool` and its
 * `PoolClient`) fits as is and another driver needs only a thin wrapper. Nothing is imported from `pg` at run time.
 */

/** The rows of one statement, keyed by column name. */
export interface QueryResultLike {
  readonly rows: readonly Record<string, unknown>[];
}

/**
 * Runs one statement. With `values`, the statement has `$1…$n` parameters (extended protocol, unnamed statement).
 * Without `values`, `text` may hold several statements separated by `;` (simple protocol); the driver then
 * resolves to one result per statement (an array, as `pg` does) or to the last one.
 */
export interface Queryable {
  /** Runs `text` (see above). */
  query(text: string, values?: unknown[]): Promise<QueryResultLike | QueryResultLike[]>;
}

/** A connection checked out of a pool for one unit of work. */
export interface PoolClientLike extends Queryable {
  /** Returns the connection to the pool; a truthy argument destroys it instead (its state is unknown). */
  release(destroy?: boolean | Error): void;
  /** Optional: lets the adapter observe a connection that dies while checked out (pg emits `error`). */
  on?(event: "error", listener: (err: Error) => void): unknown;
  /** Optional: removes the listener added with `on`. */
  removeListener?(event: "error", listener: (err: Error) => void): unknown;
}

/** A connection pool: `query` for reads outside a unit of work, `connect` for a unit of work. */
export interface PoolLike extends Queryable {
  /** Checks a connection out for one unit of work. */
  connect(): Promise<PoolClientLike>;
  /** Optional: lets the adapter observe idle connections that die (pg emits `error` on the pool). */
  on?(event: "error", listener: (err: Error) => void): unknown;
}

/** The last result of a query (the only one for a single statement). */
export function lastResult(result: QueryResultLike | QueryResultLike[]): QueryResultLike {
  if (!Array.isArray(result)) return result;
  const last = result[result.length - 1];
  if (last === undefined) return { rows: [] };
  return last;
}

/** Every result of a message, in statement order (`pg` answers a single statement with one result, not a list). */
export function allResults(result: QueryResultLike | QueryResultLike[]): QueryResultLike[] {
  return Array.isArray(result) ? result : [result];
}
