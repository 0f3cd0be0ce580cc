import type {
  ActivationRecord,
  HoldRecord,
  IdempotencyRecord,
  RentalRecord,
  WalletRecord,
} from "../core/records.js";
import { isPlatformAccountId } from "../core/records.js";
import type { CommitPlan, Loaded, LoadRequest } from "../storage/port.js";
import {
  activationColumns,
  type Columns,
  holdColumns,
  idempotencyColumns,
  rentalColumns,
  walletColumns,
} from "./columns.js";

/**
 * The rows a unit of work reads, as the speculative unit of work keeps them (see `docs/postgres.md`): committed
 * wallets, holds, activations and rentals (each with the ids of the holds it owns, when known) and idempotency
 * records. A per-process cache holds the committed ones; a unit of work reads through a {@link RowView} over it,
 * which also records what it read from the cache (the read set the commit re-checks) and keeps the unit's own
 * writes (and, in a group commit, those of the units before it).
 */
export type CachedRow =
  | { readonly kind: "wallet"; readonly row: WalletRecord }
  | { readonly kind: "hold"; readonly row: HoldRecord }
  | {
      readonly kind: "activation";
      readonly row: ActivationRecord;
      /** The ids of the holds it owns, byte-ordered; `undefined` when not known. */
      readonly owned: readonly string[] | undefined;
    }
  | { readonly kind: "rental"; readonly row: RentalRecord; readonly owned: readonly string[] | undefined }
  | { readonly kind: "idempotency"; readonly row: IdempotencyRecord };

/** A row known not to exist (read so, or assumed so and re-checked at commit). */
export const ABSENT = "absent" as const;
/** A row this unit wrote without knowing what it held before: nobody may read it from the cache. */
export const UNKNOWN = "unknown" as const;

type Slot = CachedRow | typeof ABSENT | typeof UNKNOWN;

type RowKind = CachedRow["kind"];

const keyOf = (kind: RowKind, id: string) => `${kind}\u0000${id}`;

/** Byte order of UTF-8 strings (PostgreSQL's `COLLATE "C"`), which is code point order. */
export function compareBytes(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i) as number;
    const y = b.codePointAt(i) as number;
    if (x !== y) return x < y ? -1 : 1;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

/** A record as a read from its table returns it: missing fields null, JSON as it round-trips, nothing else. */
function normalize<T>(columns: Columns<T>, record: T): T {
  const source = record as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const c of columns) {
    const value = source[c.field];
    if (value === undefined || value === null) out[c.field] = null;
    else if (c.type === "jsonb") out[c.field] = JSON.parse(JSON.stringify(value));
    else out[c.field] = value;
  }
  return out as T;
}

/** Whether `next` may replace `current` in the cache: never an older version over a newer one. */
function notOlder(next: CachedRow, current: CachedRow): boolean {
  if (next.kind === "hold" && current.kind === "hold")
    return !(next.row.state === "open" && current.row.state !== "open");
  if (next.kind === "idempotency" || next.kind === "hold") return true;
  return next.row.version >= (current.row as { readonly version: number }).version;
}

/**
 * The bounded per-process cache of committed rows. Only rows known committed are put here: what a locking load
 * read, and what a unit of work wrote once its COMMIT was answered.
 *
 * Least recently used rows go first, in two generations rather than one exact order: rows used since the last turn
 * are young, the others old; a row used while old becomes young again; once the young hold half the capacity, the
 * old are dropped and the young become old. A row therefore stays at least half the capacity's worth of uses after
 * its last one, and the cache never holds more than its capacity, at the cost of two map operations per use (an
 * exact order costs a delete and a set per read and an iterator per eviction, which showed in the profile of the
 * hot path).
 */
export class RowCache {
  #young = new Map<string, CachedRow>();
  #old = new Map<string, CachedRow>();
  readonly #half: number;
  /** Test hook only: the version each cached row replaced, served when `stale` says so. */
  readonly #previous = new Map<string, CachedRow>();

