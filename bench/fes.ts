/**
 * FES cycles through the public API on the memory adapter (deposit, then freeze → settle and freeze → release),
 * against a baseline measured in the same run: the same effects written by hand, as a careful developer would
 * without the library (async storage calls awaited, inputs checked with plain `if`s, the same counters, holds,
 * transfers, audit rows and idempotency records written). The ratio is the cost of the library's layers.
 * Also: heap retained per settled activation (run with `--expose-gc` for a stable figure).
 */
import {
  type AuditRecord,
  createFes,
  type HoldRecord,
  type IdempotencyRecord,
  type TransferRecord,
  type WalletRecord,
} from "../src/index.js";
import { createMemoryStorage } from "../src/memory/index.js";
import { createFakeProvider, ManualClock } from "../src/testing/index.js";

const CYCLES = 20_000;

/**
 * The hand-written floor: Maps behind awaited async calls, one lock, plain `if`s, and the same rows the library
 * writes — the same record shapes (`WalletRecord`, `TransferRecord`, `HoldRecord`, `AuditRecord`,
 * `IdempotencyRecord`), the same ids and the request's JSON as fingerprint — so the ratio measures the layers,
 * not a difference in what is stored.
 */
function baseline() {
  const wallets = new Map<string, WalletRecord>();
  const holds = new Map<string, HoldRecord>();
  const transfers: TransferRecord[] = [];
  const audit: AuditRecord[] = [];
  const keys = new Map<string, IdempotencyRecord>();
  // A careful developer serializes money operations (the 139 ms race): one lock, as the memory adapter has.
  let tail: Promise<unknown> = Promise.resolve();
  const serialized = <T>(task: () => Promise<T>): Promise<T> => {
    const run = tail.then(task);
    tail = run.catch(() => undefined);
    return run;
  };
  const db = {
    getKey: async (k: string) => keys.get(k),
    putKey: async (r: IdempotencyRecord) => void keys.set(r.key, r),
    lock: async (id: string) => wallets.get(id),
    putWallet: async (w: WalletRecord) => void wallets.set(w.id, w),
    getHold: async (id: string) => holds.get(id),
    putHold: async (h: HoldRecord) => void holds.set(h.id, h),
    addTransfer: async (t: TransferRecord) => void transfers.push({ ...t, seq: transfers.length + 1 }),
    addAudit: async (a: AuditRecord) => void audit.push(a),
  };
  const check = (walletId: string, amount: number, key: string) => {
    if (typeof walletId !== "string" || walletId.length === 0) throw new Error("wallet");
    if (!Number.isSafeInteger(amount) || amount <= 0) throw new Error("amount");
    if (typeof key !== "string" || key.length === 0 || key.length > 128) throw new Error("key");
  };
  const replay = async (key: string, fingerprint: string) => {
    const seen = await db.getKey(key);
    if (seen !== undefined && seen.fingerprint !== fingerprint) throw new Error("conflict");
    return seen;
  };
  const auditRow = (
    id: string,
    action: string,
    subjectType: AuditRecord["subjectType"],
    subjectId: string,
    before: unknown,
    after: unknown,
    key: string,
    at: number,
  ): AuditRecord => ({
    id,
    atMs: at,
    actor: "platform",
    action,
    subjectType,
    subjectId,
    before,
    after,
    idempotencyKey: key,
  });
  const transfer = (
    id: string,
    kind: TransferRecord["kind"],
    walletId: string,
    credit: boolean,
    platform: string,
    amount: number,
    balanceAfter: number,
    holdId: string | null,
    operationId: string,
    at: number,
  ): TransferRecord => ({
    id,
    seq: 0,
    kind,
    debitAccountId: credit ? platform : walletId,
    creditAccountId: credit ? walletId : platform,
    amountMinor: amount,
    currency: "USD",
    walletId,
    walletBalanceAfterMinor: balanceAfter,
    holdId,
    operationId,
    reason: null,
    createdAtMs: at,
  });
  return {
    deposit: (walletId: string, amount: number, key: string, now: number) =>
      serialized(async () => {
        check(walletId, amount, key);
        const fp = JSON.stringify({ walletId, amountMinor: amount, currency: "USD", idempotencyKey: key });
        const seen = await replay(key, fp);
        if (seen) return seen.result;
        const w = await db.lock(walletId);
        if (w === undefined) throw new Error("wallet not found");
        const next = { ...w, balanceMinor: w.balanceMinor + amount, version: w.version + 1 };
        await db.putWallet(next);
        const t = transfer(
          `idem:${key}#t0`,
          "deposit",
          walletId,
          true,
          "@deposits:USD",
          amount,
          next.balanceMinor,
          null,
          `op:${key}`,
          now,
        );
        await db.addTransfer(t);
        await db.addAudit(
          auditRow(
            `idem:${key}#a0`,
            "wallet.deposit",
            "wallet",
            walletId,
            { balanceMinor: w.balanceMinor },
            { balanceMinor: next.balanceMinor },
            key,
            now,
          ),
        );
        const result = {
          walletId,
          transferId: t.id,
          amountMinor: amount,
          balanceAfterMinor: next.balanceMinor,
        };
        await db.putKey({ key, operation: "wallet.deposit", fingerprint: fp, result, createdAtMs: now });
        return result;
      }),
    freeze: (walletId: string, amount: number, operationId: string, key: string, now: number) =>
      serialized(async () => {
        check(walletId, amount, key);
        const fp = JSON.stringify({
          walletId,
          amountMinor: amount,
          currency: "USD",
          operationId,
          idempotencyKey: key,
        });
        const seen = await replay(key, fp);
        if (seen) return seen.result;
        const w = await db.lock(walletId);
        if (w === undefined) throw new Error("wallet not found");
        if (w.balanceMinor - w.frozenMinor < amount) return { error: "insufficient_funds" };
        const holdId = `hold:manual:${operationId}`;
        if (await db.getHold(holdId)) throw new Error("hold exists");
        await db.putWallet({ ...w, frozenMinor: w.frozenMinor + amount, version: w.version + 1 });
        const hold: HoldRecord = {
          id: holdId,
          walletId,
          currency: "USD",
          amountMinor: amount,
          state: "open",
          settledMinor: 0,
          ownerType: "manual",
          ownerId: operationId,
          createdAtMs: now,
          resolvedAtMs: null,
        };
        await db.putHold(hold);
        await db.addAudit(
          auditRow(
            `idem:${key}#a0`,
            "hold.freeze",
            "hold",
            holdId,
            null,
            { amountMinor: amount, walletId },
            key,
            now,
          ),
        );
        await db.putKey({ key, operation: "wallet.freeze", fingerprint: fp, result: hold, createdAtMs: now });
        return hold;
      }),
    resolve: (holdId: string, settle: boolean, key: string, now: number) =>
      serialized(async () => {
        if (typeof holdId !== "string" || holdId.length === 0) throw new Error("hold");
        const fp = JSON.stringify({ holdId, idempotencyKey: key });
        const seen = await replay(key, fp);
        if (seen) return seen.result;
        const h = await db.getHold(holdId);
        if (h === undefined || h.state !== "open") return { error: "hold_not_open" };
        const w = (await db.lock(h.walletId))!;
        const balance = settle ? w.balanceMinor - h.amountMinor : w.balanceMinor;
        await db.putWallet({
          ...w,
          balanceMinor: balance,
          frozenMinor: w.frozenMinor - h.amountMinor,
          version: w.version + 1,
        });
        const state = settle ? "settled" : "released";
        await db.putHold({ ...h, state, settledMinor: settle ? h.amountMinor : 0, resolvedAtMs: now });
        let a = 0;
        if (settle) {
          await db.addTransfer(
            transfer(
              `idem:${key}#t0`,
              "settle",
              h.walletId,
              false,
              "@revenue:USD",
              h.amountMinor,
              balance,
              holdId,
              h.ownerId,
              now,
            ),
          );
          await db.addAudit(
            auditRow(
              `idem:${key}#a${a++}`,
              "wallet.settle",
              "wallet",
              h.walletId,
              { balanceMinor: w.balanceMinor },
              { balanceMinor: balance },
              key,
              now,
            ),
          );
        }
        await db.addAudit(
          auditRow(
            `idem:${key}#a${a}`,
            settle ? "hold.settle" : "hold.release",
            "hold",
            holdId,
            { state: "open" },
            { state, settledMinor: settle ? h.amountMinor : 0, releasedMinor: settle ? 0 : h.amountMinor },
            key,
            now,
          ),
        );
        const result = {
          holdId,
          state,
          settledMinor: settle ? h.amountMinor : 0,
          releasedMinor: settle ? 0 : h.amountMinor,
        };
        await db.putKey({
          key,
          operation: settle ? "wallet.settle" : "wallet.release",
          fingerprint: fp,
          result,
          createdAtMs: now,
        });
        return result;
      }),
    createWallet: (id: string) =>
      wallets.set(id, { id, currency: "USD", balanceMinor: 0, frozenMinor: 0, version: 1, createdAtMs: 0 }),
  };
}

