import { describe, expect, it } from "vitest";
import type { ActivationRecord } from "../../src/core/records.js";
import { createServiceGate } from "../../src/health/gate.js";
import {
  defaultHealthPolicyConfig,
  evaluateHealthPolicies,
  type HealthDecision,
  type HealthPolicyConfigInput,
  parseHealthPolicyConfig,
} from "../../src/health/policies.js";
import { activation, DAY, HOUR, many, SECOND, T0 } from "./fixtures.js";

const NOW = T0 + 10 * DAY;
const RECENT = NOW - HOUR;

function config(input: HealthPolicyConfigInput) {
  return parseHealthPolicyConfig(input)._unsafeUnwrap();
}

/** `successes` received and `failures` timed out for one service (and country), created an hour ago. */
function service(name: string, successes: number, failures: number, country = "id"): ActivationRecord[] {
  return [
    ...many(successes, { state: "received", service: name, country, createdAtMs: RECENT }),
    ...many(failures, { state: "timeout", service: name, country, createdAtMs: RECENT }),
  ];
}

function decisionsOf(
  type: HealthDecision["type"],
  records: ActivationRecord[],
  input: HealthPolicyConfigInput = {},
) {
  return evaluateHealthPolicies(records, { nowMs: NOW, config: config(input) }).decisions.filter(
    (d) => d.type === type,
  );
}

describe("policy config", () => {
  it("fills every default from an empty object", () => {
    expect(parseHealthPolicyConfig({})._unsafeUnwrap()).toEqual(defaultHealthPolicyConfig);
    expect(defaultHealthPolicyConfig.disable).toEqual({
      floor: 0.15,
      judge: "upper",
      confidence: 0.95,
      minSample: 10,
      scopes: ["service", "service_country"],
    });
    expect(defaultHealthPolicyConfig.targets).toMatchObject({
      successAbove: 0.6,
      cancelBelow: 0.2,
      timeoutBelow: 0.1,
      expiredBelow: 0.15,
    });
    expect(defaultHealthPolicyConfig.alert).toMatchObject({ floor: 0.2, windowMs: DAY });
  });

  it("keeps the other defaults when one field is overridden", () => {
    const c = config({ disable: { floor: 0.3 } });
    expect(c.disable.floor).toBe(0.3);
    expect(c.disable.judge).toBe("upper");
    expect(c.warn).toEqual(defaultHealthPolicyConfig.warn);
  });

  it("rejects a bad config with invalid_input and the path", () => {
    const r = parseHealthPolicyConfig({ disable: { floor: 2 }, alert: { judge: "median" } });
    expect(r.isErr()).toBe(true);
    const e = r._unsafeUnwrapErr();
    expect(e.type).toBe("invalid_input");
    expect(e.issues.map((i) => i.path).sort()).toEqual(["alert.judge", "disable.floor"]);
  });
});

describe("disable", () => {
  it("does not kill 0 out of 2 but kills 0 out of 30 (upper bound at 95 %)", () => {
    const records = [...service("tiny", 0, 2), ...service("dead", 0, 30)];
    const d = decisionsOf("disable", records, { disable: { scopes: ["service"], minSample: 0 } });
    expect(d.map((x) => x.service)).toEqual(["dead"]);
    expect(d[0]).toMatchObject({
      scope: "service",
      country: null,
      judgement: { successes: 0, n: 30, judge: "upper", floor: 0.15 },
    });
    expect(d[0]?.reason).toContain("11.4 %");
  });

  it("fires exactly when the upper bound crosses the floor: 0/21 stays, 0/22 goes", () => {
    const records = [...service("s21", 0, 21), ...service("s22", 0, 22)];
    const d = decisionsOf("disable", records, { disable: { scopes: ["service"] } });
    expect(d.map((x) => x.service)).toEqual(["s22"]);
  });

  it("waits for the minimum sample", () => {
    const judgePoint: HealthPolicyConfigInput["disable"] = {
      judge: "point",
      floor: 0.5,
      scopes: ["service"],
    };
    expect(decisionsOf("disable", service("x", 0, 9), { disable: judgePoint })).toEqual([]);
    expect(decisionsOf("disable", service("x", 0, 10), { disable: judgePoint })).toHaveLength(1);
  });

  it("disables a dead pair without disabling the service that works elsewhere", () => {
    const records = [...service("telegram", 0, 30, "id"), ...service("telegram", 30, 0, "ru")];
    const d = decisionsOf("disable", records);
    expect(d.map((x) => [x.scope, x.service, x.country])).toEqual([["service_country", "telegram", "id"]]);
  });

  it("judges only the history window", () => {
    const old = many(30, { state: "timeout", service: "dead", createdAtMs: NOW - 31 * DAY });
    expect(decisionsOf("disable", old)).toEqual([]);
  });
});

