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
