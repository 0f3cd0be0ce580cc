import { isActivationTerminal } from "../../src/activation/machine.js";
import type { ActivationRecord, HoldRecord, RentalRecord } from "../../src/core/records.js";
import { isPlatformAccountId } from "../../src/core/records.js";
import { isRentalTerminal } from "../../src/rental/machine.js";
import type { CommitPlan, StorageReader } from "../../src/storage/port.js";

/** A broken oracle: what moved, where. */
export interface Violation {
  readonly oracle: string;
  readonly subject: string;
  readonly message: string;
  readonly atMs: number;
}

interface ModelHold {
  readonly walletId: string;
  readonly amountMinor: number;
  state: HoldRecord["state"];
  settledMinor: number;
  readonly ownerType: HoldRecord["ownerType"];
  readonly ownerId: string;
}

/**
 * The reference model, advanced in commit order from the commit plans alone: balances are the replay of the
 * transfers (in exact integers), frozen is the sum of the open holds, each hold resolves once, each idempotency key
 * and provider id is taken once. After every commit it is compared with what the store holds for the wallets and
 * records that commit touched — the per-step oracle, O(size of the step).
 */
export class ReferenceModel {
  readonly balances = new Map<string, bigint>();
  readonly holds = new Map<string, ModelHold>();
  private readonly openByWallet = new Map<string, number>();
  private readonly holdsByOwner = new Map<string, string[]>();
  private readonly keys = new Set<string>();
  private readonly transferIds = new Set<string>();
  private readonly providerIds = new Map<string, string>();
  readonly activations = new Map<string, ActivationRecord>();
  readonly rentals = new Map<string, RentalRecord>();
  commits = 0;
  /** Open holds and non-terminal records, kept in step: quiescence is checked in O(1). */
  private openHoldCount = 0;
  private readonly live = new Set<string>();
  readonly violations: Violation[] = [];

  constructor(
    private readonly read: StorageReader,
    private readonly now: () => number,
  ) {}

  private fail(oracle: string, subject: string, message: string): void {
    if (this.violations.length < 100) this.violations.push({ oracle, subject, message, atMs: this.now() });
  }

  private move(account: string, delta: bigint): void {
    this.balances.set(account, (this.balances.get(account) ?? 0n) + delta);
  }

  /** Advances the model by one committed unit of work and checks the store against it on what it touched. */
  async committed(plans: readonly CommitPlan[]): Promise<void> {
    this.commits++;
    const wallets = new Set<string>();
    const owners = new Set<string>();
    for (const plan of plans) {
      for (const w of plan.createWallets ?? []) {
        if (this.balances.has(w.id)) this.fail("model", w.id, "wallet created twice");
        this.balances.set(w.id, 0n);
        wallets.add(w.id);
      }
      for (const t of plan.transfers ?? []) {
        if (this.transferIds.has(t.id)) this.fail("model", t.id, "transfer id reused");
        this.transferIds.add(t.id);
        if (!(t.amountMinor > 0) || !Number.isSafeInteger(t.amountMinor))
          this.fail("conservation", t.id, `transfer amount ${t.amountMinor}`);
        this.move(t.debitAccountId, -BigInt(t.amountMinor));
        this.move(t.creditAccountId, BigInt(t.amountMinor));
        for (const a of [t.debitAccountId, t.creditAccountId]) if (!isPlatformAccountId(a)) wallets.add(a);
      }
      for (const h of plan.openHolds ?? []) {
        if (this.holds.has(h.id)) this.fail("hold-once", h.id, "hold opened twice");
        this.holds.set(h.id, { ...h });
        this.openHoldCount++;
        this.openByWallet.set(h.walletId, (this.openByWallet.get(h.walletId) ?? 0) + h.amountMinor);
        const list = this.holdsByOwner.get(h.ownerId);
        if (list === undefined) this.holdsByOwner.set(h.ownerId, [h.id]);
        else list.push(h.id);
        wallets.add(h.walletId);
      }
      for (const r of plan.resolveHolds ?? []) {
        const h = this.holds.get(r.holdId);
        if (h === undefined || h.state !== "open") {
          this.fail("hold-once", r.holdId, `resolved while ${h?.state ?? "missing"}`);
          continue;
        }
        h.state = r.state;
        this.openHoldCount--;
        h.settledMinor = r.settledMinor;
        this.openByWallet.set(h.walletId, (this.openByWallet.get(h.walletId) ?? 0) - h.amountMinor);
        wallets.add(h.walletId);
      }
      if (plan.idempotency !== undefined) {
        if (this.keys.has(plan.idempotency.key))
          this.fail("idempotency", plan.idempotency.key, "key stored twice");
        this.keys.add(plan.idempotency.key);
      }
      for (const { record } of plan.activations ?? []) {
        this.activations.set(record.id, record);
        if (isActivationTerminal(record.state)) this.live.delete(record.id);
        else this.live.add(record.id);
        owners.add(record.id);
        this.own(
          `a:${record.provider}:${record.providerActivationId}`,
          record.id,
          record.providerActivationId,
        );
      }
      for (const { record } of plan.rentals ?? []) {
        this.rentals.set(record.id, record);
        if (isRentalTerminal(record.state)) this.live.delete(record.id);
        else this.live.add(record.id);
        owners.add(record.id);
        this.own(`r:${record.provider}:${record.providerRentalId}`, record.id, record.providerRentalId);
      }
    }
    for (const id of wallets) await this.checkWallet(id);
    for (const id of owners) this.checkOwner(id);
  }

