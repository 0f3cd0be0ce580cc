import { err, errAsync, ok, type Result, ResultAsync } from "neverthrow";
import * as z from "zod";
import type { Clock } from "../core/clock.js";
import { errors, type InvalidInput, issuesFromZod, type ProviderUnavailable } from "../core/errors.js";
import type { Provider, ProviderFailure, ProviderResult, Quote } from "../provider/port.js";
import type { PricingError, PricingFunction } from "./pricing.js";

/** A customer price shown before the purchase: the platform's pricing applied to the provider's quote. */
export interface PriceQuote {
  /** Provider codes, as passed to `quote`. */
  readonly service: string;
  readonly country: string;
  /** What the customer would pay, in minor units of `currency`. */
  readonly priceMinor: number;
  /** What the provider would charge the platform, converted (for margins; never shown to a customer). */
  readonly costMinor: number;
  /** The wallet currency the price is in. */
  readonly currency: string;
  /** Numbers in stock upstream; 0 means the pair cannot be bought right now. */
  readonly stock: number;
  /** When the provider was asked (the cache may serve it until `quotedAtMs + ttlMs`). */
  readonly quotedAtMs: number;
}

/** Why a price could not be given. */
export type PriceQuoteError = InvalidInput | ProviderUnavailable | PricingError;

/** One line of {@link PriceList.priceList}: the quote, or why the pair has none right now. */
export type PriceListEntry =
  | ({ readonly available: true } & PriceQuote)
  | {
      readonly available: false;
      readonly service: string;
      readonly country: string;
      readonly error: Exclude<PriceQuoteError, InvalidInput>;
    };

/** The prices a storefront shows: one pair, or every pair it sells. */
export interface PriceList {
  /** The customer price of one activation of `service` in `country` (provider codes). */
  quote(query: { service: string; country: string }): ResultAsync<PriceQuote, PriceQuoteError>;
  /**
   * The customer prices of `pairs` (default: the configured pairs), quoted concurrently; a pair the provider
   * cannot price is listed with its error instead of failing the whole list.
   */
  priceList(
    pairs?: readonly { service: string; country: string }[],
  ): ResultAsync<readonly PriceListEntry[], InvalidInput>;
}

/** Options of {@link createPriceList}. */
export interface PriceListOptions {
  readonly provider: Pick<Provider, "quote">;
  readonly pricing: PricingFunction;
  readonly clock: Clock;
  /** The currency customers pay in (the wallet currency). */
  readonly currency: string;
  /** How long a provider quote is reused (default 30 s): prices move, so keep it short. */
  readonly ttlMs?: number;
  /** The pairs `priceList()` lists when called without any. */
  readonly pairs?: readonly { service: string; country: string }[];
}

const code = z.string().trim().min(1).max(64);
const pairSchema = z.object({ service: code, country: code });
const pairsSchema = z.array(pairSchema).max(10_000);

/** A provider failure as the caller sees it: nothing was bought. */
function unavailable(failure: ProviderFailure): ProviderUnavailable {
  if (failure.class === "retryable") return errors.providerUnavailable(failure.reason, failure.retryAfterMs);
  return errors.providerUnavailable(
    failure.class === "declined" ? failure.reason : `${failure.class}:${failure.reason}`,
  );
}

function parse<S extends z.ZodType>(schema: S, input: unknown): Result<z.output<S>, InvalidInput> {
  const parsed = schema.safeParse(input);
  return parsed.success ? ok(parsed.data) : err(errors.invalidInput(issuesFromZod(parsed.error.issues)));
}

/**
 * A price list over the provider's quotes: each quote is priced with the platform's pricing and the provider's
 * answer is cached for `ttlMs` (a `Map` keyed by the pair, so no code can reach an object's prototype). Concurrent
 * requests for one pair share one provider call. Failures are not cached.
 */
export function createPriceList(options: PriceListOptions): PriceList {
  const ttlMs = options.ttlMs ?? 30_000;
  const cache = new Map<string, { readonly quote: Quote; readonly atMs: number }>();
  const inFlight = new Map<string, Promise<ProviderResult<{ quote: Quote; atMs: number }>>>();

  const providerQuote = (service: string, country: string) => {
    const key = `${service}\u0000${country}`;
    const nowMs = options.clock.now();
    const hit = cache.get(key);
    if (hit !== undefined && nowMs - hit.atMs < ttlMs) return Promise.resolve(ok(hit));
    let pending = inFlight.get(key);
    if (pending === undefined) {
      pending = (async (): Promise<ProviderResult<{ quote: Quote; atMs: number }>> => {
        try {
          const answer = await options.provider.quote({ service, country });
          if (answer.isErr()) return err(answer.error);
          const entry = { quote: answer.value, atMs: nowMs };
          cache.set(key, entry);
          return ok(entry);
        } catch (e) {
          return err({
            class: "unknown",
            reason: "exception",
            detail: e instanceof Error ? e.name : typeof e,
          });
        } finally {
          inFlight.delete(key);
        }
      })();
      inFlight.set(key, pending);
    }
    return pending;
  };

  const priced = (service: string, country: string): ResultAsync<PriceQuote, PriceQuoteError> =>
    new ResultAsync(
      providerQuote(service, country).then((answer): Result<PriceQuote, PriceQuoteError> => {
        if (answer.isErr()) return err(unavailable(answer.error));
        const { quote, atMs } = answer.value;
        let price: ReturnType<PricingFunction>;
        try {
          price = options.pricing({
            kind: "activation",
            service,
            country,
            providerPrice: quote.price,
            providerCurrency: quote.currency,
            walletCurrency: options.currency,
          });
        } catch (e) {
          return err({
            type: "unpriceable_quote",
            reason: `the pricing threw: ${e instanceof Error ? e.message : String(e)}`,
          });
        }
        if (price.isErr()) return err(price.error);
        return ok({
          service,
          country,
          priceMinor: price.value.priceMinor,
          costMinor: price.value.costMinor,
          currency: options.currency,
          stock: quote.stock,
          quotedAtMs: atMs,
        });
      }),
    );

  return {
    quote(query) {
      const parsed = parse(pairSchema, query);
      if (parsed.isErr()) return errAsync(parsed.error);
      return priced(parsed.value.service, parsed.value.country);
    },
    priceList(pairs) {
      const parsed = parse(pairsSchema, pairs ?? options.pairs ?? []);
      if (parsed.isErr()) return errAsync(parsed.error);
      return new ResultAsync(
        Promise.all(
          parsed.value.map(({ service, country }) =>
            priced(service, country).match(
              (q): PriceListEntry => ({ available: true, ...q }),
              (error): PriceListEntry => ({
                available: false,
                service,
                country,
                error: error as Exclude<PriceQuoteError, InvalidInput>,
              }),
            ),
          ),
        ).then((entries) => ok<readonly PriceListEntry[], InvalidInput>(entries)),
      );
    },
  };
}
