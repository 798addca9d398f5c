/**
 * ImageNet top-1 / top-5 accuracy. Predictions are either an N×C score matrix (logits or probabilities: the
 * label must be among the k highest scores; equal scores rank the lower class index first, as a stable sort
 * would) or, with `ranked`, an N×k matrix of integer class ids already ranked best first (k ≥ 5 for top-5).
 * Labels: N class ids (0-based).
 */
import { InputError } from '../common/errors.js';
import { readMatrix, readVector, type Matrix } from './matrix.js';

export interface ImagenetMetrics {
  top1: number;
  top5: number;
  numImages: number;
}

export function imagenetAccuracy(pred: Matrix, labels: ArrayLike<number>, ranked: boolean): ImagenetMetrics {
  let hit1 = 0;
  let hit5 = 0;
  for (let i = 0; i < pred.rows; i++) {
    const label = labels[i]!;
    const row = pred.data.subarray(i * pred.cols, (i + 1) * pred.cols);
    let rank: number; // 0-based position of the label in this image's ranking
    if (ranked) {
      rank = row.indexOf(label);
      if (rank < 0) rank = Infinity;
    } else {
      const s = row[label]!;
      rank = 0;
      for (let c = 0; c < row.length; c++) if (row[c]! > s || (row[c] === s && c < label)) rank++;
    }
    if (rank < 1) hit1++;
    if (rank < 5) hit5++;
  }
  return { top1: hit1 / pred.rows, top5: hit5 / pred.rows, numImages: pred.rows };
}

export function evaluateImagenetFiles(predFile: string, labelsFile: string, ranked = false): ImagenetMetrics {
  const pred = readMatrix(predFile);
  const labels = readVector(labelsFile);
  if (labels.length !== pred.rows) throw new InputError(labelsFile, `${labels.length} labels for ${pred.rows} prediction rows in ${predFile}`);
  labels.forEach((l, i) => {
    if (!Number.isInteger(l) || l < 0 || (!ranked && l >= pred.cols)) throw new InputError(labelsFile, `label ${l} is not a class index in [0, ${pred.cols})`, i + 1);
  });
  if (ranked && !pred.integer) throw new InputError(predFile, '--ranked predictions must be integer class ids');
  return imagenetAccuracy(pred, labels, ranked);
}
