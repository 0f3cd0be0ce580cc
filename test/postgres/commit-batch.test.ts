import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Fes } from "../../src/fes/service.js";
import { createPostgresStorage } from "../../src/postgres/index.js";
import { checkLedgerInvariants } from "../../src/wallet/invariants.js";
import { createTestDatabase, type TestDatabase } from "./database.js";
import { countingPool, fundedWallet, losingAnswers, serviceOver, uniqueId } from "./fixtures.js";

/**
 * Commit batching across wallets: commits that are whole transactions by themselves wait while the bound of those
 * in flight is reached, and go out together as one message, one transaction.
 */
let db: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  db = await createTestDatabase();
  pool = db.pool(8);
});
afterAll(() => db.drop());

const service = serviceOver;

/** Wallets funded with 1,000 each through `fes` (so that its storage has them cached). */
const wallets = (fes: Fes, n: number) =>
  Promise.all(Array.from({ length: n }, () => fundedWallet(fes, 1_000)));

const withdrawAll = (fes: Fes, ids: readonly string[], key: string) =>
  Promise.all(
    ids.map((walletId) => fes.withdraw({ walletId, amountMinor: 100, currency: "USD", idempotencyKey: key })),
  );

/** The messages holding more than one unit's withdrawal. */
const batches = (messages: readonly string[]) =>
  messages.filter((m) => m.split("'wallet.withdraw'").length > 2).length;

