import * as fc from "fast-check";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { quoteIdent, quoteLiteral } from "../../src/postgres/sql.js";

describe("SQL quoting", () => {
  it("quotes any text without NUL as the pg driver's own escapeLiteral does", () => {
    const text = fc
      .array(fc.oneof(fc.constantFrom("'", "\\", "''", "E'", "\\'", "😀"), fc.string({ maxLength: 4 })), {
        maxLength: 10,
      })
      .map((parts) => parts.join("").replaceAll("\u0000", ""));
    fc.assert(
      fc.property(text, (value) => {
        expect(quoteLiteral(value)).toBe(pg.escapeLiteral(value));
      }),
      { numRuns: 2_000 },
    );
  });

  it("refuses NUL in a literal and in an identifier", () => {
    expect(() => quoteLiteral("a\u0000b")).toThrow(RangeError);
    expect(() => quoteIdent("a\u0000b")).toThrow(RangeError);
  });
});
