import type { Clock } from "../core/clock.js";

/** A clock that moves only when told to. Tests advance it instead of sleeping. */
export class ManualClock implements Clock {
  #nowMs: number;

  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.#nowMs = startMs;
  }

  now(): number {
    return this.#nowMs;
  }

  /** Moves time forward by `ms` (≥ 0). */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`cannot move a clock backwards: ${ms}`);
    this.#nowMs += ms;
  }

  /** Sets the time; it may not go backwards. */
  set(nowMs: number): void {
    this.advance(nowMs - this.#nowMs);
  }
}
