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
import type {
  CommitPlan,
  DueWork,
  Loaded,
  LoadRequest,
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
import { asConflict, isRetryable } from "./errors.js";
import { planStatement } from "./plan.js";
import {
  lastResult,
  type PoolClientLike,
  type PoolLike,
  type Queryable,
  type QueryResultLike,
} from "./queryable.js";
import { inlineParameters, quoteIdent } from "./sql.js";

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
}

/**
 * Every unit of work runs at READ COMMITTED with row locks. Writers of a wallet are serialized by
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
  readonly lockWallets: string;
  readonly getWallet: string;
  readonly listWallets: string;
  readonly getIdempotency: string;
  readonly getHold: string;
  readonly loadHolds: string;
  readonly getActivation: string;
  readonly findActivationByProviderId: string;
  readonly getRental: string;
  readonly dueActivations: string;
  readonly dueRentals: string;
  readonly pendingActivations: string;
  readonly pendingRentals: string;

  constructor(readonly schema: string) {
    const s = schema;
    const from = <T>(columns: Columns<T>, table: string) =>
      `SELECT ${selectList(columns)} FROM ${s}.${table}`;
    this.lockWallets = `${from(walletColumns, "wallets")} WHERE id = ANY($1::text[]) ORDER BY id COLLATE "C" FOR UPDATE`;
    this.getWallet = `${from(walletColumns, "wallets")} WHERE id = $1`;
    this.listWallets = `${from(walletColumns, "wallets")} ORDER BY id COLLATE "C"`;
    this.getIdempotency = `${from(idempotencyColumns, "idempotency_keys")} WHERE key = $1`;
    this.getHold = `${from(holdColumns, "holds")} WHERE id = $1`;
    this.loadHolds = `${from(holdColumns, "holds")} WHERE id = ANY($1::text[]) OR owner_id = ANY($2::text[]) ORDER BY id COLLATE "C"`;
    this.getActivation = `${from(activationColumns, "activations")} WHERE id = $1`;
    this.findActivationByProviderId = `${from(activationColumns, "activations")} WHERE provider = $1 AND provider_activation_id = $2 ORDER BY created_at_ms, id COLLATE "C" LIMIT 1`;
    this.getRental = `${from(rentalColumns, "rentals")} WHERE id = $1`;
    // Each of the sweeper's four questions is a range scan of its own partial index (see the migrations).
    this.dueActivations = `${from(activationColumns, "activations")} WHERE state = 'waiting' AND deadline_at_ms <= $1 ORDER BY created_at_ms, id COLLATE "C" LIMIT $2`;
    this.dueRentals = `${from(rentalColumns, "rentals")} WHERE state = 'active' AND ends_at_ms <= $1 ORDER BY created_at_ms, id COLLATE "C" LIMIT $2`;
    this.pendingActivations = `${from(activationColumns, "activations")} WHERE state = 'pending' AND created_at_ms <= $1 ORDER BY created_at_ms, id COLLATE "C" LIMIT $2`;
    this.pendingRentals = `${from(rentalColumns, "rentals")} WHERE state = 'pending' AND created_at_ms <= $1 ORDER BY created_at_ms, id COLLATE "C" LIMIT $2`;
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
 * One unit of work on one connection. Its first statement travels with `BEGIN` in a single simple-protocol
 * message (parameters inlined as literals), so a unit of work costs: 1 round trip for BEGIN + its first
 * statement, 1 per further read, 1 for `apply`, 1 for COMMIT. A unit of work that touches nothing costs none.
 */