  private own(key: string, recordId: string, providerId: string | null): void {
    if (providerId === null) return;
    const owner = this.providerIds.get(key);
    if (owner === undefined) this.providerIds.set(key, recordId);
    else if (owner !== recordId) this.fail("provider-id-once", key, `owned by ${owner} and ${recordId}`);
  }

  /** Stored balance = replay, stored frozen = open holds, available ≥ 0, for one wallet. */
  async checkWallet(id: string): Promise<void> {
    const w = await this.read.getWallet(id);
    if (w === undefined) return this.fail("model", id, "wallet missing from the store");
    const replay = this.balances.get(id) ?? 0n;
    const open = this.openByWallet.get(id) ?? 0;
    if (BigInt(w.balanceMinor) !== replay)
      this.fail("ledger", id, `stored ${w.balanceMinor} ≠ replay ${replay}`);
    if (w.frozenMinor !== open) this.fail("ledger", id, `frozen ${w.frozenMinor} ≠ open holds ${open}`);
    if (w.balanceMinor - w.frozenMinor < 0)
      this.fail("ledger", id, `available ${w.balanceMinor - w.frozenMinor}`);
  }

  /** A terminal record holds nothing; a live one holds its money (each paid or pending period). */
  private checkOwner(id: string): void {
    const a = this.activations.get(id);
    const r = a === undefined ? this.rentals.get(id) : undefined;
    const holdIds = this.holdsByOwner.get(id) ?? [];
    const open = holdIds.filter((h) => this.holds.get(h)?.state === "open");
    if (a !== undefined) {
      if (isActivationTerminal(a.state) && open.length > 0)
        this.fail("holds", id, `${a.state} with an open hold`);
      if (!isActivationTerminal(a.state) && open.length !== 1)
        this.fail("holds", id, `${a.state} with ${open.length} open holds`);
    } else if (r !== undefined) {
      if (isRentalTerminal(r.state) && open.length > 0) this.fail("holds", id, `${r.state} with open holds`);
      if (!isRentalTerminal(r.state)) {
        for (const p of r.periods) {
          const isOpen = this.holds.get(p.holdId)?.state === "open";
          if (isOpen !== (p.state !== "failed"))
            this.fail(
              "holds",
              id,
              `${r.state} period ${p.state} with hold ${this.holds.get(p.holdId)?.state}`,
            );
        }
      }
    }
  }

  /** Nothing open, nothing pending or running. */
  isQuiescent(): boolean {
    return this.openHoldCount === 0 && this.live.size === 0;
  }

  /** What keeps the world from rest, briefly. */
  describeLive(): string {
    const sample = [...this.live].slice(0, 5).map((id) => {
      const r = this.activations.get(id) ?? this.rentals.get(id);
      return `${id} ${r?.state}`;
    });
    return `${this.openHoldCount} open hold(s), ${this.live.size} live record(s): ${sample.join(", ")}`;
  }

  /** Settled money per owner (activation or rental id). */
  settledBy(ownerId: string): number {
    let s = 0;
    for (const h of this.holdsByOwner.get(ownerId) ?? []) s += this.holds.get(h)?.settledMinor ?? 0;
    return s;
  }

  /** Open holds left. */
  openHolds(): string[] {
    return [...this.holds].filter(([, h]) => h.state === "open").map(([id]) => id);
  }

  /** Compares every wallet and hold of the store with the model (at quiescence). */
  async compareAll(): Promise<void> {
    for (const w of await this.read.listWallets()) await this.checkWallet(w.id);
    for (const h of await this.read.listHolds()) {
      const m = this.holds.get(h.id);
      if (m === undefined || m.state !== h.state || m.settledMinor !== h.settledMinor)
        this.fail("model", h.id, `store ${h.state}/${h.settledMinor}, model ${m?.state}/${m?.settledMinor}`);
    }
    // Conservation in exact integers: the stored customer balances plus the platform accounts' replay.
    let total = 0n;
    for (const [account, b] of this.balances) if (isPlatformAccountId(account)) total += b;
    for (const w of await this.read.listWallets()) total += BigInt(w.balanceMinor);
    if (total !== 0n) this.fail("conservation", "ledger", `Σ stored balances + platform accounts = ${total}`);
  }

  /** Reports a violation found outside the model (the quiescence oracles, a throw). */
  report(oracle: string, subject: string, message: string): void {
    this.fail(oracle, subject, message);
  }
}
