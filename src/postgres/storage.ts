import type {
  ActivationRecord,
  ActivationState,
  AuditRecord,
  HoldRecord,
  IdempotencyRecord,
  RentalRecord,
  TransferRecord,
  WalletRecord,
} from "../core/records.js";
import { isPlatformAccountId } from "../core/records.js";
import { findUnstorableText, isStorableText } from "../core/storable-text.js";
import type { HealthStats } from "../health/stats.js";
import type {
  CommitPlan,
  CreatedWindow,
  DueQuery,
  DueWork,
  HealthStatsQuery,
  IdempotencyPruneQuery,
  Loaded,
  LoadRequest,
  PageQuery,
  Storage,
  StorageReader,
  StorageTx,
} from "../storage/port.js";
import {
  activationColumns,
  auditColumns,
  type Columns,
  holdColumns,
  idempotencyColumns,
  readRow,
  rentalColumns,
  selectList,
  transferColumns,
  walletColumns,
} from "./columns.js";
import { CommitBatcher, type CommitOutcome } from "./commit-batch.js";
import { asConflict, asConnectionLoss, isRetryable, sqlState } from "./errors.js";
import { type GroupOutcome, Lanes, type Member } from "./group-commit.js";
import { queryHealthStats } from "./health-stats.js";
import { groupSections, planSections, renderSections, type Section } from "./plan.js";
import {
  allResults,
  lastResult,
  type PoolClientLike,
  type PoolLike,
  type Queryable,
  type QueryResultLike,
} from "./queryable.js";
import { readSetGuards } from "./read-check.js";
import { RowCache, RowView } from "./row-cache.js";
import { quoteIdent, quoteLiteral } from "./sql.js";

/** The schema the migrations create when none is given. */
export const DEFAULT_SCHEMA = "sms_fes";

/** How many times `transaction` reruns a unit of work after a deadlock or a serialization failure. */
export const DEFAULT_MAX_RETRIES = 8;

/** Options of {@link createPostgresStorage}. */
export interface PostgresStorageOptions {
  /** A `pg.Pool`, or anything with the same `query`/`connect` shape. */
  readonly pool: PoolLike;
  /** The schema the migrations were applied to; default `sms_fes`. */
  readonly schema?: string;
  /** Reruns of a unit of work after a deadlock (40P01) or serialization failure (40001); default 8. */
  readonly maxRetries?: number;
  /**
   * Called when an idle connection of the pool dies (a database restart, a failover, an idle timeout upstream).
   * The adapter listens for the pool's `error` event so that such a death never ends the process (an `error`
   * event without a listener does); the pool drops the connection and opens a new one when asked. Default: ignore.
   */
  readonly onIdleConnectionError?: (error: Error) => void;
  /**
   * Speculative units of work (default on): a unit of work whose loads the cache of committed rows can answer
   * skips the locking load and sends its plan in one message with a re-check of every row it read (see
   * `docs/postgres.md`). Off: every unit of work takes its locks with the load.
   */
  readonly speculative?: boolean;
  /**
   * How many committed rows the per-process cache keeps at most (least recently used out, in two generations: a row
   * stays at least `cacheSize / 2` uses of other rows after its last use); default 10,000.
   */
  readonly cacheSize?: number;
  /**
   * Group commit per wallet (default on, with the speculative path): units of work on the same single wallet that
   * arrive while one is in flight wait in the process and commit together, in one transaction (see
   * `docs/postgres.md`). Off: each unit of work commits on its own.
   */
  readonly groupCommit?: boolean;
  /** Most units of work in one group commit; default 64. */
  readonly maxGroupSize?: number;
  /**
   * Commit batching (default on): a commit that is a whole transaction by itself (a speculative unit, a group, an
   * `apply` without a `load`) waits while `maxCommitsInFlight` of them are in flight, and the waiting ones go out
   * together as one message, one transaction, when one is answered (see `docs/postgres.md`).
   */
  readonly commitBatching?: boolean;
  /** Most commit messages in flight at once with commit batching; default 4. */
  readonly maxCommitsInFlight?: number;
  /** Most commits in one batch; default 64. */
  readonly maxBatchSize?: number;
  /**
   * For tests of the speculative path only: called on each read from the cache; when it answers `true` the read
   * is served a stale row (the row's previous version, as a writer behind the cache's back would leave it).
   */
  readonly staleCacheReads?: () => boolean;
}

/** The PostgreSQL storage, with counters of its speculative path. */
export interface PostgresStorage extends Storage {
  /** What the speculative path did since the storage was made. */
  speculationStats(): SpeculationStats;
}

/** Counters of the speculative path. */
export interface SpeculationStats {
  /** Units of work committed in one round trip from cached rows. */
  readonly committed: number;
  /** Speculative units whose re-check or plan failed (a stale cache, a key taken): rerun under the locks. */
  readonly missed: number;
  /** Speculative units whose decision failed (a business error, say), confirmed by a rerun under the locks. */
  readonly confirmed: number;
  /** Units of work that took their locks with the load. */
  readonly locking: number;
  /** Group commits sent (each one transaction for several units of work; the units count in `committed`). */
  readonly groups: number;
}

/** How many committed rows the cache keeps by default. */
export const DEFAULT_CACHE_SIZE = 10_000;

/** Most units of work in one group commit by default. */
export const DEFAULT_MAX_GROUP_SIZE = 64;

/** Most commit messages in flight at once by default, with commit batching. */
export const DEFAULT_MAX_COMMITS_IN_FLIGHT = 4;

/** Most commits in one batch by default. */
export const DEFAULT_MAX_BATCH_SIZE = 64;

