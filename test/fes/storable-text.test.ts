import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import * as z from "zod";
import { findUnstorableText, isStorableText, storableText } from "../../src/core/storable-text.js";

describe("storable text", () => {
  it("refuses NUL and lone surrogates, accepts surrogate pairs and other text", () => {
    for (const bad of ["\u0000", "a\u0000b", "\ud800", "x\udbff", "\udc00", "\udfffy", "\ude00\ud83d"])
      expect(isStorableText(bad), JSON.stringify(bad)).toBe(false);
    for (const good of ["", "plain", "é ü ß", "😀", "a\ud83d\ude00b", "\u0001 tab\t", "\ufffd"])
      expect(isStorableText(good), JSON.stringify(good)).toBe(true);
  });

  it("is a zod check with a clear message", () => {
    const schema = z.string().max(10).check(storableText);
    expect(schema.safeParse("ok").success).toBe(true);
    expect(schema.safeParse("a\u0000").error?.issues[0]?.message).toBe("text contains the NUL character");
    expect(schema.safeParse("\ud800").error?.issues[0]?.message).toBe(
      "text contains a lone UTF-16 surrogate",
    );
  });

  it("finds unstorable text anywhere in a record, keys included, with its path", () => {
    expect(findUnstorableText({ a: [1, { b: "fine" }] })).toBeUndefined();
    expect(findUnstorableText({ a: [1, { b: "x\u0000" }] })).toBe("a[1].b contains the NUL character");
    expect(findUnstorableText({ "k\ud800": 1 })).toMatch(/a key\) contains a lone UTF-16 surrogate/);
  });
});

describe("storable text, for any UTF-16 text", () => {
  // A lone surrogate has no UTF-8 form, so `encodeURIComponent` (which encodes UTF-8) refuses it.
  const reference = (text: string) => {
    if (text.includes("\u0000")) return false;
    try {
      encodeURIComponent(text);
      return true;
    } catch {
      return false;
    }
  };

  it("is storable exactly when it has no NUL and every surrogate is paired", () => {
    const unit = fc.oneof(
      fc.constantFrom("\u0000", "\ud800", "\udbff", "\udc00", "\udfff", "\ud83d\ude00", "a", "'"),
      fc.string({ unit: "binary", maxLength: 3 }),
    );
    fc.assert(
      fc.property(fc.array(unit, { maxLength: 12 }), (parts) => {
        const text = parts.join("");
        expect(isStorableText(text)).toBe(reference(text));
      }),
      { numRuns: 2_000 },
    );
  });
});
