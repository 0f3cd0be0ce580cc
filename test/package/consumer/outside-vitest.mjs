// The suites declared outside a vitest run fail with a message that says what to do.
import assert from "node:assert/strict";
import { describeProviderConformance, describeStorageConformance } from "sms-fes/testing";

assert.throws(
  () => describeProviderConformance({ name: "x", setup: async () => ({}) }),
  /vitest run.*sms-fes\/fakes/s,
);
assert.throws(() => describeStorageConformance({ name: "x", createStorage: () => ({}) }), /vitest run/);
console.log("suites outside vitest: clear error");
