import type { Result, ResultAsync } from "neverthrow";
import type { Clock } from "../core/clock.js";
import type { SweepReport } from "../fes/sweep.js";
import type { HealthPolicyConfig } from "../health/policies.js";
import type { StorageReader } from "../storage/port.js";
import { type HealthSnapshot, type HealthSnapshotOptions, readHealthSnapshot } from "./health-window.js";

/** Timers the worker waits on; tests pass a manual one (the SMS-Activate adapter's `ManualTimer` fits). */
export interface WorkerTimer {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const systemWorkerTimer: WorkerTimer = {
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof globalThis.setTimeout>),
};

/** Something the worker reports besides a sweep's report. */
export type WorkerProblem =
  | { readonly type: "sweep_failed"; readonly error: { readonly type: string }; readonly failures: number }
  | { readonly type: "sweep_threw"; readonly message: string; readonly failures: number }
  | { readonly type: "health_refresh_failed"; readonly message: string }
  | { readonly type: "hook_failed"; readonly hook: string; readonly message: string };

/** Options of {@link startWorker}. */
export interface WorkerOptions {
  /** The service (anything with `sweep`); every worker on one database may run it at once. */
  readonly fes: {
    sweep():
      | ResultAsync<SweepReport, { readonly type: string }>
      | Promise<Result<SweepReport, { readonly type: string }>>;
  };
  /** Pause between the end of one sweep and the start of the next. */
  readonly intervalMs: number;
  /** Stops the worker: the sweep in hand finishes, no other starts. */
  readonly signal?: AbortSignal;
  /** Longest pause after consecutive failed sweeps (default 5 minutes, at least `intervalMs`). */
  readonly maxBackoffMs?: number;
  readonly timer?: WorkerTimer;
  /** Every sweep's report, as the service returned it. */
  readonly onReport?: (report: SweepReport) => void;
  /** Failed sweeps, failed refreshes and failing hooks; the loop goes on. */
  readonly onProblem?: (problem: WorkerProblem) => void;
  /**
   * Refreshes the health snapshot (policies, gate, router) through windowed reads: at start, then after the first
   * sweep that ends `everyMs` or more after the last refresh.
   */
  readonly health?: {
    readonly reader: StorageReader;
    readonly clock: Clock;
    /** Default 5 minutes. */
    readonly everyMs?: number;
    readonly config?: HealthPolicyConfig;
    /** Options of the snapshot's router (see {@link readHealthSnapshot}). */
    readonly router?: HealthSnapshotOptions["router"];
    readonly onSnapshot: (snapshot: HealthSnapshot) => void | PromiseLike<void>;
  };
  /** Runs after every sweep without being awaited by the next one (alert delivery, say); must not throw. */
  readonly afterSweep?: () => void;
}

/** What a stopped worker did. */
export interface WorkerSummary {
  readonly sweeps: number;
  readonly failedSweeps: number;
}

/** A running worker. */
export interface Worker {
  /** Resolves once the worker has stopped (after the sweep in hand). */
  readonly stopped: Promise<WorkerSummary>;
  /** Asks the worker to stop and waits for it. */
  stop(): Promise<WorkerSummary>;
}

/** The pause after `failures` consecutive failed sweeps: the interval doubled per failure, capped. */
export function workerBackoffMs(intervalMs: number, failures: number, maxBackoffMs: number): number {
  if (failures <= 0) return intervalMs;
  return Math.min(Math.max(intervalMs, maxBackoffMs), intervalMs * 2 ** Math.min(failures, 30));
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Starts the sweeper loop: one sweep at a time (the next starts `intervalMs` after the previous ended, so it never
 * overlaps itself), a doubling pause after a whole sweep fails, every report passed on, and a clean stop on the
 * signal that lets the sweep in hand finish. Many workers on one database are safe: each step of a sweep is a
 * unit of work that re-reads its record under a lock, and a step another worker took is skipped.
 */
export function startWorker(options: WorkerOptions): Worker {
  const timer = options.timer ?? systemWorkerTimer;
  const maxBackoffMs = options.maxBackoffMs ?? 300_000;
  const internal = new AbortController();
  const onAbort = () => internal.abort();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  if (options.signal?.aborted === true) internal.abort();
  const signal = internal.signal;
  const problem = (p: WorkerProblem) => {
    try {
      options.onProblem?.(p);
    } catch {
      // A reporting hook that throws must not stop the loop.
    }
  };
  const health = options.health;
  const everyMs = health?.everyMs ?? 300_000;
  let lastRefreshMs = Number.NEGATIVE_INFINITY;

  const refresh = async () => {
    if (health === undefined) return;
    const nowMs = health.clock.now();
    if (nowMs - lastRefreshMs < everyMs) return;
    try {
      const snapshot = await readHealthSnapshot(health.reader, {
        nowMs,
        ...(health.config === undefined ? {} : { config: health.config }),
        ...(health.router === undefined ? {} : { router: health.router }),
      });
      lastRefreshMs = nowMs;
      await health.onSnapshot(snapshot);
    } catch (e) {
      problem({ type: "health_refresh_failed", message: messageOf(e) });
    }
  };

  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      if (signal.aborted) return resolve();
      const done = () => {
        timer.clearTimeout(handle);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const handle = timer.setTimeout(done, ms);
      signal.addEventListener("abort", done, { once: true });
    });

  const loop = async (): Promise<WorkerSummary> => {
    let sweeps = 0;
    let failedSweeps = 0;
    let failures = 0;
    await refresh();
    while (!signal.aborted) {
      try {
        const result = await options.fes.sweep();
        sweeps++;
        if (result.isOk()) {
          failures = 0;
          try {
            options.onReport?.(result.value);
          } catch (e) {
            problem({ type: "hook_failed", hook: "onReport", message: messageOf(e) });
          }
        } else {
          failures++;
          failedSweeps++;
          problem({ type: "sweep_failed", error: result.error, failures });
        }
      } catch (e) {
        // The service never throws for an expected failure; a throw is a bug or a broken port, reported and
        // backed off from like a failed sweep rather than killing the process.
        sweeps++;
        failures++;
        failedSweeps++;
        problem({ type: "sweep_threw", message: messageOf(e), failures });
      }
      try {
        options.afterSweep?.();
      } catch (e) {
        problem({ type: "hook_failed", hook: "afterSweep", message: messageOf(e) });
      }
      if (signal.aborted) break;
      await refresh();
      await pause(workerBackoffMs(options.intervalMs, failures, maxBackoffMs));
    }
    options.signal?.removeEventListener("abort", onAbort);
    return { sweeps, failedSweeps };
  };

  const stopped = loop();
  return {
    stopped,
    stop() {
      internal.abort();
      return stopped;
    },
  };
}
