import * as fc from "fast-check";
import { err, ok, type Result } from "neverthrow";
import { describe, expect, it } from "vitest";
import { errors } from "../core/errors.js";
import type { ActivationRecord, HoldRecord, TransferRecord, WalletRecord } from "../core/records.js";
import { scopedIdempotencyKey } from "../fes/keys.js";
import { createFes, type Fes } from "../fes/service.js";
import { runUnit } from "../fes/unit-of-work.js";
import { computeHealthStats } from "../health/stats.js";
import { createRefundPolicy } from "../policy/refund.js";
import type { Provider } from "../provider/port.js";
import { iterateList } from "../storage/paging.js";
import {
  type CommitPlan,
  isStorageConflictError,
  type Storage,
  StorageConflictError,
} from "../storage/port.js";
import { checkLedgerInvariants } from "../wallet/invariants.js";
import { createFakeProvider } from "./fake-provider.js";
import { recordFixtures } from "./fixtures.js";
import { ManualClock } from "./manual-clock.js";
import { assertInsideVitest } from "./vitest-runner.js";

/** Options of the storage conformance suite. */
export interface StorageConformanceOptions {
  /** Name shown in the test report. */
  readonly name: string;
  /** Makes a fresh, empty storage for one test (or one property run). */
  readonly createStorage: () => Storage | Promise<Storage>;
  /** Releases a storage made by `createStorage`, if needed. */
  readonly disposeStorage?: (storage: Storage) => void | Promise<void>;
  /** Runs of the model-based property (default 100). */
  readonly runs?: number;
  /** Longest command sequence per run (default 25). */
  readonly maxCommands?: number;
  /** Seed of the property run, for reproduction. */
  readonly seed?: number;
}

/** One named check of the suite; {@link describeStorageConformance} registers each as a test. */
export interface ConformanceCheck {
  readonly name: string;
  /** Runs the check; rejects when the adapter fails it. */
  readonly run: () => Promise<void>;
}

const T0 = Date.UTC(2026, 0, 1);

const wallet = (id: string, balanceMinor = 0, frozenMinor = 0): WalletRecord =>
  recordFixtures.wallet(id, { balanceMinor, frozenMinor, createdAtMs: T0 });

const transfer = (id: string, walletId: string, amountMinor: number, balanceAfter: number): TransferRecord =>
  recordFixtures.deposit(id, walletId, amountMinor, {
    walletBalanceAfterMinor: balanceAfter,
    operationId: id,
    createdAtMs: T0,
  });

const hold = (id: string, walletId: string, amountMinor: number): HoldRecord =>
  recordFixtures.hold(id, walletId, amountMinor, { createdAtMs: T0 });

const activation = (id: string, overrides: Partial<ActivationRecord> = {}): ActivationRecord =>
  recordFixtures.activation(id, { createdAtMs: T0, ...overrides });

/** Applies a plan in its own unit of work. */
const applyPlan = (storage: Storage, plan: CommitPlan) => storage.transaction((tx) => tx.apply(plan));

/** Expects a promise to reject with a {@link StorageConflictError}. */
async function expectConflict(promise: Promise<unknown>): Promise<void> {
  const e = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  // By the brand, not the class: an adapter may be built against another copy of the package.
  expect(isStorageConflictError(e), `expected a StorageConflictError, got ${String(e)}`).toBe(true);
}

/**
 * The checks every storage adapter must pass, as plain functions (so a test can also assert that a broken
 * adapter fails them). Each makes its own fresh storage.
 */