/**
 * A locking unit of work runs at READ COMMITTED with row locks (a speculative commit, which sends no `BEGIN`, runs at
 * the session's default level: see `implicitTransaction`). Writers of a wallet are serialized by
 * `SELECT … FOR UPDATE` on its row, and under READ COMMITTED each later statement takes a fresh snapshot, so the
 * reads after the lock see everything the previous lock holder committed. REPEATABLE READ would instead keep the
 * snapshot of the first statement and fail the second locker of a hot wallet with a serialization error (a retry
 * per contended operation); SERIALIZABLE adds predicate locks and false-positive aborts on top. What the wallet
 * lock does not serialize is caught by the guards of `apply`, which are conditional updates re-checked against the
 * latest row version.
 */
const BEGIN = "BEGIN ISOLATION LEVEL READ COMMITTED";

/** The schema-qualified statements of one storage, built once. */
class Statements {
  readonly selectWallets: string;
  readonly selectIdempotency: string;
  readonly selectActivation: string;
  readonly selectRental: string;
  readonly selectHolds: string;
  readonly getWallet: string;
  readonly listWallets: string;
  readonly getIdempotency: string;
  readonly getHold: string;
  readonly getHoldWallet: string;
  readonly getActivation: string;
  readonly findActivationByProviderId: string;
  readonly getRental: string;
  readonly findRentalByProviderId: string;
  readonly dueActivations: string;
  readonly dueRentals: string;
  readonly pendingActivations: string;
  readonly pendingRentals: string;

  constructor(readonly schema: string) {
    const s = schema;
    const from = <T>(columns: Columns<T>, table: string) =>
      `SELECT ${selectList(columns)} FROM ${s}.${table}`;
    this.selectWallets = from(walletColumns, "wallets");
    this.selectIdempotency = from(idempotencyColumns, "idempotency_keys");
    this.selectActivation = from(activationColumns, "activations");
    this.selectRental = from(rentalColumns, "rentals");
    this.selectHolds = from(holdColumns, "holds");
    this.getWallet = `${from(walletColumns, "wallets")} WHERE id = $1`;
    this.listWallets = `${from(walletColumns, "wallets")} ORDER BY id COLLATE "C"`;
    this.getIdempotency = `${from(idempotencyColumns, "idempotency_keys")} WHERE key = $1`;
    this.getHold = `${from(holdColumns, "holds")} WHERE id = $1`;
    this.getHoldWallet = `SELECT wallet_id FROM ${s}.holds WHERE id = $1`;
    this.getActivation = `${from(activationColumns, "activations")} WHERE id = $1`;
    this.findActivationByProviderId = `${from(activationColumns, "activations")} WHERE provider = $1 AND provider_activation_id = $2 ORDER BY created_at_ms, id COLLATE "C" LIMIT 1`;
    this.getRental = `${from(rentalColumns, "rentals")} WHERE id = $1`;
    this.findRentalByProviderId = `${from(rentalColumns, "rentals")} WHERE provider = $1 AND provider_rental_id = $2`;
    // Each of the sweeper's four questions is a range scan of its own partial index (see the migrations).
    // $3 is the provider (NULL: every provider); the due questions also find lost end steps ($4: pendingBeforeMs).
    const ours = "($3::text IS NULL OR provider = $3)";
    const endAsked = "(end_request IS NOT NULL AND (end_request->>'atMs')::bigint <= $4)";
    this.dueActivations = `${from(activationColumns, "activations")} WHERE state = 'waiting' AND (deadline_at_ms <= $1 OR ${endAsked}) AND ${ours} ORDER BY created_at_ms, id COLLATE "C" LIMIT $2`;
    this.dueRentals = `${from(rentalColumns, "rentals")} WHERE state = 'active' AND (ends_at_ms <= $1 OR ${endAsked}) AND ${ours} ORDER BY created_at_ms, id COLLATE "C" LIMIT $2`;
    this.pendingActivations = `${from(activationColumns, "activations")} WHERE state = 'pending' AND created_at_ms <= $1 AND ${ours} ORDER BY created_at_ms, id COLLATE "C" LIMIT $2`;
    this.pendingRentals = `${from(rentalColumns, "rentals")} WHERE state = 'pending' AND created_at_ms <= $1 AND ${ours} ORDER BY created_at_ms, id COLLATE "C" LIMIT $2`;
  }
}

async function rows(
  db: Queryable,
  text: string,
  values?: unknown[],
): Promise<readonly Record<string, unknown>[]> {
  return lastResult(await db.query(text, values)).rows;
}

async function one<T>(
  db: Queryable,
  columns: Columns<T>,
  text: string,
  values: unknown[],
): Promise<T | undefined> {
  const [row] = await rows(db, text, values);
  return row === undefined ? undefined : readRow(columns, row);
}

/**
 * Whether an error may have cut the connection before its answer arrived, so the outcome of what was sent is
 * unknown: a connection failure (no SQLSTATE, or class 08), a server shutting the session down (57P0x), or any
 * error the server sent as FATAL or PANIC. Any other database error is an ERROR answer on a live connection:
 * the statement failed, the statements after it in the same message were skipped, and nothing committed.
 */
export function isLostAnswer(error: unknown): boolean {
  const code = sqlState(error);
  if (code === undefined) return true;
  if (code.startsWith("08") || code.startsWith("57P")) return true;
  const severity = (error as { readonly severity?: unknown }).severity;
  return severity === "FATAL" || severity === "PANIC";
}

/** The parts of a {@link LoadRequest} that need a statement, in the order they are sent. */
interface LoadParts {
  readonly wallets: boolean;
  readonly idempotency: boolean;
  readonly activation: boolean;
  readonly rental: boolean;
  readonly holds: boolean;
  readonly operation: boolean;
}

