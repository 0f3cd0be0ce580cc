/**
 * FES cycles per second on PostgreSQL: freeze → settle, each step one unit of work through the adapter's locking
 * path (lock the wallet, read what the step needs, apply the commit plan; the speculative path is measured through
 * the public API in postgres-fes.ts), with 1, 8 and 32 concurrent workers, over 1,000
 * wallets and over one hot wallet. Baselines on the same throwaway server in the same run, writing the same rows
 * (wallet counters, hold, settle transfer, idempotency row, audit rows) in one transaction per step:
 * - floor: one hand-written statement per step (data-modifying CTEs, autocommit): one round trip, the minimum;
 * - naive: the same reads and rows as separate statements inside BEGIN … COMMIT (8 and 11 round trips).
 */
import pg from "pg";
import { createPostgresStorage, migrate } from "../src/postgres/index.js";
import type { Storage } from "../src/storage/port.js";
import { countingPool } from "../test/postgres/fixtures.js";
import { startThrowawayServer } from "../test/postgres/throwaway-server.js";
import { type Cycle, floorCycle } from "./postgres-shared.js";

const WORKER_COUNTS = [1, 8, 32];
const CYCLES = Number(process.env.FES_BENCH_PG_CYCLES ?? 600);
const MANY_WALLETS = 1_000;
/** Messages per naive cycle: BEGIN, 2 reads, 4 writes, COMMIT; BEGIN, 3 reads, 6 writes, COMMIT. */
const NAIVE_TRIPS = 8 + 11;
const FUNDS = 1_000_000_000;

/** The adapter: two units of work per cycle, written as the core writes them (load → decide → apply). */
function adapterCycle(storage: Storage): Cycle {
  return async (walletId, n) => {
    const holdId = `hold:${n}`;
    await storage.transaction(async (tx) => {
      const loaded = await tx.load({ walletIds: [walletId], idempotencyKey: `f:${n}` });
      if (loaded.idempotency !== undefined) return;
      const w = loaded.wallets[0];
      if (w === undefined || w.balanceMinor - w.frozenMinor < 100)
        throw new Error("bench: insufficient funds");
      await tx.apply({
        walletDeltas: [{ walletId, balanceDeltaMinor: 0, frozenDeltaMinor: 100 }],
        openHolds: [
          {
            id: holdId,
            walletId,
            currency: "USD",
            amountMinor: 100,
            state: "open",
            settledMinor: 0,
            ownerType: "manual",
            ownerId: n,
            createdAtMs: 1,
            resolvedAtMs: null,
          },
        ],
        idempotency: {
          key: `f:${n}`,
          operation: "freeze",
          fingerprint: "x",
          result: { holdId },
          createdAtMs: 1,
        },
        audit: [
          {
            id: `f:${n}#a0`,
            atMs: 1,
            actor: "platform",
            action: "hold.freeze",
            subjectType: "hold",
            subjectId: holdId,
            before: null,
            after: { amountMinor: 100, walletId },
            idempotencyKey: `f:${n}`,
          },
        ],
      });
    });
    await storage.transaction(async (tx) => {
      const loaded = await tx.load({ walletIds: [walletId], idempotencyKey: `s:${n}`, holdIds: [holdId] });
      if (loaded.idempotency !== undefined) return;
      const [w] = loaded.wallets;
      const [hold] = loaded.holds;
      if (w === undefined || hold?.state !== "open") throw new Error("bench: hold not open");
      await tx.apply({
        walletDeltas: [{ walletId, balanceDeltaMinor: -100, frozenDeltaMinor: -100 }],
        resolveHolds: [{ holdId, state: "settled", settledMinor: 100, resolvedAtMs: 2 }],
        transfers: [
          {
            id: `s:${n}#t0`,
            seq: 0,
            kind: "settle",
            debitAccountId: walletId,
            creditAccountId: "@revenue:USD",
            amountMinor: 100,
            currency: "USD",
            walletId,
            walletBalanceAfterMinor: w.balanceMinor - 100,
            holdId,
            operationId: n,
            reason: null,
            createdAtMs: 2,
          },
        ],
        idempotency: {
          key: `s:${n}`,
          operation: "settle",
          fingerprint: "x",
          result: { holdId },
          createdAtMs: 2,
        },
        audit: [
          {
            id: `s:${n}#a0`,
            atMs: 2,
            actor: "platform",
            action: "wallet.settle",
            subjectType: "wallet",
            subjectId: walletId,
            before: { balanceMinor: w.balanceMinor },
            after: { balanceMinor: w.balanceMinor - 100 },
            idempotencyKey: `s:${n}`,
          },
          {
            id: `s:${n}#a1`,
            atMs: 2,
            actor: "platform",
            action: "hold.settle",
            subjectType: "hold",
            subjectId: holdId,
            before: { state: "open" },
            after: { state: "settled", settledMinor: 100, releasedMinor: 0 },
            idempotencyKey: `s:${n}`,
          },
        ],
      });
    });
  };
}

