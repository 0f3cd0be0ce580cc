/**
 * Display helpers for people: money in major units with the currency's own decimals, and countries by name beside
 * the provider's code. The analytics keep minor units and codes; only renderings use these.
 */
import { resolveCountry } from "../mapping/default.js";
import type { HealthGroupStats, HealthStats } from "./stats.js";

const digitsCache = new Map<string, number>();

/** Minor-unit digits of an ISO 4217 currency (USD 2, JPY 0, KWD 3); 2 for a code `Intl` does not know. */
export function currencyMinorDigits(currency: string): number {
  let digits = digitsCache.get(currency);
  if (digits === undefined) {
    try {
      digits =
        new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions()
          .maximumFractionDigits ?? 2;
    } catch {
      digits = 2;
    }
    digitsCache.set(currency, digits);
  }
  return digits;
}

/**
 * An amount of minor units in major units with the currency's decimals and its code, exactly (no floating point):
 * `114246, "USD"` → `1,142.46 USD`; `-5, "USD"` → `-0.05 USD`; `500, "JPY"` → `500 JPY`.
 */
export function formatMinorAmount(
  amountMinor: number,
  currency: string,
  digits = currencyMinorDigits(currency),
): string {
  const negative = amountMinor < 0;
  const abs = BigInt(Math.abs(Math.trunc(amountMinor)));
  const scale = 10n ** BigInt(digits);
  const whole = (abs / scale).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const fraction = digits === 0 ? "" : `.${(abs % scale).toString().padStart(digits, "0")}`;
  return `${negative ? "-" : ""}${whole}${fraction} ${currency}`;
}

/** A provider country code with its name: `Indonesia (6)`; the code alone when the catalog does not know it. */
export function countryDisplayName(code: string, provider = "sms-activate"): string {
  const entry = resolveCountry(code, { provider });
  if (entry.isErr() || entry.value.name === code) return code;
  return `${entry.value.name} (${code})`;
}

/** The statistics with every group's label showing countries by name (for tables grouped by country). */
export function withCountryNames(stats: HealthStats, provider = "sms-activate"): HealthStats {
  const at = stats.groupBy.indexOf("country");
  if (at < 0) return stats;
  const relabel = (g: HealthGroupStats): HealthGroupStats => {
    const parts = g.label.split(" × ");
    const country = g.key.country;
    if (country === undefined || parts[at] !== country) return g;
    parts[at] = countryDisplayName(country, provider);
    return { ...g, label: parts.join(" × ") };
  };
  return { ...stats, groups: stats.groups.map(relabel) };
}
