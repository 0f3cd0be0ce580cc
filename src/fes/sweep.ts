import { okAsync, type ResultAsync } from "neverthrow";
import type { StorageFailure } from "../core/errors.js";
import type { ActivationRecord, RentalRecord } from "../core/records.js";
import { readStorage } from "../core/unit-of-work.js";
import type { ActiveActivation, ActiveRental } from "../provider/port.js";
import { type activationOperations, WAIT_TIME_REASON } from "./activation-ops.js";
import { callProvider, type FesContext } from "./context.js";
import type { rentalOperations } from "./rental-ops.js";

/** What one sweep did. Steps that lost a race to another worker are counted as `skipped`, not as errors. */
export interface SweepReport {
  readonly timedOut: number;
  /** Activations past their deadline that turned out to have a code. */
  readonly receivedLate: number;
  readonly rentalsExpired: number;
  /** Pending purchases found upstream and moved on. */
  readonly reconciled: number;
  /** Pending purchases not found upstream: released. */
  readonly releasedPending: number;
  readonly retried: number;
  /** Activations the wait-time policy ended before the provider's lifetime: cancelled upstream, then released. */
  readonly waitEnded: number;
  readonly skipped: number;
  readonly errors: number;
}

type Counter = { -readonly [K in keyof SweepReport]: number };

/**
 * The sweeper. Idempotent and safe to run from several workers at once: every step is one unit of work that
 * re-reads its record under the wallet lock, so a step another worker already took is `transition_not_allowed`
 * and is skipped.
 */
