import type { ResultAsync } from "neverthrow";
import { createFes, type Fes } from "../../src/fes/service.js";
import { createMemoryStorage } from "../../src/memory/index.js";
import { checkLedgerInvariants } from "../../src/wallet/invariants.js";
import { drawRates, type FaultRates, type FaultSwitches, noFaults } from "./faults.js";
import { type LinkContext, providerLink, storageLink } from "./links.js";
import { ReferenceModel, type Violation } from "./model.js";
import { Rng } from "./rng.js";
import { SimUpstream } from "./upstream.js";
import { Workload } from "./workload.js";
import { Coverage, type SimProcess, World } from "./world.js";

/** Options of one simulation run. */
export interface SimOptions {
  readonly seed: number;
  /** Public service commands to issue in the safety phase. */
  readonly ops: number;
  readonly switches: FaultSwitches;
  /** The library's full checker runs every this many commits (and at quiescence). */
  readonly checkEvery?: number;
}

/** What one run did and found. */
export interface SimReport {
  readonly seed: number;
  readonly ops: number;
  readonly livenessOps: number;
  readonly steps: number;
  readonly commits: number;
  readonly crashes: number;
  readonly processes: number;
  readonly providers: number;
  readonly simulatedMs: number;
  readonly quiescent: boolean;
  readonly coverage: Coverage;
  readonly rates: FaultRates;
  readonly violations: readonly Violation[];
}

const START_MS = Date.UTC(2026, 0, 1);
const LIVENESS_BOUND_MS = 7 * 24 * 3_600_000;

/** One slot of the deployment: a process that is replaced by a new instance after it crashes. */
export interface Slot {
  process: SimProcess;
  fes: Fes;
  readonly upstream: SimUpstream;
}

/**
 * Runs one seeded world: a safety phase of `ops` commands with faults and crashes, then a liveness phase without
 * faults in which the sweepers must bring everything to rest within a bound, then the quiescence oracles.
 */