/**
 * One unit of work. Locking, on one connection, in two round trips:
 * 1. `BEGIN` and the whole `load` in one simple-protocol message (values inlined as escaped literals): the wallet
 *    lock first (`FOR UPDATE`, ordered `COLLATE "C"`), then one SELECT each for the idempotency record, the
 *    activation, the rental and the holds. Each statement of a READ COMMITTED transaction takes a fresh snapshot,
 *    so the reads after the lock see everything the previous holder of the lock committed.
 * 2. `apply` only builds the commit plan's statement; it travels with `COMMIT` in one message at the end of
 *    `transaction`. A statement that fails makes PostgreSQL skip the rest of the message, so COMMIT never runs
 *    after a failed plan. A `load` after an `apply` sends the pending plan first, in the same message.
 * A unit of work that only reads waits for one round trip: its COMMIT (or ROLLBACK) is sent as it returns, and the
 * connection goes back to the pool once that is answered. A unit of work that touches nothing costs none.
 *
 * Speculative (when the cache of committed rows answers its first load): no message until the end, then one:
 * one statement with the re-check of every row read from the cache (`read-check.ts`) and the plan, a transaction by
 * itself (see `implicitTransaction`). A later load the cache cannot answer abandons the attempt
 * ({@link SpeculationMissed}): the unit is run again under the locks.
 */
class PgUnitOfWork implements StorageTx {
  /** The first database error of this unit of work; after one, PostgreSQL has aborted the transaction. */
  failure: unknown;
  begun = false;
  /** The sections of each commit plan not sent yet: they go with the next load, or with COMMIT. */
  readonly pending: (readonly Section[])[] = [];
  /** The plans applied, in order (a group commit folds those of its members into one statement). */
  readonly plans: CommitPlan[] = [];
  /** The rows this unit read and wrote (and, while speculative, what it read from the cache). */
  view: RowView;
  /** Whether loads are still answered from the cache (until the first one it cannot answer). */
  private speculating: boolean;
  /** Frees the lane of this unit's wallet when it ran alone in it; called once the unit of work has ended. */
  release: (() => void) | undefined;
  /** The group this unit joined: its commit is the group's. */
  member: Member | undefined;
  private first = true;
  private ended = false;
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    private readonly connection: () => Promise<PoolClientLike>,
    private readonly sql: Statements,
    cache: RowCache | undefined,
    speculate: boolean,
    private readonly lanes: Lanes | undefined,
  ) {
    this.view = new RowView(speculate ? cache : undefined);
    this.speculating = speculate && cache !== undefined;
  }

  /** Whether the decision ran on rows read from the cache (or on a group's rows). */
  get speculative(): boolean {
    return this.view.speculated || this.member !== undefined;
  }

  /** Ends the unit of work: later calls are bugs. Resolves once every message sent has been answered. */
  async end(): Promise<void> {
    this.ended = true;
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private live(): void {
    if (this.ended) throw new Error("the unit of work has already ended");
  }

  /** Sends `statements` as one simple-protocol message, `BEGIN` first when the transaction has not begun. */
  private async send(statements: readonly string[]): Promise<QueryResultLike[]> {
    const begin = !this.begun;
    this.begun = true;
    const text = (begin ? [BEGIN, ...statements] : statements).join(";\n");
    const answered = this.connection()
      .then((client) => client.query(text))
      .then(
        (result) => allResults(result).slice(begin ? 1 : 0),
        (error: unknown) => {
          if (this.failure === undefined) this.failure = error;
          throw asConflict(error) ?? error;
        },
      );
    const tracked = answered.finally(() => this.inFlight.delete(tracked));
    tracked.catch(() => {});
    this.inFlight.add(tracked);
    return answered;
  }

  async load(request: LoadRequest): Promise<Loaded> {
    this.live();
    if (this.failure !== undefined) throw asConflict(this.failure) ?? this.failure;
    if (this.speculating) {
      if (this.first && this.lanes !== undefined) {
        this.first = false;
        const wallets = new Set(request.walletIds.filter((id) => !isPlatformAccountId(id)));
        const [only] = wallets;
        if (wallets.size === 1 && only !== undefined) {
          const entry = this.lanes.enter(only);
          if ("release" in entry) this.release = entry.release;
          else {
            this.member = entry.member;
            this.view = await entry.member.turn;
          }
        }
      }
      this.first = false;
      const answer = this.view.answer(request);
      if (answer !== undefined) return answer;
      // Rows read from the cache (or a group's) cannot be mixed with rows read under a lock later: run it again,
      // locking.
      if (this.speculative) throw new SpeculationMissed();
      this.speculating = false;
    }
    const loaded = await this.lockingLoad(request);
    this.view.loaded(request, loaded);
    return loaded;
  }

  private async lockingLoad(request: LoadRequest): Promise<Loaded> {
    const walletIds = [...new Set(request.walletIds)].filter((id) => !isPlatformAccountId(id));
    const owners: string[] = [];
    if (request.activationId !== undefined)
      owners.push(`(owner_type = 'activation' AND owner_id = ${quoteLiteral(request.activationId)})`);
    if (request.rentalId !== undefined)
      owners.push(`(owner_type = 'rental' AND owner_id = ${quoteLiteral(request.rentalId)})`);
    const holdIds = [...new Set(request.holdIds ?? [])];
    const parts: LoadParts = {
      wallets: walletIds.length > 0,
      idempotency: request.idempotencyKey !== undefined,
      activation: request.activationId !== undefined,
      rental: request.rentalId !== undefined,
      holds: owners.length > 0 || holdIds.length > 0,
      operation: request.operationId !== undefined,
    };
    const statements = this.pending.map(statementOf);
    this.pending.length = 0;
    const flushed = statements.length;
    const q = this.sql;
    if (parts.wallets)
      statements.push(
        `${q.selectWallets} WHERE id = ANY(${literalArray(walletIds)}) ORDER BY id COLLATE "C" FOR UPDATE`,
      );
    if (request.idempotencyKey !== undefined)
      statements.push(`${q.selectIdempotency} WHERE key = ${quoteLiteral(request.idempotencyKey)}`);
    if (request.activationId !== undefined)
      statements.push(`${q.selectActivation} WHERE id = ${quoteLiteral(request.activationId)}`);
    if (request.rentalId !== undefined)
      statements.push(`${q.selectRental} WHERE id = ${quoteLiteral(request.rentalId)}`);
    if (parts.holds) {
      const where = holdIds.length > 0 ? [`id = ANY(${literalArray(holdIds)})`, ...owners] : owners;
      statements.push(`${q.selectHolds} WHERE ${where.join(" OR ")} ORDER BY id COLLATE "C"`);
    }
    if (request.operationId !== undefined) {
      statements.push(
        `SELECT coalesce(sum(amount_minor) FILTER (WHERE kind = 'settle'), 0)::text AS settled, ` +
          `coalesce(sum(amount_minor) FILTER (WHERE kind = 'reversal'), 0)::text AS reversed ` +
          `FROM ${q.schema}.transfers WHERE wallet_id = ANY(${literalArray(walletIds)}) ` +
          `AND operation_id = ${quoteLiteral(request.operationId)}`,
      );
    }
    const empty: Loaded = {
      wallets: [],
      idempotency: undefined,
      activation: undefined,
      rental: undefined,
      holds: [],
    };
    if (statements.length === 0) return empty;
    const results = (await this.send(statements)).slice(flushed);
    let next = 0;
    const take = (wanted: boolean) => (wanted ? (results[next++]?.rows ?? []) : []);
    const wallets = take(parts.wallets).map((r) => readRow(walletColumns, r));
    const [idem] = take(parts.idempotency);
    const [act] = take(parts.activation);
    const [rent] = take(parts.rental);
    const holds = take(parts.holds).map((r) => readRow(holdColumns, r));
    const [sums] = take(parts.operation);
    return {
      ...(sums === undefined
        ? {}
        : { operation: { settledMinor: Number(sums.settled), reversedMinor: Number(sums.reversed) } }),
      wallets,
      idempotency: idem === undefined ? undefined : readRow(idempotencyColumns, idem),
      activation: act === undefined ? undefined : readRow(activationColumns, act),
      rental: rent === undefined ? undefined : readRow(rentalColumns, rent),
      holds,
    };
  }

  /**
   * The one wallet a speculative unit (alone, not in a group) read from the cache, for its first plan: that plan's
   * update of the wallet is then its re-check (see `read-check.ts`).
   */
  private cachedWallet(): WalletRecord | undefined {
    if (this.plans.length > 0 || this.member !== undefined || !this.view.speculated) return undefined;
    const { wallets } = this.view.readSet();
    return wallets.length === 1 ? wallets[0] : undefined;
  }

  async apply(plan: CommitPlan): Promise<void> {
    this.live();
    let sections: Section[];
    try {
      // The driver would store a lone surrogate as U+FFFD and the server refuses NUL: refused alike, up front.
      const unstorable = hasUnstorableText(plan) ? findUnstorableText(plan) : undefined;
      if (unstorable !== undefined) throw new RangeError(`the plan cannot be stored: ${unstorable}`);
      sections = planSections(plan, this.sql.schema, this.cachedWallet());
    } catch (error) {
      // A plan that contradicts itself is refused before anything is sent; the unit of work must not commit.
      if (this.failure === undefined) this.failure = error;
      throw error;
    }
    if (sections.length === 0) return;
    this.view.apply(plan);
    this.plans.push(plan);
    // Deferred: sent with COMMIT (or with the next load), so a unit of work writes in the round trip that ends it.
    this.pending.push(sections);
  }
}

