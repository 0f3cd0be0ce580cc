/**
 * FES through the public API on PostgreSQL: `fes.freeze` then `fes.settle` on `createFes` over
 * `createPostgresStorage` (validation, the core's unit of work, the plan, the audit rows — what users pay for),
 * against the floor in the same run: one hand-written statement per step in autocommit writing the same kinds of
 * rows (bench/postgres.ts). Over 1,000 wallets and one hot wallet, at 1, 8 and 32 workers; the median of 3
 * interleaved rounds per cell; p50/p99 latency per cycle; round trips per unit counted on the wire. Twice: with
 * durable commits (`fsync` and `synchronous_commit` on) and with the fast settings (both off), by restarting the
 * throwaway server with either command line. Cycles per cell: `FES_BENCH_PG_CYCLES` (default 400).
 */
import { execFile } from "node:child_process";
import { statSync } from "node:fs";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { createFes } from "../src/fes/service.js";
import { createPostgresStorage, migrate, type PoolLike } from "../src/postgres/index.js";
import { createFakeProvider, ManualClock } from "../src/testing/index.js";
import { countingPool } from "../test/postgres/fixtures.js";
import { findPostgresBinaries, startThrowawayServer } from "../test/postgres/throwaway-server.js";

const WORKER_COUNTS = [1, 8, 32];
const CYCLES = Number(process.env.FES_BENCH_PG_CYCLES ?? 400);
const ROUNDS = 3;
const MANY_WALLETS = 1_000;
const FUNDS = 1_000_000_000;

type Cycle = (walletId: string, n: string) => Promise<void>;

/** One cycle through the public API: freeze 100, settle it in full. */
function apiCycle(fes: ReturnType<typeof createFes>): Cycle {
  return async (walletId, n) => {
    const hold = (
      await fes.freeze({
        walletId,
        amountMinor: 100,
        currency: "USD",
        operationId: n,
        idempotencyKey: `f:${n}`,
      })
    )._unsafeUnwrap();
    (await fes.settle({ holdId: hold.id, idempotencyKey: `s:${n}` }))._unsafeUnwrap();
  };
}

const FLOOR_FREEZE = `WITH w AS (
  UPDATE sms_fes.wallets SET frozen_minor = frozen_minor + 100, version = version + 1
  WHERE id = $1 AND balance_minor - frozen_minor >= 100 RETURNING id),
i AS (INSERT INTO sms_fes.idempotency_keys (key, operation, fingerprint, result, created_at_ms)
  SELECT $4, 'freeze', 'x', jsonb_build_object('holdId', $2::text), 1 FROM w RETURNING 1),
h AS (INSERT INTO sms_fes.holds (id, wallet_id, currency, amount_minor, state, owner_type, owner_id, created_at_ms)
  SELECT $2, id, 'USD', 100, 'open', 'manual', $3, 1 FROM w RETURNING 1),
a AS (INSERT INTO sms_fes.audit_trail (id, at_ms, actor, action, subject_type, subject_id, before, after, idempotency_key)
  SELECT $4 || '#a0', 1, 'platform', 'hold.freeze', 'hold', $2, NULL, jsonb_build_object('amountMinor', 100, 'walletId', id), $4
  FROM w RETURNING 1)
SELECT count(*) FROM w`;

const FLOOR_SETTLE = `WITH h AS (
  UPDATE sms_fes.holds SET state = 'settled', settled_minor = 100, resolved_at_ms = 2
  WHERE id = $2 AND state = 'open' RETURNING wallet_id),
w AS (UPDATE sms_fes.wallets SET balance_minor = balance_minor - 100, frozen_minor = frozen_minor - 100,
  version = version + 1 WHERE id = $1 AND id = (SELECT wallet_id FROM h) RETURNING id, balance_minor),
t AS (INSERT INTO sms_fes.transfers (id, kind, debit_account_id, credit_account_id, amount_minor, currency, wallet_id,
  wallet_balance_after_minor, hold_id, operation_id, created_at_ms)
  SELECT $3, 'settle', id, '@revenue:USD', 100, 'USD', id, balance_minor, $2, $4, 2 FROM w RETURNING 1),
i AS (INSERT INTO sms_fes.idempotency_keys (key, operation, fingerprint, result, created_at_ms)
  SELECT $5, 'settle', 'x', jsonb_build_object('holdId', $2::text), 2 FROM w RETURNING 1),
a AS (INSERT INTO sms_fes.audit_trail (id, at_ms, actor, action, subject_type, subject_id, before, after, idempotency_key)
  SELECT $5 || '#a0', 2, 'platform', 'wallet.settle', 'wallet', id, jsonb_build_object('balanceMinor', balance_minor + 100),
    jsonb_build_object('balanceMinor', balance_minor), $5 FROM w
  UNION ALL
  SELECT $5 || '#a1', 2, 'platform', 'hold.settle', 'hold', $2, '{"state":"open"}',
    '{"state":"settled","settledMinor":100,"releasedMinor":0}', $5 FROM w
  RETURNING 1)
SELECT count(*) FROM w`;

function floorCycle(pool: PoolLike): Cycle {
  return async (walletId, n) => {
    await pool.query(FLOOR_FREEZE, [walletId, `fh:${n}`, n, `ff:${n}`]);
    await pool.query(FLOOR_SETTLE, [walletId, `fh:${n}`, `fs:${n}#t0`, n, `fs:${n}`]);
  };
}

interface Cell {
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
}

