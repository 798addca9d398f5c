/**
 * Exact resume of a ViLT-style run through the CLI: the data loader (piscina decoding, RandAugment, prefetch) draws
 * every random number from the engine's per-micro-batch generator, so a run stopped at step 10 (mid-epoch 1) and
 * resumed ends with weights and Adam moments byte-identical to an uninterrupted run.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { runCli, tempDir } from './helpers.js';
import { buildSynthetic } from './vilt-synthetic.js';

test('vilt: stop at step 10 (mid-epoch) + --resume gives the same checkpoint as an uninterrupted run (VQA, RandAugment)', async () => {
  const work = tempDir('vlkit-vilt-resume-');
  const ds = await buildSynthetic(path.join(work, 'data'), 64, 8, 4);
  const common = [
    '--config',
    'configs/vilt/task_finetune_vqa_mae_randaug_tiny.yaml',
    '--backend',
    'wasm',
    '--log-format',
    'none',
    `data.root=${ds.arrow}`,
    'train.epochs=2',
    'train.checkpoint_every=5',
    'data.eval_max=16',
  ];
  const run = async (dir: string, extra: string[]) => {
    const r = await runCli(['train', ...common, '--serialization-dir', dir, ...extra], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr.slice(-2000));
  };
  const a = path.join(work, 'a');
  const b = path.join(work, 'b');
  await run(a, ['train.max_steps=12']);
  await run(b, ['train.max_steps=10']);
  await run(b, ['train.max_steps=12', '--resume']);
  const last = (dir: string) => path.join(dir, readFileSync(path.join(dir, 'LAST'), 'utf8').trim());
  assert.equal(path.basename(last(b)), 'checkpoint_12');
  for (const f of ['model.safetensors', 'optimizer.safetensors']) {
    assert.ok(readFileSync(path.join(last(a), f)).equals(readFileSync(path.join(last(b), f))), `${f} differs after resume`);
  }
  // Each logged step once, with the same losses (the stop is on a log boundary, so the windows match).
  const losses = (dir: string) =>
    readFileSync(path.join(dir, 'log.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { step: number; loss?: number })
      .filter((l) => l.loss !== undefined)
      .map((l) => [l.step, l.loss]);
  assert.deepEqual(losses(b), losses(a));
});
