/**
 * The GQA and NLVR2 paths of the LXMERT-style trainer through the CLI: GQA's string question ids and
 * `[{questionId, prediction}]` submission; NLVR2's two images per statement (pooled outputs concatenated) and its
 * headerless `identifier,True|False` CSV. A few steps each — learning itself is proven in lxmert-train.test.ts.
 * Also: bad records are named (or counted with --skip-bad), and a training step leaks no tensors.
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

test('bad records: a missing image and an unknown answer are named, or counted with --skip-bad', { timeout: 60_000 }, async () => {
  const dir = tempDir('vlkit-lxmert-bad-');
  const f = writeSyntheticVqa(dir, { images: 60 });
  const qs = JSON.parse(readFileSync(f.train, 'utf8'));
  qs[3].img_id = 'no_such_image';
  qs[5].label = { purple: 1 };
  writeFileSync(f.train, JSON.stringify(qs));
  const args = ['train', '--config', 'configs/lxmert/vqa_tiny.yaml', '--backend', 'wasm', '--log-format', 'json',
    `data.train=${f.train}`, `data.features=${f.features}`, `data.ans2label=${f.ans2label}`, ...SMALL];
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