class PgUnitOfWork implements StorageTx {
  /** The first database error of this unit of work; after one, PostgreSQL has aborted the transaction. */
  failure: unknown;
  begun = false;
  private ended = false;
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    private readonly client: PoolClientLike,
    private readonly sql: Statements,
  ) {}

  /** Ends the unit of work: later calls are bugs. Resolves once every statement sent has been answered. */
  async end(): Promise<void> {
    this.ended = true;
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private query(text: string, values: unknown[]): Promise<QueryResultLike> {
    if (this.ended) return Promise.reject(new Error("the unit of work has already ended"));
    let sent: Promise<QueryResultLike | QueryResultLike[]>;
    if (this.begun) {
      sent = this.client.query(text, values);
    } else {
      this.begun = true;
      sent = this.client.query(`${BEGIN}; ${inlineParameters(text, values)}`);
    }
    const answered = sent.then(lastResult, (error: unknown) => {
      if (this.failure === undefined) this.failure = error;
      throw asConflict(error) ?? error;
    });
    const tracked = answered.finally(() => this.inFlight.delete(tracked));
    tracked.catch(() => {});
    this.inFlight.add(tracked);
    return answered;
  }

  async lockWallets(ids: readonly string[]): Promise<readonly WalletRecord[]> {
    const customer = [...new Set(ids)].filter((id) => !isPlatformAccountId(id));
    if (customer.length === 0) return [];
    const result = await this.query(this.sql.lockWallets, [customer]);
    return result.rows.map((r) => readRow(walletColumns, r));
  }

  async getIdempotency(key: string): Promise<IdempotencyRecord | undefined> {
    const [row] = (await this.query(this.sql.getIdempotency, [key])).rows;
    return row === undefined ? undefined : readRow(idempotencyColumns, row);
  }

  async getHold(id: string): Promise<HoldRecord | undefined> {
    const [row] = (await this.query(this.sql.getHold, [id])).rows;
    return row === undefined ? undefined : readRow(holdColumns, row);
  }

  async getActivation(id: string): Promise<ActivationRecord | undefined> {
    const [row] = (await this.query(this.sql.getActivation, [id])).rows;
    return row === undefined ? undefined : readRow(activationColumns, row);
  }

  async getRental(id: string): Promise<RentalRecord | undefined> {
    const [row] = (await this.query(this.sql.getRental, [id])).rows;
    return row === undefined ? undefined : readRow(rentalColumns, row);
  }

  async load(request: LoadRequest): Promise<Loaded> {
    const wallets = await this.lockWallets(request.walletIds);
    const idempotency =
      request.idempotencyKey === undefined ? undefined : await this.getIdempotency(request.idempotencyKey);
    const activation =
      request.activationId === undefined ? undefined : await this.getActivation(request.activationId);
    const rental = request.rentalId === undefined ? undefined : await this.getRental(request.rentalId);
    const owners = [request.activationId, request.rentalId].filter((id): id is string => id !== undefined);
    const holdIds = request.holdIds ?? [];
    const holds =
      owners.length === 0 && holdIds.length === 0
        ? []
        : (await this.query(this.sql.loadHolds, [holdIds, owners])).rows.map((r) => readRow(holdColumns, r));
    return { wallets, idempotency, activation, rental, holds };
  }

  async apply(plan: CommitPlan): Promise<void> {
    let statement: ReturnType<typeof planStatement>;
    try {
      statement = planStatement(plan, this.sql.schema);
    } catch (error) {
      // A plan that contradicts itself is refused before anything is sent; the unit of work must not commit.
      if (this.failure === undefined) this.failure = error;
      throw error;
    }
    if (statement === undefined) return;
    await this.query(statement.text, statement.values);
  }
}

/** Reads outside any unit of work, each one statement on the pool. */
class PgReader implements StorageReader {
  constructor(
    private readonly pool: PoolLike,
    private readonly sql: Statements,
  ) {}

  getWallet(id: string): Promise<WalletRecord | undefined> {
    return one(this.pool, walletColumns, this.sql.getWallet, [id]);
  }

  async listWallets(): Promise<readonly WalletRecord[]> {
    return (await rows(this.pool, this.sql.listWallets)).map((r) => readRow(walletColumns, r));
  }

  getHold(id: string): Promise<HoldRecord | undefined> {
    return one(this.pool, holdColumns, this.sql.getHold, [id]);
  }

  async listHolds(filter?: {
    readonly state?: HoldRecord["state"];
    readonly walletId?: string;
  }): Promise<readonly HoldRecord[]> {
    const where: string[] = [];
    const values: unknown[] = [];
    if (filter?.state !== undefined) where.push(`state = $${values.push(filter.state)}`);
    if (filter?.walletId !== undefined) where.push(`wallet_id = $${values.push(filter.walletId)}`);
    const text = `SELECT ${selectList(holdColumns)} FROM ${this.sql.schema}.holds${
      where.length > 0 ? ` WHERE ${where.join(" AND ")}` : ""
    } ORDER BY id COLLATE "C"`;
    return (await rows(this.pool, text, values)).map((r) => readRow(holdColumns, r));
  }

