import type {
  ActivationRecord,
  HoldRecord,
  RentalRecord,
  TransferRecord,
  WalletRecord,
} from "../../src/core/records.js";
import { createFes, type Fes } from "../../src/fes/service.js";
import type { PoolLike, PostgresStorage, QueryResultLike } from "../../src/postgres/index.js";
import { createFakeProvider, ManualClock, recordFixtures } from "../../src/testing/index.js";

/** Records for the adapter tests: the shared fixtures with this suite's defaults. */
export const wallet = (id: string, over: Partial<WalletRecord> = {}): WalletRecord =>
  recordFixtures.wallet(id, { createdAtMs: 1_000, ...over });

export const deposit = (
  id: string,
  walletId: string,
  amountMinor: number,
  balanceAfter: number,
): TransferRecord =>
  recordFixtures.deposit(id, walletId, amountMinor, {
    walletBalanceAfterMinor: balanceAfter,
    createdAtMs: 2_000,
  });

export const settleTransfer = (
  id: string,
  walletId: string,
  holdId: string,
  amountMinor: number,
): TransferRecord => ({
  ...deposit(id, walletId, amountMinor, 0),
  kind: "settle",
  debitAccountId: walletId,
  creditAccountId: "@revenue:USD",
  holdId,
});

export const hold = (
  id: string,
  walletId: string,
  amountMinor: number,
  over: Partial<HoldRecord> = {},
): HoldRecord => recordFixtures.hold(id, walletId, amountMinor, { createdAtMs: 3_000, ...over });

/** Activations and rentals of a HeroSMS account, resolved to canonical ids. */
const resolved = { provider: "hero-sms", service: "telegram", country: "id", createdAtMs: 10_000 } as const;

export const activation = (id: string, over: Partial<ActivationRecord> = {}): ActivationRecord =>
  recordFixtures.activation(id, { ...resolved, priceMinor: 100, ...over });

export const rental = (id: string, over: Partial<RentalRecord> = {}): RentalRecord =>
  recordFixtures.rental(id, { ...resolved, ...over });

/**
 * Wraps a pool so that every message sent (one round trip each, whatever number of statements it holds) is
 * counted, together with how many of them have been answered: a unit of work that only reads sends its COMMIT as
 * it returns, so the caller waits for fewer round trips than are sent.
 */
export function countingPool(pool: PoolLike): {
  pool: PoolLike;
  /** Messages sent. */
  roundTrips: () => number;
  /** Messages answered so far. */
  answered: () => number;
  /** The text of every message sent, in order. */
  messages: () => readonly string[];
  /** Resolves once every message sent has been answered. */
  settled: () => Promise<void>;
  reset: () => void;
} {
  let texts: string[] = [];
  let answered = 0;
  const inFlight = new Set<Promise<unknown>>();
  const counted =
    <Q extends { query(text: string, values?: unknown[]): Promise<unknown> }>(q: Q) =>
    (text: string, values?: unknown[]) => {
      texts.push(text);
      const sent = q.query(text, values) as Promise<QueryResultLike | QueryResultLike[]>;
      const done = sent.then(
        () => {
          answered++;
        },
        () => {
          answered++;
        },
      );
      inFlight.add(done);
      void done.then(() => inFlight.delete(done));
      return sent;
    };
  return {
    pool: {
      query: counted(pool),
      async connect() {
        const client = await pool.connect();
        return {
          query: counted(client),
          release: (destroy?: boolean | Error) => client.release(destroy),
          on: client.on?.bind(client),
          removeListener: client.removeListener?.bind(client),
        };
      },
    },
    roundTrips: () => texts.length,
    answered: () => answered,
    messages: () => texts,
    settled: async () => {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
    reset: () => {
      texts = [];
      answered = 0;
    },
  };
}

let unique = 0;
/** An id unique within the test process (tests share one database). */
export const uniqueId = (prefix: string): string => `${prefix}-${++unique}`;

/** A new USD wallet holding `amountMinor`, through the public API. */
export async function fundedWallet(fes: Fes, amountMinor: number): Promise<string> {
  const walletId = uniqueId("w");
  (await fes.createWallet({ walletId, currency: "USD" }))._unsafeUnwrap();
  if (amountMinor > 0)
    (
      await fes.deposit({ walletId, amountMinor, currency: "USD", idempotencyKey: uniqueId("fund") })
    )._unsafeUnwrap();
  return walletId;
}

const clock = new ManualClock(Date.UTC(2026, 0, 1));
const provider = createFakeProvider({ clock }).provider;

/** The public API over `storage`, with a fake provider and a manual clock. */
export const serviceOver = (storage: PostgresStorage): Fes => createFes({ storage, provider, clock });

/**
 * A pool whose checked-out connections lose the answer of every message `lose` picks, after the server ran it (so
 * its outcome is unknown to the caller). Counts the answers lost.
 */
export function losingAnswers(
  inner: PoolLike & { on(event: "error", listener: (err: Error) => void): unknown },
  lose: (text: string) => boolean,
): { pool: PoolLike; lost: () => number } {
  let lost = 0;
  return {
    pool: {
      query: (text, values) => inner.query(text, values),
      on: (event, listener) => inner.on(event, listener),
      async connect() {
        const client = await inner.connect();
        return {
          async query(text: string, values?: unknown[]) {
            const result = await client.query(text, values);
            if (lose(text)) {
              lost++;
              throw new Error("Connection terminated unexpectedly");
            }
            return result;
          },
          release: (destroy?: boolean | Error) => client.release(destroy),
          on: client.on?.bind(client),
          removeListener: client.removeListener?.bind(client),
        };
      },
    },
    lost: () => lost,
  };
}
