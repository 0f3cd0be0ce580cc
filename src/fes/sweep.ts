import { err, ok, type Result } from "neverthrow";
import type { StorageFailure } from "../core/errors.js";
import { InvariantViolation } from "../core/invariant.js";
import type { ActivationRecord, RentalRecord } from "../core/records.js";
import type { DueWork } from "../storage/port.js";
import { reconcileActivation, retryAfterTimeout, sweepActivation } from "./activation-ops.js";
import { callProvider, emit, type FesContext } from "./context.js";
import {
  closeOrphanRentals,
  LOST_PURCHASE,
  orphanWatchMs,
  reconcileRental,
  sweepRental,
} from "./rental-ops.js";
import type { ClosedOrphan, SweepFailure, SweepReport } from "./sweep-report.js";
import { readStorage } from "./unit-of-work.js";

export type { ClosedOrphan, SweepFailure, SweepReport } from "./sweep-report.js";

type Counter = { -readonly [K in Exclude<keyof SweepReport, "failures" | "closedOrphans">]: number } & {
  failures: SweepFailure[];
  closedOrphans: ClosedOrphan[];
};

/** The longest an item is backed off after repeated failures. */
const MAX_BACKOFF_MS = 10 * 60_000;
/** The first backoff after a failure; doubled on every further failure. */
const FIRST_BACKOFF_MS = 5_000;

/** Per-item backoff of a sweeper: an item that failed is left alone for a while, doubling on each failure. */
export class SweepBackoff {
  readonly #items = new Map<string, { failures: number; untilMs: number }>();

  /** Whether the item is backed off at `nowMs`. */
  blocked(id: string, nowMs: number): boolean {
    const b = this.#items.get(id);
    return b !== undefined && nowMs < b.untilMs;
  }

  failed(id: string, nowMs: number): void {
    const failures = (this.#items.get(id)?.failures ?? 0) + 1;
    const delay = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** Math.min(failures - 1, 20));
    this.#items.set(id, { failures, untilMs: nowMs + delay });
  }

  succeeded(id: string): void {
    this.#items.delete(id);
  }
}

/** A step's result as the sweep counts it. */
type Counted = Exclude<keyof Counter, "failures" | "closedOrphans">;
type ItemResult = Result<Counted | readonly Counted[] | null, { readonly type: string }>;

/**
 * Runs one item in isolation: an error result or a thrown exception (a broken invariant on one record) is reported
 * with the item's id and backs the item off; the sweep goes on with the others.
 */
async function isolated(
  ctx: FesContext,
  backoff: SweepBackoff,
  report: Counter,
  id: string,
  run: () => Promise<ItemResult>,
): Promise<void> {
  const nowMs = ctx.clock.now();
  if (backoff.blocked(id, nowMs)) {
    report.backedOff++;
    return;
  }
  let result: ItemResult;
  try {
    result = await run();
  } catch (e) {
    const message = e instanceof InvariantViolation || e instanceof Error ? e.message : String(e);
    recordFailure(report, { id, error: message });
    backoff.failed(id, nowMs);
    return;
  }
  if (result.isOk()) {
    backoff.succeeded(id);
    const counted = result.value;
    if (typeof counted === "string") report[counted]++;
    else if (counted !== null) for (const c of counted) report[c]++;
    return;
  }
  if (result.error.type === "transition_not_allowed") {
    report.skipped++;
    return;
  }
  recordFailure(report, { id, error: result.error.type });
  backoff.failed(id, nowMs);
}

/** Counts a failure and names it in the report. */
function recordFailure(report: Counter, failure: SweepFailure): void {
  report.errors++;
  report.failures.push(failure);
}

async function timeOut(ctx: FesContext, a: ActivationRecord): Promise<ItemResult> {
  const swept = await sweepActivation(ctx, a);
  if (swept.isErr()) return err(swept.error);
  const { record, outcome } = swept.value;
  switch (outcome) {
    case "received":
      return ok("receivedLate");
    case "cancelled": {
      const retried = await retryAfterTimeout(ctx, record);
      return ok(retried.isOk() && retried.value !== null ? ["cancelled", "retried"] : "cancelled");
    }
    case "deferred":
      return ok("deferred");
    case "timeout": {
      const retried = await retryAfterTimeout(ctx, record);
      return ok(retried.isOk() && retried.value !== null ? ["timedOut", "retried"] : "timedOut");
    }
    default:
      return ok(null);
  }
}

async function endRental(ctx: FesContext, r: RentalRecord): Promise<ItemResult> {
  const swept = await sweepRental(ctx, r);
  if (swept.isErr()) return err(swept.error);
  switch (swept.value.outcome) {
    case "ended":
      return ok("rentalsExpired");
    case "extended":
      return ok("reconciled");
    case "deferred":
      return ok("deferred");
    default:
      return ok(null);
  }
}

/**
 * One sweep over the records of the provider this service serves: times out activations past their deadline
 * (after a last status poll; a recorded cancel wins; cashback by policy; a retry on another country when
 * configured), ends rentals past their end as the provider says they ended, finishes end steps whose answers were
 * lost, and reconciles `pending` purchases older than the grace period through the provider's open lists (not
 * found: released). Idempotent and safe from several workers at once: every step is one unit of work that re-reads
 * its record under the wallet lock, so a step another worker already took is skipped.
 */