describe("warn", () => {
  it("warns below the second floor, not above it, and not when already disabled", () => {
    const records = [...service("weak", 5, 25), ...service("fine", 8, 22), ...service("dead", 0, 30)];
    const d = decisionsOf("warn", records, {
      warn: { scopes: ["service"] },
      disable: { scopes: ["service"] },
    });
    expect(d.map((x) => x.service)).toEqual(["weak"]);
  });
});

describe("alert", () => {
  it("alerts when the last 24 h success is below 20 %: 0/16 yes, 0/15 no", () => {
    const records = [...service("a16", 0, 16), ...service("a15", 0, 15)];
    const d = decisionsOf("alert", records);
    expect(d.map((x) => x.service)).toEqual(["a16"]);
    expect(d[0]).toMatchObject({ window: { fromMs: NOW - DAY, toMs: NOW } });
  });

  it("ignores activations older than 24 h", () => {
    const records = many(16, { state: "timeout", service: "old", createdAtMs: NOW - DAY - 1 });
    expect(decisionsOf("alert", records)).toEqual([]);
    const edge = many(16, { state: "timeout", service: "edge", createdAtMs: NOW - DAY });
    expect(decisionsOf("alert", edge)).toHaveLength(1);
  });

  it("can judge the point estimate with its own minimum sample", () => {
    const records = [...service("p", 1, 5)];
    expect(decisionsOf("alert", records, { alert: { judge: "point", minSample: 6 } })).toHaveLength(1);
    expect(decisionsOf("alert", records, { alert: { judge: "point", minSample: 7 } })).toEqual([]);
  });
});

describe("cancel pile-up", () => {
  const issued = RECENT + SECOND;
  const cancelAt = (seconds: number, svc = "telegram") =>
    activation({
      state: "cancelled",
      service: svc,
      createdAtMs: RECENT,
      endedAtMs: issued + seconds * SECOND + 500,
    });
  const spread = (n: number) => Array.from({ length: n }, (_, i) => cancelAt(300 + 10 * i));

  it("flags half of the cancels at one second (share at the threshold)", () => {
    const records = [...Array.from({ length: 10 }, () => cancelAt(120)), ...spread(10)];
    const d = decisionsOf("cancel_pile_up", records, { cancelPileUp: { toleranceSeconds: 0 } });
    expect(d.map((x) => x.scope)).toEqual(["all", "service"]);
    expect(d[0]).toMatchObject({
      fromSeconds: 120,
      toSeconds: 120,
      modeSeconds: 120,
      share: { numerator: 10, denominator: 20 },
    });
  });

  it("does not flag a share just below the threshold", () => {
    const records = [...Array.from({ length: 9 }, () => cancelAt(120)), ...spread(11)];
    expect(decisionsOf("cancel_pile_up", records)).toEqual([]);
  });

  it("gathers neighbouring seconds within the tolerance", () => {
    const records = [
      ...Array.from({ length: 6 }, () => cancelAt(119)),
      ...Array.from({ length: 5 }, () => cancelAt(120)),
      ...spread(9),
    ];
    expect(decisionsOf("cancel_pile_up", records, { cancelPileUp: { toleranceSeconds: 0 } })).toEqual([]);
    const d = decisionsOf("cancel_pile_up", records, {
      cancelPileUp: { toleranceSeconds: 1, scopes: ["all"] },
    });
    expect(d).toHaveLength(1);
    expect(d[0]).toMatchObject({
      fromSeconds: 119,
      toSeconds: 120,
      modeSeconds: 119,
      share: { numerator: 11 },
    });
  });

  it("waits for the minimum sample of cancels", () => {
    const records = Array.from({ length: 19 }, () => cancelAt(120));
    expect(decisionsOf("cancel_pile_up", records)).toEqual([]);
    expect(decisionsOf("cancel_pile_up", [...records, cancelAt(120)])).toHaveLength(2);
  });
});

