/**
 * FES cycles through the public API on the memory adapter (deposit, then freeze → settle and freeze → release),
 * against a baseline measured in the same run: the same effects written by hand, as a careful developer would
 * without the library (async storage calls awaited, inputs checked with plain `if`s, the same counters, holds,
 * transfers, audit rows and idempotency records written). The ratio is the cost of the library's layers.
 * Also: heap retained per settled activation (run with `--expose-gc` for a stable figure).
 */
import { createFes } from "../src/index.js";
import { createMemoryStorage } from "../src/memory/index.js";
import { createFakeProvider, ManualClock } from "../src/testing/index.js";

const CYCLES = 20_000;

/** The hand-written floor: Maps behind awaited async calls, the same rows per step. */
function baseline() {
  const wallets = new Map<string, { balance: number; frozen: number; version: number }>();
  const holds = new Map<string, { walletId: string; amount: number; state: string; settled: number }>();
  const transfers: {
    id: string;
    from: string;
    to: string;
    amount: number;
    balanceAfter: number;
    at: number;
  }[] = [];
  const audit: {
    id: string;
    action: string;
    subject: string;
    before: unknown;
    after: unknown;
    key: string;
    at: number;
  }[] = [];
  const keys = new Map<string, { fingerprint: string; result: unknown }>();
  // A careful developer serializes money operations (the 139 ms race): one lock, as the memory adapter has.
  let tail: Promise<unknown> = Promise.resolve();
  const serialized = <T>(task: () => Promise<T>): Promise<T> => {
    const run = tail.then(task);
    tail = run.catch(() => undefined);
    return run;
  };
  const db = {
    getKey: async (k: string) => keys.get(k),
    putKey: async (k: string, v: { fingerprint: string; result: unknown }) => void keys.set(k, v),
    lock: async (id: string) => wallets.get(id),
    putWallet: async (id: string, w: { balance: number; frozen: number; version: number }) =>
      void wallets.set(id, w),
    getHold: async (id: string) => holds.get(id),
    putHold: async (id: string, h: { walletId: string; amount: number; state: string; settled: number }) =>
      void holds.set(id, h),
    addTransfer: async (t: (typeof transfers)[number]) => void transfers.push(t),
    addAudit: async (a: (typeof audit)[number]) => void audit.push(a),
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
  return {
    deposit: (walletId: string, amount: number, key: string, now: number) =>
      serialized(async () => {
        check(walletId, amount, key);
        const fp = `deposit:${walletId}:${amount}`;
        const seen = await replay(key, fp);
        if (seen) return seen.result;
        const w = (await db.lock(walletId)) ?? { balance: 0, frozen: 0, version: 0 };
        const next = { balance: w.balance + amount, frozen: w.frozen, version: w.version + 1 };
        await db.putWallet(walletId, next);
        await db.addTransfer({
          id: `${key}#t`,
          from: "@deposits",
          to: walletId,
          amount,
          balanceAfter: next.balance,
          at: now,
        });
        await db.addAudit({
          id: `${key}#a`,
          action: "deposit",
          subject: walletId,
          before: w.balance,
          after: next.balance,
          key,
          at: now,
        });
        const result = { balance: next.balance };
        await db.putKey(key, { fingerprint: fp, result });
        return result;
      }),
    freeze: (walletId: string, amount: number, holdId: string, key: string, now: number) =>
      serialized(async () => {
        check(walletId, amount, key);
        const fp = `freeze:${walletId}:${amount}:${holdId}`;
        const seen = await replay(key, fp);
        if (seen) return seen.result;
        const w = await db.lock(walletId);
        if (w === undefined) throw new Error("wallet not found");
        if (w.balance - w.frozen < amount) return { error: "insufficient_funds" };
        if (await db.getHold(holdId)) throw new Error("hold exists");
        await db.putWallet(walletId, {
          balance: w.balance,
          frozen: w.frozen + amount,
          version: w.version + 1,
        });
        await db.putHold(holdId, { walletId, amount, state: "open", settled: 0 });
        await db.addAudit({
          id: `${key}#a`,
          action: "freeze",
          subject: holdId,
          before: null,
          after: amount,
          key,
          at: now,
        });
        const result = { holdId };
        await db.putKey(key, { fingerprint: fp, result });
        return result;
      }),
    resolve: (holdId: string, settle: boolean, key: string, now: number) =>
      serialized(async () => {
        if (typeof holdId !== "string" || holdId.length === 0) throw new Error("hold");
        const fp = `resolve:${holdId}:${settle}`;
        const seen = await replay(key, fp);
        if (seen) return seen.result;
        const h = await db.getHold(holdId);
        if (h === undefined || h.state !== "open") return { error: "hold_not_open" };
        const w = (await db.lock(h.walletId))!;
        const balance = settle ? w.balance - h.amount : w.balance;
        await db.putWallet(h.walletId, { balance, frozen: w.frozen - h.amount, version: w.version + 1 });
        await db.putHold(holdId, {
          ...h,
          state: settle ? "settled" : "released",
          settled: settle ? h.amount : 0,
        });
        if (settle)
          await db.addTransfer({
            id: `${key}#t`,
            from: h.walletId,
            to: "@revenue",
            amount: h.amount,
            balanceAfter: balance,
            at: now,
          });
        await db.addAudit({
          id: `${key}#a`,
          action: settle ? "settle" : "release",
          subject: holdId,
          before: "open",
          after: settle,
          key,
          at: now,
        });
        const result = { holdId, settled: settle ? h.amount : 0 };
        await db.putKey(key, { fingerprint: fp, result });
        return result;
      }),
  };
}

async function runBaseline(cycles: number): Promise<number> {
  const b = baseline();
  const start = performance.now();
  for (let i = 0; i < cycles; i++) {
    const w = `w${i % 100}`;
    await b.deposit(w, 100, `d${i}`, i);
    await b.freeze(w, 60, `h${i}a`, `f${i}a`, i);
    await b.resolve(`h${i}a`, true, `s${i}`, i);
    await b.freeze(w, 30, `h${i}b`, `f${i}b`, i);
    await b.resolve(`h${i}b`, false, `r${i}`, i);
  }
  return (cycles * 1000) / (performance.now() - start);
}

async function runLibrary(cycles: number): Promise<number> {
  const clock = new ManualClock();
  const fes = createFes({
    storage: createMemoryStorage(),
    provider: createFakeProvider({ clock }).provider,
    clock,
  });
  for (let i = 0; i < 100; i++) await fes.createWallet({ walletId: `w${i}`, currency: "USD" });
  const start = performance.now();
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
  return (cycles * 1000) / (performance.now() - start);
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
      `baseline (hand-written)  ${Math.round(base).toLocaleString("en-US")} cycles/s`,
      `library (public API)     ${Math.round(lib).toLocaleString("en-US")} cycles/s`,
      `cost ratio               ${(base / lib).toFixed(2)}× the baseline (target ≤ 3×)`,
      heap === null
        ? "heap per settled activation: run with --expose-gc to measure"
        : `heap per settled activation  ${heap.toLocaleString("en-US")} bytes retained (storage rows, audit, idempotency)`,
    ],
  };
}