/** A speculative attempt met a load the cache cannot answer: the unit of work is run again under the locks. */
class SpeculationMissed extends Error {
  override readonly name = "SpeculationMissed";
  constructor() {
    super("the cache cannot answer this load: the unit of work runs again under the locks");
  }
}

/** Whether any string in `value`, keys included, cannot be stored unchanged (the walk, without the paths). */
function hasUnstorableText(value: unknown): boolean {
  if (typeof value === "string") return !isStorableText(value);
  if (value === null || typeof value !== "object") return false;
  if (Array.isArray(value)) {
    for (const item of value) if (hasUnstorableText(item)) return true;
    return false;
  }
  for (const key in value)
    if (!isStorableText(key) || hasUnstorableText((value as Record<string, unknown>)[key])) return true;
  return false;
}

/**
 * A plan's sections behind the re-check of the rows read from the cache: the update that re-checks a cached
 * wallet first (it takes that wallet's lock), then the other guards, then the rest of the plan.
 */
function withGuards(guards: readonly Section[], sections: readonly Section[]): Section[] {
  return [
    ...sections.filter((s) => s.rechecks !== undefined),
    ...guards,
    ...sections.filter((s) => s.rechecks === undefined),
  ];
}

/**
 * The text of a commit sent with no transaction open: its statements alone. PostgreSQL runs the statements of one
 * simple-protocol message as one transaction when the message holds no transaction control of its own, and one
 * statement is a transaction by itself: what reaches the server is the statement, not `BEGIN`, the statement and
 * `COMMIT` (two statements fewer to parse, run and answer). An error rolls the whole message back and ends that
 * transaction, so nothing needs rolling back after it. It runs at the session's default isolation level:
 * READ COMMITTED unless the database says otherwise, where the re-checks behave as `docs/postgres.md` describes;
 * under a stricter default a concurrent writer of a re-checked row makes it fail with a serialization failure
 * instead, which, like any error of a speculative commit, runs the unit again under the locks.
 */
function implicitTransaction(statements: readonly string[]): string {
  return statements.join(";\n");
}

