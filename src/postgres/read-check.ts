import type { CommitPlan } from "../storage/port.js";
import type { Section } from "./plan.js";
import type { ReadSet } from "./row-cache.js";
import { quoteLiteral } from "./sql.js";

/** The guard a re-check of cached rows raises when one of them changed (a {@link StorageConflictError} guard). */
export const STALE_CACHE = "stale_cache";

const list = (ids: readonly string[]) => `ARRAY[${ids.map(quoteLiteral).join(", ")}]::text[]`;

const pairs = (rows: readonly { readonly id: string; readonly value: string }[]) =>
  rows.map((r, i) => `(${quoteLiteral(r.id)}${i === 0 ? "::text" : ""}, ${r.value})`).join(", ");

/**
 * The guards that re-check, inside the statement of a speculative commit, every row its decision read from the
 * cache; placed before the plan's own sections (see `renderSections`), they run first, and each raises
 * `fes_conflict('stale_cache', …)` when a row changed, which fails the whole statement: nothing is written.
 * 1. The wallets, locked in byte order of their ids (`FOR UPDATE`) where their version is still the one read: a
 *    concurrent writer is waited for, and its new version then fails the check. This is the lock a locking load
 *    takes, taken at commit.
 * 2. Then holds at the state read, activations and rentals at the version read, locked too (`FOR SHARE`), so
 *    that these reads also see the latest committed row rather than the statement's snapshot, taken before the
 *    wait for the wallet lock; with the same number of owned holds, idempotency records present, and the rows
 *    assumed absent still absent. Those last checks read the snapshot: a row committed after it, while this
 *    statement waited for the wallet lock, either moved its wallet (a new hold moves the frozen counter), so the
 *    wallet's version check fails, or is one the plan inserts itself, which its unique key refuses. A unit whose
 *    decision failed on the absence of a row sends nothing: it is confirmed under the locks.
 * A row assumed absent that `plans` insert is left to that unique key: no probe of its own; a row the plans
 * write under the same guard (an open hold they resolve, a record at the version read) to that guard; and the wallet
 * `rechecked`, whose update in the plan goes through only at the version read (`plan.ts`), needs no lock here: that
 * update, placed first, is its lock and its check.
 */
export function readSetGuards(
  read: ReadSet,
  schema: string,
  plans: readonly CommitPlan[] = [],
  rechecked?: string,
): Section[] {
  const guards: Section[] = [];
  const inserted = new Set<string>();
  const guarded = new Set<string>();
  for (const p of plans) {
    for (const h of p.openHolds ?? []) inserted.add(`hold:${h.id}`);
    for (const w of p.activations ?? [])
      if (w.expectedVersion === null) inserted.add(`activation:${w.record.id}`);
    for (const w of p.rentals ?? []) if (w.expectedVersion === null) inserted.add(`rental:${w.record.id}`);
    if (p.idempotency !== undefined) inserted.add(`idempotency:${p.idempotency.key}`);
    // Rows the plan writes under the very guard the re-check would test: an open hold it resolves (only while
    // open), a record it writes at the version read (only at that version).
    for (const r of p.resolveHolds ?? []) guarded.add(`hold:${r.holdId}:open`);
    for (const w of p.activations ?? []) guarded.add(`activation:${w.record.id}:${w.expectedVersion}`);
    for (const w of p.rentals ?? []) guarded.add(`rental:${w.record.id}:${w.expectedVersion}`);
  }
  const unless = (kind: string, ids: readonly string[]) => ids.filter((id) => !inserted.has(`${kind}:${id}`));
  const fail = (what: string) => `${schema}.fes_conflict('${STALE_CACHE}', ${quoteLiteral(what)})`;
  const wallets = read.wallets.filter((w) => w.id !== rechecked);
  if (wallets.length > 0) {
    const ids = wallets.map((w) => w.id);
    const versions = pairs(wallets.map((w) => ({ id: w.id, value: `${w.version}::bigint` })));
    guards.push({
      cte:
        `cached_wallets AS (SELECT w.id FROM ${schema}.wallets AS w WHERE w.id = ANY(${list(ids)}) ` +
        `AND (w.id, w.version) IN (VALUES ${versions}) ORDER BY w.id COLLATE "C" FOR UPDATE OF w)`,
      check: `WHEN (SELECT count(*) FROM cached_wallets) <> ${ids.length} THEN ${fail("a cached wallet changed")}`,
    });
  }
  const count = (from: string, n: number, what: string) =>
    guards.push({ check: `WHEN (SELECT count(*) FROM ${schema}.${from}) <> ${n} THEN ${fail(what)}` });
  const locked = (from: string, n: number, what: string) =>
    guards.push({
      check: `WHEN (SELECT count(*) FROM (SELECT 1 FROM ${schema}.${from} FOR SHARE) AS l) <> ${n} THEN ${fail(what)}`,
    });
  const none = (from: string, what: string) =>
    guards.push({ check: `WHEN EXISTS (SELECT 1 FROM ${schema}.${from}) THEN ${fail(what)}` });
  const holds = read.holds.filter((h) => !guarded.has(`hold:${h.id}:${h.state}`));
  if (holds.length > 0) {
    const states = pairs(holds.map((h) => ({ id: h.id, value: quoteLiteral(h.state) })));
    locked(
      `holds WHERE id = ANY(${list(holds.map((h) => h.id))}) AND (id, state) IN (VALUES ${states})`,
      holds.length,
      "a cached hold changed",
    );
  }
  const absentHolds = unless("hold", read.absentHolds);
  if (absentHolds.length > 0)
    none(`holds WHERE id = ANY(${list(absentHolds)})`, "a hold assumed absent exists");
  for (const [table, type, rows, absent] of [
    ["activations", "activation", read.activations, unless("activation", read.absentActivations)],
    ["rentals", "rental", read.rentals, unless("rental", read.absentRentals)],
  ] as const) {
    const unwritten = rows.filter((r) => !guarded.has(`${type}:${r.row.id}:${r.row.version}`));
    if (unwritten.length > 0) {
      const versions = pairs(unwritten.map((r) => ({ id: r.row.id, value: `${r.row.version}::bigint` })));
      locked(
        `${table} WHERE id = ANY(${list(unwritten.map((r) => r.row.id))}) AND (id, version) IN (VALUES ${versions})`,
        unwritten.length,
        `a cached ${type} changed`,
      );
    }
    if (rows.length > 0) {
      for (const r of rows)
        count(
          `holds WHERE owner_type = '${type}' AND owner_id = ${quoteLiteral(r.row.id)}`,
          r.owned.length,
          `the holds of a cached ${type} changed`,
        );
    }
    if (absent.length > 0) {
      none(`${table} WHERE id = ANY(${list(absent)})`, `a ${type} assumed absent exists`);
      none(
        `holds WHERE owner_type = '${type}' AND owner_id = ANY(${list(absent)})`,
        `a ${type} assumed absent owns holds`,
      );
    }
  }
  if (read.idempotency.length > 0)
    count(
      `idempotency_keys WHERE key = ANY(${list(read.idempotency)})`,
      read.idempotency.length,
      "a cached idempotency record is gone",
    );
  const absentKeys = unless("idempotency", read.absentIdempotency);
  if (absentKeys.length > 0)
    none(`idempotency_keys WHERE key = ANY(${list(absentKeys)})`, "an idempotency key assumed absent exists");
  return guards;
}
