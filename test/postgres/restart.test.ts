/**
 * A database restart under load: the pool has no `error` listener of its own (the adapter's keeps the process
 * alive), eight workers deposit through the service while the server is restarted (`pg_ctl restart -m fast`: the
 * running sessions are terminated, new connections refused until it is back). Every failure must be a typed
 * `storage_failure` for a lost connection (08001 nothing sent, 08006 connection lost), every request repeated
 * with its idempotency key until it succeeds, and in the end every deposit landed exactly once.
 */
import { execFile } from "node:child_process";
import { statSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createFes } from "../../src/fes/service.js";
import { createPostgresStorage, migrate } from "../../src/postgres/index.js";
import { createFakeProvider, ManualClock } from "../../src/testing/index.js";
import { checkLedgerInvariants } from "../../src/wallet/invariants.js";
import { findPostgresBinaries, startThrowawayServer, type ThrowawayServer } from "./throwaway-server.js";

const WORKERS = 8;
const DEPOSITS_PER_WORKER = 40;
const run = promisify(execFile);

let server: ThrowawayServer | undefined;
let pool: pg.Pool;
let dataDir: string;

// The system's server binaries or the embedded ones: `startThrowawayServer` fails loudly when there are none.
const bin = findPostgresBinaries();

beforeAll(async () => {
  server = await startThrowawayServer();
  pool = new pg.Pool({ connectionString: server.url, max: WORKERS });
  // Deliberately no pool.on("error"): the adapter's listener is what keeps a restart from ending the process.
  dataDir = String((await pool.query("SHOW data_directory")).rows[0].data_directory);
});
afterAll(async () => {
  await pool?.end();
  server?.stop();
});

/** `pg_ctl restart -m fast`, as the cluster's owner, reusing the server's own command line (postmaster.opts). */
async function restartServer(): Promise<void> {
  const owner = statSync(dataDir);
  const asOwner = process.getuid?.() === 0 ? { uid: owner.uid, gid: owner.gid } : {};
  await run(
    join(bin as string, "pg_ctl"),
    ["-D", dataDir, "-m", "fast", "-w", "-l", join(dataDir, "..", "restart.log"), "restart"],
    asOwner,
  );
}

it("recovers from a database restart under load: typed storage_failure while it is down, every deposit once", async () => {
  await migrate(pool);
  const storage = createPostgresStorage({ pool });
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const fes = createFes({ storage, provider: createFakeProvider({ clock }).provider, clock });
  (await fes.createWallet({ walletId: "w1", currency: "USD" }))._unsafeUnwrap();

  const failures: { type: string; code?: string; message: string }[] = [];
  let succeeded = 0;
  let restarting: Promise<void> | undefined;
  const worker = async (w: number) => {
    for (let i = 0; i < DEPOSITS_PER_WORKER; i++) {
      const request = { walletId: "w1", amountMinor: 1, currency: "USD", idempotencyKey: `d-${w}-${i}` };
      for (;;) {
        if (succeeded === (WORKERS * DEPOSITS_PER_WORKER) / 4 && restarting === undefined)
          restarting = restartServer();
        const result = await fes.deposit(request);
        if (result.isOk()) break;
        failures.push(result.error as (typeof failures)[number]);
        // Down: wait until the restart is over, then repeat the same request with the same key.
        if (restarting !== undefined) await restarting;
        else throw new Error(`failed with the server up: ${JSON.stringify(result.error)}`);
      }
      succeeded++;
    }
  };
  await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
  await restarting;

  expect(restarting, "the restart happened").toBeDefined();
  expect(failures.length, "some units met the restart").toBeGreaterThan(0);
  for (const f of failures) {
    expect(f.type).toBe("storage_failure");
    expect(["08001", "08006"], f.message).toContain(f.code);
  }
  // Every deposit exactly once, whatever the outcome of the units that met the restart.
  const total = WORKERS * DEPOSITS_PER_WORKER;
  expect(await storage.read.getWallet("w1")).toMatchObject({ balanceMinor: total });
  expect((await storage.read.listTransfers({ accountId: "w1" })).length).toBe(total);
  expect(await checkLedgerInvariants(storage.read)).toEqual([]);
}, 60_000);

it("a database that cannot be reached is a typed storage_failure 08001, for units of work and for reads", async () => {
  // A port nothing listens on: the throwaway server's, once it is stopped.
  const gone = await startThrowawayServer().catch(() => undefined);
  if (gone === undefined) return;
  gone.stop();
  const unreachable = new pg.Pool({ connectionString: gone.url, max: 2, connectionTimeoutMillis: 2_000 });
  try {
    const storage = createPostgresStorage({ pool: unreachable });
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const fes = createFes({ storage, provider: createFakeProvider({ clock }).provider, clock });
    const deposit = await fes.deposit({
      walletId: "w1",
      amountMinor: 1,
      currency: "USD",
      idempotencyKey: "k",
    });
    expect(deposit._unsafeUnwrapErr()).toMatchObject({ type: "storage_failure", code: "08001" });
    const balance = await fes.getBalance("w1");
    expect(balance._unsafeUnwrapErr()).toMatchObject({ type: "storage_failure", code: "08001" });
  } finally {
    await unreachable.end();
  }
});
