import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { npArgsort, npArgsortDesc } from '../features/argsort.js';
import { planResize, resizePlane, roundHalfEven } from '../features/preprocess.js';
import { iou, selectBoxes } from '../features/select.js';
import { FIXTURES } from './helpers.js';

const REF = JSON.parse(readFileSync(path.join(FIXTURES, 'features/reference.json'), 'utf8')) as {
  argsort: { values: number[]; order: number[] }[];
  resize: { h: number; w: number; scale: number; src: number[][]; outH: number; outW: number; dst: number[] }[];
};

test('argsort: identical to numpy.argsort (quicksort) on tie-heavy arrays of 5..1000 values', () => {
  assert.ok(REF.argsort.length >= 10);
  for (const { values, order } of REF.argsort) assert.deepEqual(Array.from(npArgsort(values)), order, `n=${values.length}`);
  // Hand case: up to 16 equal values numpy's insertion sort is stable, so [::-1] lists ties highest index first.
  assert.deepEqual(Array.from(npArgsortDesc([0.5, 0.5, 0.9, 0.5, 0.1])), [2, 3, 1, 0, 4]);
});

test('resize: cv2.resize(float32, fx=fy=scale, INTER_LINEAR) values from Debian OpenCV 4.6', () => {
  for (const r of REF.resize) {
    const plan = { scale: r.scale, outH: roundHalfEven(r.h * r.scale), outW: roundHalfEven(r.w * r.scale) };
    assert.equal(plan.outH, r.outH, `outH for ${r.h}x${r.w}@${r.scale}`);
    assert.equal(plan.outW, r.outW);
    const out = resizePlane(Float32Array.from(r.src.flat()), r.h, r.w, plan);
    let maxDiff = 0;
    for (let i = 0; i < out.length; i++) maxDiff = Math.max(maxDiff, Math.abs(out[i]! - r.dst[i]!));
    // At exactly 0.5 OpenCV switches to INTER_AREA; bilinear gives the same average up to float rounding.
    if (r.scale === 0.5) assert.ok(maxDiff <= 4e-6, `scale 0.5: max diff ${maxDiff}`);
    else assert.equal(maxDiff, 0, `${r.h}x${r.w}@${r.scale}: max diff ${maxDiff}`);
  }
});

test('resize plan: short side 600, long side <= 1000, cvRound sizes', () => {
  assert.deepEqual(planResize(480, 640), { scale: 1.25, outH: 600, outW: 800 });
  assert.deepEqual(planResize(427, 640), { scale: 600 / 427, outH: 600, outW: 899 }); // 640*600/427 = 899.30
  assert.deepEqual(planResize(100, 1000), { scale: 1, outH: 100, outW: 1000 }); // 6000 > 1000: long side wins
  const tall = planResize(640, 333);
  assert.equal(tall.scale, 1000 / 640);
  assert.deepEqual([tall.outH, tall.outW], [1000, 520]); // 333*1.5625 = 520.3
  assert.deepEqual(planResize(1, 1), { scale: 600, outH: 600, outW: 600 });
  assert.deepEqual(planResize(500, 300), { scale: 2, outH: 1000, outW: 600 }); // exactly 1000 is allowed
  assert.equal(roundHalfEven(2.5), 2);
  assert.equal(roundHalfEven(3.5), 4);
  assert.equal(roundHalfEven(-0.5), -0);
});

/** rois rows [0, x1, y1, x2, y2] for a detector at scale 1. */
function rois(boxes: number[][]): Float32Array {
  return Float32Array.from(boxes.flatMap((b) => [0, ...b]));
}

// box1 overlaps box0 (IoU 81/119), boxes 2 and 3 are apart. Columns: background, class 1, class 2.
const BOXES = [
  [0, 0, 9, 9],
  [1, 1, 10, 10],
  [50, 50, 59, 59],
  [100, 100, 109, 109],
];
const CLS = Float32Array.from([0, 0.9, 0.1, 0, 0.5, 0.6, 0, 0.95, 0.1, 0, 0.1, 0.15]);
const ATTR = Float32Array.from([0.1, 0.2, 0.7, 0.5, 0.4, 0.1, 0.2, 0.4, 0.4, 1, 0, 0]);

