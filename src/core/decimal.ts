/**
 * Exact decimal arithmetic for prices at the edge. Provider prices arrive as decimal strings (`"0.025"`); they are
 * parsed into exact fractions of bigints, never floats, and rounded once to minor units.
 */

/** An exact non-negative fraction `numerator / denominator`. */
export interface Fraction {
  readonly numerator: bigint;
  readonly denominator: bigint;
}

const DECIMAL = /^(\d{1,15})(?:\.(\d{1,12}))?$/;

/** Parses a non-negative decimal (a string like `"12.5"`, or a finite number) into an exact fraction. */
export function parseDecimal(input: string | number): Fraction | undefined {
  const text =
    typeof input === "number" ? (Number.isFinite(input) && input >= 0 ? String(input) : "") : input.trim();
  const m = DECIMAL.exec(text);
  if (m === null) return undefined;
  const fraction = m[2] ?? "";
  return { numerator: BigInt(m[1]! + fraction), denominator: 10n ** BigInt(fraction.length) };
}

/** Multiplies two fractions. */
export function multiply(a: Fraction, b: Fraction): Fraction {
  return { numerator: a.numerator * b.numerator, denominator: a.denominator * b.denominator };
}

/** Rounds a fraction to an integer, up (`ceil`), down (`floor`) or half away from zero (`nearest`). */
export function roundFraction(f: Fraction, mode: "ceil" | "floor" | "nearest"): bigint {
  const q = f.numerator / f.denominator;
  const r = f.numerator % f.denominator;
  if (r === 0n) return q;
  if (mode === "floor") return q;
  if (mode === "ceil") return q + 1n;
  return 2n * r >= f.denominator ? q + 1n : q;
}

/** Formats a fraction as a decimal string with at most `digits` decimals, rounded up. */
export function formatDecimalCeil(f: Fraction, digits: number): string {
  const scale = 10n ** BigInt(digits);
  const scaled = roundFraction({ numerator: f.numerator * scale, denominator: f.denominator }, "ceil");
  const whole = scaled / scale;
  const part = (scaled % scale).toString().padStart(digits, "0").replace(/0+$/, "");
  return part === "" ? whole.toString() : `${whole}.${part}`;
}
