import type { ActivationRecord, ActivationState } from "../../src/core/records.js";

/** 2024-03-01T00:00:00Z: a fixed origin for handcrafted records. */
export const T0 = Date.UTC(2024, 2, 1);
export const SECOND = 1000;
export const MINUTE = 60_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;

let counter = 0;

/** An activation record with sensible defaults; times are derived from `createdAtMs` unless given. */
export function activation(over: Partial<ActivationRecord> & { state: ActivationState }): ActivationRecord {
  counter++;
  const createdAtMs = over.createdAtMs ?? T0;
  const issued = over.state === "failed" || over.state === "pending" ? null : createdAtMs + SECOND;
  const ended = over.state === "pending" || over.state === "waiting" ? null : createdAtMs + 5 * MINUTE;
  return {
    id: `a${counter}`,
    walletId: "w1",
    provider: "hero",
    providerActivationId: issued === null ? null : `p${counter}`,
    serviceCode: "tg",
    countryCode: "6",
    service: "telegram",
    country: "id",
    phone: issued === null ? null : "62800000000",
    priceMinor: 100,
    costMinor: null,
    currency: "USD",
    codes: over.state === "received" ? ["12345"] : [],
    lateCodes: [],
    holdId: `h-${counter}`,
    retryOf: null,
    failureReason: null,
    issuedAtMs: issued,
    firstCodeAtMs: over.state === "received" && issued !== null ? issued + 30 * SECOND : null,
    endedAtMs: ended,
    closedAtMs: ended,
    deadlineAtMs: createdAtMs + 20 * MINUTE,
    cashbackMinor: 0,
    version: 1,
    ...over,
    createdAtMs,
  };
}

/** `count` activations of one state with the same overrides. */
export function many(
  count: number,
  over: Partial<ActivationRecord> & { state: ActivationState },
): ActivationRecord[] {
  return Array.from({ length: count }, () => activation(over));
}
