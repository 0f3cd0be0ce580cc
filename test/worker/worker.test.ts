import { err, ok, type Result } from "neverthrow";
import { describe, expect, it } from "vitest";
import { healthAlertConditions } from "../../src/alerts/conditions.js";
import { createNotifier } from "../../src/alerts/notifier.js";
import { callbackAlertSink } from "../../src/alerts/sinks.js";
import { createMemoryAlertStore } from "../../src/alerts/store.js";
import type { SweepReport } from "../../src/fes/sweep.js";
import { ManualTimer } from "../../src/provider/sms-activate/timer.js";
import type { HealthSnapshot } from "../../src/worker/health-window.js";
import { startWorker, type WorkerProblem, workerBackoffMs } from "../../src/worker/worker.js";
import { createMarket, MINUTE, must, openWallet } from "../integration/market.js";

const REPORT: SweepReport = {
  timedOut: 0,
  receivedLate: 0,
  rentalsExpired: 0,
  reconciled: 0,
  releasedPending: 0,
  retried: 0,
  skipped: 0,
  errors: 0,
  cancelled: 0,
  deferred: 0,
  backedOff: 0,
  failures: [],
  closedOrphans: [],
};

/** Lets pending promise callbacks run (no time passes). */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

type SweepResult = Result<SweepReport, { type: string }>;

/** A sweep the test finishes by hand, counting how many run at once. */
function manualSweep() {
  const calls: { resolve: (r: SweepResult) => void }[] = [];
  let running = 0;
  let maxRunning = 0;
  const fes = {
    sweep(): Promise<SweepResult> {
      running++;
      maxRunning = Math.max(maxRunning, running);
      return new Promise<SweepResult>((resolve) => {
        calls.push({
          resolve: (r) => {
            running--;
            resolve(r);
          },
        });
      });
    },
  };
  return {
    fes,
    calls,
    maxRunning: () => maxRunning,
    finish: async (r: SweepResult = ok(REPORT)) => {
      const c = calls.at(-1);
      if (c === undefined) throw new Error("no sweep running");
      c.resolve(r);
      await flush();
    },
  };
}

