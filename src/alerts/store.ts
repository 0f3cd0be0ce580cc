/** What an alert is about. */
export type AlertKind =
  | "disable"
  | "warn"
  | "alert"
  | "cancel_pile_up"
  | "coherence"
  | "stuck_purchases"
  | (string & {});

/** A condition that holds now (a service disabled, money not coherent …), keyed stably across evaluations. */
export interface AlertCondition {
  /** Stable identity within its source, e.g. `disable:service_country:tg:0`. */
  readonly key: string;
  readonly kind: AlertKind;
  /** One line for a human. */
  readonly summary: string;
  /** JSON-safe facts for a machine (the judgement, the counts …). */
  readonly details: Readonly<Record<string, unknown>>;
}

/** A condition that started (`raised`) or stopped (`cleared`) holding: what is delivered, once per change. */
export interface AlertChange {
  /** `<source>:<key>:<version>`: the same for every worker and every retry. */
  readonly id: string;
  readonly source: string;
  readonly key: string;
  readonly kind: AlertKind;
  readonly change: "raised" | "cleared";
  readonly summary: string;
  readonly details: Readonly<Record<string, unknown>>;
  /** When the change was recorded (epoch ms). */
  readonly atMs: number;
  /** The condition's version after this change (1 for the first raise). */
  readonly version: number;
}

/** The stored state of one condition. */
export interface AlertState {
  readonly source: string;
  readonly key: string;
  readonly state: "raised" | "cleared";
  readonly version: number;
  readonly kind: AlertKind;
  /** The summary of the last change. */
  readonly summary: string;
}

/** One change to deliver to one sink. */
export interface AlertDelivery {
  /** `<change id>@<sink>`: stable across retries and crashes, sent as the delivery id header. */
  readonly id: string;
  readonly sink: string;
  readonly change: AlertChange;
  readonly state: "pending" | "delivered" | "failed";
  /** Attempts started so far (a claim counts one). */
  readonly attempts: number;
  readonly nextAttemptAtMs: number;
  /** A claim holds until then; an expired claim (a worker that died mid-delivery) is claimed again. */
  readonly leaseUntilMs: number;
  readonly deliveredAtMs: number | null;
  readonly lastError: string | null;
}

/**
 * Where the notifier keeps what it has seen and sent, shared by every worker: a condition's state changes only
 * through a version check, so of several workers that see one change exactly one records it (with its
 * deliveries); deliveries are claimed with a lease, so one worker sends each and a dead worker's claim expires.
 */
export interface AlertStore {
  /** The stored state of every condition of `source`. */
  listStates(source: string): Promise<readonly AlertState[]>;
  /**
   * Records `change` if the condition's stored version is `expectedVersion` (`null`: no row yet), together with one
   * pending delivery per sink, due at once. `false` (nothing written) when another writer changed it first.
   */
  recordChange(
    change: AlertChange,
    expectedVersion: number | null,
    sinks: readonly string[],
  ): Promise<boolean>;
  /**
   * Claims up to `limit` pending deliveries due at `nowMs` whose lease has expired, oldest due first: each gets
   * one more attempt and a lease until `nowMs + leaseMs`. Concurrent claims never return the same delivery.
   */
  claimDue(query: { nowMs: number; leaseMs: number; limit: number }): Promise<readonly AlertDelivery[]>;
  /** Marks a claimed delivery sent; ignored unless it is pending at `attempt` attempts (a later claim owns it). */
  complete(id: string, attempt: number, deliveredAtMs: number): Promise<void>;
  /**
   * After a failed attempt: due again at `nextAttemptAtMs`, or `failed` for good with `giveUp`. Ignored unless
   * pending at `attempt` attempts.
   */
  fail(
    id: string,
    attempt: number,
    update: { nextAttemptAtMs: number; error: string; giveUp: boolean },
  ): Promise<void>;
  /** Deliveries, for inspection (`doctor`, tests), newest change last. */
  listDeliveries(filter?: { state?: AlertDelivery["state"] }): Promise<readonly AlertDelivery[]>;
}

/** The reference store in memory: one process, strict about versions and claims like a database. */
export function createMemoryAlertStore(): AlertStore {
  const states = new Map<string, AlertState>();
  const deliveries = new Map<string, AlertDelivery>();
  const stateKey = (source: string, key: string) => `${source}\u0000${key}`;
  const patch = (id: string, attempt: number, update: Partial<AlertDelivery>) => {
    const d = deliveries.get(id);
    if (d === undefined || d.state !== "pending" || d.attempts !== attempt) return;
    deliveries.set(id, { ...d, ...update });
  };
  return {
    async listStates(source) {
      return [...states.values()].filter((s) => s.source === source);
    },
    async recordChange(change, expectedVersion, sinks) {
      const k = stateKey(change.source, change.key);
      const current = states.get(k);
      if ((current?.version ?? null) !== expectedVersion) return false;
      states.set(k, {
        source: change.source,
        key: change.key,
        state: change.change,
        version: change.version,
        kind: change.kind,
        summary: change.summary,
      });
      for (const sink of sinks) {
        const id = `${change.id}@${sink}`;
        deliveries.set(id, {
          id,
          sink,
          change,
          state: "pending",
          attempts: 0,
          nextAttemptAtMs: change.atMs,
          leaseUntilMs: 0,
          deliveredAtMs: null,
          lastError: null,
        });
      }
      return true;
    },
    async claimDue({ nowMs, leaseMs, limit }) {
      const due = [...deliveries.values()]
        .filter((d) => d.state === "pending" && d.nextAttemptAtMs <= nowMs && d.leaseUntilMs <= nowMs)
        .sort((a, b) => a.nextAttemptAtMs - b.nextAttemptAtMs || (a.id < b.id ? -1 : 1))
        .slice(0, limit);
      return due.map((d) => {
        const claimed = { ...d, attempts: d.attempts + 1, leaseUntilMs: nowMs + leaseMs };
        deliveries.set(d.id, claimed);
        return claimed;
      });
    },
    async complete(id, attempt, deliveredAtMs) {
      patch(id, attempt, { state: "delivered", deliveredAtMs });
    },
    async fail(id, attempt, update) {
      patch(id, attempt, {
        state: update.giveUp ? "failed" : "pending",
        nextAttemptAtMs: update.nextAttemptAtMs,
        leaseUntilMs: 0,
        lastError: update.error,
      });
    },
    async listDeliveries(filter = {}) {
      return [...deliveries.values()].filter((d) => filter.state === undefined || d.state === filter.state);
    },
  };
}
