/**
 * BLEU-1..4 as pycocoevalcap's BleuScorer computes it with option "closest": corpus-level clipped n-gram
 * precisions, the reference length closest to each hypothesis (ties to the shorter), smoothing constants
 * 1e-15 / 1e-9, brevity penalty exp(1 − 1/ratio) when ratio < 1. Per-image scores are its sentence-level values
 * (same formula on one image's counts).
 */
import { exp, pow } from './exact-math.js';
import { ngramCounts, order, words } from './ngrams.js';

const TINY = 1e-15;
const SMALL = 1e-9;

export interface BleuResult {
  /** Corpus BLEU-1..4. */
  score: number[];
  /** Per image, BLEU-1..4 (index [n][image]). */
  perImage: number[][];
}

export function bleu(refs: string[][], hyps: string[], n = 4): BleuResult {
  const guess = new Array<number>(n).fill(0);
  const correct = new Array<number>(n).fill(0);
  let testTotal = 0;
  let refTotal = 0;
  const perImage: number[][] = Array.from({ length: n }, () => []);
  hyps.forEach((hyp, img) => {
    const maxRef = new Map<string, number>();
    const refLens: number[] = [];
    for (const r of refs[img]!) {
      const ws = words(r);
      refLens.push(ws.length);
      for (const [g, c] of ngramCounts(ws, n)) if (c > (maxRef.get(g) ?? 0)) maxRef.set(g, c);
    }
    const hw = words(hyp);
    const testLen = hw.length;
    let refLen = refLens[0]!;
    for (const l of refLens) {
      const d = Math.abs(l - testLen);
      const bd = Math.abs(refLen - testLen);
      if (d < bd || (d === bd && l < refLen)) refLen = l;
    }
    const g = Array.from({ length: n }, (_, k) => Math.max(0, testLen - k));
    const c = new Array<number>(n).fill(0);
    for (const [gram, cnt] of ngramCounts(hw, n)) c[order(gram) - 1] += Math.min(maxRef.get(gram) ?? 0, cnt);
    testTotal += testLen;
    refTotal += refLen;
    let b = 1;
    for (let k = 0; k < n; k++) {
      guess[k] += g[k]!;
      correct[k] += c[k]!;
      b *= (c[k]! + TINY) / (g[k]! + SMALL);
      perImage[k]!.push(pow(b, 1 / (k + 1)));
    }
    const ratio = (testLen + TINY) / (refLen + SMALL);
    if (ratio < 1) for (let k = 0; k < n; k++) perImage[k]![img]! *= exp(1 - 1 / ratio);
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