export function storageConformanceChecks(options: StorageConformanceOptions): readonly ConformanceCheck[] {
  const withStorage = async (body: (storage: Storage) => Promise<void>) => {
    const storage = await options.createStorage();
    try {
      await body(storage);
    } finally {
      await options.disposeStorage?.(storage);
    }
  };
  const check = (name: string, body: (storage: Storage) => Promise<void>): ConformanceCheck => ({
    name,
    run: () => withStorage(body),
  });

  return [
    check("load locks the existing wallets in byte order of their ids and skips the missing", async (s) => {
      await applyPlan(s, { createWallets: [wallet("b"), wallet("a"), wallet("B"), wallet("é")] });
      const loaded = await s.transaction((tx) =>
        tx.load({ walletIds: ["é", "b", "missing", "a", "B", "a", "@revenue:USD"] }),
      );
      expect(loaded.wallets.map((w) => w.id)).toEqual(["B", "a", "b", "é"]);
      expect(loaded).toMatchObject({
        idempotency: undefined,
        activation: undefined,
        rental: undefined,
        holds: [],
      });
    }),

    check(
      "load reads the idempotency record, the activation or rental with the holds it owns, and holds by id",
      async (s) => {
        await applyPlan(s, {
          createWallets: [wallet("w1", 0, 0)],
          walletDeltas: [{ walletId: "w1", balanceDeltaMinor: 200, frozenDeltaMinor: 110 }],
          transfers: [transfer("t1", "w1", 200, 200)],
          openHolds: [
            { ...hold("hold:a1", "w1", 50), ownerType: "activation", ownerId: "a1" },
            { ...hold("m1", "w1", 60) },
          ],
          activations: [{ record: activation("a1"), expectedVersion: null }],
          idempotency: { key: "k", operation: "op", fingerprint: "f", result: { ok: true }, createdAtMs: T0 },
        });
        const loaded = await s.transaction((tx) =>
          tx.load({ walletIds: ["w1"], idempotencyKey: "k", activationId: "a1", holdIds: ["m1", "nope"] }),
        );
        expect(loaded.wallets.map((w) => [w.id, w.balanceMinor, w.frozenMinor])).toEqual([["w1", 200, 110]]);
        expect(loaded.idempotency?.result).toEqual({ ok: true });
        expect(loaded.activation?.id).toBe("a1");
        expect(loaded.holds.map((h) => h.id)).toEqual(["hold:a1", "m1"]);
        // The money posted for an operation: settled to revenue and reversed back, on the requested wallets.
        await applyPlan(s, {
          walletDeltas: [{ walletId: "w1", balanceDeltaMinor: -30, frozenDeltaMinor: 0 }],
          transfers: [
            {
              ...transfer("s1", "w1", 50, 150),
              kind: "settle",
              debitAccountId: "w1",
              creditAccountId: "@revenue:USD",
              operationId: "op-9",
            },
            {
              ...transfer("r1", "w1", 20, 170),
              kind: "reversal",
              debitAccountId: "@revenue:USD",
              creditAccountId: "w1",
              operationId: "op-9",
            },
          ],
        });
        const sums = await s.transaction((tx) => tx.load({ walletIds: ["w1"], operationId: "op-9" }));
        expect(sums.operation).toEqual({ settledMinor: 50, reversedMinor: 20 });
        const none = await s.transaction((tx) => tx.load({ walletIds: ["w1"], operationId: "op-0" }));
        expect(none.operation).toEqual({ settledMinor: 0, reversedMinor: 0 });
        // A load after an apply in the same unit of work sees the applied writes.
        const after = await s.transaction(async (tx) => {
          await tx.load({ walletIds: ["w1"] });
          await tx.apply({
            walletDeltas: [{ walletId: "w1", balanceDeltaMinor: 1, frozenDeltaMinor: 0 }],
            transfers: [transfer("t2", "w1", 1, 201)],
          });
          return tx.load({ walletIds: ["w1"] });
        });
        expect(after.wallets[0]?.balanceMinor).toBe(171);
      },
    ),

    check("a wallet id is unique", async (s) => {
      await applyPlan(s, { createWallets: [wallet("w1")] });
      await expectConflict(applyPlan(s, { createWallets: [wallet("w1")] }));
      expect((await s.read.listWallets()).length).toBe(1);
    }),

    check(
      "wallet deltas bump the version and a negative available is refused with nothing written",
      async (s) => {
        await applyPlan(s, {
          createWallets: [wallet("w1")],
          walletDeltas: [{ walletId: "w1", balanceDeltaMinor: 100, frozenDeltaMinor: 0 }],
          transfers: [transfer("t1", "w1", 100, 100)],
        });
        expect(await s.read.getWallet("w1")).toMatchObject({ balanceMinor: 100, frozenMinor: 0, version: 2 });
        await expectConflict(
          applyPlan(s, {
            transfers: [transfer("t2", "w1", 5, 105)],
            walletDeltas: [{ walletId: "w1", balanceDeltaMinor: 0, frozenDeltaMinor: 101 }],
          }),
        );
        expect(await s.read.getWallet("w1")).toMatchObject({ balanceMinor: 100, frozenMinor: 0, version: 2 });
        expect((await s.read.listTransfers()).map((t) => t.id)).toEqual(["t1"]);
        await expectConflict(
          applyPlan(s, { walletDeltas: [{ walletId: "nope", balanceDeltaMinor: 1, frozenDeltaMinor: 0 }] }),
        );
      },
    ),

    check("transfers get increasing seq and page by account", async (s) => {
      await applyPlan(s, { createWallets: [wallet("w1"), wallet("w2")] });
      for (let i = 1; i <= 5; i++) {
        const w = i % 2 === 0 ? "w2" : "w1";
        await applyPlan(s, {
          walletDeltas: [{ walletId: w, balanceDeltaMinor: i, frozenDeltaMinor: 0 }],
          transfers: [transfer(`t${i}`, w, i, i)],
        });
      }
      const all = await s.read.listTransfers();
      expect(all.map((t) => t.id)).toEqual(["t1", "t2", "t3", "t4", "t5"]);
      for (let i = 1; i < all.length; i++) expect(all[i]!.seq).toBeGreaterThan(all[i - 1]!.seq);
      const w1 = await s.read.listTransfers({ accountId: "w1" });
      expect(w1.map((t) => t.id)).toEqual(["t1", "t3", "t5"]);
      const page = await s.read.listTransfers({ accountId: "w1", afterSeq: w1[0]!.seq, limit: 1 });
      expect(page.map((t) => t.id)).toEqual(["t3"]);
      await expectConflict(
        applyPlan(s, {
          walletDeltas: [{ walletId: "w1", balanceDeltaMinor: 1, frozenDeltaMinor: 0 }],
          transfers: [transfer("t1", "w1", 1, 10)],
        }),
      );
    }),

    check("a hold resolves exactly once (conditional on being open)", async (s) => {
      await applyPlan(s, {
        createWallets: [wallet("w1")],
        walletDeltas: [{ walletId: "w1", balanceDeltaMinor: 100, frozenDeltaMinor: 40 }],
        transfers: [transfer("t1", "w1", 100, 100)],
        openHolds: [hold("h1", "w1", 40)],
      });
      await expectConflict(applyPlan(s, { openHolds: [hold("h1", "w1", 40)] }));
      const resolution = { holdId: "h1", state: "released" as const, settledMinor: 0, resolvedAtMs: T0 + 1 };
      await applyPlan(s, {
        resolveHolds: [resolution],
        walletDeltas: [{ walletId: "w1", balanceDeltaMinor: 0, frozenDeltaMinor: -40 }],
      });
      expect(await s.read.getHold("h1")).toMatchObject({ state: "released", resolvedAtMs: T0 + 1 });
      await expectConflict(
        applyPlan(s, { resolveHolds: [{ ...resolution, state: "settled", settledMinor: 40 }] }),
      );
      expect(await s.read.getHold("h1")).toMatchObject({ state: "released", settledMinor: 0 });
      expect(await s.read.listHolds({ state: "open" })).toEqual([]);
    }),

    check("activations insert once and update only at the expected version", async (s) => {
      await applyPlan(s, {
        createWallets: [wallet("w1")],
        activations: [{ record: activation("a1"), expectedVersion: null }],
      });
      await expectConflict(
        applyPlan(s, { activations: [{ record: activation("a1"), expectedVersion: null }] }),
      );
      const issued = activation("a1", {
        state: "waiting",
        providerActivationId: "9007199254740993",
        deadlineAtMs: T0 + 1000,
      });
      await applyPlan(s, { activations: [{ record: issued, expectedVersion: 1 }] });
      expect(await s.read.getActivation("a1")).toMatchObject({ state: "waiting", version: 2 });
      await expectConflict(
        applyPlan(s, { activations: [{ record: { ...issued, state: "cancelled" }, expectedVersion: 1 }] }),
      );
      expect((await s.read.getActivation("a1"))?.state).toBe("waiting");
      expect((await s.read.findActivationByProviderId("fake", "9007199254740993"))?.id).toBe("a1");
      expect(await s.read.findActivationByProviderId("fake", "9007199254740992")).toBeUndefined();
      expect(await s.read.getActivation("missing")).toBeUndefined();
    }),

    check("an idempotency key is unique and its result round-trips as JSON", async (s) => {
      const record = {
        key: "k1",
        operation: "op",
        fingerprint: "{}",
        result: { id: "x", n: 12, list: ["a"] },
        createdAtMs: T0,
      };
      await applyPlan(s, { idempotency: record });
      expect(await s.read.getIdempotency("k1")).toEqual(record);
      await expectConflict(applyPlan(s, { idempotency: { ...record, fingerprint: "other" } }));
      expect((await s.read.getIdempotency("k1"))?.fingerprint).toBe("{}");
    }),

    check("a unit of work that throws after apply leaves nothing behind", async (s) => {
      await applyPlan(s, { createWallets: [wallet("w1")] });
      const boom = new Error("boom");
      const thrown = await s
        .transaction(async (tx) => {
          await tx.apply({
            walletDeltas: [{ walletId: "w1", balanceDeltaMinor: 10, frozenDeltaMinor: 0 }],
            transfers: [transfer("t1", "w1", 10, 10)],
            idempotency: { key: "k", operation: "op", fingerprint: "f", result: null, createdAtMs: T0 },
          });
          throw boom;
        })
        .catch((e: unknown) => e);
      expect(thrown).toBe(boom);
      expect(await s.read.getWallet("w1")).toMatchObject({ balanceMinor: 0, version: 1 });
      expect(await s.read.listTransfers()).toEqual([]);
      expect(await s.read.getIdempotency("k")).toBeUndefined();
    }),

    check(
      "text a database cannot store (NUL, a lone surrogate) is refused whole, not as a conflict",
      async (s) => {
        await applyPlan(s, { createWallets: [wallet("w1")] });
        const unstorable = ["nul\u0000", "lone \ud800 high", "lone \udc00 low"];
        const plans: CommitPlan[] = unstorable.flatMap((text) => [
          { activations: [{ record: activation("a1", { serviceCode: text }), expectedVersion: null }] },
          {
            audit: [
              {
                id: "au1",
                atMs: T0,
                actor: "system",
                subjectType: "wallet",
                subjectId: "w1",
                action: "note",
                before: null,
                after: { reason: text },
                idempotencyKey: null,
              },
            ],
          },
          { idempotency: { key: "k", operation: "op", fingerprint: "f", result: { text }, createdAtMs: T0 } },
        ]);
        for (const plan of plans) {
          const e = await applyPlan(s, {
            ...plan,
            walletDeltas: [{ walletId: "w1", balanceDeltaMinor: 10, frozenDeltaMinor: 0 }],
            transfers: [transfer("t1", "w1", 10, 10)],
          }).then(
            () => undefined,
            (error: unknown) => error,
          );
          expect(e, "expected the plan to be refused").toBeInstanceOf(Error);
          expect(e).not.toBeInstanceOf(StorageConflictError);
        }
        expect(await s.read.getWallet("w1")).toMatchObject({ balanceMinor: 0, version: 1 });
        expect(await s.read.listTransfers()).toEqual([]);
        expect(await s.read.listAudit()).toEqual([]);
        expect(await s.read.getIdempotency("k")).toBeUndefined();
        // Astral characters (a valid surrogate pair) and other text are stored unchanged.
        const fine = "emoji 😀 é \\ ' \"";
        await applyPlan(s, {
          activations: [{ record: activation("a2", { serviceCode: fine }), expectedVersion: null }],
        });
        expect((await s.read.getActivation("a2"))?.serviceCode).toBe(fine);
      },
    ),

    check("customer text a database cannot store is invalid_input, with nothing written", async (s) => {
      const { fes } = await service(s);
      const before = await s.read.getWallet("w1");
      for (const text of ["a\u0000b", "\ud83d", "x\ude00y"]) {
        const results = [
          await fes.deposit({
            walletId: "w1",
            amountMinor: 5,
            currency: "USD",
            idempotencyKey: "d",
            reason: text,
          }),
          await fes.adjust({
            walletId: "w1",
            amountMinor: 5,
            currency: "USD",
            idempotencyKey: "j",
            reason: text,
          }),
          await fes.deposit({
            walletId: "w1",
            amountMinor: 5,
            currency: "USD",
            idempotencyKey: "e",
            actor: text,
          }),
          await fes.buyActivation({ walletId: "w1", service: text, country: "6", idempotencyKey: "b" }),
          await fes.buyActivation({ walletId: "w1", service: "tg", country: text, idempotencyKey: "c" }),
          await fes.settle({ holdId: text, idempotencyKey: "s" }),
          await fes.onCode({ activationId: "a", code: text }),
          await fes.onCode({ providerActivationId: text, code: "1234" }),
          await fes.cancelActivation({ activationId: text }),
          await fes.cancelRental({ rentalId: text }),
        ];
        for (const r of results) expect(r._unsafeUnwrapErr()).toMatchObject({ type: "invalid_input" });
      }
      expect(await s.read.getWallet("w1")).toEqual(before);
      expect(await s.read.listTransfers()).toEqual([]);
    }),

    check(
      "a row the schema's constraints refuse is refused as an error (not a conflict), with nothing written",
      async (s) => {
        await applyPlan(s, {
          createWallets: [wallet("w1", 100, 0)],
          transfers: [transfer("t0", "w1", 100, 100)],
        });
        const held = { ...hold("hold:a1", "w1", 10), ownerType: "activation" as const, ownerId: "a1" };
        // Each plan breaks exactly one constraint a PostgreSQL schema keeps and no guard of `apply` names.
        const refused: Record<string, CommitPlan> = {
          "a wallet id naming a platform account": { createWallets: [wallet("@w2")] },
          "a fractional balance": { createWallets: [wallet("w2", 1.5)] },
          "a balance past the safe-integer range": {
            walletDeltas: [
              { walletId: "w1", balanceDeltaMinor: Number.MAX_SAFE_INTEGER, frozenDeltaMinor: 0 },
            ],
          },
          "a transfer of an unknown kind": {
            transfers: [{ ...transfer("t1", "w1", 1, 100), kind: "gift" as never }],
          },
          "a transfer whose wallet is on neither side": {
            transfers: [{ ...transfer("t1", "w1", 1, 100), walletId: "w9" }],
          },
          "a hold owned by an unknown kind of record": {
            openHolds: [{ ...held, ownerType: "order" as never }],
          },
          "an open hold with a resolution time": { openHolds: [{ ...held, resolvedAtMs: T0 }] },
          "an activation in an unknown state": {
            activations: [{ record: activation("a1", { state: "sold" as never }), expectedVersion: null }],
          },
          "an activation with a negative price": {
            activations: [{ record: activation("a1", { priceMinor: -1 }), expectedVersion: null }],
          },
          "an experiment without an arm": {
            activations: [
              {
                record: activation("a1", { experimentId: "wait", experimentArm: null }),
                expectedVersion: null,
              },
            ],
          },
          "a rental in an unknown state": {
            rentals: [
              { record: recordFixtures.rental("r1", { state: "paused" as never }), expectedVersion: null },
            ],
          },
          "an audit row about an unknown kind of subject": {
            audit: [
              {
                id: "u1",
                atMs: T0,
                actor: "t",
                action: "x",
                subjectType: "order" as never,
                subjectId: "o",
                before: null,
                after: null,
                idempotencyKey: null,
              },
            ],
          },
        };
        for (const [what, plan] of Object.entries(refused)) {
          const e = await applyPlan(s, {
            ...plan,
            idempotency: { key: "k", operation: "op", fingerprint: "f", result: null, createdAtMs: T0 },
          }).then(
            () => undefined,
            (error: unknown) => error,
          );
          expect(e, `${what}: refused`).toBeDefined();
          expect(isStorageConflictError(e), `${what}: not a conflict (a rerun cannot fix it)`).toBe(false);
        }
        expect(await s.read.getWallet("w2")).toBeUndefined();
        expect(await s.read.getWallet("@w2")).toBeUndefined();
        expect((await s.read.listTransfers()).map((t) => t.id)).toEqual(["t0"]);
        expect(await s.read.getActivation("a1")).toBeUndefined();
        expect(await s.read.getRental("r1")).toBeUndefined();
        expect(await s.read.getIdempotency("k")).toBeUndefined();
      },
    ),

    check("an Err returned by the work rolls back exactly like a throw", async (s) => {
      await applyPlan(s, { createWallets: [wallet("w1")] });
      const result = await runUnit(s, async (tx) => {
        await tx.apply({
          walletDeltas: [{ walletId: "w1", balanceDeltaMinor: 10, frozenDeltaMinor: 0 }],
          transfers: [transfer("t1", "w1", 10, 10)],
        });
        return err({ type: "nope" as const });
      });
      expect(result._unsafeUnwrapErr()).toEqual({ type: "nope" });
      expect(await s.read.getWallet("w1")).toMatchObject({ balanceMinor: 0 });
      expect(await s.read.listTransfers()).toEqual([]);
      const committed = await runUnit(s, async (tx) => {
        await tx.apply({
          walletDeltas: [{ walletId: "w1", balanceDeltaMinor: 10, frozenDeltaMinor: 0 }],
          transfers: [transfer("t1", "w1", 10, 10)],
        });
        return ok(1);
      });
      expect(committed._unsafeUnwrap()).toBe(1);
      expect(await s.read.getWallet("w1")).toMatchObject({ balanceMinor: 10 });
    }),

    check("listDue finds what the sweeper needs and nothing else", async (s) => {
      await applyPlan(s, {
        createWallets: [wallet("w1")],
        activations: [
          {
            record: activation("due", {
              state: "waiting",
              deadlineAtMs: T0 + 100,
              providerActivationId: "1",
            }),
            expectedVersion: null,
          },
          {
            record: activation("later", {
              state: "waiting",
              deadlineAtMs: T0 + 101,
              providerActivationId: "2",
            }),
            expectedVersion: null,
          },
          { record: activation("stuck", { createdAtMs: T0 - 1000 }), expectedVersion: null },
          { record: activation("fresh", { createdAtMs: T0 }), expectedVersion: null },
          {
            record: activation("done", { state: "received", deadlineAtMs: T0, providerActivationId: "3" }),
            expectedVersion: null,
          },
        ],
      });
      const due = await s.read.listDue({ nowMs: T0 + 100, pendingBeforeMs: T0 - 1, limit: 10 });
      expect(due.activationsPastDeadline.map((a) => a.id)).toEqual(["due"]);
      expect(due.pendingActivations.map((a) => a.id)).toEqual(["stuck"]);
      expect(due.rentalsPastEnd).toEqual([]);
    }),

    check("the audit trail is append-only and filterable by subject", async (s) => {
      const row = (id: string, subjectId: string) => ({
        id,
        atMs: T0,
        actor: "test",
        action: "wallet.create",
        subjectType: "wallet" as const,
        subjectId,
        before: null,
        after: { x: 1 },
        idempotencyKey: null,
      });
      await applyPlan(s, { audit: [row("a1", "w1"), row("a2", "w2")] });
      await applyPlan(s, { audit: [row("a3", "w1")] });
      expect((await s.read.listAudit({ subjectId: "w1" })).map((a) => a.id)).toEqual(["a1", "a3"]);
      expect((await s.read.listAudit()).length).toBe(3);
    }),

    check(
      "every list pages by afterId and limit, and activations and rentals filter by creation time",
      async (s) => {
        const ids = ["b", "a", "B", "é", "c"];
        await applyPlan(s, {
          createWallets: ids.map((id) => wallet(id)),
          walletDeltas: [{ walletId: "a", balanceDeltaMinor: 100, frozenDeltaMinor: 50 }],
          transfers: [transfer("t1", "a", 100, 100)],
          openHolds: ["h3", "h1", "h2", "H0"].map((id) => hold(id, "a", 10)).concat([hold("h9", "a", 10)]),
          activations: ["x", "y", "z", "w"].map((id, i) => ({
            record: activation(id, { walletId: "a", createdAtMs: T0 + (i % 2) * 1000 }),
            expectedVersion: null,
          })),
          audit: ["u3", "u1", "u2"].map((id) => ({
            id,
            atMs: T0,
            actor: "system",
            action: "note",
            subjectType: "wallet" as const,
            subjectId: id === "u1" ? "b" : "a",
            before: null,
            after: null,
            idempotencyKey: null,
          })),
        });
        const r = s.read;
        const walk = async <T extends { id: string }>(
          list: (page: { afterId?: string; limit: number }) => Promise<readonly T[]>,
          size: number,
        ) => {
          const out: string[] = [];
          for await (const item of iterateList(list, size)) out.push(item.id);
          return out;
        };
        expect((await r.listWallets()).map((w) => w.id)).toEqual(["B", "a", "b", "c", "é"]);
        expect((await r.listWallets({ limit: 2 })).map((w) => w.id)).toEqual(["B", "a"]);
        expect((await r.listWallets({ afterId: "a", limit: 2 })).map((w) => w.id)).toEqual(["b", "c"]);
        expect(await walk((p) => r.listWallets(p), 2)).toEqual(["B", "a", "b", "c", "é"]);
        expect(await walk((p) => r.listHolds({ state: "open", ...p }), 3)).toEqual([
          "H0",
          "h1",
          "h2",
          "h3",
          "h9",
        ]);
        // By id, the page after an id continues even when that record no longer matches the filter.
        await applyPlan(s, {
          walletDeltas: [{ walletId: "a", balanceDeltaMinor: 0, frozenDeltaMinor: -10 }],
          resolveHolds: [{ holdId: "h1", state: "released", settledMinor: 0, resolvedAtMs: T0 }],
        });
        expect((await r.listHolds({ state: "open", afterId: "h1", limit: 2 })).map((h) => h.id)).toEqual([
          "h2",
          "h3",
        ]);
        // Activations in (createdAtMs, id) order: x, z at T0; w, y at T0 + 1000.
        expect((await r.listActivations()).map((a) => a.id)).toEqual(["x", "z", "w", "y"]);
        expect((await r.listActivations({ afterId: "z", limit: 1 })).map((a) => a.id)).toEqual(["w"]);
        expect((await r.listActivations({ afterId: "missing" })).map((a) => a.id)).toEqual([]);
        expect(await walk((p) => r.listActivations({ walletId: "a", ...p }), 1)).toEqual([
          "x",
          "z",
          "w",
          "y",
        ]);
        expect((await r.listActivations({ createdSinceMs: T0 + 1000 })).map((a) => a.id)).toEqual(["w", "y"]);
        expect((await r.listActivations({ createdUntilMs: T0 + 1000 })).map((a) => a.id)).toEqual(["x", "z"]);
        expect(
          (await r.listActivations({ createdSinceMs: T0, createdUntilMs: T0 + 1, afterId: "x" })).map(
            (a) => a.id,
          ),
        ).toEqual(["z"]);
        expect(await r.listRentals({ createdSinceMs: T0, limit: 5 })).toEqual([]);
        // Audit rows in insertion order, after the position of the given row.
        expect((await r.listAudit({ afterId: "u3" })).map((a) => a.id)).toEqual(["u1", "u2"]);
        expect((await r.listAudit({ subjectId: "a", afterId: "u1" })).map((a) => a.id)).toEqual(["u2"]);
        expect(await walk((p) => r.listAudit(p), 2)).toEqual(["u3", "u1", "u2"]);
      },
    ),

    check("healthStats is computeHealthStats over the activations of the window", async (s) => {
      const DAY = 86_400_000;
      const records = (["received", "cancelled", "timeout", "failed", "waiting", "received"] as const).map(
        (state, i) =>
          activation(`h${i}`, {
            state,
            service: i % 2 === 0 ? "telegram" : null,
            serviceCode: "tg",
            createdAtMs: T0 + i * (DAY / 2),
            issuedAtMs: state === "failed" ? null : T0 + i * (DAY / 2) + 100,
            firstCodeAtMs: state === "received" ? T0 + i * (DAY / 2) + 100 + 7_000 * (i + 1) : null,
            endedAtMs: state === "cancelled" ? T0 + i * (DAY / 2) + 65_100 : null,
            priceMinor: 50 + i,
            costMinor: i === 0 ? 30 : null,
            currency: i === 5 ? "EUR" : "USD",
          }),
      );
      await applyPlan(s, { activations: records.map((record) => ({ record, expectedVersion: null })) });
      for (const groupBy of [[], ["service"], ["day", "service"], ["hour"]] as const) {
        for (const [sinceMs, untilMs] of [
          [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY],
          [T0 + 1, T0 + 2 * DAY],
          [T0 + 10 * DAY, T0 + 11 * DAY],
        ] as const) {
          expect(await s.read.healthStats({ sinceMs, untilMs, groupBy })).toEqual(
            computeHealthStats(records, { window: { fromMs: sinceMs, toMs: untilMs }, groupBy }),
          );
        }
      }
    }),

    check("pruning drops idempotency records older than the window, oldest first, bounded", async (s) => {
      if (s.pruneIdempotency === undefined) return;
      const key = (k: string, createdAtMs: number) => ({
        key: k,
        operation: "op",
        fingerprint: "f",
        result: null,
        createdAtMs,
      });
      for (const [k, at] of [
        ["k3", T0 + 3],
        ["k1", T0 + 1],
        ["k2", T0 + 2],
        ["k9", T0 + 9],
      ] as const)
        await applyPlan(s, { idempotency: key(k, at) });
      expect(await s.pruneIdempotency({ createdBeforeMs: T0 + 5, limit: 2 })).toBe(2);
      expect(await s.read.getIdempotency("k1")).toBeUndefined();
      expect(await s.read.getIdempotency("k2")).toBeUndefined();
      expect(await s.read.getIdempotency("k3")).toBeDefined();
      expect(await s.pruneIdempotency({ createdBeforeMs: T0 + 5, limit: 10 })).toBe(1);
      expect(await s.pruneIdempotency({ createdBeforeMs: T0 + 5, limit: 10 })).toBe(0);
      expect((await s.read.getIdempotency("k9"))?.createdAtMs).toBe(T0 + 9);
      // A pruned key is new again: the same request under it runs again.
      await applyPlan(s, { idempotency: key("k1", T0 + 20) });
      expect((await s.read.getIdempotency("k1"))?.createdAtMs).toBe(T0 + 20);
    }),

    check("race: a settle and a release of one hold, exactly one wins and money moves once", async (s) => {
      const { fes } = await service(s);
      await fes.deposit({ walletId: "w1", amountMinor: 100, currency: "USD", idempotencyKey: "d" });
      const h = (
        await fes.freeze({
          walletId: "w1",
          amountMinor: 60,
          currency: "USD",
          operationId: "op",
          idempotencyKey: "f",
        })
      )._unsafeUnwrap();
      const [settled, released] = await Promise.all([
        fes.settle({ holdId: h.id, idempotencyKey: "s" }),
        fes.release({ holdId: h.id, idempotencyKey: "r" }),
      ]);
      expect([settled.isOk(), released.isOk()].filter(Boolean).length).toBe(1);
      const failed = settled.isErr() ? settled.error : released.isErr() ? released.error : undefined;
      expect(failed).toMatchObject({ type: "hold_not_open" });
      const w = await s.read.getWallet("w1");
      expect(w?.frozenMinor).toBe(0);
      expect(w?.balanceMinor).toBe(settled.isOk() ? 40 : 100);
      expect(await checkLedgerInvariants(s.read)).toEqual([]);
    }),

    check("race: two freezes that together exceed available, exactly one succeeds", async (s) => {
      const { fes } = await service(s);
      await fes.deposit({ walletId: "w1", amountMinor: 100, currency: "USD", idempotencyKey: "d" });
      const results = await Promise.all(
        ["a", "b"].map((k) =>
          fes.freeze({ walletId: "w1", amountMinor: 60, currency: "USD", operationId: k, idempotencyKey: k }),
        ),
      );
      expect(results.filter((r) => r.isOk()).length).toBe(1);
      expect(results.find((r) => r.isErr())?._unsafeUnwrapErr()).toEqual(
        errors.insufficientFunds("w1", 40, 60),
      );
      expect(await s.read.getWallet("w1")).toMatchObject({ balanceMinor: 100, frozenMinor: 60 });
      expect(await checkLedgerInvariants(s.read)).toEqual([]);
    }),

    check(
      "race: the same idempotency key twice at once, one effect and the same result for both",
      async (s) => {
        const { fes } = await service(s);
        const results = await Promise.all(
          [1, 2, 3].map(() =>
            fes.deposit({ walletId: "w1", amountMinor: 25, currency: "USD", idempotencyKey: "same" }),
          ),
        );
        const values = results.map((r) => r._unsafeUnwrap());
        expect(values[1]).toEqual(values[0]);
        expect(values[2]).toEqual(values[0]);
        expect(await s.read.getWallet("w1")).toMatchObject({ balanceMinor: 25 });
        expect((await s.read.listTransfers()).length).toBe(1);
      },
    ),

    check("race: two sweepers at once settle each due activation once", async (s) => {
      const { fes, clock, fake } = await service(s);
      await fes.deposit({ walletId: "w1", amountMinor: 1000, currency: "USD", idempotencyKey: "d" });
      for (const k of ["a", "b", "c"]) {
        (
          await fes.buyActivation({ walletId: "w1", service: "tg", country: "6", idempotencyKey: k })
        )._unsafeUnwrap();
      }
      clock.advance(20 * 60_000);
      const [x, y] = await Promise.all([fes.sweep(), fes.sweep()]);
      expect(x._unsafeUnwrap().timedOut + y._unsafeUnwrap().timedOut).toBe(3);
      expect(x._unsafeUnwrap().errors + y._unsafeUnwrap().errors).toBe(0);
      // Each timeout released its hold and paid its 50 % cashback (25) exactly once.
      expect(await s.read.getWallet("w1")).toMatchObject({ balanceMinor: 1075, frozenMinor: 0 });
      expect((await fake.control.activations()).length).toBe(3);
      expect(await checkLedgerInvariants(s.read)).toEqual([]);
    }),

    {
      name: "model-based: every invariant holds after every command, with interleaved concurrent operations",
      run: () => modelRun(options),
    },
  ];
}

