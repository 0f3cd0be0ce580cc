/**
 * Fails early, with a message that says what to do, when a suite is declared outside a vitest run: vitest's own
 * `describe` then crashes with an unrelated `TypeError` about its internal state.
 */
export function assertInsideVitest(suite: string): void {
  // vitest keeps its worker state in this global while it runs a test file.
  if ((globalThis as Record<string, unknown>).__vitest_worker__ !== undefined) return;
  throw new Error(
    `${suite} declares vitest tests: call it from a test file run by \`vitest run\`. ` +
      "To use the fakes without vitest (a dev server, a script), import them from sms-fes/fakes.",
  );
}
