import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compareBytes } from "../../src/core/ids.js";
import { createPostgresStorage } from "../../src/postgres/index.js";
import type { Storage } from "../../src/storage/port.js";
import { StorageConflictError } from "../../src/storage/port.js";
import { createTestDatabase, type TestDatabase } from "./database.js";
import { activation, countingPool, deposit, hold, rental, settleTransfer, wallet } from "./fixtures.js";

let db: TestDatabase;
let pool: pg.Pool;
let storage: Storage;
/** The locking path only (no cache): for the tests of its locks and round trips. */
let locking: Storage;
let n = 0;
/** A fresh id per test, so tests share one database without seeing each other's rows. */
const fresh = (prefix: string) => `${prefix}-${++n}`;

beforeAll(async () => {
  db = await createTestDatabase();
  pool = db.pool();
  storage = createPostgresStorage({ pool });
  locking = createPostgresStorage({ pool, speculative: false });
});
afterAll(() => db.drop());

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

async function conflict(promise: Promise<unknown>): Promise<string> {
  const error = await rejection(promise);
  expect(error).toBeInstanceOf(StorageConflictError);
  return (error as StorageConflictError).guard;
}

/** A wallet holding `balance`, through a deposit. */
async function funded(balance: number): Promise<string> {
  const id = fresh("w");
  await storage.transaction((tx) =>
    tx.apply({
      createWallets: [wallet(id)],
      walletDeltas: [{ walletId: id, balanceDeltaMinor: balance, frozenDeltaMinor: 0 }],
      transfers: [deposit(fresh("t"), id, balance, balance)],
    }),
  );
  return id;
}

