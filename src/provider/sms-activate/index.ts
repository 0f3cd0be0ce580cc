/**
 * The SMS-Activate `handler_api` adapter (HeroSMS and compatible shops) over `fetch`: the provider port, its
 * presets, the body parser and token table, and the webhook helper.
 */
export * from "./adapter.js";
export * from "./parse.js";
export * from "./presets.js";
export * from "./schemas.js";
export * from "./timer.js";
export * from "./tokens.js";
export * from "./transport.js";
export * from "./webhook.js";
