import type {
  ActivationRecord,
  HoldRecord,
  IdempotencyRecord,
  RentalRecord,
  WalletRecord,
} from "../core/records.js";
import { type CommitPlan, StorageConflictError, type VersionedWrite } from "../storage/port.js";
import {
  activationColumns,
  auditColumns,
  type Columns,
  type ColumnType,
  holdColumns,
  idempotencyColumns,
  rentalColumns,
  transferColumns,
  walletColumns,
} from "./columns.js";
import { STALE_CACHE } from "./read-check.js";
import { quoteLiteral } from "./sql.js";

/** The summed deltas of one wallet: `b` balance, `f` frozen, `n` how many deltas (versions to add). */
const deltaColumns = [
  { field: "id", type: "text" },
  { field: "b", type: "bigint" },
  { field: "f", type: "bigint" },
  { field: "n", type: "bigint" },
] as const;

const resolutionColumns = [
  { field: "holdId", type: "text" },
  { field: "state", type: "text" },
  { field: "settledMinor", type: "bigint" },
  { field: "resolvedAtMs", type: "bigint" },
] as const;

/**
 * Turns a commit plan into one SQL statement of data-modifying CTEs, one per non-empty part of the plan, so that
 * `apply` costs one statement whatever the plan holds. The values are written into the text as typed literals
 * (`VALUES` lists), so the statement needs no parameters and travels with `COMMIT` in one simple-protocol message;
 * and the planner knows how many rows each part has, so every conditional update is an index lookup by primary
 * key (a `jsonb_to_recordset` source is estimated at 100 rows and turned the updates into sequential scans).
 * Every guard is checked inside the statement: a conditional update that misses makes the final SELECT call
 * `fes_conflict()`, which raises, so the statement fails whole and nothing of the plan is written; inserts that
 * hit a taken id raise a unique violation; wallet deltas that break a counter raise a CHECK violation; a value
 * that is not a safe integer reaches the server as a quoted literal and fails its cast there (22P02 or 22003).
 * No session state: it runs behind PgBouncer.
 *
 * All CTEs of one statement see the same snapshot and cannot see each other's rows, so writes that touch the same
 * row twice are folded here first: deltas are summed per wallet (and folded into a wallet created by the same
 * plan), and a hold opened and resolved by the same plan is inserted resolved. Versions follow the reference
 * adapter: a new wallet, activation or rental is stored at version 1, and every write adds one.
 */
export interface Section {
  /** `name AS (…)`, or absent for a check that needs no CTE of its own. */
  readonly cte?: string;
  /** `WHEN … THEN fes_conflict(…)`: raises when the section's guard missed. */
  readonly check?: string;
  /** The wallet whose cached version this section's update re-checks (and locks), when it does. */
  readonly rechecks?: string;
}

/** A wallet as a unit of work read it from the cache: its update goes through only at that version. */
export interface CachedVersion {
  readonly id: string;
  readonly version: number;
}

/**
 * Joins sections into one statement: their CTEs, then a final SELECT whose `CASE` tries every check in order.
 * The checks run in that order (each subquery when its `WHEN` is reached), so guards placed first (the re-check
 * of cached rows, taking the wallet locks) run before any write a later check reads; CTEs no check reads run
 * after the final SELECT. `undefined` when there is nothing to send.
 */
export function renderSections(sections: readonly Section[]): string | undefined {
  if (sections.length === 0) return undefined;
  const ctes = sections.flatMap((s) => (s.cte === undefined ? [] : [s.cte]));
  const checks = sections.flatMap((s) => (s.check === undefined ? [] : [s.check]));
  const final =
    checks.length === 0 ? "SELECT true AS ok" : `SELECT CASE ${checks.join(" ")} ELSE true END AS ok`;
  return ctes.length === 0 ? final : `WITH ${ctes.join(", ")} ${final}`;
}

/** One value as a SQL literal of its column's type (`cast`: with an explicit cast, for a `VALUES` source). */
function literal(type: ColumnType, value: unknown, cast: boolean): string {
  if (value === null || value === undefined) return cast ? `NULL::${type}` : "NULL";
  if (type === "jsonb") return `${quoteLiteral(JSON.stringify(value))}::jsonb`;
  if (type === "bigint") {
    if (typeof value === "number" && Number.isSafeInteger(value))
      return cast ? `${value}::bigint` : String(value);
    // Not a safe integer: the server refuses it (invalid input or out of range), as it would a bound parameter.
    return `${quoteLiteral(String(value))}::bigint`;
  }
  const text = quoteLiteral(String(value));
  return cast ? `${text}::text` : text;
}

