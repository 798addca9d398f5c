import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { InputError } from '../common/errors.js';
import { evaluateGqa, evaluateGqaFiles, groundingScore, stepsNum, type GqaQuestion } from '../eval/gqa.js';
import { pyFixed2 } from '../bin/commands/eval/gqa.js';
import { FIXTURES, runCli, tempDir } from './helpers.js';

const F = path.join(FIXTURES, 'eval/gqa');

function q(answer: string, structural: string, over: Partial<GqaQuestion> = {}): GqaQuestion {
  return {
    question: 'is it red?',
    answer,
    isBalanced: true,
    types: { structural, semantic: 'attr', detailed: 'colorVerify' },
    groups: { global: null },
    entailed: [],
    semantic: [],
    imageId: 'i',
    annotations: { question: {}, fullAnswer: {} },
    ...over,
  };
}

test('gqa: hand-computed accuracy, validity ("Common" rule), consistency and distribution', () => {
  const questions: [string, GqaQuestion][] = [
    ['1', q('yes', 'verify', { entailed: ['1', '2', '3'], groups: { global: 'color' } })],
    ['2', q('red', 'query', { groups: { global: 'color' } })],
    ['3', q('no', 'logical', { isBalanced: false })],
    ['4', q('color', 'choose', { types: { structural: 'choose', semantic: 'attr', detailed: 'materialCommon' }, groups: { global: 'color' } })],
  ];
  const predictions = new Map([['1', 'yes'], ['2', 'blue'], ['3', 'no'], ['4', 'color']]);
  const m = evaluateGqa({
    questions,
    predictions,
    choices: { '1': { valid: ['yes', 'no'], plausible: ['yes'] }, '2': { valid: ['red'], plausible: ['red'] }, '4': { valid: [], plausible: [] } },
    allAnswers: new Map([['2', 'red'], ['3', 'no']]),
  });
  assert.equal(m.numQuestions, 3); // question 3 is not balanced
  assert.equal(m.accuracy, (2 / 3) * 100);
  assert.equal(m.binary, 100); // 1 (verify) and 4 (choose)
  assert.equal(m.open, 0); // 2 (query)
  // validity: 1 yes ∈ {yes,no}; 2 blue ∉ {red}; 4 "color" ∈ [color, material, shape] because of "Common".
  assert.equal(m.validity, (2 / 3) * 100);
  // consistency: only correct questions with entailed ones: q1 → entailed 2 (wrong), 3 (right) → 0.5.
  assert.equal(m.consistency, 50);
  // distribution: group "color" gold {yes:1, red:1, color:1}, predicted {yes:1, blue:1, color:1}:
  // chi = (0 + 1 + 0) = 1, weighted by 3 over 3 → 1, /100.
  assert.equal(m.distribution, 0.01);
  assert.equal(m.grounding, null);
  assert.equal(m.notes.grounding, 'unavailable: needs --attentions and --scene-graphs');
});

test('gqa: steps exclude exist / query: name / choose name; grounding sums attention × covered cell fraction', () => {
  assert.equal(stepsNum([{ operation: 'select', argument: 'cat' }, { operation: 'exist', argument: '?' }, { operation: 'query', argument: 'name' }, { operation: 'relate', argument: null }]), 2);
  // 2x2 map; object covers the left half of the image (x in [0, 0.5]); cells (i = x index): i=0 fully covered.
  const sg = { width: 100, height: 50, objects: { o: { x: 0, y: 0, w: 50, h: 50 } } };
  const att = [[0.1, 0.2], [0.3, 0.4]];
  assert.ok(Math.abs(groundingScore(q('x', 'query', { annotations: { question: { '1': 'o' }, fullAnswer: {} } }), sg, att, false, 2) - 0.3) < 1e-15);
  // Object features: one box [0,0,0.25,1] fully inside the region, one half inside.
  const boxes = [[0, 0, 0.25, 1, 0.5], [0.25, 0, 0.75, 1, 0.5]];
  assert.equal(groundingScore(q('x', 'query', { annotations: { question: { '1': 'o' }, fullAnswer: {} } }), sg, boxes, true, 7), 0.5 + 0.25);
});

