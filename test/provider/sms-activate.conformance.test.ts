import { createSmsActivateProvider } from "../../src/provider/sms-activate/index.js";
import type { SmsActivatePresetName } from "../../src/provider/sms-activate/presets.js";
import { type FakeServerDialect, startFakeSmsActivateServer } from "../../src/testing/fake-server.js";
import { describeProviderConformance } from "../../src/testing/provider-conformance.js";

const cases: readonly [FakeServerDialect, SmsActivatePresetName, "reset" | "html" | "garbled" | "empty"][] = [
  ["sms-activate", "sms-activate", "reset"],
  ["hero-sms", "hero-sms", "html"],
  ["clone", "generic", "garbled"],
];

for (const [dialect, preset, lostAnswer] of cases) {
  describeProviderConformance({
    name: `sms-activate adapter over the fake server (${dialect})`,
    setup: async () => {
      const server = await startFakeSmsActivateServer({ dialect, lostAnswer });
      const provider = createSmsActivateProvider({
        preset,
        baseUrl: server.url,
        apiKey: server.apiKey,
        clock: server.clock,
        // Faults are asserted per call here; retries are covered by the adapter's own tests.
        retry: { attempts: 1 },
        timeoutMs: 5_000,
      });
      return { provider, control: server, teardown: () => server.close() };
    },
  });
}