/** `(v1, v2, …), (…)`: the rows of a `VALUES` list, in the order of `columns`. */
function valuesRows(
  columns: readonly { readonly field: string; readonly type: ColumnType }[],
  records: readonly object[],
  cast: boolean,
): string {
  return records
    .map((r) => {
      const values = r as Record<string, unknown>;
      return `(${columns.map((c) => literal(c.type, values[c.field], cast)).join(", ")})`;
    })
    .join(", ");
}

/** A column as the statement builders need it. */
type ColumnLike = { readonly field: string; readonly column: string; readonly type: ColumnType };

/** What is derived from a list of columns (a module constant), computed once per list. */
function memoized<C extends object, V>(derive: (columns: C) => V): (columns: C) => V {
  const memo = new WeakMap<C, V>();
  return (columns) => {
    if (memo.has(columns)) return memo.get(columns) as V;
    const derived = derive(columns);
    memo.set(columns, derived);
    return derived;
  };
}

function fields(columns: readonly { readonly field: string }[], alias: string): string {
  return columns.map((c) => `${alias}."${c.field}"`).join(", ");
}

/** `column, column, …`. */
const names = memoized((columns: readonly { readonly column: string }[]) =>
  columns.map((c) => c.column).join(", "),
);

/** `"field", "field", …`: the column names of a `VALUES` source. */
const quotedFields = memoized((columns: readonly { readonly field: string }[]) =>
  columns.map((c) => `"${c.field}"`).join(", "),
);

/** A `VALUES` source with typed columns named after the record's fields: `(VALUES …) AS alias("f1", …)`. */
function source(
  columns: readonly { readonly field: string; readonly type: ColumnType }[],
  records: readonly object[],
  alias: string,
): string {
  return `(VALUES ${valuesRows(columns, records, true)}) AS ${alias}(${quotedFields(columns)})`;
}

/** A multi-row insert; rows are inserted in array order (identity columns follow it). */
function insertSection<T>(
  name: string,
  table: string,
  columns: Columns<T>,
  records: readonly object[],
): Section {
  return {
    cte: `${name} AS (INSERT INTO ${table} (${names(columns)}) VALUES ${valuesRows(columns, records, false)})`,
  };
}

/** A missed-guard check: when the update touched fewer rows than asked, raise with the ids that missed. */
function guardCheck(
  schema: string,
  cte: string,
  ids: readonly string[],
  guard: string,
  what: string,
): string {
  // One row asked (the common case): it is the one that missed, no subquery to parse and plan.
  const list = `ARRAY[${ids.map(quoteLiteral).join(", ")}]::text[]`;
  const missing =
    ids.length === 1
      ? quoteLiteral(ids[0] as string)
      : `(SELECT string_agg(m, ', ') FROM unnest(${list}) AS m WHERE m NOT IN (SELECT id FROM ${cte}))`;
  return `WHEN (SELECT count(*) FROM ${cte}) <> ${ids.length} THEN ${schema}.fes_conflict('${guard}', '${what}: ' || coalesce(${missing}, 'duplicate in plan'))`;
}

/**
 * Splits versioned writes into inserts (stored at version 1) and updates (stored at the checked version + 1), as
 * the reference adapter does. A record written twice by one plan is a conflict, also as there.
 */
function splitVersioned<T extends { readonly id: string; readonly version: number }>(
  writes: readonly VersionedWrite<T>[],
  what: string,
): { inserts: T[]; updates: (T & { expectedVersion: number })[] } {
  const seen = new Set<string>();
  const inserts: T[] = [];
  const updates: (T & { expectedVersion: number })[] = [];
  for (const { record, expectedVersion } of writes) {
    if (seen.has(record.id)) throw new StorageConflictError("version", `${what} ${record.id} written twice`);
    seen.add(record.id);
    if (expectedVersion === null) inserts.push({ ...record, version: 1 });
    else updates.push({ ...record, expectedVersion });
  }
  return { inserts, updates };
}

/** The columns an update of a versioned record sets (all but the id, and the version, which the update adds one to). */
const updatable = memoized((columns: readonly ColumnLike[]) =>
  columns.filter((c) => c.field !== "id" && c.field !== "version"),
);

/** The columns of a versioned write's `VALUES` source: the record's, and the version it expects. */
const withExpectedVersion = memoized((columns: readonly ColumnLike[]): readonly ColumnLike[] => [
  ...columns,
  { field: "expectedVersion", column: "expected_version", type: "bigint" },
]);

/** The columns a transfer is inserted with: its `seq` is the table's identity. */
const transferInsertColumns = transferColumns.filter((c) => c.field !== "seq");