/** A service over the storage, the fake provider and a manual clock, with one wallet `w1`. */
async function service(storage: Storage, provider?: (p: Provider) => Provider) {
  const clock = new ManualClock(T0);
  const fake = createFakeProvider({ clock, balance: "1000000" });
  await fake.control.setStock("tg", "6", { price: "0.50", count: 1_000_000 });
  await fake.control.setStock("wa", "0", { price: "1.20", count: 1_000_000 });
  await fake.control.setRentStock("tg", "6", { pricePerHour: "0.10", count: 1_000_000 });
  const fes = createFes({
    storage,
    provider: provider ? provider(fake.provider) : fake.provider,
    clock,
    policy: createRefundPolicy({ timeoutCashbackPercent: 50, rentalEarlyEnd: "pro_rata" })._unsafeUnwrap(),
  });
  await fes.createWallet({ walletId: "w1", currency: "USD" });
  await fes.createWallet({ walletId: "w2", currency: "USD" });
  return { fes, clock, fake };
}

// ---------------------------------------------------------------------------------------------------------------
// The model-based run.
// ---------------------------------------------------------------------------------------------------------------

interface Model {
  /** Keys already used, with the request made under them (to repeat or to conflict). */
  readonly keys: { key: string; call: Call }[];
  readonly activations: string[];
  readonly rentals: string[];
}

