/**
 * Box selection of bottom-up-attention's `generate_tsv.py` (the script that made LXMERT's features), reproduced
 * operation by operation so the same network outputs give the same boxes, in the same order:
 *
 *  1. boxes = rois[:, 1:5] / scale, in float32 (numpy divides a float32 array by the scale cast to float32);
 *  2. for every class c >= 1: greedy NMS at IoU 0.3 on cls_prob[:, c], visiting boxes in `argsort()[::-1]` order;
 *     IoU in float32 with the +1 pixel convention; a box is suppressed when IoU > 0.3 (the GPU NMS that the
 *     reference ran with; its CPU NMS uses >=, which differs only at IoU exactly 0.3f);
 *  3. max_conf[i] = the best score box i kept in any class (0 if suppressed everywhere);
 *  4. keep = indices with max_conf >= conf_thresh, in ascending index order; if fewer than min_boxes:
 *     `argsort(max_conf)[::-1][:min_boxes]`; if more than max_boxes: `...[:max_boxes]` (descending max_conf, numpy
 *     tie order, see argsort.ts). Note the middle case keeps index order: rows are NOT sorted by confidence there;
 *  5. objects_id = argmax(cls_prob[keep, 1:]) (so 0 is the first real class, an index into objects_vocab.txt),
 *     objects_conf its value; attrs likewise over attr_prob[:, 1:]; zeros without attributes.
 */
import { npArgsortDesc } from './argsort.js';

const f32 = Math.fround;
const NMS_IOU = f32(0.3);

export interface SelectOptions {
  confThresh: number;
  minBoxes: number;
  maxBoxes: number;
}

export const DEFAULT_SELECT: SelectOptions = { confThresh: 0.2, minBoxes: 10, maxBoxes: 100 };

export interface Selection {
  /** Row indices into the model's R proposals, in output order. */
  keep: Int32Array;
  /** [N*4] x1 y1 x2 y2 in original pixels. */
  boxes: Float32Array;
  objectsId: Int32Array;
  objectsConf: Float32Array;
  attrsId: Int32Array;
  attrsConf: Float32Array;
}

/** rois[:, 1:5] / scale in float32. */
export function unscaleBoxes(rois: Float32Array, scale: number): Float32Array {
  const R = rois.length / 5;
  const s = f32(scale);
  const out = new Float32Array(R * 4);
  for (let i = 0; i < R; i++) for (let k = 0; k < 4; k++) out[i * 4 + k] = rois[i * 5 + 1 + k]! / s;
  return out;
}

/** IoU of boxes i and j (x1 y1 x2 y2, inclusive pixel convention) with float32 rounding after every operation. */
export function iou(b: Float32Array, i: number, j: number): number {
  const ax1 = b[i * 4]!, ay1 = b[i * 4 + 1]!, ax2 = b[i * 4 + 2]!, ay2 = b[i * 4 + 3]!;
  const bx1 = b[j * 4]!, by1 = b[j * 4 + 1]!, bx2 = b[j * 4 + 2]!, by2 = b[j * 4 + 3]!;
  const w = Math.max(f32(f32(Math.min(ax2, bx2) - Math.max(ax1, bx1)) + 1), 0);
  const h = Math.max(f32(f32(Math.min(ay2, by2) - Math.max(ay1, by1)) + 1), 0);
  const inter = f32(w * h);
  const sa = f32(f32(f32(ax2 - ax1) + 1) * f32(f32(ay2 - ay1) + 1));
  const sb = f32(f32(f32(bx2 - bx1) + 1) * f32(f32(by2 - by1) + 1));
  return f32(inter / f32(f32(sa + sb) - inter));
}

/**
 * For each box, the boxes it suppresses (IoU > 0.3). The boxes are the same for every class, so the O(R^2)
 * overlap test runs once per image instead of once per class (1600 classes for the VG model).
 */
