import { err } from "neverthrow";
import type { Provider, ProviderFailure, ProviderResult } from "../../src/provider/port.js";
import type { CommitPlan, Storage, StorageReader, StorageTx } from "../../src/storage/port.js";
import type { FaultKind, FaultRates } from "./faults.js";
import type { Rng } from "./rng.js";
import type { SimUpstream } from "./upstream.js";
import type { Coverage, SimProcess, World } from "./world.js";

/** What a link needs from the simulation around it. */
export interface LinkContext {
  readonly world: World;
  readonly rng: Rng;
  readonly rates: () => FaultRates;
  readonly coverage: Coverage;
  /**
   * Kills the process (its tasks are dropped, a new instance starts later). Returns `false` when this seed's
   * switches spare the process (it goes on as if nothing happened).
   */
  readonly crash: (p: SimProcess) => boolean;
}

/** The money-moving provider calls, by the fault kind that loses their answer. */
const lossKind: Partial<Record<keyof Provider, FaultKind>> = {
  buyActivation: "lostPurchaseAnswer",
  rent: "lostRentAnswer",
  cancelActivation: "lostEndAnswer",
  finishActivation: "lostEndAnswer",
  cancelRental: "lostRentalEndAnswer",
  finishRental: "lostRentalEndAnswer",
  extendRental: "lostExtensionAnswer",
};

/** The rental calls that act upstream: a crash after them is its own kind. */
const rentalMutations = new Set<keyof Provider>(["rent", "extendRental", "cancelRental", "finishRental"]);

/**
 * One process's view of an upstream: every call waits for the network (a request and an answer, each with its
 * latency, so other tasks run meanwhile), and may meet a crash point, a refusal before the provider acts, or a lost
 * answer after it acted.
 */
export function providerLink(ctx: LinkContext, process: SimProcess, upstream: SimUpstream): Provider {
  const { world, rng, coverage } = ctx;
  const call = async <T>(
    method: keyof Provider,
    act: () => ProviderResult<T>,
  ): Promise<ProviderResult<T>> => {
    const rates = ctx.rates();
    await world.gate(process, rng.int(5, 400), () => {
      if (!rng.chance(rates.crashBeforeProvider) || !ctx.crash(process)) return true;
      coverage.hit("crash.beforeProvider");
      return false;
    });
    if (rng.chance(rates.refusedRequest)) {
      coverage.hit("fault.refusedRequest");
      return err<never, ProviderFailure>(
        rng.chance(0.5)
          ? { class: "retryable", reason: "rate_limited", retryAfterMs: 1_000 }
          : { class: "declined", reason: "banned", untilMs: upstream.now() + 60_000 },
      );
    }
    const result = act();
    const loss = lossKind[method];
    const lost = loss !== undefined && rng.chance(rates[loss]);
    await world.gate(process, rng.int(5, lost ? 30_000 : 400), () => {
      const crashRate = rentalMutations.has(method)
        ? rates.crashAfterRentalProvider
        : rates.crashAfterProvider;
      if (!rng.chance(crashRate) || !ctx.crash(process)) return true;
      coverage.hit(`crash.afterProvider.${method}`);
      coverage.hit("crash.afterProvider");
      return false;
    });
    if (lost) {
      coverage.hit(`fault.${loss}`);
      coverage.hit(`fault.${loss}.${method}`);
      return err<never, ProviderFailure>({ class: "unknown", reason: "timeout" });
    }
    return result;
  };
  return {
    capabilities: upstream.capabilities,
    quote: (q) => call("quote", () => upstream.quote(q)),
    buyActivation: (o) => call("buyActivation", () => upstream.buyActivation(o)),
    getActivationStatus: (id) => call("getActivationStatus", () => upstream.getActivationStatus(id)),
    requestAnotherCode: (id) => call("requestAnotherCode", () => upstream.requestAnotherCode(id)),
    cancelActivation: (id) => call("cancelActivation", () => upstream.cancelActivation(id)),
    finishActivation: (id) => call("finishActivation", () => upstream.finishActivation(id)),
    listActiveActivations: () => call("listActiveActivations", () => upstream.listActiveActivations()),
    quoteRental: (q) => call("quoteRental", () => upstream.quoteRental(q)),
    rent: (o) => call("rent", () => upstream.rent(o)),
    getRentalStatus: (id) => call("getRentalStatus", () => upstream.getRentalStatus(id)),
    extendRental: (id, h) => call("extendRental", () => upstream.extendRental(id, h)),
    cancelRental: (id) => call("cancelRental", () => upstream.cancelRental(id)),
    finishRental: (id) => call("finishRental", () => upstream.finishRental(id)),
    listActiveRentals: () => call("listActiveRentals", () => upstream.listActiveRentals()),
  };
}

/** Told about every committed unit of work, in commit order (the reference model and the per-step oracle). */
export type CommitObserver = (plans: readonly CommitPlan[]) => Promise<void>;

/** Thrown when the acknowledgement of a commit is lost: the unit of work did commit. */
export class LostAcknowledgement extends Error {
  override readonly name = "LostAcknowledgement";
}

/**
 * One process's view of the durable store: the shared memory storage behind a network. A unit of work may meet
 * a crash before it commits (nothing of it stays), a crash after it committed (it stays, nobody hears of it) or a
 * lost acknowledgement (it stays, the caller sees an error). Reads wait for the network too.
 */
export function storageLink(
  ctx: LinkContext,
  process: SimProcess,
  inner: Storage,
  observe: CommitObserver,
): Storage {
  const { world, rng, coverage } = ctx;
  const net = () => world.gate(process, rng.int(0, 3), () => true);
  const read = new Proxy(inner.read, {
    get(target, key: keyof StorageReader) {
      const method = target[key] as (...args: unknown[]) => Promise<unknown>;
      return async (...args: unknown[]) => {
        await net();
        return method.apply(target, args);
      };
    },
  });
  return {
    read,
    async transaction<T>(work: (tx: StorageTx) => Promise<T>): Promise<T> {
      const rates = ctx.rates();
      await net();
      let plans: CommitPlan[] = [];
      let crashed = false;
      const touchesRental = () => plans.some((p) => (p.rentals?.length ?? 0) > 0);
      const allowed = () => !touchesRental() || rates.rentalCommitFaults > 0;
      let result: T;
      try {
        result = await inner.transaction(async (tx) => {
          plans = [];
          const value = await work({
            load: (r) => tx.load(r),
            apply: (plan) => {
              plans.push(plan);
              return tx.apply(plan);
            },
          });
          if (allowed() && rng.chance(rates.crashBeforeCommit) && ctx.crash(process)) {
            crashed = true;
            throw new Error("crashed before COMMIT");
          }
          return value;
        });
      } catch (e) {
        if (!crashed) throw e;
        coverage.hit(touchesRental() ? "crash.beforeCommit.rental" : "crash.beforeCommit");
        return world.drop();
      }
      await observe(plans);
      if (allowed() && rng.chance(rates.crashAfterCommit) && ctx.crash(process)) {
        coverage.hit(touchesRental() ? "crash.afterCommit.rental" : "crash.afterCommit");
        return world.drop();
      }
      if (allowed() && rng.chance(rates.ambiguousCommit)) {
        coverage.hit(touchesRental() ? "fault.ambiguousCommit.rental" : "fault.ambiguousCommit");
        throw new LostAcknowledgement("connection lost after COMMIT");
      }
      return result;
    },
  };
}
