import type {
  ActivationRecord,
  HoldRecord,
  RentalRecord,
  TransferRecord,
  WalletRecord,
} from "../../src/core/records.js";
import type { PoolLike, QueryResultLike } from "../../src/postgres/index.js";

/** Records for the adapter tests, with every field set and overridable. */
export const wallet = (id: string, over: Partial<WalletRecord> = {}): WalletRecord => ({
  id,
  currency: "USD",
  balanceMinor: 0,
  frozenMinor: 0,
  version: 1,
  createdAtMs: 1_000,
  ...over,
});

export const deposit = (
  id: string,
  walletId: string,
  amountMinor: number,
  balanceAfter: number,
): TransferRecord => ({
  id,
  seq: 0,
  kind: "deposit",
  debitAccountId: "@deposits:USD",
  creditAccountId: walletId,
  amountMinor,
  currency: "USD",
  walletId,
  walletBalanceAfterMinor: balanceAfter,
  holdId: null,
  operationId: `op:${id}`,
  reason: null,
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
): HoldRecord => ({
  id,
  walletId,
  currency: "USD",
  amountMinor,
  state: "open",
  settledMinor: 0,
  ownerType: "manual",
  ownerId: id,
  createdAtMs: 3_000,
  resolvedAtMs: null,
  ...over,
});

export const activation = (id: string, over: Partial<ActivationRecord> = {}): ActivationRecord => ({
  id,
  walletId: "w1",
  provider: "hero-sms",
  providerActivationId: null,
  serviceCode: "tg",
  countryCode: "6",
  service: "telegram",
  country: "id",
  state: "pending",
  phone: null,
  priceMinor: 100,
  costMinor: null,
  currency: "USD",
  codes: [],
  lateCodes: [],
  holdId: `hold:${id}`,
  retryOf: null,
  failureReason: null,
  createdAtMs: 10_000,
  issuedAtMs: null,
  firstCodeAtMs: null,
  endedAtMs: null,
  closedAtMs: null,
  deadlineAtMs: null,
  cashbackMinor: 0,
  version: 1,
  ...over,
});

export const rental = (id: string, over: Partial<RentalRecord> = {}): RentalRecord => ({
  id,
  walletId: "w1",
  provider: "hero-sms",
  providerRentalId: null,
  serviceCode: "tg",
  countryCode: "6",
  service: "telegram",
  country: "id",
  state: "pending",
  phone: null,
  currency: "USD",
  periods: [{ holdId: `hold:${id}:0`, hours: 4, priceMinor: 300, state: "pending" }],
  priceMinor: 300,
  costMinor: null,
  messageCount: 0,
  failureReason: null,
  createdAtMs: 10_000,
  startedAtMs: null,
  endsAtMs: null,
  endedAtMs: null,
  version: 1,
  ...over,
});

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
