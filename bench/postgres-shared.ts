/**
 * What the PostgreSQL benchmarks share: the one-statement floor of a freeze → settle cycle (the same rows the
 * library writes, hand-written as one statement per step in autocommit), the cycle runner with per-cycle latencies,
 * and the restart of the throwaway server with durable or fast settings.
 */
import { execFile } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import type pg from "pg";
import type { PoolLike } from "../src/postgres/index.js";
import { findPostgresBinaries } from "../test/postgres/throwaway-server.js";

/** One freeze → settle cycle on a wallet; `n` makes its ids unique. */
export type Cycle = (walletId: string, n: string) => Promise<void>;

/*
 * The floor: the same rows as the library (wallet counters, hold, settle transfer, idempotency row, audit rows),
 * one hand-written statement per step in autocommit: the wallet update is the lock, and every other write hangs
 * off the rows it returns.
 */
export const FLOOR_FREEZE = `WITH w AS (
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

export const FLOOR_SETTLE = `WITH h AS (
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

/**
 * The floor: one statement per step, in autocommit (its own transaction). With `prepared`, as named prepared
 * statements (parsed and planned once per connection; not possible behind a pooler in transaction mode).
 */
export function floorCycle(pool: PoolLike, prepared = false, prefix = "fl"): Cycle {
  const q = pool as unknown as pg.Pool;
  return async (walletId, n) => {
    const freeze = [walletId, `${prefix}h:${n}`, n, `${prefix}f:${n}`];
    const settle = [walletId, `${prefix}h:${n}`, `${prefix}s:${n}#t0`, n, `${prefix}s:${n}`];
    if (prepared) {
      await q.query({ name: "floor-freeze", text: FLOOR_FREEZE, values: freeze });
      await q.query({ name: "floor-settle", text: FLOOR_SETTLE, values: settle });
    } else {
      await pool.query(FLOOR_FREEZE, freeze);
      await pool.query(FLOOR_SETTLE, settle);
    }
  };
}

/** Cycles per second, per-cycle latency percentiles (ms) and Node CPU per cycle (µs) of one measurement. */
export interface Cell {
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
  /** `process.cpuUsage()` (user + system) over the measurement, per cycle: what the process spent, driver included. */
  readonly cpu: number;
  /** CPU time of the server's processes (user + system) per cycle, µs; `NaN` where `/proc` cannot tell it. */
  readonly serverCpu: number;
}

/**
 * The CPU time (µs, user + system) the PostgreSQL server behind `pool` has spent so far: its processes' own, read
 * from `/proc` (Linux), plus what its exited children left in the postmaster's account. `NaN` where `/proc` is not
 * there. The server of the benchmarks runs on the same machine.
 */
export async function serverCpuMeter(pool: PoolLike): Promise<() => number> {
  const result = await pool.query("SELECT pg_backend_pid() AS pid");
  const rows = Array.isArray(result) ? (result[result.length - 1]?.rows ?? []) : result.rows;
  const fieldsOf = (pid: string) => {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  };
  let postmaster: string;
  try {
    postmaster = fieldsOf(String(rows[0]?.pid))[1] as string;
  } catch {
    return () => Number.NaN;
  }
  const tick = 1e6 / 100; // USER_HZ: 100 on Linux
  return () => {
    let ticks = 0;
    for (const pid of readdirSync("/proc")) {
      if (!/^\d+$/.test(pid)) continue;
      try {
        const f = fieldsOf(pid);
        // utime, stime (fields 14, 15); for the postmaster also its reaped children's (16, 17).
        if (pid === postmaster) ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
        else if (f[1] === postmaster) ticks += Number(f[11]) + Number(f[12]);
      } catch {
        // The process ended meanwhile: its time is in the postmaster's account now.
      }
    }
    return ticks * tick;
  };
}

/** `cycles` cycles over `workers` concurrent loops, spread round robin over `wallets`. */
export async function measure(
  cycle: Cycle,
  workers: number,
  wallets: readonly string[],
  tag: string,
  cycles: number,
  serverCpu: () => number = () => Number.NaN,
): Promise<Cell> {
  let next = 0;
  const latencies: number[] = [];
  const serverStart = serverCpu();
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  await Promise.all(
    Array.from({ length: workers }, async () => {
      for (let i = next++; i < cycles; i = next++) {
        const t = performance.now();
        await cycle(wallets[i % wallets.length] as string, `${tag}:${i}`);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const perSecond = cycles / ((performance.now() - start) / 1000);
  const used = process.cpuUsage(cpuStart);
  const cpu = (used.user + used.system) / cycles;
  const server = (serverCpu() - serverStart) / cycles;
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] as number;
  return { perSecond, p50: at(0.5), p99: at(0.99), cpu, serverCpu: server };
}

/** The median. */
export const median = (xs: readonly number[]) =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/** The median of one field over cells. */
export const medianOf = (cells: readonly Cell[], k: keyof Cell) => median(cells.map((c) => c[k]));

/** Restarts the cluster behind `pool` with durable or fast settings (same port and socket directory). */
export async function restartWith(pool: pg.Pool, port: number, durable: boolean): Promise<void> {
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

/** Wallets + platform accounts: 0 when every transfer nets to zero. */
export async function moneyDrift(pool: PoolLike): Promise<number> {
  const result = await pool.query(
    "SELECT (SELECT sum(balance_minor) FROM sms_fes.wallets) + (SELECT coalesce(sum(balance_minor), 0) FROM sms_fes.platform_balances) AS drift",
  );
  const rows = Array.isArray(result) ? (result[result.length - 1]?.rows ?? []) : result.rows;
  return Number(rows[0]?.drift);
}
