import { describe, expect, it } from "vitest";
import type { FesEvent } from "../../src/fes/observer.js";
import { createLoggerObserver, type LoggerLike } from "../../src/observe/logger.js";

function logger() {
  const lines: { level: string; args: unknown[] }[] = [];
  const at =
    (level: string) =>
    (...args: unknown[]) =>
      lines.push({ level, args });
  const log: LoggerLike = { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
  return { log, lines };
}

const ok: FesEvent = {
  kind: "unit",
  name: "deposit",
  ids: { walletId: "w1" },
  durationMs: 2.4,
  outcome: "ok",
  attempts: 1,
};
const failed: FesEvent = {
  kind: "provider",
  name: "buyActivation",
  provider: "hero-sms",
  ids: { activationId: "a1" },
  durationMs: 15_000,
  outcome: "error",
  errorType: "unknown:timeout",
};

describe("createLoggerObserver", () => {
  it("writes console-shaped lines: message first, then the fields", () => {
    const { log, lines } = logger();
    createLoggerObserver(log, { level: "debug" }).onEvent(ok);
    expect(lines).toEqual([
      {
        level: "debug",
        args: [
          "sms-fes unit deposit ok in 2 ms",
          {
            event: "deposit",
            kind: "unit",
            durationMs: 2.4,
            outcome: "ok",
            ids: { walletId: "w1" },
            attempts: 1,
          },
        ],
      },
    ]);
  });

  it("writes pino-shaped lines: fields first, and an unknown provider outcome as an error", () => {
    const { log, lines } = logger();
    createLoggerObserver(log, { shape: "pino" }).onEvent(failed);
    expect(lines[0]?.level).toBe("error");
    expect(lines[0]?.args[0]).toMatchObject({
      event: "buyActivation",
      provider: "hero-sms",
      errorType: "unknown:timeout",
    });
    expect(lines[0]?.args[1]).toBe("sms-fes provider buyActivation failed (unknown:timeout) in 15000 ms");
  });

  it("drops events below the level (successful units are debug)", () => {
    const { log, lines } = logger();
    const observer = createLoggerObserver(log);
    observer.onEvent(ok);
    observer.onEvent({ ...ok, outcome: "error", errorType: "insufficient_funds" });
    expect(lines.map((l) => l.level)).toEqual(["warn"]);
  });

  it("ignores a logger that throws", () => {
    const broken: LoggerLike = {
      debug() {},
      info() {},
      warn() {},
      error() {
        throw new Error("disk full");
      },
    };
    expect(() => createLoggerObserver(broken).onEvent(failed)).not.toThrow();
  });
});
