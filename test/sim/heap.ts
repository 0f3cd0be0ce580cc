/** A timer of the simulated world: fires at `atMs`; ties fire in scheduling order (`seq`). */
export interface Timer {
  readonly atMs: number;
  readonly seq: number;
  readonly fire: () => void;
}

/** A binary min-heap of timers by (`atMs`, `seq`): O(log n) push and pop. */
export class TimerHeap {
  private readonly items: Timer[] = [];

  /** Number of timers queued. */
  get size(): number {
    return this.items.length;
  }

  /** The earliest timer, without removing it. */
  peek(): Timer | undefined {
    return this.items[0];
  }

  /** Queues a timer. */
  push(t: Timer): void {
    const items = this.items;
    items.push(t);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(t, items[parent] as Timer)) break;
      items[i] = items[parent] as Timer;
      i = parent;
    }
    items[i] = t;
  }

  /** Removes and returns the earliest timer. */
  pop(): Timer | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    let i = 0;
    const n = items.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const child = r < n && before(items[r] as Timer, items[l] as Timer) ? r : l;
      if (!before(items[child] as Timer, last)) break;
      items[i] = items[child] as Timer;
      i = child;
    }
    items[i] = last;
    return top;
  }
}

function before(a: Timer, b: Timer): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);
}
