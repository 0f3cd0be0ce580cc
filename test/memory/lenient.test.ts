import { describe, expect, it } from "vitest";
import { createMemoryStorage } from "../../src/memory/index.js";
import { storageConformanceChecks } from "../../src/testing/index.js";
import { createLenientStorage } from "./lenient-storage.js";

/** Runs a check and reports whether it failed. */
const fails = async (run: () => Promise<void>) =>
  run().then(
    () => false,
    () => true,
  );

describe("the storage conformance suite has teeth", () => {
  const lenient = storageConformanceChecks({
    name: "lenient",
    createStorage: createLenientStorage,
    runs: 200,
  });
  const byName = (fragment: string) => {
    const c = lenient.find((x) => x.name.includes(fragment));
    if (c === undefined) throw new Error(`no check named like ${fragment}`);
    return c;
  };

  it.each([
    "a wallet id is unique",
    "negative available is refused",
    "a hold resolves exactly once",
    "update only at the expected version",
    "an idempotency key is unique",
    "throws after apply leaves nothing behind",
    "an Err returned by the work rolls back",
    "race: a settle and a release",
    "race: two freezes",
    "race: the same idempotency key",
    "model-based",
  ])("a lenient adapter (no serialization, no guards, no rollback) fails: %s", async (name) => {
    expect(await fails(byName(name).run)).toBe(true);
  });

  it("the strict memory adapter passes the same race checks", async () => {
    const strict = storageConformanceChecks({
      name: "memory",
      createStorage: () => createMemoryStorage(),
      runs: 20,
    });
    for (const c of strict.filter((x) => x.name.startsWith("race"))) expect(await fails(c.run)).toBe(false);
  });
});