interface Real {
  readonly fes: Fes;
  readonly storage: Storage;
  readonly clock: ManualClock;
  readonly fake: Awaited<ReturnType<typeof service>>["fake"];
}

/** A call of the service, as data, so it can be repeated. */
type Call =
  | { op: "deposit"; walletId: string; amountMinor: number; key: string }
  | { op: "withdraw"; walletId: string; amountMinor: number; key: string }
  | { op: "buy"; walletId: string; service: "tg" | "wa"; key: string }
  | { op: "buyRental"; walletId: string; hours: number; key: string }
  | { op: "extend"; rental: number; hours: number; key: string }
  | { op: "code"; activation: number; code: string }
  | { op: "another"; activation: number }
  | { op: "cancel"; activation: number }
  | { op: "cancelRental"; rental: number }
  | { op: "finishRental"; rental: number }
  | { op: "syncRental"; rental: number }
  /** An end (or an extension) whose answer is lost while the provider's status cannot be read either. */
  | { op: "lostRentalStep"; rental: number; step: "cancel" | "finish" | "extend" }
  | { op: "revokeRental"; rental: number }
  | { op: "advance"; ms: number }
  | { op: "sweep" }
  | {
      op: "fault";
      kind: "no_numbers" | "unknown_after_success" | "unknown_before" | "retryable" | "code_during_cancel";
      /** The provider call the fault hits (default: buying an activation). */
      action?:
        | "rent"
        | "extendRental"
        | "cancelRental"
        | "finishRental"
        | "getRentalStatus"
        | "getActivationStatus";
    };

