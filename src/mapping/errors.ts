/**
 * The expected failures of the service and country catalog: plain readonly objects with a `type` discriminant,
 * one constructor each, compared in tests with `toEqual`.
 */
import type { InputIssue } from "../core/errors.js";

/** How an input matched catalog entries: the precedence tiers of resolution, highest first. */
export type MatchTier =
  | "provider_code"
  | "canonical_id"
  | "alias"
  | "display_name"
  | "iso2"
  | "any_provider_code";

/** Every error the catalog returns. */
export type MappingError =
  | {
      readonly type: "unknown_service_code";
      readonly input: string;
      /** The provider the input was resolved for, or `null` when none was given. */
      readonly provider: string | null;
    }
  | { readonly type: "unknown_country_code"; readonly input: string; readonly provider: string | null }
  | {
      readonly type: "ambiguous_service";
      readonly input: string;
      readonly provider: string | null;
      /** The tier at which several entries matched. */
      readonly tier: MatchTier;
      /** The canonical ids that matched, sorted. */
      readonly candidates: readonly string[];
    }
  | {
      readonly type: "ambiguous_country";
      readonly input: string;
      readonly provider: string | null;
      readonly tier: MatchTier;
      readonly candidates: readonly string[];
    }
  | { readonly type: "unknown_provider"; readonly provider: string }
  | { readonly type: "unknown_canonical_id"; readonly id: string }
  | { readonly type: "no_provider_code"; readonly id: string; readonly provider: string }
  | { readonly type: "invalid_catalog"; readonly issues: readonly InputIssue[] };

type Of<T extends MappingError["type"]> = Extract<MappingError, { readonly type: T }>;

/** Constructors, one per mapping error type. */
export const mappingErrors = {
  /** No catalog entry matches the service code. */
  unknownServiceCode: (input: string, provider: string | null): Of<"unknown_service_code"> => ({
    type: "unknown_service_code",
    input,
    provider,
  }),
  /** No catalog entry matches the country code. */
  unknownCountryCode: (input: string, provider: string | null): Of<"unknown_country_code"> => ({
    type: "unknown_country_code",
    input,
    provider,
  }),
  /** Several services match at the same precedence tier. */
  ambiguousService: (
    input: string,
    provider: string | null,
    tier: MatchTier,
    candidates: readonly string[],
  ): Of<"ambiguous_service"> => ({ type: "ambiguous_service", input, provider, tier, candidates }),
  /** Several countries match at the same precedence tier. */
  ambiguousCountry: (
    input: string,
    provider: string | null,
    tier: MatchTier,
    candidates: readonly string[],
  ): Of<"ambiguous_country"> => ({ type: "ambiguous_country", input, provider, tier, candidates }),
  /** The catalog has no code table for this provider. */
  unknownProvider: (provider: string): Of<"unknown_provider"> => ({ type: "unknown_provider", provider }),
  /** No catalog entry has this canonical id. */
  unknownCanonicalId: (id: string): Of<"unknown_canonical_id"> => ({ type: "unknown_canonical_id", id }),
  /** The provider has no code for this canonical id. */
  noProviderCode: (id: string, provider: string): Of<"no_provider_code"> => ({
    type: "no_provider_code",
    id,
    provider,
  }),
  /** The catalog tables failed validation. */
  invalidCatalog: (issues: readonly InputIssue[]): Of<"invalid_catalog"> => ({
    type: "invalid_catalog",
    issues,
  }),
} as const;
