/**
 * sms-fes/otel: an observer that turns the service's events into OpenTelemetry spans and metrics through
 * `@opentelemetry/api` (an optional peer dependency of this entry only). Give it to `createFes` as `observer`.
 */
import {
  type Attributes,
  type Counter,
  type Histogram,
  type Meter,
  metrics,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import type { FesEvent, FesObserver } from "../fes/observer.js";

/** Options of {@link createOtelObserver}. */
export interface OtelObserverOptions {
  /** Default: the global tracer provider's `sms-fes` tracer. */
  readonly tracer?: Tracer;
  /** Default: the global meter provider's `sms-fes` meter. */
  readonly meter?: Meter;
  /** Wall-clock time in epoch ms, for span timestamps (default `Date.now`). */
  readonly now?: () => number;
}

/** The names of the instruments the observer records, for dashboards and alert rules. */
export const otelInstrumentNames = {
  /** Counter of units of work, by `sms_fes.operation`, `sms_fes.outcome`, `sms_fes.error_type`. */
  units: "sms_fes.units",
  /** Counter of provider calls, by operation, `sms_fes.provider`, outcome, error type. */
  providerCalls: "sms_fes.provider.calls",
  /** Histogram of provider call latency in ms, by operation, provider and outcome. */
  providerDuration: "sms_fes.provider.duration",
  /** Histogram of unit-of-work duration in ms, by operation and outcome. */
  unitDuration: "sms_fes.unit.duration",
  /** Counter of sweeps, by outcome. */
  sweeps: "sms_fes.sweeps",
  /** Counter of what sweeps did, by `sms_fes.sweep.result` (`timedOut`, `reconciled`, `errors` …). */
  sweepItems: "sms_fes.sweep.items",
} as const;

interface Instruments {
  readonly units: Counter;
  readonly providerCalls: Counter;
  readonly providerDuration: Histogram;
  readonly unitDuration: Histogram;
  readonly sweeps: Counter;
  readonly sweepItems: Counter;
}

function instruments(meter: Meter): Instruments {
  const n = otelInstrumentNames;
  return {
    units: meter.createCounter(n.units, { description: "Units of work by outcome" }),
    providerCalls: meter.createCounter(n.providerCalls, { description: "Provider calls by outcome" }),
    providerDuration: meter.createHistogram(n.providerDuration, {
      description: "Provider call latency",
      unit: "ms",
    }),
    unitDuration: meter.createHistogram(n.unitDuration, { description: "Unit-of-work duration", unit: "ms" }),
    sweeps: meter.createCounter(n.sweeps, { description: "Sweeps by outcome" }),
    sweepItems: meter.createCounter(n.sweepItems, { description: "What sweeps did, by result" }),
  };
}

/** Metric attributes: low cardinality only (no ids). */
function metricAttributes(event: FesEvent): Attributes {
  const a: Attributes = { "sms_fes.outcome": event.outcome };
  if (event.kind !== "sweep") a["sms_fes.operation"] = event.name;
  if (event.kind === "provider") a["sms_fes.provider"] = event.provider;
  if (event.errorType !== undefined) a["sms_fes.error_type"] = event.errorType;
  return a;
}

/** Span attributes: the metric attributes plus the record ids the event concerns. */
function spanAttributes(event: FesEvent): Attributes {
  const a = metricAttributes(event);
  if (event.kind === "sweep") {
    for (const [k, v] of Object.entries(event.report ?? {})) {
      if (typeof v === "number") a[`sms_fes.sweep.${k}`] = v;
    }
    return a;
  }
  for (const [k, v] of Object.entries(event.ids)) a[`sms_fes.id.${k}`] = v;
  if (event.kind === "unit") a["sms_fes.attempts"] = event.attempts;
  return a;
}

/**
 * An observer that records one span per unit of work, provider call and sweep (ending when the event arrives,
 * started `durationMs` earlier; status error with the error type when it failed), counters of outcomes, and
 * histograms of provider latency and unit duration. Never throws into the caller.
 */
export function createOtelObserver(options: OtelObserverOptions = {}): FesObserver {
  const tracer = options.tracer ?? trace.getTracer("sms-fes");
  const meter = options.meter ?? metrics.getMeter("sms-fes");
  const now = options.now ?? Date.now;
  const m = instruments(meter);
  return {
    onEvent(event) {
      try {
        const endMs = now();
        const name = event.kind === "sweep" ? "sms-fes sweep" : `sms-fes ${event.kind} ${event.name}`;
        const span = tracer.startSpan(name, {
          kind: event.kind === "provider" ? SpanKind.CLIENT : SpanKind.INTERNAL,
          startTime: endMs - event.durationMs,
          attributes: spanAttributes(event),
        });
        if (event.outcome === "error") {
          span.setStatus({ code: SpanStatusCode.ERROR, message: event.errorType ?? "error" });
        }
        span.end(endMs);
        const attributes = metricAttributes(event);
        if (event.kind === "unit") {
          m.units.add(1, attributes);
          m.unitDuration.record(event.durationMs, attributes);
        } else if (event.kind === "provider") {
          m.providerCalls.add(1, attributes);
          m.providerDuration.record(event.durationMs, attributes);
        } else {
          m.sweeps.add(1, attributes);
          for (const [k, v] of Object.entries(event.report ?? {})) {
            if (typeof v === "number" && v > 0) m.sweepItems.add(v, { "sms_fes.sweep.result": k });
          }
        }
      } catch {
        // Telemetry must never fail the operation it reports on.
      }
    },
  };
}
