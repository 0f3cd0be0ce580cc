import type { FesEvent, FesObserver } from "../fes/observer.js";

/** The levels the logger observer writes at. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Any logger with these four methods: `console`, pino, winston, bunyan … */
export type LoggerLike = { readonly [L in LogLevel]: (...args: unknown[]) => void };

/** Options of {@link createLoggerObserver}. */
export interface LoggerObserverOptions {
  /**
   * How a line is passed: `console` calls `logger.info(message, fields)`; `pino` calls `logger.info(fields,
   * message)` (pino, bunyan). Default `console`.
   */
  readonly shape?: "console" | "pino";
  /** Events below this level are dropped (default `info`: successful units and calls are `debug`). */
  readonly level?: LogLevel;
}

const RANK: Readonly<Record<LogLevel, number>> = { debug: 0, info: 1, warn: 2, error: 3 };

/** The fields of a log line for an event: name, ids, duration, outcome, error type; never a key or a code. */
export function fesEventFields(event: FesEvent): Record<string, unknown> {
  const base: Record<string, unknown> = {
    kind: event.kind,
    durationMs: event.durationMs,
    outcome: event.outcome,
  };
  if (event.errorType !== undefined) base.errorType = event.errorType;
  if (event.kind === "sweep") {
    if (event.report !== undefined) base.report = event.report;
    return { event: "sweep", ...base };
  }
  base.ids = event.ids;
  if (event.kind === "unit") base.attempts = event.attempts;
  else base.provider = event.provider;
  return { event: event.name, ...base };
}

/**
 * The level of an event: a provider call that failed fatally or with an unknown outcome, or a failed sweep, is
 * `error`; any other failure `warn`; a sweep `info`; a successful unit or call `debug`.
 */
export function fesEventLevel(event: FesEvent): LogLevel {
  if (event.outcome === "error") {
    if (event.kind === "sweep") return "error";
    if (event.kind === "provider" && /^(fatal|unknown):/.test(event.errorType ?? "")) return "error";
    return "warn";
  }
  return event.kind === "sweep" ? "info" : "debug";
}

function message(event: FesEvent): string {
  const what = event.kind === "sweep" ? "sweep" : `${event.kind} ${event.name}`;
  const how = event.outcome === "ok" ? "ok" : `failed (${event.errorType ?? "error"})`;
  return `sms-fes ${what} ${how} in ${Math.round(event.durationMs)} ms`;
}

/** An observer that writes every event to a logger. A logger that throws is ignored. */
export function createLoggerObserver(logger: LoggerLike, options: LoggerObserverOptions = {}): FesObserver {
  const min = RANK[options.level ?? "info"];
  const pino = options.shape === "pino";
  return {
    onEvent(event) {
      const level = fesEventLevel(event);
      if (RANK[level] < min) return;
      const fields = fesEventFields(event);
      try {
        if (pino) logger[level](fields, message(event));
        else logger[level](message(event), fields);
      } catch {
        // A broken logger must never fail the operation it reports on.
      }
    },
  };
}
