/**
 * FES through the public API on PostgreSQL: `fes.freeze` then `fes.settle` on `createFes` over
 * `createPostgresStorage` (validation, the core's unit of work, the plan, the audit rows — what users pay for),
 * against the floor in the same run: one hand-written statement per step in autocommit writing the same kinds of
 * rows (bench/postgres-shared.ts). Over 1,000 wallets and one hot wallet, at 1, 8 and 32 workers; the median of
 * interleaved rounds per cell; p50/p99 latency per cycle; round trips per unit counted on the wire. Twice: with
 * durable commits (`fsync` and `synchronous_commit` on) and with the fast settings (both off), by restarting the
 * throwaway server with either command line. Beside: the locking path alone (no cache), a wallet written from
 * two instances (two caches: what the misses cost), and the floor with prepared statements.
 * Cycles per cell: `FES_BENCH_PG_CYCLES` (default 400); rounds: `FES_BENCH_PG_ROUNDS` (default 5).
 */
import pg from "pg";
import { createFes, type Fes } from "../src/fes/service.js";
import {
  createPostgresStorage,
  migrate,
  type PostgresStorage,
  type PostgresStorageOptions,
} from "../src/postgres/index.js";
import { createFakeProvider, ManualClock } from "../src/testing/index.js";
import { countingPool } from "../test/postgres/fixtures.js";
import { startThrowawayServer } from "../test/postgres/throwaway-server.js";
import {
  type Cell,
  type Cycle,
  floorCycle,
  measure,
  medianOf,
  moneyDrift,
  restartWith,
  serverCpuMeter,
} from "./postgres-shared.js";

const WORKER_COUNTS = [1, 8, 32];
const CYCLES = Number(process.env.FES_BENCH_PG_CYCLES ?? 400);
const ROUNDS = Number(process.env.FES_BENCH_PG_ROUNDS ?? 5);
const MANY_WALLETS = 1_000;
const FUNDS = 1_000_000_000;

const clock = new ManualClock(Date.UTC(2026, 0, 1));
const provider = createFakeProvider({ clock }).provider;

/** One cycle through the public API: freeze 100 on one instance, settle it in full on another (or the same). */
function apiCycle(freezeOn: Fes, settleOn: Fes = freezeOn): Cycle {
  return async (walletId, n) => {
    const hold = (
      await freezeOn.freeze({
        walletId,
        amountMinor: 100,
        currency: "USD",
        operationId: n,
        idempotencyKey: `f:${n}`,
      })
    )._unsafeUnwrap();
    (await settleOn.settle({ holdId: hold.id, idempotencyKey: `s:${n}` }))._unsafeUnwrap();
  };
}

const fesOver = (storage: PostgresStorage) => createFes({ storage, provider, clock });

/** Round trips of one freeze and one settle through a counting pool, after a warm-up cycle on the wallet. */
async function roundTrips(pool: pg.Pool, walletId: string, options: Partial<PostgresStorageOptions>) {
  const counting = countingPool(pool);
  const fes = fesOver(createPostgresStorage({ pool: counting.pool, ...options }));
  await apiCycle(fes)(walletId, `rt-warm-${JSON.stringify(options)}`);
  await counting.settled();
  counting.reset();
  const n = `rt-${JSON.stringify(options)}`;
  const hold = (
    await fes.freeze({ walletId, amountMinor: 1, currency: "USD", operationId: n, idempotencyKey: `f:${n}` })
  )._unsafeUnwrap();
  await counting.settled();
  const freeze = counting.roundTrips();
  counting.reset();
  (await fes.settle({ holdId: hold.id, idempotencyKey: `s:${n}` }))._unsafeUnwrap();
  await counting.settled();
  return { freeze, settle: counting.roundTrips() };
}

const fmt = (c: Cell) =>
  `${c.perSecond.toFixed(0).padStart(5)}/s (p50 ${c.p50.toFixed(1)}, p99 ${c.p99.toFixed(1)} ms, cpu ${c.cpu.toFixed(0)} µs, server ${c.serverCpu.toFixed(0)} µs)`;

