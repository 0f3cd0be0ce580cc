import type { Result, ResultAsync } from "neverthrow";
import type { StorageReader } from "../../src/storage/port.js";
import type { FaultRates } from "./faults.js";
import type { ReferenceModel } from "./model.js";
import type { Rng } from "./rng.js";
import type { Slot } from "./simulation.js";
import type { SimUpstream } from "./upstream.js";
import type { Coverage, SimProcess, World } from "./world.js";

/** What a command answers. */
type Answer = ResultAsync<unknown, { type: string }> | Promise<Result<unknown, { type: string }>>;

interface Customer {
  readonly walletId: string;
  readonly hot: boolean;
  n: number;
  readonly activations: { id: string; provider: string }[];
  readonly rentals: { id: string; provider: string }[];
  readonly holds: string[];
  readonly settled: string[];
}

/** A keyed command that succeeded and was acknowledged: replayed later, it must give the same answer. */
interface Acked {
  readonly key: string;
  readonly provider: string | null;
  readonly redo: (slot: Slot) => Answer;
  readonly id: string;
  /** The same key with another request: must be refused. */
  readonly conflict: ((slot: Slot) => ResultAsync<unknown, { type: string }>) | null;
}

type Command = (c: Customer) => void;

const idOf = (v: unknown): string => {
  if (typeof v !== "object" || v === null) return String(v);
  const o = v as Record<string, unknown>;
  return String(o.id ?? o.transferId ?? o.holdId ?? JSON.stringify(v));
};

/**
 * The customers: a few hot wallets and many cold ones, issuing every public command at random times through a
 * random live process — deposits, withdrawals, cashback, reversals, manual holds, activations (poll, another code,
 * cancel, finish) and rentals (extend, cancel, finish, sync), repeated and conflicting idempotency keys, retries after
 * an error — plus the webhooks and one sweeper per process. Draws only from its own generator.
 */
export class Workload {
  private readonly customers: Customer[] = [];
  private readonly acked: Acked[] = [];
  /** Commands issued (one public service call each). */
  issued = 0;
  private arrivalsOn = false;
  private sweepersOn = false;
  private budget = 0;
  private readonly inFlight = new Map<number, SimProcess>();
  private readonly sweeping = new Map<number, SimProcess>();
  private token = 0;
  private readonly commands: [number, Command][];
  private readonly ended = new Set<string>();
  private readonly extending = new Map<string, number>();

  constructor(
    private readonly world: World,
    private readonly slots: readonly Slot[],
    private readonly rng: Rng,
    private readonly model: ReferenceModel,
    private readonly coverage: Coverage,
    private readonly read: StorageReader,
    private readonly rates: () => FaultRates,
  ) {
    const count = 3 + rng.int(5, 40);
    for (let i = 0; i < count; i++) {
      this.customers.push({
        walletId: `c${i}`,
        hot: i < 3,
        n: 0,
        activations: [],
        rentals: [],
        holds: [],
        settled: [],
      });
    }
    this.commands = [
      [8, (c) => this.deposit(c)],
      [4, (c) => this.withdraw(c)],
      [2, (c) => this.cashback(c)],
      [2, (c) => this.reverse(c)],
      [3, (c) => this.freeze(c)],
      [3, (c) => this.resolveHold(c)],
      [20, (c) => this.buyActivation(c)],
      [10, (c) => this.onActivation(c, "poll")],
      [3, (c) => this.onActivation(c, "another")],
      [8, (c) => this.onActivation(c, "cancel")],
      [4, (c) => this.onActivation(c, "finish")],
      [6, (c) => this.buyRental(c)],
      [4, (c) => this.extendRental(c)],
      [3, (c) => this.onRental(c, "cancel")],
      [3, (c) => this.onRental(c, "finish")],
      [4, (c) => this.onRental(c, "sync")],
      [5, () => this.replay()],
      [2, () => this.conflict()],
    ];
  }

  /** Commands of live processes still running. */
  get inFlightCommands(): number {
    let n = 0;
    for (const p of this.inFlight.values()) if (p.alive) n++;
    return n;
  }

  /** Sweeps of live processes still running. */
  get inFlightSweeps(): number {
    let n = 0;
    for (const p of this.sweeping.values()) if (p.alive) n++;
    return n;
  }

  /** Creates and funds every wallet, before any fault. */
  async setup(): Promise<void> {
    const slot = this.slots[0] as Slot;
    for (const c of this.customers) {
      this.task(slot, async () => {
        await slot.fes.createWallet({ walletId: c.walletId, currency: "USD" });
        await slot.fes.deposit({
          walletId: c.walletId,
          amountMinor: c.hot ? 50_000 : 5_000,
          currency: "USD",
          idempotencyKey: `${c.walletId}:seed`,
        });
      });
    }
    await this.world.run(() => this.inFlightCommands === 0);
  }

