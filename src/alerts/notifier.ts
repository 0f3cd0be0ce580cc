import type { Clock } from "../core/clock.js";
import type { AlertSink } from "./sinks.js";
import type { AlertChange, AlertCondition, AlertStore } from "./store.js";

/** Something that went wrong in the notifier; it never throws into its caller. */
export type NotifierProblem =
  | { readonly type: "store_failed"; readonly message: string }
  | {
      readonly type: "delivery_failed";
      readonly deliveryId: string;
      readonly error: string;
      readonly giveUp: boolean;
    };

/** Options of {@link createNotifier}. */
export interface NotifierOptions {
  readonly store: AlertStore;
  readonly sinks: readonly AlertSink[];
  readonly clock: Clock;
  /** First retry after this (default 5 s), doubled per attempt up to `retryMaxMs` (default 10 minutes). */
  readonly retryBaseMs?: number;
  readonly retryMaxMs?: number;
  /** Attempts before a delivery is given up (default 12). */
  readonly maxAttempts?: number;
  /** How long a claimed delivery is another worker's (default 60 s; longer than a sink's timeout). */
  readonly leaseMs?: number;
  /** Deliveries claimed per round (default 50). */
  readonly batchSize?: number;
  readonly onProblem?: (problem: NotifierProblem) => void;
}

/** What one delivery round did. */
export interface DeliveryRound {
  readonly delivered: number;
  readonly retrying: number;
  readonly gaveUp: number;
}

/** Turns conditions into changes and delivers each change once to every sink. */
export interface Notifier {
  /**
   * Compares the conditions that hold now for `source` with the stored ones and records what changed (raised:
   * new; cleared: gone), each with one delivery per sink. Of several workers observing one change, one records
   * it. Returns the changes this call recorded. Never throws.
   */
  observe(source: string, conditions: readonly AlertCondition[]): Promise<readonly AlertChange[]>;
  /** Claims the due deliveries and attempts them; one round at a time (a call during a round joins it). */
  deliverDue(): Promise<DeliveryRound>;
  /** Starts a delivery round without waiting for it (what the worker calls after each sweep). */
  kick(): void;
  /** Waits for the round in progress, if any. */
  idle(): Promise<void>;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * The notifier. Once per change across workers and restarts: the change is recorded under a version check and its
 * deliveries are claimed with a lease and marked sent. At least once when a worker dies mid-delivery: the lease
 * expires and another claim sends it again under the same delivery id, which the receiver can drop.
 */
export function createNotifier(options: NotifierOptions): Notifier {
  const { store, clock } = options;
  const sinks = new Map(options.sinks.map((s) => [s.name, s]));
  if (sinks.size !== options.sinks.length) throw new RangeError("alert sink names must be unique");
  const retryBaseMs = options.retryBaseMs ?? 5_000;
  const retryMaxMs = options.retryMaxMs ?? 600_000;
  const maxAttempts = options.maxAttempts ?? 12;
  const leaseMs = options.leaseMs ?? 60_000;
  const batchSize = options.batchSize ?? 50;
  const problem = (p: NotifierProblem) => {
    try {
      options.onProblem?.(p);
    } catch {
      // A reporting hook must not break delivery.
    }
  };
  let round: Promise<DeliveryRound> | null = null;

  const attempt = async (
    d: Awaited<ReturnType<AlertStore["claimDue"]>>[number],
  ): Promise<keyof DeliveryRound> => {
    const sink = sinks.get(d.sink);
    let outcome: Awaited<ReturnType<AlertSink["deliver"]>>;
    try {
      outcome =
        sink === undefined
          ? { ok: false, retryable: true, error: `no sink named ${d.sink} in this process` }
          : await sink.deliver(d.change, { deliveryId: d.id, attempt: d.attempts });
    } catch (e) {
      outcome = { ok: false, retryable: true, error: messageOf(e) };
    }
    const nowMs = clock.now();
    if (outcome.ok) {
      await store.complete(d.id, d.attempts, nowMs);
      return "delivered";
    }
    const giveUp = !outcome.retryable || d.attempts >= maxAttempts;
    const delayMs = Math.min(retryMaxMs, retryBaseMs * 2 ** Math.min(d.attempts - 1, 30));
    await store.fail(d.id, d.attempts, { nextAttemptAtMs: nowMs + delayMs, error: outcome.error, giveUp });
    problem({ type: "delivery_failed", deliveryId: d.id, error: outcome.error, giveUp });
    return giveUp ? "gaveUp" : "retrying";
  };

  const runRound = async (): Promise<DeliveryRound> => {
    const counts = { delivered: 0, retrying: 0, gaveUp: 0 };
    try {
      const due = await store.claimDue({ nowMs: clock.now(), leaseMs, limit: batchSize });
      for (const result of await Promise.all(due.map(attempt))) counts[result]++;
    } catch (e) {
      problem({ type: "store_failed", message: messageOf(e) });
    }
    return counts;
  };

  const deliverDue = () => {
    if (round === null) {
      round = runRound().finally(() => {
        round = null;
      });
    }
    return round;
  };

  return {
    async observe(source, conditions) {
      const recorded: AlertChange[] = [];
      try {
        const stored = new Map((await store.listStates(source)).map((s) => [s.key, s]));
        const now = new Map<string, AlertCondition>();
        for (const c of conditions) if (!now.has(c.key)) now.set(c.key, c);
        const nowMs = clock.now();
        const changes: { change: AlertChange; expected: number | null }[] = [];
        for (const c of now.values()) {
          const s = stored.get(c.key);
          if (s?.state === "raised") continue;
          const version = (s?.version ?? 0) + 1;
          changes.push({
            expected: s?.version ?? null,
            change: {
              id: `${source}:${c.key}:${version}`,
              source,
              ...c,
              change: "raised",
              atMs: nowMs,
              version,
            },
          });
        }
        for (const s of stored.values()) {
          if (s.state !== "raised" || now.has(s.key)) continue;
          const version = s.version + 1;
          changes.push({
            expected: s.version,
            change: {
              id: `${source}:${s.key}:${version}`,
              source,
              key: s.key,
              kind: s.kind,
              change: "cleared",
              summary: s.summary.startsWith("no longer: ") ? s.summary : `no longer: ${s.summary}`,
              details: {},
              atMs: nowMs,
              version,
            },
          });
        }
        for (const { change, expected } of changes) {
          if (await store.recordChange(change, expected, [...sinks.keys()])) recorded.push(change);
        }
      } catch (e) {
        problem({ type: "store_failed", message: messageOf(e) });
      }
      return recorded;
    },
    deliverDue,
    kick() {
      void deliverDue();
    },
    async idle() {
      if (round !== null) await round;
    },
  };
}