/** Runs a call; returns whether it failed with an error result. */
async function perform(real: Real, model: Model, call: Call): Promise<{ ok: boolean; value: unknown }> {
  const { fes } = real;
  const pick = (list: string[], i: number) => list[i % Math.max(1, list.length)];
  const asOutcome = async <T, E>(r: PromiseLike<Result<T, E>>) => {
    const res = await r;
    return res.isOk()
      ? { ok: true, value: res.value as unknown }
      : { ok: false, value: res.error as unknown };
  };
  switch (call.op) {
    case "deposit":
      return asOutcome(
        fes.deposit({
          walletId: call.walletId,
          amountMinor: call.amountMinor,
          currency: "USD",
          idempotencyKey: call.key,
        }),
      );
    case "withdraw":
      return asOutcome(
        fes.withdraw({
          walletId: call.walletId,
          amountMinor: call.amountMinor,
          currency: "USD",
          idempotencyKey: call.key,
        }),
      );
    case "buy": {
      const r = await asOutcome(
        fes.buyActivation({
          walletId: call.walletId,
          service: call.service,
          country: call.service === "tg" ? "6" : "0",
          idempotencyKey: call.key,
        }),
      );
      remember(model.activations, r);
      return r;
    }
    case "buyRental": {
      const r = await asOutcome(
        fes.buyRental({
          walletId: call.walletId,
          service: "tg",
          country: "6",
          hours: call.hours,
          idempotencyKey: call.key,
        }),
      );
      remember(model.rentals, r);
      return r;
    }
    case "extend": {
      const id = pick(model.rentals, call.rental);
      return id === undefined
        ? { ok: true, value: null }
        : asOutcome(fes.extendRental({ rentalId: id, hours: call.hours, idempotencyKey: call.key }));
    }
    case "code": {
      const id = pick(model.activations, call.activation);
      const a = id === undefined ? undefined : await real.storage.read.getActivation(id);
      if (a?.providerActivationId == null) return { ok: true, value: null };
      try {
        await real.fake.control.deliverCode(a.providerActivationId, call.code);
      } catch {
        // The number is no longer active upstream: no SMS can arrive.
      }
      return asOutcome(fes.pollActivation(a.id));
    }
    case "another": {
      const id = pick(model.activations, call.activation);
      return id === undefined
        ? { ok: true, value: null }
        : asOutcome(fes.requestAnotherCode({ activationId: id }));
    }
    case "cancel": {
      const id = pick(model.activations, call.activation);
      return id === undefined
        ? { ok: true, value: null }
        : asOutcome(fes.cancelActivation({ activationId: id }));
    }
    case "cancelRental": {
      const id = pick(model.rentals, call.rental);
      return id === undefined ? { ok: true, value: null } : asOutcome(fes.cancelRental({ rentalId: id }));
    }
    case "finishRental": {
      const id = pick(model.rentals, call.rental);
      return id === undefined ? { ok: true, value: null } : asOutcome(fes.finishRental({ rentalId: id }));
    }
    case "lostRentalStep": {
      const id = pick(model.rentals, call.rental);
      if (id === undefined) return { ok: true, value: null };
      const action =
        call.step === "cancel" ? "cancelRental" : call.step === "finish" ? "finishRental" : "extendRental";
      await real.fake.control.injectFault({ action, kind: "unknown_after_success" });
      await real.fake.control.injectFault({ action: "getRentalStatus", kind: "retryable" });
      const outcome =
        call.step === "extend"
          ? await asOutcome(fes.extendRental({ rentalId: id, hours: 2, idempotencyKey: `lost-${id}` }))
          : await asOutcome(
              call.step === "cancel"
                ? fes.cancelRental({ rentalId: id })
                : fes.finishRental({ rentalId: id }),
            );
      // Whatever did not fire stays queued no longer than this call.
      await real.fake.control.clearFaults();
      return outcome;
    }
    case "syncRental": {
      const id = pick(model.rentals, call.rental);
      return id === undefined ? { ok: true, value: null } : asOutcome(fes.syncRental(id));
    }
    case "revokeRental": {
      // The provider takes the number back on its own; the service learns it from a poll or the sweeper.
      const id = pick(model.rentals, call.rental);
      const r = id === undefined ? undefined : await real.storage.read.getRental(id);
      if (r?.providerRentalId != null) {
        try {
          await real.fake.control.revokeRental(r.providerRentalId);
        } catch {
          // Already ended upstream.
        }
      }
      return { ok: true, value: null };
    }
    case "advance":
      real.clock.advance(call.ms);
      return { ok: true, value: null };
    case "sweep":
      return asOutcome(fes.sweep());
    case "fault":
      await real.fake.control.injectFault({
        action: call.kind === "code_during_cancel" ? "cancelActivation" : (call.action ?? "buyActivation"),
        kind: call.kind,
        code: "424242",
      });
      return { ok: true, value: null };
  }
}

