import type { SweepReport } from "./sweep-report.js";

/**
 * What the service reports to an observer: every unit of work, every provider call and every sweep, with its name,
 * the ids it concerns, its duration from a monotonic timer (never the business clock) and its outcome. No secrets:
 * ids are the library's own record ids and the caller's wallet ids, never keys, codes or phone numbers.
 */
export type FesEvent =
  | {
      readonly kind: "unit";
      /** The operation, e.g. `deposit`, `buyActivation.reserve`, `sweep.timeout`. */
      readonly name: string;
      readonly ids: Readonly<Record<string, string>>;
      readonly durationMs: number;
      readonly outcome: "ok" | "error";
      /** The error's `type` when `outcome` is `error`. */
      readonly errorType?: string;
      /** How many times the unit of work ran (reruns after storage conflicts). */
      readonly attempts: number;
    }
  | {
      readonly kind: "provider";
      /** The port method, e.g. `buyActivation`, `getActivationStatus`. */
      readonly name: string;
      /** The provider's capability name. */
      readonly provider: string;
      readonly ids: Readonly<Record<string, string>>;
      readonly durationMs: number;
      readonly outcome: "ok" | "error";
      /** `class:reason` of the provider failure when `outcome` is `error`. */
      readonly errorType?: string;
    }
  | {
      readonly kind: "sweep";
      readonly durationMs: number;
      readonly outcome: "ok" | "error";
      readonly report?: SweepReport;
      readonly errorType?: string;
    };

/** Receives {@link FesEvent}s. Called synchronously; an observer that throws is ignored, never the caller's failure. */
export interface FesObserver {
  onEvent(event: FesEvent): void;
}
