import type { PoolClientLike, PoolLike } from "./queryable.js";
import { compareBytes } from "./row-cache.js";

/**
 * Commit batching across wallets. A unit of work with no transaction open (a speculative unit, a group, an `apply`
 * without a load) commits with one message that is a whole transaction by itself. At most `maxInFlight` such
 * messages are in flight at once; a commit arriving while they are waits, and when one of them is answered the
 * commits waiting (up to `maxBatch`) go out as **one** message: their statements, one transaction. At low load
 * nothing waits (a commit goes out at once); under load the server runs a few transactions of many units rather
 * than many transactions at once — on a machine where the application shares the CPUs with the server, that is
 * also what leaves the application its share of them. See `docs/postgres.md`.
 *
 * - A batch never holds two commits that lock the same wallet (a later one waits for the next batch), and its
 *   commits run in the byte order of their wallets, the order the locking load takes wallet locks in, so that two
 *   batches (of this process or another) lock their common wallets in one order.
 * - A batch of several commits waits at most {@link BATCH_LOCK_TIMEOUT_MS} for any lock (`SET LOCAL lock_timeout`):
 *   one wallet held elsewhere must not hold up the others. A message unanswered for that long no longer counts
 *   against the bound of messages in flight.
 * - An ERROR answer (a stale row, a taken key, that lock timeout, a deadlock) rolls the whole batch back. Its commits
 *   are then sent again, each alone on a connection of its own, at once, so that only the one whose statement
 *   fails sees its error.
 * - A lost answer leaves every commit of the batch with an unknown outcome.
 */

/** How a commit ended: committed; refused with an ERROR answer (nothing committed); answer lost; never sent. */
export type CommitOutcome =
  | { readonly kind: "committed" }
  | { readonly kind: "refused"; readonly error: unknown }
  | { readonly kind: "lost"; readonly error: unknown }
  | { readonly kind: "unsent"; readonly error: unknown };

/**
 * The longest a batch of several commits waits for a lock before it is refused and its commits go alone; also how
 * long a message counts against the bound of messages in flight.
 */
export const BATCH_LOCK_TIMEOUT_MS = 250;

interface Waiting {
  readonly text: string;
  /** The wallets the commit locks, byte-ordered. */
  readonly wallets: readonly string[];
  readonly done: (outcome: CommitOutcome) => void;
}

export class CommitBatcher {
  #inFlight = 0;
  #waiting: Waiting[] = [];

  constructor(
    private readonly pool: PoolLike,
    /** Whether an error means the answer was lost (the outcome unknown) rather than an ERROR answer. */
    private readonly isLost: (error: unknown) => boolean,
    /** Most commit messages in flight at once. */
    private readonly maxInFlight: number,
    /** Most commits in one message. */
    private readonly maxBatch: number,
  ) {}

  /** Commits `text` (statements that are a whole transaction, locking `wallets`), alone or in a batch. */
  commit(text: string, wallets: readonly string[]): Promise<CommitOutcome> {
    return new Promise((done) => {
      this.#waiting.push({ text, wallets: [...wallets].sort(compareBytes), done });
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#inFlight < this.maxInFlight && this.#waiting.length > 0) {
      const batch = this.#take();
      this.#inFlight++;
      // A message still unanswered after the lock timeout is waiting for something (a lock, a slow server): it
      // stops counting against the bound, so that it holds up no other commit.
      let counted = true;
      const uncount = () => {
        if (!counted) return;
        counted = false;
        this.#inFlight--;
        this.#pump();
      };
      const slow = setTimeout(uncount, BATCH_LOCK_TIMEOUT_MS);
      void this.#send(batch)
        .catch((error: unknown) => {
          for (const w of batch) w.done({ kind: "lost", error });
        })
        .finally(() => {
          clearTimeout(slow);
          uncount();
        });
    }
  }

  /** The next batch, in arrival order: up to `maxBatch` commits that share no wallet, then sorted by wallet. */
  #take(): Waiting[] {
    const batch: Waiting[] = [];
    const later: Waiting[] = [];
    const locked = new Set<string>();
    for (const w of this.#waiting) {
      if (batch.length >= this.maxBatch || w.wallets.some((id) => locked.has(id))) {
        later.push(w);
        continue;
      }
      for (const id of w.wallets) locked.add(id);
      batch.push(w);
    }
    this.#waiting = later;
    return batch.sort((a, b) => compareBytes(a.wallets[0] ?? "", b.wallets[0] ?? ""));
  }

  async #send(batch: readonly Waiting[]): Promise<void> {
    const [only] = batch;
    if (batch.length === 1 && only !== undefined) {
      only.done(await this.#alone(only.text));
      return;
    }
    const text = [`SET LOCAL lock_timeout = ${BATCH_LOCK_TIMEOUT_MS}`, ...batch.map((w) => w.text)].join(
      ";\n",
    );
    const first = await this.#alone(text);
    if (first.kind !== "refused") {
      for (const w of batch) w.done(first);
      return;
    }
    // Nothing of the batch committed: each commit again alone, at once, outside the bound of messages in flight
    // (a commit waiting for a lock then holds up nobody else).
    for (const w of batch)
      void this.#alone(w.text).then(w.done, (error: unknown) => w.done({ kind: "lost", error }));
  }

  /** Sends `text` on a connection of its own; a connection whose answer was lost goes, never back to the pool. */
  async #alone(text: string): Promise<CommitOutcome> {
    let client: PoolClientLike;
    try {
      client = await this.pool.connect();
    } catch (error) {
      return { kind: "unsent", error };
    }
    let lost: Error | undefined;
    const onError = (error: Error) => {
      lost = error;
    };
    client.on?.("error", onError);
    try {
      await client.query(text);
      // Answered: committed, whatever became of the connection after (it goes if it broke).
      return { kind: "committed" };
    } catch (error) {
      if (lost !== undefined || this.isLost(error)) {
        lost ??= error instanceof Error ? error : new Error(String(error));
        return { kind: "lost", error: lost };
      }
      return { kind: "refused", error };
    } finally {
      client.removeListener?.("error", onError);
      client.release(lost !== undefined ? true : undefined);
    }
  }
}
