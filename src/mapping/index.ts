/** Service and country mapping: the canonical catalog, per-provider codes, resolution and the split detector. */
export * from "./catalog.js";
export * from "./code-resolver.js";
export * from "./default.js";
export * from "./errors.js";
export * from "./normalize-records.js";
export * from "./split-statistics.js";
export * from "./tables.js";