/** The customer wallets a commit locks: those it read from the cache (re-checked) and those its plans write. */
function lockedWallets(plans: readonly CommitPlan[], read: readonly WalletRecord[]): string[] {
  const ids = new Set(read.map((w) => w.id));
  for (const p of plans) {
    for (const d of p.walletDeltas ?? []) ids.add(d.walletId);
    for (const w of p.createWallets ?? []) ids.add(w.id);
  }
  return [...ids].filter((id) => !isPlatformAccountId(id));
}

/** The statement of non-empty sections. */
const statementOf = (sections: readonly Section[]): string => renderSections(sections) as string;

/** `ARRAY['a', 'b']::text[]`. */
function literalArray(values: readonly string[]): string {
  return `ARRAY[${values.map(quoteLiteral).join(", ")}]::text[]`;
}

/** Reads outside any unit of work, each one statement on the pool. */
class PgReader implements StorageReader {
  constructor(
    private readonly pool: Queryable,
    private readonly sql: Statements,
    private readonly cache: RowCache | undefined,
  ) {}

  /** The wallet of a hold: from the cache (the owner of a hold never changes), else one statement. */
  async walletOfHold(id: string): Promise<string | undefined> {
    const cached = this.cache?.holdWallet(id);
    if (cached !== undefined) return cached;
    const [row] = await rows(this.pool, this.sql.getHoldWallet, [id]);
    return row === undefined ? undefined : String(row.wallet_id);
  }

  getWallet(id: string): Promise<WalletRecord | undefined> {
    return one(this.pool, walletColumns, this.sql.getWallet, [id]);
  }

  async listWallets(page: PageQuery = {}): Promise<readonly WalletRecord[]> {
    const values: unknown[] = [];
    const where = page.afterId === undefined ? "" : ` WHERE id COLLATE "C" > $${values.push(page.afterId)}`;
    const text = `${this.sql.selectWallets}${where} ORDER BY id COLLATE "C"${limitClause(page, values)}`;
    return (await rows(this.pool, text, values)).map((r) => readRow(walletColumns, r));
  }

  getHold(id: string): Promise<HoldRecord | undefined> {
    return one(this.pool, holdColumns, this.sql.getHold, [id]);
  }

  async listHolds(
    filter?: {
      readonly state?: HoldRecord["state"];
      readonly walletId?: string;
    } & PageQuery,
  ): Promise<readonly HoldRecord[]> {
    const where: string[] = [];
    const values: unknown[] = [];
    if (filter?.state !== undefined) where.push(`state = $${values.push(filter.state)}`);
    if (filter?.walletId !== undefined) where.push(`wallet_id = $${values.push(filter.walletId)}`);
    if (filter?.afterId !== undefined) where.push(`id COLLATE "C" > $${values.push(filter.afterId)}`);
    const text = `SELECT ${selectList(holdColumns)} FROM ${this.sql.schema}.holds${
      where.length > 0 ? ` WHERE ${where.join(" AND ")}` : ""
    } ORDER BY id COLLATE "C"${limitClause(filter, values)}`;
    return (await rows(this.pool, text, values)).map((r) => readRow(holdColumns, r));
  }

  getActivation(id: string): Promise<ActivationRecord | undefined> {
    return one(this.pool, activationColumns, this.sql.getActivation, [id]);
  }

  findRentalByProviderId(provider: string, providerRentalId: string): Promise<RentalRecord | undefined> {
    return one(this.pool, rentalColumns, this.sql.findRentalByProviderId, [provider, providerRentalId]);
  }

  findActivationByProviderId(
    provider: string,
    providerActivationId: string,
  ): Promise<ActivationRecord | undefined> {
    return one(this.pool, activationColumns, this.sql.findActivationByProviderId, [
      provider,
      providerActivationId,
    ]);
  }

  async listActivations(
    filter?: {
      readonly walletId?: string;
      readonly states?: readonly ActivationState[];
    } & CreatedWindow &
      PageQuery,
  ): Promise<readonly ActivationRecord[]> {
    return (await this.listOwned("activations", activationColumns, filter)).map((r) =>
      readRow(activationColumns, r),
    );
  }

  getRental(id: string): Promise<RentalRecord | undefined> {
    return one(this.pool, rentalColumns, this.sql.getRental, [id]);
  }

  async listRentals(
    filter?: {
      readonly walletId?: string;
      readonly states?: readonly RentalRecord["state"][];
    } & CreatedWindow &
      PageQuery,
  ): Promise<readonly RentalRecord[]> {
    return (await this.listOwned("rentals", rentalColumns, filter)).map((r) => readRow(rentalColumns, r));
  }

  private listOwned<T>(
    table: string,
    columns: Columns<T>,
    filter?: { readonly walletId?: string; readonly states?: readonly string[] } & CreatedWindow & PageQuery,
  ): Promise<readonly Record<string, unknown>[]> {
    const where: string[] = [];
    const values: unknown[] = [];
    if (filter?.walletId !== undefined) where.push(`wallet_id = $${values.push(filter.walletId)}`);
    if (filter?.states !== undefined) where.push(`state = ANY($${values.push([...filter.states])}::text[])`);
    if (filter?.createdSinceMs !== undefined)
      where.push(`created_at_ms >= $${values.push(filter.createdSinceMs)}::numeric`);
    if (filter?.createdUntilMs !== undefined)
      where.push(`created_at_ms < $${values.push(filter.createdUntilMs)}::numeric`);
    // Keyset: after the position of the record with that id (none when there is no such record).
    if (filter?.afterId !== undefined)
      where.push(
        `(created_at_ms, id COLLATE "C") > (SELECT created_at_ms, id FROM ${this.sql.schema}.${table} WHERE id = $${values.push(filter.afterId)})`,
      );
    const text = `SELECT ${selectList(columns)} FROM ${this.sql.schema}.${table}${
      where.length > 0 ? ` WHERE ${where.join(" AND ")}` : ""
    } ORDER BY created_at_ms, id COLLATE "C"${limitClause(filter, values)}`;
    return rows(this.pool, text, values);
  }

