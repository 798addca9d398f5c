/**
 * `trainer: vit_classify` (ImageNet-style fine-tuning of the ViT backbone): Mixup/CutMix targets and pixels checked
 * by hand on a tiny batch, the Beta sampler's moments, drop path (identity at rate 0 and in evaluation; a dropped
 * example skips its block), layer-wise lr decay scales and the optimizer's per-parameter lr / no-decay / cosine
 * schedule against hand-computed values, then the real CLI on a generated image folder (4 colour classes drawn with
 * sharp): a ViLT-named `.pth` loads by name through load_path, the tiny config learns the classes well above chance,
 * `vlkit predict` prints top-1/top-5 and writes per-image predictions, Arrow files (image + label columns) of the
 * same images decode to the same batches, and a resumed run equals the uninterrupted one.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { Optimizer, Rng, selectBackend } from '../train/engine/index.js';
import { mulberry32 } from '../train/engine/rng.js';
import { cutmixBox, mixBatch, sampleBeta, smoothTargets } from '../train/classify/mixup.js';
import { layerDecayScales } from '../train/classify/model.js';
import { Params } from '../train/nn/index.js';
import { VitBlock } from '../train/nn/vit.js';
import { savePth } from '../train/weights/index.js';
import { commitTmp } from '../common/atomic.js';
import { ArrowFileWriter } from '../pipeline/arrow/writer.js';
import { classifyPool, classNames, ClassifyData, openSplit } from '../train/classify/data.js';
import { runCli, tempDir } from './helpers.js';
import { COLORS, drawImage, SHAPES, type Color } from './vilt-synthetic.js';

await selectBackend({ force: 'cpu', log: () => {} });

const close = (a: number, b: number, tol = 1e-6) => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

test('mixup: smoothed one-hot targets and the flipped-batch mix, by hand', () => {
  assert.deepEqual(Array.from(smoothTargets([2, 0], 4, 0.1)), [0.025, 0.025, 0.925, 0.025, 0.925, 0.025, 0.025, 0.025].map(Math.fround));
  // 3 images of one 2×2 patch (grid 1, patch 2): image i is filled with the value i+1.
  const patches = new Float32Array(3 * 12).map((_, k) => Math.floor(k / 12) + 1);
  const m = mixBatch(patches, [0, 1, 3], 1, 2, { mixupAlpha: 0.8, cutmixAlpha: 0, prob: 1, switchProb: 0.5, smoothing: 0.1, classes: 4 }, Rng.from(1, 'mix'));
  assert.equal(m.method, 'mixup');
  const lam = m.lam;
  assert.ok(lam > 0 && lam < 1);
  // x0 ← λ·1 + (1−λ)·3, x1 ← 2 (paired with itself), x2 ← λ·3 + (1−λ)·1.
  close(patches[0]!, lam * 1 + (1 - lam) * 3, 1e-6);
  close(patches[12]!, 2);
  close(patches[35]!, lam * 3 + (1 - lam) * 1, 1e-6);
  // y0 = λ·smooth(0) + (1−λ)·smooth(3): class 0 gets λ·0.925 + (1−λ)·0.025, class 3 the reverse, others 0.025.
  close(m.targets[0]!, lam * 0.925 + (1 - lam) * 0.025);
  close(m.targets[3]!, lam * 0.025 + (1 - lam) * 0.925);
  close(m.targets[1]!, 0.025);
  for (let i = 0; i < 3; i++) close(m.targets.subarray(i * 4, i * 4 + 4).reduce((a, b) => a + b, 0), 1, 1e-6);
  // Not mixed when prob = 0: targets are the smoothed one-hots, pixels untouched.
  const p2 = new Float32Array(8).fill(5);
  const none = mixBatch(p2, [1, 2], 1, 1, { mixupAlpha: 0.8, cutmixAlpha: 1, prob: 0, switchProb: 0.5, smoothing: 0.1, classes: 4 }, Rng.from(1, 'mix'));
  assert.equal(none.method, 'none');
  assert.deepEqual(Array.from(p2), new Array(8).fill(5));
  assert.deepEqual(none.targets, smoothTargets([1, 2], 4, 0.1));
});

test('cutmix: the box is pasted from the flipped batch into the patch layout, λ corrected by the clipped area', () => {
  // 2 images, grid 2 of 2-pixel patches (4×4 pixels); pixel value encodes (image, channel, y, x).
  const grid = 2;
  const P = 2;
  const val = (i: number, c: number, y: number, x: number) => 1000 * i + 100 * c + 10 * y + x;
  const at = (y: number, x: number, c: number) => (Math.floor(y / P) * grid + Math.floor(x / P)) * 3 * P * P + c * P * P + (y % P) * P + (x % P);
  const per = grid * grid * 3 * P * P;
  const patches = new Float32Array(2 * per);
  for (let i = 0; i < 2; i++) for (let c = 0; c < 3; c++) for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) patches[i * per + at(y, x, c)] = val(i, c, y, x);
  let m;
  for (let seed = 0; ; seed++) {
    const copy = patches.slice();
    m = mixBatch(copy, [0, 2], grid, P, { mixupAlpha: 0, cutmixAlpha: 1, prob: 1, switchProb: 0.5, smoothing: 0, classes: 3 }, Rng.from(seed, 'cut'));
    const [y0, y1, x0, x1] = m.box!;
    if (y1 - y0 > 0 && x1 - x0 > 0 && (y1 - y0) * (x1 - x0) < 16) {
      patches.set(copy);
      break;
    }
  }
  assert.equal(m.method, 'cutmix');
  const [y0, y1, x0, x1] = m.box!;
  close(m.lam, 1 - ((y1 - y0) * (x1 - x0)) / 16, 1e-12);
  for (let i = 0; i < 2; i++) {
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < 4; y++) {
        for (let x = 0; x < 4; x++) {
          const inBox = y >= y0 && y < y1 && x >= x0 && x < x1;
          assert.equal(patches[i * per + at(y, x, c)], val(inBox ? 1 - i : i, c, y, x), `image ${i} c${c} (${y},${x})`);
        }
      }
    }
  }
  // Image 0 (class 0) with λ of itself and 1−λ of image 1 (class 2).
  close(m.targets[0]!, m.lam);
  close(m.targets[2]!, 1 - m.lam);
  close(m.targets[3 + 2]!, m.lam);
  // rand_bbox: sides ⌊4·√(1−λ)⌋, centred at the drawn pixel, clipped to the image.
  const b = cutmixBox(10, 10, 0.75, Rng.from(3, 'box'));
  const r = Rng.from(3, 'box');
  const cy = r.int(10);
  const cx = r.int(10);
  assert.deepEqual(b, [Math.max(cy - 2, 0), Math.min(cy + 2, 10), Math.max(cx - 2, 0), Math.min(cx + 2, 10)]);
});

test('mixup: Beta(α, α) samples have mean 1/2 and variance 1/(4(2α+1))', () => {
  const rng = Rng.from(7, 'beta');
  for (const a of [0.8, 1]) {
    const xs = Array.from({ length: 20000 }, () => sampleBeta(rng, a, a));
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    const variance = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length;
    close(mean, 0.5, 0.01);
    close(variance, 1 / (4 * (2 * a + 1)), 0.005);
  }
});

test('drop path: identity at rate 0 and in evaluation; a dropped example skips its residual branches', () => {
  const p = new Params(3);
  const blk = new VitBlock(p, 'b', 8, 2, 16);
  const x = tf.randomNormal([16, 3, 8], 0, 1, 'float32', 5) as tf.Tensor3D;
  const ref = blk.forward(x, null, { dropout: 0 }).arraySync();
  assert.deepEqual(blk.forward(x, null, { dropout: 0, rng: Rng.from(1, 'm') }).arraySync(), ref, 'rate 0 with a training rng');
  blk.dropPath = 0.7;
  assert.deepEqual(blk.forward(x, null, { dropout: 0 }).arraySync(), ref, 'evaluation (no rng)');
  const out = blk.forward(x, null, { dropout: 0, rng: Rng.from(1, 'm') }).arraySync();
  // The same draws: 16 for the attention branch, then 16 for the MLP branch.
  const r = Rng.from(1, 'm');
  const dropAttn = Array.from({ length: 16 }, () => r.float() < 0.7);
  const dropMlp = Array.from({ length: 16 }, () => r.float() < 0.7);
  const xs = x.arraySync();
  let both = 0;
  for (let i = 0; i < 16; i++) {
    if (dropAttn[i] && dropMlp[i]) {
      assert.deepEqual(out[i], xs[i], `example ${i}: both branches dropped`);
      both++;
    } else assert.notDeepEqual(out[i], xs[i]);
  }
  assert.ok(both > 0 && both < 16);
  p.dispose();
  x.dispose();
});

test('layer-wise lr decay scales and the optimizer: per-parameter lr, extra no-decay names, cosine schedule', () => {
  const names = ['transformer.cls_token', 'transformer.pos_embed', 'transformer.patch_embed.proj.weight', 'transformer.blocks.0.attn.qkv.weight', 'transformer.blocks.1.norm1.bias', 'fc_norm.weight', 'head.weight'];
  assert.deepEqual(layerDecayScales(names, 2, 0.5), {
    'transformer.cls_token': 0.125,
    'transformer.pos_embed': 0.125,
    'transformer.patch_embed.proj.weight': 0.125,
    'transformer.blocks.0.attn.qkv.weight': 0.25,
    'transformer.blocks.1.norm1.bias': 0.5,
    'fc_norm.weight': 1,
    'head.weight': 1,
  });
  // One AdamW step with eps 0 moves p by lr·sign(g) (bias-corrected), then decays by (1 − lr·wd), both lrs scaled.
  const mk = () => ({ a: tf.variable(tf.tensor1d([1]).reshape([1, 1])), b: tf.variable(tf.tensor2d([[1]])), c: tf.variable(tf.tensor2d([[1]])) });
  const params = mk();
  const opt = new Optimizer({ kind: 'adamw', lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 0, weightDecay: 0.5, totalSteps: 10, warmup: 0, lrScale: { b: 0.25 }, noDecay: new Set(['c']) });
  const g = tf.tensor2d([[2]]);
  opt.apply(params, { a: g, b: g, c: g });
  close(params.a.dataSync()[0]!, (1 - 0.1) * (1 - 0.05), 1e-6);
  close(params.b.dataSync()[0]!, (1 - 0.025) * (1 - 0.0125), 1e-6);
  close(params.c.dataSync()[0]!, 0.9, 1e-6);
  // Without the new options the update is bit-identical to the default optimizer's.
  const p1 = mk();
  const p2 = mk();
  const base = { kind: 'adamw' as const, lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.5, totalSteps: 10, warmup: 0 };
  new Optimizer(base).apply(p1, { a: g, b: g, c: g });
  new Optimizer({ ...base, lrScale: { a: 1 }, noDecay: new Set() }).apply(p2, { a: g, b: g, c: g });
  assert.equal(p1.a.dataSync()[0], p2.a.dataSync()[0]);
  // Cosine: warm-up 2 of 10 steps to lr 1, then minLr + (1 − minLr)·½(1 + cos(π·(s − 2)/8)).
  const cos = new Optimizer({ ...base, lr: 1, warmup: 0.2, schedule: 'cosine', minLr: 0.1 });
  const lrAt = (s: number) => ((cos.step = s), cos.currentLr());
  close(lrAt(0), 0);
  close(lrAt(1), 0.5);
  close(lrAt(2), 1);
  close(lrAt(6), 0.55, 1e-12);
  close(lrAt(10), 0.1, 1e-12);
});

// ---------------------------------------------------------------------------------------------------------------
// CLI on a generated image folder

const work = tempDir('vlkit-classify-');
const root = path.join(work, 'data');
const CLASSES = Object.keys(COLORS) as Color[];

/** ROOT/{train,val}/<colour>/*.jpg: one shape of the class colour at a random place and size. */
async function buildFolder(perClassTrain: number, perClassVal: number): Promise<void> {
  const rand = mulberry32(11);
  for (const [split, n] of [['train', perClassTrain], ['val', perClassVal]] as const) {
    for (const color of CLASSES) {
      const dir = path.join(root, split, color);
      mkdirSync(dir, { recursive: true });
      for (let i = 0; i < n; i++) {
        const shape = SHAPES[Math.floor(rand() * SHAPES.length)]!;
        const [width, height] = rand() < 0.5 ? [48, 48] : [56, 40];
        writeFileSync(path.join(dir, `${String(i).padStart(3, '0')}.jpg`), await drawImage({ color, shape, width, height }, rand));
      }
    }
  }
}

