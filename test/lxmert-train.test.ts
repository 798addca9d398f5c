/**
 * LXMERT-style trainer end to end: a synthetic VQA task whose answers are only recoverable from the sentence, the
 * region boxes and the region features together (test/lxmert-synthetic.ts) is written as a real feature TSV plus
 * LXMERT json files; configs/lxmert/vqa_tiny.yaml trains through the real CLI on wasm and must reach held-out
 * accuracy well above chance (25%); `vlkit predict` then writes a VQA submission that is scored here.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { runCli, tempDir } from './helpers.js';
import { COLOURS, FEAT_DIM, writeSyntheticVqa } from './lxmert-synthetic.js';

// The tiny config as shipped, sized to the synthetic data (16-value features, 4 boxes, short questions).
const SIZE = [`model.feat_dim=${FEAT_DIM}`, 'model.max_boxes=4', 'model.max_seq_length=12', 'train.batch_size=16', 'train.epochs=3', 'export.pth=false'];


test('vqa_tiny learns the synthetic task through vlkit train, and vlkit predict writes a scored submission', { timeout: 420_000 }, async () => {
  const dir = tempDir('vlkit-lxmert-');
  const f = writeSyntheticVqa(dir, { images: 600 });
  const run = path.join(dir, 'run');
  const t0 = Date.now();
  const tr = await runCli(
    ['train', '--config', 'configs/lxmert/vqa_tiny.yaml', '--serialization-dir', run, '--backend', 'wasm', '--log-format', 'json',
      `data.train=${f.train}`, `data.valid=${f.valid}`, `data.features=${f.features}`, `data.ans2label=${f.ans2label}`, ...SIZE],
    { timeoutMs: 400_000 },
  );
  assert.equal(tr.code, 0, tr.stderr);
  assert.match(tr.stderr, /backend: wasm/);
  const valid = readFileSync(path.join(run, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.valid);
  assert.equal(valid.length, 3, 'one validation per epoch');
  const best = Math.max(...valid.map((r) => r.valid.accuracy as number));
  process.stderr.write(`lxmert synthetic: validation accuracy per epoch ${valid.map((r) => r.valid.accuracy).join(', ')} in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  assert.ok(best >= 50, `validation accuracy ${best}% is not well above chance (25%)`);
  assert.equal(Number(readFileSync(path.join(run, 'BEST'), 'utf8').trim().replace(/\D/g, '')) > 0, true);

  const sub = path.join(dir, 'sub.json');
  const pr = await runCli(['predict', '--serialization-dir', run, `data.test=${f.test}`, '--submission', sub, '--log-format', 'json']);
  assert.equal(pr.code, 0, pr.stderr);
  const records = JSON.parse(readFileSync(sub, 'utf8')) as { question_id: number; answer: string }[];
  assert.equal(records.length, f.testAnswers.size);
  let correct = 0;
  for (const r of records) {
    assert.equal(typeof r.question_id, 'number');
    assert.ok([...COLOURS, 'yes', 'no', '2'].includes(r.answer), r.answer);
    if (f.testAnswers.get(r.question_id) === r.answer) correct++;
  }
  assert.ok(correct / records.length >= 0.45, `held-out test accuracy ${correct}/${records.length}`);
});
