import { compareBytes } from "../core/ids.js";
import type {
  ActivationRecord,
  AuditRecord,
  HoldRecord,
  IdempotencyRecord,
  RentalRecord,
  TransferRecord,
  WalletRecord,
} from "../core/records.js";
import { findUnstorableText } from "../core/storable-text.js";
import {
  afterCreated,
  afterIdInByteOrder,
  healthStatsOf,
  inCreatedWindow,
  selectPage,
} from "../storage/paging.js";
import {
  type CommitPlan,
  type Loaded,
  type Storage,
  StorageConflictError,
  type StorageReader,
  type StorageTx,
  selectDueWork,
} from "../storage/port.js";
import { findSchemaViolation, MAX_BALANCE_MINOR } from "./constraints.js";

/** Options of {@link createMemoryStorage}. */
export interface MemoryStorageOptions {
  /**
   * Called at the start of every `apply`, before any guard is checked. Tests use it to fail a unit of work at a
   * chosen point and check that nothing of it stays.
   */
  readonly onApply?: (plan: CommitPlan) => void;
}

/** A memory storage, with a few extra reads for tests and reports. */
export interface MemoryStorage extends Storage {
  /** Number of committed units of work. */
  readonly commits: () => number;
}

/**
 * The reference storage adapter, as strict as PostgreSQL: units of work run one at a time (a global lock, so
 * there is never a lost update), every guard of `apply` is checked before anything is written, unique ids and
 * idempotency keys are enforced, a unit that throws is rolled back whole, stored records are frozen, and
 * idempotency results are stored as JSON (what does not survive `JSON.stringify` does not survive here either).
 * Reads outside a unit of work wait for the running unit, so they only ever see committed data.
 */
