/**
 * Health analytics, service policies, routing and the coherence report: pure functions over exported records.
 */
export * from "./coherence.js";
export * from "./experiment-report.js";
export * from "./gate.js";
export * from "./learned-wait-time.js";
export * from "./percentile.js";
export * from "./policies.js";
export * from "./render-html.js";
export * from "./render-text.js";
export * from "./routing.js";
export * from "./stats.js";
export * from "./time-to-code.js";
export * from "./wilson.js";
export * from "./window.js";
