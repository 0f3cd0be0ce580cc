import type { ActivationRecord, HoldRecord, RentalRecord, WalletRecord } from "../core/records.js";
import { type CommitPlan, StorageConflictError, type VersionedWrite } from "../storage/port.js";
import {
  activationColumns,
  auditColumns,
  type Columns,
  holdColumns,
  idempotencyColumns,
  recordsetDefinition,
  rentalColumns,
  transferColumns,
  walletColumns,
} from "./columns.js";

/**
 * Turns a commit plan into one SQL statement with data-modifying CTEs over one jsonb parameter, so that `apply`
 * costs one round trip whatever the plan holds. Every guard is checked inside the statement: a conditional
 * update that misses makes the final SELECT call `fes_conflict()`, which raises, so the statement fails whole and
 * nothing of the plan is written; inserts that hit a taken id raise a unique violation; wallet deltas that break
 * a counter raise a CHECK violation. Unnamed, parameterized, no session state: it runs behind PgBouncer.
 *
 * All CTEs of one statement see the same snapshot and cannot see each other's rows, so writes that touch the same
 * row twice are folded here first: deltas are summed per wallet (and folded into a wallet created by the same
 * plan), and a hold opened and resolved by the same plan is inserted resolved. Versions follow the reference
 * adapter: a new wallet, activation or rental is stored at version 1, and every write adds one.
 */
export interface PlanStatement {
  readonly text: string;
  readonly values: [string];
}

interface Section {
  readonly cte: string;
  readonly check?: string;
}

/** `jsonb_to_recordset` over one key of the payload. */
function recordset(key: string, definition: string, alias = "r"): string {
  return `jsonb_to_recordset($1::jsonb -> '${key}') AS ${alias}(${definition})`;
}

function fields<T>(columns: Columns<T>, alias: string): string {
  return columns.map((c) => `${alias}."${c.field}"`).join(", ");
}

function names<T>(columns: Columns<T>): string {
  return columns.map((c) => c.column).join(", ");
}

/** A multi-row insert; with `ordered`, rows are inserted in array order (identity columns follow it). */
function insertSection<T>(
  name: string,
  table: string,
  columns: Columns<T>,
  key: string,
  ordered = false,
): Section {
  const source = recordset(key, recordsetDefinition(columns, ordered ? "ord bigint" : ""));
  return {
    cte: `${name} AS (INSERT INTO ${table} (${names(columns)}) SELECT ${fields(columns, "r")} FROM ${source}${
      ordered ? " ORDER BY r.ord" : ""
    } RETURNING 1)`,
  };
}

