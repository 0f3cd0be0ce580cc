// CommonJS smoke test of the installed package; also checks that a conflict from the CJS memory build is
// recognised by the ESM core (two bundles, two class objects, one brand).
const assert = require("node:assert/strict");
const { createFes, isStorageConflictError } = require("sms-fes");
const { createFakeProvider, ManualClock } = require("sms-fes/fakes");
const { createMemoryStorage } = require("sms-fes/memory");
require("sms-fes/postgres");
require("sms-fes/sms-activate");

(async () => {
  const fes = createFes({
    storage: createMemoryStorage(),
    provider: createFakeProvider().provider,
    clock: new ManualClock(1_700_000_000_000),
  });
  assert.ok((await fes.createWallet({ walletId: "w", currency: "USD" })).isOk());
  const r = await fes.deposit({ walletId: "w", amountMinor: 500, currency: "USD", idempotencyKey: "d-1" });
  assert.equal(r._unsafeUnwrap().balanceAfterMinor, 500);
  const thrown = await createMemoryStorage()
    .transaction((tx) =>
      tx.apply({ walletDeltas: [{ walletId: "x", balanceDeltaMinor: 1, frozenDeltaMinor: 0 }] }),
    )
    .catch((e) => e);
  assert.ok(isStorageConflictError(thrown));
  const esm = await import("sms-fes");
  assert.ok(
    esm.isStorageConflictError(thrown),
    "the ESM core recognises a conflict from the CJS memory build",
  );
  console.log("cjs smoke: ok");
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