describe("wallets and transfers", () => {
  it("creates a wallet at version 1 and counts one version per delta", async () => {
    const id = await funded(500);
    expect(await storage.read.getWallet(id)).toEqual(wallet(id, { balanceMinor: 500, version: 2 }));
    await storage.transaction(async (tx) => {
      await tx.load({ walletIds: [id] });
      await tx.apply({
        walletDeltas: [
          { walletId: id, balanceDeltaMinor: 0, frozenDeltaMinor: 100 },
          { walletId: id, balanceDeltaMinor: -100, frozenDeltaMinor: -100 },
        ],
      });
    });
    expect(await storage.read.getWallet(id)).toMatchObject({ balanceMinor: 400, frozenMinor: 0, version: 4 });
  });

  it("locks wallets in byte order, skipping missing ids and platform accounts", async () => {
    const ids = ["zeta", "Alpha", "éclair", "_x", "a\u{1F600}", "a\uFFFD"].map((s) => fresh(s));
    await storage.transaction((tx) => tx.apply({ createWallets: ids.map((id) => wallet(id)) }));
    const locked = await storage.transaction((tx) =>
      tx.load({ walletIds: [...ids, "missing", "@revenue:USD", ids[0]!] }),
    );
    expect(locked.wallets.map((w) => w.id)).toEqual([...ids].sort(compareBytes));
    expect(locked).toMatchObject({
      idempotency: undefined,
      activation: undefined,
      rental: undefined,
      holds: [],
    });
    expect(await storage.transaction((tx) => tx.load({ walletIds: [] }))).toEqual({
      wallets: [],
      idempotency: undefined,
      activation: undefined,
      rental: undefined,
      holds: [],
    });
  });

  it("assigns increasing seqs in plan order and pages transfers by account", async () => {
    const id = await funded(100);
    const more = [deposit(fresh("t"), id, 5, 105), deposit(fresh("t"), id, 7, 112)];
    await storage.transaction((tx) =>
      tx.apply({
        walletDeltas: [{ walletId: id, balanceDeltaMinor: 12, frozenDeltaMinor: 0 }],
        transfers: more,
      }),
    );
    const mine = await storage.read.listTransfers({ accountId: id });
    expect(mine.map((t) => t.amountMinor)).toEqual([100, 5, 7]);
    expect(mine[1]!.seq).toBeGreaterThan(mine[0]!.seq);
    expect(mine[2]!.seq).toBeGreaterThan(mine[1]!.seq);
    expect(mine[1]).toEqual({ ...more[0], seq: mine[1]!.seq });
    const page = await storage.read.listTransfers({ accountId: id, afterSeq: mine[0]!.seq, limit: 1 });
    expect(page.map((t) => t.id)).toEqual([more[0]!.id]);
    const platform = await storage.read.listTransfers({ accountId: "@deposits:USD" });
    expect(platform.map((t) => t.id)).toEqual(expect.arrayContaining(mine.map((t) => t.id)));
    const all = await storage.read.listTransfers();
    expect(all.map((t) => t.seq)).toEqual([...all.map((t) => t.seq)].sort((a, b) => a - b));
  });

  it("refuses a delta on a missing wallet and writes nothing of the plan", async () => {
    const id = await funded(100);
    const t = deposit(fresh("t"), id, 1, 101);
    const guard = await conflict(
      storage.transaction((tx) =>
        tx.apply({
          walletDeltas: [
            { walletId: id, balanceDeltaMinor: 1, frozenDeltaMinor: 0 },
            { walletId: "nobody", balanceDeltaMinor: 1, frozenDeltaMinor: 0 },
          ],
          transfers: [t],
        }),
      ),
    );
    expect(guard).toBe("wallet_missing");
    expect(await storage.read.getWallet(id)).toMatchObject({ balanceMinor: 100, version: 2 });
    expect(await storage.read.listTransfers({ accountId: id })).toHaveLength(1);
  });

  it.each([
    ["available", { balanceDeltaMinor: 0, frozenDeltaMinor: 101 }],
    ["balance", { balanceDeltaMinor: -101, frozenDeltaMinor: 0 }],
    ["frozen", { balanceDeltaMinor: 0, frozenDeltaMinor: -1 }],
  ])("refuses a delta that makes %s negative (CHECK → conflict)", async (_, delta) => {
    const id = await funded(100);
    expect(
      await conflict(storage.transaction((tx) => tx.apply({ walletDeltas: [{ walletId: id, ...delta }] }))),
    ).toBe("wallet_counters");
    expect(await storage.read.getWallet(id)).toMatchObject({ balanceMinor: 100, frozenMinor: 0 });
  });

  it("maps unique violations to unique:<table> conflicts", async () => {
    const id = await funded(100);
    expect(await conflict(storage.transaction((tx) => tx.apply({ createWallets: [wallet(id)] })))).toBe(
      "unique:wallets",
    );
    const [first] = await storage.read.listTransfers({ accountId: id });
    expect(
      await conflict(
        storage.transaction((tx) =>
          tx.apply({
            walletDeltas: [{ walletId: id, balanceDeltaMinor: 100, frozenDeltaMinor: 0 }],
            transfers: [first!],
          }),
        ),
      ),
    ).toBe("unique:transfers");
    const key = fresh("k");
    const idem = { key, operation: "wallet.deposit", fingerprint: "f", result: { n: 1 }, createdAtMs: 5 };
    await storage.transaction((tx) => tx.apply({ idempotency: idem }));
    expect(await conflict(storage.transaction((tx) => tx.apply({ idempotency: idem })))).toBe(
      "unique:idempotency",
    );
    expect(await storage.read.getIdempotency(key)).toEqual(idem);
  });

  it("keeps transfers append-only", async () => {
    const id = await funded(100);
    const error = await rejection(
      pool.query("UPDATE sms_fes.transfers SET amount_minor = 1 WHERE wallet_id = $1", [id]),
    );
    expect(error).toMatchObject({ code: "FES02" });
    expect(
      await rejection(pool.query("DELETE FROM sms_fes.transfers WHERE wallet_id = $1", [id])),
    ).toMatchObject({
      code: "FES02",
    });
  });
});