  constructor(
    /** Most rows kept. */
    readonly capacity: number,
    /** Test hook: when it answers true, a read is served a stale row (its previous version, as another instance would leave it). */
    private readonly stale?: () => boolean,
  ) {
    this.#half = Math.max(1, Math.floor(capacity / 2));
  }

  /** The row under `key` in either generation (an old one becomes young again), or `undefined`. */
  #find(key: string): CachedRow | undefined {
    const young = this.#young.get(key);
    if (young !== undefined) return young;
    const old = this.#old.get(key);
    if (old === undefined) return undefined;
    this.#old.delete(key);
    this.#keep(key, old);
    return old;
  }

  /** Stores `row` as young, turning the generations once the young fill their half. */
  #keep(key: string, row: CachedRow): void {
    this.#young.set(key, row);
    if (this.#young.size < this.#half) return;
    if (this.stale !== undefined) for (const gone of this.#old.keys()) this.#previous.delete(gone);
    this.#old = this.#young;
    this.#young = new Map();
  }

  /** The cached row, or `undefined`. */
  get(key: string): CachedRow | undefined {
    const row = this.#find(key);
    if (row === undefined) return undefined;
    if (this.stale?.()) return this.#previous.get(key) ?? corrupt(row);
    return row;
  }

  /** The wallet of a cached hold (which never changes), or `undefined` when the hold is not cached. */
  holdWallet(holdId: string): string | undefined {
    const key = keyOf("hold", holdId);
    const slot = this.#young.get(key) ?? this.#old.get(key);
    return slot?.kind === "hold" ? slot.row.walletId : undefined;
  }

  /** Stores a committed row (unless a newer version is cached already). */
  put(key: string, row: CachedRow): void {
    const current = this.#young.get(key) ?? this.#old.get(key);
    if (current !== undefined) {
      if (!notOlder(row, current)) return;
      if (this.stale !== undefined) this.#previous.set(key, current);
      this.#old.delete(key);
    }
    this.#keep(key, row);
  }

  /** Forgets a row. */
  drop(key: string): void {
    this.#young.delete(key);
    this.#old.delete(key);
  }

  /** How many rows are cached. */
  get size(): number {
    return this.#young.size + this.#old.size;
  }
}

/** A row as another writer would have left it behind this cache: an older version (tests only). */
function corrupt(row: CachedRow): CachedRow {
  if (row.kind === "wallet") return { kind: "wallet", row: { ...row.row, version: row.row.version - 1 } };
  if (row.kind === "hold")
    return {
      kind: "hold",
      row: row.row.state === "open" ? { ...row.row, state: "released", resolvedAtMs: 0 } : row.row,
    };
  if (row.kind === "activation")
    return { kind: "activation", row: { ...row.row, version: row.row.version - 1 }, owned: row.owned };
  if (row.kind === "rental")
    return { kind: "rental", row: { ...row.row, version: row.row.version - 1 }, owned: row.owned };
  return row;
}

/** What a unit of work read from the cache, to be re-checked by its commit. */
export interface ReadSet {
  readonly wallets: readonly WalletRecord[];
  readonly holds: readonly HoldRecord[];
  readonly absentHolds: readonly string[];
  readonly activations: readonly { readonly row: ActivationRecord; readonly owned: readonly string[] }[];
  readonly absentActivations: readonly string[];
  readonly rentals: readonly { readonly row: RentalRecord; readonly owned: readonly string[] }[];
  readonly absentRentals: readonly string[];
  readonly idempotency: readonly string[];
  readonly absentIdempotency: readonly string[];
}

/**
 * The rows one unit of work (or one group of them) sees: its own writes over those of its parent, over the cache.
 * Reads that reach the cache are recorded (the read set). Rows read under a lock from the database are put in
 * with {@link RowView.loaded}: they are current and need no re-check.
 */
