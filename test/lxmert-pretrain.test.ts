/**
 * LXMERT pretraining through `vlkit train` (configs/lxmert/pretrain_tiny.yaml, model.task: pretrain) on the synthetic
 * images in LXMERT's pretraining json format (captions + questions with labelf): every task's loss is logged and
 * finite, masked LM loss falls, the exported LAST.pth carries LXMERT's pretraining names, and a VQA fine-tuning run
 * starts from it with model.load_lxmert (pretraining heads reported as unexpected, encoder loaded).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { readStateDict } from '../train/weights/index.js';
import { runCli, tempDir } from './helpers.js';
import { FEAT_DIM, writeSyntheticVqa } from './lxmert-synthetic.js';

test('pretrain_tiny: six losses, LM loss falls, LAST.pth feeds VQA fine-tuning', { timeout: 300_000 }, async () => {
  const dir = tempDir('vlkit-lxmert-pre-');
  const f = writeSyntheticVqa(dir, { images: 100 });
  const run = path.join(dir, 'pre');
  const common = [`data.features=${f.features}`, `data.ans2label=${f.ans2label}`, `model.feat_dim=${FEAT_DIM}`, 'model.max_boxes=4', 'model.max_seq_length=14'];
  const pre = await runCli(['train', '--config', 'configs/lxmert/pretrain_tiny.yaml', '--serialization-dir', run, '--backend', 'wasm', '--log-format', 'json',
    `data.train=${f.pretrainTrain}`, `data.valid=${f.pretrainValid}`, ...common, 'pretrain.num_objects=4', 'pretrain.num_attrs=4', 'train.batch_size=16', 'train.epochs=1', 'train.log_every=5'], { timeoutMs: 250_000 });
  assert.equal(pre.code, 0, pre.stderr);
  const log = readFileSync(path.join(run, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const steps = log.filter((r) => r.loss !== undefined);
  assert.ok(steps.length >= 6, `${steps.length} logged steps`);
  for (const r of steps) for (const k of ['lm', 'itm', 'obj', 'attr', 'feat', 'qa']) assert.ok(Number.isFinite(r[k]), `step ${r.step}: ${k}=${r[k]}`);
  assert.ok(steps.at(-1).lm < steps[0].lm * 0.7, `masked LM loss ${steps[0].lm} → ${steps.at(-1).lm}`);
  const valid = log.filter((r) => r.valid);
  assert.equal(valid.length, 1);
  assert.deepEqual(Object.keys(valid[0].valid).sort(), ['itm_accuracy', 'loss', 'qa_accuracy']);

  const sd = readStateDict(path.join(run, 'LAST.pth'));
  for (const k of ['bert.embeddings.word_embeddings.weight', 'bert.encoder.x_layers.0.visual_attention.att.query.weight', 'cls.predictions.decoder.weight',
    'cls.predictions.bias', 'cls.seq_relationship.weight', 'obj_predict_head.decoder_dict.feat.weight', 'answer_head.logit_fc.3.weight']) assert.ok(sd.has(k), k);
  assert.deepEqual(sd.get('bert.encoder.x_layers.0.visual_attention.att.query.weight')!.shape, [128, 128]);
  assert.deepEqual(sd.get('obj_predict_head.decoder_dict.feat.weight')!.shape, [FEAT_DIM, 128]);

  const fine = await runCli(['train', '--config', 'configs/lxmert/vqa_tiny.yaml', '--serialization-dir', path.join(dir, 'vqa'), '--backend', 'wasm', '--log-format', 'json',
    `data.train=${f.train}`, ...common, `model.load_lxmert=${path.join(run, 'LAST.pth')}`, 'train.batch_size=16', 'train.max_steps=1', 'export.pth=false'], { timeoutMs: 120_000 });
  assert.equal(fine.code, 0, fine.stderr);
  const loaded = fine.stderr.split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((e) => /^encoder weights from/.test(e.msg));
  assert.ok(loaded, fine.stderr);
  assert.equal(loaded.missing, 6, 'only the answer head stays initialised');
  assert.ok(loaded.unexpected >= 10 && loaded.loaded > 50, JSON.stringify(loaded));
});
