/**
 * LXMERT-style trainer end to end: a synthetic VQA task whose answers are only recoverable from the sentence, the
 * region boxes and the region features together (test/lxmert-synthetic.ts) is written as a real feature TSV plus
 * LXMERT json files; configs/lxmert/vqa_tiny.yaml trains through the real CLI on wasm and must reach held-out
 * accuracy well above chance (25%); `vlkit predict` then writes a VQA submission that is scored here. Also: bad
 * records are named (or counted with --skip-bad), and a training step leaks no tensors.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { mergeConfig } from '../common/config.js';
import { selectBackend, train, trainConfigFrom, TRAIN_DEFAULTS, type TrainableModel } from '../train/engine/index.js';
import { LxmertModel, softScoreLoss } from '../train/lxmert/model.js';
import { runCli, tempDir } from './helpers.js';
import { COLOURS, FEAT_DIM, writeSyntheticVqa } from './lxmert-synthetic.js';

// The tiny config as shipped, sized to the synthetic data (16-value features, 4 boxes, short questions).
const SIZE = [`model.feat_dim=${FEAT_DIM}`, 'model.max_boxes=4', 'model.max_seq_length=12', 'train.batch_size=16', 'train.epochs=3', 'export.pth=false'];

test('vqa_tiny learns the synthetic task through vlkit train, and vlkit predict writes a scored submission', { timeout: 150_000 }, async () => {
  const dir = tempDir('vlkit-lxmert-');
  const f = writeSyntheticVqa(dir, { images: 600 });
  const run = path.join(dir, 'run');
  const t0 = Date.now();
  const tr = await runCli(
    ['train', '--config', 'configs/lxmert/vqa_tiny.yaml', '--serialization-dir', run, '--backend', 'wasm', '--log-format', 'json',
      `data.train=${f.train}`, `data.valid=${f.valid}`, `data.features=${f.features}`, `data.ans2label=${f.ans2label}`, ...SIZE],
    { timeoutMs: 140_000 },
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

test('bad records: a missing image and an unknown answer are named, or counted with --skip-bad', { timeout: 60_000 }, async () => {
  const dir = tempDir('vlkit-lxmert-bad-');
  const f = writeSyntheticVqa(dir, { images: 60 });
  const qs = JSON.parse(readFileSync(f.train, 'utf8'));
  qs[3].img_id = 'no_such_image';
  qs[5].label = { purple: 1 };
  writeFileSync(f.train, JSON.stringify(qs));
  const args = ['train', '--config', 'configs/lxmert/vqa_tiny.yaml', '--backend', 'wasm', '--log-format', 'json',
    `data.train=${f.train}`, `data.features=${f.features}`, `data.ans2label=${f.ans2label}`, ...SIZE, 'train.max_steps=1'];
  const strict = await runCli([...args, '--serialization-dir', path.join(dir, 'a')]);
  assert.equal(strict.code, 2);
  assert.match(strict.stderr, /train\.json: record 5 \(\d+\): answer "purple" is not in ans2label/);
  qs[5].label = { red: 1 };
  writeFileSync(f.train, JSON.stringify(qs));
  const missing = await runCli([...args, '--serialization-dir', path.join(dir, 'b')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /train\.json: record \d+: image "no_such_image" is not in the features/);
  const skip = await runCli([...args, '--serialization-dir', path.join(dir, 'c'), '--skip-bad']);
  assert.equal(skip.code, 1, skip.stderr);
  assert.match(skip.stderr, /skipped 1 bad record/);
});

test('an LXMERT training step leaks no tensors', async () => {
  await selectBackend({ force: 'wasm', log: () => {} });
  const model = new LxmertModel('vqa', { hidden: 32, heads: 2, intermediate: 64, lLayers: 1, rLayers: 1, xLayers: 1, vocab: 200, maxPositions: 16, typeVocab: 2, featDim: 8, posDim: 4 }, 5, 3);
  const B = 4;
  const counts: number[] = [];
  const trainable: TrainableModel<number> = {
    params: () => model.params.vars,
    loss: (i, ctx) => {
      counts.push(tf.memory().numTensors);
      const inp = {
        ids: tf.tensor2d(Int32Array.from({ length: B * 6 }, (_, k) => (k * 7 + i) % 200), [B, 6], 'int32'),
        mask: tf.ones([B, 6]) as tf.Tensor2D,
        types: tf.zeros([B, 6], 'int32') as tf.Tensor2D,
        feats: tf.fill([B, 3, 8], 0.1 * i) as tf.Tensor3D,
        boxes: tf.fill([B, 3, 4], 0.5) as tf.Tensor3D,
        visMask: tf.ones([B, 3]) as tf.Tensor2D,
      };
      return { loss: softScoreLoss(model.logits(inp, { dropout: 0.1, rng: ctx.rng }), tf.oneHot(tf.tensor1d([0, 1, 2, 3], 'int32'), 5).toFloat() as tf.Tensor2D) };
    },
  };
  const cfg = trainConfigFrom(mergeConfig(TRAIN_DEFAULTS, { train: { batch_size: B, epochs: 1, log_every: 100 } }));
  const data = { batchesPerEpoch: 8, *batches(_e: number, start: number) { for (let i = start; i < 8; i++) yield i; } };
  await train({ model: trainable, data, config: cfg, dir: tempDir('vlkit-lxmert-leak-') });
  assert.equal(counts.length, 8);
  assert.deepEqual(new Set(counts.slice(1)).size, 1, `tensors before each step: ${counts.join(', ')}`);
  model.params.dispose();
});