export async function runSimulation(options: SimOptions): Promise<SimReport> {
  const { seed, switches } = options;
  const checkEvery = options.checkEvery ?? 5_000;
  const world = new World(START_MS);
  const coverage = new Coverage();
  const faultRng = Rng.derive(seed, "faults");
  const seedRates = drawRates(Rng.derive(seed, "swarm"), switches);
  let rates: FaultRates = noFaults;
  const topology = Rng.derive(seed, "topology");
  const storage = createMemoryStorage();
  const model = new ReferenceModel(storage.read, () => world.nowMs);
  let fullChecks = 0;
  const observe = async (plans: Parameters<ReferenceModel["committed"]>[0]) => {
    await model.committed(plans);
    if (model.commits % checkEvery === 0) await fullCheck();
  };
  const fullCheck = async () => {
    fullChecks++;
    for (const v of await checkLedgerInvariants(storage.read))
      model.report(`invariant-${v.invariant}`, v.subject, v.message);
  };

  const slots: Slot[] = [];
  let crashes = 0;
  let processIds = 0;
  const linkCtx: LinkContext = {
    world,
    rng: faultRng,
    rates: () => rates,
    coverage,
    crash: (p) => {
      if (!p.alive) return true;
      if (rates.crashAfterRentalProvider === 0 && (workload?.rentalCommandsOn(p) ?? 0) > 0) return false;
      p.alive = false;
      crashes++;
      const slot = slots.find((s) => s.process === p);
      if (slot !== undefined) world.after(faultRng.int(1_000, 30_000), () => start(slot));
      return true;
    },
  };
  const start = (slot: Slot) => {
    const process: SimProcess = { id: ++processIds, name: `p${processIds}`, alive: true };
    slot.process = process;
    slot.fes = instance(process, slot.upstream);
  };
  const instance = (process: SimProcess, upstream: SimUpstream) =>
    createFes({
      storage: storageLink(linkCtx, process, storage, observe),
      provider: providerLink(linkCtx, process, upstream),
      clock: { now: () => world.nowMs },
    });

  const providerCount = seedRates.twoProviders > 0 ? 2 : 1;
  const upstreams: SimUpstream[] = [];
  let workload: Workload | undefined;
  for (let i = 0; i < providerCount; i++) {
    const name = i === 0 ? "sim-a" : "sim-b";
    const up = new SimUpstream(
      name,
      world,
      Rng.derive(seed, `provider-${i}`),
      () => rates,
      coverage,
      (id, code, at) => workload?.webhook(up, id, code, at),
      seedRates.rentListWithoutService > 0,
    );
    if (seedRates.clockSkew > 0) up.skewMs = topology.int(-45_000, 45_000);
    upstreams.push(up);
  }
  const processCount = topology.int(2, 5) + (providerCount - 1);
  for (let i = 0; i < processCount; i++) {
    const upstream = upstreams[i % providerCount] as SimUpstream;
    const process: SimProcess = { id: ++processIds, name: `p${processIds}`, alive: true };
    slots.push({ process, fes: instance(process, upstream), upstream });
  }

  workload = new Workload(
    world,
    slots,
    Rng.derive(seed, "workload"),
    model,
    coverage,
    storage.read,
    () => rates,
  );
  await workload.setup();
  rates = seedRates;
  if (upstreams.some((u) => u.skewMs !== 0)) coverage.hit("fault.clockSkew");
  if (providerCount > 1) coverage.hit("fault.twoProviders");
  if (seedRates.rentListWithoutService > 0) coverage.hit("fault.rentListWithoutService");

  // Safety phase: the workload issues `ops` commands while faults and crashes happen.
  workload.startArrivals(options.ops);
  workload.startSweepers();
  await world.run(() => workload.issued >= options.ops && workload.inFlightCommands === 0);
  const safetyOps = workload.issued;

  // Liveness phase: no faults, every process up, sweepers run until nothing is open or pending.
  rates = noFaults;
  workload.stopArrivals();
  for (const slot of slots) if (!slot.process.alive) start(slot);
  const deadline = world.nowMs + LIVENESS_BOUND_MS;
  workload.startLiveness();
  await world.run(() => model.isQuiescent() && workload.inFlightCommands === 0, deadline);
  const quiescent = model.isQuiescent();
  workload.stopAll();
  await world.run(() => workload.inFlightCommands === 0 && workload.inFlightSweeps === 0);
  if (!quiescent) {
    model.report(
      "liveness",
      "world",
      `not quiescent ${LIVENESS_BOUND_MS / 3_600_000} h after the safety phase: ${model.describeLive()}`,
    );
  } else {
    await quiescenceOracles(model, upstreams, storage.read, coverage);
  }
  await model.compareAll();
  await fullCheck();
  void fullChecks;

  return {
    seed,
    ops: safetyOps,
    livenessOps: workload.issued - safetyOps,
    steps: world.steps,
    commits: model.commits,
    crashes,
    processes: processIds,
    providers: providerCount,
    simulatedMs: world.nowMs - START_MS,
    quiescent,
    coverage,
    rates: seedRates,
    violations: model.violations,
  };
}

/**
 * At rest: nothing open, every upstream purchase accounted for and billed as the refund policy says (the platform
 * never pays upstream for a number nobody is billed for, a customer never pays for an activation without a code, a
 * rental is billed for exactly the periods the provider granted).
 */
