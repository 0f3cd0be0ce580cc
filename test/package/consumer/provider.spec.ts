import { createFakeProvider, ManualClock, startFakeSmsActivateServer } from "sms-fes/fakes";
import { createSmsActivateProvider } from "sms-fes/sms-activate";
import { describeProviderConformance } from "sms-fes/testing";

// The shipped provider suite against the shipped SMS-Activate adapter over the shipped fake HTTP upstream, and
// against the in-process fake provider.
describeProviderConformance({
  name: "installed sms-activate adapter over the installed fake server",
  setup: async () => {
    const server = await startFakeSmsActivateServer({ dialect: "sms-activate", lostAnswer: "reset" });
    const provider = createSmsActivateProvider({
      preset: "sms-activate",
      baseUrl: server.url,
      apiKey: server.apiKey,
      clock: server.clock,
      retry: { attempts: 1 },
      timeoutMs: 5_000,
    });
    return { provider, control: server, teardown: () => server.close() };
  },
});

describeProviderConformance({
  name: "installed in-process fake provider",
  setup: async () => createFakeProvider({ clock: new ManualClock() }),
});
