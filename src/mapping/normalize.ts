/**
 * The lookup key of aliases and display names: case, spacing, punctuation and accents do not matter, so
 * `Google,youtube,Gmail`, `google youtube gmail` and `GOOGLE-YOUTUBE-GMAIL` are one key. Letters of every
 * script are kept (`Самокат` stays distinct from `Samokat`).
 */

const SIMPLE = /^[a-z0-9]*$/;
const ASCII = /^[\x20-\x7e]*$/;
const NON_ALNUM_ASCII = /[^a-z0-9]+/g;
const MARKS = /\p{M}/gu;
const NON_ALNUM = /[^\p{L}\p{N}]+/gu;

/** The normalised key of a name or alias (may be empty when the input has no letters or digits). */
export function lookupKey(input: string): string {
  // Most inputs are already keys (`telegram`, `tg`, `187`) or plain ASCII: skip the Unicode work for them.
  if (SIMPLE.test(input)) return input;
  if (ASCII.test(input)) return input.toLowerCase().replace(NON_ALNUM_ASCII, "");
  return input.normalize("NFKD").replace(MARKS, "").toLowerCase().replace(NON_ALNUM, "");
}

/** The key of a provider code or provider name: trimmed and lower-case (codes are identifiers, not names). */
export function codeKey(input: string): string {
  return input.trim().toLowerCase();
}
