import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { InputError } from '../common/errors.js';
import {
  evaluateVqaFiles,
  normalizeAnswer,
  processDigitArticle,
  processPunctuation,
  scoreVqaAnswer,
  round2,
} from '../eval/vqa/index.js';
import { FIXTURES, runCli, tempDir } from './helpers.js';

const F = path.join(FIXTURES, 'eval/vqa');
const gt = (answers: string[]) => ({ answers, entryKeys: null });
const ten = (a: string) => Array(10).fill(a) as string[];

test('vqa normalize: punctuation rules, periods, digits, articles, contractions', () => {
  // A mark next to a space is deleted, otherwise replaced by a space.
  assert.equal(processPunctuation('red/white'), 'red white');
  assert.equal(processPunctuation('red / white'), 'red  white');
  // A digit,digit anywhere deletes every mark, so "1,000" → "1000".
  assert.equal(processPunctuation('1,000'), '1000');
  assert.equal(processPunctuation('(red),3,5'), 'red35');
  // '.' not followed by a digit is removed; "3.14" survives; at most 32 removals.
  assert.equal(processPunctuation('u.s.a.'), 'usa');
  assert.equal(processPunctuation('3.14.'), '3.14');
  assert.equal(processPunctuation('a' + '.'.repeat(40) + 'b'), 'a' + '.'.repeat(8) + 'b');
  // ' : % $ & untouched.
  assert.equal(processPunctuation("it's 10:30 50% $5 a&b"), "it's 10:30 50% $5 a&b");
  assert.equal(processDigitArticle('The TWO dogs'), '2 dogs');
  assert.equal(processDigitArticle('none  of a  kind'), '0 of kind');
  assert.equal(processDigitArticle('dont know whats up'), "don't know what's up");
  // The table's own oddities: capitalised keys never fire; "somebody'd" becomes "somebodyd".
  assert.equal(processDigitArticle("Im somebody'd"), "im somebodyd");
  // Python 2 whitespace: U+0085 splits words, U+FEFF does not; İ lowers to a plain i.
  assert.equal(processDigitArticle('a\u0085b\ufeffc İ'), 'b\ufeffc i');
  assert.equal(normalizeAnswer('\tThe Dog.\n'), 'dog');
});

test('vqa score: unanimous ground truth is matched exactly, case-sensitively (current version)', () => {
  assert.equal(scoreVqaAnswer(gt(ten('yes')), 'Yes'), 0);
  assert.equal(scoreVqaAnswer(gt(ten('yes')), ' yes\n'), 1); // whitespace is cleaned before the exact match
  assert.equal(scoreVqaAnswer(gt(ten('two')), 'two'), 1);
  assert.equal(scoreVqaAnswer(gt(ten('two')), '2'), 0);
  // 2017: the result is normalised ("two" → "2") but unanimous GT is not: ten "two" vs "two" scores 0.
  assert.equal(scoreVqaAnswer(gt(ten('two')), 'two', '2017'), 0);
  assert.equal(scoreVqaAnswer(gt(ten('2')), 'two', '2017'), 1);
});

test('vqa score: leave-one-out over 10 answers gives 0, 0.3, 0.6, 0.9, 1', () => {
  const mix = (k: number) => [...Array(k).fill('red'), ...Array(10 - k).fill('blue')];
  // k matching answers: the k left-out subsets that drop a match see k-1, the others k.
  const expected = (k: number) => (k * Math.min(1, (k - 1) / 3) + (10 - k) * Math.min(1, k / 3)) / 10;
  const close = (a: number, b: number, msg: string) => assert.ok(Math.abs(a - b) < 1e-12, `${msg}: ${a} vs ${b}`);
  // Ten identical "red" are unanimous: exact match only, so "Red" scores 0 there.
  for (let k = 0; k <= 10; k++) close(scoreVqaAnswer(gt(mix(k)), 'Red'), k === 10 ? 0 : expected(k), `k=${k}`);
  [0, 0.3, 0.6, 0.9, 1, 1].forEach((want, k) => close(scoreVqaAnswer(gt(mix(k)), 'red'), want, `k=${k}`));
  // Split annotators are normalised: articles, number words, punctuation.
  assert.equal(scoreVqaAnswer(gt([...Array(5).fill('the dog'), ...Array(5).fill('cat')]), 'A Dog.'), 1);
  assert.equal(scoreVqaAnswer(gt([...Array(5).fill('two'), ...Array(5).fill('3')]), '2'), 1);
  // The script compares whole answer dicts: identical entries (no answer_id) are all left out together.
  const keys = Array(10).fill('same') as string[];
  // A "red" entry leaves out all 4 reds (0 matches left); a "blue" entry leaves 4 reds (≥ 3): (4·0 + 6·1) / 10.
  assert.equal(scoreVqaAnswer({ answers: [...Array(4).fill('red'), ...Array(6).fill('blue')], entryKeys: keys }, 'red'), 0.6);
});

test('vqa round2 is Python 2 round: exact binary value, ties away from zero', () => {
  assert.equal(round2(12.125), 12.13); // exact tie
  assert.equal(round2(2.675), 2.67); // 2.67499999… in binary
  assert.equal(round2(66), 66);
});