const AUDIT_INSERT =
  "INSERT INTO sms_fes.audit_trail (id, at_ms, actor, action, subject_type, subject_id, before, after, idempotency_key) VALUES ($1, $2, 'platform', $3, $4, $5, $6, $7, $8)";

/** The naive hand-written version: lock and read, then one statement per row, in BEGIN … COMMIT. */
function naiveCycle(pool: pg.Pool): Cycle {
  return async (walletId, n) => {
    const c = await pool.connect();
    try {
      await c.query("BEGIN");
      await c.query("SELECT 1 FROM sms_fes.wallets WHERE id = $1 FOR UPDATE", [walletId]);
      await c.query("SELECT 1 FROM sms_fes.idempotency_keys WHERE key = $1", [`f:${n}`]);
      await c.query(
        "UPDATE sms_fes.wallets SET frozen_minor = frozen_minor + 100, version = version + 1 WHERE id = $1",
        [walletId],
      );
      await c.query(
        "INSERT INTO sms_fes.holds (id, wallet_id, currency, amount_minor, state, owner_type, owner_id, created_at_ms) VALUES ($1, $2, 'USD', 100, 'open', 'manual', $3, 1)",
        [`hold:${n}`, walletId, n],
      );
      await c.query(
        "INSERT INTO sms_fes.idempotency_keys (key, operation, fingerprint, result, created_at_ms) VALUES ($1, 'freeze', 'x', $2, 1)",
        [`f:${n}`, { holdId: `hold:${n}` }],
      );
      await c.query(AUDIT_INSERT, [
        `f:${n}#a0`,
        1,
        "hold.freeze",
        "hold",
        `hold:${n}`,
        null,
        { amountMinor: 100, walletId },
        `f:${n}`,
      ]);
      await c.query("COMMIT");
      await c.query("BEGIN");
      await c.query("SELECT 1 FROM sms_fes.wallets WHERE id = $1 FOR UPDATE", [walletId]);
      await c.query("SELECT 1 FROM sms_fes.idempotency_keys WHERE key = $1", [`s:${n}`]);
      await c.query("SELECT state FROM sms_fes.holds WHERE id = $1", [`hold:${n}`]);
      const { rows } = await c.query(
        "UPDATE sms_fes.wallets SET balance_minor = balance_minor - 100, frozen_minor = frozen_minor - 100, version = version + 1 WHERE id = $1 RETURNING balance_minor",
        [walletId],
      );
      const after = Number(rows[0].balance_minor);
      await c.query(
        "UPDATE sms_fes.holds SET state = 'settled', settled_minor = 100, resolved_at_ms = 2 WHERE id = $1 AND state = 'open'",
        [`hold:${n}`],
      );
      await c.query(
        "INSERT INTO sms_fes.transfers (id, kind, debit_account_id, credit_account_id, amount_minor, currency, wallet_id, wallet_balance_after_minor, hold_id, operation_id, created_at_ms) VALUES ($1, 'settle', $2, '@revenue:USD', 100, 'USD', $2, $3, $4, $5, 2)",
        [`s:${n}#t0`, walletId, after, `hold:${n}`, n],
      );
      await c.query(
        "INSERT INTO sms_fes.idempotency_keys (key, operation, fingerprint, result, created_at_ms) VALUES ($1, 'settle', 'x', $2, 2)",
        [`s:${n}`, { holdId: `hold:${n}` }],
      );
      await c.query(AUDIT_INSERT, [
        `s:${n}#a0`,
        2,
        "wallet.settle",
        "wallet",
        walletId,
        { balanceMinor: after + 100 },
        { balanceMinor: after },
        `s:${n}`,
      ]);
      await c.query(AUDIT_INSERT, [
        `s:${n}#a1`,
        2,
        "hold.settle",
        "hold",
        `hold:${n}`,
        { state: "open" },
        { state: "settled", settledMinor: 100, releasedMinor: 0 },
        `s:${n}`,
      ]);
      await c.query("COMMIT");
    } catch (error) {
      await c.query("ROLLBACK");
      throw error;
    } finally {
      c.release();
    }
  };
}