describe("targets", () => {
  function overall(records: ActivationRecord[], input: HealthPolicyConfigInput = {}) {
    const report = evaluateHealthPolicies(records, { nowMs: NOW, config: config(input) });
    const row = report.targets[0];
    if (row === undefined) throw new Error("no overall row");
    return Object.fromEntries(row.checks.map((c) => [c.metric, c.status]));
  }
  const half = () => [
    ...many(50, { state: "received", createdAtMs: RECENT }),
    ...many(50, { state: "cancelled", createdAtMs: RECENT }),
  ];

  it("reports met and missed when the whole interval is on one side", () => {
    expect(overall(half())).toEqual({ success: "missed", cancel: "missed", timeout: "met", expired: "met" });
    expect(overall(many(100, { state: "received", createdAtMs: RECENT }))).toEqual({
      success: "met",
      cancel: "met",
      timeout: "met",
      expired: "met",
    });
  });

  it("reports uncertain when the interval straddles the target", () => {
    const records = [
      ...many(6, { state: "received", createdAtMs: RECENT }),
      ...many(4, { state: "expired", createdAtMs: RECENT }),
    ];
    expect(overall(records).success).toBe("uncertain");
    expect(overall(records, { targets: { judge: "point" } }).success).toBe("missed");
    expect(overall(records, { targets: { judge: "point", successAbove: 0.59 } }).success).toBe("met");
  });

  it("reports an insufficient sample below the minimum", () => {
    expect(overall(many(9, { state: "received", createdAtMs: RECENT })).success).toBe("insufficient_sample");
  });

  it("has an overall row, then one per service", () => {
    const report = evaluateHealthPolicies([...service("b", 1, 0), ...service("a", 1, 0)], { nowMs: NOW });
    expect(report.targets.map((t) => t.service)).toEqual([null, "a", "b"]);
  });
});

describe("createServiceGate", () => {
  const records = [
    ...service("dead", 0, 30, "id"),
    ...service("dead", 0, 30, "ru"),
    ...service("telegram", 0, 30, "id"),
    ...service("telegram", 30, 0, "ru"),
  ];
  const report = evaluateHealthPolicies(records, { nowMs: NOW });
  const gate = createServiceGate(report.decisions);

  it("refuses a service disabled everywhere, in any country", () => {
    const v = gate({ service: "dead", country: "us" });
    expect(v.enabled).toBe(false);
    if (!v.enabled) expect(v.reason).toContain("service dead");
  });

  it("refuses only the disabled pair of a service that works elsewhere", () => {
    expect(gate({ service: "telegram", country: "id" }).enabled).toBe(false);
    expect(gate({ service: "telegram", country: "ru" })).toEqual({ enabled: true });
    expect(gate({ service: "unknown", country: "id" })).toEqual({ enabled: true });
  });

  it("ignores decisions other than disable", () => {
    const warnOnly = report.decisions.filter((d) => d.type !== "disable");
    expect(createServiceGate(warnOnly)({ service: "dead", country: "id" })).toEqual({ enabled: true });
  });
});