describe("startWorker", () => {
  it("never overlaps: the next sweep starts intervalMs after the previous one ended", async () => {
    const timer = new ManualTimer();
    const s = manualSweep();
    const reports: SweepReport[] = [];
    const worker = startWorker({ fes: s.fes, intervalMs: 30_000, timer, onReport: (r) => reports.push(r) });
    await flush();
    expect(s.calls).toHaveLength(1);
    timer.advance(10 * 60_000); // a slow sweep: time passes, no second one starts
    await flush();
    expect(s.calls).toHaveLength(1);
    await s.finish(ok({ ...REPORT, timedOut: 3 }));
    expect(reports).toEqual([{ ...REPORT, timedOut: 3 }]);
    timer.advance(29_999);
    await flush();
    expect(s.calls).toHaveLength(1);
    timer.advance(1);
    await flush();
    expect(s.calls).toHaveLength(2);
    expect(s.maxRunning()).toBe(1);
    const stopping = worker.stop();
    await s.finish();
    expect(await stopping).toEqual({ sweeps: 2, failedSweeps: 0 });
  });

  it("backs off after whole-sweep failures, doubling up to the cap, and resets after a success", async () => {
    const timer = new ManualTimer();
    const s = manualSweep();
    const problems: WorkerProblem[] = [];
    const worker = startWorker({
      fes: s.fes,
      intervalMs: 1_000,
      maxBackoffMs: 5_000,
      timer,
      onProblem: (p) => problems.push(p),
    });
    const pauses: number[] = [];
    const failed = err({ type: "storage_failure" });
    for (const outcome of [failed, failed, failed, failed, ok(REPORT)] as SweepResult[]) {
      await flush();
      await s.finish(outcome);
      pauses.push(...timer.pendingDelays());
      timer.advance(timer.pendingDelays()[0] ?? 0);
    }
    expect(pauses).toEqual([2_000, 4_000, 5_000, 5_000, 1_000]);
    expect(problems.map((p) => (p.type === "sweep_failed" ? p.failures : p.type))).toEqual([1, 2, 3, 4]);
    const stopping = worker.stop();
    await s.finish();
    expect((await stopping).failedSweeps).toBe(4);
  });

  it("a sweep that throws is backed off from like a failed one, and the loop goes on", async () => {
    const timer = new ManualTimer();
    let n = 0;
    const problems: WorkerProblem[] = [];
    const worker = startWorker({
      fes: {
        sweep: async () => {
          n++;
          if (n === 1) throw new TypeError("port broke");
          return ok(REPORT);
        },
      },
      intervalMs: 1_000,
      timer,
      onProblem: (p) => problems.push(p),
    });
    await flush();
    expect(timer.pendingDelays()).toEqual([2_000]);
    timer.advance(2_000);
    await flush();
    expect(n).toBe(2);
    expect(problems).toEqual([{ type: "sweep_threw", message: "port broke", failures: 1 }]);
    await worker.stop();
  });

  it("stops on abort after finishing the sweep in hand, passing its report on, and starts no other", async () => {
    const timer = new ManualTimer();
    const s = manualSweep();
    const controller = new AbortController();
    const reports: SweepReport[] = [];
    const worker = startWorker({
      fes: s.fes,
      intervalMs: 1_000,
      timer,
      signal: controller.signal,
      onReport: (r) => reports.push(r),
    });
    await flush();
    controller.abort();
    let stopped = false;
    void worker.stopped.then(() => {
      stopped = true;
    });
    await flush();
    expect(stopped).toBe(false);
    await s.finish(ok({ ...REPORT, rentalsExpired: 1 }));
    expect(stopped).toBe(true);
    expect(reports).toEqual([{ ...REPORT, rentalsExpired: 1 }]);
    timer.advance(60_000);
    await flush();
    expect(s.calls).toHaveLength(1);
    expect(timer.pendingDelays()).toEqual([]);
  });

  it("stops at once when aborted during the pause, leaving no timer behind", async () => {
    const timer = new ManualTimer();
    const s = manualSweep();
    const worker = startWorker({ fes: s.fes, intervalMs: 1_000, timer });
    await flush();
    await s.finish();
    expect(timer.pendingDelays()).toEqual([1_000]);
    expect(await worker.stop()).toEqual({ sweeps: 1, failedSweeps: 0 });
    expect(timer.pendingDelays()).toEqual([]);
  });

  it("does not start when the signal is already aborted", async () => {
    const s = manualSweep();
    const worker = startWorker({
      fes: s.fes,
      intervalMs: 1_000,
      signal: AbortSignal.abort(),
      timer: new ManualTimer(),
    });
    expect(await worker.stopped).toEqual({ sweeps: 0, failedSweeps: 0 });
    expect(s.calls).toHaveLength(0);
  });

  it("refreshes the health snapshot at start and then every everyMs of the clock", async () => {
    const m = createMarket([{ service: "tg", country: "6", price: "0.50", successRate: 0 }]);
    await openWallet(m.fes, "w", 100_000);
    for (let i = 0; i < 30; i++) {
      must(
        await m.fes.buyActivation({ walletId: "w", service: "tg", country: "6", idempotencyKey: `b${i}` }),
      );
    }
    m.clock.advance(30 * MINUTE);
    must(await m.fes.sweep());
    const timer = new ManualTimer();
    const snapshots: HealthSnapshot[] = [];
    const worker = startWorker({
      fes: m.fes,
      intervalMs: MINUTE,
      timer,
      health: {
        reader: m.storage.read,
        clock: m.clock,
        everyMs: 5 * MINUTE,
        onSnapshot: (s) => void snapshots.push(s),
      },
    });
    await flush();
    await flush();
    expect(snapshots).toHaveLength(1);
    const disabled = snapshots[0]?.gate({ service: "tg", country: "6" });
    expect(disabled?.enabled).toBe(false);
    for (let i = 0; i < 4; i++) {
      m.clock.advance(MINUTE);
      timer.advance(MINUTE);
      await flush();
      await flush();
    }
    expect(snapshots).toHaveLength(1);
    m.clock.advance(MINUTE);
    timer.advance(MINUTE);
    await flush();
    await flush();
    await flush();
    expect(snapshots.map((s) => s.nowMs - (snapshots[0]?.nowMs ?? 0))).toEqual([0, 5 * MINUTE]);
    await worker.stop();
  });

  it("many workers on one storage time out each activation once", async () => {
    const m = createMarket([{ service: "tg", country: "6", price: "0.50", successRate: 0 }]);
    await openWallet(m.fes, "w", 100_000);
    for (let i = 0; i < 20; i++) {
      must(
        await m.fes.buyActivation({ walletId: "w", service: "tg", country: "6", idempotencyKey: `b${i}` }),
      );
    }
    m.clock.advance(30 * MINUTE);
    const reports: SweepReport[] = [];
    const timer = new ManualTimer();
    const workers = [m.fes, m.with({}), m.with({})].map((fes) =>
      startWorker({ fes, intervalMs: MINUTE, timer, onReport: (r) => reports.push(r) }),
    );
    for (let i = 0; i < 20 && reports.length < 3; i++) await flush();
    await Promise.all(workers.map((w) => w.stop()));
    expect(reports.reduce((n, r) => n + r.timedOut, 0)).toBe(20);
    expect(reports.reduce((n, r) => n + r.errors, 0)).toBe(0);
    const records = await m.storage.read.listActivations();
    expect(records.map((r) => r.state)).toEqual(Array(20).fill("timeout"));
    const wallet = await m.storage.read.getWallet("w");
    expect(wallet?.frozenMinor).toBe(0);
    expect(wallet?.balanceMinor).toBe(100_000);
  });
});