/** Runs `CYCLES` cycles spread over `workers` concurrent loops; cycles per second. */
async function measure(
  cycle: Cycle,
  workers: number,
  wallets: readonly string[],
  tag: string,
): Promise<number> {
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async () => {
      for (let i = next++; i < CYCLES; i = next++) await cycle(wallets[i % wallets.length]!, `${tag}:${i}`);
    }),
  );
  return CYCLES / ((performance.now() - start) / 1000);
}

export default async function run(): Promise<{ title: string; lines: string[] }> {
  const server = await startThrowawayServer();
  const pool = new pg.Pool({ connectionString: server.url, max: 32 });
  try {
    await migrate(pool);
    const all = Array.from({ length: MANY_WALLETS }, (_, i) => `w${String(i).padStart(4, "0")}`);
    await pool.query(
      "INSERT INTO sms_fes.wallets (id, currency, balance_minor, version, created_at_ms) SELECT unnest($1::text[]), 'USD', $2, 1, 0",
      [all, FUNDS],
    );
    const hot = [all[0]!];

    // Round trips per step, counted on the wire.
    const counting = countingPool(pool);
    const counted = adapterCycle(createPostgresStorage({ pool: counting.pool, speculative: false }));
    await counted(all[1]!, "rt");
    const adapterTrips = counting.roundTrips();

    const adapter = adapterCycle(createPostgresStorage({ pool, speculative: false }));
    const floor = floorCycle(pool);
    const naive = naiveCycle(pool);
    await measure(adapter, 4, all, "warm-a");
    await measure(floor, 4, all, "warm-f");

    const lines = [
      `${CYCLES} freeze→settle cycles per cell; cycles/s (ratio floor/adapter: how many times slower the adapter is)`,
      `round trips per cycle: adapter ${adapterTrips} (freeze 2, settle 2), floor 2, naive ${NAIVE_TRIPS}`,
    ];
    let run = 0;
    for (const [label, wallets] of [
      [`${MANY_WALLETS} wallets`, all],
      ["1 hot wallet", hot],
    ] as const) {
      for (const workers of WORKER_COUNTS) {
        const tag = `r${run++}`;
        const f = await measure(floor, workers, wallets, `${tag}f`);
        const a = await measure(adapter, workers, wallets, `${tag}a`);
        const nv = await measure(naive, workers, wallets, `${tag}n`);
        lines.push(
          `${label.padEnd(12)} ${String(workers).padStart(2)} workers: adapter ${a.toFixed(0).padStart(5)}/s, ` +
            `floor ${f.toFixed(0).padStart(5)}/s (×${(f / a).toFixed(2)}), naive ${nv.toFixed(0).padStart(5)}/s (×${(nv / a).toFixed(2)})`,
        );
      }
    }
    const { rows } = await pool.query(
      "SELECT (SELECT sum(balance_minor) FROM sms_fes.wallets) + (SELECT coalesce(sum(balance_minor), 0) FROM sms_fes.platform_balances) AS drift",
    );
    lines.push(
      `money check: wallets + platform accounts − funding = ${Number(rows[0].drift) - FUNDS * MANY_WALLETS}`,
    );
    return { title: "PostgreSQL adapter: FES cycles/s vs hand-written SQL on the same server", lines };
  } finally {
    await pool.end();
    server.stop();
  }
}

// Run directly: `npx tsx bench/postgres.ts` (inside the bundle of bench/run.ts, argv[1] is the bundle, not this file).
if (/[\\/]bench[\\/]postgres\.ts$/.test(process.argv[1] ?? "")) {
  const { title, lines } = await run();
  console.log(`${title}\n${lines.map((l) => `  ${l}`).join("\n")}`);
}
