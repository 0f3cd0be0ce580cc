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