describe("holds", () => {
  it("opens, settles once, and refuses a second resolution", async () => {
    const id = await funded(100);
    const h = hold(fresh("h"), id, 60);
    await storage.transaction((tx) =>
      tx.apply({
        openHolds: [h],
        walletDeltas: [{ walletId: id, balanceDeltaMinor: 0, frozenDeltaMinor: 60 }],
      }),
    );
    expect(await storage.read.getHold(h.id)).toEqual(h);
    const settle = {
      resolveHolds: [{ holdId: h.id, state: "settled" as const, settledMinor: 40, resolvedAtMs: 4_000 }],
      walletDeltas: [{ walletId: id, balanceDeltaMinor: -40, frozenDeltaMinor: -60 }],
      transfers: [settleTransfer(fresh("t"), id, h.id, 40)],
    };
    await storage.transaction(async (tx) => {
      expect((await tx.load({ walletIds: [id], holdIds: [h.id] })).holds).toEqual([h]);
      await tx.apply(settle);
    });
    expect(await storage.read.getHold(h.id)).toEqual({
      ...h,
      state: "settled",
      settledMinor: 40,
      resolvedAtMs: 4_000,
    });
    const again = {
      resolveHolds: settle.resolveHolds,
      transfers: [settleTransfer(fresh("t"), id, h.id, 40)],
    };
    expect(await conflict(storage.transaction((tx) => tx.apply(again)))).toBe("hold_not_open");
    expect(await storage.read.getWallet(id)).toMatchObject({ balanceMinor: 60, frozenMinor: 0 });
    const missing = {
      resolveHolds: [{ holdId: "nope", state: "released" as const, settledMinor: 0, resolvedAtMs: 1 }],
    };
    expect(await conflict(storage.transaction((tx) => tx.apply(missing)))).toBe("hold_not_open");
  });

  it("refuses to settle more than the hold", async () => {
    const id = await funded(100);
    const h = hold(fresh("h"), id, 10);
    await storage.transaction((tx) => tx.apply({ openHolds: [h] }));
    const over = {
      resolveHolds: [{ holdId: h.id, state: "settled" as const, settledMinor: 11, resolvedAtMs: 1 }],
    };
    expect(await conflict(storage.transaction((tx) => tx.apply(over)))).toBe("hold_settled");
  });

  it("opens and resolves a hold in one plan, and lists holds by state and wallet", async () => {
    const id = await funded(100);
    const [a, b] = [hold(`${fresh("h")}-b`, id, 10), hold(`${fresh("h")}-a`, id, 20)];
    await storage.transaction((tx) =>
      tx.apply({
        openHolds: [a!, b!],
        resolveHolds: [{ holdId: a!.id, state: "released", settledMinor: 0, resolvedAtMs: 9 }],
      }),
    );
    expect(await storage.read.listHolds({ walletId: id })).toEqual(
      [{ ...a!, state: "released", resolvedAtMs: 9 }, b!].sort((x, y) => compareBytes(x.id, y.id)),
    );
    expect(await storage.read.listHolds({ walletId: id, state: "open" })).toEqual([b]);
    expect((await storage.read.listHolds({ state: "released" })).map((h) => h.id)).toContain(a!.id);
  });
});