export class RowView {
  readonly #rows = new Map<string, Slot>();
  /** Reads that reached the cache (or assumed a row absent), by key, in the order made. */
  readonly #base = new Map<string, CachedRow | typeof ABSENT>();

  constructor(
    private readonly cache: RowCache | undefined,
    private readonly parent?: RowView,
  ) {}

  /** A view over this one for the next unit of a group; {@link merge} folds it in, or it is dropped. */
  child(): RowView {
    return new RowView(this.cache, this);
  }

  /** Folds a child's reads and writes into this view. */
  merge(child: RowView): void {
    for (const [k, v] of child.#base) if (!this.#base.has(k)) this.#base.set(k, v);
    for (const [k, v] of child.#rows) this.#rows.set(k, v);
  }

  /** The slot of `key` in this view or its parents, without reaching the cache. */
  #local(key: string): Slot | undefined {
    for (let v: RowView | undefined = this; v !== undefined; v = v.parent) {
      const slot = v.#rows.get(key);
      if (slot !== undefined) return slot;
    }
    return undefined;
  }

  /**
   * Reads a row for a decision: from the view, else from the cache (recorded in the read set). `undefined` when
   * the view cannot answer (a wallet not cached, a row written without being read, `absentOk` false).
   */
  #read(kind: RowKind, id: string, absentOk: boolean): CachedRow | typeof ABSENT | undefined {
    const key = keyOf(kind, id);
    const local = this.#local(key);
    if (local === UNKNOWN) return undefined;
    if (local !== undefined) return local;
    if (this.cache === undefined) return undefined;
    const cached = this.cache.get(key);
    const slot = cached ?? (absentOk ? ABSENT : undefined);
    if (slot === undefined) return undefined;
    this.#rows.set(key, slot);
    this.#base.set(key, slot);
    return slot;
  }

  /**
   * Answers a load from the view, or `undefined` when some part of it is not cached: a wallet, an activation or
   * rental whose holds are not known, a row written blind, an operation sum. Rows that are not cached and may be
   * absent (holds, activations, rentals, idempotency records) are assumed absent; the commit re-checks that.
   */
  answer(request: LoadRequest): Loaded | undefined {
    if (request.operationId !== undefined) return undefined;
    const walletIds = [...new Set(request.walletIds)].filter((id) => !isPlatformAccountId(id));
    walletIds.sort(compareBytes);
    const wallets: WalletRecord[] = [];
    for (const id of walletIds) {
      const slot = this.#read("wallet", id, false);
      if (slot === undefined) return undefined;
      if (slot !== ABSENT && slot.kind === "wallet") wallets.push(slot.row);
    }
    let idempotency: IdempotencyRecord | undefined;
    if (request.idempotencyKey !== undefined) {
      const slot = this.#read("idempotency", request.idempotencyKey, true);
      if (slot === undefined) return undefined;
      if (slot !== ABSENT && slot.kind === "idempotency") idempotency = slot.row;
    }
    const holdIds = new Set(request.holdIds ?? []);
    const owner = (kind: "activation" | "rental", id: string | undefined) => {
      if (id === undefined) return { ok: true as const, row: undefined };
      const slot = this.#read(kind, id, true);
      if (slot === undefined) return { ok: false as const };
      if (slot === ABSENT) return { ok: true as const, row: undefined };
      if (slot.kind !== kind || slot.owned === undefined) return { ok: false as const };
      for (const h of slot.owned) holdIds.add(h);
      return { ok: true as const, row: slot.row };
    };
    const activation = owner("activation", request.activationId);
    if (!activation.ok) return undefined;
    const rental = owner("rental", request.rentalId);
    if (!rental.ok) return undefined;
    const holds: HoldRecord[] = [];
    for (const id of [...holdIds].sort(compareBytes)) {
      const slot = this.#read("hold", id, true);
      if (slot === undefined) return undefined;
      if (slot !== ABSENT && slot.kind === "hold") holds.push(slot.row);
    }
    return {
      wallets,
      idempotency,
      activation: activation.row as ActivationRecord | undefined,
      rental: rental.row as RentalRecord | undefined,
      holds,
    };
  }

