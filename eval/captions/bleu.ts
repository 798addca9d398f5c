/**
 * BLEU-1..4 as pycocoevalcap's BleuScorer computes it with option "closest": corpus-level clipped n-gram
 * precisions, the reference length closest to each hypothesis (ties to the shorter), smoothing constants
 * 1e-15 / 1e-9, brevity penalty exp(1 − 1/ratio) when ratio < 1. Per-image scores are its sentence-level values
 * (same formula on one image's counts).
 */
import { exp, pow } from './exact-math.js';
import { encodeCorpus, type EncodedCorpus } from './ngrams.js';

const TINY = 1e-15;
const SMALL = 1e-9;

export interface BleuResult {
  /** Corpus BLEU-1..4. */
  score: number[];
  /** Per image, BLEU-1..4 (index [n][image]). */
  perImage: number[][];
}

export function bleuEncoded({ table, refs, hyps }: EncodedCorpus, n = 4): BleuResult {
  const guess = new Array<number>(n).fill(0);
  const correct = new Array<number>(n).fill(0);
  let testTotal = 0;
  let refTotal = 0;
  const perImage: number[][] = Array.from({ length: n }, () => []);
  const maxRef = new Int32Array(table.size);
  hyps.forEach((hyp, img) => {
    const touched: number[] = [];
    for (const r of refs[img]!) {
      r.grams.forEach((g, i) => {
        if (maxRef[g] === 0) touched.push(g);
        if (r.counts[i]! > maxRef[g]!) maxRef[g] = r.counts[i]!;
      });
    }
    const testLen = hyp.words;
    let refLen = refs[img]![0]!.words;
    for (const r of refs[img]!) {
      const d = Math.abs(r.words - testLen);
      const bd = Math.abs(refLen - testLen);
      if (d < bd || (d === bd && r.words < refLen)) refLen = r.words;
    }
    const c = new Array<number>(n).fill(0);
    hyp.grams.forEach((g, i) => {
      c[table.order[g]! - 1] += Math.min(maxRef[g]!, hyp.counts[i]!);
    });
    for (const g of touched) maxRef[g] = 0;
    testTotal += testLen;
    refTotal += refLen;
    let b = 1;
    for (let k = 0; k < n; k++) {
      const g = Math.max(0, testLen - k);
      guess[k] += g;
      correct[k] += c[k]!;
      b *= (c[k]! + TINY) / (g + SMALL);
      perImage[k]!.push(pow(b, 1 / (k + 1)));
    }
    const ratio = (testLen + TINY) / (refLen + SMALL);
    if (ratio < 1) {
      const bp = exp(1 - 1 / ratio);
      for (let k = 0; k < n; k++) perImage[k]![img]! *= bp;
    }
  });
  const score: number[] = [];
  let b = 1;
  for (let k = 0; k < n; k++) {
    b *= (correct[k]! + TINY) / (guess[k]! + SMALL);
    score.push(pow(b, 1 / (k + 1)));
  }
  const ratio = (testTotal + TINY) / (refTotal + SMALL);
  if (ratio < 1) for (let k = 0; k < n; k++) score[k]! *= exp(1 - 1 / ratio);
  return { score, perImage };
}

/** BLEU of tokenized captions: `refs[i]` are image i's references, `hyps[i]` its result. */
export function bleu(refs: string[][], hyps: string[], n = 4): BleuResult {
  return bleuEncoded(encodeCorpus(refs, hyps), n);
}
