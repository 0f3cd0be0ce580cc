/**
 * Compares strings as byte strings of their UTF-8 encoding (code point order), the order of Postgres
 * `COLLATE "C"`. Locks are always taken in this order. JavaScript's `<` compares UTF-16 code units, which differs
 * for characters above U+FFFF; this does not.
 */
export function compareBytes(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      // A surrogate encodes a code point above U+FFFF, which sorts after every BMP character in UTF-8.
      const xs = x >= 0xd800 && x <= 0xdfff;
      const ys = y >= 0xd800 && y <= 0xdfff;
      if (xs !== ys) return xs ? 1 : -1;
      return x < y ? -1 : 1;
    }
  }
  return a.length - b.length;
}

/** The hold of an activation: derived from its id, never random. */
export function activationHoldId(activationId: string): string {
  return `hold:${activationId}`;
}

/** The hold of a rental's period `index` (0 = the first period, then one per extension). */
export function rentalHoldId(rentalId: string, index: number): string {
  return `hold:${rentalId}:${index}`;
}

/** The hold of a manual freeze. */
export function manualHoldId(operationId: string): string {
  return `hold:manual:${operationId}`;
}
