import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { imagenetAccuracy, evaluateImagenetFiles } from '../eval/imagenet.js';
import { evaluateRefcocoFiles, iouInclusive } from '../eval/refcoco.js';
import { evaluateVcrFiles } from '../eval/vcr.js';
import { runCli, tempDir } from './helpers.js';

test('imagenet: top-1/top-5 from scores (ties rank the lower class first) and from ranked ids', () => {
  const scores = [
    [0.1, 0.9, 0.0, 0.0, 0.0, 0.0, 0.0], // label 1: top-1
    [0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.0], // label 5: rank 5 → miss at 5
    [0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2], // label 4: ties → rank 4 → top-5 hit
  ];
  const m = imagenetAccuracy({ rows: 3, cols: 7, data: Float64Array.from(scores.flat()), integer: false }, [1, 5, 4], false);
  assert.deepEqual(m, { top1: 1 / 3, top5: 2 / 3, numImages: 3 });
  const ranked = imagenetAccuracy({ rows: 2, cols: 5, data: Float64Array.from([3, 1, 2, 0, 4, 9, 8, 7, 6, 5]), integer: true }, [3, 1], true);
  assert.deepEqual(ranked, { top1: 1 / 2, top5: 1 / 2, numImages: 2 });
  const dir = tempDir();
  const p = path.join(dir, 'p.json');
  writeFileSync(p, JSON.stringify(scores));
  const l = path.join(dir, 'l.txt');
  writeFileSync(l, '1\n5\n9\n');
  assert.throws(() => evaluateImagenetFiles(p, l), /l\.txt:3: label 9 is not a class index in \[0, 7\)/);
});

test('refcoco: IoU with inclusive pixels, accuracy per split at IoU >= 0.5', async () => {
  // [0,0,9,9] vs gt [0,0,10,10]: 100 / (100 + 121 − 100) = 0.826; [0,0,4,9]: 50 / 121 = 0.41.
  assert.equal(iouInclusive([0, 0, 9, 9], [0, 0, 10, 10]), 100 / 121);
  assert.equal(iouInclusive([0, 0, 4, 9], [0, 0, 10, 10]), 50 / 121);
  assert.equal(iouInclusive([0, 0, 1, 1], [5, 5, 6, 6]), 0);
  const dir = tempDir();
  const inst = path.join(dir, 'instances.json');
  writeFileSync(inst, JSON.stringify({ annotations: [{ id: 10, bbox: [0, 0, 10, 10] }, { id: 11, bbox: [20, 20, 5, 5] }] }));
  const refs = path.join(dir, 'refs.json');
  writeFileSync(refs, JSON.stringify([
    { ref_id: 1, ann_id: 10, split: 'val' },
    { ref_id: 2, ann_id: 11, split: 'val' },
    { ref_id: 3, ann_id: 10, split: 'testA' },
    { ref_id: 4, ann_id: 11, split: 'testB' },
  ]));
  const preds = path.join(dir, 'pred.json');
  writeFileSync(preds, JSON.stringify([
    { ref_id: 1, box: [0, 0, 9, 9] }, // hit
    { ref_id: 2, box: [0, 0, 9, 9] }, // miss
    { ref_id: 3, box: [0, 0, 4, 9] }, // miss (0.41)
    { ref_id: 4, box: [20, 20, 25, 25] }, // exact → hit
  ]));
  const m = evaluateRefcocoFiles(preds, refs, inst);
  assert.deepEqual(m, { accuracy: { val: 0.5, testA: 0, testB: 1 }, counts: { val: 2, testA: 1, testB: 1 }, overall: 0.5 });
  writeFileSync(preds, JSON.stringify([{ ref_id: 7, box: [0, 0, 1, 1] }]));
  const r = await runCli(['eval', 'refcoco', '--predictions', preds, '--refs', refs, '--instances', inst]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /pred\.json: record \[0\]: ref_id 7 is not in/);
});

test('vcr: Q->A, QA->R, Q->AR from logits (argmax ties to the first index), CLI table', async () => {
  const dir = tempDir();
  const ann = path.join(dir, 'val.jsonl');
  writeFileSync(ann, ['{"answer_label": 0, "rationale_label": 1}', '{"answer_label": 2, "rationale_label": 3}', '{"answer_label": 1, "rationale_label": 0}', ''].join('\n'));
  const a = path.join(dir, 'a.json');
  writeFileSync(a, JSON.stringify([[5, 1, 1, 1], [0, 0, 1, 0], [2, 2, 0, 0]])); // right, right, wrong (tie → 0)
  const rr = path.join(dir, 'r.csv');
  writeFileSync(rr, '0,1,0,0\n1,0,0,0\n3,0,0,0\n'); // right, wrong, right
  assert.deepEqual(evaluateVcrFiles(ann, a, rr), { 'Q->A': 2 / 3, 'QA->R': 2 / 3, 'Q->AR': 1 / 3, numQuestions: 3 });
  const r = await runCli(['eval', 'vcr', '--annotations', ann, '--answer-logits', a, '--rationale-logits', rr]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Q->AR\s+33\.3/);
  writeFileSync(rr, '0,1,0,0\n');
  const bad = await runCli(['eval', 'vcr', '--annotations', ann, '--answer-logits', a, '--rationale-logits', rr, '--json']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /r\.csv: expected 3×4 logits/);
});
