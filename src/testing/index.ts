/**
 * sms-fes/testing: the storage and provider conformance suites (vitest and fast-check, optional peer
 * dependencies), and everything of `sms-fes/fakes`.
 */

export * from "../fakes/index.js";
export * from "./provider-conformance.js";
export * from "./storage-conformance.js";
