/**
 * PASCAL VOC 2007 classification AP as VirTex's VOC07 linear evaluation computes it (scripts/clf_voc07.py):
 * per class, images labelled 0 ("difficult") are dropped, label 1 is positive and -1 negative, and AP is
 * scikit-learn's `average_precision_score` — Σ (R_k − R_{k−1}) · P_k over the distinct score thresholds (tied
 * scores form one step). mAP = mean over classes. `elevenPoint` gives the VOC devkit's 2007 variant instead:
 * mean over recall levels 0, 0.1, …, 1 of the highest precision at recall ≥ that level, precision and recall taken
 * image by image down the ranking (difficult images count neither way).
 *
 * Inputs: scores and labels are N×C matrices (images × classes), labels in {-1, 0, 1}.
 */
import { InputError } from '../common/errors.js';
import { readMatrix, type Matrix } from './matrix.js';
import { npSum } from './pairwise-sum.js';

export const VOC_CLASSES = [
  'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow',
  'diningtable', 'dog', 'horse', 'motorbike', 'person', 'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor',
];

/** scikit-learn average_precision_score for binary targets, summed in its order (np.sum over the reversed curve). */
export function averagePrecision(scores: number[], positive: boolean[]): number {
  const order = scores.map((_, i) => i).sort((a, b) => scores[b]! - scores[a]! || b - a);
  const tps: number[] = [];
  const fps: number[] = [];
  let tp = 0;
  let fp = 0;
  order.forEach((idx, k) => {
    if (positive[idx]) tp++;
    else fp++;
    const next = order[k + 1];
    if (next === undefined || scores[next] !== scores[idx]) (tps.push(tp), fps.push(fp));
  });
  const total = tps[tps.length - 1] ?? 0;
  // Curve from the lowest threshold to the highest, then the (recall 0, precision 1) end point.
  const precision = tps.map((t, i) => (t + fps[i]! === 0 ? 0 : t / (t + fps[i]!))).reverse();
  const recall = tps.map((t) => (total === 0 ? 1 : t / total)).reverse();
  precision.push(1);
  recall.push(0);
  const terms = recall.slice(1).map((r, i) => (r - recall[i]!) * precision[i]!);
  return -npSum(terms);
}

/** VOC devkit 2007 11-point interpolated AP; labels: 1 positive, -1 negative, 0 ignored. */
export function elevenPointAP(scores: number[], labels: number[]): number {
  const order = scores.map((_, i) => i).sort((a, b) => scores[b]! - scores[a]! || a - b);
  const nPos = labels.filter((l) => l > 0).length;
  const prec: number[] = [];
  const rec: number[] = [];
  let tp = 0;
  let fp = 0;
  for (const i of order) {
    if (labels[i]! > 0) tp++;
    else if (labels[i]! < 0) fp++;
    rec.push(tp / nPos);
    prec.push(tp / (tp + fp));
  }
  let ap = 0;
  for (let t = 0; t <= 10; t++) {
    let p = 0;
    rec.forEach((r, k) => {
      if (r >= t / 10 && prec[k]! > p) p = prec[k]!;
    });
    ap += p / 11;
  }
  return ap;
}

export interface Voc07Metrics {
  mAP: number;
  perClass: Record<string, number>;
  numImages: number;
  metric: 'sklearn' | '11-point';
}

export function voc07(scores: Matrix, labels: Matrix, opts: { elevenPoint?: boolean; classNames?: string[]; files?: { scores: string; labels: string } } = {}): Voc07Metrics {
  const files = opts.files ?? { scores: 'scores', labels: 'labels' };
  if (scores.rows !== labels.rows || scores.cols !== labels.cols) {
    throw new InputError(files.labels, `labels are ${labels.rows}×${labels.cols} but scores (${files.scores}) are ${scores.rows}×${scores.cols}`);
  }
  labels.data.forEach((l, k) => {
    if (l !== -1 && l !== 0 && l !== 1) throw new InputError(files.labels, `label ${l} at row ${Math.floor(k / labels.cols)}, column ${k % labels.cols} is not -1, 0 or 1`);
  });
  const names = opts.classNames ?? (scores.cols === VOC_CLASSES.length ? VOC_CLASSES : Array.from({ length: scores.cols }, (_, c) => `class_${c}`));
  const perClass: Record<string, number> = {};
  const aps: number[] = [];
  for (let c = 0; c < scores.cols; c++) {
    const s: number[] = [];
    const l: number[] = [];
    for (let i = 0; i < scores.rows; i++) {
      const lab = labels.data[i * labels.cols + c]!;
      if (opts.elevenPoint || lab !== 0) (s.push(scores.data[i * scores.cols + c]!), l.push(lab));
    }
    const ap = opts.elevenPoint ? elevenPointAP(s, l) : averagePrecision(s, l.map((x) => x > 0));
    perClass[names[c]!] = ap;
    aps.push(ap);
  }
  return { mAP: npSum(aps) / aps.length, perClass, numImages: scores.rows, metric: opts.elevenPoint ? '11-point' : 'sklearn' };
}

export function evaluateVoc07Files(scoresFile: string, labelsFile: string, elevenPoint = false): Voc07Metrics {
  return voc07(readMatrix(scoresFile), readMatrix(labelsFile), { elevenPoint, files: { scores: scoresFile, labels: labelsFile } });
}