export async function sweep(
  ctx: FesContext,
  backoff: SweepBackoff,
): Promise<Result<SweepReport, StorageFailure>> {
  const started = ctx.monotonicNow();
  const nowMs = ctx.clock.now();
  const due = await readStorage(
    (): Promise<DueWork> =>
      ctx.storage.read.listDue({
        nowMs,
        pendingBeforeMs: nowMs - ctx.pendingGraceMs,
        limit: ctx.sweepBatchSize,
        provider: ctx.providerName,
      }),
  );
  if (due.isErr()) {
    emit(ctx, {
      kind: "sweep",
      durationMs: ctx.monotonicNow() - started,
      outcome: "error",
      errorType: due.error.type,
    });
    return err(due.error);
  }
  const report: Counter = {
    timedOut: 0,
    receivedLate: 0,
    cancelled: 0,
    rentalsExpired: 0,
    reconciled: 0,
    releasedPending: 0,
    retried: 0,
    deferred: 0,
    backedOff: 0,
    skipped: 0,
    errors: 0,
    failures: [],
    closedOrphans: [],
  };
  const work = due.value;
  for (const a of work.activationsPastDeadline)
    await isolated(ctx, backoff, report, a.id, () => timeOut(ctx, a));
  for (const r of work.rentalsPastEnd) await isolated(ctx, backoff, report, r.id, () => endRental(ctx, r));
  if (work.pendingActivations.length > 0) {
    const listed = await callProvider(ctx, "listActiveActivations", {}, () =>
      ctx.provider.listActiveActivations(),
    );
    for (const a of work.pendingActivations) {
      await isolated(ctx, backoff, report, a.id, async () => {
        if (listed.isErr()) return err({ type: `provider_unavailable:${listed.error.reason}` });
        const done = await reconcileActivation(ctx, a, listed.value);
        return done.map((d) =>
          d.adopted ? "reconciled" : d.record.state === "pending" ? "deferred" : "releasedPending",
        );
      });
    }
  }
  await reconcileRentals(ctx, backoff, report, work.pendingRentals, nowMs);
  const final: SweepReport = report;
  emit(ctx, { kind: "sweep", durationMs: ctx.monotonicNow() - started, outcome: "ok", report: final });
  return ok(final);
}

/**
 * Reconciles the pending rental purchases that are due against the provider's open rentals, then closes the numbers
 * open upstream that belong to nobody (see `closeOrphanRentals`). The provider is listed only when there is something
 * to decide: a due purchase, or one released as lost recently enough that its number may still be open.
 */
async function reconcileRentals(
  ctx: FesContext,
  backoff: SweepBackoff,
  report: Counter,
  due: readonly RentalRecord[],
  nowMs: number,
): Promise<void> {
  if (due.length === 0 && !ctx.provider.capabilities.supportsRent) return;
  const ofProvider = (rs: readonly RentalRecord[]) => rs.filter((x) => x.provider === ctx.providerName);
  const recent = await readStorage(() =>
    ctx.storage.read.listRentals({ states: ["failed"], createdSinceMs: nowMs - orphanWatchMs(ctx) }),
  );
  if (recent.isErr()) {
    recordFailure(report, { id: "orphan-rentals", error: recent.error.type });
  }
  const releasedBefore = recent.isOk()
    ? ofProvider(recent.value).filter((x) => x.failureReason === LOST_PURCHASE)
    : [];
  if (due.length === 0 && releasedBefore.length === 0) return;
  const listed = await callProvider(ctx, "listActiveRentals", {}, () => ctx.provider.listActiveRentals());
  // Every pending rental of this provider, due or not, read after the list: a number one of them may still be
  // answered with is never adopted by another, nor closed.
  const siblings = await readStorage(() => ctx.storage.read.listRentals({ states: ["pending"] }));
  // Purchases decided earlier in this pass are pending no more: they claim no number.
  const decided = new Map<string, RentalRecord>();
  for (const r of due) {
    await isolated(ctx, backoff, report, r.id, async () => {
      if (listed.isErr()) return err({ type: `provider_unavailable:${listed.error.reason}` });
      if (siblings.isErr()) return err(siblings.error);
      const ours = ofProvider(siblings.value).filter((s) => !decided.has(s.id));
      const done = await reconcileRental(ctx, r, listed.value, ours);
      if (done.isOk() && done.value.record.state !== "pending") decided.set(r.id, done.value.record);
      return done.map((d) => (d.adopted ? "reconciled" : "releasedPending"));
    });
  }
  if (listed.isErr() || siblings.isErr()) return;
  const released = [
    ...releasedBefore,
    ...[...decided.values()].filter((x) => x.state === "failed" && x.failureReason === LOST_PURCHASE),
  ];
  const pending = ofProvider(siblings.value).filter((s) => !decided.has(s.id));
  const closing = await closeOrphanRentals(ctx, listed.value, pending, released);
  if (closing.isErr()) {
    recordFailure(report, { id: "orphan-rentals", error: closing.error.type });
    return;
  }
  report.closedOrphans.push(...closing.value.closed);
  for (const f of closing.value.failures) recordFailure(report, f);
}