/** Remembers the id of the record a purchase made (also a failed one: its error names it). */
function remember(ids: string[], outcome: { ok: boolean; value: unknown }): void {
  const v = outcome.value as { id?: unknown } | null;
  const id = typeof v?.id === "string" ? v.id : undefined;
  if (id !== undefined && !ids.includes(id)) ids.push(id);
}

/** The money state that an error result must leave untouched. */
async function moneySnapshot(storage: Storage) {
  const [wallets, transfers] = await Promise.all([storage.read.listWallets(), storage.read.listTransfers()]);
  return { counters: wallets.map((w) => [w.id, w.balanceMinor, w.frozenMinor]), transfers: transfers.length };
}

const keyArb = fc.string({ unit: fc.constantFrom("a", "b", "c", "d", "e", "f"), minLength: 1, maxLength: 3 });
const walletArb = fc.constantFrom("w1", "w2");

const callArb: fc.Arbitrary<Call> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("deposit" as const),
      walletId: walletArb,
      amountMinor: fc.integer({ min: 1, max: 500 }),
      key: keyArb,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("withdraw" as const),
      walletId: walletArb,
      amountMinor: fc.integer({ min: 1, max: 300 }),
      key: keyArb,
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant("buy" as const),
      walletId: walletArb,
      service: fc.constantFrom("tg" as const, "wa" as const),
      key: keyArb,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("buyRental" as const),
      walletId: walletArb,
      hours: fc.integer({ min: 4, max: 8 }),
      key: keyArb,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("extend" as const),
      rental: fc.nat(9),
      hours: fc.integer({ min: 1, max: 4 }),
      key: keyArb,
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("code" as const),
      activation: fc.nat(9),
      code: fc.constantFrom("0123", "a:b:c", "999"),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("another" as const), activation: fc.nat(9) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("cancel" as const), activation: fc.nat(9) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("cancelRental" as const), rental: fc.nat(9) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("finishRental" as const), rental: fc.nat(9) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("syncRental" as const), rental: fc.nat(9) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("lostRentalStep" as const),
      rental: fc.nat(9),
      step: fc.constantFrom("cancel" as const, "finish" as const, "extend" as const),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("revokeRental" as const), rental: fc.nat(9) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("advance" as const),
      ms: fc.constantFrom(30_000, 121_000, 600_000, 1_200_000, 3_600_000),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ op: "sweep" as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("fault" as const),
      kind: fc.constantFrom(
        "no_numbers" as const,
        "unknown_after_success" as const,
        "unknown_before" as const,
        "retryable" as const,
        "code_during_cancel" as const,
      ),
    }),
  },
  {
    // Rentals with lost answers and unreadable statuses at every provider-facing step.
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("fault" as const),
      kind: fc.constantFrom(
        "unknown_after_success" as const,
        "unknown_before" as const,
        "retryable" as const,
      ),
      action: fc.constantFrom(
        "rent" as const,
        "extendRental" as const,
        "cancelRental" as const,
        "finishRental" as const,
        "getRentalStatus" as const,
        "getActivationStatus" as const,
      ),
    }),
  },
);