  private readonly rentalCommands = new Map<SimProcess, number>();

  /** Rental commands running on a process (a crash there is a crash with a rental step in flight). */
  rentalCommandsOn(p: SimProcess): number {
    return this.rentalCommands.get(p) ?? 0;
  }

  private task(slot: Slot, body: () => Promise<unknown>, sweep = false, rental = false): void {
    const token = this.token++;
    const process = slot.process;
    (sweep ? this.sweeping : this.inFlight).set(token, process);
    if (rental) this.rentalCommands.set(process, this.rentalCommandsOn(process) + 1);
    this.world.spawn(async () => {
      try {
        await body();
      } catch (e) {
        this.model.report(
          "no-throw",
          process.name,
          e instanceof Error ? `${e.name}: ${e.message}` : String(e),
        );
      } finally {
        (sweep ? this.sweeping : this.inFlight).delete(token);
        if (rental) this.rentalCommands.set(process, this.rentalCommandsOn(process) - 1);
      }
    });
  }

  private slotFor(provider: string | null): Slot | undefined {
    const live = this.slots.filter(
      (s) => s.process.alive && (provider === null || s.upstream.name === provider),
    );
    return live.length === 0 ? undefined : this.rng.pick(live);
  }

  /** Issues one command through a live process; `false` when none is up. */
  private issue(provider: string | null, body: (slot: Slot) => Promise<unknown>, rental = false): void {
    const slot = this.slotFor(provider);
    if (slot === undefined) return;
    this.issued++;
    this.task(slot, () => body(slot), false, rental);
  }

  /** Starts the arrivals of `budget` commands. */
  startArrivals(budget: number): void {
    this.budget = budget;
    this.arrivalsOn = true;
    const arrive = () => {
      if (!this.arrivalsOn || this.issued >= this.budget) return;
      const burst = this.rng.chance(0.1) ? this.rng.int(2, 8) : 1;
      for (let i = 0; i < burst; i++) this.arrival();
      this.world.after(this.rng.int(0, 4_000), arrive);
    };
    this.world.after(0, arrive);
  }

  private arrival(): void {
    const c = this.rng.chance(0.6)
      ? (this.customers[this.rng.int(0, 2)] as Customer)
      : this.rng.pick(this.customers);
    let total = 0;
    for (const [w] of this.commands) total += w;
    let r = this.rng.int(1, total);
    for (const [w, command] of this.commands) {
      r -= w;
      if (r <= 0) {
        command(c);
        return;
      }
    }
  }

  /** Stops new arrivals. */
  stopArrivals(): void {
    this.arrivalsOn = false;
  }

  /** One sweeper per slot, each on its own period; several run at once. */
  startSweepers(): void {
    this.sweepersOn = true;
    for (const slot of this.slots) {
      const period = this.rng.int(15_000, 90_000);
      const tick = () => {
        if (!this.sweepersOn) return;
        if (slot.process.alive) {
          this.issued++;
          this.task(
            slot,
            async () => {
              const report = await slot.fes.sweep();
              // Rentals closed upstream because nobody owned them (a purchase released as lost had rented them).
              if (report.isOk())
                for (const o of report.value.closedOrphans)
                  this.coverage.hit(`sweep.closedOrphan.${o.closedAs}`);
            },
            true,
          );
        }
        this.world.after(period, tick);
      };
      this.world.after(this.rng.int(0, period), tick);
    }
  }

  /** The liveness phase: the operator releases the manual holds left open; the sweepers go on. */
  startLiveness(): void {
    this.issue(null, async (slot) => {
      for (const h of await this.read.listHolds({ state: "open" })) {
        if (h.ownerType !== "manual") continue;
        await slot.fes.release({ holdId: h.id, idempotencyKey: `release:${h.id}:final` });
      }
    });
  }

  /** Stops everything recurring. */
  stopAll(): void {
    this.arrivalsOn = false;
    this.sweepersOn = false;
  }

  /** A webhook for a code: to a random live process of that provider. */
  webhook(upstream: SimUpstream, providerActivationId: string, code: string, receivedAtMs: number): void {
    if (!this.arrivalsOn && !this.sweepersOn) return;
    this.issue(
      upstream.name,
      async (slot) => await slot.fes.onCode({ providerActivationId, code, receivedAtMs }),
    );
  }

  private key(c: Customer, what: string): string {
    return `${c.walletId}:${what}:${++c.n}`;
  }