describe("startWorker with alerts", () => {
  it("delivers a disable once, and a receiver that never answers does not hold up the sweeps", async () => {
    const m = createMarket([{ service: "mm", country: "0", price: "0.15", successRate: 0 }]);
    await openWallet(m.fes, "w", 100_000);
    for (let i = 0; i < 30; i++) {
      must(
        await m.fes.buyActivation({ walletId: "w", service: "mm", country: "0", idempotencyKey: `b${i}` }),
      );
    }
    m.clock.advance(30 * MINUTE);
    must(await m.fes.sweep());
    const sent: string[] = [];
    const hang = true;
    const notifier = createNotifier({
      store: createMemoryAlertStore(),
      clock: m.clock,
      leaseMs: 60 * MINUTE,
      sinks: [
        callbackAlertSink("pager", async (change) => {
          sent.push(`${change.key}:${change.change}`);
          if (hang) await new Promise(() => {});
        }),
      ],
    });
    const timer = new ManualTimer();
    let sweeps = 0;
    const worker = startWorker({
      fes: m.fes,
      intervalMs: MINUTE,
      timer,
      onReport: () => sweeps++,
      afterSweep: () => notifier.kick(),
      health: {
        reader: m.storage.read,
        clock: m.clock,
        everyMs: MINUTE,
        onSnapshot: async (s) => {
          await notifier.observe("health", healthAlertConditions(s.policies));
        },
      },
    });
    for (let i = 0; i < 5; i++) {
      await flush();
      await flush();
      m.clock.advance(MINUTE);
      timer.advance(MINUTE);
    }
    await flush();
    expect(sweeps).toBeGreaterThanOrEqual(5);
    expect(sent.filter((x) => x.startsWith("disable:")).sort()).toEqual([
      "disable:service:mm:*:raised",
      "disable:service_country:mm:0:raised",
    ]);
    expect(new Set(sent).size).toBe(sent.length);
    await worker.stop();
  });
});

describe("workerBackoffMs", () => {
  it("is the interval without failures, then doubles, capped at max(interval, cap)", () => {
    expect([0, 1, 2, 3, 50].map((f) => workerBackoffMs(1_000, f, 10_000))).toEqual([
      1_000, 2_000, 4_000, 8_000, 10_000,
    ]);
    expect(workerBackoffMs(60_000, 3, 10_000)).toBe(60_000);
  });
});