describe("commit batching", () => {
  it("commits units on different wallets together while the bound of commits in flight is reached", async () => {
    const counting = countingPool(pool);
    const storage = createPostgresStorage({ pool: counting.pool, maxCommitsInFlight: 1 });
    const fes = service(storage);
    const ids = await wallets(fes, 12);
    counting.reset();
    const results = await withdrawAll(fes, ids, uniqueId("batch"));
    for (const r of results) expect(r.isOk()).toBe(true);
    // The first commit goes out alone at once; those arriving while it is in flight go out together.
    expect(counting.roundTrips()).toBeLessThan(12);
    expect(batches(counting.messages())).toBeGreaterThan(0);
    for (const walletId of ids)
      expect((await fes.getBalance(walletId))._unsafeUnwrap()).toMatchObject({ balanceMinor: 900 });
    expect(storage.speculationStats()).toMatchObject({ missed: 0 });
    expect(await checkLedgerInvariants(storage.read)).toEqual([]);
  });

  it("sends every commit alone, at once, with batching off", async () => {
    const counting = countingPool(pool);
    const storage = createPostgresStorage({ pool: counting.pool, commitBatching: false });
    const fes = service(storage);
    const ids = await wallets(fes, 8);
    counting.reset();
    for (const r of await withdrawAll(fes, ids, uniqueId("alone"))) expect(r.isOk()).toBe(true);
    expect(counting.roundTrips()).toBe(8);
    expect(batches(counting.messages())).toBe(0);
  });

  it("a batch refused for one unit's stale row commits the others alone and reruns that one under the locks", async () => {
    const counting = countingPool(pool);
    const a = createPostgresStorage({ pool: counting.pool, maxCommitsInFlight: 1 });
    const ids = await wallets(service(a), 8);
    // Behind A's cache, another instance moves one wallet: A's commit for it fails its re-check.
    const stale = ids[5] as string;
    const b = createPostgresStorage({ pool });
    (
      await service(b).deposit({
        walletId: stale,
        amountMinor: 50,
        currency: "USD",
        idempotencyKey: uniqueId("d"),
      })
    )._unsafeUnwrap();
    counting.reset();
    const before = a.speculationStats();
    const results = await withdrawAll(service(a), ids, uniqueId("stale"));
    for (const r of results) expect(r.isOk()).toBe(true);
    expect(batches(counting.messages())).toBeGreaterThan(0);
    const after = a.speculationStats();
    // Only the stale wallet's unit missed; the others of its batch committed speculatively, alone.
    expect(after.missed - before.missed).toBe(1);
    expect(after.committed - before.committed).toBe(7);
    for (const walletId of ids)
      expect((await service(b).getBalance(walletId))._unsafeUnwrap()).toMatchObject({
        balanceMinor: walletId === stale ? 950 : 900,
      });
    expect(await checkLedgerInvariants(b.read)).toEqual([]);
  });

  it("a lost answer leaves every unit of the batch unknown; each resolves through its idempotency key", async () => {
    const losing = losingAnswers(pool, (text) => batches([text]) > 0);
    const storage = createPostgresStorage({ pool: losing.pool, maxCommitsInFlight: 1 });
    const ids = await wallets(service(storage), 8);
    const key = uniqueId("lost");
    const first = await withdrawAll(service(storage), ids, key);
    expect(losing.lost()).toBeGreaterThan(0);
    const unknown = first.filter((r) => r.isErr());
    expect(unknown.length).toBeGreaterThan(1);
    for (const r of unknown)
      expect(r._unsafeUnwrapErr()).toMatchObject({ type: "storage_failure", code: "08006" });
    // The batch did commit: repeating each request with its key replays it.
    const retried = createPostgresStorage({ pool, commitBatching: false });
    for (const r of await withdrawAll(service(retried), ids, key)) expect(r.isOk()).toBe(true);
    for (const walletId of ids)
      expect((await service(retried).getBalance(walletId))._unsafeUnwrap()).toMatchObject({
        balanceMinor: 900,
      });
    expect(await checkLedgerInvariants(retried.read)).toEqual([]);
  });

  it("orders a batch's commits by wallet and never puts two commits of one wallet in one batch", async () => {
    const counting = countingPool(pool);
    // No lanes: units of one wallet may be in flight together, and the batcher alone keeps them apart.
    const storage = createPostgresStorage({ pool: counting.pool, maxCommitsInFlight: 1, groupCommit: false });
    const fes = service(storage);
    const ids = await wallets(fes, 6);
    counting.reset();
    const twice = [...ids, ...ids].reverse();
    const results = await Promise.all(
      twice.map((walletId, i) =>
        fes.withdraw({ walletId, amountMinor: 100, currency: "USD", idempotencyKey: uniqueId(`o${i}`) }),
      ),
    );
    for (const r of results) expect(r.isOk()).toBe(true);
    const batched = counting.messages().filter((m) => batches([m]) > 0);
    expect(batched.length).toBeGreaterThan(0);
    for (const m of batched) {
      const order = [...m.matchAll(/UPDATE "sms_fes"\.wallets AS w SET [^;]*? WHERE w\.id = '([^']+)'/g)].map(
        (x) => x[1] as string,
      );
      expect(new Set(order).size).toBe(order.length);
      expect(order).toEqual([...order].sort());
    }
    for (const walletId of ids)
      expect((await fes.getBalance(walletId))._unsafeUnwrap()).toMatchObject({ balanceMinor: 800 });
  });

  it("a wallet locked elsewhere holds up none of the other commits", async () => {
    const storage = createPostgresStorage({ pool, maxCommitsInFlight: 1 });
    const fes = service(storage);
    const ids = await wallets(fes, 6);
    const [locked, ...others] = ids as [string, ...string[]];
    const holder = await pool.connect();
    try {
      await holder.query("BEGIN");
      await holder.query("SELECT 1 FROM sms_fes.wallets WHERE id = $1 FOR UPDATE", [locked]);
      const blocked = fes.withdraw({
        walletId: locked,
        amountMinor: 100,
        currency: "USD",
        idempotencyKey: "l",
      });
      const rest = await withdrawAll(fes, others, uniqueId("free"));
      // Every other wallet committed while the lock is still held.
      for (const r of rest) expect(r.isOk()).toBe(true);
      await holder.query("COMMIT");
      expect((await blocked).isOk()).toBe(true);
    } finally {
      holder.release();
    }
    for (const walletId of ids)
      expect((await fes.getBalance(walletId))._unsafeUnwrap()).toMatchObject({ balanceMinor: 900 });
    expect(await checkLedgerInvariants(storage.read)).toEqual([]);
  });
});
