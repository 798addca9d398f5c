/**
 * The GQA and NLVR2 paths of the LXMERT-style trainer through the CLI: GQA's string question ids and
 * `[{questionId, prediction}]` submission; NLVR2's two images per statement (pooled outputs concatenated) and its
 * headerless `identifier,True|False` CSV. A few steps each — learning itself is proven in lxmert-train.test.ts.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { runCli, tempDir } from './helpers.js';
import { FEAT_DIM, writeSyntheticVqa } from './lxmert-synthetic.js';

const SMALL = [`model.feat_dim=${FEAT_DIM}`, 'model.max_boxes=4', 'model.max_seq_length=12', 'train.batch_size=8', 'train.max_steps=2', 'train.eval_every=2', 'export.pth=false'];

async function trainAndPredict(task: 'gqa' | 'nlvr2', data: string, f: { features: string; ans2label: string }, dir: string): Promise<string> {
  const run = path.join(dir, task);
  const tr = await runCli(['train', '--config', `configs/lxmert/${task}_tiny.yaml`, '--serialization-dir', run, '--backend', 'wasm',
    `data.train=${data}`, `data.valid=${data}`, `data.features=${f.features}`, `data.ans2label=${f.ans2label}`, ...SMALL]);
  assert.equal(tr.code, 0, tr.stderr);
  const valid = readFileSync(path.join(run, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.valid);
  assert.equal(valid.length, 1);
  assert.ok(valid[0].valid.accuracy >= 0 && valid[0].valid.accuracy <= 100);
  const sub = path.join(dir, `${task}.sub`);
  const pr = await runCli(['predict', '--serialization-dir', run, `data.test=${data}`, '--submission', sub]);
  assert.equal(pr.code, 0, pr.stderr);
  return readFileSync(sub, 'utf8');
}

test('gqa: string question ids, GQA submission', { timeout: 60_000 }, async () => {
  const dir = tempDir('vlkit-lxmert-gqa-');
  const f = writeSyntheticVqa(dir, { images: 40 });
  const qs = (JSON.parse(readFileSync(f.train, 'utf8')) as { question_id: number }[]).map((q) => ({ ...q, question_id: `g${q.question_id}` }));
  const file = path.join(dir, 'gqa.json');
  writeFileSync(file, JSON.stringify(qs));
  const sub = JSON.parse(await trainAndPredict('gqa', file, f, dir)) as { questionId: string; prediction: string }[];
  assert.deepEqual(sub.map((r) => r.questionId), qs.map((q) => q.question_id));
  assert.ok(sub.every((r) => ['red', 'green', 'blue', 'yellow', 'yes', 'no', '2'].includes(r.prediction)));
});

test('nlvr2: two images per statement, identifier,True|False CSV', { timeout: 60_000 }, async () => {
  const dir = tempDir('vlkit-lxmert-nlvr2-');
  const f = writeSyntheticVqa(dir, { images: 40 });
  const qs = JSON.parse(readFileSync(f.train, 'utf8')) as { img_id: string; sent: string; label: Record<string, number> }[];
  const statements = qs.slice(0, qs.length - 4).map((a, i) => {
    const b = qs[i + 4]!;
    return { identifier: `dev-${i}-0-0`, img0: a.img_id, img1: b.img_id, sent: a.sent, label: Object.keys(a.label)[0] === Object.keys(b.label)[0] ? 1 : 0 };
  });
  const file = path.join(dir, 'nlvr2.json');
  writeFileSync(file, JSON.stringify(statements));
  const lines = (await trainAndPredict('nlvr2', file, f, dir)).trimEnd().split('\n');
  assert.deepEqual(lines.map((l) => l.split(',')[0]), statements.map((s) => s.identifier));
  assert.ok(lines.every((l) => /^dev-\d+-0-0,(True|False)$/.test(l)), lines[0]);
});
