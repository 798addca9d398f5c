import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { unzipSync, strFromU8 } from 'fflate';
import { parse } from 'csv-parse/sync';
import { buildGqaSubmission, buildNlvr2Submission, buildVcrSubmission, VCR_COLUMNS } from '../eval/submit/index.js';
import { FIXTURES, runCli, tempDir } from './helpers.js';

const VQA = path.join(FIXTURES, 'eval/vqa');

test('submit vqa: valid predictions → the EvalAI file name, ints and strings, every question once', async () => {
  const dir = tempDir();
  // The fixture has empty answers (on purpose, for the evaluator): fill them in for a clean submission.
  const preds = (JSON.parse(readFileSync(path.join(VQA, 'results.json'), 'utf8')) as { answer: string }[]).map((p) => ({ ...p, answer: p.answer.trim() || 'yes' }));
  writeFileSync(path.join(dir, 'p.json'), JSON.stringify(preds));
  const r = await runCli(['submit', 'vqa', '--predictions', path.join(dir, 'p.json'), '--questions', path.join(VQA, 'questions.json'), '--name', 'mymodel', '--out', dir + '/']);
  assert.equal(r.code, 0, r.stderr);
  const file = path.join(dir, 'vqa_OpenEnded_mscoco_test2015_mymodel_results.json');
  assert.equal(r.stdout.trim(), file);
  const sub = JSON.parse(readFileSync(file, 'utf8')) as { question_id: number; answer: string }[];
  assert.equal(sub.length, 320);
  assert.equal(sub[0]!.question_id, 1000);
  assert.deepEqual(Object.keys(sub[0]!), ['question_id', 'answer']);
  assert.ok(sub.every((s) => Number.isInteger(s.question_id) && typeof s.answer === 'string'));
});