  /** Runs a keyed command; remembers it when acknowledged, retries it (same key) after a storage error. */
  private keyed(
    provider: string | null,
    key: string,
    redo: (slot: Slot) => Answer,
    onOk: (value: unknown) => void,
    conflict: Acked["conflict"] = null,
    retries = 2,
    rental = false,
  ): void {
    this.issue(
      provider,
      async (slot) => {
        const r = await redo(slot);
        if (r.isOk()) {
          onOk(r.value);
          if (this.acked.length < 5_000)
            this.acked.push({ key, provider, redo, id: idOf(r.value), conflict });
          else
            this.acked[this.rng.int(0, this.acked.length - 1)] = {
              key,
              provider,
              redo,
              id: idOf(r.value),
              conflict,
            };
        } else if (
          retries > 0 &&
          (r.error.type === "storage_failure" || r.error.type === "provider_unavailable") &&
          this.rng.chance(0.7)
        ) {
          this.coverage.hit("workload.retrySameKey");
          this.world.after(this.rng.int(500, 20_000), () =>
            this.keyed(provider, key, redo, onOk, conflict, retries - 1, rental),
          );
        }
      },
      rental,
    );
  }

  private deposit(c: Customer): void {
    const amountMinor = this.rng.int(100, 5_000);
    const key = this.key(c, "dep");
    const request = { walletId: c.walletId, amountMinor, currency: "USD", idempotencyKey: key };
    this.keyed(
      null,
      key,
      (s) => s.fes.deposit(request),
      () => {},
      (s) => s.fes.deposit({ ...request, amountMinor: amountMinor + 1 }),
    );
  }

  private withdraw(c: Customer): void {
    const key = this.key(c, "wd");
    const request = {
      walletId: c.walletId,
      amountMinor: this.rng.int(50, 3_000),
      currency: "USD",
      idempotencyKey: key,
    };
    this.keyed(
      null,
      key,
      (s) => s.fes.withdraw(request),
      () => {},
      (s) => s.fes.withdraw({ ...request, amountMinor: request.amountMinor + 1 }),
    );
  }

  private cashback(c: Customer): void {
    const key = this.key(c, "cb");
    const request = {
      walletId: c.walletId,
      amountMinor: this.rng.int(1, 200),
      currency: "USD",
      reason: "goodwill",
      idempotencyKey: key,
    };
    this.keyed(
      null,
      key,
      (s) => s.fes.cashback(request),
      () => {},
    );
  }

  private reverse(c: Customer): void {
    const operationId = c.settled.length === 0 ? undefined : this.rng.pick(c.settled);
    if (operationId === undefined) {
      this.deposit(c);
      return;
    }
    const key = this.key(c, "rev");
    const request = {
      walletId: c.walletId,
      amountMinor: this.rng.int(1, 100),
      currency: "USD",
      reason: "refund",
      operationId,
      idempotencyKey: key,
    };
    this.keyed(
      null,
      key,
      (s) => s.fes.reverse(request),
      () => {},
    );
  }

  private freeze(c: Customer): void {
    const key = this.key(c, "frz");
    const request = {
      walletId: c.walletId,
      amountMinor: this.rng.int(10, 500),
      currency: "USD",
      operationId: `op-${key}`,
      idempotencyKey: key,
    };
    this.keyed(
      null,
      key,
      (s) => s.fes.freeze(request),
      (v) => c.holds.push(idOf(v)),
    );
  }

  private resolveHold(c: Customer): void {
    const holdId = c.holds.shift();
    if (holdId === undefined) {
      this.freeze(c);
      return;
    }
    const key = this.key(c, "res");
    if (this.rng.chance(0.5)) {
      const request = { holdId, amountMinor: this.rng.int(1, 10), idempotencyKey: key };
      this.keyed(
        null,
        key,
        (s) => s.fes.settle(request),
        () => {},
      );
    } else {
      this.keyed(
        null,
        key,
        (s) => s.fes.release({ holdId, idempotencyKey: key }),
        () => {},
      );
    }
  }

  private buyActivation(c: Customer): void {
    const key = this.key(c, "buy");
    const [service, country] = this.rng.chance(0.7) ? ["tg", "6"] : ["wa", "0"];
    const request = { walletId: c.walletId, service, country, idempotencyKey: key };
    const provider = this.rng.pick(this.slots).upstream.name;
    this.keyed(
      provider,
      key,
      (s) => s.fes.buyActivation(request),
      (v) => {
        c.activations.push({ id: idOf(v), provider });
        if (c.activations.length > 30) c.activations.shift();
      },
    );
  }