function overlapLists(boxes: Float32Array): Int32Array[] {
  const R = boxes.length / 4;
  const lists: number[][] = Array.from({ length: R }, () => []);
  for (let i = 0; i < R; i++) {
    for (let j = i + 1; j < R; j++) {
      if (iou(boxes, i, j) > NMS_IOU) {
        lists[i]!.push(j);
        lists[j]!.push(i);
      }
    }
  }
  return lists.map((l) => Int32Array.from(l));
}

/** Greedy NMS (py-faster-rcnn semantics) of one class given precomputed overlaps; returns kept indices. */
function nmsKeep(scores: Float64Array, overlaps: Int32Array[], suppressed: Uint8Array): number[] {
  suppressed.fill(0);
  const keep: number[] = [];
  for (const i of npArgsortDesc(scores)) {
    if (suppressed[i]) continue;
    keep.push(i);
    for (const j of overlaps[i]!) suppressed[j] = 1;
  }
  return keep;
}

/** Column argmax over columns 1..C-1 (first maximum wins, like numpy), returned 0-based from column 1. */
function argmaxFrom1(prob: Float32Array, cols: number, keep: Int32Array, ids: Int32Array, conf: Float32Array): void {
  for (let n = 0; n < keep.length; n++) {
    const base = keep[n]! * cols;
    let best = 1;
    for (let c = 2; c < cols; c++) if (prob[base + c]! > prob[base + best]!) best = c;
    ids[n] = best - 1;
    conf[n] = prob[base + best]!;
  }
}

/**
 * Select boxes from one image's detector outputs. `clsProb` is [R*C], `attrProb` [R*A] or undefined.
 */
export function selectBoxes(
  rois: Float32Array,
  clsProb: Float32Array,
  attrProb: Float32Array | undefined,
  scale: number,
  opts: SelectOptions,
): Selection {
  const R = rois.length / 5;
  const C = R > 0 ? clsProb.length / R : 0;
  const boxesAll = unscaleBoxes(rois, scale);
  const maxConf = new Float64Array(R);
  if (R > 0) {
    const overlaps = overlapLists(boxesAll);
    const scores = new Float64Array(R);
    const suppressed = new Uint8Array(R);
    for (let c = 1; c < C; c++) {
      for (let i = 0; i < R; i++) scores[i] = clsProb[i * C + c]!;
      for (const i of nmsKeep(scores, overlaps, suppressed)) if (scores[i]! > maxConf[i]!) maxConf[i] = scores[i]!;
    }
  }
  let keep: Int32Array;
  const above: number[] = [];
  for (let i = 0; i < R; i++) if (maxConf[i]! >= opts.confThresh) above.push(i);
  if (above.length < opts.minBoxes) keep = npArgsortDesc(maxConf).slice(0, opts.minBoxes);
  else if (above.length > opts.maxBoxes) keep = npArgsortDesc(maxConf).slice(0, opts.maxBoxes);
  else keep = Int32Array.from(above);
  return finishSelection(keep, boxesAll, clsProb, C, attrProb);
}

/** Gather boxes, objects and attributes for already chosen rows (also used for user-given boxes). */
export function finishSelection(keep: Int32Array, boxesAll: Float32Array, clsProb: Float32Array, C: number, attrProb: Float32Array | undefined): Selection {
  const N = keep.length;
  const boxes = new Float32Array(N * 4);
  for (let n = 0; n < N; n++) boxes.set(boxesAll.subarray(keep[n]! * 4, keep[n]! * 4 + 4), n * 4);
  const objectsId = new Int32Array(N);
  const objectsConf = new Float32Array(N);
  const attrsId = new Int32Array(N);
  const attrsConf = new Float32Array(N);
  if (N > 0) {
    argmaxFrom1(clsProb, C, keep, objectsId, objectsConf);
    if (attrProb) argmaxFrom1(attrProb, attrProb.length / (boxesAll.length / 4), keep, attrsId, attrsConf);
  }
  return { keep, boxes, objectsId, objectsConf, attrsId, attrsConf };
}