test('selection: per-class NMS, max_conf, threshold keeps index order (not confidence order)', () => {
  // class 1 keeps 0 (suppresses 1), 2, 3; class 2 keeps 1 (suppresses 0), 3, 2 → max_conf [0.9, 0.6, 0.95, 0.15].
  const sel = selectBoxes(rois(BOXES), CLS, ATTR, 1, { confThresh: 0.2, minBoxes: 2, maxBoxes: 5 });
  assert.deepEqual(Array.from(sel.keep), [0, 1, 2]);
  assert.deepEqual(Array.from(sel.objectsId), [0, 1, 0]); // argmax over classes 1.., 0-based
  assert.deepEqual(Array.from(sel.objectsConf), [Math.fround(0.9), Math.fround(0.6), Math.fround(0.95)]);
  assert.deepEqual(Array.from(sel.attrsId), [1, 0, 0]); // attr row 2 ties 0.4/0.4: first wins
  assert.deepEqual(Array.from(sel.attrsConf), [Math.fround(0.7), Math.fround(0.4), Math.fround(0.4)]);
  assert.deepEqual(Array.from(sel.boxes), [0, 0, 9, 9, 1, 1, 10, 10, 50, 50, 59, 59]);
});

test('selection: fewer than min / more than max take descending max_conf', () => {
  const few = selectBoxes(rois(BOXES), CLS, undefined, 1, { confThresh: 0.2, minBoxes: 10, maxBoxes: 20 });
  assert.deepEqual(Array.from(few.keep), [2, 0, 1, 3]); // only 4 proposals exist
  assert.deepEqual(Array.from(few.attrsId), [0, 0, 0, 0]);
  assert.deepEqual(Array.from(few.attrsConf), [0, 0, 0, 0]);
  const many = selectBoxes(rois(BOXES), CLS, undefined, 1, { confThresh: 0.2, minBoxes: 1, maxBoxes: 2 });
  assert.deepEqual(Array.from(many.keep), [2, 0]);
  const exact = selectBoxes(rois(BOXES), CLS, undefined, 1, { confThresh: 0.2, minBoxes: 3, maxBoxes: 3 });
  assert.deepEqual(Array.from(exact.keep), [0, 1, 2]);
  const none = selectBoxes(new Float32Array(0), new Float32Array(0), undefined, 1, { confThresh: 0.2, minBoxes: 3, maxBoxes: 3 });
  assert.equal(none.keep.length, 0);
});

test('selection: ties, IoU exactly 0.3 is kept, boxes divided by the float32 scale', () => {
  // Five identical scores on far-apart boxes, all below threshold: argsort()[::-1] → highest index first.
  const far = Array.from({ length: 5 }, (_, i) => [i * 100, 0, i * 100 + 9, 9]);
  const cls = Float32Array.from(far.flatMap(() => [0.9, 0.1]));
  const tie = selectBoxes(rois(far), cls, undefined, 1, { confThresh: 0.2, minBoxes: 3, maxBoxes: 10 });
  assert.deepEqual(Array.from(tie.keep), [4, 3, 2]);
  // b inside a: IoU = 30 / 100 = 0.3f exactly → not suppressed (GPU NMS uses '>').
  const pair = rois([[0, 0, 9, 9], [0, 0, 5, 4]]);
  const u = new Float32Array(8);
  u.set([0, 0, 9, 9, 0, 0, 5, 4]);
  assert.equal(iou(u, 0, 1), Math.fround(0.3));
  const both = selectBoxes(pair, Float32Array.from([0, 0.9, 0, 0.8]), undefined, 1, { confThresh: 0.5, minBoxes: 0, maxBoxes: 10 });
  assert.deepEqual(Array.from(both.keep), [0, 1]);
  // Scale: rois / float32(scale), rounded to float32.
  const s = 600 / 427;
  const scaled = selectBoxes(rois([[10, 20, 300, 400]]), Float32Array.from([0, 1]), undefined, s, { confThresh: 0.2, minBoxes: 1, maxBoxes: 1 });
  assert.deepEqual(Array.from(scaled.boxes), [10, 20, 300, 400].map((v) => Math.fround(v / Math.fround(s))));
});