describe("activations and rentals", () => {
  it("inserts at version 1, updates with a version check, and finds by provider id", async () => {
    const a = activation(fresh("act"), { codes: ["1234"], lateCodes: ["x\\y'z"] });
    await storage.transaction((tx) => tx.apply({ activations: [{ record: a, expectedVersion: null }] }));
    expect(await storage.read.getActivation(a.id)).toEqual(a);
    const pid = fresh("p");
    const waiting = { ...a, state: "waiting" as const, providerActivationId: pid, issuedAtMs: 11_000 };
    await storage.transaction(async (tx) => {
      expect((await tx.load({ walletIds: [a.walletId], activationId: a.id })).activation).toEqual(a);
      await tx.apply({ activations: [{ record: waiting, expectedVersion: 1 }] });
    });
    expect(await storage.read.getActivation(a.id)).toEqual({ ...waiting, version: 2 });
    expect(await storage.read.findActivationByProviderId("hero-sms", pid)).toEqual({
      ...waiting,
      version: 2,
    });
    expect(await storage.read.findActivationByProviderId("other", pid)).toBeUndefined();
    expect(
      await conflict(
        storage.transaction((tx) => tx.apply({ activations: [{ record: waiting, expectedVersion: 1 }] })),
      ),
    ).toBe("version");
    expect(
      await conflict(
        storage.transaction((tx) => tx.apply({ activations: [{ record: a, expectedVersion: null }] })),
      ),
    ).toBe("unique:activations");
    const twin = activation(fresh("act"), { providerActivationId: pid });
    expect(
      await conflict(
        storage.transaction((tx) => tx.apply({ activations: [{ record: twin, expectedVersion: null }] })),
      ),
    ).toBe("unique:activations_provider_id");
    const missing = activation(fresh("act"));
    expect(
      await conflict(
        storage.transaction((tx) => tx.apply({ activations: [{ record: missing, expectedVersion: 1 }] })),
      ),
    ).toBe("version");
  });

  it("stores rental periods as jsonb and filters rentals", async () => {
    const wid = fresh("w");
    const r1 = rental(fresh("r"), { walletId: wid, createdAtMs: 2 });
    const r2 = rental(fresh("r"), { walletId: wid, createdAtMs: 1, state: "active" });
    await storage.transaction((tx) =>
      tx.apply({
        rentals: [
          { record: r1, expectedVersion: null },
          { record: r2, expectedVersion: null },
        ],
      }),
    );
    expect(await storage.read.listRentals({ walletId: wid })).toEqual([r2, r1]);
    expect(await storage.read.listRentals({ walletId: wid, states: ["active"] })).toEqual([r2]);
    const paid = { ...r1, periods: [{ ...r1.periods[0]!, state: "paid" as const }], messageCount: 2 };
    await storage.transaction(async (tx) => {
      expect((await tx.load({ walletIds: [wid], rentalId: r1.id })).rental).toEqual(r1);
      await tx.apply({ rentals: [{ record: paid, expectedVersion: 1 }] });
    });
    expect(await storage.read.getRental(r1.id)).toEqual({ ...paid, version: 2 });
    const a1 = activation(fresh("act"), { walletId: wid, state: "received", createdAtMs: 5 });
    const a2 = activation(fresh("act"), { walletId: wid, state: "waiting", createdAtMs: 4 });
    await storage.transaction((tx) =>
      tx.apply({ activations: [a1, a2].map((record) => ({ record, expectedVersion: null })) }),
    );
    expect(await storage.read.listActivations({ walletId: wid })).toEqual([a2, a1]);
    expect(await storage.read.listActivations({ walletId: wid, states: ["received", "timeout"] })).toEqual([
      a1,
    ]);
  });

  it("lists what the sweeper must look at, oldest first, at most `limit` of each", async () => {
    const wid = fresh("w");
    const acts = [
      activation(fresh("due"), { walletId: wid, state: "waiting", deadlineAtMs: 500, createdAtMs: 900_002 }),
      activation(fresh("due"), { walletId: wid, state: "waiting", deadlineAtMs: 400, createdAtMs: 900_001 }),
      activation(fresh("due"), {
        walletId: wid,
        state: "waiting",
        deadlineAtMs: 10_000_000,
        createdAtMs: 900_000,
      }),
      activation(fresh("pend"), { walletId: wid, state: "pending", createdAtMs: 900_003 }),
      activation(fresh("pend"), { walletId: wid, state: "pending", createdAtMs: 9_000_000 }),
      activation(fresh("done"), { walletId: wid, state: "received", deadlineAtMs: 1, createdAtMs: 1 }),
    ];
    const rents = [
      rental(fresh("rent"), { walletId: wid, state: "active", endsAtMs: 700, createdAtMs: 900_000 }),
      rental(fresh("rent"), { walletId: wid, state: "active", endsAtMs: 10_000_000, createdAtMs: 1 }),
      rental(fresh("rent"), { walletId: wid, state: "pending", createdAtMs: 900_000 }),
      rental(fresh("rent"), { walletId: wid, state: "expired", endsAtMs: 1, createdAtMs: 1 }),
    ];
    await storage.transaction((tx) =>
      tx.apply({
        activations: acts.map((record) => ({ record, expectedVersion: null })),
        rentals: rents.map((record) => ({ record, expectedVersion: null })),
      }),
    );
    const due = await storage.read.listDue({ nowMs: 1_000, pendingBeforeMs: 1_000_000, limit: 10 });
    const mine = <T extends { walletId: string; id: string }>(list: readonly T[]) =>
      list.filter((x) => x.walletId === wid).map((x) => x.id);
    expect(mine(due.activationsPastDeadline)).toEqual([acts[1]!.id, acts[0]!.id]);
    expect(mine(due.pendingActivations)).toEqual([acts[3]!.id]);
    expect(mine(due.rentalsPastEnd)).toEqual([rents[0]!.id]);
    expect(mine(due.pendingRentals)).toEqual([rents[2]!.id]);
    const one = await storage.read.listDue({ nowMs: 1_000, pendingBeforeMs: 1_000_000, limit: 1 });
    expect(one.activationsPastDeadline).toHaveLength(1);
  });

  it("uses the sweeper's partial indexes", async () => {
    const client = await pool.connect();
    try {
      await client.query("BEGIN; SET LOCAL enable_seqscan = off");
      const plan = await client.query(
        `EXPLAIN SELECT id FROM sms_fes.activations WHERE state = 'waiting' AND deadline_at_ms <= 1000 ORDER BY created_at_ms, id COLLATE "C" LIMIT 10`,
      );
      expect(JSON.stringify(plan.rows)).toContain("activations_waiting");
    } finally {
      await client.query("ROLLBACK");
      client.release();
    }
  });
});

