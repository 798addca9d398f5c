import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { averagePrecision, elevenPointAP, evaluateVoc07Files, voc07 } from '../eval/voc07.js';
import { runCli, tempDir } from './helpers.js';

const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} != ${b}`);

test('voc07: scikit-learn AP by hand, difficult images dropped, tied scores form one step', () => {
  // Ranking after dropping the difficult image: 0.9 (+), 0.8 (−), 0.7 (+), 0.5 (−).
  // Steps: R 0.5 at P 1, R 0.5 at P 0.5, R 1 at P 2/3, R 1 at P 0.5 → AP = 0.5·1 + 0.5·2/3 = 5/6.
  const m = voc07(
    { rows: 5, cols: 1, data: Float64Array.from([0.9, 0.8, 0.7, 0.6, 0.5]), integer: false },
    { rows: 5, cols: 1, data: Float64Array.from([1, -1, 1, 0, -1]), integer: true },
  );
  close(m.perClass.class_0!, 5 / 6);
  close(m.mAP, 5 / 6);
  // Tie at 0.9 between a positive and a negative: one threshold with P 0.5, R 0.5; then P 2/3, R 1.
  close(averagePrecision([0.9, 0.9, 0.1], [true, false, true]), 0.5 * 0.5 + 0.5 * (2 / 3));
  // Perfect ranking → 1; all positives ranked last among 2 negatives → mean of precisions 1/3, 2/4.
  close(averagePrecision([3, 2, 1], [true, true, false]), 1);
  close(averagePrecision([4, 3, 2, 1], [false, false, true, true]), 0.5 * (1 / 3) + 0.5 * (2 / 4));
});

test('voc07: 11-point devkit AP by hand (difficult stays in the ranking but counts neither way)', () => {
  // Ranking 0.9 (+), 0.8 (−), 0.7 (+), 0.6 (difficult), 0.5 (−): recall .5 .5 1 1 1, precision 1 .5 2/3 2/3 .5.
  // Recall levels 0..0.5 → max precision 1 (6 levels); 0.6..1 → 2/3 (5 levels). AP = (6 + 5·2/3) / 11.
  close(elevenPointAP([0.9, 0.8, 0.7, 0.6, 0.5], [1, -1, 1, 0, -1]), (6 + (5 * 2) / 3) / 11);
});

test('voc07: files (CSV scores, JSON labels), 20 classes get VOC names, CLI --json and --11-point', async () => {
  const dir = tempDir();
  const n = 6;
  const scores = Array.from({ length: n }, (_, i) => Array.from({ length: 20 }, (_, c) => ((i * 7 + c * 3) % 11) / 10));
  const labels = Array.from({ length: n }, (_, i) => Array.from({ length: 20 }, (_, c) => ((i + c) % 3) - 1));
  const s = path.join(dir, 'scores.csv');
  writeFileSync(s, scores.map((r) => r.join(',')).join('\n') + '\n');
  const l = path.join(dir, 'labels.json');
  writeFileSync(l, JSON.stringify(labels));
  const m = evaluateVoc07Files(s, l);
  assert.deepEqual(Object.keys(m.perClass).slice(0, 3), ['aeroplane', 'bicycle', 'bird']);
  // Each class AP independently: recompute one class by hand through averagePrecision.
  const c = 4;
  const keep = labels.map((r) => r[c]!).map((x, i) => [x, scores[i]![c]!] as const).filter(([x]) => x !== 0);
  close(m.perClass.bottle!, averagePrecision(keep.map(([, sc]) => sc), keep.map(([x]) => x > 0)));
  const r = await runCli(['eval', 'voc07', '--scores', s, '--labels', l, '--json', '--11-point']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { metric: string; mAP: number };
  assert.equal(j.metric, '11-point');
  const bad = path.join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify(labels.map((row) => row.map((x) => (x === 1 ? 2 : x)))));
  const e = await runCli(['eval', 'voc07', '--scores', s, '--labels', bad]);
  assert.equal(e.code, 2);
  assert.match(e.stderr, /bad\.json: label 2 at row \d+, column \d+ is not -1, 0 or 1/);
});
