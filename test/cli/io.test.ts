import { describe, expect, it } from "vitest";
import { CliExit, parseCommand, parseDurationMs, redactUrl, scrub } from "../../src/cli/io.js";

describe("the command line's helpers", () => {
  it("reads durations in ms, s, m, h and d, and refuses anything else as a usage error", () => {
    expect(["250", "30s", "5m", "24h", "7d"].map((t) => parseDurationMs(t, "--x"))).toEqual([
      250, 30_000, 300_000, 86_400_000, 604_800_000,
    ]);
    for (const bad of ["", "0s", "-5m", "1w", "5 minutes", "1e3"]) {
      expect(() => parseDurationMs(bad, "--window")).toThrow(CliExit);
    }
  });

  it("hides a database password, also one given as a query parameter", () => {
    expect(redactUrl("postgres://app:hunter2@db.internal:5432/shop")).toBe(
      "postgres://app:***@db.internal:5432/shop",
    );
    expect(redactUrl("postgres://app@db/shop?password=hunter2&sslmode=require")).not.toContain("hunter2");
    expect(redactUrl("not a url")).toBe("<unparseable URL>");
  });

  it("scrubs every secret from a message", () => {
    expect(scrub("key abcd1234 in abcd1234", ["abcd1234", undefined])).toBe("key *** in ***");
  });

  it("refuses unknown options and stray arguments with exit code 2", () => {
    const options = { json: { type: "boolean" } } as const;
    expect(parseCommand(["--json"], options).values).toEqual({ json: true });
    for (const args of [["--nope"], ["stray"]]) {
      let thrown: unknown;
      try {
        parseCommand(args, options);
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toBeInstanceOf(CliExit);
      expect((thrown as CliExit).code).toBe(2);
    }
  });
});