export function sweeper(
  ctx: FesContext,
  activations: ReturnType<typeof activationOperations>,
  rentals: ReturnType<typeof rentalOperations>,
) {
  const caps = ctx.provider.capabilities;

  const count = (report: Counter, key: keyof Counter) => (r: ResultAsync<unknown, { type: string }>) =>
    r.match(
      () => {
        report[key]++;
      },
      (e) => {
        if (e.type === "transition_not_allowed") report.skipped++;
        else report.errors++;
      },
    );

  const timeOut = async (a: ActivationRecord, report: Counter) => {
    // A code may have arrived that no webhook delivered: ask before releasing.
    if (a.providerActivationId !== null) {
      const status = await callProvider(() => ctx.provider.getActivationStatus(a.providerActivationId!));
      if (status.isOk() && status.value.state === "code") {
        await count(
          report,
          "receivedLate",
        )(activations.step(a, { type: "code", code: status.value.code }, "system:sweep"));
        return;
      }
      // Still open upstream at our deadline: the wait-time policy's deadline came first.
      if (ctx.waitTime !== undefined && status.isOk() && status.value.state === "waiting") {
        if (await endWait(a, a.providerActivationId, report)) return;
      }
    }
    const stepped = await activations.step(a, { type: "deadline" }, "system:sweep");
    if (stepped.isErr()) {
      if (stepped.error.type === "transition_not_allowed") report.skipped++;
      else report.errors++;
      return;
    }
    if (stepped.value.state !== "timeout") return;
    report.timedOut++;
    const retried = await activations.retryAfterTimeout(stepped.value);
    if (retried.isOk() && retried.value !== null) report.retried++;
  };

  /**
   * Ends a wait the policy chose shorter than the provider's lifetime: cancel upstream first (a late code would cost
   * the platform money nobody pays back), then release as `cancelled` with reason `wait_time`, and retry elsewhere
   * when configured. A code that won the cancel settles. `false` when the provider had already ended it (then the
   * deadline step decides as without a policy).
   */
  const endWait = async (a: ActivationRecord, providerId: string, report: Counter): Promise<boolean> => {
    const cancelled = await callProvider(() => ctx.provider.cancelActivation(providerId));
    if (cancelled.isErr()) {
      const f = cancelled.error;
      if (f.class === "declined" && f.reason === "code_received") {
        const code = f.codes?.[0] ?? "(code withheld by provider)";
        await count(report, "receivedLate")(activations.step(a, { type: "code", code }, "system:sweep"));
        return true;
      }
      if (f.class === "declined" && (f.reason === "not_active" || f.reason === "not_found")) return false;
      // Transient or unknown: the money stays frozen and the next sweep asks again.
      report.errors++;
      return true;
    }
    const stepped = await activations.step(
      a,
      { type: "cancel", reason: WAIT_TIME_REASON },
      "system:wait-time",
    );
    if (stepped.isErr()) {
      if (stepped.error.type === "transition_not_allowed") report.skipped++;
      else report.errors++;
      return true;
    }
    if (stepped.value.state !== "cancelled") return true;
    report.waitEnded++;
    const retried = await activations.retryAfterTimeout(stepped.value);
    if (retried.isOk() && retried.value !== null) report.retried++;
    return true;
  };

  /** Closes a rental past its end: settled in full, unless the provider took it back first (revoke policy). */
  const endRental = async (r: RentalRecord, report: Counter) => {
    const id = r.providerRentalId;
    // An extension whose answer was lost: if the provider's end moved past ours, it happened — keep the rental.
    const unsure = r.periods.find((p) => p.state === "pending");
    if (unsure !== undefined && id !== null && r.endsAtMs !== null) {
      const listed = await callProvider(() => ctx.provider.listActiveRentals());
      const upstream = listed.isOk() ? listed.value.find((l) => l.providerRentalId === id) : undefined;
      if (upstream?.endsAtMs != null && upstream.endsAtMs > r.endsAtMs) {
        const confirmed = await rentals.step(
          r,
          { type: "extend_confirmed", holdId: unsure.holdId, endsAtMs: upstream.endsAtMs, costMinor: null },
          "system:sweep",
        );
        if (confirmed.isOk()) report.reconciled++;
        else if (confirmed.error.type === "transition_not_allowed") report.skipped++;
        else report.errors++;
        return;
      }
    }
    const status = id === null ? undefined : await callProvider(() => ctx.provider.getRentalStatus(id));
    const revoked = status?.isOk() === true && status.value.state === "revoked";
    await count(
      report,
      "rentalsExpired",
    )(rentals.step(r, revoked ? { type: "revoke" } : { type: "end" }, "system:sweep"));
  };

  const reconcileActivation = async (
    a: ActivationRecord,
    listed: readonly ActiveActivation[],
    report: Counter,
  ) => {
    // By order id where the provider keeps one; else by service, country and time — skipping numbers another
    // record already owns, so two lost purchases of one pair each get their own.
    const candidates = listed.filter(
      (l) =>
        l.orderId === a.id ||
        (!caps.supportsOrderId &&
          l.orderId === null &&
          l.service === a.serviceCode &&
          l.country === a.countryCode &&
          (l.createdAtMs === null || Math.abs(l.createdAtMs - a.createdAtMs) <= ctx.pendingGraceMs)),
    );
    let match: ActiveActivation | undefined;
    for (const candidate of candidates) {
      const taken = await readStorage(() =>
        ctx.storage.read.findActivationByProviderId(caps.name, candidate.providerActivationId),
      );
      if (taken.isErr()) {
        report.errors++;
        return;
      }
      if (taken.value === undefined) {
        match = candidate;
        break;
      }
    }
    if (match === undefined) {
      await count(
        report,
        "releasedPending",
      )(activations.step(a, { type: "purchase_failed", reason: "lost_purchase" }, "system:sweep"));
      return;
    }
    await count(
      report,
      "reconciled",
    )(
      activations
        .step(
          a,
          {
            type: "issued",
            providerActivationId: match.providerActivationId,
            phone: match.phone,
            costMinor: a.costMinor,
            deadlineAtMs: match.endsAtMs ?? a.createdAtMs + caps.activationLifetimeMs,
          },
          "system:sweep",
        )
        .andThen((issued) =>
          match.codes.reduce(
            (prev, code) =>
              prev.andThen((cur) => activations.step(cur, { type: "code", code }, "system:sweep")),
            okAsync(issued) as ResultAsync<ActivationRecord, { type: string }>,
          ),
        ),
    );
  };

  const reconcileRental = async (r: RentalRecord, listed: readonly ActiveRental[], report: Counter) => {
    // Rentals carry no order id upstream: adopt an open rental of the same service and country, ending when this
    // purchase would (bought within the grace period after it was recorded), that no record owns.
    const known = await readStorage(() => ctx.storage.read.listRentals({ states: ["active"] }));
    if (known.isErr()) {
      report.errors++;
      return;
    }
    const owned = new Set(known.value.map((k) => k.providerRentalId));
    const expectedEndMs = r.createdAtMs + (r.periods[0]?.hours ?? 0) * 3_600_000;
    const toleranceMs = ctx.pendingGraceMs + 60_000;
    const match = listed.find(
      (l) =>
        !owned.has(l.providerRentalId) &&
        l.endsAtMs !== null &&
        Math.abs(l.endsAtMs - expectedEndMs) <= toleranceMs &&
        (l.service ?? r.serviceCode) === r.serviceCode &&
        (l.country ?? r.countryCode) === r.countryCode,
    );
    if (match === undefined || match.endsAtMs === null) {
      await count(
        report,
        "releasedPending",
      )(rentals.step(r, { type: "purchase_failed", reason: "lost_purchase" }, "system:sweep"));
      return;
    }
    await count(
      report,
      "reconciled",
    )(
      rentals.step(
        r,
        {
          type: "issued",
          providerRentalId: match.providerRentalId,
          phone: match.phone,
          endsAtMs: match.endsAtMs,
          costMinor: r.costMinor,
        },
        "system:sweep",
      ),
    );
  };

  return {
    /**
     * Times out activations past their deadline (after one last status poll; cashback by policy; retry on another
     * country when configured), expires rentals past their end (settle), and reconciles `pending` purchases older
     * than the grace period through the provider's active lists (not found: released).
     */
    sweep(): ResultAsync<SweepReport, StorageFailure> {
      const nowMs = ctx.clock.now();
      return readStorage(() =>
        ctx.storage.read.listDue({
          nowMs,
          pendingBeforeMs: nowMs - ctx.pendingGraceMs,
          limit: ctx.sweepBatchSize,
        }),
      ).andThen((due) =>
        readStorage(async () => {
          const report: Counter = {
            timedOut: 0,
            receivedLate: 0,
            rentalsExpired: 0,
            reconciled: 0,
            releasedPending: 0,
            retried: 0,
            waitEnded: 0,
            skipped: 0,
            errors: 0,
          };
          for (const a of due.activationsPastDeadline) await timeOut(a, report);
          for (const r of due.rentalsPastEnd) await endRental(r, report);
          if (due.pendingActivations.length > 0) {
            const listed = await callProvider(() => ctx.provider.listActiveActivations());
            if (listed.isErr()) report.errors += due.pendingActivations.length;
            else for (const a of due.pendingActivations) await reconcileActivation(a, listed.value, report);
          }
          if (due.pendingRentals.length > 0) {
            const listed = await callProvider(() => ctx.provider.listActiveRentals());
            if (listed.isErr()) report.errors += due.pendingRentals.length;
            else for (const r of due.pendingRentals) await reconcileRental(r, listed.value, report);
          }
          return report as SweepReport;
        }),
      );
    },
  };
}