async function quiescenceOracles(
  model: ReferenceModel,
  upstreams: readonly SimUpstream[],
  read: import("../../src/storage/port.js").StorageReader,
  coverage: Coverage,
): Promise<void> {
  const open = await read.listHolds({ state: "open" });
  for (const h of open) model.report("quiescence", h.id, `hold still open (${h.ownerType} ${h.ownerId})`);
  const activations = await read.listActivations();
  const rentals = await read.listRentals();
  for (const a of activations) {
    if (a.state === "pending" || a.state === "waiting")
      model.report("quiescence", a.id, `activation ${a.state}`);
    if (a.state === "received" && a.providerActivationId === null)
      model.report("billing", a.id, "received without a provider number");
  }
  for (const r of rentals)
    if (r.state === "pending" || r.state === "active") model.report("quiescence", r.id, `rental ${r.state}`);
  for (const up of upstreams) {
    const byProviderId = new Map(
      activations.filter((a) => a.provider === up.name).map((a) => [a.providerActivationId, a]),
    );
    for (const u of up.activations.values()) {
      up.refresh(u);
      const owner = byProviderId.get(u.id);
      const charged = owner === undefined ? 0 : model.settledBy(owner.id);
      if (
        u.codes.length > 0 &&
        (owner === undefined || owner.state !== "received" || charged !== owner.priceMinor)
      ) {
        const trail = owner === undefined ? [] : await read.listAudit({ subjectId: owner.id });
        model.report(
          "billing",
          u.id,
          `upstream delivered a code at +${u.codeAtMs === null ? "?" : u.codeAtMs - u.createdAtMs} ms ` +
            `(platform paid ${u.costMinor}); ` +
            `${owner === undefined ? "no record owns it" : `${owner.id} is ${owner.state}, charged ${charged}`}` +
            ` [${trail.map((t) => `${t.action}@+${t.atMs - u.createdAtMs + up.skewMs} by ${t.actor}`).join(", ")}]`,
        );
      }
      if (u.codes.length === 0 && charged > 0)
        model.report("billing", u.id, `no code upstream, but ${owner?.id} charged ${charged}`);
    }
    const rentalOwner = new Map(
      rentals.filter((r) => r.provider === up.name).map((r) => [r.providerRentalId, r]),
    );
    for (const u of up.rentals.values()) {
      up.refreshRental(u);
      const owner = rentalOwner.get(u.id);
      if (owner === undefined) {
        if (u.status !== "cancelled") {
          // The purchase that rented it (the sim's upstream keeps the order id), with its trail.
          const buyer = await read.getRental(u.orderId);
          const trail = buyer === undefined ? [] : await read.listAudit({ subjectId: buyer.id });
          // The provider ended it on its own while its purchase was still pending (the answer lost, not yet due):
          // no saga could have given it back or handed it to the customer, who was released and never saw it. The
          // platform's loss is the provider's doing, counted apart.
          const released = trail.find((t) => t.action === "rental.purchase_failed");
          if (
            u.endedBy === "provider" &&
            u.endedAtMs !== null &&
            buyer?.state === "failed" &&
            released !== undefined &&
            u.endedAtMs - up.skewMs <= released.atMs
          ) {
            coverage.hit("billing.rentalEndedByProviderWhilePending");
            continue;
          }
          model.report(
            "billing",
            u.id,
            `upstream rental ${u.status} by ${u.endedBy} (platform paid) owned by no record; rented at ` +
              `+${u.startedAtMs - up.skewMs - START_MS} ms` +
              (u.endedAtMs === null ? "" : `, ended at +${u.endedAtMs - up.skewMs - START_MS} ms`) +
              ` for ${u.orderId}` +
              (buyer === undefined
                ? ""
                : ` (${buyer.state}${buyer.failureReason === null ? "" : ` ${buyer.failureReason}`}, ` +
                  `${buyer.providerRentalId ?? "no number"}) [${trail
                    .map((t) => `${t.action}@+${t.atMs - START_MS} by ${t.actor}`)
                    .join(", ")}]`),
          );
        }
        continue;
      }
      const charged = model.settledBy(owner.id);
      const billed = owner.periods.filter((p) => p.state !== "failed");
      const grantedMinor = billed.reduce((s, p) => s + p.priceMinor, 0);
      const shortfall = u.status !== "cancelled" && u.periods.length !== billed.length;
      const trail = async () =>
        (await read.listAudit({ subjectId: owner.id }))
          .map((t) => `${t.action}@+${t.atMs - u.startedAtMs + up.skewMs} by ${t.actor}`)
          .join(", ");
      if (shortfall)
        model.report(
          "billing",
          owner.id,
          `provider granted ${u.periods.length} period(s) (${u.periods.join("+")} h), record bills ` +
            `${billed.length} [${await trail()}]`,
        );
      const expected =
        u.status === "cancelled" ? 0 : u.endedBy === "time" || u.endedBy === "customer" ? grantedMinor : null;
      if (expected !== null && charged !== expected)
        model.report(
          "billing",
          owner.id,
          `upstream ${u.status} by ${u.endedBy}: charged ${charged}, expected ${expected} (record ${owner.state}) ` +
            `[${await trail()}]`,
        );
      if (expected === null && charged > grantedMinor)
        model.report(
          "billing",
          owner.id,
          `upstream ${u.status} by provider: charged ${charged} > ${grantedMinor}`,
        );
    }
  }
}

/** Awaits a command; a throw is a violation (nothing a caller passes may make a call throw). */
export async function settle<T, E>(result: ResultAsync<T, E>) {
  return await result;
}
