import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ActivationRecord, HoldRecord } from "../../src/core/records.js";
import { experimentReport } from "../../src/health/experiment-report.js";
import { createPostgresStorage } from "../../src/postgres/index.js";
import type { Storage } from "../../src/storage/port.js";
import { createTestDatabase, type TestDatabase } from "./database.js";
import { activation, hold, wallet } from "./fixtures.js";

const T = Date.UTC(2024, 0, 1);
let db: TestDatabase;
let pool: pg.Pool;
let storage: Storage;

function row(
  id: string,
  state: ActivationRecord["state"],
  over: Partial<ActivationRecord> = {},
): { a: ActivationRecord; h: HoldRecord } {
  const a = activation(id, {
    state,
    createdAtMs: T,
    issuedAtMs: T + 1_000,
    firstCodeAtMs: state === "received" ? T + 31_000 : null,
    endedAtMs: T + 200_000,
    costMinor: state === "received" ? 40 : null,
    ...over,
  });
  const h = hold(a.holdId, "w1", 100, {
    ownerType: "activation",
    ownerId: id,
    createdAtMs: T,
    ...(state === "received"
      ? { state: "settled" as const, settledMinor: 100, resolvedAtMs: T + 60_000 }
      : { state: "released" as const, resolvedAtMs: T + 60_000 }),
  });
  return { a, h };
}

const rows = [
  row("e1", "received", { experimentId: "wait", experimentArm: "full" }),
  row("e2", "timeout", { experimentId: "wait", experimentArm: "full", cashbackMinor: 50 }),
  row("e3", "received", { experimentId: "wait", experimentArm: "short" }),
  row("e4", "cancelled", { experimentId: "wait", experimentArm: "short", failureReason: "wait_time_policy" }),
  row("e5", "cancelled", { experimentId: "wait", experimentArm: "short" }),
  row("n1", "received"),
];

beforeAll(async () => {
  db = await createTestDatabase();
  pool = db.pool(2);
  storage = createPostgresStorage({ pool });
  await storage.transaction((tx) =>
    tx.apply({
      createWallets: [wallet("w1")],
      openHolds: rows.map((r) => r.h),
      activations: rows.map((r) => ({ record: r.a, expectedVersion: null })),
    }),
  );
});
afterAll(() => db.drop());

describe("experiment columns and views", () => {
  it("an activation's experiment and arm round-trip; outside an experiment both are null", async () => {
    expect(await storage.read.getActivation("e4")).toMatchObject({
      experimentId: "wait",
      experimentArm: "short",
    });
    expect(await storage.read.getActivation("n1")).toMatchObject({ experimentId: null, experimentArm: null });
  });

  it("refuses an arm without an experiment", async () => {
    await expect(
      pool.query("UPDATE sms_fes.activations SET experiment_arm = 'x' WHERE id = 'n1'"),
    ).rejects.toThrow(/activations_experiment_arm/);
  });

  it("experiment_health has the counts of experimentReport, per arm", async () => {
    const { rows: view } = await pool.query(
      "SELECT * FROM sms_fes.experiment_health WHERE experiment_id = 'wait' ORDER BY experiment_arm",
    );
    const report = experimentReport(await storage.read.listActivations(), "wait");
    expect(
      view.map((v) => [v.experiment_arm, v.ended, v.received, v.cancelled, v.timeout, v.expired]),
    ).toEqual(
      report.arms.map((a) => [
        a.arm,
        a.ended,
        a.received,
        Math.round(a.cancelled.point * a.ended),
        Math.round(a.timeout.point * a.ended),
        Math.round(a.expired.point * a.ended),
      ]),
    );
    expect(view.map((v) => [v.cancelled_by_wait, v.success_rate, v.cost_minor, v.cashback_minor])).toEqual([
      [0, 0.5, "40", "50"],
      [1, 1 / 3, "40", "0"],
    ]);
    expect(view[1].median_time_to_code_ms).toBe(30_000);
  });
});
