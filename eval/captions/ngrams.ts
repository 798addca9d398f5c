/**
 * n-gram counting shared by BLEU and CIDEr. Keys keep first-occurrence order (n = 1 first, then 2, ...) because
 * pycocoevalcap sums floating-point terms in that order and we want the same bits, not just the same 3 decimals.
 */

/** Words of a tokenized caption as pycocoevalcap's `str.split()` gives them (any whitespace run). */
export function words(s: string): string[] {
  const w = s.split(/\s+/);
  if (w.length > 0 && w[0] === '') w.shift();
  if (w.length > 0 && w[w.length - 1] === '') w.pop();
  return w;
}

/** Counts of all 1..n-grams; an n-gram key is its words joined by a space (words never contain spaces). */
export function ngramCounts(ws: string[], n = 4): Map<string, number> {
  const counts = new Map<string, number>();
  for (let k = 1; k <= n; k++) {
    for (let i = 0; i + k <= ws.length; i++) {
      const g = k === 1 ? ws[i]! : ws.slice(i, i + k).join(' ');
      counts.set(g, (counts.get(g) ?? 0) + 1);
    }
  }
  return counts;
}

/** Order of an n-gram key (number of words). */
export function order(gram: string): number {
  let n = 1;
  for (let i = 0; i < gram.length; i++) if (gram.charCodeAt(i) === 32) n++;
  return n;
}

/**
 * numpy's float64 sum (pairwise summation in blocks of 8 below 128 elements), so `mean` here equals `np.mean`
 * bit for bit.
 */
function pairwiseSum(a: ArrayLike<number>, from: number, n: number): number {
  if (n < 8) {
    let s = -0;
    for (let i = 0; i < n; i++) s += a[from + i]!;
    return s;
  }
  if (n <= 128) {
    const r = [0, 0, 0, 0, 0, 0, 0, 0].map((_, j) => a[from + j]!);
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j] += a[from + i + j]!;
    let s = r[0]! + r[1]! + (r[2]! + r[3]!) + (r[4]! + r[5]! + (r[6]! + r[7]!));
    for (; i < n; i++) s += a[from + i]!;
    return s;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return pairwiseSum(a, from, n2) + pairwiseSum(a, from + n2, n - n2);
}

export function npMean(a: ArrayLike<number>): number {
  return (0 + pairwiseSum(a, 0, a.length)) / a.length;
}
