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
import {
  type CommitPlan,
  type DueWork,
  type Storage,
  StorageConflictError,
  type StorageReader,
  type StorageTx,
} from "../storage/port.js";

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

  function apply(plan: CommitPlan, undo: (() => void)[]): void {
    options.onApply?.(plan);
    checkGuards(plan);
    const set = <K, V>(map: Map<K, V>, key: K, value: V) => {
      const had = map.has(key);
      const previous = map.get(key);
      map.set(key, value);
      undo.push(() => (had ? map.set(key, previous as V) : map.delete(key)));
    };
    const setMember = (set: Set<string>, id: string, member: boolean) => {
      const was = set.has(id);
      if (member) set.add(id);
      else set.delete(id);
      undo.push(() => (was ? set.add(id) : set.delete(id)));
    };
    for (const w of plan.createWallets ?? []) set(wallets, w.id, deepFreeze({ ...w, version: 1 }));
    for (const d of plan.walletDeltas ?? []) {
      const w = wallets.get(d.walletId)!;
      set(
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
    for (const t of plan.transfers ?? []) {
      const stored = Object.freeze({ ...t, seq: transfers.length + 1 });
      transfers.push(stored);
      transferIds.add(t.id);
      for (const account of [t.debitAccountId, t.creditAccountId]) {
        let list = transfersByAccount.get(account);
        if (list === undefined) {
          list = [];
          transfersByAccount.set(account, list);
        }
        list.push(stored);
        const l = list;
        undo.push(() => l.pop());
      }
      undo.push(() => {
        transfers.pop();
        transferIds.delete(t.id);
      });
    }
    for (const h of plan.openHolds ?? []) set(holds, h.id, Object.freeze({ ...h }));
    for (const r of plan.resolveHolds ?? []) {
      const h = holds.get(r.holdId)!;
      set(
        holds,
        r.holdId,
        Object.freeze({ ...h, state: r.state, settledMinor: r.settledMinor, resolvedAtMs: r.resolvedAtMs }),
      );
    }
    for (const { record } of plan.activations ?? []) {
      const version = (activations.get(record.id)?.version ?? 0) + 1;
      set(activations, record.id, deepFreeze({ ...record, version }));
      if (record.providerActivationId !== null) {
        set(activationByProviderId, providerKey(record.provider, record.providerActivationId), record.id);
      }
      setMember(openActivations, record.id, record.state === "pending" || record.state === "waiting");
    }
    for (const { record } of plan.rentals ?? []) {
      const version = (rentals.get(record.id)?.version ?? 0) + 1;
      set(rentals, record.id, deepFreeze({ ...record, version }));
      setMember(openRentals, record.id, record.state === "pending" || record.state === "active");
    }
    if (plan.idempotency !== undefined) {
      const i = plan.idempotency;
      set(
        idempotency,
        i.key,
        Object.freeze({ ...i, result: frozenJson(i.result ?? null, `idempotency ${i.key}`) }),
      );
    }
    for (const a of plan.audit ?? []) {
      audit.push(Object.freeze({ ...a }));
      auditIds.add(a.id);
      undo.push(() => {
        audit.pop();
        auditIds.delete(a.id);
      });
    }
  }

  /** Checks every guard of the plan against the current state (plus the plan's own earlier rows). */
  function checkGuards(plan: CommitPlan): void {
    const conflict = (guard: string, message: string): never => {
      throw new StorageConflictError(guard, message);
    };
    const created = new Map<string, WalletRecord>();
    for (const w of plan.createWallets ?? []) {
      if (wallets.has(w.id) || created.has(w.id)) conflict("unique:wallets", `wallet ${w.id} exists`);
      created.set(w.id, w);
    }
    const counters = new Map<string, { balance: number; frozen: number }>();
    for (const d of plan.walletDeltas ?? []) {
      const w = wallets.get(d.walletId) ?? created.get(d.walletId);
      if (w === undefined)
        throw new StorageConflictError("wallet_missing", `wallet ${d.walletId} does not exist`);
      const c = counters.get(d.walletId) ?? { balance: w.balanceMinor, frozen: w.frozenMinor };
      c.balance += d.balanceDeltaMinor;
      c.frozen += d.frozenDeltaMinor;
      counters.set(d.walletId, c);
      if (c.balance < 0 || c.frozen < 0 || c.balance - c.frozen < 0) {
        conflict(
          "wallet_counters",
          `wallet ${d.walletId} would have balance ${c.balance}, frozen ${c.frozen}`,
        );
      }
    }
    const newTransfers = new Set<string>();
    for (const t of plan.transfers ?? []) {
      if (transferIds.has(t.id) || newTransfers.has(t.id))
        conflict("unique:transfers", `transfer ${t.id} exists`);
      if (!(t.amountMinor > 0) || t.debitAccountId === t.creditAccountId)
        conflict("transfer", `bad transfer ${t.id}`);
      newTransfers.add(t.id);
    }
    const newHolds = new Set<string>();
    for (const h of plan.openHolds ?? []) {
      if (holds.has(h.id) || newHolds.has(h.id)) conflict("unique:holds", `hold ${h.id} exists`);
      if (!(h.amountMinor > 0)) conflict("hold_amount", `hold ${h.id} amount ${h.amountMinor}`);
      newHolds.add(h.id);
    }
    const resolved = new Set<string>();
    for (const r of plan.resolveHolds ?? []) {
      const h = holds.get(r.holdId);
      if (h === undefined || h.state !== "open" || resolved.has(r.holdId)) {
        conflict("hold_not_open", `hold ${r.holdId} is not open`);
      } else if (r.settledMinor < 0 || r.settledMinor > h.amountMinor) {
        conflict("hold_settled", `hold ${r.holdId} settles ${r.settledMinor} of ${h.amountMinor}`);
      }
      resolved.add(r.holdId);
    }
    checkVersions("activations", activations, plan.activations ?? []);
    checkVersions("rentals", rentals, plan.rentals ?? []);
    for (const { record } of plan.activations ?? []) {
      if (record.providerActivationId === null) continue;
      const owner = activationByProviderId.get(providerKey(record.provider, record.providerActivationId));
      if (owner !== undefined && owner !== record.id) {
        conflict(
          "unique:activations_provider_id",
          `provider activation ${record.providerActivationId} is taken`,
        );
      }
    }
    if (plan.idempotency !== undefined && idempotency.has(plan.idempotency.key)) {
      conflict("unique:idempotency", `idempotency key ${plan.idempotency.key} exists`);
    }
    for (const a of plan.audit ?? [])
      if (auditIds.has(a.id)) conflict("unique:audit", `audit row ${a.id} exists`);
  }

  function checkVersions<T extends { id: string; version: number }>(
    table: string,
    rows: Map<string, T>,
    writes: readonly { record: T; expectedVersion: number | null }[],
  ): void {
    const seen = new Set<string>();
    for (const { record, expectedVersion } of writes) {
      if (seen.has(record.id))
        throw new StorageConflictError("version", `${table} ${record.id} written twice`);
      seen.add(record.id);
      const stored = rows.get(record.id);
      if (expectedVersion === null ? stored !== undefined : stored?.version !== expectedVersion) {
        throw new StorageConflictError(
          expectedVersion === null ? `unique:${table}` : "version",
          `${table} ${record.id}: expected version ${expectedVersion}, stored ${stored?.version ?? "none"}`,
        );
      }
    }
  }

  const sortedById = <T extends { id: string }>(list: Iterable<T>) =>
    [...list].sort((a, b) => compareBytes(a.id, b.id));
  const byCreation = <T extends { id: string; createdAtMs: number }>(list: T[]) =>
    list.sort((a, b) => a.createdAtMs - b.createdAtMs || compareBytes(a.id, b.id));

  const read: StorageReader = {
    getWallet: (id) => committed(() => wallets.get(id)),
    listWallets: () => committed(() => sortedById(wallets.values())),
    getHold: (id) => committed(() => holds.get(id)),
    listHolds: (filter = {}) =>
      committed(() =>
        sortedById(
          [...holds.values()].filter(
            (h) =>
              (filter.state === undefined || h.state === filter.state) &&
              (filter.walletId === undefined || h.walletId === filter.walletId),
          ),
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
        byCreation(
          [...activations.values()].filter(
            (a) =>
              (filter.walletId === undefined || a.walletId === filter.walletId) &&
              (filter.states === undefined || filter.states.includes(a.state)),
          ),
        ),
      ),
    getRental: (id) => committed(() => rentals.get(id)),
    listRentals: (filter = {}) =>
      committed(() =>
        byCreation(
          [...rentals.values()].filter(
            (r) =>
              (filter.walletId === undefined || r.walletId === filter.walletId) &&
              (filter.states === undefined || filter.states.includes(r.state)),
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
      committed(() =>
        filter.subjectId === undefined ? [...audit] : audit.filter((a) => a.subjectId === filter.subjectId),
      ),
    listDue: ({ nowMs, pendingBeforeMs, limit }) =>
      committed((): DueWork => {
        const open = byCreation([...openActivations].map((id) => activations.get(id)!));
        const openR = byCreation([...openRentals].map((id) => rentals.get(id)!));
        return {
          activationsPastDeadline: open
            .filter((a) => a.state === "waiting" && a.deadlineAtMs !== null && a.deadlineAtMs <= nowMs)
            .slice(0, limit),
          rentalsPastEnd: openR
            .filter((r) => r.state === "active" && r.endsAtMs !== null && r.endsAtMs <= nowMs)
            .slice(0, limit),
          pendingActivations: open
            .filter((a) => a.state === "pending" && a.createdAtMs <= pendingBeforeMs)
            .slice(0, limit),
          pendingRentals: openR
            .filter((r) => r.state === "pending" && r.createdAtMs <= pendingBeforeMs)
            .slice(0, limit),
        };
      }),
  };

  return {
    read,
    commits: () => commits,
    transaction<T>(work: (tx: StorageTx) => Promise<T>): Promise<T> {
      return exclusive(async () => {
        const undo: (() => void)[] = [];
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
            return {
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
            const mark = undo.length;
            try {
              apply(plan, undo);
            } catch (e) {
              // A failed apply writes nothing, like a failed statement.
              for (const step of undo.splice(mark).reverse()) step();
              throw e;
            }
          },
        };
        try {
          const result = await work(tx);
          open = false;
          commits++;
          return result;
        } catch (e) {
          open = false;
          for (const step of undo.reverse()) step();
          throw e;
        }
      });
    },
  };
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
