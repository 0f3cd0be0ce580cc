export * from "./fake-provider.js";
export * from "./manual-clock.js";
export * from "./provider-conformance.js";
