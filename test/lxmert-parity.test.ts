/**
 * PyTorch parity of the LXMERT-style model: a small LXMERT-shaped reference written in PyTorch (test/py/lxmert_ref.py,
 * LXMERT's fine-tuned parameter names) is saved as .pth, loaded by name into vlkit's LxmertModel, and both compute
 * logits on the same inputs (padded tokens and padded boxes included): max abs difference ≤ 1e-4. vlkit's export
 * (savePthFrom) is loaded back by torch with strict=True and reproduces the same logits. A model_LXRT.pth-style file
 * (`module.bert.…` + pretraining heads) fills the encoder only. Needs Debian python3-torch; with CI=true its absence
 * is a failure, otherwise the tests are skipped with the reason.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../train/engine/index.js';
import { EVAL } from '../train/nn/index.js';
import { LxmertModel, type LxmertInputs } from '../train/lxmert/model.js';
import { loadPth, savePthFrom } from '../train/lxmert/weights.js';
import { REPO, tempDir } from './helpers.js';

const PY = '/usr/bin/python3';
const REF = path.join(REPO, 'test/py/lxmert_ref.py');

function torchMissing(): string | null {
  const r = spawnSync(PY, ['-c', 'import torch'], { encoding: 'utf8' });
  if (r.status === 0) return null;
  const why = `${PY} cannot import torch (install Debian python3-torch)`;
  if (process.env.CI === 'true') throw new Error(`CI=true but ${why}`);
  return why;
}
const skip = torchMissing() ?? false;

function py(args: string[]): string {
  const r = spawnSync(PY, [REF, ...args], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

interface Case {
  ids: number[][];
  mask: number[][];
  types: number[][];
  feats: number[][][];
  boxes: number[][][];
  visMask: number[][];
  logits: number[][];
  sizes: { vocab: number; hidden: number; heads: number; inter: number; l: number; r: number; x: number; feat: number; pos: number; answers: number; max_pos: number };
}

function build(c: Case): LxmertModel {
  const s = c.sizes;
  return new LxmertModel('vqa', { vocab: s.vocab, hidden: s.hidden, heads: s.heads, intermediate: s.inter, lLayers: s.l, rLayers: s.r, xLayers: s.x, featDim: s.feat, posDim: s.pos, maxPositions: s.max_pos, typeVocab: 2 }, s.answers, 1);
}

function logits(model: LxmertModel, c: Case): number[][] {
  const inp: LxmertInputs = {
    ids: tf.tensor2d(c.ids, undefined, 'int32'),
    mask: tf.tensor2d(c.mask),
    types: tf.tensor2d(c.types, undefined, 'int32'),
    feats: tf.tensor3d(c.feats),
    boxes: tf.tensor3d(c.boxes),
    visMask: tf.tensor2d(c.visMask),
  };
  const out = tf.tidy(() => model.logits(inp, EVAL));
  const v = out.arraySync();
  out.dispose();
  Object.values(inp).forEach((t) => t.dispose());
  return v;
}

function maxAbsDiff(a: number[][], b: number[][]): number {
  let m = 0;
  a.forEach((row, i) => row.forEach((v, j) => (m = Math.max(m, Math.abs(v - b[i]![j]!)))));
  return m;
}

test('a PyTorch LXMERT-shaped model loads by name and gives the same logits; the export loads back in torch', { skip, timeout: 60_000 }, async () => {
  await selectBackend({ force: 'wasm', log: () => {} });
  const dir = tempDir('vlkit-lxmert-parity-');
  py(['make', dir]);
  const c = JSON.parse(readFileSync(path.join(dir, 'case.json'), 'utf8')) as Case;
  const model = build(c);
  const before = logits(model, c);
  const rep = loadPth(model, path.join(dir, 'model.pth'), 'all');
  assert.deepEqual({ missing: rep.missing, unexpected: rep.unexpected }, { missing: [], unexpected: [] });
  assert.equal(rep.loaded, Object.keys(model.params.vars).length);
  const ours = logits(model, c);
  assert.ok(maxAbsDiff(before, c.logits) > 0.5, 'the reference logits must differ from an untrained model');
  const diff = maxAbsDiff(ours, c.logits);
  process.stderr.write(`lxmert parity: max abs diff vs PyTorch ${diff.toExponential(2)}\n`);
  assert.ok(diff <= 1e-4, `max abs diff ${diff}`);

  const exported = path.join(dir, 'export.pth');
  await savePthFrom(model, exported);
  const back = JSON.parse(py(['run', exported, dir])) as number[][];
  assert.ok(maxAbsDiff(back, c.logits) <= 1e-5, `torch on the exported file: max abs diff ${maxAbsDiff(back, c.logits)}`);
  model.params.dispose();
});

test('a model_LXRT.pth-style pretrained file fills the encoder and leaves the answer head initialised', { skip, timeout: 60_000 }, async () => {
  await selectBackend({ force: 'wasm', log: () => {} });
  const dir = tempDir('vlkit-lxmert-pre-');
  py(['make', dir]);
  const c = JSON.parse(readFileSync(path.join(dir, 'case.json'), 'utf8')) as Case;
  const model = build(c);
  const head = model.params.vars['logit_fc.3.weight']!.dataSync().slice();
  const rep = loadPth(model, path.join(dir, 'pretrained.pth'), 'encoder');
  assert.deepEqual(rep.unexpected, ['module.cls.predictions.bias']);
  assert.deepEqual(rep.missing.sort(), ['logit_fc.0.bias', 'logit_fc.0.weight', 'logit_fc.2.bias', 'logit_fc.2.weight', 'logit_fc.3.bias', 'logit_fc.3.weight']);
  assert.deepEqual(model.params.vars['logit_fc.3.weight']!.dataSync(), head);
  assert.throws(() => loadPth(build(c), path.join(dir, 'pretrained.pth'), 'all'), /lacks 6 parameter\(s\) of the model, e\.g\. logit_fc/);
  model.params.dispose();
});