async function cli(args: string[]): Promise<{ stdout: string; stderr: string }> {
  const r = await runCli(args, { timeoutMs: 180_000 });
  assert.equal(r.code, 0, `vlkit ${args.slice(0, 3).join(' ')} failed:\n${r.stderr.slice(-3000)}`);
  return r;
}

const TINY = 'configs/vilt/finetune_imagenet_tiny.yaml';
const run = path.join(work, 'run');

test('vlkit train (vit_classify): ViLT-named weights load; the tiny config learns 4 colour classes; predict top-1/top-5', async () => {
  await buildFolder(40, 10);
  // A ViLT-style state dict: backbone under transformer.* (pos_embed on another grid), plus text-side tensors.
  const D = 64;
  const t = (shape: number[], v: number) => ({ dtype: 'float32' as const, shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(v) });
  const vilt = path.join(work, 'vilt.pth');
  await savePth(vilt, {
    'transformer.cls_token': t([1, 1, D], 0.01),
    'transformer.pos_embed': t([1, 1 + 3 * 3, D], 0.02),
    'transformer.blocks.0.norm1.weight': t([D], 1),
    'text_embeddings.word_embeddings.weight': t([10, D], 0),
  });
  const { stdout, stderr } = await cli(['train', '--config', TINY, '--serialization-dir', run, `data.root=${root}`, `load_path=${vilt}`, 'train.epochs=4', '--log-format', 'bar']);
  assert.match(stderr, /position embeddings resized from a 3×3 to a 4×4 grid/);
  assert.match(stderr, /3 tensors loaded, \d+ left at their initial values, 1 not used/);
  const res = JSON.parse(stdout) as { valid: { top1: number; top5: number; num_images: number }; best: { metric: string; value: number } };
  assert.equal(res.valid.num_images, 40);
  assert.equal(res.valid.top5, 1); // 4 classes: the label is always among the 5 best
  assert.ok(res.valid.top1 >= 0.7, `top-1 ${res.valid.top1} (chance 0.25)`);
  assert.equal(res.best.metric, 'top1');
  const cfg = readFileSync(path.join(run, 'config.yaml'), 'utf8');
  assert.match(cfg, /num_classes: 4/);

  const preds = path.join(work, 'preds.jsonl');
  const p = await cli(['predict', '--serialization-dir', run, '--submission', preds, '--log-format', 'none']);
  const out = JSON.parse(p.stdout) as { top1: number; top5: number; num_images: number; predictions: string };
  assert.equal(out.num_images, 40);
  assert.equal(out.top1, res.best.value); // BEST's weights, the same val images and transforms
  const lines = readFileSync(preds, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { image: string; label: string; top5: { class: string; prob: number }[] });
  assert.equal(lines.length, 40);
  assert.equal(lines[0]!.image, path.join('val', 'blue', '000.jpg'));
  assert.equal(lines[0]!.label, 'blue');
  assert.equal(lines[0]!.top5.length, 4);
  close(lines[0]!.top5.reduce((a, b) => a + b.prob, 0), 1, 1e-5);
  const hits = lines.filter((l) => l.top5[0]!.class === l.label).length;
  close(hits / 40, out.top1, 1e-12);
});