/** Checks invariants 1–5 and 8 over the whole storage. */
async function assertInvariants(real: Real) {
  const violations = await checkLedgerInvariants(real.storage.read);
  expect(violations).toEqual([]);
  await assertProviderAgreement(real);
}

/**
 * Money is decided from what the provider says happened: a customer is never charged for a rental or an
 * activation the provider cancelled with a refund to the platform.
 */
async function assertProviderAgreement(real: Real) {
  const settled = new Map<string, number>();
  for (const h of await real.storage.read.listHolds({ state: "settled" })) {
    settled.set(h.ownerId, (settled.get(h.ownerId) ?? 0) + h.settledMinor);
  }
  for (const r of await real.storage.read.listRentals()) {
    if (r.state === "pending" || r.state === "active" || r.providerRentalId === null) continue;
    if (real.fake.upstream.rental(r.providerRentalId)?.state === "cancelled") {
      expect(settled.get(r.id) ?? 0, `rental ${r.id} was refunded upstream`).toBe(0);
    }
  }
  for (const a of await real.storage.read.listActivations({ states: ["received"] })) {
    if (a.providerActivationId === null) continue;
    expect(real.fake.upstream.activation(a.providerActivationId)?.state, `activation ${a.id}`).not.toBe(
      "cancelled",
    );
  }
}