function versionedSections<T extends { readonly id: string; readonly version: number }>(
  schema: string,
  table: string,
  columns: Columns<T>,
  writes: readonly VersionedWrite<T>[],
  what: string,
): Section[] {
  const { inserts, updates } = splitVersioned(writes, what);
  const sections: Section[] = [];
  if (inserts.length > 0) {
    sections.push(insertSection(`${what}_inserts`, `${schema}.${table}`, columns, inserts));
  }
  if (updates.length > 0) {
    const set = updatable(columns);
    const from = source(withExpectedVersion(columns), updates, "r");
    sections.push({
      cte: `${what}_updates AS (UPDATE ${schema}.${table} AS t SET (${names(set)}, version) = (${fields(set, "r")}, t.version + 1) FROM ${from} WHERE t.id = r.id AND t.version = r."expectedVersion" RETURNING t.id)`,
      check: guardCheck(
        schema,
        `${what}_updates`,
        updates.map((u) => u.id),
        "version",
        `${what} version changed or ${what} missing`,
      ),
    });
  }
  return sections;
}

/** The sections of `plan`'s statement (none when the plan writes nothing). `schema` is already quoted. */
export function planSections(plan: CommitPlan, schema: string, cached?: CachedVersion): Section[] {
  return sectionsOf(plan, plan.idempotency === undefined ? [] : [plan.idempotency], schema, cached);
}

/** The statement for `plan`, or `undefined` when the plan writes nothing. `schema` is already quoted. */
export function planStatement(plan: CommitPlan, schema: string): string | undefined {
  return renderSections(planSections(plan, schema));
}

/**
 * The sections of a group commit's plans as one statement, as if one plan held them all in order (several idempotency
 * records among them), so that the server parses and plans one statement for the whole group. `undefined` when
 * they cannot be folded into one: two of them write the same activation or rental (each write adds a version,
 * a folded one would add one), open the same hold or create the same wallet; the caller then sends them one
 * statement each.
 */
