import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { InputError } from '../common/errors.js';
import { evaluateNlvr2, evaluateNlvr2Files, sentenceKey } from '../eval/nlvr2.js';
import { FIXTURES, runCli, tempDir } from './helpers.js';

const F = path.join(FIXTURES, 'eval/nlvr2');

test('nlvr2: consistency groups identifiers with the third field blanked', () => {
  assert.equal(sentenceKey('dev-850-0-0'), 'dev-850--0');
  assert.equal(sentenceKey('dev-850-3-0'), 'dev-850--0');
  assert.equal(sentenceKey('dev-850'), null);
  // Sentence A (dev-1-*-0): 3 rows, one wrong → inconsistent; sentence B (dev-2-*-1): 2 rows right → consistent;
  // dev-1-0-1 is a different sentence (fourth field differs) and right.
  const gold = [
    { identifier: 'dev-1-0-0', label: 'True' },
    { identifier: 'dev-1-1-0', label: 'False' },
    { identifier: 'dev-1-2-0', label: 'True' },
    { identifier: 'dev-2-0-1', label: 'True' },
    { identifier: 'dev-2-1-1', label: 'False' },
    { identifier: 'dev-1-0-1', label: 'False' },
  ];
  const preds = new Map([
    ['dev-1-0-0', 'true'],
    ['dev-1-1-0', 'True'],
    ['dev-1-2-0', 'TRUE'],
    ['dev-2-0-1', 'True'],
    ['dev-2-1-1', 'false'],
    ['dev-1-0-1', 'False'],
    ['dev-9-0-0', 'True'], // extra: ignored
  ]);
  assert.deepEqual(evaluateNlvr2(gold, preds), { accuracy: 5 / 6, consistency: 2 / 3, numExamples: 6, numSentences: 3 });
});

// Expected values: lil-lab/nlvr nlvr2/eval/metrics.py (commit 1892484) run with Python 3.11
// (`python3 metrics.py predictions.csv gold.jsonl`) on test/fixtures/eval/nlvr2 (made by generate.mjs); it printed
// accuracy=0.7704402515723271 and consistency=0.4111111111111111. The fixture repeats identifiers (last wins),
// mixes case and has predictions for ids not in the gold file.
test('nlvr2: fixture matches the official metrics.py to the last digit', () => {
  const r = evaluateNlvr2Files(path.join(F, 'gold.jsonl'), path.join(F, 'predictions.csv'));
  assert.equal(r.accuracy, 0.7704402515723271);
  assert.equal(r.consistency, 0.4111111111111111);
  assert.equal(r.numExamples, 318);
  assert.equal(r.numSentences, 90);
});

test('nlvr2: missing predictions and bad CSV rows are input errors naming the file', () => {
  const dir = tempDir();
  const gold = path.join(dir, 'gold.jsonl');
  writeFileSync(gold, '{"identifier": "t-1-0-0", "label": "True"}\n{"identifier": "t-1-1-0", "label": "False"}\n');
  const pred = path.join(dir, 'p.csv');
  writeFileSync(pred, 't-1-0-0,True\n');
  assert.throws(() => evaluateNlvr2Files(gold, pred), (e: unknown) => e instanceof InputError && /1 of 2 gold examples have no prediction \(e\.g\. t-1-1-0\)/.test(e.message));
  writeFileSync(pred, 't-1-0-0,True\nt-1-1-0\n');
  assert.throws(() => evaluateNlvr2Files(gold, pred), (e: unknown) => e instanceof InputError && e.message.startsWith(`${pred}:2:`));
  writeFileSync(pred, 't-1-0-0,True\n"t-1-1-0,False\n');
  assert.throws(() => evaluateNlvr2Files(gold, pred), (e: unknown) => e instanceof InputError && /invalid CSV/.test(e.message));
});

test('nlvr2 CLI: --json is one object with accuracy and consistency', async () => {
  const r = await runCli(['eval', 'nlvr2', '--gold', path.join(F, 'gold.jsonl'), '--predictions', path.join(F, 'predictions.csv'), '--json']);
  assert.equal(r.code, 0, r.stderr);
  const m = JSON.parse(r.stdout) as { accuracy: number; consistency: number };
  assert.equal(m.accuracy, 0.7704402515723271);
  assert.equal(m.consistency, 0.4111111111111111);
});