  async listTransfers(filter?: {
    readonly accountId?: string;
    readonly afterSeq?: number;
    readonly limit?: number;
  }): Promise<readonly TransferRecord[]> {
    const where: string[] = [];
    const values: unknown[] = [];
    if (filter?.accountId !== undefined) {
      const n = values.push(filter.accountId);
      where.push(`(debit_account_id = $${n} OR credit_account_id = $${n})`);
    }
    if (filter?.afterSeq !== undefined) where.push(`seq > $${values.push(filter.afterSeq)}`);
    const limit = filter?.limit === undefined ? "" : ` LIMIT $${values.push(filter.limit)}`;
    const text = `SELECT ${selectList(transferColumns)} FROM ${this.sql.schema}.transfers${
      where.length > 0 ? ` WHERE ${where.join(" AND ")}` : ""
    } ORDER BY seq${limit}`;
    return (await rows(this.pool, text, values)).map((r) => readRow(transferColumns, r));
  }

  getIdempotency(key: string): Promise<IdempotencyRecord | undefined> {
    return one(this.pool, idempotencyColumns, this.sql.getIdempotency, [key]);
  }

  async listAudit(filter?: { readonly subjectId?: string } & PageQuery): Promise<readonly AuditRecord[]> {
    const values: unknown[] = [];
    const where: string[] = [];
    if (filter?.subjectId !== undefined) where.push(`subject_id = $${values.push(filter.subjectId)}`);
    if (filter?.afterId !== undefined)
      where.push(
        `seq > (SELECT seq FROM ${this.sql.schema}.audit_trail WHERE id = $${values.push(filter.afterId)})`,
      );
    const text = `SELECT ${selectList(auditColumns)} FROM ${this.sql.schema}.audit_trail${
      where.length > 0 ? ` WHERE ${where.join(" AND ")}` : ""
    } ORDER BY seq${limitClause(filter, values)}`;
    return (await rows(this.pool, text, values)).map((r) => readRow(auditColumns, r));
  }

  async listDue(query: DueQuery): Promise<DueWork> {
    const { nowMs, pendingBeforeMs, limit } = query;
    const provider = query.provider ?? null;
    const [due, ending, pendingA, pendingR] = await Promise.all([
      rows(this.pool, this.sql.dueActivations, [nowMs, limit, provider, pendingBeforeMs]),
      rows(this.pool, this.sql.dueRentals, [nowMs, limit, provider, pendingBeforeMs]),
      rows(this.pool, this.sql.pendingActivations, [pendingBeforeMs, limit, provider]),
      rows(this.pool, this.sql.pendingRentals, [pendingBeforeMs, limit, provider]),
    ]);
    return {
      activationsPastDeadline: due.map((r) => readRow(activationColumns, r)),
      rentalsPastEnd: ending.map((r) => readRow(rentalColumns, r)),
      pendingActivations: pendingA.map((r) => readRow(activationColumns, r)),
      pendingRentals: pendingR.map((r) => readRow(rentalColumns, r)),
    };
  }

  healthStats(query: HealthStatsQuery): Promise<HealthStats> {
    return queryHealthStats(this.pool, query, this.sql.schema);
  }
}

/** ` LIMIT $n` when the page has a limit. */
function limitClause(page: PageQuery | undefined, values: unknown[]): string {
  return page?.limit === undefined ? "" : ` LIMIT $${values.push(page.limit)}`;
}

/** The callbacks of every storage over one pool; the pool gets one listener however many storages share it. */
const idleListeners = new WeakMap<PoolLike, Set<(error: Error) => void>>();

function listenForIdleErrors(pool: PoolLike, callback: ((error: Error) => void) | undefined): void {
  let callbacks = idleListeners.get(pool);
  if (callbacks === undefined) {
    const registered = new Set<(error: Error) => void>();
    callbacks = registered;
    idleListeners.set(pool, registered);
    pool.on?.("error", (error) => {
      for (const c of registered) c(error);
    });
  }
  if (callback !== undefined) callbacks.add(callback);
}

/** How an attempt ended: done, to be retried (a deadlock, a serialization failure), or to be rerun under locks. */
type Outcome<T> =
  | { readonly kind: "done"; readonly value: T }
  | { readonly kind: "retry"; readonly error: unknown }
  | { readonly kind: "locking" };

/**
 * The PostgreSQL storage: the {@link Storage} port over a `pg` pool (or any {@link PoolLike}), on the schema
 * created by {@link migrate}. See `docs/postgres.md` for the isolation level, the round trips and the
 * speculative unit of work.
 */