test('submit vqa: problems are listed with counts and examples, nothing written, exit 1; --force writes', async () => {
  const dir = tempDir();
  const preds = JSON.parse(readFileSync(path.join(VQA, 'results.json'), 'utf8')) as { question_id: number | string; answer: unknown }[];
  preds[0]!.answer = '  ';
  preds[1]!.answer = 7;
  preds[2]!.question_id = String(preds[2]!.question_id);
  preds.push({ question_id: preds[3]!.question_id, answer: 'again' }, { question_id: 5, answer: 'x' });
  preds.splice(10, 1);
  writeFileSync(path.join(dir, 'p.json'), JSON.stringify(preds));
  const out = path.join(dir, 'out.json');
  const args = ['submit', 'vqa', '--predictions', path.join(dir, 'p.json'), '--questions', path.join(VQA, 'questions.json'), '--out', out];
  const r = await runCli(args);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  // The fixture itself has 4 empty answers (it tests the evaluator on them): 5 in all.
  assert.match(r.stderr, /5 empty answers \(e\.g\. 1000, 1763, 2092, 2183, 2960\)/);
  assert.match(r.stderr, /1 non-string answers \(e\.g\. 1007: 7\)/);
  assert.match(r.stderr, /1 ids of the wrong type \(expected an integer question_id\) \(e\.g\. \[2\]: "1014"\)/);
  assert.match(r.stderr, /1 ids predicted more than once \(e\.g\. 1021\)/);
  assert.match(r.stderr, /1 predictions for ids not in the question file \(e\.g\. 5\)/);
  assert.match(r.stderr, /2 required ids without a prediction \(e\.g\. 1014, 1070\)/);
  assert.equal(existsSync(out), false);
  assert.deepEqual(readdirSync(dir).sort(), ['p.json']); // no temp file left either
  const forced = await runCli([...args, '--force']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.equal((JSON.parse(readFileSync(out, 'utf8')) as unknown[]).length, 312);
});

test('submit gqa / nlvr2: formats and validation', () => {
  const dir = tempDir();
  const g = buildGqaSubmission({ a1: 'red', a2: 'yes' }, ['a1', 'a2'], path.join(dir, 'g.json'));
  assert.ok(g.problems.ok);
  assert.equal(g.files[0]!.content, '[{"questionId":"a1","prediction":"red"},{"questionId":"a2","prediction":"yes"}]');
  const bad = buildGqaSubmission([{ questionId: 1, prediction: 'red' }], ['1'], path.join(dir, 'g.json'));
  assert.match(bad.problems.format(), /1 ids of the wrong type \(expected a string questionId\)/);
  const n = buildNlvr2Submission([{ identifier: 't-1-0-0', prediction: true }, { identifier: 't-1-1-0', prediction: 'false' }], ['t-1-0-0', 't-1-1-0'], path.join(dir, 'n.csv'));
  assert.ok(n.problems.ok);
  assert.equal(n.files[0]!.content, 't-1-0-0,True\nt-1-1-0,False\n');
  const nb = buildNlvr2Submission({ 't-1-0-0': 'maybe' }, ['t-1-0-0'], path.join(dir, 'n.csv'));
  assert.match(nb.problems.format(), /1 predictions that are not True\/False/);
});

test('submit vcr: leaderboard header and 21 columns; NaN refused', () => {
  const dir = tempDir();
  const probs = { answer_probs: [0.1, 0.2, 0.3, 0.4], rationale_probs: [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0.25, 0.25, 0.25, 0.25]] };
  const s = buildVcrSubmission([{ annot_id: 'test-0', ...probs }], ['test-0'], path.join(dir, 'v.csv'));
  assert.ok(s.problems.ok, s.problems.format());
  const rows = parse(s.files[0]!.content as string) as string[][];
  assert.equal(rows[0]!.length, 21);
  assert.equal(rows[0]![0], 'annot_id');
  assert.equal(rows[0]![5], 'rationale_conditioned_on_a0_0');
  assert.equal(rows[0]![20], 'rationale_conditioned_on_a3_3');
  assert.deepEqual(rows[0], VCR_COLUMNS);
  assert.deepEqual(rows[1], ['test-0', '0.1', '0.2', '0.3', '0.4', '1', '0', '0', '0', '0', '1', '0', '0', '0', '0', '1', '0', '0.25', '0.25', '0.25', '0.25']);
  const nan = buildVcrSubmission({ 'test-0': { ...probs, answer_probs: [NaN, 0, 0, 1] } }, ['test-0', 'test-1'], path.join(dir, 'v.csv'));
  assert.match(nan.problems.format(), /1 predictions with NaN, infinite or non-numeric probabilities \(e\.g\. test-0\)/);
  assert.match(nan.problems.format(), /1 required ids without a prediction \(e\.g\. test-1\)/);
});

test('submit captions: results json plus a zip holding it', async () => {
  const dir = tempDir();
  writeFileSync(path.join(dir, 'info.json'), JSON.stringify({ images: [{ id: 42, file_name: 'a.jpg' }, { id: 7, file_name: 'b.jpg' }] }));
  writeFileSync(path.join(dir, 'caps.json'), JSON.stringify({ '7': 'a dog.', '42': 'Two cats on a sofa' }));
  const r = await runCli(['submit', 'captions', '--predictions', path.join(dir, 'caps.json'), '--questions', path.join(dir, 'info.json'), '--name', 'm', '--out', dir]);
  assert.equal(r.code, 0, r.stderr);
  const json = path.join(dir, 'captions_test2014_m_results.json');
  const expected = [{ image_id: 42, caption: 'Two cats on a sofa' }, { image_id: 7, caption: 'a dog.' }];
  assert.deepEqual(JSON.parse(readFileSync(json, 'utf8')), expected);
  const zip = unzipSync(readFileSync(path.join(dir, 'captions_test2014_m_results.zip')));
  assert.deepEqual(Object.keys(zip), ['captions_test2014_m_results.json']);
  assert.deepEqual(JSON.parse(strFromU8(zip['captions_test2014_m_results.json']!)), expected);
});