  getActivation(id: string): Promise<ActivationRecord | undefined> {
    return one(this.pool, activationColumns, this.sql.getActivation, [id]);
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

  async listActivations(filter?: {
    readonly walletId?: string;
    readonly states?: readonly ActivationState[];
  }): Promise<readonly ActivationRecord[]> {
    return (await this.listOwned("activations", activationColumns, filter)).map((r) =>
      readRow(activationColumns, r),
    );
  }

  getRental(id: string): Promise<RentalRecord | undefined> {
    return one(this.pool, rentalColumns, this.sql.getRental, [id]);
  }

  async listRentals(filter?: {
    readonly walletId?: string;
    readonly states?: readonly RentalRecord["state"][];
  }): Promise<readonly RentalRecord[]> {
    return (await this.listOwned("rentals", rentalColumns, filter)).map((r) => readRow(rentalColumns, r));
  }

  private listOwned<T>(
    table: string,
    columns: Columns<T>,
    filter?: { readonly walletId?: string; readonly states?: readonly string[] },
  ): Promise<readonly Record<string, unknown>[]> {
    const where: string[] = [];
    const values: unknown[] = [];
    if (filter?.walletId !== undefined) where.push(`wallet_id = $${values.push(filter.walletId)}`);
    if (filter?.states !== undefined) where.push(`state = ANY($${values.push([...filter.states])}::text[])`);
    const text = `SELECT ${selectList(columns)} FROM ${this.sql.schema}.${table}${
      where.length > 0 ? ` WHERE ${where.join(" AND ")}` : ""
    } ORDER BY created_at_ms, id COLLATE "C"`;
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

  async listAudit(filter?: { readonly subjectId?: string }): Promise<readonly AuditRecord[]> {
    const values: unknown[] = [];
    const where =
      filter?.subjectId === undefined ? "" : ` WHERE subject_id = $${values.push(filter.subjectId)}`;
    const text = `SELECT ${selectList(auditColumns)} FROM ${this.sql.schema}.audit_trail${where} ORDER BY seq`;
    return (await rows(this.pool, text, values)).map((r) => readRow(auditColumns, r));
  }

  async listDue(query: {
    readonly nowMs: number;
    readonly pendingBeforeMs: number;
    readonly limit: number;
  }): Promise<DueWork> {
    const { nowMs, pendingBeforeMs, limit } = query;
    const [due, ending, pendingA, pendingR] = await Promise.all([
      rows(this.pool, this.sql.dueActivations, [nowMs, limit]),
      rows(this.pool, this.sql.dueRentals, [nowMs, limit]),
      rows(this.pool, this.sql.pendingActivations, [pendingBeforeMs, limit]),
      rows(this.pool, this.sql.pendingRentals, [pendingBeforeMs, limit]),
    ]);
    return {
      activationsPastDeadline: due.map((r) => readRow(activationColumns, r)),
      rentalsPastEnd: ending.map((r) => readRow(rentalColumns, r)),
      pendingActivations: pendingA.map((r) => readRow(activationColumns, r)),
      pendingRentals: pendingR.map((r) => readRow(rentalColumns, r)),
    };
  }
}

/**
 * The PostgreSQL storage: the {@link Storage} port over a `pg` pool (or any {@link PoolLike}), on the schema
 * created by {@link migrate}. See `docs/postgres.md` for the isolation level and the round trips.
 */
export function createPostgresStorage(options: PostgresStorageOptions): Storage {
  const { pool } = options;
  const maxRetries = options.maxRetries ?? DEFAULT_MAX_RETRIES;
  const sql = new Statements(quoteIdent(options.schema ?? DEFAULT_SCHEMA));
  const read = new PgReader(pool, sql);

  /** One attempt; resolves to `retry` (with the error) after a deadlock or serialization failure. */
  async function attempt<T>(
    work: (tx: StorageTx) => Promise<T>,
  ): Promise<
    { readonly retry: true; readonly error: unknown } | { readonly retry: false; readonly value: T }
  > {
    const client = await pool.connect();
    let lost: Error | undefined;
    // pg emits `error` on a checked-out client whose connection dies; without a listener that crashes Node.
    const onError = (error: Error) => {
      lost = error;
    };
    client.on?.("error", onError);
    let destroy = false;
    const tx = new PgUnitOfWork(client, sql);
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
      if (!rejected && tx.failure === undefined) {
        if (!tx.begun) return { retry: false, value: value as T };
        let committed: QueryResultLike & { readonly command?: unknown };
        try {
          committed = lastResult(await client.query("COMMIT"));
        } catch (error) {
          // The outcome of a COMMIT whose answer is lost is unknown: the connection goes, the error surfaces.
          destroy = true;
          if (isRetryable(error)) return { retry: true, error };
          throw error;
        }
        // COMMIT of an aborted transaction answers ROLLBACK instead of failing: never report that as success.
        if (committed.command === "ROLLBACK") throw new Error("the transaction was rolled back at COMMIT");
        return { retry: false, value: value as T };
      }
      if (tx.begun) {
        try {
          await client.query("ROLLBACK");
        } catch {
          destroy = true;
        }
      }
      if (isRetryable(tx.failure)) return { retry: true, error: tx.failure };
      if (rejected) throw rejection;
      throw asConflict(tx.failure) ?? tx.failure;
    } finally {
      client.removeListener?.("error", onError);
      client.release(destroy || lost !== undefined ? true : undefined);
    }
  }

  return {
    read,
    async transaction<T>(work: (tx: StorageTx) => Promise<T>): Promise<T> {
      for (let retries = 0; ; retries++) {
        const outcome = await attempt(work);
        if (!outcome.retry) return outcome.value;
        // Past the bound the deadlock or serialization failure surfaces as it is, SQLSTATE and all.
        if (retries >= maxRetries) throw outcome.error;
      }
    },
  };
}
