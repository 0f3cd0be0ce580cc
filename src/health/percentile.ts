/**
 * Percentiles computed exactly as Postgres `percentile_cont` does, so the library's figures and the SQL views
 * agree to the last digit.
 */

/**
 * The continuous percentile of ascending `sorted` values at `fraction` (0 ≤ fraction ≤ 1), by linear
 * interpolation between the two nearest ranks: position `fraction × (n − 1)`, then
 * `lo + (hi − lo) × (position − ⌊position⌋)`, as Postgres computes it. `null` for no values.
 */
export function percentileCont(sorted: ArrayLike<number>, fraction: number): number | null {
  if (!(fraction >= 0 && fraction <= 1)) throw new RangeError(`fraction must be in [0, 1], got ${fraction}`);
  const n = sorted.length;
  if (n === 0) return null;
  const position = fraction * (n - 1);
  const first = Math.floor(position);
  const second = Math.ceil(position);
  const lo = sorted[first] as number;
  if (first === second) return lo;
  const hi = sorted[second] as number;
  return lo + (hi - lo) * (position - first);
}

/** Sorts numbers ascending into a new typed array (numeric order, not the string order of `Array#sort`). */
export function sortedHealthSample(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(values).sort();
}