test('vit_classify data: Arrow files with image + label columns give the classes and batches of the image folder', async () => {
  const arrow = path.join(work, 'arrow');
  mkdirSync(arrow);
  for (const split of ['train', 'val']) {
    const w = new ArrowFileWriter(path.join(arrow, `${split}.arrow`), [{ name: 'image', type: 'binary' }, { name: 'label', type: 'string' }], { batchBytes: 8192 });
    // Rows in reverse class order: the class ids must come from the sorted names, not the row order.
    for (const c of [...CLASSES].sort().reverse()) {
      for (const f of readdirSync(path.join(root, split, c)).sort()) w.append([readFileSync(path.join(root, split, c, f)), c]);
    }
    w.finish();
    await commitTmp(w.tmpPath, path.join(arrow, `${split}.arrow`));
  }
  const classes = await classNames(arrow);
  assert.deepEqual(classes, await classNames(root));
  assert.deepEqual(classes, ['blue', 'green', 'red', 'yellow']);
  const fromArrow = await openSplit(arrow, 'val', classes);
  const fromFolder = await openSplit(root, 'val', classes);
  assert.equal(fromArrow.length, 40);
  assert.equal(fromArrow[0]!.name, 'val.arrow#0');
  assert.deepEqual(fromArrow.slice(0, 10).map((i) => i.label), new Array(10).fill(3)); // yellow rows first
  // Row r of the Arrow file is folder image (3 − ⌊r/10⌋, r mod 10): decoded and transformed alike.
  const pool = classifyPool(1);
  try {
    const spec = { size: 32, patch: 8, train: true, randaug: false, reprob: 0.25, mean: [0.5, 0.5, 0.5] as [number, number, number], std: [0.5, 0.5, 0.5] as [number, number, number] };
    const opts = { batchSize: 4, spec, classes: 4, mixup: null, prefetch: 1, seed: 0 };
    const pick = [0, 13, 27, 39];
    const a = await new ClassifyData(fromArrow, opts, pool).build(pick.map((r) => fromArrow[r]!), Rng.from(5, 'x'));
    const f = await new ClassifyData(fromFolder, opts, pool).build(pick.map((r) => fromFolder[(3 - Math.floor(r / 10)) * 10 + (r % 10)]!), Rng.from(5, 'x'));
    assert.deepEqual(Array.from(a.labels), [3, 2, 1, 0]);
    assert.deepEqual(a.labels, f.labels);
    assert.ok(Buffer.from(a.patches.buffer).equals(Buffer.from(f.patches.buffer)), 'Arrow and folder images decode differently');
  } finally {
    await pool.close();
  }
});

test('vlkit train (vit_classify) --resume: stopped after 4 updates and resumed, it ends where the uninterrupted run ends', async () => {
  const full = path.join(work, 'full');
  const cut = path.join(work, 'cut');
  const common = ['--config', TINY, `data.root=${root}`, 'train.epochs=1', 'warmup_epochs=0.5', '--log-format', 'none'];
  const a = JSON.parse((await cli(['train', '--serialization-dir', full, ...common])).stdout) as { loss: number; valid: unknown };
  await cli(['train', '--serialization-dir', cut, ...common, 'train.max_steps=4']);
  const b = JSON.parse((await cli(['train', '--serialization-dir', cut, '--resume', ...common])).stdout) as { loss: number; valid: unknown };
  assert.deepEqual(b.valid, a.valid);
  const weights = (dir: string) => readFileSync(path.join(dir, readFileSync(path.join(dir, 'LAST'), 'utf8').trim(), 'model.safetensors'));
  assert.ok(weights(full).equals(weights(cut)), 'final weights differ');
});
