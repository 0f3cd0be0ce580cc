import { ok } from "neverthrow";
import { describe, expect, it } from "vitest";
import { InvariantViolation, isInvariantViolation } from "../../src/core/invariant.js";
import { runUnit } from "../../src/fes/unit-of-work.js";
import { createMemoryStorage } from "../../src/memory/index.js";
import { isStorageConflictError, type Storage, StorageConflictError } from "../../src/storage/port.js";

/** What an error thrown by another copy of the package looks like here: same brand, another class object. */
function foreignConflict(): Error {
  const e = new Error("guard missed in another copy");
  Object.defineProperty(e, Symbol.for("sms-fes.StorageConflictError"), { value: true });
  return Object.assign(e, { name: "StorageConflictError", guard: "version" });
}

describe("regressions: one error identity across copies of the package", () => {
  it("a conflict thrown by another copy of the package is rerun, not reported as storage_failure", async () => {
    const inner = createMemoryStorage();
    let calls = 0;
    const storage: Storage = {
      read: inner.read,
      transaction: (work) =>
        inner.transaction(async (tx) => {
          calls++;
          if (calls === 1) throw foreignConflict();
          return work(tx);
        }),
    };
    const result = await runUnit(storage, async () => ok("done"));
    expect(result).toEqual(ok("done"));
    expect(calls).toBe(2);
  });

  it("an invariant violation from another copy is rethrown, not turned into storage_failure", async () => {
    const foreign = new Error("broken");
    Object.defineProperty(foreign, Symbol.for("sms-fes.InvariantViolation"), { value: true });
    const storage: Storage = { ...createMemoryStorage(), transaction: async () => Promise.reject(foreign) };
    await expect(runUnit(storage, async () => ok(1))).rejects.toBe(foreign);
  });

  it("the guards and instanceof recognise the brand and nothing else", () => {
    expect(isStorageConflictError(new StorageConflictError("version", "x"))).toBe(true);
    expect(isStorageConflictError(foreignConflict())).toBe(true);
    expect(foreignConflict()).toBeInstanceOf(StorageConflictError);
    expect(isStorageConflictError(new Error("x"))).toBe(false);
    expect(isStorageConflictError({ name: "StorageConflictError", guard: "version" })).toBe(false);
    expect(isStorageConflictError(null)).toBe(false);
    expect(isInvariantViolation(new InvariantViolation("x"))).toBe(true);
    expect(isInvariantViolation(new StorageConflictError("version", "x"))).toBe(false);
    expect(new StorageConflictError("version", "x")).not.toBeInstanceOf(InvariantViolation);
  });
});
