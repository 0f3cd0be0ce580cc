import { describe, expect, it } from "vitest";
import type { AuditRecord } from "../../src/core/records.js";
import { createMemoryStorage } from "../../src/memory/index.js";

describe("regressions: memory adapter strictness", () => {
  it("the memory adapter accepts two audit rows with the same id (PostgreSQL: audit_trail.id UNIQUE)", async () => {
    const storage = createMemoryStorage();
    const row: AuditRecord = {
      id: "u#a0",
      atMs: 0,
      actor: "t",
      action: "x",
      subjectType: "wallet",
      subjectId: "w",
      before: null,
      after: null,
      idempotencyKey: null,
    };
    await storage.transaction(async (tx) => tx.apply({ audit: [row] }));
    const second = storage.transaction(async (tx) => tx.apply({ audit: [row] }));
    await expect(second).rejects.toThrow();
  });
});