export function createMemoryStorage(options: MemoryStorageOptions = {}): MemoryStorage {
  const wallets = new Map<string, WalletRecord>();
  const holds = new Map<string, HoldRecord>();
  const activations = new Map<string, ActivationRecord>();
  const activationByProviderId = new Map<string, string>();
  const rentalByProviderId = new Map<string, string>();
  const rentals = new Map<string, RentalRecord>();
  const transfers: TransferRecord[] = [];
  const transferIds = new Set<string>();
  const transfersByAccount = new Map<string, TransferRecord[]>();
  const idempotency = new Map<string, IdempotencyRecord>();
  const audit: AuditRecord[] = [];
  const auditIds = new Set<string>();
  /** Activations and rentals that are not terminal: what the sweeper scans. */
  const openActivations = new Set<string>();
  const openRentals = new Set<string>();
  let commits = 0;

  // The global lock: one unit of work at a time, handed over in arrival order.
  let busy = false;
  const waiting: (() => void)[] = [];
  const unlock = () => {
    const next = waiting.shift();
    if (next === undefined) busy = false;
    else next();
  };
  /** Runs `task` holding the lock. */
  const exclusive = async <T>(task: () => Promise<T>): Promise<T> => {
    if (busy) await new Promise<void>((resolve) => waiting.push(resolve));
    else busy = true;
    try {
      return await task();
    } finally {
      unlock();
    }
  };
  /** Runs a read when no unit of work is running, so it only ever sees committed data. */
  const committed = <T>(read: () => T): Promise<T> =>
    busy ? exclusive(async () => read()) : Promise.resolve(read());

  const providerKey = (provider: string, id: string) => `${provider}\u0000${id}`;

  function apply(plan: CommitPlan, journal: Journal): void {
    options.onApply?.(plan);
    // PostgreSQL cannot store NUL or a lone surrogate unchanged: refused as it would be, before any guard.
    const unstorable = findUnstorableText(plan);
    if (unstorable !== undefined) throw new RangeError(`the plan cannot be stored: ${unstorable}`);
    const violation = findSchemaViolation(plan);
    if (violation !== undefined) throw new RangeError(`the schema refuses the plan: ${violation}`);
    checkGuards(plan);
    // Validated before the first write, so that a plan is written whole or not at all.
    const idem =
      plan.idempotency === undefined
        ? undefined
        : Object.freeze({
            ...plan.idempotency,
            result: frozenJson(plan.idempotency.result ?? null, `idempotency ${plan.idempotency.key}`),
          });
    for (const w of plan.createWallets ?? NONE)
      journal.mapSet(wallets, w.id, Object.freeze({ ...w, version: 1 }));
    for (const d of plan.walletDeltas ?? NONE) {
      const w = wallets.get(d.walletId)!;
      journal.mapSet(
        wallets,
        d.walletId,
        Object.freeze({
          ...w,
          balanceMinor: w.balanceMinor + d.balanceDeltaMinor,
          frozenMinor: w.frozenMinor + d.frozenDeltaMinor,
          version: w.version + 1,
        }),
      );
    }
    for (const t of plan.transfers ?? NONE) {
      const stored = Object.freeze({ ...t, seq: transfers.length + 1 });
      journal.push(transfers, stored);
      journal.setMember(transferIds, t.id, true);
      for (const account of [t.debitAccountId, t.creditAccountId]) {
        let list = transfersByAccount.get(account);
        if (list === undefined) {
          list = [];
          journal.mapSet(transfersByAccount, account, list);
        }
        journal.push(list, stored);
      }
    }
    for (const h of plan.openHolds ?? NONE) journal.mapSet(holds, h.id, Object.freeze(h));
    for (const r of plan.resolveHolds ?? NONE) {
      const h = holds.get(r.holdId)!;
      journal.mapSet(
        holds,
        r.holdId,
        Object.freeze({ ...h, state: r.state, settledMinor: r.settledMinor, resolvedAtMs: r.resolvedAtMs }),
      );
    }
    for (const { record } of plan.activations ?? NONE) {
      const version = (activations.get(record.id)?.version ?? 0) + 1;
      journal.mapSet(activations, record.id, deepFreeze({ ...record, version }));
      if (record.providerActivationId !== null) {
        journal.mapSet(
          activationByProviderId,
          providerKey(record.provider, record.providerActivationId),
          record.id,
        );
      }
      journal.setMember(openActivations, record.id, record.state === "pending" || record.state === "waiting");
    }
    for (const { record } of plan.rentals ?? NONE) {
      const version = (rentals.get(record.id)?.version ?? 0) + 1;
      journal.mapSet(rentals, record.id, deepFreeze({ ...record, version }));
      if (record.providerRentalId !== null) {
        journal.mapSet(rentalByProviderId, providerKey(record.provider, record.providerRentalId), record.id);
      }
      journal.setMember(openRentals, record.id, record.state === "pending" || record.state === "active");
    }
    if (idem !== undefined) journal.mapSet(idempotency, idem.key, idem);
    // Rows of the plan are owned by it: stored frozen as they are, not copied.
    for (const a of plan.audit ?? NONE) {
      journal.push(audit, Object.freeze(a));
      journal.setMember(auditIds, a.id, true);
    }
  }

  /** Checks every guard of the plan against the current state (plus the plan's own earlier rows). */
  function checkGuards(plan: CommitPlan): void {
    const conflict = (guard: string, message: string): never => {
      throw new StorageConflictError(guard, message);
    };
    const created = plan.createWallets ?? NONE;
    created.forEach((w, i) => {
      if (wallets.has(w.id) || created.findIndex((x) => x.id === w.id) < i) {
        conflict("unique:wallets", `wallet ${w.id} exists`);
      }
    });
    const deltas = plan.walletDeltas ?? NONE;
    const counters = deltas.length > 1 ? new Map<string, { balance: number; frozen: number }>() : undefined;
    for (const d of deltas) {
      const w = wallets.get(d.walletId) ?? created.find((x) => x.id === d.walletId);
      if (w === undefined)
        throw new StorageConflictError("wallet_missing", `wallet ${d.walletId} does not exist`);
      const c = counters?.get(d.walletId) ?? { balance: w.balanceMinor, frozen: w.frozenMinor };
      c.balance += d.balanceDeltaMinor;
      c.frozen += d.frozenDeltaMinor;
      counters?.set(d.walletId, c);
      if (c.balance > MAX_BALANCE_MINOR)
        throw new RangeError(
          `the schema refuses the plan: wallet ${d.walletId} would pass the safe-integer range`,
        );
      if (c.balance < 0 || c.frozen < 0 || c.balance - c.frozen < 0) {
        conflict(
          "wallet_counters",
          `wallet ${d.walletId} would have balance ${c.balance}, frozen ${c.frozen}`,
        );
      }
    }
    const newTransfers = plan.transfers ?? NONE;
    newTransfers.forEach((t, i) => {
      if (transferIds.has(t.id) || newTransfers.findIndex((x) => x.id === t.id) < i) {
        conflict("unique:transfers", `transfer ${t.id} exists`);
      }
      if (!(t.amountMinor > 0) || t.debitAccountId === t.creditAccountId)
        conflict("transfer", `bad transfer ${t.id}`);
    });
    const newHolds = plan.openHolds ?? NONE;
    newHolds.forEach((h, i) => {
      if (holds.has(h.id) || newHolds.findIndex((x) => x.id === h.id) < i)
        conflict("unique:holds", `hold ${h.id} exists`);
      if (!(h.amountMinor > 0)) conflict("hold_amount", `hold ${h.id} amount ${h.amountMinor}`);
    });
    const resolutions = plan.resolveHolds ?? NONE;
    resolutions.forEach((r, i) => {
      const h = holds.get(r.holdId);
      if (h === undefined || h.state !== "open" || resolutions.findIndex((x) => x.holdId === r.holdId) < i) {
        conflict("hold_not_open", `hold ${r.holdId} is not open`);
      } else if (r.settledMinor < 0 || r.settledMinor > h.amountMinor) {
        conflict("hold_settled", `hold ${r.holdId} settles ${r.settledMinor} of ${h.amountMinor}`);
      }
    });
    checkVersions("activations", activations, plan.activations ?? NONE);
    checkVersions("rentals", rentals, plan.rentals ?? NONE);
    for (const { record } of plan.activations ?? NONE) {
      if (record.providerActivationId === null) continue;
      const owner = activationByProviderId.get(providerKey(record.provider, record.providerActivationId));
      if (owner !== undefined && owner !== record.id) {
        conflict(
          "unique:activations_provider_id",
          `provider activation ${record.providerActivationId} is taken`,
        );
      }
    }
    const claimed = new Map<string, string>();
    for (const { record } of plan.rentals ?? NONE) {
      if (record.providerRentalId === null) continue;
      const key = providerKey(record.provider, record.providerRentalId);
      const owner = claimed.get(key) ?? rentalByProviderId.get(key);
      if (owner !== undefined && owner !== record.id) {
        conflict("unique:rentals_provider_id", `provider rental ${record.providerRentalId} is taken`);
      }
      claimed.set(key, record.id);
    }
    if (plan.idempotency !== undefined && idempotency.has(plan.idempotency.key)) {
      conflict("unique:idempotency", `idempotency key ${plan.idempotency.key} exists`);
    }
    const rows = plan.audit ?? NONE;
    rows.forEach((a, i) => {
      if (auditIds.has(a.id) || rows.findIndex((x) => x.id === a.id) < i) {
        conflict("unique:audit", `audit row ${a.id} exists`);
      }
    });
  }

  function checkVersions<T extends { id: string; version: number }>(
    table: string,
    rows: Map<string, T>,
    writes: readonly { record: T; expectedVersion: number | null }[],
  ): void {
    writes.forEach(({ record, expectedVersion }, i) => {
      if (writes.findIndex((w) => w.record.id === record.id) < i) {
        throw new StorageConflictError("version", `${table} ${record.id} written twice`);
      }
      const stored = rows.get(record.id);
      if (expectedVersion === null ? stored !== undefined : stored?.version !== expectedVersion) {
        throw new StorageConflictError(
          expectedVersion === null ? `unique:${table}` : "version",
          `${table} ${record.id}: expected version ${expectedVersion}, stored ${stored?.version ?? "none"}`,
        );
      }
    });
  }

  const sortedById = <T extends { id: string }>(list: Iterable<T>) =>
    [...list].sort((a, b) => compareBytes(a.id, b.id));
  const byCreation = <T extends { id: string; createdAtMs: number }>(list: T[]) =>
    list.sort((a, b) => a.createdAtMs - b.createdAtMs || compareBytes(a.id, b.id));

  const read: StorageReader = {
    getWallet: (id) => committed(() => wallets.get(id)),
    listWallets: (page) =>
      committed(() => selectPage(sortedById(wallets.values()), page, afterIdInByteOrder(page?.afterId))),
    getHold: (id) => committed(() => holds.get(id)),
    listHolds: (filter = {}) =>
      committed(() =>
        selectPage(
          sortedById(
            [...holds.values()].filter(
              (h) =>
                (filter.state === undefined || h.state === filter.state) &&
                (filter.walletId === undefined || h.walletId === filter.walletId),
            ),
          ),
          filter,
          afterIdInByteOrder(filter.afterId),
        ),
      ),
    getActivation: (id) => committed(() => activations.get(id)),
    findActivationByProviderId: (provider, providerActivationId) =>
      committed(() => {
        const id = activationByProviderId.get(providerKey(provider, providerActivationId));
        return id === undefined ? undefined : activations.get(id);
      }),
    listActivations: (filter = {}) =>
      committed(() =>
        selectPage(
          byCreation(
            [...activations.values()].filter(
              (a) =>
                (filter.walletId === undefined || a.walletId === filter.walletId) &&
                (filter.states === undefined || filter.states.includes(a.state)) &&
                inCreatedWindow(a.createdAtMs, filter),
            ),
          ),
          filter,
          afterCreated(
            filter.afterId,
            filter.afterId === undefined ? undefined : activations.get(filter.afterId),
          ),
        ),
      ),
    getRental: (id) => committed(() => rentals.get(id)),
    findRentalByProviderId: (provider, providerRentalId) =>
      committed(() => {
        const id = rentalByProviderId.get(providerKey(provider, providerRentalId));
        return id === undefined ? undefined : rentals.get(id);
      }),
    listRentals: (filter = {}) =>
      committed(() =>
        selectPage(
          byCreation(
            [...rentals.values()].filter(
              (r) =>
                (filter.walletId === undefined || r.walletId === filter.walletId) &&
                (filter.states === undefined || filter.states.includes(r.state)) &&
                inCreatedWindow(r.createdAtMs, filter),
            ),
          ),
          filter,
          afterCreated(
            filter.afterId,
            filter.afterId === undefined ? undefined : rentals.get(filter.afterId),
          ),
        ),
      ),
    listTransfers: (filter = {}) =>
      committed(() => {
        const source =
          filter.accountId === undefined ? transfers : (transfersByAccount.get(filter.accountId) ?? []);
        const afterSeq = filter.afterSeq ?? 0;
        const start = lowerBound(source, afterSeq);
        const end =
          filter.limit === undefined ? source.length : Math.min(source.length, start + filter.limit);
        return source.slice(start, end);
      }),
    getIdempotency: (key) => committed(() => idempotency.get(key)),
    listAudit: (filter = {}) =>
      committed(() => {
        // Insertion order: after the position of the row `afterId` (none when there is no such row).
        const from = filter.afterId === undefined ? 0 : audit.findIndex((a) => a.id === filter.afterId) + 1;
        const rows = from === 0 && filter.afterId !== undefined ? [] : audit.slice(from);
        return selectPage(
          filter.subjectId === undefined ? rows : rows.filter((a) => a.subjectId === filter.subjectId),
          { limit: filter.limit },
        );
      }),
    listDue: (query) =>
      committed(() =>
        selectDueWork(
          byCreation([...openActivations].map((id) => activations.get(id)!)),
          byCreation([...openRentals].map((id) => rentals.get(id)!)),
          query,
        ),
      ),
    healthStats: (query) => committed(() => healthStatsOf(activations.values(), query)),
  };

  return {
    read,
    commits: () => commits,
    pruneIdempotency: (query) =>
      exclusive(async () => {
        // Oldest first, as the database adapter deletes them; the map keeps insertion order, not creation order.
        const old = [...idempotency.values()]
          .filter((r) => r.createdAtMs < query.createdBeforeMs)
          .sort((a, b) => a.createdAtMs - b.createdAtMs || compareBytes(a.key, b.key))
          .slice(0, Math.max(0, query.limit));
        for (const r of old) idempotency.delete(r.key);
        return old.length;
      }),
    transaction<T>(work: (tx: StorageTx) => Promise<T>): Promise<T> {
      return exclusive(async () => {
        const journal = new Journal();
        let open = true;
        const live = () => {
          if (!open) throw new Error("the unit of work has ended: its transaction handle cannot be used");
        };
        const tx: StorageTx = {
          load: async (request) => {
            live();
            const walletIds = [...new Set(request.walletIds)].sort(compareBytes);
            const lockedWallets: WalletRecord[] = [];
            for (const id of walletIds) {
              const w = wallets.get(id);
              if (w !== undefined) lockedWallets.push(w);
            }
            const activation =
              request.activationId === undefined ? undefined : activations.get(request.activationId);
            const rental = request.rentalId === undefined ? undefined : rentals.get(request.rentalId);
            const holdIds = new Set(request.holdIds);
            if (activation !== undefined) holdIds.add(activation.holdId);
            if (rental !== undefined) for (const p of rental.periods) holdIds.add(p.holdId);
            const loadedHolds: HoldRecord[] = [];
            for (const id of [...holdIds].sort(compareBytes)) {
              const h = holds.get(id);
              if (h !== undefined) loadedHolds.push(h);
            }
            let operation: Loaded["operation"];
            if (request.operationId !== undefined) {
              let settledMinor = 0;
              let reversedMinor = 0;
              for (const walletId of walletIds) {
                for (const t of transfersByAccount.get(walletId) ?? NONE) {
                  if (t.operationId !== request.operationId) continue;
                  if (t.kind === "settle") settledMinor += t.amountMinor;
                  else if (t.kind === "reversal") reversedMinor += t.amountMinor;
                }
              }
              operation = { settledMinor, reversedMinor };
            }
            return {
              ...(operation === undefined ? {} : { operation }),
              wallets: lockedWallets,
              idempotency:
                request.idempotencyKey === undefined ? undefined : idempotency.get(request.idempotencyKey),
              activation,
              rental,
              holds: loadedHolds,
            };
          },
          apply: async (plan) => {
            live();
            // A failed apply writes nothing, like a failed statement: guards are checked before any write.
            apply(plan, journal);
          },
        };
        try {
          const result = await work(tx);
          open = false;
          commits++;
          return result;
        } catch (e) {
          open = false;
          journal.rollback();
          throw e;
        }
      });
    },
  };
}

