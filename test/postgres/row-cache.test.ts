import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type CachedRow, RowCache } from "../../src/postgres/row-cache.js";

const wallet = (id: string, version = 1): CachedRow => ({
  kind: "wallet",
  row: { id, currency: "USD", balanceMinor: 0, frozenMinor: 0, version, createdAtMs: 0 },
});

describe("the row cache", () => {
  it("never holds more than its capacity, and keeps a row for at least half its capacity of other uses", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 60 })), { maxLength: 300 }),
        (capacity, uses) => {
          const cache = new RowCache(capacity);
          /** When each key was last used (put, or read while cached), in uses of distinct other keys since. */
          const lastUse = new Map<string, number>();
          let clock = 0;
          for (const [write, n] of uses) {
            const key = `w${n}`;
            const used = lastUse.get(key);
            const hit = cache.get(key) !== undefined;
            if (used !== undefined && clock - used < Math.floor(capacity / 2)) expect(hit).toBe(true);
            if (write || hit) {
              if (write) cache.put(key, wallet(key));
              lastUse.set(key, ++clock);
            }
            expect(cache.size).toBeLessThanOrEqual(capacity);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("never replaces a newer version by an older one", () => {
    const cache = new RowCache(10);
    cache.put("w", wallet("w", 3));
    cache.put("w", wallet("w", 2));
    expect(cache.get("w")).toMatchObject({ row: { version: 3 } });
    cache.put("w", wallet("w", 4));
    expect(cache.get("w")).toMatchObject({ row: { version: 4 } });
    cache.drop("w");
    expect(cache.get("w")).toBeUndefined();
  });

  it("serves a stale read the version a row replaced, and forgets both once the row is evicted", () => {
    let stale = false;
    const cache = new RowCache(4, () => stale);
    cache.put("w", wallet("w", 1));
    cache.put("w", wallet("w", 2));
    stale = true;
    expect(cache.get("w")).toMatchObject({ row: { version: 1 } });
    stale = false;
    // Two turns of generations without a use of "w" evict it.
    for (const other of ["a", "b", "c", "d"]) cache.put(other, wallet(other));
    expect(cache.get("w")).toBeUndefined();
    cache.put("w", wallet("w", 5));
    stale = true;
    // No version of "w" is remembered from before its eviction: a stale read is made up from the current one.
    expect(cache.get("w")).toMatchObject({ row: { version: 4 } });
  });
});