/** Runs the benchmark; returns its report. */
export default async function run(): Promise<{ title: string; lines: string[] }> {
  const server = await startThrowawayServer();
  const pool = new pg.Pool({ connectionString: server.url, max: 32 });
  pool.on("error", () => {});
  const lines: string[] = [];
  try {
    await migrate(pool);
    // Each variant has wallets of its own (an instance's cache stays its own), funded by SQL.
    const set = (prefix: string) =>
      Array.from({ length: MANY_WALLETS }, (_, i) => `${prefix}${String(i).padStart(4, "0")}`);
    const sets = { floor: set("f"), api: set("a"), locking: set("l"), two: set("x"), counted: set("c") };
    const every = Object.values(sets).flat();
    await pool.query(
      "INSERT INTO sms_fes.wallets (id, currency, balance_minor, version, created_at_ms) SELECT unnest($1::text[]), 'USD', $2, 1, 0",
      [every, FUNDS],
    );
    const fast = await roundTrips(pool, sets.counted[1] as string, {});
    const slow = await roundTrips(pool, sets.counted[2] as string, { speculative: false });
    lines.push(
      `round trips per unit: freeze ${fast.freeze}, settle ${fast.settle} (locking path: freeze ${slow.freeze}, settle ${slow.settle}; floor: 1 each)`,
      `${CYCLES} cycles per cell, median of ${ROUNDS} interleaved rounds; ratio = api/floor throughput (≥ 1 is at or above the floor); cpu = Node CPU per cycle (process.cpuUsage, driver included); server = the server processes' CPU per cycle (/proc)`,
    );

    let tag = 0;
    for (const durable of [true, false]) {
      await restartWith(pool, server.port, durable);
      const p = new pg.Pool({ connectionString: server.url, max: 32 });
      p.on("error", () => {});
      const serverCpu = await serverCpuMeter(p);
      const storage = createPostgresStorage({ pool: p });
      const variants: [string, Cycle, readonly string[]][] = [
        ["floor", floorCycle(p), sets.floor],
        ["api", apiCycle(fesOver(storage)), sets.api],
        ["locking", apiCycle(fesOver(createPostgresStorage({ pool: p, speculative: false }))), sets.locking],
      ];
      // Warm up: every wallet once (the api instance caches its wallets as a running application would).
      for (const [, cycle, wallets] of variants)
        await measure(cycle, 32, wallets, `warm${tag++}`, MANY_WALLETS);
      lines.push(
        durable
          ? "durable commits (fsync, synchronous_commit on):"
          : "fast settings (fsync, synchronous_commit off):",
      );
      for (const [label, hot] of [
        [`${MANY_WALLETS} wallets`, false],
        ["1 hot wallet", true],
      ] as const) {
        for (const workers of WORKER_COUNTS) {
          const cells = new Map<string, Cell[]>(variants.map(([name]) => [name, []]));
          for (let r = 0; r < ROUNDS; r++) {
            for (const [name, cycle, wallets] of variants)
              cells
                .get(name)
                ?.push(
                  await measure(
                    cycle,
                    workers,
                    hot ? wallets.slice(0, 1) : wallets,
                    `c${tag++}`,
                    CYCLES,
                    serverCpu,
                  ),
                );
          }
          const m = (name: string): Cell => {
            const c = cells.get(name) ?? [];
            return {
              perSecond: medianOf(c, "perSecond"),
              p50: medianOf(c, "p50"),
              p99: medianOf(c, "p99"),
              cpu: medianOf(c, "cpu"),
              serverCpu: medianOf(c, "serverCpu"),
            };
          };
          const floor = m("floor");
          const api = m("api");
          const locking = m("locking");
          lines.push(
            `  ${label.padEnd(12)} ${String(workers).padStart(2)} workers: api ${fmt(api)} ×${(api.perSecond / floor.perSecond).toFixed(2)}; ` +
              `floor ${fmt(floor)}; locking path ${fmt(locking)} ×${(locking.perSecond / floor.perSecond).toFixed(2)}`,
          );
        }
      }
      const s = storage.speculationStats();
      lines.push(
        `  api units: ${s.committed} speculative commits (in ${s.groups} group commits), ${s.missed} missed, ${s.confirmed} confirmed under locks, ${s.locking} locking`,
      );

      // Two instances: two storages (two caches) over the same database, every settle on the other instance.
      const a = createPostgresStorage({ pool: p });
      const b = createPostgresStorage({ pool: p });
      const crossed = apiCycle(fesOver(a), fesOver(b));
      const floorHere = floorCycle(p);
      const same = variants[1]?.[1] as Cycle;
      const all = sets.two;
      await measure(crossed, 32, all, `warm${tag++}`, MANY_WALLETS);
      const before = [a.speculationStats(), b.speculationStats()];
      const cross: Cell[] = [];
      const single: Cell[] = [];
      const fl: Cell[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        fl.push(await measure(floorHere, 8, sets.floor, `c${tag++}`, CYCLES));
        single.push(await measure(same, 8, sets.api, `c${tag++}`, CYCLES));
        cross.push(await measure(crossed, 8, all, `c${tag++}`, CYCLES));
      }
      const after = [a.speculationStats(), b.speculationStats()];
      const delta = (k: "committed" | "missed" | "confirmed" | "locking") =>
        (after[0]?.[k] ?? 0) - (before[0]?.[k] ?? 0) + (after[1]?.[k] ?? 0) - (before[1]?.[k] ?? 0);
      const ratio = (cells: Cell[]) => (medianOf(cells, "perSecond") / medianOf(fl, "perSecond")).toFixed(2);
      lines.push(
        `  two instances, ${MANY_WALLETS} wallets, 8 workers, every settle on the other instance: ×${ratio(cross)} ` +
          `(one instance ×${ratio(single)}); units: ${delta("committed")} speculative, ${delta("missed")} missed, ` +
          `${delta("confirmed")} confirmed, ${delta("locking")} locking`,
      );

      // Prepared statements (what a pooler in transaction mode cannot keep) against the unnamed floor.
      const prepared = floorCycle(p, true, "pf");
      const pr: Cell[] = [];
      const un: Cell[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        un.push(await measure(floorHere, 8, sets.floor, `c${tag++}`, CYCLES));
        pr.push(await measure(prepared, 8, sets.floor, `c${tag++}`, CYCLES));
      }
      lines.push(
        `  prepared statements, floor at 8 workers: ×${(medianOf(pr, "perSecond") / medianOf(un, "perSecond")).toFixed(2)} the unnamed floor`,
      );
      lines.push(
        `  money check: wallets + platform accounts − funding = ${(await moneyDrift(p)) - FUNDS * every.length} (0 expected)`,
      );
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
