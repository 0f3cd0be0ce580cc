/**
 * sms-fes/fakes: the fake provider, the fake SMS-Activate HTTP upstream, the manual clock, the provider control
 * interface and record fixtures. No test framework: a dev server or a plain script can run the fake upstream.
 * `sms-fes/testing` re-exports all of it beside the conformance suites.
 */

export * from "../provider/control.js";
export * from "../testing/fake-provider.js";
export * from "../testing/fake-server.js";
export * from "../testing/fixtures.js";
export * from "../testing/manual-clock.js";
