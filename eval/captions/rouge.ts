/**
 * ROUGE-L as pycocoevalcap computes it: tokens by splitting on single spaces, LCS with every reference, the best
 * precision and the best recall taken independently, F = (1 + β²)·P·R / (R + β²·P) with β = 1.2, mean over images.
 */
import { npMean } from '../pairwise-sum.js';

const BETA2 = 1.2 * 1.2;

function lcs(a: string[], b: string[]): number {
  const prev = new Int32Array(b.length + 1);
  const cur = new Int32Array(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) cur[j] = a[i - 1] === b[j - 1] ? prev[j - 1]! + 1 : Math.max(prev[j]!, cur[j - 1]!);
    prev.set(cur);
  }
  return prev[b.length]!;
}

export function rougeLImage(hyp: string, refs: string[]): number {
  const c = hyp.split(' ');
  let pMax = -Infinity;
  let rMax = -Infinity;
  for (const ref of refs) {
    const r = ref.split(' ');
    const l = lcs(r, c);
    pMax = Math.max(pMax, l / c.length);
    rMax = Math.max(rMax, l / r.length);
  }
  return pMax !== 0 && rMax !== 0 ? ((1 + BETA2) * pMax * rMax) / (rMax + BETA2 * pMax) : 0;
}

export function rougeL(refs: string[][], hyps: string[]): { score: number; perImage: number[] } {
  const perImage = hyps.map((h, i) => rougeLImage(h, refs[i]!));
  return { score: npMean(perImage), perImage };
}
