/**
 * LXMERT pretraining as LXMERT's code does it, checked in-process on the synthetic feature store:
 * - `model.load_bert`: a BERT-shaped state dict written by PyTorch (test/py/bert_ref.py: HF names, gamma/beta,
 *   position_ids buffer, tied decoder, one layer more than l_layers) initialises embeddings, language layers, pooler,
 *   MLM transform/bias and the NSP → ITM head by name; every loaded tensor equals the file, every other parameter keeps
 *   its initialisation; wrong shapes and non-BERT files are refused naming the file and parameter.
 * - batches: mismatched (sentence-swapped) pairs keep masked-LM targets and lose QA; object/attribute labels cover
 *   every real box, feature regression only the masked ones; QA answers are normalised as LXMERT's AnswerTable and
 *   drawn ∝ score.
 * - the objective: QA left out before pretrain.qa_from_epoch, × qa_weight after.
 * Needs Debian python3-torch for the BERT file; with CI=true its absence is a failure, otherwise that test is skipped.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { mergeConfig } from '../common/config.js';
import { InputError } from '../common/errors.js';
import { BertTokenizer } from '../data/tokenizer/index.js';
import { Rng, selectBackend } from '../train/engine/index.js';
import { resolveTree } from '../train/lxmert/config.js';
import { AnswerVocab, openFeatures } from '../train/lxmert/data.js';
import { objective, PretrainBatcher, pretrainOptions, PretrainModel, readPretrainExamples } from '../train/lxmert/pretrain.js';
import { loadBert } from '../train/lxmert/weights.js';
import { readStateDict, savePth } from '../train/weights/index.js';
import { REPO, runCli, tempDir } from './helpers.js';
import { FEAT_DIM, writeSyntheticVqa } from './lxmert-synthetic.js';

const PY = '/usr/bin/python3';

function torchMissing(): string | false {
  const r = spawnSync(PY, ['-c', 'import torch'], { encoding: 'utf8' });
  if (r.status === 0) return false;
  const why = `${PY} cannot import torch (install Debian python3-torch)`;
  if (process.env.CI === 'true') throw new Error(`CI=true but ${why}`);
  return why;
}

const SIZES = { vocab: 50, hidden: 16, heads: 2, intermediate: 24, lLayers: 2, rLayers: 1, xLayers: 1, featDim: FEAT_DIM, posDim: 4, maxPositions: 16, typeVocab: 2 };
const opts = (over: Record<string, unknown> = {}) => pretrainOptions(mergeConfig(resolveTree({}), { pretrain: { num_objects: 4, num_attrs: 4, ...over } }));

test('model.load_bert: BERT tensors by name equal the file, the rest keeps its init; bad shapes and files are refused', { skip: torchMissing() }, async () => {
  await selectBackend({ force: 'wasm', log: () => {} });
  const dir = tempDir('vlkit-lxmert-bert-');
  const file = path.join(dir, 'pytorch_model.bin');
  // vocab 50, hidden 16, intermediate 24, 3 layers (one more than l_layers), 16 positions.
  const py = spawnSync(PY, [path.join(REPO, 'test/py/bert_ref.py'), file, '50', '16', '24', '3', '16'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(py.status, 0, py.stderr);
  const model = new PretrainModel(SIZES, opts(), 3, 11);
  const names = Object.keys(model.params.vars);
  const before = new Map(names.map((n) => [n, Float32Array.from(model.params.vars[n]!.dataSync())]));
  const report = loadBert(model.params, file, 'bert');
  // File: 6 embedding entries (incl. position_ids), 3×16 layer entries, 2 pooler, 8 cls = 64.
  // Loaded: 5 embeddings + 2×16 layers + 2 pooler + cls transform 4 + cls bias + seq_relationship 2 = 46.
  assert.equal(report.loaded, 46);
  assert.deepEqual(report.unexpected.filter((k) => !k.startsWith('bert.encoder.layer.2.')), ['bert.embeddings.position_ids', 'cls.predictions.decoder.weight']);
  assert.equal(report.unexpected.length, 2 + 16);
  // Left at init: r_layers.0 (16), x_layers.0 (42), visn_fc (8), obj_predict_head (4 + 3×2), answer_head (6) = 82.
  assert.equal(report.missing.length, 82);
  assert.equal(report.missing.length + report.loaded, names.length);
  assert.ok(report.missing.every((n) => /^(bert\.encoder\.(r_layers|x_layers|visn_fc)|obj_predict_head|answer_head)\./.test(n)), report.missing.join(' '));

  const sd = readStateDict(file);
  const fileName = (n: string) => (sd.has(n) ? n : n.replace(/LayerNorm\.weight$/, 'LayerNorm.gamma').replace(/LayerNorm\.bias$/, 'LayerNorm.beta'));
  for (const n of names) {
    const now = model.params.toTorch(n).data;
    if (report.missing.includes(n)) {
      assert.deepEqual(Float32Array.from(model.params.vars[n]!.dataSync()), before.get(n), `${n} keeps its initialisation`);
    } else {
      const t = sd.get(fileName(n));
      assert.ok(t, `${n} comes from the file`);
      assert.deepEqual(Float32Array.from(now), Float32Array.from(t.data as Float32Array), `${n} equals the file`);
    }
  }
  // The LM decoder is the word embedding matrix: tied, so it equals the file's decoder too.
  assert.deepEqual(Float32Array.from(model.params.toTorch('bert.embeddings.word_embeddings.weight').data), Float32Array.from(sd.get('cls.predictions.decoder.weight')!.data as Float32Array));
  model.params.dispose();

  const wide = new PretrainModel({ ...SIZES, hidden: 8, intermediate: 12 }, opts(), 3, 11);
  assert.throws(
    () => loadBert(wide.params, file, 'bert'),
    (e: unknown) => e instanceof InputError && e.message.includes(file) && /'bert\.embeddings\.word_embeddings\.weight' has shape \[50,16\], the model's 'bert\.embeddings\.word_embeddings\.weight' is \[50,8\]/.test(e.message),
  );
  const other = path.join(dir, 'other.pth');
  await savePth(other, new Map([['encoder.weight', { dtype: 'float32', shape: [2], data: new Float32Array(2) }]]));
  assert.throws(() => loadBert(wide.params, other, 'bert'), (e: unknown) => e instanceof InputError && /other\.pth: not a BERT state dict/.test(e.message));
  wide.params.dispose();
});

test('vlkit train: model.load_bert initialises pretraining (MLM/ITM heads too) and fine-tuning (encoder), counts logged', { skip: torchMissing(), timeout: 240_000 }, async () => {
  const dir = tempDir('vlkit-lxmert-bert-cli-');
  const f = writeSyntheticVqa(dir, { images: 24 });
  const bert = path.join(dir, 'pytorch_model.bin');
  // The *_tiny shapes: vocab 30522, hidden 128, intermediate 256, 512 positions; 3 layers for l_layers 2.
  const py = spawnSync(PY, [path.join(REPO, 'test/py/bert_ref.py'), bert, '30522', '128', '256', '3', '512'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(py.status, 0, py.stderr);
  const common = [`data.features=${f.features}`, `data.ans2label=${f.ans2label}`, `model.feat_dim=${FEAT_DIM}`, 'model.max_boxes=4', 'model.max_seq_length=12',
    `model.load_bert=${bert}`, 'train.batch_size=8', 'train.max_steps=1', 'export.pth=false', '--backend', 'wasm', '--log-format', 'json'];
  const event = (stderr: string) => stderr.split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((e) => /^BERT weights from/.test(e.msg));
  const [pre, fine] = await Promise.all([
    runCli(['train', '--config', 'configs/lxmert/pretrain_tiny.yaml', '--serialization-dir', path.join(dir, 'pre'), `data.train=${f.pretrainTrain}`, 'pretrain.num_objects=4', 'pretrain.num_attrs=4', ...common], { timeoutMs: 120_000 }),
    runCli(['train', '--config', 'configs/lxmert/vqa_tiny.yaml', '--serialization-dir', path.join(dir, 'vqa'), `data.train=${f.train}`, ...common], { timeoutMs: 120_000 }),
  ]);
  assert.equal(pre.code, 0, pre.stderr);
  // As in the in-process test: 46 loaded, 82 (object/cross/visual layers, object and answer heads) initialised.
  assert.deepEqual(((e) => e && [e.loaded, e.initialised, e.unused])(event(pre.stderr)), [46, 82, 18], pre.stderr);
  assert.equal(fine.code, 0, fine.stderr);
  // Fine-tuning has no cls.* heads: embeddings 5 + 2 layers × 16 + pooler 2 = 39 loaded; 64 − 39 = 25 file entries unused.
  assert.deepEqual(((e) => e && [e.loaded, e.unexpected])(event(fine.stderr)), [39, 25], fine.stderr);
});

test('pretraining batches: LM on mismatched pairs, QA only on matched; labels on every box, features on masked ones; answers ∝ score', async () => {
  const dir = tempDir('vlkit-lxmert-batch-');
  const f = writeSyntheticVqa(dir, { images: 24 });
  const store = await openFeatures(f.features, path.join(dir, 'store'), undefined, () => {});
  const ans = new AnswerVocab(f.ans2label); // red green blue yellow yes no 2
  // One caption and one question per image; the question's raw answers normalise to '2' (0.9) and 'red' (0.3).
  const json = path.join(dir, 'pre.json');
  const imgs = Array.from({ length: 24 }, (_, i) => `synth_${String(i).padStart(5, '0')}`);
  writeFileSync(json, JSON.stringify(imgs.map((id) => ({ img_id: id, sentf: { cap: ['a red thing on the left'], vqa: ['how many things are there?'] }, labelf: { vqa: [{ Two: 0.9, 'the red.': 0.3, zebra: 1 }] } }))));
  const examples = readPretrainExamples(json, ans.index, null);
  assert.equal(examples.length, 48);
  const q = examples.find((e) => e.uid.endsWith('_vqa_0'))!;
  assert.deepEqual([q.answers, q.scores], [[ans.index.get('2'), ans.index.get('red')], [0.9, 0.3]]);
  assert.deepEqual(examples.find((e) => e.uid.endsWith('_cap_0'))!.answers, []);

  const po = opts({ obj_mask_rate: 0.5 });
  const batcher = new PretrainBatcher({ tokenizer: BertTokenizer.uncased(), store, seqLen: 12, maxBoxes: 4, opts: po, vocab: 30522 }, examples);
  const questions = examples.filter((e) => e.answers.length > 0);
  let lmOnMismatched = 0, mismatched = 0, qaTwo = 0, qaAll = 0, masked = 0, zeroed = 0, kept = 0, boxes = 0;
  for (let i = 0; i < 60; i++) {
    const b = batcher.make(questions.slice((i % 3) * 8, (i % 3) * 8 + 8), Rng.from(5, 'batch', i));
    // Every example's 4 boxes carry object/attribute targets with the detector's labels and confidences.
    assert.deepEqual([...b.boxPositions], Array.from({ length: 32 }, (_, k) => k));
    assert.ok(b.objConf.every((c) => Math.abs(c - 0.9) < 1e-6) && b.attrConf.every((c) => c === 0.5));
    const rows = questions.slice((i % 3) * 8, (i % 3) * 8 + 8).map((e) => store.get(e.imgId));
    rows.forEach((row, r) => row.objectsId.forEach((o, j) => assert.equal(b.objLabels[r * 4 + j], o)));
    boxes += 32;
    b.featPositions.forEach((p, k) => {
      const fed = b.feats.subarray(p * FEAT_DIM, (p + 1) * FEAT_DIM);
      const orig = b.featTargets.subarray(k * FEAT_DIM, (k + 1) * FEAT_DIM);
      assert.deepEqual(orig, rows[Math.floor(p / 4)]!.features.subarray((p % 4) * FEAT_DIM, (p % 4 + 1) * FEAT_DIM));
      masked++;
      if (fed.every((v) => v === 0)) zeroed++;
      else if (fed.every((v, j) => v === orig[j])) kept++;
    });
    for (let r = 0; r < 8; r++) {
      const hasLm = b.lmPositions.some((p) => Math.floor(p / 12) === r);
      if (b.matched[r] === 0) {
        mismatched++;
        if (hasLm) lmOnMismatched++;
        assert.ok(!b.qaRows.includes(r), 'no QA target on a mismatched pair');
      } else assert.ok(b.qaRows.includes(r), 'every matched question has a QA target');
    }
    qaAll += b.qaLabels.length;
    qaTwo += b.qaLabels.filter((l) => l === ans.index.get('2')).length;
  }
  assert.ok(mismatched > 150 && mismatched < 330, `${mismatched} of 480 pairs mismatched (p = 0.5)`);
  assert.ok(lmOnMismatched > mismatched / 3, `masked-LM targets on ${lmOnMismatched} of ${mismatched} mismatched pairs`);
  assert.ok(Math.abs(masked / boxes - 0.5) < 0.06, `masked ${masked}/${boxes} boxes at obj_mask_rate 0.5`);
  assert.ok(Math.abs(zeroed / masked - 0.8) < 0.06 && kept / masked < 0.2, `zeroed ${zeroed}, kept ${kept} (+ random replacements) of ${masked}`);
  assert.ok(Math.abs(qaTwo / qaAll - 0.75) < 0.06, `'2' drawn for ${qaTwo} of ${qaAll} QA targets (0.9 / (0.9 + 0.3) = 0.75)`);
});

test('objective: QA is left out before pretrain.qa_from_epoch and weighted by qa_weight after (the paper: 10, 2)', () => {
  const po = opts({ qa_from_epoch: 10, qa_weight: 2 });
  const losses = { lm: tf.scalar(1.5), itm: tf.scalar(0.5), qa: tf.scalar(3) };
  assert.equal(objective(losses, po, 9).dataSync()[0], 2);
  assert.equal(objective(losses, po, 10).dataSync()[0], 8);
  assert.equal(objective(losses, opts(), 0).dataSync()[0], 5, "LXMERT's released code: QA from the start, weight 1");
  assert.throws(() => pretrainOptions(mergeConfig(resolveTree({}), { pretrain: { tasks: 'qa', qa_from_epoch: 10 } })), /qa_from_epoch=0/);
  Object.values(losses).forEach((t) => t.dispose());
});
