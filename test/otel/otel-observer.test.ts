import type { Meter, SpanOptions, Tracer } from "@opentelemetry/api";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { describe, expect, it } from "vitest";
import type { FesEvent } from "../../src/fes/observer.js";
import { createOtelObserver, otelInstrumentNames } from "../../src/otel/index.js";

/** A tracer and a meter that keep what they are given. */
function recorder() {
  const spans: {
    name: string;
    options: SpanOptions;
    status?: { code: number; message?: string };
    endMs?: number;
  }[] = [];
  const points: { instrument: string; value: number; attributes: Record<string, unknown> }[] = [];
  const tracer = {
    startSpan(name: string, options: SpanOptions) {
      const span: (typeof spans)[number] = { name, options };
      spans.push(span);
      return {
        setStatus(status: { code: number; message?: string }) {
          span.status = status;
        },
        end(endMs: number) {
          span.endMs = endMs;
        },
      };
    },
  } as unknown as Tracer;
  const instrument = (name: string) => {
    const keep = (value: number, attributes: Record<string, unknown> = {}) =>
      points.push({ instrument: name, value, attributes });
    return { add: keep, record: keep };
  };
  const meter = { createCounter: instrument, createHistogram: instrument } as unknown as Meter;
  return { tracer, meter, spans, points };
}

const providerCall: FesEvent = {
  kind: "provider",
  name: "buyActivation",
  provider: "hero-sms",
  ids: { activationId: "act_1" },
  durationMs: 120,
  outcome: "error",
  errorType: "unknown:timeout",
};

describe("createOtelObserver", () => {
  it("records a provider call as a client span, a counter and a latency histogram", () => {
    const r = recorder();
    const observer = createOtelObserver({ tracer: r.tracer, meter: r.meter, now: () => 10_000 });
    observer.onEvent(providerCall);
    expect(r.spans).toEqual([
      {
        name: "sms-fes provider buyActivation",
        options: {
          kind: SpanKind.CLIENT,
          startTime: 9_880,
          attributes: {
            "sms_fes.outcome": "error",
            "sms_fes.operation": "buyActivation",
            "sms_fes.provider": "hero-sms",
            "sms_fes.error_type": "unknown:timeout",
            "sms_fes.id.activationId": "act_1",
          },
        },
        status: { code: SpanStatusCode.ERROR, message: "unknown:timeout" },
        endMs: 10_000,
      },
    ]);
    const metricAttributes = {
      "sms_fes.outcome": "error",
      "sms_fes.operation": "buyActivation",
      "sms_fes.provider": "hero-sms",
      "sms_fes.error_type": "unknown:timeout",
    };
    expect(r.points).toEqual([
      { instrument: otelInstrumentNames.providerCalls, value: 1, attributes: metricAttributes },
      { instrument: otelInstrumentNames.providerDuration, value: 120, attributes: metricAttributes },
    ]);
  });

  it("keeps ids off metrics (cardinality) and on spans", () => {
    const r = recorder();
    const observer = createOtelObserver({ tracer: r.tracer, meter: r.meter, now: () => 0 });
    observer.onEvent({
      kind: "unit",
      name: "deposit",
      ids: { walletId: "w1" },
      durationMs: 3,
      outcome: "ok",
      attempts: 2,
    });
    expect(r.spans[0]?.options.attributes).toMatchObject({
      "sms_fes.id.walletId": "w1",
      "sms_fes.attempts": 2,
    });
    expect(r.spans[0]?.status).toBeUndefined();
    for (const p of r.points) expect(Object.keys(p.attributes).some((k) => k.includes("id."))).toBe(false);
    expect(r.points.map((p) => p.instrument)).toEqual([
      otelInstrumentNames.units,
      otelInstrumentNames.unitDuration,
    ]);
  });

  it("counts what a sweep did by result", () => {
    const r = recorder();
    const observer = createOtelObserver({ tracer: r.tracer, meter: r.meter, now: () => 0 });
    observer.onEvent({
      kind: "sweep",
      durationMs: 40,
      outcome: "ok",
      report: {
        timedOut: 2,
        receivedLate: 0,
        rentalsExpired: 1,
        reconciled: 0,
        releasedPending: 0,
        retried: 0,
        skipped: 0,
        errors: 0,
        cancelled: 0,
        deferred: 0,
        backedOff: 0,
        failures: [],
        closedOrphans: [],
      },
    });
    expect(r.points).toEqual([
      { instrument: otelInstrumentNames.sweeps, value: 1, attributes: { "sms_fes.outcome": "ok" } },
      {
        instrument: otelInstrumentNames.sweepItems,
        value: 2,
        attributes: { "sms_fes.sweep.result": "timedOut" },
      },
      {
        instrument: otelInstrumentNames.sweepItems,
        value: 1,
        attributes: { "sms_fes.sweep.result": "rentalsExpired" },
      },
    ]);
    expect(r.spans[0]?.options.attributes).toMatchObject({ "sms_fes.sweep.timedOut": 2 });
  });

  it("never throws into the caller when the telemetry backend throws", () => {
    const broken = {
      startSpan() {
        throw new Error("exporter down");
      },
    } as unknown as Tracer;
    const observer = createOtelObserver({ tracer: broken, meter: recorder().meter });
    expect(() => observer.onEvent(providerCall)).not.toThrow();
  });

  it("works on the global no-op API when nothing is registered", () => {
    expect(() => createOtelObserver().onEvent(providerCall)).not.toThrow();
  });
});
