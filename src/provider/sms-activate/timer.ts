/**
 * Timers behind the adapter's timeouts and retry delays. Injectable because `vi.useFakeTimers()` does not fire
 * `AbortSignal.timeout`: tests pass a {@link ManualTimer} and advance it instead of sleeping.
 */
export interface Timer {
  /** Calls `callback` after `ms`; returns a handle for {@link Timer.clearTimeout}. */
  setTimeout(callback: () => void, ms: number): unknown;
  /** Cancels a pending callback; a handle already fired or cleared is ignored. */
  clearTimeout(handle: unknown): void;
}

/** The runtime's timers. */
export const systemTimer: Timer = {
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof globalThis.setTimeout>),
};

/** Resolves after `ms` on `timer`. */
export function sleep(timer: Timer, ms: number): Promise<void> {
  return new Promise((resolve) => {
    timer.setTimeout(resolve, ms);
  });
}

interface Scheduled {
  readonly id: number;
  readonly dueMs: number;
  readonly delayMs: number;
  readonly callback: () => void;
}

/** A timer that fires only when advanced. Time starts at 0. */
export class ManualTimer implements Timer {
  #nowMs = 0;
  #seq = 0;
  readonly #pending = new Map<number, Scheduled>();
  readonly #waiters: { match: (delayMs: number) => boolean; resolve: () => void }[] = [];

  /** The timer's current time, ms since it was created. */
  now(): number {
    return this.#nowMs;
  }

  setTimeout(callback: () => void, ms: number): unknown {
    this.#seq += 1;
    const s: Scheduled = { id: this.#seq, dueMs: this.#nowMs + Math.max(0, ms), delayMs: ms, callback };
    this.#pending.set(s.id, s);
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      const w = this.#waiters[i];
      if (w?.match(ms)) {
        this.#waiters.splice(i, 1);
        w.resolve();
      }
    }
    return s.id;
  }

  clearTimeout(handle: unknown): void {
    if (typeof handle === "number") this.#pending.delete(handle);
  }

  /** Delays of the callbacks still pending, in due order. */
  pendingDelays(): readonly number[] {
    return [...this.#pending.values()].sort((a, b) => a.dueMs - b.dueMs).map((s) => s.delayMs);
  }

  /** Resolves once a callback whose delay matches is pending (at once if one already is). */
  waitFor(match: (delayMs: number) => boolean = () => true): Promise<void> {
    if ([...this.#pending.values()].some((s) => match(s.delayMs))) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ match, resolve }));
  }

  /** Moves time forward by `ms`, firing due callbacks in order (including ones scheduled while firing). */
  advance(ms: number): void {
    const target = this.#nowMs + ms;
    for (;;) {
      const next = [...this.#pending.values()]
        .filter((s) => s.dueMs <= target)
        .sort((a, b) => a.dueMs - b.dueMs || a.id - b.id)[0];
      if (!next) break;
      this.#pending.delete(next.id);
      this.#nowMs = next.dueMs;
      next.callback();
    }
    this.#nowMs = target;
  }
}