// Expected values: GT-Vision-Lab/VQA vqaEval.py + vqa.py run unmodified with Python 2.7.18 on the fixture
// (test/fixtures/eval/vqa, made by generate.mjs): current version = commit a013f00, 2017 version = commit a4f1afd,
// `VQA(ann, ques); loadRes(res, ques); VQAEval(vqa, res, n=2).evaluate()`, printing vqaEval.accuracy.
// Per-question accuracies (evalQA) were also compared: all 320 identical in both versions.
const OFFICIAL_CURRENT = {
  overall: 66.0,
  perAnswerType: { number: 63.44, other: 68.56, 'yes/no': 64.62 },
  perQuestionType: {
    'are there': 66.22, 'how many': 68.09, 'is the': 63.04, 'none of the above': 70.0,
    what: 71.29, 'what color is the': 66.32, 'what is the': 67.67, 'what number is': 58.37,
  },
};
const OFFICIAL_2017 = {
  overall: 42.84,
  perAnswerType: { number: 46.0, other: 42.23, 'yes/no': 40.66 },
  perQuestionType: {
    'are there': 45.33, 'how many': 45.96, 'is the': 36.09, 'none of the above': 55.19,
    what: 37.74, 'what color is the': 38.68, 'what is the': 40.47, 'what number is': 46.05,
  },
};

test('vqa: the 320-question tricky fixture gives the official script numbers (current and 2017)', () => {
  const files = { questions: path.join(F, 'questions.json'), annotations: path.join(F, 'annotations.json'), results: path.join(F, 'results.json') };
  for (const [version, expected] of [['current', OFFICIAL_CURRENT], ['2017', OFFICIAL_2017]] as const) {
    const r = evaluateVqaFiles({ ...files, version });
    assert.equal(r.overall, expected.overall, version);
    assert.deepEqual(r.perAnswerType, expected.perAnswerType, version);
    assert.deepEqual(r.perQuestionType, expected.perQuestionType, version);
    assert.equal(r.numQuestions, 320);
  }
});

test('vqa: results must cover exactly the annotated questions', () => {
  const dir = tempDir();
  const results = JSON.parse(readFileSync(path.join(F, 'results.json'), 'utf8')) as { question_id: number; answer: string }[];
  const bad = path.join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify([...results.slice(2), { question_id: 7, answer: 'x' }]));
  assert.throws(
    () => evaluateVqaFiles({ questions: path.join(F, 'questions.json'), annotations: path.join(F, 'annotations.json'), results: bad }),
    (e: unknown) => e instanceof InputError && /2 annotated questions have no result \(e\.g\. 1000, 1007\)/.test(e.message) && /1 results are for questions not in/.test(e.message),
  );
  writeFileSync(bad, JSON.stringify([{ question_id: 1000, answer: 3 }]));
  assert.throws(
    () => evaluateVqaFiles({ questions: path.join(F, 'questions.json'), annotations: path.join(F, 'annotations.json'), results: bad }),
    (e: unknown) => e instanceof InputError && e.message.includes('bad.json: record [0]') && /must be a string/.test(e.message),
  );
});

test('vqa --lxmert-gt: score = label[answer], exact match, absent → 0; {qid: answer} predictions', () => {
  const dir = tempDir();
  const gtFile = path.join(dir, 'minival.json');
  writeFileSync(
    gtFile,
    JSON.stringify([
      { question_id: 1, img_id: 'a', sent: 'q1?', label: { yes: 1 }, answer_type: 'yes/no', question_type: 'is the' },
      { question_id: 2, img_id: 'a', sent: 'q2?', label: { '2': 0.6, '3': 0.3 }, answer_type: 'number', question_type: 'how many' },
      { question_id: 3, img_id: 'b', sent: 'q3?', label: { red: 0.9 }, answer_type: 'other', question_type: 'what color is the' },
      { question_id: 4, img_id: 'b', sent: 'q4?', label: {}, answer_type: 'other', question_type: 'what color is the' },
    ]),
  );
  const pred = path.join(dir, 'pred.json');
  writeFileSync(pred, JSON.stringify({ '1': 'yes', '2': 'two', '3': 'red', '4': 'blue' }));
  const r = evaluateVqaFiles({ lxmertGt: gtFile, results: pred });
  // (1 + 0 + 0.9 + 0) / 4 = 0.475 → 47.5; other = 0.45 → 45; "two" is not normalised to "2".
  assert.equal(r.overall, 47.5);
  assert.deepEqual(r.perAnswerType, { 'yes/no': 100, number: 0, other: 45 });
  assert.equal(r.version, 'lxmert');
});

test('vqa CLI: --json prints exactly one JSON object; table by default; --out writes the same JSON', async () => {
  const dir = tempDir();
  const args = ['eval', 'vqa', '--questions', path.join(F, 'questions.json'), '--annotations', path.join(F, 'annotations.json'), '--results', path.join(F, 'results.json')];
  const json = await runCli([...args, '--json', '--out', path.join(dir, 'm.json')]);
  assert.equal(json.code, 0, json.stderr);
  const parsed = JSON.parse(json.stdout) as { overall: number; perAnswerType: object };
  assert.equal(parsed.overall, 66);
  assert.deepEqual(JSON.parse(readFileSync(path.join(dir, 'm.json'), 'utf8')), parsed);
  const old = await runCli([...args, '--version', '2017', '--json']);
  assert.equal((JSON.parse(old.stdout) as { overall: number }).overall, 42.84);
  const table = await runCli(args);
  assert.match(table.stdout, /^overall\s+66\.00$/m);
  assert.match(table.stdout, /^ {2}what number is\s+58\.37$/m);
  const missing = await runCli(['eval', 'vqa', '--questions', path.join(F, 'questions.json'), '--annotations', path.join(F, 'annotations.json'), '--results', path.join(F, 'questions.json')]);
  assert.equal(missing.code, 2);
  assert.equal(missing.stdout, '');
});