/** One call; an error result must leave the money untouched (invariant 7); a used key is remembered. */
class CallCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly call: Call) {}
  check = () => true;
  async run(model: Model, real: Real) {
    const before = await moneySnapshot(real.storage);
    const outcome = await perform(real, model, this.call);
    if (!outcome.ok) {
      expect(await moneySnapshot(real.storage), `error ${JSON.stringify(outcome.value)} moved money`).toEqual(
        before,
      );
      expect(outcome.value).toHaveProperty("type");
      expect((outcome.value as { type: string }).type).not.toBe("storage_failure");
    }
    const key = "key" in this.call ? this.call.key : undefined;
    if (
      key !== undefined &&
      outcome.ok &&
      !model.keys.some((k) => k.key === key) &&
      "walletId" in this.call &&
      (await real.storage.read.getIdempotency(scopedIdempotencyKey(this.call.walletId, key)))
    ) {
      model.keys.push({ key, call: this.call });
    }
    await assertInvariants(real);
  }
  toString = () => JSON.stringify(this.call);
}

/** Repeats a call made under a used key: same request → same result and no effect (invariant 6). */
class RepeatCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly index: number) {}
  check = (m: Readonly<Model>) => m.keys.length > 0;
  async run(model: Model, real: Real) {
    const { call } = model.keys[this.index % model.keys.length]!;
    if (call.op !== "deposit" && call.op !== "withdraw") return;
    const before = await moneySnapshot(real.storage);
    const first = await real.storage.read.getIdempotency(scopedIdempotencyKey(call.walletId, call.key));
    const again = await perform(real, model, call);
    expect(again.ok).toBe(true);
    expect(again.value).toEqual(first?.result);
    expect(await moneySnapshot(real.storage)).toEqual(before);
  }
  toString = () => `repeat(${this.index})`;
}

/** Reuses a key for another request: `idempotency_conflict` and no effect (invariant 6). */
class ConflictCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly index: number) {}
  check = (m: Readonly<Model>) => m.keys.length > 0;
  async run(model: Model, real: Real) {
    const { key, call } = model.keys[this.index % model.keys.length]!;
    const before = await moneySnapshot(real.storage);
    const other: Call =
      call.op === "deposit"
        ? { op: "deposit", walletId: call.walletId, amountMinor: call.amountMinor + 1, key }
        : { op: "deposit", walletId: "walletId" in call ? call.walletId : "w1", amountMinor: 7, key };
    const outcome = await perform(real, model, other);
    expect(outcome).toEqual({ ok: false, value: errors.idempotencyConflict(key) });
    expect(await moneySnapshot(real.storage)).toEqual(before);
  }
  toString = () => `conflict(${this.index})`;
}

/** Several calls at once, their storage and provider steps interleaved by the scheduler. */
class ConcurrentCommand implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly calls: Call[],
    readonly scheduler: fc.Scheduler,
  ) {}
  check = () => true;
  async run(model: Model, real: Real) {
    scheduling.current = this.scheduler;
    try {
      await this.scheduler.waitFor(Promise.all(this.calls.map((c) => perform(real, model, c))));
    } finally {
      scheduling.current = undefined;
    }
    await assertInvariants(real);
  }
  toString = () => `concurrent(${this.calls.map((c) => JSON.stringify(c)).join(", ")})`;
}

/** The scheduler in force while a {@link ConcurrentCommand} runs. */
const scheduling: { current: fc.Scheduler | undefined } = { current: undefined };

/** Wraps a storage so that, under a scheduler, each unit of work starts when the scheduler says. */
function scheduledStorage(storage: Storage): Storage {
  return {
    read: storage.read,
    transaction: (work) => {
      const s = scheduling.current;
      return s === undefined
        ? storage.transaction(work)
        : s.schedule(Promise.resolve(), "tx").then(() => storage.transaction(work));
    },
  };
}

/** Wraps a provider so that, under a scheduler, each answer arrives when the scheduler says. */
function scheduledProvider(provider: Provider): Provider {
  return new Proxy(provider, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        const answer = Promise.resolve((value as (...a: unknown[]) => unknown).apply(target, args));
        const s = scheduling.current;
        return s === undefined ? answer : s.schedule(answer, String(prop));
      };
    },
  });
}

async function modelRun(options: StorageConformanceOptions): Promise<void> {
  const commands = fc.commands(
    [
      callArb.map((c) => new CallCommand(c)),
      fc.nat(50).map((i) => new RepeatCommand(i)),
      fc.nat(50).map((i) => new ConflictCommand(i)),
      fc
        .tuple(
          fc.array(
            callArb.filter((c) => c.op !== "advance" && c.op !== "fault"),
            { minLength: 2, maxLength: 4 },
          ),
          fc.scheduler(),
        )
        .map(([calls, s]) => new ConcurrentCommand(calls, s)),
    ],
    { maxCommands: options.maxCommands ?? 25 },
  );
  await fc.assert(
    fc.asyncProperty(commands, async (cmds) => {
      const storage = await options.createStorage();
      try {
        const real = await service(scheduledStorage(storage), scheduledProvider);
        await real.fes.deposit({
          walletId: "w1",
          amountMinor: 500,
          currency: "USD",
          idempotencyKey: "seed-w1",
        });
        const model: Model = { keys: [], activations: [], rentals: [] };
        await fc.asyncModelRun(() => ({ model, real: { ...real, storage } }), cmds);
      } finally {
        await options.disposeStorage?.(storage);
      }
    }),
    { numRuns: options.runs ?? 100, ...(options.seed === undefined ? {} : { seed: options.seed }) },
  );
}

/**
 * Registers the storage conformance suite with vitest: every port method's contract, rollback on `Err` and on
 * throw, exactly-one-winner races, and a model-based property run checking the invariants of docs/design.md §2 after
 * every command. Adapter authors call it from a test file with a factory that makes a fresh storage.
 */
export function describeStorageConformance(options: StorageConformanceOptions): void {
  assertInsideVitest("describeStorageConformance");
  describe(`storage conformance: ${options.name}`, () => {
    for (const c of storageConformanceChecks(options)) it(c.name, c.run);
  });
}