describe("idempotency and audit", () => {
  it("stores results as JSON and audit rows in insertion order", async () => {
    const key = fresh("k");
    const subject = fresh("w");
    const rows = [2, 1, 3].map((i) => ({
      id: fresh(`audit${i}`),
      atMs: i,
      actor: "customer:1",
      action: "wallet.deposit",
      subjectType: "wallet" as const,
      subjectId: subject,
      before: i === 2 ? null : { balance: i },
      after: { balance: i + 1, note: "it's" },
      idempotencyKey: i === 1 ? null : key,
    }));
    await storage.transaction(async (tx) => {
      expect((await tx.load({ walletIds: [], idempotencyKey: key })).idempotency).toBeUndefined();
      await tx.apply({
        idempotency: { key, operation: "op", fingerprint: "fp", result: "just a string", createdAtMs: 7 },
        audit: rows,
      });
    });
    expect(
      (await storage.transaction((tx) => tx.load({ walletIds: [], idempotencyKey: key }))).idempotency,
    ).toMatchObject({
      result: "just a string",
    });
    expect(await storage.read.listAudit({ subjectId: subject })).toEqual(rows);
    const all = await storage.read.listAudit();
    expect(all.slice(-3)).toEqual(rows);
  });
});

describe("transactions", () => {
  it("rolls back everything when the work throws after apply", async () => {
    const id = await funded(100);
    const boom = new Error("boom");
    await expect(
      storage.transaction(async (tx) => {
        await tx.load({ walletIds: [id] });
        await tx.apply({ walletDeltas: [{ walletId: id, balanceDeltaMinor: 5, frozenDeltaMinor: 0 }] });
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(await storage.read.getWallet(id)).toMatchObject({ balanceMinor: 100, version: 2 });
  });

  it("does not commit when the work swallows a conflict", async () => {
    const id = await funded(100);
    const guard = await conflict(
      storage.transaction(async (tx) => {
        await tx.apply({ walletDeltas: [{ walletId: id, balanceDeltaMinor: 1, frozenDeltaMinor: 0 }] });
        await tx
          .apply({ walletDeltas: [{ walletId: id, balanceDeltaMinor: -500, frozenDeltaMinor: 0 }] })
          .catch(() => {});
        return "pretend all is well";
      }),
    );
    expect(guard).toBe("wallet_counters");
    expect(await storage.read.getWallet(id)).toMatchObject({ balanceMinor: 100 });
  });

  it("refuses a handle used after its unit of work ended", async () => {
    let leaked: Parameters<Parameters<Storage["transaction"]>[0]>[0] | undefined;
    await storage.transaction(async (tx) => {
      leaked = tx;
    });
    await expect(leaked!.load({ walletIds: ["w"] })).rejects.toThrow(/ended/);
    await expect(leaked!.apply({ audit: [] })).rejects.toThrow(/ended/);
  });

  it("rejects other database errors with their SQLSTATE", async () => {
    const id = await funded(100);
    const error = await rejection(
      storage.transaction((tx) =>
        tx.apply({ walletDeltas: [{ walletId: id, balanceDeltaMinor: 1.5, frozenDeltaMinor: 0 }] }),
      ),
    );
    expect(error).not.toBeInstanceOf(StorageConflictError);
    expect(error).toMatchObject({ code: "22P02" });
  });

  it("reruns a unit of work chosen as a deadlock victim", async () => {
    const [a, b] = [await funded(10), await funded(10)];
    const attempts = new Map<string, number>();
    let arrived = 0;
    let release!: () => void;
    const bothLocked = new Promise<void>((resolve) => {
      release = resolve;
    });
    const done = new Map<string, Promise<string>>();
    // Each unit locks one wallet, waits for the other to lock its own, then asks for the other's: a cycle, and
    // PostgreSQL aborts one of them. The victim's rerun waits for the winner to commit: a rerun that asked at
    // once could take its first lock again before the winner, woken by the abort, had taken it, and deadlock anew.
    const unit = (first: string, second: string, other: string) =>
      storage.transaction(async (tx) => {
        const attempt = (attempts.get(first) ?? 0) + 1;
        attempts.set(first, attempt);
        if (attempt > 1) await done.get(other);
        await tx.load({ walletIds: [first] });
        if (++arrived === 2) release();
        await bothLocked;
        await tx.load({ walletIds: [second] });
        await tx.apply({ walletDeltas: [{ walletId: first, balanceDeltaMinor: 1, frozenDeltaMinor: 0 }] });
        return first;
      });
    done.set(a, unit(a, b, b));
    done.set(b, unit(b, a, a));
    expect(await Promise.all([done.get(a), done.get(b)])).toEqual([a, b]);
    // One winner ran once, the victim twice.
    expect([...attempts.values()].sort()).toEqual([1, 2]);
    expect(await storage.read.getWallet(a)).toMatchObject({ balanceMinor: 11 });
    expect(await storage.read.getWallet(b)).toMatchObject({ balanceMinor: 11 });
  });

  it("surfaces a deadlock with its SQLSTATE once the retries are spent", async () => {
    const strict = createPostgresStorage({ pool, maxRetries: 0 });
    const [a, b] = [await funded(10), await funded(10)];
    let arrived = 0;
    let release!: () => void;
    const bothLocked = new Promise<void>((resolve) => {
      release = resolve;
    });
    const unit = (first: string, second: string) =>
      strict.transaction(async (tx) => {
        await tx.load({ walletIds: [first] });
        if (++arrived === 2) release();
        await bothLocked;
        await tx.load({ walletIds: [second] });
      });
    const outcomes = await Promise.allSettled([unit(a, b), unit(b, a)]);
    const failed = outcomes.filter((o) => o.status === "rejected");
    expect(failed).toHaveLength(1);
    expect((failed[0] as PromiseRejectedResult).reason).toMatchObject({ code: "40P01" });
  });

  it("costs two round trips per unit that writes and one per unit that only reads", async () => {
    const id = await funded(100);
    const counting = countingPool(pool);
    const counted = createPostgresStorage({ pool: counting.pool, speculative: false });
    const h = hold(fresh("h"), id, 10);
    const key = fresh("k");
    // A freeze: BEGIN + the load (lock, idempotency lookup) in one message, then the plan + COMMIT in another.
    await counted.transaction(async (tx) => {
      const loaded = await tx.load({ walletIds: [id], idempotencyKey: key });
      expect(loaded.idempotency).toBeUndefined();
      await tx.apply({
        openHolds: [h],
        walletDeltas: [{ walletId: id, balanceDeltaMinor: 0, frozenDeltaMinor: 10 }],
        idempotency: { key, operation: "freeze", fingerprint: "f", result: null, createdAtMs: 1 },
        audit: [],
      });
    });
    expect(counting.roundTrips()).toBe(2);
    expect(counting.messages()[0]).toMatch(
      /^BEGIN ISOLATION LEVEL READ COMMITTED;[\s\S]*FOR UPDATE;[\s\S]*idempotency_keys/,
    );
    expect(counting.messages()[1]).toMatch(/^WITH [\s\S]*;\nCOMMIT$/);
    expect(await storage.read.getHold(h.id)).toEqual(h);
    // A settle: the lock, the key and the hold by id in one message, then the plan + COMMIT.
    counting.reset();
    await counted.transaction(async (tx) => {
      const loaded = await tx.load({ walletIds: [id], idempotencyKey: fresh("k"), holdIds: [h.id] });
      expect(loaded.holds).toEqual([h]);
      await tx.apply({
        resolveHolds: [{ holdId: h.id, state: "settled", settledMinor: 10, resolvedAtMs: 2 }],
        walletDeltas: [{ walletId: id, balanceDeltaMinor: -10, frozenDeltaMinor: -10 }],
        transfers: [settleTransfer(fresh("t"), id, h.id, 10)],
      });
    });
    expect(counting.roundTrips()).toBe(2);
    // A replay (or a business error) only reads: the caller waits for one round trip; COMMIT follows unawaited.
    counting.reset();
    const replay = await counted.transaction(async (tx) => {
      const loaded = await tx.load({ walletIds: [id], idempotencyKey: key });
      return loaded.idempotency?.key;
    });
    expect(replay).toBe(key);
    expect(counting.answered()).toBe(1);
    await counting.settled();
    expect(counting.messages()).toHaveLength(2);
    expect(counting.messages()[1]).toBe("COMMIT");
    // A plan without a load: BEGIN, the plan and COMMIT in one message.
    counting.reset();
    await counted.transaction((tx) => tx.apply({ createWallets: [wallet(fresh("w"))] }));
    expect(counting.roundTrips()).toBe(1);
    // A load after an apply sends the pending plan with it; the commit then has nothing left but COMMIT.
    counting.reset();
    await counted.transaction(async (tx) => {
      await tx.load({ walletIds: [id] });
      await tx.apply({ walletDeltas: [{ walletId: id, balanceDeltaMinor: 0, frozenDeltaMinor: 1 }] });
      const again = await tx.load({ walletIds: [id] });
      expect(again.wallets[0]).toMatchObject({ frozenMinor: 1 });
      await tx.apply({ walletDeltas: [{ walletId: id, balanceDeltaMinor: 0, frozenDeltaMinor: -1 }] });
    });
    expect(counting.roundTrips()).toBe(3);
    counting.reset();
    await counted.transaction(async () => "nothing");
    await counted.transaction((tx) => tx.load({ walletIds: ["@revenue:USD"] }));
    expect(counting.roundTrips()).toBe(0);
    await counting.settled();
  });

  it("commits nothing when the plan sent with COMMIT fails, and keeps the connection usable", async () => {
    const single = db.pool(1);
    const counting = countingPool(single);
    const strict = createPostgresStorage({ pool: counting.pool });
    const id = await funded(100);
    const guard = await conflict(
      strict.transaction(async (tx) => {
        await tx.load({ walletIds: [id] });
        await tx.apply({
          walletDeltas: [{ walletId: id, balanceDeltaMinor: -500, frozenDeltaMinor: 0 }],
          transfers: [settleTransfer(fresh("t"), id, "h", 500)],
        });
      }),
    );
    expect(guard).toBe("wallet_counters");
    await counting.settled();
    // Load, plan + COMMIT (the COMMIT skipped after the failed plan), then ROLLBACK.
    expect(counting.messages().slice(-1)).toEqual(["ROLLBACK"]);
    expect(await storage.read.getWallet(id)).toMatchObject({ balanceMinor: 100, version: 2 });
    expect(await storage.read.listTransfers({ accountId: id })).toHaveLength(1);
    // The one connection of that pool is out of the aborted transaction and serves the next unit of work.
    const { rows } = await single.query("SELECT now() = statement_timestamp() AS outside");
    expect(rows[0].outside).toBe(true);
    await strict.transaction(async (tx) => {
      await tx.load({ walletIds: [id] });
      await tx.apply({ walletDeltas: [{ walletId: id, balanceDeltaMinor: 0, frozenDeltaMinor: 1 }] });
    });
    expect(await storage.read.getWallet(id)).toMatchObject({ frozenMinor: 1, version: 3 });
  });
});

describe("load", () => {
  it("returns the holds owned by the activation or rental and those asked for by id, once each, in id order", async () => {
    const id = await funded(1_000);
    const a = activation(fresh("act"), { walletId: id });
    const r = rental(fresh("rent"), { walletId: id });
    const owned = [
      hold(`${a.id}:z`, id, 1, { ownerType: "activation", ownerId: a.id }),
      hold(`${a.id}:a`, id, 2, {
        ownerType: "activation",
        ownerId: a.id,
        state: "released",
        resolvedAtMs: 5,
      }),
      hold(`${r.id}:0`, id, 3, { ownerType: "rental", ownerId: r.id }),
      hold(`${r.id}:1`, id, 4, { ownerType: "rental", ownerId: r.id }),
    ];
    // Same owner id, another owner type: not the activation's.
    const stranger = hold(fresh("h"), id, 5, { ownerType: "manual", ownerId: a.id });
    const manual = hold(fresh("h"), id, 6);
    await storage.transaction((tx) =>
      tx.apply({
        openHolds: [...owned, stranger, manual],
        activations: [{ record: a, expectedVersion: null }],
        rentals: [{ record: r, expectedVersion: null }],
      }),
    );
    const key = fresh("k");
    await storage.transaction((tx) =>
      tx.apply({ idempotency: { key, operation: "op", fingerprint: "f", result: { n: 1 }, createdAtMs: 1 } }),
    );
    const loaded = await storage.transaction((tx) =>
      tx.load({
        walletIds: [id, "@revenue:USD"],
        idempotencyKey: key,
        activationId: a.id,
        rentalId: r.id,
        holdIds: [manual.id, owned[0]!.id, "nope"],
      }),
    );
    expect(loaded.wallets.map((w) => w.id)).toEqual([id]);
    expect(loaded.idempotency).toEqual({
      key,
      operation: "op",
      fingerprint: "f",
      result: { n: 1 },
      createdAtMs: 1,
    });
    expect(loaded.activation).toEqual(a);
    expect(loaded.rental).toEqual(r);
    expect(loaded.holds).toEqual([...owned, manual].sort((x, y) => compareBytes(x.id, y.id)));
    const onlyRental = await storage.transaction((tx) => tx.load({ walletIds: [id], rentalId: r.id }));
    expect(onlyRental.holds.map((h) => h.id)).toEqual([owned[2]!.id, owned[3]!.id]);
    expect(onlyRental.activation).toBeUndefined();
    const missing = await storage.transaction((tx) =>
      tx.load({ walletIds: ["nobody"], activationId: "nothing", idempotencyKey: "none" }),
    );
    expect(missing).toEqual({
      wallets: [],
      idempotency: undefined,
      activation: undefined,
      rental: undefined,
      holds: [],
    });
  });

  it("reads holds by owner and by id through indexes", async () => {
    const client = await pool.connect();
    try {
      await client.query("BEGIN; SET LOCAL enable_seqscan = off");
      const plan = await client.query(
        `EXPLAIN SELECT id FROM sms_fes.holds WHERE id = ANY(ARRAY['h1']::text[]) OR (owner_type = 'activation' AND owner_id = 'a1') OR (owner_type = 'rental' AND owner_id = 'r1') ORDER BY id COLLATE "C"`,
      );
      const text = JSON.stringify(plan.rows);
      expect(text).toContain("holds_owner");
      expect(text).toContain("holds_pkey");
    } finally {
      await client.query("ROLLBACK");
      client.release();
    }
  });

  it("keeps a second locker waiting until the first unit of work commits, then shows it the commit", async () => {
    const id = await funded(100);
    const key = fresh("k");
    let locked!: () => void;
    const firstHasLock = new Promise<void>((resolve) => {
      locked = resolve;
    });
    let proceed!: () => void;
    const mayCommit = new Promise<void>((resolve) => {
      proceed = resolve;
    });
    const events: string[] = [];
    const first = locking.transaction(async (tx) => {
      await tx.load({ walletIds: [id], idempotencyKey: key });
      locked();
      await mayCommit;
      await tx.apply({
        walletDeltas: [{ walletId: id, balanceDeltaMinor: 0, frozenDeltaMinor: 30 }],
        idempotency: { key, operation: "freeze", fingerprint: "f", result: null, createdAtMs: 1 },
      });
      events.push("first applied");
    });
    await firstHasLock;
    const second = locking.transaction(async (tx) => {
      const loaded = await tx.load({ walletIds: [id], idempotencyKey: key });
      events.push("second loaded");
      return loaded;
    });
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(events).toEqual([]);
    proceed();
    await first;
    const seen = await second;
    expect(events).toEqual(["first applied", "second loaded"]);
    // Loaded under the lock after the first committed: its writes, and its idempotency record.
    expect(seen.wallets[0]).toMatchObject({ frozenMinor: 30, version: 3 });
    expect(seen.idempotency?.key).toBe(key);
  });

  it("sees the writes of an earlier apply in the same unit of work", async () => {
    const id = await funded(100);
    const h = hold(fresh("h"), id, 40);
    const seen = await storage.transaction(async (tx) => {
      await tx.load({ walletIds: [id] });
      await tx.apply({
        openHolds: [h],
        walletDeltas: [{ walletId: id, balanceDeltaMinor: 0, frozenDeltaMinor: 40 }],
      });
      return tx.load({ walletIds: [id], holdIds: [h.id] });
    });
    expect(seen.wallets[0]).toMatchObject({ frozenMinor: 40, version: 3 });
    expect(seen.holds).toEqual([h]);
    // A plan that fails when flushed by a load fails that load, and the unit of work is rolled back.
    const guard = await conflict(
      storage.transaction(async (tx) => {
        await tx.apply({ walletDeltas: [{ walletId: id, balanceDeltaMinor: 0, frozenDeltaMinor: 100 }] });
        await tx.load({ walletIds: [id] });
      }),
    );
    expect(guard).toBe("wallet_counters");
    expect(await storage.read.getWallet(id)).toMatchObject({ frozenMinor: 40, version: 3 });
  });
});
