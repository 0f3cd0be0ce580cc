/**
 * FES through the public API on PostgreSQL: `fes.freeze` then `fes.settle` on `createFes` over
 * `createPostgresStorage` (validation, the core's unit of work, the plan, the audit rows — what users pay for),
 * against the floor in the same run: one hand-written statement per step in autocommit writing the same kinds of
 * rows (bench/postgres-shared.ts). Over 1,000 wallets and one hot wallet, at 1, 8 and 32 workers; the median of
 * interleaved rounds per cell; p50/p99 latency per cycle; round trips per unit counted on the wire. Twice: with
 * durable commits (`fsync` and `synchronous_commit` on) and with the fast settings (both off), by restarting the
 * throwaway server with either command line. Beside: the locking path alone (no cache), a wallet written from
 * two instances (two caches: what the misses cost), and the floor with prepared statements.
 * Cycles per cell: `FES_BENCH_PG_CYCLES` (default 400); rounds: `FES_BENCH_PG_ROUNDS` (default 3).
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
} from "./postgres-shared.js";

const WORKER_COUNTS = [1, 8, 32];
const CYCLES = Number(process.env.FES_BENCH_PG_CYCLES ?? 400);
const ROUNDS = Number(process.env.FES_BENCH_PG_ROUNDS ?? 3);
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
  `${c.perSecond.toFixed(0).padStart(5)}/s (p50 ${c.p50.toFixed(1)}, p99 ${c.p99.toFixed(1)} ms)`;

/** Runs the benchmark; returns its report. */
export default async function run(): Promise<{ title: string; lines: string[] }> {
  const server = await startThrowawayServer();
  const pool = new pg.Pool({ connectionString: server.url, max: 32 });
  pool.on("error", () => {});
  const lines: string[] = [];
  try {
    await migrate(pool);
    const all = Array.from({ length: MANY_WALLETS }, (_, i) => `w${String(i).padStart(4, "0")}`);
    const setup = fesOver(createPostgresStorage({ pool }));
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

    const fast = await roundTrips(pool, all[1] as string, {});
    const slow = await roundTrips(pool, all[2] as string, { speculative: false });
    lines.push(
      `round trips per unit: freeze ${fast.freeze}, settle ${fast.settle} (locking path: freeze ${slow.freeze}, settle ${slow.settle}; floor: 1 each)`,
      `${CYCLES} cycles per cell, median of ${ROUNDS} interleaved rounds; ratio = api/floor throughput (≥ 1 is at or above the floor)`,
    );

    let tag = 0;
    for (const durable of [true, false]) {
      await restartWith(pool, server.port, durable);
      const p = new pg.Pool({ connectionString: server.url, max: 32 });
      p.on("error", () => {});
      const storage = createPostgresStorage({ pool: p });
      const variants: [string, Cycle][] = [
        ["floor", floorCycle(p)],
        ["api", apiCycle(fesOver(storage))],
        ["locking", apiCycle(fesOver(createPostgresStorage({ pool: p, speculative: false })))],
      ];
      for (const [, cycle] of variants) await measure(cycle, 4, all, `warm${tag++}`, 200);
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
          const cells = new Map<string, Cell[]>(variants.map(([name]) => [name, []]));
          for (let r = 0; r < ROUNDS; r++) {
            for (const [name, cycle] of variants)
              cells.get(name)?.push(await measure(cycle, workers, wallets, `c${tag++}`, CYCLES));
          }
          const m = (name: string): Cell => {
            const c = cells.get(name) ?? [];
            return { perSecond: medianOf(c, "perSecond"), p50: medianOf(c, "p50"), p99: medianOf(c, "p99") };
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
        `  api units: ${s.committed} speculative commits, ${s.missed} missed, ${s.confirmed} confirmed under locks, ${s.locking} locking`,
      );

      // Two instances: two storages (two caches) over the same database, every settle on the other instance.
      const a = createPostgresStorage({ pool: p });
      const b = createPostgresStorage({ pool: p });
      const crossed = apiCycle(fesOver(a), fesOver(b));
      const floorHere = floorCycle(p);
      const same = apiCycle(fesOver(a));
      await measure(crossed, 8, all, `warm${tag++}`, 200);
      const before = [a.speculationStats(), b.speculationStats()];
      const cross: Cell[] = [];
      const single: Cell[] = [];
      const fl: Cell[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        fl.push(await measure(floorHere, 8, all, `c${tag++}`, CYCLES));
        single.push(await measure(same, 8, all, `c${tag++}`, CYCLES));
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
        un.push(await measure(floorHere, 8, all, `c${tag++}`, CYCLES));
        pr.push(await measure(prepared, 8, all, `c${tag++}`, CYCLES));
      }
      lines.push(
        `  prepared statements, floor at 8 workers: ×${(medianOf(pr, "perSecond") / medianOf(un, "perSecond")).toFixed(2)} the unnamed floor`,
      );
      lines.push(`  money check: wallets + platform accounts = ${await moneyDrift(p)} (0 expected)`);
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
