import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  defaultCatalog,
  defaultCatalogTables,
  resolveCountry,
  resolveService,
  toProviderCode,
} from "../../src/mapping/index.js";
import { codeKey, lookupKey } from "../../src/mapping/normalize.js";

const providers = Object.entries(defaultCatalogTables.providers);

describe("round trips through every provider map", () => {
  for (const [provider, table] of providers) {
    for (const kind of ["services", "countries"] as const) {
      const resolve = kind === "services" ? resolveService : resolveCountry;
      const pairs = Object.entries(table[kind]).map(
        ([id, codes]) => [id, typeof codes === "string" ? codes : codes[0]] as const,
      );

      it(`${provider} ${kind}: canonical → provider code → canonical`, () => {
        fc.assert(
          fc.property(fc.constantFrom(...pairs), ([id]) => {
            const code = toProviderCode(id, provider)._unsafeUnwrap();
            expect(resolve(code, { provider })._unsafeUnwrap().id).toBe(id);
          }),
          { numRuns: pairs.length * 2 },
        );
      });

      it(`${provider} ${kind}: provider code in any case and padding → canonical → the same code`, () => {
        fc.assert(
          fc.property(
            fc.constantFrom(...pairs),
            fc.boolean(),
            fc.constantFrom("", " ", "\t"),
            ([, code], upper, pad) => {
              const spelled = `${pad}${upper ? code.toUpperCase() : code}${pad}`;
              const id = resolve(spelled, { provider })._unsafeUnwrap().id;
              expect(toProviderCode(id, provider)._unsafeUnwrap()).toBe(code);
            },
          ),
          { numRuns: pairs.length * 2 },
        );
      });
    }
  }
});

describe("canonical ids and display names", () => {
  const { services, countries } = defaultCatalog();

  it("every canonical id resolves to itself, with or without a provider", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...services, ...countries),
        fc.constantFrom(undefined, ...providers.map(([p]) => p)),
        (entry, provider) => {
          const options = provider === undefined ? {} : { provider };
          const resolved =
            entry.kind === "service" ? resolveService(entry.id, options) : resolveCountry(entry.id, options);
          // A provider code of the given provider outranks canonical ids: allow it only where it is one.
          const p = provider === undefined ? undefined : defaultCatalogTables.providers[provider];
          const shadowing = Object.entries(
            entry.kind === "service" ? (p?.services ?? {}) : (p?.countries ?? {}),
          ).find(([id, code]) => id !== entry.id && [code].flat().includes(entry.id));
          expect(resolved._unsafeUnwrap().id).toBe(shadowing?.[0] ?? entry.id);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("a display name resolves in any case and spacing (or is ambiguous, naming the entry)", () => {
    const withNames = [...services, ...countries].filter((e) => lookupKey(e.name) !== "");
    fc.assert(
      fc.property(
        fc.constantFrom(...withNames),
        fc.array(fc.boolean(), { minLength: 64, maxLength: 64 }),
        fc.constantFrom("", " ", "  ", "-", "_"),
        (entry, uppers, gap) => {
          const spelled = [...entry.name]
            .map((ch, i) => (uppers[i % 64] ? ch.toUpperCase() : ch.toLowerCase()))
            .join(gap);
          const resolved = entry.kind === "service" ? resolveService(spelled) : resolveCountry(spelled);
          if (resolved.isOk()) {
            expect([spelled, resolved.value.id]).toEqual([spelled, entry.id]);
          } else {
            const error = resolved.error;
            expect(error.type === "ambiguous_service" || error.type === "ambiguous_country").toBe(true);
            expect("candidates" in error && error.candidates).toContain(entry.id);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe("no silent default", () => {
  const russia = defaultCatalog().resolveCountry("ru")._unsafeUnwrap();
  const spellings = new Set([russia.name, ...russia.aliases].map(lookupKey));
  const isRussiaSpelling = (input: string, provider: string | undefined): boolean => {
    const codes = providers
      .filter(([p]) => provider === undefined || p === provider)
      .flatMap(([, t]) => [t.countries.ru ?? []].flat());
    return (
      input.trim() === "ru" ||
      input.trim().toUpperCase() === "RU" ||
      spellings.has(lookupKey(input.trim())) ||
      codes.includes(codeKey(input))
    );
  };

  it("an input resolves to Russia only when it is a spelling of Russia", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.string({ unit: "grapheme" }),
          fc.constantFrom(
            "0",
            "00",
            " 0",
            "-0",
            "0.0",
            "+7",
            "7",
            "russia",
            "Russia",
            "RU",
            "rus",
            "null",
            "undefined",
          ),
        ),
        fc.constantFrom(undefined, "sms-activate", "5sim"),
        (input, provider) => {
          const resolved = resolveCountry(input, provider === undefined ? {} : { provider });
          if (resolved.isOk() && resolved.value.id === "ru")
            expect(isRussiaSpelling(input, provider)).toBe(true);
          if (isRussiaSpelling(input, provider)) expect(resolved._unsafeUnwrap().id).toBe("ru");
        },
      ),
      { numRuns: 3000 },
    );
  });
});