const NONE: readonly never[] = Object.freeze([]);
const ABSENT = Symbol("absent");

/**
 * The undo log of a unit of work, kept as data rather than closures: the previous value of every map entry
 * written, the previous membership of every set member changed, and every array pushed to. Rolling back replays
 * it backwards.
 */
class Journal {
  readonly #maps: unknown[] = [];
  readonly #sets: unknown[] = [];
  readonly #arrays: unknown[][] = [];

  mapSet<K, V>(map: Map<K, V>, key: K, value: V): void {
    this.#maps.push(map, key, map.has(key) ? map.get(key) : ABSENT);
    map.set(key, value);
  }

  setMember<T>(set: Set<T>, member: T, present: boolean): void {
    this.#sets.push(set, member, set.has(member));
    if (present) set.add(member);
    else set.delete(member);
  }

  push<T>(array: T[], value: T): void {
    this.#arrays.push(array);
    array.push(value);
  }

  rollback(): void {
    const maps = this.#maps;
    for (let i = maps.length - 3; i >= 0; i -= 3) {
      const map = maps[i] as Map<unknown, unknown>;
      if (maps[i + 2] === ABSENT) map.delete(maps[i + 1]);
      else map.set(maps[i + 1], maps[i + 2]);
    }
    const sets = this.#sets;
    for (let i = sets.length - 3; i >= 0; i -= 3) {
      const set = sets[i] as Set<unknown>;
      if (sets[i + 2]) set.add(sets[i + 1]);
      else set.delete(sets[i + 1]);
    }
    for (let i = this.#arrays.length - 1; i >= 0; i--) this.#arrays[i]!.pop();
  }
}

/** First index in a seq-ordered list whose seq is greater than `afterSeq`. */
function lowerBound(list: readonly TransferRecord[], afterSeq: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]!.seq <= afterSeq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Checks in one pass that a value survives a JSON round trip unchanged (what a `jsonb` column would store) and
 * freezes it. Throws for anything else — `undefined` members, non-finite numbers, dates, class instances — as
 * the database adapter would store something different from what was returned.
 */
function frozenJson<T>(value: T, where: string): T {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") {
    if (Number.isFinite(value)) return value;
  } else if (Array.isArray(value)) {
    for (const v of value) frozenJson(v, where);
    return Object.freeze(value);
  } else if (typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    for (const key in value) frozenJson((value as Record<string, unknown>)[key], where);
    return Object.freeze(value);
  }
  throw new TypeError(`${where}: not JSON-safe: ${String(value)}`);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