/** A missed-guard check: when the update touched fewer rows than asked, raise with the ids that missed. */
function guardCheck(
  schema: string,
  cte: string,
  key: string,
  idField: string,
  expected: number,
  guard: string,
  what: string,
): string {
  const missing = `(SELECT string_agg(m."${idField}", ', ') FROM ${recordset(key, `"${idField}" text`, "m")} WHERE m."${idField}" NOT IN (SELECT id FROM ${cte}))`;
  return `WHEN (SELECT count(*) FROM ${cte}) <> ${expected} THEN ${schema}.fes_conflict('${guard}', '${what}: ' || coalesce(${missing}, 'duplicate in plan'))`;
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

function versionedSections<T extends { readonly id: string; readonly version: number }>(
  schema: string,
  table: string,
  columns: Columns<T>,
  writes: readonly VersionedWrite<T>[],
  what: string,
  payload: Record<string, unknown>,
): Section[] {
  const { inserts, updates } = splitVersioned(writes, what);
  const sections: Section[] = [];
  if (inserts.length > 0) {
    payload[`${what}Inserts`] = inserts;
    sections.push(insertSection(`${what}_inserts`, `${schema}.${table}`, columns, `${what}Inserts`));
  }
  if (updates.length > 0) {
    payload[`${what}Updates`] = updates;
    const set = columns.filter((c) => c.field !== "id" && c.field !== "version");
    const source = recordset(`${what}Updates`, recordsetDefinition(columns, `"expectedVersion" bigint`));
    sections.push({
      cte: `${what}_updates AS (UPDATE ${schema}.${table} AS t SET (${names(set)}, version) = (${fields(set, "r")}, t.version + 1) FROM ${source} WHERE t.id = r.id AND t.version = r."expectedVersion" RETURNING t.id)`,
      check: guardCheck(
        schema,
        `${what}_updates`,
        `${what}Updates`,
        "id",
        updates.length,
        "version",
        `${what} version changed or ${what} missing`,
      ),
    });
  }
  return sections;
}

/** The statement for `plan`, or `undefined` when the plan writes nothing. `schema` is already quoted. */
export function planStatement(plan: CommitPlan, schema: string): PlanStatement | undefined {
  const payload: Record<string, unknown> = {};
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
    payload.createWallets = createdList;
    sections.push(insertSection("wallet_inserts", `${schema}.wallets`, walletColumns, "createWallets"));
  }
  if (deltas.size > 0) {
    payload.walletDeltas = [...deltas.values()];
    sections.push({
      cte: `wallet_updates AS (UPDATE ${schema}.wallets AS w SET balance_minor = w.balance_minor + d.b, frozen_minor = w.frozen_minor + d.f, version = w.version + d.n FROM ${recordset("walletDeltas", "id text, b bigint, f bigint, n bigint", "d")} WHERE w.id = d.id RETURNING w.id)`,
      check: guardCheck(
        schema,
        "wallet_updates",
        "walletDeltas",
        "id",
        deltas.size,
        "wallet_missing",
        "wallet delta on a missing wallet",
      ),
    });
  }

  const transfers = plan.transfers ?? [];
  if (transfers.length > 0) {
    payload.transfers = transfers.map((t, ord) => ({ ...t, ord }));
    const columns = transferColumns.filter((c) => c.field !== "seq");
    sections.push(insertSection("transfer_inserts", `${schema}.transfers`, columns, "transfers", true));
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
    payload.openHolds = openedList;
    sections.push(insertSection("hold_inserts", `${schema}.holds`, holdColumns, "openHolds"));
  }
  if (resolutions.length > 0) {
    payload.resolveHolds = resolutions;
    sections.push({
      cte: `hold_updates AS (UPDATE ${schema}.holds AS h SET state = r.state, settled_minor = r."settledMinor", resolved_at_ms = r."resolvedAtMs" FROM ${recordset("resolveHolds", `"holdId" text, state text, "settledMinor" bigint, "resolvedAtMs" bigint`)} WHERE h.id = r."holdId" AND h.state = 'open' RETURNING h.id)`,
      check: guardCheck(
        schema,
        "hold_updates",
        "resolveHolds",
        "holdId",
        resolutions.length,
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
      payload,
    ),
    ...versionedSections<RentalRecord>(
      schema,
      "rentals",
      rentalColumns,
      plan.rentals ?? [],
      "rental",
      payload,
    ),
  );

  if (plan.idempotency !== undefined) {
    payload.idempotency = [{ ...plan.idempotency, result: plan.idempotency.result ?? null }];
    sections.push(
      insertSection("idempotency_inserts", `${schema}.idempotency_keys`, idempotencyColumns, "idempotency"),
    );
  }

  const audit = plan.audit ?? [];
  if (audit.length > 0) {
    payload.audit = audit.map((a, ord) => ({ ...a, before: a.before ?? null, after: a.after ?? null, ord }));
    sections.push(insertSection("audit_inserts", `${schema}.audit_trail`, auditColumns, "audit", true));
  }

  if (sections.length === 0) return undefined;
  const checks = sections.flatMap((s) => (s.check === undefined ? [] : [s.check]));
  const final =
    checks.length === 0 ? "SELECT true AS ok" : `SELECT CASE ${checks.join(" ")} ELSE true END AS ok`;
  return {
    text: `WITH ${sections.map((s) => s.cte).join(", ")} ${final}`,
    values: [JSON.stringify(payload)],
  };
}
