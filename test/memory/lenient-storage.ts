import type {
  ActivationRecord,
  AuditRecord,
  HoldRecord,
  IdempotencyRecord,
  RentalRecord,
  TransferRecord,
  WalletRecord,
} from "../../src/core/records.js";
import { healthStatsOf } from "../../src/storage/paging.js";
import { type CommitPlan, type Storage, type StorageTx, selectDueWork } from "../../src/storage/port.js";

/**
 * A deliberately lenient storage, the kind that hides races: no serialization of units of work, no guards, no
 * rollback, last write wins. It exists only to prove that the conformance suite fails it.
 */
export function createLenientStorage(): Storage {
  const wallets = new Map<string, WalletRecord>();
  const holds = new Map<string, HoldRecord>();
  const activations = new Map<string, ActivationRecord>();
  const rentals = new Map<string, RentalRecord>();
  const idempotency = new Map<string, IdempotencyRecord>();
  const transfers: TransferRecord[] = [];
  const audit: AuditRecord[] = [];
  // Yield between steps, as a database round trip would, so that concurrent units interleave.
  const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

  const apply = async (plan: CommitPlan) => {
    await tick();
    for (const w of plan.createWallets ?? []) wallets.set(w.id, w);
    for (const d of plan.walletDeltas ?? []) {
      const w = wallets.get(d.walletId);
      if (w)
        wallets.set(w.id, {
          ...w,
          balanceMinor: w.balanceMinor + d.balanceDeltaMinor,
          frozenMinor: w.frozenMinor + d.frozenDeltaMinor,
          version: w.version + 1,
        });
    }
    for (const t of plan.transfers ?? []) transfers.push({ ...t, seq: transfers.length + 1 });
    for (const h of plan.openHolds ?? []) holds.set(h.id, h);
    for (const r of plan.resolveHolds ?? []) {
      const h = holds.get(r.holdId);
      if (h)
        holds.set(h.id, { ...h, state: r.state, settledMinor: r.settledMinor, resolvedAtMs: r.resolvedAtMs });
    }
    for (const { record } of plan.activations ?? [])
      activations.set(record.id, { ...record, version: record.version + 1 });
    for (const { record } of plan.rentals ?? [])
      rentals.set(record.id, { ...record, version: record.version + 1 });
    if (plan.idempotency) idempotency.set(plan.idempotency.key, plan.idempotency);
    audit.push(...(plan.audit ?? []));
  };

  const tx: StorageTx = {
    load: async (request) => {
      await tick();
      const activation =
        request.activationId === undefined ? undefined : activations.get(request.activationId);
      const rental = request.rentalId === undefined ? undefined : rentals.get(request.rentalId);
      const holdIds = [
        ...(request.holdIds ?? []),
        ...(activation ? [activation.holdId] : []),
        ...(rental?.periods.map((p) => p.holdId) ?? []),
      ];
      return {
        wallets: request.walletIds.flatMap((id) => (wallets.has(id) ? [wallets.get(id)!] : [])),
        idempotency:
          request.idempotencyKey === undefined ? undefined : idempotency.get(request.idempotencyKey),
        activation,
        rental,
        holds: holdIds.flatMap((id) => (holds.has(id) ? [holds.get(id)!] : [])),
        ...(request.operationId === undefined
          ? {}
          : {
              operation: {
                settledMinor: transfers
                  .filter((t) => t.operationId === request.operationId && t.kind === "settle")
                  .reduce((x, t) => x + t.amountMinor, 0),
                reversedMinor: transfers
                  .filter((t) => t.operationId === request.operationId && t.kind === "reversal")
                  .reduce((x, t) => x + t.amountMinor, 0),
              },
            }),
      };
    },
    apply,
  };

  return {
    transaction: (work) => work(tx),
    read: {
      getWallet: async (id) => wallets.get(id),
      listWallets: async () => [...wallets.values()],
      getHold: async (id) => holds.get(id),
      listHolds: async (f = {}) =>
        [...holds.values()].filter(
          (h) => (!f.state || h.state === f.state) && (!f.walletId || h.walletId === f.walletId),
        ),
      getActivation: async (id) => activations.get(id),
      findActivationByProviderId: async (p, id) =>
        [...activations.values()].find((a) => a.provider === p && a.providerActivationId === id),
      listActivations: async (f = {}) =>
        [...activations.values()].filter(
          (a) => (!f.walletId || a.walletId === f.walletId) && (!f.states || f.states.includes(a.state)),
        ),
      getRental: async (id) => rentals.get(id),
      findRentalByProviderId: async (provider, providerRentalId) =>
        [...rentals.values()].find((r) => r.provider === provider && r.providerRentalId === providerRentalId),
      listRentals: async (f = {}) =>
        [...rentals.values()].filter(
          (r) => (!f.walletId || r.walletId === f.walletId) && (!f.states || f.states.includes(r.state)),
        ),
      listTransfers: async (f = {}) =>
        transfers
          .filter(
            (t) =>
              (!f.accountId || t.debitAccountId === f.accountId || t.creditAccountId === f.accountId) &&
              t.seq > (f.afterSeq ?? 0),
          )
          .slice(0, f.limit ?? Number.MAX_SAFE_INTEGER),
      getIdempotency: async (key) => idempotency.get(key),
      listAudit: async (f = {}) => audit.filter((a) => !f.subjectId || a.subjectId === f.subjectId),
      listDue: async (query) => selectDueWork([...activations.values()], [...rentals.values()], query),
      healthStats: async (query) => healthStatsOf(activations.values(), query),
    },
  };
}
