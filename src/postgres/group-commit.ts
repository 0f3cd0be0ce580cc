import type { CommitPlan } from "../storage/port.js";
import type { RowView } from "./row-cache.js";

/**
 * Group commit per wallet. A speculative unit of work whose first load locks exactly one customer wallet enters
 * that wallet's lane. When the lane is free it runs alone (and holds the lane until it has ended); when it is not,
 * it queues. When the lane frees, the queued units run as one group: one after the other, each deciding on the
 * rows the previous ones left (a {@link RowView} over theirs), and the group commits in one transaction — one
 * message with the re-check of the rows read from the cache and every unit's plan. See `docs/postgres.md`.
 */

/** How a member's work ended: in the group with its plan statements, or out of it (to be run again alone). */
export type MemberDone =
  | {
      readonly joined: true;
      readonly statements: readonly string[];
      readonly plans: readonly CommitPlan[];
    }
  | { readonly joined: false };

/** What became of a group: committed; failed with an ERROR answer (each unit runs again alone); answer lost. */
export type GroupOutcome =
  | { readonly kind: "committed" }
  | { readonly kind: "rerun" }
  | { readonly kind: "lost"; readonly error: unknown };

/** One unit of work queued in a lane. */
export class Member {
  /** Resolves with the view the member decides on, once its turn in the group comes. */
  readonly turn: Promise<RowView>;
  /** Resolves once the member's work has ended. */
  readonly done: Promise<MemberDone>;
  /** Resolves with the group's outcome. */
  readonly outcome: Promise<GroupOutcome>;
  #start!: (view: RowView) => void;
  #finish!: (done: MemberDone) => void;
  #settle!: (outcome: GroupOutcome) => void;
  #finished = false;

  constructor() {
    this.turn = new Promise((resolve) => {
      this.#start = resolve;
    });
    this.done = new Promise((resolve) => {
      this.#finish = resolve;
    });
    this.outcome = new Promise((resolve) => {
      this.#settle = resolve;
    });
  }

  /** Gives the member its turn. */
  start(view: RowView): void {
    this.#start(view);
  }

  /** Reports the end of the member's work (only the first report counts). */
  finish(done: MemberDone): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#finish(done);
  }

  /** Reports the group's outcome. */
  settle(outcome: GroupOutcome): void {
    this.#settle(outcome);
  }
}

/** One wallet's lane: whether a unit of work (alone, or a group) is in it, and who waits. */
interface Lane {
  readonly queue: Member[];
}

/** The lanes of one storage, by wallet id. */
export class Lanes {
  readonly #lanes = new Map<string, Lane>();

  constructor(
    /** Most units in one group. */
    private readonly maxGroup: number,
    /** Runs a group: gives each member its turn in order, then commits the plans of those that joined. */
    private readonly runGroup: (members: readonly Member[]) => Promise<void>,
  ) {}

  /**
   * Enters the lane of `walletId`: `release` when it was free (the caller runs alone and must call it once it has
   * ended), or a member queued for the next group.
   */
  enter(walletId: string): { readonly release: () => void } | { readonly member: Member } {
    const lane = this.#lanes.get(walletId);
    if (lane === undefined) {
      this.#lanes.set(walletId, { queue: [] });
      return { release: () => this.#next(walletId) };
    }
    const member = new Member();
    lane.queue.push(member);
    return { member };
  }

  /** The lane is free again: runs the queued units as a group, or closes the lane. */
  #next(walletId: string): void {
    const lane = this.#lanes.get(walletId);
    if (lane === undefined) return;
    if (lane.queue.length === 0) {
      this.#lanes.delete(walletId);
      return;
    }
    const group = lane.queue.splice(0, this.maxGroup);
    void this.runGroup(group)
      .catch((error: unknown) => {
        for (const m of group) m.settle({ kind: "lost", error });
      })
      .finally(() => this.#next(walletId));
  }
}