export function groupSections(
  plans: readonly CommitPlan[],
  schema: string,
  cached?: CachedVersion,
): Section[] | undefined {
  const seen = new Set<string>();
  const once = (kind: string, id: string) => {
    const key = `${kind}\u0000${id}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  };
  for (const p of plans) {
    for (const w of p.activations ?? []) if (!once("a", w.record.id)) return undefined;
    for (const w of p.rentals ?? []) if (!once("r", w.record.id)) return undefined;
    for (const h of p.openHolds ?? []) if (!once("h", h.id)) return undefined;
    for (const w of p.createWallets ?? []) if (!once("w", w.id)) return undefined;
  }
  const all = <T>(pick: (p: CommitPlan) => readonly T[] | undefined): T[] =>
    plans.flatMap((p) => pick(p) ?? []);
  const merged: CommitPlan = {
    createWallets: all((p) => p.createWallets),
    walletDeltas: all((p) => p.walletDeltas),
    transfers: all((p) => p.transfers),
    openHolds: all((p) => p.openHolds),
    resolveHolds: all((p) => p.resolveHolds),
    activations: all((p) => p.activations),
    rentals: all((p) => p.rentals),
    audit: all((p) => p.audit),
  };
  return sectionsOf(
    merged,
    all((p) => (p.idempotency === undefined ? [] : [p.idempotency])),
    schema,
    cached,
  );
}

/**
 * With `cached`, the update of that wallet (when the plan has one) is also its re-check: it goes through only at
 * the version read, and a miss raises `stale_cache` (see `read-check.ts`). In READ COMMITTED an update waits for a
 * concurrent writer of the row and then re-evaluates its condition on the row that writer committed, so a newer
 * version fails it, as it fails the locking read the re-check would otherwise take.
 */
function sectionsOf(
  plan: CommitPlan,
  idempotency: readonly IdempotencyRecord[],
  schema: string,
  cached?: CachedVersion,
): Section[] {
  const sections: Section[] = [];

  // Wallets: new rows (with the plan's own deltas folded in), then the summed deltas of existing wallets.
  const created = new Map<string, { -readonly [K in keyof WalletRecord]: WalletRecord[K] }>();
  const createdList: WalletRecord[] = [];
  for (const w of plan.createWallets ?? []) {
    const copy = { ...w, version: 1 };
    if (!created.has(w.id)) created.set(w.id, copy);
    createdList.push(copy);
  }
  const deltas = new Map<string, { id: string; b: number; f: number; n: number }>();
  for (const d of plan.walletDeltas ?? []) {
    const fresh = created.get(d.walletId);
    if (fresh !== undefined) {
      fresh.balanceMinor += d.balanceDeltaMinor;
      fresh.frozenMinor += d.frozenDeltaMinor;
      fresh.version += 1;
      continue;
    }
    const sum = deltas.get(d.walletId) ?? { id: d.walletId, b: 0, f: 0, n: 0 };
    sum.b += d.balanceDeltaMinor;
    sum.f += d.frozenDeltaMinor;
    sum.n += 1;
    deltas.set(d.walletId, sum);
  }
  if (createdList.length > 0) {
    sections.push(insertSection("wallet_inserts", `${schema}.wallets`, walletColumns, createdList));
  }
  if (deltas.size > 0) {
    const recheck = cached !== undefined && deltas.has(cached.id) ? cached : undefined;
    const version = recheck === undefined ? "" : literal("bigint", recheck.version, false);
    const [only] = deltas.values();
    // One wallet (the common case) is updated by its key with the sums written in; several join a `VALUES` list.
    const update =
      deltas.size === 1 && only !== undefined
        ? `UPDATE ${schema}.wallets AS w SET balance_minor = w.balance_minor + ${literal("bigint", only.b, false)}, ` +
          `frozen_minor = w.frozen_minor + ${literal("bigint", only.f, false)}, version = w.version + ${only.n} ` +
          `WHERE w.id = ${quoteLiteral(only.id)}${recheck === undefined ? "" : ` AND w.version = ${version}`}`
        : `UPDATE ${schema}.wallets AS w SET balance_minor = w.balance_minor + d.b, frozen_minor = w.frozen_minor + d.f, ` +
          `version = w.version + d.n FROM ${source(deltaColumns, [...deltas.values()], "d")} WHERE w.id = d.id` +
          (recheck === undefined
            ? ""
            : ` AND (w.id <> ${quoteLiteral(recheck.id)} OR w.version = ${version})`);
    sections.push({
      cte: `wallet_updates AS (${update} RETURNING w.id)`,
      check: guardCheck(
        schema,
        "wallet_updates",
        [...deltas.keys()],
        recheck === undefined ? "wallet_missing" : STALE_CACHE,
        recheck === undefined ? "wallet delta on a missing wallet" : "a cached wallet changed or is missing",
      ),
      ...(recheck === undefined ? {} : { rechecks: recheck.id }),
    });
  }

  const transfers = plan.transfers ?? [];
  if (transfers.length > 0) {
    const columns = transferInsertColumns;
    sections.push(insertSection("transfer_inserts", `${schema}.transfers`, columns, transfers));
  }

  // Holds: new rows (resolved already when the same plan resolves them), then conditional resolutions.
  const opened = new Map<string, { -readonly [K in keyof HoldRecord]: HoldRecord[K] }>();
  const openedList: HoldRecord[] = [];
  for (const h of plan.openHolds ?? []) {
    const copy = { ...h };
    if (!opened.has(h.id)) opened.set(h.id, copy);
    openedList.push(copy);
  }
  const resolutions = [];
  for (const r of plan.resolveHolds ?? []) {
    const fresh = opened.get(r.holdId);
    if (fresh === undefined) {
      resolutions.push(r);
      continue;
    }
    if (fresh.state !== "open") {
      throw new StorageConflictError("hold_not_open", `hold ${r.holdId} is resolved twice in one plan`);
    }
    fresh.state = r.state;
    fresh.settledMinor = r.settledMinor;
    fresh.resolvedAtMs = r.resolvedAtMs;
  }
  if (openedList.length > 0) {
    sections.push(insertSection("hold_inserts", `${schema}.holds`, holdColumns, openedList));
  }
  if (resolutions.length > 0) {
    const [only] = resolutions;
    // One hold by its key with its values written in; several join a `VALUES` list.
    const update =
      resolutions.length === 1 && only !== undefined
        ? `UPDATE ${schema}.holds AS h SET state = ${literal("text", only.state, false)}, ` +
          `settled_minor = ${literal("bigint", only.settledMinor, false)}, resolved_at_ms = ${literal("bigint", only.resolvedAtMs, false)} ` +
          `WHERE h.id = ${quoteLiteral(only.holdId)} AND h.state = 'open'`
        : `UPDATE ${schema}.holds AS h SET state = r.state, settled_minor = r."settledMinor", resolved_at_ms = r."resolvedAtMs" ` +
          `FROM ${source(resolutionColumns, resolutions, "r")} WHERE h.id = r."holdId" AND h.state = 'open'`;
    sections.push({
      cte: `hold_updates AS (${update} RETURNING h.id)`,
      check: guardCheck(
        schema,
        "hold_updates",
        resolutions.map((r) => r.holdId),
        "hold_not_open",
        "hold missing or not open",
      ),
    });
  }

  sections.push(
    ...versionedSections<ActivationRecord>(
      schema,
      "activations",
      activationColumns,
      plan.activations ?? [],
      "activation",
    ),
    ...versionedSections<RentalRecord>(schema, "rentals", rentalColumns, plan.rentals ?? [], "rental"),
  );

  if (idempotency.length > 0) {
    sections.push(
      insertSection("idempotency_inserts", `${schema}.idempotency_keys`, idempotencyColumns, idempotency),
    );
  }

  const audit = plan.audit ?? [];
  if (audit.length > 0) {
    sections.push(insertSection("audit_inserts", `${schema}.audit_trail`, auditColumns, audit));
  }

  return sections;
}
