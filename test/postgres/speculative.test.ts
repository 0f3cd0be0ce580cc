import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPostgresStorage } from "../../src/postgres/index.js";
import { seededRandom } from "../../src/testing/fake-provider.js";
import { checkLedgerInvariants } from "../../src/wallet/invariants.js";
import { createTestDatabase, type TestDatabase } from "./database.js";
import { countingPool, fundedWallet, serviceOver, uniqueId } from "./fixtures.js";

/**
 * The speculative unit of work: decisions on cached rows, one message per unit, every read re-checked at commit.
 * Two storages over one database stand for two application instances, each with its own cache: what one writes
 * leaves the other's cache stale.
 */
let db: TestDatabase;
let pool: pg.Pool;
const fresh = uniqueId;

beforeAll(async () => {
  db = await createTestDatabase();
  pool = db.pool(8);
});
afterAll(() => db.drop());

const service = serviceOver;

describe("speculative unit of work", () => {
  it("freezes and settles in one round trip each once the wallet is cached", async () => {
    const counting = countingPool(pool);
    const storage = createPostgresStorage({ pool: counting.pool });
    const fes = service(storage);
    const walletId = await fundedWallet(fes, 1_000);
    await counting.settled();
    counting.reset();
    const hold = (
      await fes.freeze({
        walletId,
        amountMinor: 100,
        currency: "USD",
        operationId: fresh("op"),
        idempotencyKey: fresh("f"),
      })
    )._unsafeUnwrap();
    expect(counting.roundTrips()).toBe(1);
    expect(counting.messages()[0]).toMatch(
      // One statement, a transaction by itself: the plan, whose wallet update is the re-check of the cached wallet.
      /^WITH wallet_updates AS \(UPDATE [^;]* AND w\.version = \d+ RETURNING[^;]*'stale_cache'[^;]*$/,
    );
    counting.reset();
    const settled = (await fes.settle({ holdId: hold.id, idempotencyKey: fresh("s") }))._unsafeUnwrap();
    expect(settled).toMatchObject({ state: "settled", settledMinor: 100 });
    expect(counting.roundTrips()).toBe(1);
    expect((await fes.getBalance(walletId))._unsafeUnwrap()).toMatchObject({
      balanceMinor: 900,
      frozenMinor: 0,
    });
    expect(storage.speculationStats()).toMatchObject({ missed: 0, confirmed: 0 });
  });

  it("regression: a stale cached row fails the whole one-statement commit with stale_cache, nothing written", async () => {
    const counting = countingPool(pool);
    const storage = createPostgresStorage({ pool: counting.pool, groupCommit: false });
    const fes = service(storage);
    const walletId = await fundedWallet(fes, 1_000);
    await counting.settled();
    counting.reset();
    (
      await fes.freeze({
        walletId,
        amountMinor: 100,
        currency: "USD",
        operationId: fresh("op"),
        idempotencyKey: fresh("f"),
      })
    )._unsafeUnwrap();
    await counting.settled();
    const [message] = counting.messages();
    // The same message again: the wallet moved on (its version is newer), so the re-check refuses it whole.
    const before = await pool.query(
      "SELECT (SELECT count(*) FROM sms_fes.holds) AS holds, (SELECT count(*) FROM sms_fes.idempotency_keys) AS keys, (SELECT frozen_minor FROM sms_fes.wallets WHERE id = $1) AS frozen",
      [walletId],
    );
    const client = await pool.connect();
    try {
      await expect(client.query(message as string)).rejects.toMatchObject({
        code: "FES01",
        detail: "stale_cache",
      });
      await client.query("ROLLBACK");
    } finally {
      client.release();
    }
    const after = await pool.query(
      "SELECT (SELECT count(*) FROM sms_fes.holds) AS holds, (SELECT count(*) FROM sms_fes.idempotency_keys) AS keys, (SELECT frozen_minor FROM sms_fes.wallets WHERE id = $1) AS frozen",
      [walletId],
    );
    expect(after.rows).toEqual(before.rows);
  });

  it("business error on a stale cache is confirmed by a locked rerun (here: it was not an error)", async () => {
    const a = createPostgresStorage({ pool });
    const b = createPostgresStorage({ pool });
    const walletId = await fundedWallet(service(a), 100);
    // Instance B deposits behind A's cache: A still believes the balance is 100.
    (
      await service(b).deposit({ walletId, amountMinor: 100, currency: "USD", idempotencyKey: fresh("d") })
    )._unsafeUnwrap();
    const before = a.speculationStats();
    const withdrawn = await service(a).withdraw({
      walletId,
      amountMinor: 150,
      currency: "USD",
      idempotencyKey: fresh("x"),
    });
    expect(withdrawn._unsafeUnwrap()).toMatchObject({ amountMinor: 150, balanceAfterMinor: 50 });
    expect(a.speculationStats().confirmed).toBe(before.confirmed + 1);
    // A real business error is still one: confirmed under the lock, then returned.
    const refused = await service(a).withdraw({
      walletId,
      amountMinor: 51,
      currency: "USD",
      idempotencyKey: fresh("x"),
    });
    expect(refused._unsafeUnwrapErr()).toMatchObject({ type: "insufficient_funds", availableMinor: 50 });
  });

  it("replay of a succeeded key with a stale cache returns the success", async () => {
    const a = createPostgresStorage({ pool });
    const b = createPostgresStorage({ pool });
    const walletId = await fundedWallet(service(a), 100);
    const request = { walletId, amountMinor: 150, currency: "USD", idempotencyKey: fresh("x") };
    // On B: a deposit and the withdrawal succeed; A's cache still says 100 and has never seen the key.
    (
      await service(b).deposit({ walletId, amountMinor: 100, currency: "USD", idempotencyKey: fresh("d") })
    )._unsafeUnwrap();
    const first = (await service(b).withdraw(request))._unsafeUnwrap();
    // The retry reaches A: on its stale rows the withdrawal lacks funds, but the key is the truth.
    const replay = await service(a).withdraw(request);
    expect(replay._unsafeUnwrap()).toEqual(first);
    // And where the stale rows allow the request, the key taken makes the commit miss: a replay too.
    const small = { walletId, amountMinor: 10, currency: "USD", idempotencyKey: fresh("y") };
    const c = createPostgresStorage({ pool });
    await service(c).getBalance(walletId);
    (await service(c).deposit({ ...small, idempotencyKey: fresh("warm") }))._unsafeUnwrap();
    const once = (await service(b).withdraw(small))._unsafeUnwrap();
    const missed = c.speculationStats().missed;
    expect((await service(c).withdraw(small))._unsafeUnwrap()).toEqual(once);
    expect(c.speculationStats().missed).toBe(missed + 1);
    expect((await service(a).getBalance(walletId))._unsafeUnwrap()).toMatchObject({ balanceMinor: 50 });
  });

  it("a wallet written from two storage instances (two caches) stays right", async () => {
    const a = createPostgresStorage({ pool });
    const b = createPostgresStorage({ pool });
    const fa = service(a);
    const fb = service(b);
    const walletId = await fundedWallet(fa, 10_000);
    const random = seededRandom(7);
    let expected = 10_000;
    const ops = Array.from({ length: 60 }, (_, i) => ({
      fes: random() < 0.5 ? fa : fb,
      amountMinor: 1 + Math.floor(random() * 50),
      deposit: random() < 0.5,
      key: `two-${i}`,
    }));
    const results = await Promise.all(
      ops.map(async (op) => {
        const request = { walletId, amountMinor: op.amountMinor, currency: "USD", idempotencyKey: op.key };
        if (op.deposit) return (await op.fes.deposit(request))._unsafeUnwrap();
        const hold = (
          await op.fes.freeze({ ...request, operationId: op.key, idempotencyKey: `${op.key}:f` })
        )._unsafeUnwrap();
        // The settle may land on the other instance, which has never seen the hold.
        const other = op.fes === fa ? fb : fa;
        return (await other.settle({ holdId: hold.id, idempotencyKey: `${op.key}:s` }))._unsafeUnwrap();
      }),
    );
    for (const op of ops) expected += op.deposit ? op.amountMinor : -op.amountMinor;
    expect(results).toHaveLength(60);
    expect((await fa.getBalance(walletId))._unsafeUnwrap()).toMatchObject({
      balanceMinor: expected,
      frozenMinor: 0,
    });
    expect(await checkLedgerInvariants(a.read)).toEqual([]);
    expect(a.speculationStats().missed + b.speculationStats().missed).toBeGreaterThan(0);
  });

  it("a unit whose later load the cache cannot answer runs again under the locks", async () => {
    const storage = createPostgresStorage({ pool });
    const walletId = await fundedWallet(service(storage), 100);
    let runs = 0;
    const sums = await storage.transaction(async (tx) => {
      runs++;
      await tx.load({ walletIds: [walletId] });
      return (await tx.load({ walletIds: [walletId], operationId: "nothing" })).operation;
    });
    expect(sums).toEqual({ settledMinor: 0, reversedMinor: 0 });
    expect(runs).toBe(2);
  });
});

describe("with a cache that is always stale", () => {
  it("never commits a decision made on stale rows: every unit reruns under the locks", async () => {
    const storage = createPostgresStorage({ pool, staleCacheReads: () => true });
    const fes = service(storage);
    const walletId = await fundedWallet(fes, 1_000);
    for (let i = 0; i < 5; i++) {
      const hold = (
        await fes.freeze({
          walletId,
          amountMinor: 100,
          currency: "USD",
          operationId: fresh("op"),
          idempotencyKey: fresh("f"),
        })
      )._unsafeUnwrap();
      (await fes.settle({ holdId: hold.id, idempotencyKey: fresh("s") }))._unsafeUnwrap();
    }
    expect((await fes.getBalance(walletId))._unsafeUnwrap()).toMatchObject({ balanceMinor: 500 });
    const stats = storage.speculationStats();
    expect(stats.committed).toBe(0);
    expect(stats.missed + stats.confirmed).toBeGreaterThanOrEqual(10);
  });
});
