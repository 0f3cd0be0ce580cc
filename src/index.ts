/**
 * sms-fes: freeze → execute → settle for platforms reselling SMS-activation numbers.
 * The core entry: pure money model, state machines, ports and the orchestration service. No I/O, no drivers.
 */
export * from "./core/clock.js";
export * from "./core/errors.js";
export * from "./core/money.js";
export * from "./core/records.js";
export * from "./provider/control.js";
export * from "./provider/port.js";
export * from "./storage/port.js";
export * from "./mapping/index.js";
export * from "./health/index.js";
