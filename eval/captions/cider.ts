/**
 * CIDEr-D as pycocoevalcap computes it: TF-IDF vectors of 1..4-grams, document frequency = number of images whose
 * references contain the n-gram (references only), idf = ln(#images) − ln(max(1, df)); per reference and order
 * Σ min(h, r)·r / (‖h‖·‖r‖) (norms before clipping) times exp(−δ²/(2σ²)), σ = 6, δ = difference of the bigram
 * counts (pycocoevalcap's "length"); mean over orders, divided by the number of references, ×10; corpus score =
 * mean over images. Summation order follows the Python code so results agree to the last bit.
 */
import { npMean } from '../pairwise-sum.js';
import { log, pow } from './exact-math.js';
import { encodeCorpus, type Encoded, type EncodedCorpus } from './ngrams.js';

export function ciderEncoded({ table, refs, hyps }: EncodedCorpus, n = 4, sigma = 6): { score: number; perImage: number[] } {
  const df = new Int32Array(table.size);
  const stamp = new Int32Array(table.size).fill(-1);
  refs.forEach((rs, img) => {
    for (const r of rs) for (const g of r.grams) if (stamp[g] !== img) (stamp[g] = img), df[g]++;
  });
  const logN = log(refs.length);
  const logDf = new Map<number, number>();
  const idf = (g: number) => {
    const d = Math.max(1, df[g]!);
    let v = logDf.get(d);
    if (v === undefined) logDf.set(d, (v = log(d)));
    return logN - v;
  };
  // exp(−δ²/2σ²) is computed in Python as np.e ** x: a power of the double closest to e, not exp(x).
  const twoSigma2 = 2 * sigma * sigma;
  const penalty = new Map<number, number>();
  const gauss = (delta: number) => {
    let v = penalty.get(delta);
    if (v === undefined) penalty.set(delta, (v = pow(Math.E, -(delta * delta) / twoSigma2)));
    return v;
  };
  const toVec = (c: Encoded) => {
    const w = new Float64Array(c.grams.length);
    const sq = new Array<number>(n).fill(0);
    let len = 0;
    c.grams.forEach((g, i) => {
      const k = table.order[g]! - 1;
      const v = c.counts[i]! * idf(g);
      w[i] = v;
      sq[k] += v * v;
      if (k === 1) len += c.counts[i]!; // sic: pycocoevalcap's "length" counts bigrams
    });
    return { w, norm: sq.map(Math.sqrt), len };
  };
  const refVal = new Float64Array(table.size);
  const perImage = hyps.map((hyp, img) => {
    const h = toVec(hyp);
    const score = new Array<number>(n).fill(0);
    for (const rc of refs[img]!) {
      const r = toVec(rc);
      rc.grams.forEach((g, i) => (refVal[g] = r.w[i]!));
      const val = new Array<number>(n).fill(0);
      hyp.grams.forEach((g, i) => {
        const rv = refVal[g]!;
        val[table.order[g]! - 1] += Math.min(h.w[i]!, rv) * rv;
      });
      for (const g of rc.grams) refVal[g] = 0;
      const pen = gauss(h.len - r.len);
      for (let k = 0; k < n; k++) {
        let v = val[k]!;
        if (h.norm[k] !== 0 && r.norm[k] !== 0) v /= h.norm[k]! * r.norm[k]!;
        score[k] += v * pen;
      }
    }
    let mean = 0;
    for (const s of score) mean += s;
    return (mean / n / refs[img]!.length) * 10;
  });
  return { score: npMean(perImage), perImage };
}

/** CIDEr-D of tokenized captions: `refs[i]` are image i's references, `hyps[i]` its result. */
export function ciderD(refs: string[][], hyps: string[], n = 4, sigma = 6): { score: number; perImage: number[] } {
  return ciderEncoded(encodeCorpus(refs, hyps), n, sigma);
}
