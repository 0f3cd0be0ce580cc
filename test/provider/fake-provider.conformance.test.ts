import { createFakeProvider } from "../../src/testing/fake-provider.js";
import { ManualClock } from "../../src/testing/manual-clock.js";
import { describeProviderConformance } from "../../src/testing/provider-conformance.js";

describeProviderConformance({
  name: "in-process fake provider",
  setup: async () => createFakeProvider({ clock: new ManualClock() }),
});

describeProviderConformance({
  name: "in-process fake provider without order ids",
  setup: async () => createFakeProvider({ capabilities: { supportsOrderId: false } }),
});
