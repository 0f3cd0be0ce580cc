import { isActivationTerminal } from "../activation/machine.js";
import { isPlatformAccountId } from "../core/records.js";
import { isRentalTerminal } from "../rental/machine.js";
import type { StorageReader } from "../storage/port.js";

/** One broken invariant of docs/design.md §2, with the numbers that show it. */
export interface LedgerViolation {
  readonly invariant: 1 | 2 | 3 | 4 | 5 | 8;
  readonly subject: string;
  readonly message: string;
}

/**
 * Checks the ledger invariants over everything a storage holds: money nets to zero, stored balances equal their
 * replay and frozen equals the open holds, available is never negative, every hold resolved once with the right
 * transfer, every open hold owned by exactly one live activation or rental (and every live one holding), and
 * every money movement and state change in the audit trail. Returns the violations (empty when all hold).
 * Idempotency (6) and "an error moves nothing" (7) are properties of calls, checked by the conformance suite.
 */
export async function checkLedgerInvariants(read: StorageReader): Promise<readonly LedgerViolation[]> {
  const [wallets, transfers, holds, activations, rentals, audit] = await Promise.all([
    read.listWallets(),
    read.listTransfers(),
    read.listHolds(),
    read.listActivations(),
    read.listRentals(),
    read.listAudit(),
  ]);
  const out: LedgerViolation[] = [];
  const fail = (invariant: LedgerViolation["invariant"], subject: string, message: string) =>
    out.push({ invariant, subject, message });

  const replay = new Map<string, number>();
  const settleTransfers = new Map<string, number[]>();
  let total = 0;
  for (const t of transfers) {
    if (!(t.amountMinor > 0) || t.debitAccountId === t.creditAccountId)
      fail(1, t.id, "transfer amount or sides invalid");
    replay.set(t.debitAccountId, (replay.get(t.debitAccountId) ?? 0) - t.amountMinor);
    replay.set(t.creditAccountId, (replay.get(t.creditAccountId) ?? 0) + t.amountMinor);
    if (t.holdId !== null)
      settleTransfers.set(t.holdId, [...(settleTransfers.get(t.holdId) ?? []), t.amountMinor]);
  }
  for (const [account, balance] of replay) {
    total += balance;
    if (!isPlatformAccountId(account) && balance < 0) fail(1, account, `customer replay ${balance} < 0`);
  }
  if (total !== 0) fail(1, "ledger", `accounts sum to ${total}, not 0`);

  const openByWallet = new Map<string, number>();
  for (const h of holds) {
    if (h.state === "open") openByWallet.set(h.walletId, (openByWallet.get(h.walletId) ?? 0) + h.amountMinor);
    const posted = settleTransfers.get(h.id) ?? [];
    const expected = h.state === "settled" ? [h.settledMinor] : [];
    if (posted.length !== expected.length || posted.some((p, i) => p !== expected[i])) {
      fail(4, h.id, `hold ${h.state} settled ${h.settledMinor} but posted [${posted.join(", ")}]`);
    }
    if (h.settledMinor < 0 || h.settledMinor > h.amountMinor)
      fail(4, h.id, `settled ${h.settledMinor} of ${h.amountMinor}`);
    if (h.state === "settled" && h.settledMinor === 0)
      fail(4, h.id, "settled with zero (should be released)");
  }
  for (const w of wallets) {
    const replayed = replay.get(w.id) ?? 0;
    const open = openByWallet.get(w.id) ?? 0;
    if (w.balanceMinor !== replayed) fail(2, w.id, `stored balance ${w.balanceMinor} ≠ replay ${replayed}`);
    if (w.frozenMinor !== open) fail(2, w.id, `stored frozen ${w.frozenMinor} ≠ open holds ${open}`);
    if (w.balanceMinor - w.frozenMinor < 0) fail(3, w.id, `available ${w.balanceMinor - w.frozenMinor} < 0`);
  }

  const holdById = new Map(holds.map((h) => [h.id, h]));
  const owners = new Map<string, "live" | "terminal">();
  for (const a of activations) {
    owners.set(a.id, isActivationTerminal(a.state) ? "terminal" : "live");
    const hold = holdById.get(a.holdId);
    if (hold === undefined) fail(5, a.id, `activation has no hold ${a.holdId}`);
    else if ((hold.state === "open") !== !isActivationTerminal(a.state)) {
      fail(5, a.id, `activation ${a.state} with hold ${hold.state}`);
    }
  }
  for (const r of rentals) {
    owners.set(r.id, isRentalTerminal(r.state) ? "terminal" : "live");
    for (const p of r.periods) {
      const hold = holdById.get(p.holdId);
      const shouldBeOpen = !isRentalTerminal(r.state) && p.state !== "failed";
      if (hold === undefined) fail(5, r.id, `rental has no hold ${p.holdId}`);
      else if ((hold.state === "open") !== shouldBeOpen)
        fail(5, r.id, `rental ${r.state}, period ${p.state}, hold ${hold.state}`);
    }
  }
  for (const h of holds) {
    if (h.state !== "open" || h.ownerType === "manual") continue;
    if (owners.get(h.ownerId) !== "live")
      fail(5, h.id, `open hold owned by ${owners.get(h.ownerId) ?? "nobody"} ${h.ownerId}`);
  }

  const audited = new Map<string, number>();
  for (const a of audit)
    audited.set(`${a.subjectType}:${a.action}`, (audited.get(`${a.subjectType}:${a.action}`) ?? 0) + 1);
  const moneyAudits = [...audited]
    .filter(([k]) => /^wallet:wallet\.(?!create)/.test(k))
    .reduce((s, [, n]) => s + n, 0);
  if (moneyAudits !== transfers.length)
    fail(8, "audit", `${transfers.length} transfers but ${moneyAudits} money audit rows`);
  const holdAudits = audited.get("hold:hold.freeze") ?? 0;
  if (holdAudits !== holds.length)
    fail(8, "audit", `${holds.length} holds but ${holdAudits} freeze audit rows`);
  const resolvedAudits = (audited.get("hold:hold.settle") ?? 0) + (audited.get("hold:hold.release") ?? 0);
  const resolved = holds.filter((h) => h.state !== "open").length;
  if (resolvedAudits !== resolved)
    fail(8, "audit", `${resolved} resolved holds but ${resolvedAudits} resolution audit rows`);
  // Every state change of an activation or rental is one audit row: as many rows as versions.
  const changes = new Map<string, number>();
  for (const a of audit) {
    if (
      (a.subjectType === "activation" || a.subjectType === "rental") &&
      a.action !== "activation.late_code"
    ) {
      changes.set(a.subjectId, (changes.get(a.subjectId) ?? 0) + 1);
    }
  }
  for (const r of [...activations, ...rentals]) {
    const rows = changes.get(r.id) ?? 0;
    if (rows !== r.version) fail(8, r.id, `version ${r.version} but ${rows} state-change audit rows`);
  }
  return out;
}
