import { err, ok, type Result } from "neverthrow";
import * as z from "zod";
import { type Fraction, multiply, parseDecimal, roundFraction } from "../core/decimal.js";
import { errors, type InvalidInput, issuesFromZod } from "../core/errors.js";

/** What the pricing function is asked to price. */
export interface PriceRequest {
  readonly kind: "activation" | "rental";
  /** Provider codes as sent upstream. */
  readonly service: string;
  readonly country: string;
  /** For rentals and extensions: the hours bought. */
  readonly hours?: number;
  /** The provider's quote: a decimal string in `providerCurrency`. */
  readonly providerPrice: string;
  readonly providerCurrency: string;
  /** The customer's wallet currency. */
  readonly walletCurrency: string;
}

/** A customer price and the provider cost, both in minor units of the wallet currency. */
export interface Price {
  /** What the customer pays: the hold. Rounded up (the platform charges). */
  readonly priceMinor: number;
  /** What the provider charges the platform, converted for margin reports. Rounded to nearest. */
  readonly costMinor: number;
}

/** Why a quote could not be priced. */
export type PricingError =
  | { readonly type: "unpriceable_quote"; readonly reason: string }
  | { readonly type: "no_exchange_rate"; readonly from: string; readonly to: string };

/** Turns a provider quote into the customer price. Pure; pluggable through the service config. */
export type PricingFunction = (request: PriceRequest) => Result<Price, PricingError>;

/** Options of {@link createPricing}. Decimal values are strings to stay exact. */
export const pricingOptionsSchema = z.object({
  /** Units of the wallet currency per unit of the provider currency, keyed `"FROM:TO"` (e.g. `"USD:RUB": "92.5"`). */
  exchangeRates: z.record(z.string(), z.string()).default({}),
  /** Minor-unit digits per wallet currency; 2 when absent. */
  minorDigits: z.record(z.string(), z.number().int().min(0).max(8)).default({}),
  /** Markup on the provider cost in percent, e.g. `"25"`. */
  markupPercent: z.string().default("0"),
  /** The customer price is rounded up to a multiple of this many minor units (e.g. 100 = whole units). */
  roundToMinor: z.number().int().min(1).default(1),
  /** A minimum customer price in minor units. */
  minimumPriceMinor: z.number().int().min(0).default(0),
  /** Fixed customer prices per provider service code (the cost is still converted for margins). */
  fixedPriceMinor: z.record(z.string(), z.number().int().min(1)).default({}),
});

/** Options of {@link createPricing}, as a caller writes them. */
export type PricingOptions = z.input<typeof pricingOptionsSchema>;

/**
 * The default pricing: cost = provider price × exchange rate, rounded to the nearest minor unit (a report figure);
 * customer price = cost × (1 + markup), rounded **up** to `roundToMinor` and at least `minimumPriceMinor`.
 * Rounding rule of the library: what the platform charges rounds up, what it pays out (cashback, pro-rata refunds)
 * rounds down.
 */
export function createPricing(options: PricingOptions = {}): Result<PricingFunction, InvalidInput> {
  const parsed = pricingOptionsSchema.safeParse(options);
  if (!parsed.success) return err(errors.invalidInput(issuesFromZod(parsed.error.issues)));
  const markup = parseDecimal(parsed.data.markupPercent);
  if (markup === undefined) {
    return err(
      errors.invalidInput([{ path: "markupPercent", message: "markupPercent must be a decimal string" }]),
    );
  }
  for (const [pair, rate] of Object.entries(parsed.data.exchangeRates)) {
    if (parseDecimal(rate) === undefined) {
      return err(
        errors.invalidInput([{ path: `exchangeRates.${pair}`, message: "a rate must be a decimal string" }]),
      );
    }
  }
  return ok(pricingFrom(parsed.data, markup));
}

/** A table's own entry: a code such as `__proto__` or `toString` must never read the prototype. */
function own<V>(table: Readonly<Record<string, V>>, key: string): V | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

/** The pricing of validated options. */
function pricingFrom(o: z.output<typeof pricingOptionsSchema>, markup: Fraction): PricingFunction {
  const factor: Fraction = {
    numerator: markup.denominator * 100n + markup.numerator,
    denominator: markup.denominator * 100n,
  };
  return (request) => {
    const price = parseDecimal(request.providerPrice);
    if (price === undefined) {
      return err({ type: "unpriceable_quote", reason: `not a decimal price: ${request.providerPrice}` });
    }
    let rate: Fraction | undefined = { numerator: 1n, denominator: 1n };
    if (request.providerCurrency !== request.walletCurrency) {
      const text = own(o.exchangeRates, `${request.providerCurrency}:${request.walletCurrency}`);
      rate = text === undefined ? undefined : parseDecimal(text);
      if (rate === undefined) {
        return err({ type: "no_exchange_rate", from: request.providerCurrency, to: request.walletCurrency });
      }
    }
    const minorScale: Fraction = {
      numerator: 10n ** BigInt(own(o.minorDigits, request.walletCurrency) ?? 2),
      denominator: 1n,
    };
    const costMinorExact = multiply(multiply(price, rate), minorScale);
    const costMinor = roundFraction(costMinorExact, "nearest");
    const fixed = own(o.fixedPriceMinor, request.service);
    let priceMinor =
      fixed === undefined ? roundFraction(multiply(costMinorExact, factor), "ceil") : BigInt(fixed);
    const step = BigInt(o.roundToMinor);
    priceMinor = ((priceMinor + step - 1n) / step) * step;
    if (priceMinor < BigInt(o.minimumPriceMinor)) priceMinor = BigInt(o.minimumPriceMinor);
    if (priceMinor <= 0n) return err({ type: "unpriceable_quote", reason: "the price rounds to zero" });
    if (priceMinor > BigInt(Number.MAX_SAFE_INTEGER))
      return err({ type: "unpriceable_quote", reason: "price overflow" });
    return ok({ priceMinor: Number(priceMinor), costMinor: Number(costMinor) });
  };
}

/** The default pricing: the provider's price converted 1:1, no markup, rounded up to the minor unit. */
export const defaultPricing: PricingFunction = pricingFrom(pricingOptionsSchema.parse({}), {
  numerator: 0n,
  denominator: 1n,
});
