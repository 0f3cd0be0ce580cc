import type { ProviderCapabilities } from "../port.js";

/** Protocol features that differ between providers of the `handler_api` family. */
export interface SmsActivateFeatures {
  /** Buy with `getNumberV2` (JSON with the cost); falls back to `getNumber` only on `BAD_ACTION`. */
  readonly numberV2: boolean;
  /** Fetch the SMS text with `getStatusV2` once `getStatus` reports a code. */
  readonly statusV2: boolean;
  /** Send a rental's hours as `duration` too (HeroSMS's name), beside `rent_time`. */
  readonly rentDuration?: boolean;
}

/** A provider's defaults: endpoint, currency, zone of its zone-less dates, capabilities and features. */
export interface SmsActivatePreset {
  /** The `handler_api.php` URL, or `null` when it must be given. */
  readonly baseUrl: string | null;
  /** Currency of prices and costs. */
  readonly currency: string;
  /** Zone of zone-less dates in answers (`endDate`, `activationEndTime`), minutes east of UTC. */
  readonly dateZoneOffsetMinutes: number;
  readonly capabilities: ProviderCapabilities;
  readonly features: SmsActivateFeatures;
}

const twentyMinutes = 20 * 60_000;

/**
 * Presets. HeroSMS took over the protocol (same path, other host) and states the deadline in `getNumberV2`;
 * `sms-activate` is the original service's dialect (shut down at the end of 2025, still spoken by clones, with
 * `orderId` idempotency); `generic` is a compatible shop with the common subset. Zones of zone-less dates are
 * assumptions to check against the provider: a wrong zone only matters where the adapter must read a provider
 * date (`continueRentNumber`'s and `getRentList`'s `endDate`, `activationEndTime`, which is sanity-checked).
 * Rentals last 4–1344 hours (`rent_time`, default 4; `INVALID_TIME` outside); an extension adds 2–1344 hours
 * (`continueRentNumber`), refused past the maximum with `MAX_HOURS_EXCEED`.
 */
export const smsActivatePresets = {
  "hero-sms": {
    baseUrl: "https://hero-sms.com/stubs/handler_api.php",
    currency: "USD",
    dateZoneOffsetMinutes: 0,
    capabilities: {
      name: "hero-sms",
      earlyCancelWindowMs: 120_000,
      activationLifetimeMs: twentyMinutes,
      rentRefundWindowMs: twentyMinutes,
      supportsOrderId: false,
      supportsAnotherCode: true,
      supportsRent: true,
      rentHours: { min: 4, max: 1344 },
      extendHours: { min: 2, max: 1344 },
    },
    features: { numberV2: true, statusV2: true, rentDuration: true },
  },
  "sms-activate": {
    baseUrl: "https://api.sms-activate.ae/stubs/handler_api.php",
    currency: "RUB",
    dateZoneOffsetMinutes: 180,
    capabilities: {
      name: "sms-activate",
      earlyCancelWindowMs: 120_000,
      activationLifetimeMs: twentyMinutes,
      rentRefundWindowMs: twentyMinutes,
      supportsOrderId: true,
      supportsAnotherCode: true,
      supportsRent: true,
      rentHours: { min: 4, max: 1344 },
      extendHours: { min: 2, max: 1344 },
    },
    features: { numberV2: true, statusV2: true },
  },
  generic: {
    baseUrl: null,
    currency: "RUB",
    dateZoneOffsetMinutes: 0,
    capabilities: {
      name: "sms-activate-compatible",
      earlyCancelWindowMs: 120_000,
      activationLifetimeMs: twentyMinutes,
      rentRefundWindowMs: twentyMinutes,
      supportsOrderId: false,
      supportsAnotherCode: true,
      supportsRent: true,
      rentHours: { min: 4, max: 1344 },
      extendHours: { min: 2, max: 1344 },
    },
    features: { numberV2: true, statusV2: false },
  },
} as const satisfies Record<string, SmsActivatePreset>;

/** The name of a preset. */
export type SmsActivatePresetName = keyof typeof smsActivatePresets;

/** ISO 4217 numeric codes seen in `getNumberV2`'s `currency`. */
export const NUMERIC_CURRENCIES: Readonly<Record<string, string>> = {
  "840": "USD",
  "643": "RUB",
  "978": "EUR",
  "156": "CNY",
  "356": "INR",
  "360": "IDR",
};
