import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ConnectionLostError, createPostgresStorage } from "../../src/postgres/index.js";
import { type Storage, StorageConflictError } from "../../src/storage/port.js";
import { createTestDatabase, type TestDatabase } from "./database.js";
import { deposit, hold, wallet } from "./fixtures.js";

/** A connection killed by `pg_terminate_backend` in the middle of a unit of work leaves no partial effect. */
let db: TestDatabase;
let admin: pg.Pool;
let victimPool: pg.Pool;
let storage: Storage;

beforeAll(async () => {
  db = await createTestDatabase();
  admin = db.pool(2);
  victimPool = new pg.Pool({ connectionString: db.url, max: 2, application_name: "victim" });
  victimPool.on("error", () => {});
  storage = createPostgresStorage({ pool: victimPool });
  await storage.transaction((tx) =>
    tx.apply({
      createWallets: [wallet("w1"), wallet("w2")],
      walletDeltas: [
        { walletId: "w1", balanceDeltaMinor: 100, frozenDeltaMinor: 0 },
        { walletId: "w2", balanceDeltaMinor: 100, frozenDeltaMinor: 0 },
      ],
      transfers: [deposit("t1", "w1", 100, 100), deposit("t2", "w2", 100, 100)],
    }),
  );
});
afterAll(async () => {
  await victimPool.end();
  await db.drop();
});

/**
 * Terminates the victim's backends that are inside a transaction (with `afterLoad`, only those whose current
 * message is not the first one, `BEGIN` and the load); resolves to how many.
 */
async function killVictims(state: "idle in transaction" | "active", afterLoad = false): Promise<number> {
  const { rows } = await admin.query(
    "SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE application_name = 'victim' AND state = $1 AND NOT ($2 AND query LIKE 'BEGIN%')",
    [state, afterLoad],
  );
  return rows.filter((r) => r.killed).length;
}

async function untouched(): Promise<void> {
  expect(await storage.read.getWallet("w1")).toMatchObject({ balanceMinor: 100, frozenMinor: 0, version: 2 });
  expect(await storage.read.getHold("h1")).toBeUndefined();
  expect(await storage.read.getIdempotency("k1")).toBeUndefined();
  const { rows } = await admin.query("SELECT count(*)::int AS n FROM sms_fes.transfers");
  expect(rows[0].n).toBe(2);
}

const freezePlan = {
  openHolds: [hold("h1", "w1", 40)],
  walletDeltas: [{ walletId: "w1", balanceDeltaMinor: 0, frozenDeltaMinor: 40 }],
  idempotency: { key: "k1", operation: "freeze", fingerprint: "f", result: null, createdAtMs: 1 },
};

it("between apply and commit", async () => {
  const outcome = storage.transaction(async (tx) => {
    await tx.load({ walletIds: ["w1"] });
    await tx.apply(freezePlan);
    expect(await killVictims("idle in transaction")).toBe(1);
    // The deferred plan travels with this load, on a connection that is gone.
    await tx.load({ walletIds: ["w1"], holdIds: ["h1"] });
  });
  await expect(outcome).rejects.toThrow();
  await untouched();
});

it("while the unit of work waits for a lock", async () => {
  // Another transaction holds w2, so the victim blocks (an active backend) after writing its plan.
  const blocker = await admin.connect();
  await blocker.query("BEGIN; SELECT 1 FROM sms_fes.wallets WHERE id = 'w2' FOR UPDATE");
  const outcome = storage.transaction(async (tx) => {
    await tx.load({ walletIds: ["w1"] });
    await tx.apply(freezePlan);
    // Sends the plan and then waits for w2's lock, in one message.
    await tx.load({ walletIds: ["w2"] });
  });
  // Observed at once: the rejection may come while the loop below is still polling.
  const settled = outcome.then(
    () => undefined,
    (e: unknown) => e,
  );
  let killed = 0;
  while (killed === 0) killed = await killVictims("active");
  const error = await settled;
  // No COMMIT was sent: a typed connection loss whose outcome is known (nothing committed).
  expect(error).toBeInstanceOf(ConnectionLostError);
  expect(error).toMatchObject({ code: "08006", outcomeUnknown: false, cause: { code: "57P01" } });
  await blocker.query("ROLLBACK");
  blocker.release();
  await untouched();
});

it("while the plan and COMMIT are in flight: the outcome is unknown, a typed connection loss", async () => {
  // The plan touches w2, which another transaction holds, so the plan + COMMIT message waits and is cut off.
  const blocker = await admin.connect();
  await blocker.query("BEGIN; SELECT 1 FROM sms_fes.wallets WHERE id = 'w2' FOR UPDATE");
  let attempts = 0;
  const outcome = storage.transaction(async (tx) => {
    attempts++;
    await tx.load({ walletIds: ["w1"] });
    await tx.apply({
      ...freezePlan,
      walletDeltas: [
        ...freezePlan.walletDeltas,
        { walletId: "w2", balanceDeltaMinor: 0, frozenDeltaMinor: 1 },
      ],
    });
  });
  // Observed at once: the rejection may come while the loop below is still polling.
  const settled = outcome.then(
    () => undefined,
    (e: unknown) => e,
  );
  let killed = 0;
  // Only once the plan + COMMIT message is the one running (not the load before it, on a loaded machine).
  while (killed === 0) killed = await killVictims("active", true);
  const error = await settled;
  // Not a conflict (which would make the core rerun the unit), not retried: the connection is gone.
  expect(error).toBeInstanceOf(ConnectionLostError);
  expect(error).toMatchObject({ code: "08006", outcomeUnknown: true, cause: { code: "57P01" } });
  expect(error).not.toBeInstanceOf(StorageConflictError);
  expect(attempts).toBe(1);
  await blocker.query("ROLLBACK");
  blocker.release();
  await untouched();
});

it("leaves the pool usable", async () => {
  await storage.transaction((tx) => tx.apply(freezePlan));
  expect(await storage.read.getWallet("w1")).toMatchObject({ frozenMinor: 40 });
});

it("an idle connection that dies reaches onIdleConnectionError, not the process, and the pool carries on", async () => {
  // No listener of its own on this pool: without the adapter's, the `error` event would end the process.
  const idlePool = new pg.Pool({ connectionString: db.url, max: 1, application_name: "idle-victim" });
  try {
    let seen: (error: Error) => void = () => {};
    const died = new Promise<Error>((resolve) => {
      seen = resolve;
    });
    const idleStorage = createPostgresStorage({ pool: idlePool, onIdleConnectionError: (e) => seen(e) });
    expect(await idleStorage.read.getWallet("w1")).toBeDefined();
    const { rows } = await admin.query(
      "SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE application_name = 'idle-victim' AND state = 'idle'",
    );
    expect(rows.filter((r) => r.killed).length).toBe(1);
    expect((await died).message).toMatch(/terminat/);
    expect(await idleStorage.read.getWallet("w1")).toBeDefined();
  } finally {
    await idlePool.end();
  }
});
