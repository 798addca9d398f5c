/**
 * Image↔text retrieval recall@1/5/10 counted the way ViLT's `compute_irtr_recall` counts them.
 *
 * Score matrix: one row per image, one column per text (ViLT's `scores.view(len(iids), -1)`); `--rows texts`
 * reads the transpose. Ground truth (pairs.json): `{"image_ids": [...one per row], "text_image_ids": [...one per
 * column]}` (text j describes image text_image_ids[j]; 5 per image for COCO/Flickr30k), or the shorthand
 * `{"captions_per_image": 5}` meaning text j describes row ⌊j/5⌋.
 *  - text retrieval (tr_rK): for each image row, a hit when any of its K best-scored texts describes it;
 *  - image retrieval (ir_rK): for each text column, a hit when any of its K best-scored images is its image.
 * Recall = hits / number of queries, as a fraction. Equal scores are ranked by lower index first (torch.topk
 * leaves ties unspecified).
 */
import { InputError } from '../common/errors.js';
import { describe, expectObject, readJson } from './io.js';
import { readMatrix, type Matrix } from './matrix.js';

export interface RetrievalMetrics {
  ir_r1: number;
  ir_r5: number;
  ir_r10: number;
  tr_r1: number;
  tr_r5: number;
  tr_r10: number;
  numImages: number;
  numTexts: number;
}

export interface RetrievalGt {
  imageIds: (number | string)[];
  textImageIds: (number | string)[];
}

/** Indices of the k largest values of `get(0..n-1)`, best first, ties to the lower index. */
function topK(n: number, k: number, get: (i: number) => number): number[] {
  const best: number[] = [];
  for (let i = 0; i < n; i++) {
    const v = get(i);
    if (best.length === k && !(v > get(best[k - 1]!))) continue;
    let j = best.length === k ? k - 1 : best.length;
    while (j > 0 && v > get(best[j - 1]!)) j--;
    best.splice(j, 0, i);
    if (best.length > k) best.pop();
  }
  return best;
}

/** Recall@1/5/10 for a score matrix with rows = images, columns = texts. */
export function retrievalRecall(scores: Matrix, gt: RetrievalGt): RetrievalMetrics {
  const { rows, cols, data } = scores;
  const ks = [1, 5, 10] as const;
  const tr = [0, 0, 0];
  for (let i = 0; i < rows; i++) {
    const top = topK(cols, 10, (j) => data[i * cols + j]!);
    ks.forEach((k, t) => {
      if (top.slice(0, k).some((j) => gt.textImageIds[j] === gt.imageIds[i])) tr[t]!++;
    });
  }
  const ir = [0, 0, 0];
  for (let j = 0; j < cols; j++) {
    const top = topK(rows, 10, (i) => data[i * cols + j]!);
    ks.forEach((k, t) => {
      if (top.slice(0, k).some((i) => gt.imageIds[i] === gt.textImageIds[j])) ir[t]!++;
    });
  }
  return {
    ir_r1: ir[0]! / cols,
    ir_r5: ir[1]! / cols,
    ir_r10: ir[2]! / cols,
    tr_r1: tr[0]! / rows,
    tr_r5: tr[1]! / rows,
    tr_r10: tr[2]! / rows,
    numImages: rows,
    numTexts: cols,
  };
}

function transpose(m: Matrix): Matrix {
  const data = new Float64Array(m.data.length);
  for (let i = 0; i < m.rows; i++) for (let j = 0; j < m.cols; j++) data[j * m.rows + i] = m.data[i * m.cols + j]!;
  return { rows: m.cols, cols: m.rows, data, integer: m.integer };
}

export function readRetrievalGt(file: string, rows: number, cols: number): RetrievalGt {
  const o = expectObject(readJson(file), file, 'retrieval ground truth');
  if (o.captions_per_image !== undefined) {
    const per = o.captions_per_image;
    if (typeof per !== 'number' || !Number.isInteger(per) || per < 1) throw new InputError(file, `"captions_per_image" must be a positive integer, got ${describe(per)}`);
    if (cols !== rows * per) throw new InputError(file, `captions_per_image ${per} × ${rows} images ≠ ${cols} texts in the score matrix`);
    return { imageIds: Array.from({ length: rows }, (_, i) => i), textImageIds: Array.from({ length: cols }, (_, j) => Math.floor(j / per)) };
  }
  const ids = (key: string, n: number, what: string) => {
    const v = o[key];
    if (!Array.isArray(v)) throw new InputError(file, `"${key}" must be an array (one id per ${what}), got ${describe(v)}`);
    if (v.length !== n) throw new InputError(file, `"${key}" has ${v.length} ids but the score matrix has ${n} ${what}s`);
    v.forEach((x, i) => {
      if (typeof x !== 'number' && typeof x !== 'string') throw new InputError(file, `${key}[${i}] is ${describe(x)}, expected an id`);
    });
    return v as (number | string)[];
  };
  return { imageIds: ids('image_ids', rows, 'image row'), textImageIds: ids('text_image_ids', cols, 'text column') };
}

export function evaluateRetrievalFiles(scoresFile: string, gtFile: string, rowsAre: 'images' | 'texts' = 'images'): RetrievalMetrics {
  let m = readMatrix(scoresFile);
  if (rowsAre === 'texts') m = transpose(m);
  if (m.rows === 0 || m.cols === 0) throw new InputError(scoresFile, 'empty score matrix');
  return retrievalRecall(m, readRetrievalGt(gtFile, m.rows, m.cols));
}
