/**
 * Small-sample judgement: the Wilson score interval for a binomial proportion, and the inverse of the standard
 * normal distribution it needs. A raw percentage says 0 out of 2 is as dead as 0 out of 300; the interval does not.
 */

/** A Wilson score interval: the point estimate `successes / n` and its lower and upper bounds, all in [0, 1]. */
export interface WilsonInterval {
  readonly lower: number;
  readonly upper: number;
  readonly point: number;
}

/** Which value of a Wilson interval a rule judges. */
export type WilsonJudge = "point" | "lower" | "upper";

// Coefficients of Wichura's algorithm AS 241 (PPND16), accurate to about 1e-16 over the whole open interval.
// Written as the doubles the published 20-digit constants round to (the same values at run time).
const A = [
  3.3871328727963665, 133.14166789178438, 1971.5909503065513, 13731.69376550946, 45921.95393154987,
  67265.7709270087, 33430.57558358813, 2509.0809287301227,
] as const;
const B = [
  1, 42.31333070160091, 687.1870074920579, 5394.196021424751, 21213.794301586597, 39307.89580009271,
  28729.085735721943, 5226.495278852546,
] as const;
const C = [
  1.4234371107496835, 4.630337846156546, 5.769497221460691, 3.6478483247632045, 1.2704582524523684,
  0.2417807251774506, 0.022723844989269184, 0.0007745450142783414,
] as const;
const D = [
  1, 2.053191626637759, 1.6763848301838038, 0.6897673349851, 0.14810397642748008, 0.015198666563616457,
  0.0005475938084995345, 1.0507500716444169e-9,
] as const;
const E = [
  6.657904643501103, 5.463784911164114, 1.7848265399172913, 0.29656057182850487, 0.026532189526576124,
  0.0012426609473880784, 0.000027115555687434876, 2.0103343992922881e-7,
] as const;
const F = [
  1, 0.599832206555888, 0.1369298809227358, 0.014875361290850615, 0.0007868691311456133,
  0.000018463183175100548, 1.421511758316446e-7, 2.0442631033899397e-15,
] as const;

function poly(c: readonly number[], x: number): number {
  let r = 0;
  for (let i = c.length - 1; i >= 0; i--) r = r * x + (c[i] as number);
  return r;
}

/**
 * The quantile function of the standard normal distribution (Wichura, AS 241): the `z` with `P(Z ≤ z) = p`.
 * Throws a RangeError outside the open interval (0, 1): asking for it is a bug, not an input error.
 */
export function inverseNormal(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`inverseNormal needs 0 < p < 1, got ${p}`);
  const q = p - 0.5;
  if (Math.abs(q) <= 0.425) {
    const r = 0.180625 - q * q;
    return (q * poly(A, r)) / poly(B, r);
  }
  let r = q < 0 ? p : 1 - p;
  r = Math.sqrt(-Math.log(r));
  const z = r <= 5 ? poly(C, r - 1.6) / poly(D, r - 1.6) : poly(E, r - 5) / poly(F, r - 5);
  return q < 0 ? -z : z;
}

/** The two-sided critical value for a confidence level, e.g. 1.959963984540054 for 0.95. */
export function zForConfidence(confidence: number): number {
  if (!(confidence > 0 && confidence < 1)) {
    throw new RangeError(`confidence must be in (0, 1), got ${confidence}`);
  }
  return inverseNormal(1 - (1 - confidence) / 2);
}

/**
 * The Wilson score interval for `successes` out of `n` at a two-sided `confidence` (default 0.95).
 * With `n = 0` nothing is known: `{ lower: 0, upper: 1, point: 0 }`. Bounds are clamped so that
 * `0 ≤ lower ≤ point ≤ upper ≤ 1` holds despite rounding.
 */
export function wilson(successes: number, n: number, confidence = 0.95): WilsonInterval {
  if (!Number.isInteger(successes) || !Number.isInteger(n) || successes < 0 || successes > n) {
    throw new RangeError(`wilson needs integers 0 ≤ successes ≤ n, got ${successes}/${n}`);
  }
  if (n === 0) return { lower: 0, upper: 1, point: 0 };
  const z = zForConfidence(confidence);
  const p = successes / n;
  const z2 = z * z;
  const denominator = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denominator;
  const half = (z / denominator) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  // At 0 or n successes the exact bound is p itself; computing it leaves a rounding residue.
  const lower = successes === 0 ? 0 : Math.min(p, Math.max(0, centre - half));
  const upper = successes === n ? 1 : Math.max(p, Math.min(1, centre + half));
  return { lower, upper, point: p };
}

/** The value of an interval a rule judges. */
export function judgedValue(interval: WilsonInterval, judge: WilsonJudge): number {
  return judge === "point" ? interval.point : judge === "lower" ? interval.lower : interval.upper;
}