  /** Puts what a locking load read (current rows, under the wallet locks) into the view. */
  loaded(request: LoadRequest, loaded: Loaded): void {
    for (const w of loaded.wallets) this.#rows.set(keyOf("wallet", w.id), { kind: "wallet", row: w });
    for (const h of loaded.holds) this.#rows.set(keyOf("hold", h.id), { kind: "hold", row: h });
    for (const id of request.holdIds ?? [])
      if (!loaded.holds.some((h) => h.id === id)) this.#rows.set(keyOf("hold", id), ABSENT);
    if (request.idempotencyKey !== undefined)
      this.#rows.set(
        keyOf("idempotency", request.idempotencyKey),
        loaded.idempotency === undefined ? ABSENT : { kind: "idempotency", row: loaded.idempotency },
      );
    const owned = (type: "activation" | "rental", id: string) =>
      loaded.holds
        .filter((h) => h.ownerType === type && h.ownerId === id)
        .map((h) => h.id)
        .sort(compareBytes);
    if (request.activationId !== undefined) {
      const id = request.activationId;
      this.#rows.set(
        keyOf("activation", id),
        loaded.activation === undefined
          ? ABSENT
          : { kind: "activation", row: loaded.activation, owned: owned("activation", id) },
      );
    }
    if (request.rentalId !== undefined) {
      const id = request.rentalId;
      this.#rows.set(
        keyOf("rental", id),
        loaded.rental === undefined
          ? ABSENT
          : { kind: "rental", row: loaded.rental, owned: owned("rental", id) },
      );
    }
  }

  /** A row this unit (or a group member before it) holds, never from the cache. */
  #mine(kind: RowKind, id: string): CachedRow | typeof ABSENT | undefined {
    const slot = this.#local(keyOf(kind, id));
    return slot === UNKNOWN ? undefined : slot;
  }

  /**
   * Applies a commit plan to the view as the database applies it (`plan.ts`): new rows at version 1, each wallet
   * delta one version more, resolutions, versioned writes at the expected version plus one. A row changed
   * without having been read by this unit becomes unknown (never served, dropped from the cache at commit).
   */
  apply(plan: CommitPlan): void {
    const set = (kind: RowKind, id: string, slot: Slot) => this.#rows.set(keyOf(kind, id), slot);
    for (const w of plan.createWallets ?? [])
      set("wallet", w.id, { kind: "wallet", row: normalize(walletColumns, { ...w, version: 1 }) });
    for (const d of plan.walletDeltas ?? []) {
      const slot = this.#mine("wallet", d.walletId);
      if (slot === undefined || slot === ABSENT || slot.kind !== "wallet") {
        set("wallet", d.walletId, UNKNOWN);
        continue;
      }
      const w = slot.row;
      set("wallet", w.id, {
        kind: "wallet",
        row: {
          ...w,
          balanceMinor: w.balanceMinor + d.balanceDeltaMinor,
          frozenMinor: w.frozenMinor + d.frozenDeltaMinor,
          version: w.version + 1,
        },
      });
    }
    for (const h of plan.openHolds ?? []) {
      set("hold", h.id, { kind: "hold", row: normalize(holdColumns, h) });
      if (h.ownerType === "activation" || h.ownerType === "rental") {
        const slot = this.#mine(h.ownerType, h.ownerId);
        if (slot === undefined) set(h.ownerType, h.ownerId, UNKNOWN);
        else if (slot !== ABSENT && (slot.kind === "activation" || slot.kind === "rental"))
          set(h.ownerType, h.ownerId, {
            ...slot,
            owned: slot.owned === undefined ? undefined : [...slot.owned, h.id].sort(compareBytes),
          } as CachedRow);
      }
    }
    for (const r of plan.resolveHolds ?? []) {
      const slot = this.#mine("hold", r.holdId);
      if (slot === undefined || slot === ABSENT || slot.kind !== "hold") {
        set("hold", r.holdId, UNKNOWN);
        continue;
      }
      set("hold", r.holdId, {
        kind: "hold",
        row: { ...slot.row, state: r.state, settledMinor: r.settledMinor, resolvedAtMs: r.resolvedAtMs },
      });
    }
    const versioned = <K extends "activation" | "rental">(
      kind: K,
      columns: Columns<K extends "activation" ? ActivationRecord : RentalRecord>,
      writes: readonly {
        readonly record: ActivationRecord | RentalRecord;
        readonly expectedVersion: number | null;
      }[],
    ) => {
      for (const { record, expectedVersion } of writes) {
        const before = this.#mine(kind, record.id);
        const owned =
          expectedVersion === null
            ? ownedIn(plan, kind, record.id)
            : before !== undefined && before !== ABSENT && "owned" in before
              ? before.owned
              : undefined;
        const row = normalize(columns as Columns<unknown>, {
          ...record,
          version: expectedVersion === null ? 1 : expectedVersion + 1,
        });
        set(kind, record.id, { kind, row, owned } as CachedRow);
      }
    };
    versioned("activation", activationColumns, plan.activations ?? []);
    versioned("rental", rentalColumns, plan.rentals ?? []);
    if (plan.idempotency !== undefined)
      set("idempotency", plan.idempotency.key, {
        kind: "idempotency",
        row: normalize(idempotencyColumns, plan.idempotency),
      });
  }

  /** The reads that reached the cache, to be re-checked by the commit. */
  readSet(): ReadSet {
    const out = {
      wallets: [] as WalletRecord[],
      holds: [] as HoldRecord[],
      absentHolds: [] as string[],
      activations: [] as { row: ActivationRecord; owned: readonly string[] }[],
      absentActivations: [] as string[],
      rentals: [] as { row: RentalRecord; owned: readonly string[] }[],
      absentRentals: [] as string[],
      idempotency: [] as string[],
      absentIdempotency: [] as string[],
    };
    for (const [key, slot] of this.#base) {
      const [kind, id] = key.split("\u0000") as [RowKind, string];
      if (slot === ABSENT) {
        if (kind === "hold") out.absentHolds.push(id);
        else if (kind === "activation") out.absentActivations.push(id);
        else if (kind === "rental") out.absentRentals.push(id);
        else if (kind === "idempotency") out.absentIdempotency.push(id);
        continue;
      }
      if (slot.kind === "wallet") out.wallets.push(slot.row);
      else if (slot.kind === "hold") out.holds.push(slot.row);
      else if (slot.kind === "activation") out.activations.push({ row: slot.row, owned: slot.owned ?? [] });
      else if (slot.kind === "rental") out.rentals.push({ row: slot.row, owned: slot.owned ?? [] });
      else out.idempotency.push(id);
    }
    out.wallets.sort((a, b) => compareBytes(a.id, b.id));
    return out;
  }

  /** Whether anything was read from the cache. */
  get speculated(): boolean {
    return this.#base.size > 0;
  }

  /** Stores this view's rows in the cache: call only once its COMMIT was answered. */
  commitTo(cache: RowCache): void {
    for (const [key, slot] of this.#rows) {
      if (slot === UNKNOWN || slot === ABSENT) cache.drop(key);
      else cache.put(key, slot);
    }
  }

  /** Drops from the cache every row this view read or wrote (after a failed or unknown commit). */
  forget(cache: RowCache): void {
    for (const key of this.#rows.keys()) cache.drop(key);
    for (const key of this.#base.keys()) cache.drop(key);
  }
}

/** The holds a plan opens for an owner it inserts. */
function ownedIn(plan: CommitPlan, kind: "activation" | "rental", id: string): string[] {
  return (plan.openHolds ?? [])
    .filter((h) => h.ownerType === kind && h.ownerId === id)
    .map((h) => h.id)
    .sort(compareBytes);
}