  private onActivation(c: Customer, action: "poll" | "another" | "cancel" | "finish"): void {
    const a = c.activations.length === 0 ? undefined : this.rng.pick(c.activations);
    if (a === undefined) {
      this.buyActivation(c);
      return;
    }
    this.issue(a.provider, async (slot) => {
      const fes = slot.fes;
      const r =
        action === "poll"
          ? await fes.pollActivation(a.id)
          : action === "another"
            ? await fes.requestAnotherCode({ activationId: a.id })
            : action === "cancel"
              ? await fes.cancelActivation({ activationId: a.id })
              : await fes.finishActivation({ activationId: a.id });
      if (r.isOk() && typeof r.value === "object" && r.value !== null && "state" in r.value) {
        if (r.value.state === "received") c.settled.push(a.id);
      }
    });
  }

  private buyRental(c: Customer): void {
    const key = this.key(c, "rent");
    const request = {
      walletId: c.walletId,
      service: "tg",
      country: "6",
      hours: this.rng.int(4, 8),
      idempotencyKey: key,
    };
    const provider = this.rng.pick(this.slots).upstream.name;
    this.keyed(
      provider,
      key,
      (s) => s.fes.buyRental(request),
      (v) => {
        c.rentals.push({ id: idOf(v), provider });
        if (c.rentals.length > 10) c.rentals.shift();
      },
      null,
      2,
      true,
    );
  }

  private extendRental(c: Customer): void {
    const r = c.rentals.length === 0 ? undefined : this.rng.pick(c.rentals);
    if (r === undefined) {
      this.buyRental(c);
      return;
    }
    // Not after the customer ended it (an extension racing the end), unless this seed lets them race.
    if (this.ended.has(r.id)) {
      if (this.rates().rentalEndRace === 0) return;
      this.coverage.hit("workload.rentalEndRace");
    }
    const key = this.key(c, "ext");
    const request = { rentalId: r.id, hours: this.rng.int(1, 4), idempotencyKey: key };
    this.keyed(
      r.provider,
      key,
      async (s) => {
        this.extending.set(r.id, (this.extending.get(r.id) ?? 0) + 1);
        const out = await s.fes.extendRental(request);
        this.extending.set(r.id, (this.extending.get(r.id) ?? 0) - 1);
        // An extension whose outcome the customer did not hear may still be pending: the customer leaves the
        // rental to its end from then on (unless this seed lets a finish race an extension).
        if (out.isErr() && out.error.type !== "insufficient_funds") this.ended.add(r.id);
        return out;
      },
      () => {},
      null,
      2,
      true,
    );
  }

  private onRental(c: Customer, action: "cancel" | "finish" | "sync"): void {
    const r = c.rentals.length === 0 ? undefined : this.rng.pick(c.rentals);
    if (r === undefined) {
      this.buyRental(c);
      return;
    }
    if (action !== "sync") {
      // A customer ends a rental once and not while extending it, unless this seed lets a finish race a cancel
      // or an extension.
      if (this.ended.has(r.id) || (this.extending.get(r.id) ?? 0) > 0) {
        if (this.rates().rentalEndRace === 0) return;
        this.coverage.hit("workload.rentalEndRace");
      }
      this.ended.add(r.id);
    }
    this.issue(
      r.provider,
      async (slot) =>
        action === "cancel"
          ? await slot.fes.cancelRental({ rentalId: r.id })
          : action === "finish"
            ? await slot.fes.finishRental({ rentalId: r.id })
            : await slot.fes.syncRental(r.id),
      true,
    );
  }

  /** The same key and request again: the stored answer, no second effect. */
  private replay(): void {
    const a = this.acked.length === 0 ? undefined : this.rng.pick(this.acked);
    if (a === undefined) return;
    this.issue(a.provider, async (slot) => {
      const r = await a.redo(slot);
      this.coverage.hit("workload.replay");
      if (r.isOk() && idOf(r.value) !== a.id)
        this.model.report("idempotency", a.key, `replay answered ${idOf(r.value)}, first answer ${a.id}`);
      if (r.isErr() && r.error.type === "idempotency_conflict")
        this.model.report("idempotency", a.key, "the same request under its own key was called a conflict");
    });
  }

  /** The same key with another request: refused, nothing moves. */
  private conflict(): void {
    const a = this.acked.length === 0 ? undefined : this.rng.pick(this.acked);
    if (a?.conflict == null) return;
    const conflict = a.conflict;
    this.issue(a.provider, async (slot) => {
      const r = await conflict(slot);
      this.coverage.hit("workload.conflict");
      if (r.isOk()) this.model.report("idempotency", a.key, "a different request under a used key succeeded");
    });
  }
}
