/**
 * RefCOCO / RefCOCO+ / RefCOCOg grounding accuracy as VL-BERT's refcoco test script computes it: a referring
 * expression is correct when IoU(predicted box, ground-truth box) ≥ 0.5, with VL-BERT's pixel convention (widths
 * and heights +1). Accuracy is reported per split (val, testA, testB, test, ...) over the predicted refs of that
 * split.
 *
 * Inputs:
 *  - predictions: VL-BERT's result json `[{"ref_id": int, "box": [x1, y1, x2, y2]}]`;
 *  - refs: the refer toolkit's refs list as JSON `[{"ref_id", "ann_id", "split", ...}]` (refs(unc).p converted
 *    with `json.dump(pickle.load(open(p, "rb")), out)`);
 *  - instances: COCO-style `{"annotations": [{"id", "bbox": [x, y, w, h]}]}` (the refer toolkit's instances.json).
 */
import { InputError } from '../common/errors.js';
import { describe, expectArray, expectObject, readJson } from './io.js';

export interface RefcocoMetrics {
  /** Accuracy per split as a fraction (null for a split with no predictions). */
  accuracy: Record<string, number | null>;
  counts: Record<string, number>;
  overall: number;
}

export type Box = [number, number, number, number];

/** IoU of two [x1, y1, x2, y2] boxes with inclusive pixel coordinates (+1 on widths and heights). */
export function iouInclusive(a: Box, b: Box): number {
  const iw = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]) + 1);
  const ih = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]) + 1);
  const inter = iw * ih;
  const areaA = (a[2] - a[0] + 1) * (a[3] - a[1] + 1);
  const areaB = (b[2] - b[0] + 1) * (b[3] - b[1] + 1);
  return inter / (areaA + areaB - inter);
}

function box(v: unknown, file: string, record: string): Box {
  if (!Array.isArray(v) || v.length !== 4 || v.some((x) => typeof x !== 'number' || !Number.isFinite(x))) {
    throw new InputError(file, `box must be 4 finite numbers, got ${describe(v)}`, record);
  }
  return v as Box;
}

export function evaluateRefcocoFiles(predFile: string, refsFile: string, instancesFile: string, threshold = 0.5): RefcocoMetrics {
  const annBox = new Map<unknown, Box>();
  const inst = expectObject(readJson(instancesFile), instancesFile, 'COCO instances');
  expectArray(inst.annotations, instancesFile, '"annotations"').forEach((a, i) => {
    const o = expectObject(a, instancesFile, 'an annotation', `annotations[${i}]`);
    const [x, y, w, h] = box(o.bbox, instancesFile, `annotations[${i}]`);
    annBox.set(o.id, [x, y, x + w, y + h]);
  });
  const refs = new Map<unknown, { split: string; gt: Box }>();
  expectArray(readJson(refsFile), refsFile, 'refs').forEach((r, i) => {
    const o = expectObject(r, refsFile, 'a ref', `[${i}]`);
    if (typeof o.split !== 'string') throw new InputError(refsFile, `"split" must be a string, got ${describe(o.split)}`, `[${i}]`);
    const gt = annBox.get(o.ann_id);
    if (!gt) throw new InputError(refsFile, `ann_id ${JSON.stringify(o.ann_id)} is not in ${instancesFile}`, `[${i}]`);
    refs.set(o.ref_id, { split: o.split, gt });
  });
  const hits: Record<string, number> = {};
  const counts: Record<string, number> = {};
  const seen = new Set<unknown>();
  let hitAll = 0;
  const preds = expectArray(readJson(predFile), predFile, 'predictions [{ref_id, box}]');
  preds.forEach((p, i) => {
    const o = expectObject(p, predFile, 'a prediction', `[${i}]`);
    const ref = refs.get(o.ref_id);
    if (!ref) throw new InputError(predFile, `ref_id ${JSON.stringify(o.ref_id)} is not in ${refsFile}`, `[${i}]`);
    if (seen.has(o.ref_id)) throw new InputError(predFile, `ref_id ${JSON.stringify(o.ref_id)} is predicted twice`, `[${i}]`);
    seen.add(o.ref_id);
    const ok = iouInclusive(box(o.box, predFile, `[${i}]`), ref.gt) >= threshold ? 1 : 0;
    hits[ref.split] = (hits[ref.split] ?? 0) + ok;
    counts[ref.split] = (counts[ref.split] ?? 0) + 1;
    hitAll += ok;
  });
  if (preds.length === 0) throw new InputError(predFile, 'no predictions');
  const accuracy: Record<string, number | null> = { val: null, testA: null, testB: null };
  for (const s of Object.keys(counts)) accuracy[s] = hits[s]! / counts[s]!;
  return { accuracy, counts, overall: hitAll / preds.length };
}