async function runBaseline(cycles: number): Promise<number> {
  const b = baseline();
  for (let i = 0; i < 100; i++) b.createWallet(`w${i}`);
  const start = process.cpuUsage();
  for (let i = 0; i < cycles; i++) {
    const w = `w${i % 100}`;
    await b.deposit(w, 100, `d${i}`, i);
    await b.freeze(w, 60, `${i}a`, `f${i}a`, i);
    await b.resolve(`hold:manual:${i}a`, true, `s${i}`, i);
    await b.freeze(w, 30, `${i}b`, `f${i}b`, i);
    await b.resolve(`hold:manual:${i}b`, false, `r${i}`, i);
  }
  return perCpuSecond(cycles, start);
}

/** Cycles per second of this process's CPU time (user + system): steadier than wall time on a shared machine. */
function perCpuSecond(cycles: number, start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (cycles * 1e6) / (used.user + used.system);
}

async function runLibrary(cycles: number): Promise<number> {
  const clock = new ManualClock();
  const fes = createFes({
    storage: createMemoryStorage(),
    provider: createFakeProvider({ clock }).provider,
    clock,
  });
  for (let i = 0; i < 100; i++) await fes.createWallet({ walletId: `w${i}`, currency: "USD" });
  const start = process.cpuUsage();
  for (let i = 0; i < cycles; i++) {
    const walletId = `w${i % 100}`;
    await fes.deposit({ walletId, amountMinor: 100, currency: "USD", idempotencyKey: `d${i}` });
    const a = await fes.freeze({
      walletId,
      amountMinor: 60,
      currency: "USD",
      operationId: `${i}a`,
      idempotencyKey: `f${i}a`,
    });
    await fes.settle({ holdId: a._unsafeUnwrap().id, idempotencyKey: `s${i}` });
    const b = await fes.freeze({
      walletId,
      amountMinor: 30,
      currency: "USD",
      operationId: `${i}b`,
      idempotencyKey: `f${i}b`,
    });
    await fes.release({ holdId: b._unsafeUnwrap().id, idempotencyKey: `r${i}` });
  }
  return perCpuSecond(cycles, start);
}

