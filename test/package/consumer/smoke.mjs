// ESM smoke test of the installed package: a wallet round trip through the core on the memory adapter, and a
// conflict thrown by one entry recognised by another.
import assert from "node:assert/strict";
import { createFes, isStorageConflictError, StorageConflictError } from "sms-fes";
import { createFakeProvider, ManualClock } from "sms-fes/fakes";
import { createMemoryStorage } from "sms-fes/memory";

const fes = createFes({
  storage: createMemoryStorage(),
  provider: createFakeProvider().provider,
  clock: new ManualClock(1_700_000_000_000),
});
assert.ok((await fes.createWallet({ walletId: "w", currency: "USD" })).isOk());
const deposited = await fes.deposit({
  walletId: "w",
  amountMinor: 500,
  currency: "USD",
  idempotencyKey: "d-1",
});
assert.equal(deposited._unsafeUnwrap().balanceAfterMinor, 500);
const storage = createMemoryStorage();
const thrown = await storage
  .transaction((tx) =>
    tx.apply({ walletDeltas: [{ walletId: "missing", balanceDeltaMinor: 1, frozenDeltaMinor: 0 }] }),
  )
  .catch((e) => e);
assert.ok(isStorageConflictError(thrown), "a conflict from sms-fes/memory is recognised by sms-fes");
assert.ok(thrown instanceof StorageConflictError);
console.log("esm smoke: ok");
