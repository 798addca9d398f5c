/**
 * CIDEr-D as pycocoevalcap computes it: TF-IDF vectors of 1..4-grams, document frequency = number of images whose
 * references contain the n-gram (references only), idf = ln(#images) − ln(max(1, df)); per reference and order
 * Σ min(h, r)·r / (‖h‖·‖r‖) (norms before clipping) times exp(−δ²/(2σ²)), σ = 6, δ = length difference in
 * words; mean over orders, divided by the number of references, ×10; corpus score = mean over images.
 * Summation order follows the Python code so the floating-point results agree to the last bits.
 */
import { log, pow } from './exact-math.js';
import { npMean } from '../pairwise-sum.js';
import { ngramCounts, order, words } from './ngrams.js';

interface Vec {
  w: Map<string, number>[]; // per order
  norm: number[];
  len: number;
}

export function ciderD(refs: string[][], hyps: string[], n = 4, sigma = 6): { score: number; perImage: number[] } {
  const refCounts = refs.map((rs) => rs.map((r) => ngramCounts(words(r), n)));
  const df = new Map<string, number>();
  for (const rs of refCounts) {
    const seen = new Set<string>();
    for (const c of rs) for (const g of c.keys()) seen.add(g);
    for (const g of seen) df.set(g, (df.get(g) ?? 0) + 1);
  }
  const twoSigma2 = 2 * sigma * sigma;
  const logN = log(refs.length);
  const logDf = new Map<number, number>();
  const idf = (d: number) => {
    let v = logDf.get(d);
    if (v === undefined) logDf.set(d, (v = log(Math.max(1, d))));
    return v;
  };
  // exp(−δ²/2σ²) is computed in Python as np.e ** x: a power of the double closest to e, not exp(x).
  const penalty = new Map<number, number>();
  const gauss = (delta: number) => {
    let v = penalty.get(delta);
    if (v === undefined) penalty.set(delta, (v = pow(Math.E, -(delta * delta) / twoSigma2)));
    return v;
  };
  const toVec = (counts: Map<string, number>): Vec => {
    const w = Array.from({ length: n }, () => new Map<string, number>());
    const sq = new Array<number>(n).fill(0);
    let len = 0;
    for (const [g, tf] of counts) {
      const k = order(g) - 1;
      const v = tf * (logN - idf(df.get(g) ?? 0));
      w[k]!.set(g, v);
      sq[k] += v * v;
      if (k === 1) len += tf; // sic: pycocoevalcap counts bigrams for the length
    }
    return { w, norm: sq.map(Math.sqrt), len };
  };
  const perImage = hyps.map((hyp, img) => {
    const h = toVec(ngramCounts(words(hyp), n));
    const score = new Array<number>(n).fill(0);
    for (const rc of refCounts[img]!) {
      const r = toVec(rc);
      const delta = h.len - r.len;
      for (let k = 0; k < n; k++) {
        let val = 0;
        for (const [g, hv] of h.w[k]!) {
          const rv = r.w[k]!.get(g) ?? 0;
          val += Math.min(hv, rv) * rv;
        }
        if (h.norm[k] !== 0 && r.norm[k] !== 0) val /= h.norm[k]! * r.norm[k]!;
        val *= gauss(delta);
        score[k] += val;
      }
    }
    let mean = 0;
    for (const s of score) mean += s;
    return ((mean / n) / refCounts[img]!.length) * 10;
  });
  return { score: npMean(perImage), perImage };
}
