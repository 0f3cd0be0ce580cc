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

function swap(a: Float64Array, i: number, j: number): void {
  const t = a[i] as number;
  a[i] = a[j] as number;
  a[j] = t;
}

/**
 * Moves the k-th smallest value of `a[left..right]` to index k, smaller-or-equal values before it and
 * greater-or-equal after it (Hoare's selection with a median-of-three pivot; linear on average).
 */
function select(a: Float64Array, k: number, left: number, right: number): void {
  let l = left;
  let r = right;
  while (r > l) {
    const mid = (l + r) >>> 1;
    if ((a[mid] as number) < (a[l] as number)) swap(a, l, mid);
    if ((a[r] as number) < (a[l] as number)) swap(a, l, r);
    if ((a[r] as number) < (a[mid] as number)) swap(a, mid, r);
    const pivot = a[mid] as number;
    let i = l;
    let j = r;
    while (i <= j) {
      while ((a[i] as number) < pivot) i++;
      while ((a[j] as number) > pivot) j--;
      if (i <= j) {
        swap(a, i, j);
        i++;
        j--;
      }
    }
    if (k <= j) r = j;
    else if (k >= i) l = i;
    else return;
  }
}

/**
 * `percentile_cont` at each of the ascending `fractions` over the first `length` values of `values`, without
 * sorting: selection in linear time. Reorders `values` in place. `null`s for no values.
 */
export function percentilesInPlace(
  values: Float64Array,
  length: number,
  fractions: readonly number[],
): (number | null)[] {
  if (length === 0) return fractions.map(() => null);
  const out: number[] = [];
  let left = 0;
  for (const fraction of fractions) {
    if (!(fraction >= 0 && fraction <= 1))
      throw new RangeError(`fraction must be in [0, 1], got ${fraction}`);
    const position = fraction * (length - 1);
    const first = Math.floor(position);
    if (first < left) throw new RangeError("fractions must be ascending");
    select(values, first, left, length - 1);
    const lo = values[first] as number;
    if (first === position) {
      out.push(lo);
    } else {
      // Everything after `first` is ≥ lo: the next rank is their minimum.
      let hi = Number.POSITIVE_INFINITY;
      for (let i = first + 1; i < length; i++) if ((values[i] as number) < hi) hi = values[i] as number;
      out.push(lo + (hi - lo) * (position - first));
    }
    left = first;
  }
  return out;
}
