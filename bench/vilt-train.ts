/**
 * ViLT-style training speed: examples/s and peak RSS of full training steps (forward, VQA soft-score BCE × labels,
 * backward, AdamW — the `vqa` task's update) for the tiny shape (configs/vilt/*_tiny.yaml: 2 layers, 64 wide,
 * 64-pixel images, 16-pixel patches, 16 tokens) or ViT-B/32 (12 layers, 768 wide, 40 tokens) at --image pixels,
 * next to the same model in PyTorch CPU (bench/vilt_train.py, test/py/vilt_ref.py's structure) at the same sizes;
 * plus the data loader alone (the real ViltData: Arrow reads + sharp decode + transforms in 2 piscina workers) on a
 * synthetic dataset at the same image size, to show whether a step can wait for decoding.
 *   node dist/bench/vilt-train.js --shape tiny|b32 [--batch 16] [--steps 5] [--image 64] [--backend wasm]
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { Optimizer, Rng, selectBackend } from '../train/engine/index.js';
import { transformPool, ViltData } from '../train/vilt/data.js';
import { interpWeights, ViltModel } from '../train/vilt/model.js';
import { input } from '../train/vilt/task.js';
import { buildSynthetic } from '../test/vilt-synthetic.js';
import { tempDir } from '../test/helpers.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { values } = parseArgs({
  options: {
    shape: { type: 'string', default: 'tiny' },
    batch: { type: 'string', default: '16' },
    steps: { type: 'string', default: '5' },
    image: { type: 'string' },
    backend: { type: 'string', default: 'wasm' },
  },
});
const SHAPES = {
  tiny: { hidden: 64, heads: 2, layers: 2, patch: 16, text: 16, image: 64 },
  b32: { hidden: 768, heads: 12, layers: 12, patch: 32, text: 40, image: 384 },
} as const;
const s = SHAPES[values.shape as keyof typeof SHAPES];
if (!s) throw new Error(`--shape must be ${Object.keys(SHAPES).join(' or ')}`);
const B = Number(values.batch);
const steps = Number(values.steps);
const image = values.image ? Number(values.image) : s.image;
const labels = 3129;
const g = image / s.patch;

const choice = await selectBackend({ force: values.backend, log: () => {} });
const model = new ViltModel(
  { hidden: s.hidden, heads: s.heads, layers: s.layers, mlpRatio: 4, patch: s.patch, posGrid: g, maxTextLen: s.text, vocab: 30522, tokenTypes: 2, tasks: { mlm: false, itm: false, vqaLabels: labels, nlvr2: false, irtr: false }, mae: null },
  1,
);
const rng = Rng.from(3, 'bench');
const n = g * g;
const pp = 3 * s.patch * s.patch;
const w = interpWeights(g, g, g);
const interp = new Float32Array(B * n * n);
for (let b = 0; b < B; b++) interp.set(w, b * n * n);
const text = { t: s.text, ids: Int32Array.from({ length: B * s.text }, () => 1000 + rng.int(29000)), mask: new Float32Array(B * s.text).fill(1) };
const img = { b: B, n, patches: Float32Array.from({ length: B * n * pp }, () => rng.normal()), mask: new Float32Array(B * n).fill(1), interp };
const target = new Float32Array(B * labels);
for (let b = 0; b < B; b++) target[b * labels] = 1;
const params = model.params();
const names = Object.keys(params);
const opt = new Optimizer({ kind: 'adamw', lr: 1e-5, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, totalSteps: 1000, warmup: 0 });
const step = () => {
  const { value, grads } = tf.variableGrads(() =>
    tf.tidy(() => {
      const f = model.forward(input(text, img, n), { dropout: 0 });
      const logits = model.vqa!.forward(f.cls);
      return tf.losses.sigmoidCrossEntropy(tf.tensor2d(target, [B, labels]), logits).mul(labels) as tf.Scalar;
    }),
    names.map((k) => params[k]!),
  );
  value.dataSync();
  value.dispose();
  const named = Object.fromEntries(Object.entries(grads).map(([k, v]) => [names.find((nm) => params[nm]!.name === k)!, v]));
  opt.apply(params, named);
  for (const v of Object.values(named)) v.dispose();
};
step();
let t0 = performance.now();
for (let i = 0; i < steps; i++) step();
const stepS = (performance.now() - t0) / 1000 / steps;
model.dispose();

// The real loader alone: build `steps` micro-batches of B images at this size.
const root = tempDir('vlkit-vilt-bench-');
const ds = await buildSynthetic(root, Math.max(B * (steps + 1), 64), 4, 4);
const pool = transformPool(2);
const data = await ViltData.open(
  {
    root: ds.arrow,
    datasets: ['coco'],
    split: 'train',
    batchSize: B,
    maxTextLen: s.text,
    spec: { kind: 'pixelbert', size: image, patch: s.patch, train: true, randaug: true, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
    posGrid: g,
    needs: { mlm: true, wholeWord: false, mlmProb: 0.15, itm: true, maeRatio: 0, vqaLabels: 0, irtrNegatives: 0 },
    workers: 2,
    prefetch: 4,
    seed: 1,
  },
  pool,
);
t0 = performance.now();
let built = 0;
for await (const _ of data.batches(0, 0, (i) => Rng.from(1, 'data', 0, i))) if (++built >= steps) break;
const loaderS = (performance.now() - t0) / 1000 / built;
await data.close();
await pool.destroy();

const py = spawnSync('/usr/bin/python3', [path.join(REPO_ROOT, 'bench/vilt_train.py'), ...[s.hidden, s.heads, s.layers, s.patch, image, labels, B, s.text, steps, 2].map(String)], { encoding: 'utf8' });
const torch = py.status === 0 ? (JSON.parse(py.stdout.trim().split('\n').pop()!) as { examples_per_s: number; step_s: number; peak_rss_mib: number }) : null;
const ours = B / stepS;
console.log(
  JSON.stringify({
    shape: values.shape,
    backend: choice.name,
    batch: B,
    image,
    tokens: s.text + 1 + n,
    vlkit: { examples_per_s: ours, step_s: stepS, peak_rss_mib: process.resourceUsage().maxRSS / 1024 },
    loader: { images_per_s: B / loaderS, batch_s: loaderS, share_of_step: loaderS / stepS },
    pytorch: torch ?? py.stderr.trim().split('\n').pop(),
    ratio_vs_pytorch: torch ? ours / torch.examples_per_s : null,
  }),
);
