/**
 * The shipped ViLT/VLC configs resolve to ViLT's optimisation settings: `lr_mult` 10 on the VQA answer classifier
 * only (ViLT's task_finetune_vqa; NLVR2 and retrieval keep 1), applied to exactly the head's parameters.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../common/config.js';
import { selectBackend } from '../train/engine/index.js';
import { headLrScale, resolveTree, settingsFrom } from '../train/vilt/config.js';
import { buildModel } from '../train/vilt/index.js';
import { REPO, tempDir } from './helpers.js';

await selectBackend({ force: 'cpu', log: () => {} });

const settings = (name: string, overrides: string[] = []) =>
  settingsFrom(resolveTree(loadConfig({ file: path.join(REPO, `configs/vilt/${name}.yaml`), overrides: ['data.root=ARROW', ...overrides] })));

test('vilt lr_mult: 10 on vqa_classifier.* in the VQA configs, 1 elsewhere; the scale map names exactly the head', () => {
  for (const c of ['task_finetune_vqa_mae_randaug', 'task_finetune_vqa_mae_randaug_tiny']) assert.equal(settings(c).lrMult, 10, c);
  for (const c of ['task_mlm_itm', 'task_finetune_nlvr2_mae_randaug', 'task_finetune_irtr_coco_mae_randaug']) assert.equal(settings(c).lrMult, 1, c);

  const root = tempDir('vlkit-vilt-config-');
  writeFileSync(path.join(root, 'ans2label.json'), JSON.stringify({ yes: 0, no: 1, '2': 2 }));
  const s = settings('task_finetune_vqa_mae_randaug_tiny', [`data.root=${root}`]);
  const model = buildModel(s, 0);
  try {
    const names = Object.keys(model.params());
    const scale = headLrScale(names, s.lrMult)!;
    assert.deepEqual(Object.keys(scale).sort(), names.filter((n) => n.startsWith('vqa_classifier.')).sort());
    assert.equal(Object.keys(scale).length, 6, 'Linear, LayerNorm, Linear: weight + bias each');
    assert.ok(Object.values(scale).every((v) => v === 10));
    assert.equal(headLrScale(names, 1), undefined);
  } finally {
    model.dispose();
  }
  assert.throws(() => settings('task_finetune_vqa_mae_randaug_tiny', ['lr_mult=0']), /lr_mult/);
});
