/**
 * numpy's float64 summation (pairwise, 8 accumulators per block of up to 128 values), so sums and means here equal
 * `np.sum` / `np.mean` of the official Python scripts bit for bit rather than to 15 digits.
 */
function pairwise(a: ArrayLike<number>, from: number, n: number): number {
  if (n < 8) {
    let s = -0;
    for (let i = 0; i < n; i++) s += a[from + i]!;
    return s;
  }
  if (n <= 128) {
    const r = [0, 1, 2, 3, 4, 5, 6, 7].map((j) => a[from + j]!);
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j] += a[from + i + j]!;
    let s = r[0]! + r[1]! + (r[2]! + r[3]!) + (r[4]! + r[5]! + (r[6]! + r[7]!));
    for (; i < n; i++) s += a[from + i]!;
    return s;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return pairwise(a, from, n2) + pairwise(a, from + n2, n - n2);
}

export function npSum(a: ArrayLike<number>): number {
  return 0 + pairwise(a, 0, a.length);
}

export function npMean(a: ArrayLike<number>): number {
  return npSum(a) / a.length;
}