/** `CYCLES` cycles over `workers` concurrent loops: cycles per second and per-cycle latency percentiles (ms). */
async function measure(
  cycle: Cycle,
  workers: number,
  wallets: readonly string[],
  tag: string,
): Promise<Cell> {
  let next = 0;
  const latencies: number[] = [];
  const start = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async () => {
      for (let i = next++; i < CYCLES; i = next++) {
        const t = performance.now();
        await cycle(wallets[i % wallets.length] as string, `${tag}:${i}`);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const perSecond = CYCLES / ((performance.now() - start) / 1000);
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] as number;
  return { perSecond, p50: at(0.5), p99: at(0.99) };
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/** Restarts the cluster behind `pool` with the given settings (same port and socket directory). */
async function restartWith(pool: pg.Pool, port: number, durable: boolean): Promise<void> {
  const bin = findPostgresBinaries() as string;
  const data = String((await pool.query("SHOW data_directory")).rows[0].data_directory);
  const owner = statSync(data);
  const asOwner = process.getuid?.() === 0 ? { uid: owner.uid, gid: owner.gid } : {};
  const flag = durable ? "on" : "off";
  const options =
    `-p ${port} -k ${dirname(data)} -c listen_addresses=127.0.0.1 -c max_connections=200 ` +
    `-c fsync=${flag} -c synchronous_commit=${flag} -c full_page_writes=${flag}`;
  await promisify(execFile)(
    join(bin, "pg_ctl"),
    ["-D", data, "-m", "fast", "-w", "-l", join(dirname(data), "log"), "-o", options, "restart"],
    asOwner,
  );
}

/** Runs the benchmark; returns its report. */
export default async function run(): Promise<{ title: string; lines: string[] }> {
  const server = await startThrowawayServer();
  const pool = new pg.Pool({ connectionString: server.url, max: 32 });
  pool.on("error", () => {});
  const lines: string[] = [];
  try {
    await migrate(pool);
    const all = Array.from({ length: MANY_WALLETS }, (_, i) => `w${String(i).padStart(4, "0")}`);
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const provider = createFakeProvider({ clock }).provider;
    const setup = createFes({ storage: createPostgresStorage({ pool }), provider, clock });
    for (const id of all) {
      (await setup.createWallet({ walletId: id, currency: "USD" }))._unsafeUnwrap();
      (
        await setup.deposit({
          walletId: id,
          amountMinor: FUNDS,
          currency: "USD",
          idempotencyKey: `fund:${id}`,
        })
      )._unsafeUnwrap();
    }
    const hot = [all[0] as string];

    const counting = countingPool(pool);
    const counted = createFes({ storage: createPostgresStorage({ pool: counting.pool }), provider, clock });
    const hold = (
      await counted.freeze({
        walletId: all[1] as string,
        amountMinor: 1,
        currency: "USD",
        operationId: "rt",
        idempotencyKey: "rt-f",
      })
    )._unsafeUnwrap();
    await counting.settled();
    const freezeTrips = counting.roundTrips();
    counting.reset();
    (await counted.settle({ holdId: hold.id, idempotencyKey: "rt-s" }))._unsafeUnwrap();
    await counting.settled();
    const settleTrips = counting.roundTrips();
    lines.push(
      `round trips per unit: freeze ${freezeTrips}, settle ${settleTrips} (floor: 1 each); ${CYCLES} cycles per cell, median of ${ROUNDS} interleaved rounds`,
    );

    let tag = 0;
    for (const durable of [true, false]) {
      await restartWith(pool, server.port, durable);
      const p = new pg.Pool({ connectionString: server.url, max: 32 });
      p.on("error", () => {});
      const apiHere = apiCycle(createFes({ storage: createPostgresStorage({ pool: p }), provider, clock }));
      const floorHere = floorCycle(p);
      await measure(apiHere, 4, all, `warm${tag++}`);
      await measure(floorHere, 4, all, `warm${tag++}`);
      lines.push(
        durable
          ? "durable commits (fsync, synchronous_commit on):"
          : "fast settings (fsync, synchronous_commit off):",
      );
      for (const [label, wallets] of [
        [`${MANY_WALLETS} wallets`, all],
        ["1 hot wallet", hot],
      ] as const) {
        for (const workers of WORKER_COUNTS) {
          const a: Cell[] = [];
          const f: Cell[] = [];
          for (let r = 0; r < ROUNDS; r++) {
            f.push(await measure(floorHere, workers, wallets, `c${tag++}`));
            a.push(await measure(apiHere, workers, wallets, `c${tag++}`));
          }
          const m = (cells: Cell[], k: keyof Cell) => median(cells.map((c) => c[k]));
          lines.push(
            `  ${label.padEnd(12)} ${String(workers).padStart(2)} workers: api ${m(a, "perSecond").toFixed(0).padStart(5)}/s ` +
              `(p50 ${m(a, "p50").toFixed(1)} ms, p99 ${m(a, "p99").toFixed(1)} ms), floor ${m(f, "perSecond").toFixed(0).padStart(5)}/s ` +
              `(p50 ${m(f, "p50").toFixed(1)}, p99 ${m(f, "p99").toFixed(1)}): floor/api ×${(m(f, "perSecond") / m(a, "perSecond")).toFixed(2)}`,
          );
        }
      }
      const { rows } = await p.query(
        "SELECT (SELECT sum(balance_minor) FROM sms_fes.wallets) + (SELECT coalesce(sum(balance_minor), 0) FROM sms_fes.platform_balances) AS drift",
      );
      lines.push(`  money check: wallets + platform accounts = ${rows[0].drift} (0 expected)`);
      await p.end();
    }
    return {
      title: "PostgreSQL through the public API: fes.freeze → fes.settle vs the one-statement floor",
      lines,
    };
  } finally {
    await pool.end().catch(() => {});
    server.stop();
  }
}

if (/[\\/]bench[\\/]postgres-fes\.ts$/.test(process.argv[1] ?? "")) {
  const { title, lines } = await run();
  console.log(`${title}\n${lines.map((l) => `  ${l}`).join("\n")}`);
}
