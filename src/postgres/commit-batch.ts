import type { PoolClientLike, PoolLike } from "./queryable.js";

/**
 * Commit batching across wallets. A unit of work with no transaction open (a speculative unit, a group, an `apply`
 * without a load) commits with one message that is a whole transaction by itself. At most `maxInFlight` such
 * messages are in flight at once; a commit arriving while they are waits, and when one of them is answered every
 * commit waiting (up to `maxBatch`) goes out as **one** message: their statements, one transaction. At low load
 * nothing waits (a commit goes out at once); under load a commit waits at most for one answer, and the server runs
 * a few transactions of many units rather than many transactions at once — on a machine where the application
 * shares the CPUs with the server, that is also what leaves the application its share of them.
 *
 * The units of one batch lock different wallets (each wallet's lane lets one of its units or groups commit at a
 * time), so two batches of one process never wait for each other's locks. An ERROR answer rolls the whole batch
 * back; its commits are then sent again one by one (each its own transaction), so that only the unit whose
 * statement failed sees the error. A lost answer leaves every commit of the batch with an unknown outcome.
 */

/** How a commit ended: committed; refused with an ERROR answer (nothing committed); answer lost (unknown). */
export type CommitOutcome =
  | { readonly kind: "committed" }
  | { readonly kind: "refused"; readonly error: unknown }
  | { readonly kind: "lost"; readonly error: unknown }
  | { readonly kind: "unsent"; readonly error: unknown };

interface Waiting {
  readonly text: string;
  readonly done: (outcome: CommitOutcome) => void;
}

export class CommitBatcher {
  #inFlight = 0;
  readonly #waiting: Waiting[] = [];

  constructor(
    private readonly pool: PoolLike,
    /** Whether an error means the answer was lost (the outcome unknown) rather than an ERROR answer. */
    private readonly isLost: (error: unknown) => boolean,
    /** Most commit messages in flight at once. */
    private readonly maxInFlight: number,
    /** Most commits in one message. */
    private readonly maxBatch: number,
  ) {}

  /** Commits `text` (statements that are a whole transaction), alone or in a batch. */
  commit(text: string): Promise<CommitOutcome> {
    return new Promise((done) => {
      this.#waiting.push({ text, done });
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#inFlight < this.maxInFlight && this.#waiting.length > 0) {
      const batch = this.#waiting.splice(0, this.maxBatch);
      this.#inFlight++;
      void this.#send(batch).finally(() => {
        this.#inFlight--;
        this.#pump();
      });
    }
  }

  async #send(batch: readonly Waiting[]): Promise<void> {
    let client: PoolClientLike;
    try {
      client = await this.pool.connect();
    } catch (error) {
      for (const w of batch) w.done({ kind: "unsent", error });
      return;
    }
    let lost: Error | undefined;
    const onError = (error: Error) => {
      lost = error;
    };
    client.on?.("error", onError);
    const run = async (text: string): Promise<CommitOutcome> => {
      try {
        await client.query(text);
        return { kind: "committed" };
      } catch (error) {
        if (lost !== undefined || this.isLost(error)) {
          lost ??= error instanceof Error ? error : new Error(String(error));
          return { kind: "lost", error: lost };
        }
        return { kind: "refused", error };
      }
    };
    try {
      const first = await run(batch.map((w) => w.text).join(";\n"));
      if (first.kind !== "refused" || batch.length === 1) {
        for (const w of batch) w.done(first);
        return;
      }
      // Nothing of the batch committed: each commit again alone, so that only a failing one sees its error.
      for (const [i, w] of batch.entries()) {
        const alone = await run(w.text);
        w.done(alone);
        if (alone.kind === "lost") {
          for (const rest of batch.slice(i + 1)) rest.done({ kind: "unsent", error: alone.error });
          return;
        }
      }
    } finally {
      client.removeListener?.("error", onError);
      // A connection whose answer was lost is in an unknown state: it goes.
      client.release(lost !== undefined ? true : undefined);
    }
  }
}