/** Heap retained per activation bought and settled by a code, on the memory adapter. */
async function heapPerSettledActivation(count: number): Promise<number | null> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) return null;
  const clock = new ManualClock();
  const fake = createFakeProvider({ clock, balance: "100000000" });
  await fake.control.setStock("tg", "6", { price: "0.10", count: count + 1 });
  const fes = createFes({ storage: createMemoryStorage(), provider: fake.provider, clock });
  await fes.createWallet({ walletId: "w", currency: "USD" });
  await fes.deposit({ walletId: "w", amountMinor: 100 * count, currency: "USD", idempotencyKey: "d" });
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < count; i++) {
    const a = (
      await fes.buyActivation({ walletId: "w", service: "tg", country: "6", idempotencyKey: `b${i}` })
    )._unsafeUnwrap();
    await fes.onCode({ activationId: a.id, code: String(i) });
  }
  gc();
  const after = process.memoryUsage().heapUsed;
  // The fake provider keeps its own record of each activation: measure it alone and subtract it.
  const upstream = createFakeProvider({ clock, balance: "100000000" });
  await upstream.control.setStock("tg", "6", { price: "0.10", count: count + 1 });
  gc();
  const u0 = process.memoryUsage().heapUsed;
  for (let i = 0; i < count; i++)
    await upstream.provider.buyActivation({ service: "tg", country: "6", orderId: `o${i}` });
  gc();
  const upstreamBytes = process.memoryUsage().heapUsed - u0;
  return Math.round((after - before - upstreamBytes) / count);
}

export default async function run(): Promise<{ title: string; lines: string[] }> {
  // Warm up both, then alternate and keep the best of three rounds each.
  await runBaseline(2_000);
  await runLibrary(2_000);
  let base = 0;
  let lib = 0;
  for (let round = 0; round < 3; round++) {
    base = Math.max(base, await runBaseline(CYCLES));
    lib = Math.max(lib, await runLibrary(CYCLES));
  }
  const heap = await heapPerSettledActivation(5_000);
  return {
    title: "FES cycles on the memory adapter (deposit + freeze→settle + freeze→release)",
    lines: [
      `baseline (hand-written)  ${Math.round(base).toLocaleString("en-US")} cycles per CPU-second`,
      `library (public API)     ${Math.round(lib).toLocaleString("en-US")} cycles per CPU-second`,
      `cost ratio               ${(base / lib).toFixed(2)}× the baseline (target ≤ 3×)`,
      heap === null
        ? "heap per settled activation: run with --expose-gc to measure"
        : `heap per settled activation  ${heap.toLocaleString("en-US")} bytes retained (storage rows, audit, idempotency)`,
    ],
  };
}
