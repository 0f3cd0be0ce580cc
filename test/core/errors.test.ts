import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { errors, formatFesError } from "../../src/core/errors.js";
import { createFes } from "../../src/fes/service.js";
import { createMemoryStorage } from "../../src/memory/index.js";
import { createSmsActivateProvider } from "../../src/provider/sms-activate/index.js";
import { ManualClock } from "../../src/testing/manual-clock.js";

describe("readable errors", () => {
  it("every constructor keeps its type and sets a one-line message", () => {
    const samples = [
      errors.invalidInput([{ path: "amountMinor", message: "Too small" }]),
      errors.walletNotFound("w"),
      errors.walletExists("w", "USD"),
      errors.currencyMismatch("USD", "EUR"),
      errors.insufficientFunds("w", 40, 60),
      errors.idempotencyConflict("k"),
      errors.holdNotFound("h"),
      errors.holdExists("h"),
      errors.holdNotOpen("h", "settled"),
      errors.settleExceedsHold("h", 10, 20),
      errors.reversalExceedsSettled("op", 10, 5, 6),
      errors.activationNotFound("a"),
      errors.rentalNotFound("r"),
      errors.transitionNotAllowed("received", "cancel"),
      errors.tooEarlyToCancel(90_500),
      errors.serviceDisabled("whatsapp", "ru", "success below the floor"),
      errors.purchaseFailed("act:1", "no_numbers"),
      errors.providerUnavailable("timeout", 2_000, "timeout: no answer within 15000 ms"),
      errors.storageFailure("connection terminated", "57P01"),
    ];
    for (const e of samples) {
      expect(e.message.length, e.type).toBeGreaterThan(10);
      expect(e.message, e.type).not.toContain("\n");
      expect(formatFesError(e)).toBe(`${e.type}: ${e.message}`);
    }
    expect(errors.insufficientFunds("w", 40, 60).message).toBe(
      'wallet "w" has 40 available (minor units), 60 requested; nothing moved',
    );
    expect(errors.tooEarlyToCancel(90_500).message).toContain("retry in 91 s");
  });

  it("formats error objects without a message by their fields", () => {
    expect(formatFesError({ type: "unknown_service_code", code: "zz" } as { type: string })).toBe(
      'unknown_service_code: {"code":"zz"}',
    );
    expect(formatFesError({ type: "nope" })).toBe("nope");
  });

  it("regression: provider_unavailable said nothing about why; it carries the network cause", async () => {
    const port = await closedPort();
    const provider = createSmsActivateProvider({
      preset: "generic",
      baseUrl: `http://127.0.0.1:${port}/stubs/handler_api.php`,
      apiKey: "key",
      retry: { attempts: 1 },
      timeoutMs: 5_000,
    });
    const fes = createFes({
      storage: createMemoryStorage(),
      provider,
      clock: new ManualClock(1_700_000_000_000),
    });
    await fes.createWallet({ walletId: "w", currency: "USD" });
    await fes.deposit({ walletId: "w", amountMinor: 1_000, currency: "USD", idempotencyKey: "d" });
    const bought = await fes.buyActivation({
      walletId: "w",
      service: "tg",
      country: "6",
      idempotencyKey: "b",
    });
    const e = bought._unsafeUnwrapErr();
    expect(e.type).toBe("provider_unavailable");
    expect(e).toMatchObject({ cause: `network: connect ECONNREFUSED 127.0.0.1:${port}` });
    expect(formatFesError(e)).toContain(`ECONNREFUSED 127.0.0.1:${port}`);
    expect(formatFesError(e)).not.toContain("key");
  });
});

/** A port nothing listens on: bound once by the OS, then closed. */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0));
    });
  });
}
