export * from "./fake-provider.js";
export * from "./fake-server.js";
export * from "./fixtures.js";
export * from "./manual-clock.js";
export * from "./provider-conformance.js";
export * from "./storage-conformance.js";
