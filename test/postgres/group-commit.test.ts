import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPostgresStorage } from "../../src/postgres/index.js";
import { checkLedgerInvariants } from "../../src/wallet/invariants.js";
import { createTestDatabase, type TestDatabase } from "./database.js";
import { activation, fundedWallet, losingAnswers, serviceOver, uniqueId, wallet } from "./fixtures.js";

/**
 * Group commit per wallet: units of work on one hot wallet that arrive while one is in flight decide one after the
 * other on the rows the previous ones left, and commit in one transaction.
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

/** A pool whose connections lose the answer of every group commit (several units in one message) after it ran. */
const losingGroupAnswers = (inner: pg.Pool) =>
  losingAnswers(inner, (text) => text.split("'wallet.withdraw'").length > 2);

describe("group commit", () => {
  it("commits concurrent units on one hot wallet together, each deciding on the previous ones' writes", async () => {
    const storage = createPostgresStorage({ pool });
    const fes = service(storage);
    const walletId = await fundedWallet(fes, 1_000);
    const before = storage.speculationStats();
    // 12 freezes of 100 on 1,000: ten fit, two must see the others' holds and lack funds.
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        fes.freeze({
          walletId,
          amountMinor: 100,
          currency: "USD",
          operationId: `hot-${walletId}-${i}`,
          idempotencyKey: `f-${i}`,
        }),
      ),
    );
    expect(results.filter((r) => r.isOk())).toHaveLength(10);
    expect(results.filter((r) => r.isErr()).map((r) => r._unsafeUnwrapErr().type)).toEqual([
      "insufficient_funds",
      "insufficient_funds",
    ]);
    expect((await fes.getBalance(walletId))._unsafeUnwrap()).toMatchObject({
      balanceMinor: 1_000,
      frozenMinor: 1_000,
    });
    const after = storage.speculationStats();
    expect(after.groups).toBeGreaterThan(before.groups);
    expect(after.groups - before.groups).toBeLessThan(10);
    expect(await checkLedgerInvariants(storage.read)).toEqual([]);
  });

  it("a group whose commit fails reruns its units one by one under the locks", async () => {
    const a = createPostgresStorage({ pool });
    const b = createPostgresStorage({ pool });
    const walletId = await fundedWallet(service(a), 100);
    // Behind A's cache: B deposits, so every row A's group read is stale and its re-check fails.
    (
      await service(b).deposit({ walletId, amountMinor: 900, currency: "USD", idempotencyKey: fresh("d") })
    )._unsafeUnwrap();
    const before = a.speculationStats();
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        service(a).withdraw({ walletId, amountMinor: 100, currency: "USD", idempotencyKey: `x-${i}` }),
      ),
    );
    for (const r of results) expect(r.isOk()).toBe(true);
    expect((await service(a).getBalance(walletId))._unsafeUnwrap()).toMatchObject({ balanceMinor: 200 });
    const after = a.speculationStats();
    expect(after.missed + after.confirmed - before.missed - before.confirmed).toBeGreaterThanOrEqual(2);
  });

  it("a lost COMMIT answer leaves every unit of the group unknown; each resolves through its idempotency key", async () => {
    const losing = losingGroupAnswers(pool);
    const storage = createPostgresStorage({ pool: losing.pool });
    const fes = service(storage);
    const walletId = await fundedWallet(fes, 1_000);
    const request = (i: number) => ({
      walletId,
      amountMinor: 10,
      currency: "USD",
      idempotencyKey: `lost-${i}`,
    });
    const first = await Promise.all(Array.from({ length: 8 }, (_, i) => fes.withdraw(request(i))));
    expect(losing.lost()).toBeGreaterThan(0);
    const unknown = first.filter((r) => r.isErr());
    expect(unknown.length).toBeGreaterThan(1);
    for (const r of unknown)
      expect(r._unsafeUnwrapErr()).toMatchObject({ type: "storage_failure", code: "08006" });
    // The group did commit: repeating each request with its key replays it (alone, so no answer is lost).
    const retried = createPostgresStorage({ pool, groupCommit: false });
    const again = await Promise.all(
      Array.from({ length: 8 }, (_, i) => service(retried).withdraw(request(i))),
    );
    for (const r of again) expect(r.isOk()).toBe(true);
    expect((await service(retried).getBalance(walletId))._unsafeUnwrap()).toMatchObject({
      balanceMinor: 920,
    });
    expect(await checkLedgerInvariants(retried.read)).toEqual([]);
  });

  it("members that write the same activation one after the other commit as one statement each, versions in order", async () => {
    const storage = createPostgresStorage({ pool });
    const walletId = fresh("w");
    const id = fresh("act");
    await storage.transaction(async (tx) => {
      await tx.load({ walletIds: [walletId], activationId: id });
      await tx.apply({
        createWallets: [wallet(walletId)],
        activations: [{ record: activation(id, { walletId }), expectedVersion: null }],
      });
    });
    const append = (code: string) =>
      storage.transaction(async (tx) => {
        const { activation: current } = await tx.load({ walletIds: [walletId], activationId: id });
        if (current === undefined) throw new Error("the activation is missing");
        await tx.apply({
          activations: [
            { record: { ...current, codes: [...current.codes, code] }, expectedVersion: current.version },
          ],
        });
        return current.version;
      });
    const before = storage.speculationStats();
    const seen = await Promise.all(["1", "2", "3", "4"].map(append));
    expect([...seen].sort()).toEqual([1, 2, 3, 4]);
    const stored = await storage.read.getActivation(id);
    expect(stored).toMatchObject({ version: 5 });
    expect([...(stored?.codes ?? [])].sort()).toEqual(["1", "2", "3", "4"]);
    expect(storage.speculationStats().groups).toBeGreaterThan(before.groups);
  });
});
