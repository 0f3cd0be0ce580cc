import { TimerHeap } from "./heap.js";

/** A simulated process: alive until it crashes; a crash drops every task it has in flight. */
export interface SimProcess {
  readonly id: number;
  readonly name: string;
  alive: boolean;
}

/**
 * The simulated world: a virtual clock, one timer queue, and the tasks in flight. Tasks run one at a time and
 * only ever wait at a port boundary ({@link World.gate}) or on a timer; when every task waits, the clock jumps to
 * the next timer. Nothing here reads the wall clock or uses a real timer, so a seed replays exactly.
 */
export class World {
  nowMs: number;
  private readonly timers = new TimerHeap();
  private seq = 0;
  private running = 0;
  private idle: (() => void) | null = null;
  /** Timers fired: the simulation's step count. */
  steps = 0;

  constructor(startMs: number) {
    this.nowMs = startMs;
  }

  /** Schedules `fire` at `atMs` (never in the past). */
  at(atMs: number, fire: () => void): void {
    this.timers.push({ atMs: Math.max(atMs, this.nowMs), seq: this.seq++, fire });
  }

  /** Schedules `fire` after `delayMs`. */
  after(delayMs: number, fire: () => void): void {
    this.at(this.nowMs + delayMs, fire);
  }

  /** Starts a task now, in the current step. Its failure is a broken harness and is rethrown by {@link run}. */
  spawn(task: () => Promise<unknown>): void {
    this.running++;
    task().then(
      () => this.done(),
      (e: unknown) => {
        this.failure ??= e;
        this.done();
      },
    );
  }

  /** The first exception a task threw: the simulation stops on it. */
  failure: unknown = undefined;

  /**
   * Parks the calling task until `delayMs` passed; then `decide` runs (at the new time) and says whether the task
   * goes on (`true`) or is dropped with its process (`false`). A dropped task never resumes.
   */
  gate(process: SimProcess, delayMs: number, decide: () => boolean): Promise<void> {
    this.park();
    return new Promise<void>((resolve) => {
      this.after(delayMs, () => {
        if (!process.alive) return;
        if (!decide()) return;
        this.running++;
        resolve();
      });
    });
  }

  /** Drops the calling task for good (its process crashed under it). */
  drop(): Promise<never> {
    this.park();
    return new Promise<never>(() => {});
  }

  private park(): void {
    this.running--;
    if (this.running < 0) throw new Error("harness: a task waited twice at once (concurrent port calls)");
    if (this.running === 0) this.wake();
  }

  private done(): void {
    this.running--;
    if (this.running === 0) this.wake();
  }

  private wake(): void {
    const idle = this.idle;
    this.idle = null;
    idle?.();
  }

  /**
   * Fires timers in order until none is left, `untilMs` is passed or `stop()` says so, letting the tasks each
   * timer woke run until they all wait again.
   */
  async run(stop: () => boolean, untilMs = Number.POSITIVE_INFINITY): Promise<void> {
    for (;;) {
      if (this.failure !== undefined) throw this.failure;
      if (stop()) return;
      const next = this.timers.peek();
      if (next === undefined || next.atMs > untilMs) return;
      this.timers.pop();
      this.nowMs = next.atMs;
      this.steps++;
      next.fire();
      if (this.running > 0) await new Promise<void>((resolve) => (this.idle = resolve));
    }
  }

  /** Number of timers queued. */
  get pending(): number {
    return this.timers.size;
  }
}

/** "Sometimes" assertions: how often each crash point and fault window fired. */
export class Coverage {
  readonly counts = new Map<string, number>();

  /** Counts one hit of `point`. */
  hit(point: string): void {
    this.counts.set(point, (this.counts.get(point) ?? 0) + 1);
  }

  /** Adds another run's counts. */
  merge(other: Coverage): void {
    for (const [k, n] of other.counts) this.counts.set(k, (this.counts.get(k) ?? 0) + n);
  }

  /** The count of `point` (0 when it never fired). */
  get(point: string): number {
    return this.counts.get(point) ?? 0;
  }
}