export function createPostgresStorage(options: PostgresStorageOptions): PostgresStorage {
  const { pool } = options;
  const maxRetries = options.maxRetries ?? DEFAULT_MAX_RETRIES;
  const sql = new Statements(quoteIdent(options.schema ?? DEFAULT_SCHEMA));
  const cacheSize = options.cacheSize ?? DEFAULT_CACHE_SIZE;
  const cache =
    options.speculative === false || cacheSize <= 0
      ? undefined
      : new RowCache(cacheSize, options.staleCacheReads);
  const stats = { committed: 0, missed: 0, confirmed: 0, locking: 0, groups: 0 };
  const lanes =
    cache === undefined || options.groupCommit === false
      ? undefined
      : new Lanes(Math.max(1, options.maxGroupSize ?? DEFAULT_MAX_GROUP_SIZE), (members) =>
          runGroup(members),
        );
  // Without batching, every commit goes out alone at once (no bound on those in flight).
  const batcher = new CommitBatcher(
    pool,
    isLostAnswer,
    options.commitBatching === false
      ? Number.POSITIVE_INFINITY
      : Math.max(1, options.maxCommitsInFlight ?? DEFAULT_MAX_COMMITS_IN_FLIGHT),
    Math.max(1, options.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE),
  );
  listenForIdleErrors(pool, options.onIdleConnectionError);
  // Reads outside a unit of work: a lost connection becomes a ConnectionLostError (nothing a read does commits).
  const reads: Queryable = {
    query: (text, values) =>
      pool.query(text, values).catch((error: unknown) => {
        throw asConnectionLoss(error, "work");
      }),
  };
  const read = new PgReader(reads, sql, cache);

  /** One attempt: locking, or (with `speculate`) answered from the cache while it can. */
  async function attempt<T>(work: (tx: StorageTx) => Promise<T>, speculate: boolean): Promise<Outcome<T>> {
    let client: PoolClientLike | undefined;
    let connecting: Promise<PoolClientLike> | undefined;
    let lost: Error | undefined;
    // pg emits `error` on a checked-out client whose connection dies; without a listener that crashes Node.
    const onError = (error: Error) => {
      lost = error;
    };
    /** The connection, checked out on first use (a speculative unit of work needs it only for its commit). */
    const connection = (): Promise<PoolClientLike> => {
      connecting ??= pool.connect().then(
        (c) => {
          c.on?.("error", onError);
          client = c;
          return c;
        },
        (error: unknown) => {
          throw asConnectionLoss(error, "connect");
        },
      );
      return connecting;
    };
    let destroy = false;
    /** Set when the connection is handed back by a message still in flight (see `finish`). */
    let handedOff = false;
    const release = (broken: boolean) => {
      if (client === undefined) return;
      client.removeListener?.("error", onError);
      client.release(broken || lost !== undefined ? true : undefined);
    };
    /**
     * Ends a transaction that wrote nothing without waiting for the answer: the result does not depend on it (an
     * ended, read-only or rolled-back transaction has no effect to lose), and the connection goes back to the pool
     * only once it is answered, so nobody else can use it inside this transaction.
     */
    const finish = (text: "COMMIT" | "ROLLBACK") => {
      const c = client;
      if (c === undefined) return;
      handedOff = true;
      c.query(text).then(
        () => release(false),
        () => release(true),
      );
    };
    /** Sends the deferred plan and COMMIT on the unit's own connection, inside the transaction its load began. */
    const commitOpen = async (statements: readonly string[]): Promise<CommitOutcome> => {
      let results: QueryResultLike[];
      try {
        results = allResults(await (await connection()).query([...statements, "COMMIT"].join(";\n")));
      } catch (error) {
        if (lost !== undefined || isLostAnswer(error)) {
          // The connection goes: its state is unknown.
          destroy = true;
          return { kind: "lost", error: lost ?? error };
        }
        // An ERROR answer: the failed statement aborted the transaction and PostgreSQL skipped the rest of the
        // message, COMMIT included (or COMMIT itself failed, which also commits nothing).
        finish("ROLLBACK");
        return { kind: "refused", error };
      }
      // COMMIT of an aborted transaction answers ROLLBACK instead of failing: never report that as success.
      const committed = results[results.length - 1] as
        | (QueryResultLike & { readonly command?: unknown })
        | undefined;
      if (committed?.command === "ROLLBACK") throw new Error("the transaction was rolled back at COMMIT");
      return { kind: "committed" };
    };
    const tx = new PgUnitOfWork(connection, sql, cache, speculate, lanes);
    try {
      let value: T | undefined;
      let rejected = false;
      let rejection: unknown;
      try {
        value = await work(tx);
      } catch (error) {
        rejected = true;
        rejection = error;
      }
      await tx.end();
      const member = tx.member;
      if (member !== undefined) {
        if (rejected || tx.failure !== undefined) {
          // Out of the group, nothing of it sent: confirmed (or not) alone, under the locks, once the group has
          // ended (so that the rerun sees what the units before it in the group wrote).
          member.finish({ joined: false });
          if (rejection instanceof SpeculationMissed) stats.missed++;
          else stats.confirmed++;
          await member.outcome;
          return { kind: "locking" };
        }
        member.finish({ joined: true, statements: tx.pending.map(statementOf), plans: [...tx.plans] });
        const outcome = await member.outcome;
        if (outcome.kind === "committed") return { kind: "done", value: value as T };
        if (outcome.kind === "rerun") return { kind: "locking" };
        throw outcome.error;
      }
      const speculative = tx.speculative;
      if (speculative && (rejected || tx.failure !== undefined)) {
        // Decided on cached rows and nothing sent: an error (a business error among them) is confirmed, or not,
        // by the same work under the locks; rows that can no longer be trusted are dropped first.
        if (!(rejection instanceof SpeculationMissed)) stats.confirmed++;
        else stats.missed++;
        if (cache !== undefined) tx.view.forget(cache);
        return { kind: "locking" };
      }
      if (!rejected && tx.failure === undefined) {
        let [first = [], ...rest] = tx.pending;
        let guards: Section[] = [];
        if (speculative) {
          const rechecked = first.find((s) => s.rechecks !== undefined)?.rechecks;
          guards = withGuards(readSetGuards(tx.view.readSet(), sql.schema, tx.plans, rechecked), first);
          first = [];
        }
        if (tx.pending.length === 0 && guards.length === 0) {
          if (tx.begun) finish("COMMIT");
          if (tx.begun) stats.locking++;
          // Rows read under the locks are committed state.
          if (cache !== undefined) tx.view.commitTo(cache);
          return { kind: "done", value: value as T };
        }
        // The deferred plan in one message: with COMMIT inside the transaction a locking load began; else (a unit
        // that never loaded, or loaded from the cache: then the re-check of its rows runs first, in the statement of
        // its first plan) alone, as one implicit transaction, through the batcher (see `implicitTransaction`).
        const statements = [statementOf([...guards, ...first]), ...rest.map(statementOf)];
        const outcome = tx.begun
          ? await commitOpen(statements)
          : await batcher.commit(
              implicitTransaction(statements),
              lockedWallets(tx.plans, tx.view.readSet().wallets),
            );
        if (outcome.kind === "committed") {
          if (speculative) stats.committed++;
          else stats.locking++;
          if (cache !== undefined) tx.view.commitTo(cache);
          return { kind: "done", value: value as T };
        }
        if (cache !== undefined) tx.view.forget(cache);
        // Never sent: nothing committed, the connection failure surfaces typed.
        if (outcome.kind === "unsent") throw asConnectionLoss(outcome.error, "connect");
        // Lost: the outcome is unknown (the transaction may have committed). Never retried: the core reconciles
        // through its idempotency keys.
        if (outcome.kind === "lost") throw asConnectionLoss(outcome.error, "commit");
        if (speculative) {
          // A cached row changed, a key was taken, a lock was contended: the locking run reads what is there.
          stats.missed++;
          return { kind: "locking" };
        }
        if (isRetryable(outcome.error)) return { kind: "retry", error: outcome.error };
        throw asConflict(outcome.error) ?? outcome.error;
      }
      if (tx.begun) finish("ROLLBACK");
      if (isRetryable(tx.failure)) return { kind: "retry", error: tx.failure };
      // No COMMIT was sent: a lost connection here means nothing was committed.
      if (rejected) throw asConnectionLoss(rejection, "work");
      throw asConflict(tx.failure) ?? asConnectionLoss(tx.failure, "work");
    } finally {
      tx.member?.finish({ joined: false });
      tx.release?.();
      if (!handedOff) {
        if (client === undefined && connecting !== undefined) {
          // Checked out while the unit of work was ending: hand it straight back.
          await connecting.then(
            () => undefined,
            () => undefined,
          );
        }
        release(destroy);
      }
    }
  }

  /**
   * Runs one group of a wallet's lane: each member decides in turn on the rows the members before it left, then
   * the plans of those that joined commit as one transaction (through the batcher): the re-check of the rows the
   * group read from the cache and every plan in order (one statement when the plans fold into one). An ERROR
   * answer sends every member back to run alone under the locks; a lost answer leaves each with an unknown outcome
   * (resolved, as for one unit, through its idempotency key).
   */
  async function runGroup(members: readonly Member[]): Promise<void> {
    const base = new RowView(cache);
    const joined: {
      readonly member: Member;
      readonly statements: readonly string[];
      readonly plans: readonly CommitPlan[];
    }[] = [];
    const out: Member[] = [];
    for (const member of members) {
      const child = base.child();
      member.start(child);
      const done = await member.done;
      if (!done.joined) {
        out.push(member);
        continue;
      }
      base.merge(child);
      joined.push({ member, statements: done.statements, plans: done.plans });
    }
    // Members out of the group run again under the locks once the group has ended, so that they see its writes.
    const settle = (outcome: GroupOutcome) => {
      for (const j of joined) j.member.settle(outcome);
      for (const m of out) m.settle({ kind: "rerun" });
    };
    if (joined.length === 0) {
      settle({ kind: "rerun" });
      return;
    }
    // One statement for the whole group, the re-check of its cached rows first, where the plans fold into one;
    // else the re-check, then one statement per plan, in order.
    const read = base.readSet();
    const plans = joined.flatMap((j) => j.plans);
    let folded: Section[] | undefined;
    try {
      folded = groupSections(plans, sql.schema, read.wallets.length === 1 ? read.wallets[0] : undefined);
    } catch {
      folded = undefined;
    }
    const rechecked = folded?.find((s) => s.rechecks !== undefined)?.rechecks;
    const guards = readSetGuards(read, sql.schema, plans, rechecked);
    const statements =
      folded === undefined
        ? [...(guards.length > 0 ? [statementOf(guards)] : []), ...joined.flatMap((j) => j.statements)]
        : [withGuards(guards, folded)].filter((one) => one.length > 0).map(statementOf);
    const outcome = await batcher.commit(implicitTransaction(statements), lockedWallets(plans, read.wallets));
    if (outcome.kind === "committed") {
      if (cache !== undefined) base.commitTo(cache);
      stats.committed += joined.length;
      stats.groups++;
      settle({ kind: "committed" });
      return;
    }
    if (cache !== undefined) base.forget(cache);
    if (outcome.kind === "lost") {
      settle({ kind: "lost", error: asConnectionLoss(outcome.error, "commit") });
      return;
    }
    // Refused (a stale row, a taken key), or never sent: each member runs again alone, under the locks (and meets
    // a connection failure there, typed).
    if (outcome.kind === "refused") stats.missed += joined.length;
    settle({ kind: "rerun" });
  }

  return {
    read,
    speculationStats: () => ({ ...stats }),
    walletOfHold: (holdId) => read.walletOfHold(holdId),
    async pruneIdempotency(query: IdempotencyPruneQuery): Promise<number> {
      const result = lastResult(
        await reads.query(
          `DELETE FROM ${sql.schema}.idempotency_keys WHERE key IN (SELECT key FROM ${sql.schema}.idempotency_keys ` +
            "WHERE created_at_ms < $1::numeric ORDER BY created_at_ms LIMIT $2) RETURNING 1",
          [query.createdBeforeMs, Math.max(0, query.limit)],
        ),
      );
      return result.rows.length;
    },
    async transaction<T>(work: (tx: StorageTx) => Promise<T>): Promise<T> {
      let speculate = cache !== undefined;
      for (let retries = 0; ; ) {
        const outcome = await attempt(work, speculate);
        if (outcome.kind === "done") return outcome.value;
        if (outcome.kind === "locking") {
          // At most once per call: the rerun takes its locks with the load.
          speculate = false;
          continue;
        }
        // Past the bound the deadlock or serialization failure surfaces as it is, SQLSTATE and all.
        if (retries++ >= maxRetries) throw outcome.error;
      }
    },
  };
}