test('gqa: Python-style "{:.2f}" rounds exact ties to even', () => {
  assert.equal(pyFixed2(3.125), '3.12');
  assert.equal(pyFixed2(3.375), '3.38');
  assert.equal(pyFixed2(61.40350877192983), '61.40');
});

// Expected values: the official GQA eval.py (as distributed on gqadataset.org; copy read from
// junayednaushad/Relation-Network-VQA gqa/eval.py @ 613d4a2) run with Python 3.11 (tqdm replaced by a no-op shim)
// on test/fixtures/eval/gqa: `eval.py --questions questions.json --choices choices.json --predictions
// predictions.json --scenes sceneGraphs.json --attentions attentions.json --consistency --grounding`, dumping the
// final `scores` dict with json.dumps (floats repr-exact). Printed: Binary 62.88%, Open 56.41%, Accuracy 61.40%,
// Consistency 63.86%, Validity 49.71%, Plausibility 23.98%, Grounding 6.05%, Distribution 0.15.
test('gqa: fixture matches the official eval.py to the last bit', () => {
  const m = evaluateGqaFiles({
    questions: path.join(F, 'questions.json'),
    predictions: path.join(F, 'predictions.json'),
    choices: path.join(F, 'choices.json'),
    allQuestions: path.join(F, 'questions.json'),
    sceneGraphs: path.join(F, 'sceneGraphs.json'),
    attentions: path.join(F, 'attentions.json'),
  });
  assert.equal(m.binary, 62.878787878787875);
  assert.equal(m.open, 56.41025641025641);
  assert.equal(m.accuracy, 61.40350877192983);
  assert.equal(m.consistency, 63.85542168674699);
  assert.equal(m.validity, 49.707602339181285);
  assert.equal(m.plausibility, 23.976608187134502);
  assert.equal(m.grounding, 6.051801037267837);
  assert.equal(m.distribution, 0.15373282442748093);
  assert.deepEqual(m.perStructuralType.verify, { accuracy: 46.875, count: 32 });
  assert.deepEqual(m.perStructuralType.choose, { accuracy: 62.16216216216216, count: 37 });
  assert.deepEqual(m.perSemanticType.rel, { accuracy: 74.28571428571429, count: 35 });
  assert.deepEqual(m.perSteps['0'], { accuracy: 69.23076923076923, count: 13 });
  assert.deepEqual(m.perLength['11'], { accuracy: 69.23076923076923, count: 26 });
});

test('gqa: without extra files those metrics are null with a note; missing predictions are an error', async () => {
  const r = await runCli(['eval', 'gqa', '--questions', path.join(F, 'questions.json'), '--predictions', path.join(F, 'predictions.json'), '--json']);
  assert.equal(r.code, 0, r.stderr);
  const m = JSON.parse(r.stdout) as Record<string, unknown> & { notes: Record<string, string> };
  assert.equal(m.accuracy, 61.40350877192983);
  assert.equal(m.validity, null);
  assert.equal(m.notes.validity, 'unavailable: needs --choices');
  assert.equal(m.consistency, null);
  assert.equal(m.notes.consistency, 'unavailable: needs --all-questions');
  assert.equal(m.distribution, 0.15373282442748093);
  const table = await runCli(['eval', 'gqa', '--questions', path.join(F, 'questions.json'), '--predictions', path.join(F, 'predictions.json')]);
  assert.match(table.stdout, /^accuracy\s+61\.40%$/m);
  assert.match(table.stdout, /^validity\s+- \(unavailable: needs --choices\)$/m);
  const dir = tempDir();
  writeFileSync(path.join(dir, 'p.json'), JSON.stringify([{ questionId: '1', prediction: 'x' }]));
  assert.throws(
    () => evaluateGqaFiles({ questions: path.join(F, 'questions.json'), predictions: path.join(dir, 'p.json') }),
    (e: unknown) => e instanceof InputError && /171 balanced questions have no prediction/.test(e.message),
  );
});
