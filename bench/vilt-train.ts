/**
 * ViLT-style training speed, side by side with the same model in PyTorch 1.13 CPU (Debian), plus the data loader's
 * share of each step. A step is the `vqa` task's update: forward, VQA soft-score BCE × labels, backward, AdamW.
 * Shapes: tiny (configs/vilt/*_tiny.yaml: 2 layers, 64 wide, patch 16, 16 tokens, shorter side 64) or ViT-B/32
 * (ViLT: 12 layers, 768 wide, patch 32, 40 tokens, shorter side 384, pos grid 12).
 *
 * Images are COCO-like 640×480 JPEGs (blurred noise, ~115 KB, 8–15 ms to decode; the test suite's flat synthetic
 * shapes decode far faster than photos), written through the real `writeArrowDataset`. ViLT's pixelbert resize
 * gives every one the same patch grid (384 → 512×384 → 16×12 at patch 32), which both sides then use.
 *
 * 1. model: steady-state steps on pre-made tensors (no data loading), the fair comparison with PyTorch, which runs
 *    bench/vilt_train.py (test/py/vilt_ref.py's model, same sizes, tokens, loss and optimizer) at 1 thread (as
 *    the wasm backend: one training thread) and 2 threads (the machine's cores), OpenMP wait policy PASSIVE.
 * 2. loader alone: micro-batches/s of the real ViltData (Arrow reads, sharp decode, RandAugment, patchify in the
 *    piscina workers).
 * 3. train loop: the real loader feeding the same steps; `data_wait` is what the trainer logs as data_wait_ms (time
 *    the step waited for its batch); its share of the loop's wall time is the figure the issue targets at 0.
 *
 *   node dist/bench/vilt-train.js --shape tiny|b32 [--batch 16] [--steps 10] [--warmup 2] [--image 64]
 *     [--backend wasm] [--workers 2] [--prefetch 4]
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { writeArrowDataset } from '../pipeline/arrow/index.js';
import { Optimizer, Rng, selectBackend } from '../train/engine/index.js';
import { transformPool, ViltData, type ImageBatch, type TextBatch } from '../train/vilt/data.js';
import { interpWeights, ViltModel } from '../train/vilt/model.js';
import { input } from '../train/vilt/task.js';
import { pixelbertSize } from '../train/vilt/transforms.js';
import { buildSynthetic } from '../test/vilt-synthetic.js';
import { tempDir } from '../test/helpers.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { values } = parseArgs({
  options: {
    shape: { type: 'string', default: 'tiny' },
    batch: { type: 'string' },
    steps: { type: 'string' },
    warmup: { type: 'string' },
    image: { type: 'string' },
    backend: { type: 'string', default: 'wasm' },
    workers: { type: 'string', default: '2' },
    prefetch: { type: 'string', default: '4' },
  },
});
const SHAPES = {
  tiny: { hidden: 64, heads: 2, layers: 2, patch: 16, text: 16, image: 64, posGrid: 4, batch: 16, steps: 10, warmup: 2 },
  b32: { hidden: 768, heads: 12, layers: 12, patch: 32, text: 40, image: 384, posGrid: 12, batch: 1, steps: 2, warmup: 1 },
} as const;
const s = SHAPES[values.shape as keyof typeof SHAPES];
if (!s) throw new Error(`--shape must be ${Object.keys(SHAPES).join(' or ')}`);
const B = Number(values.batch ?? s.batch);
const steps = Number(values.steps ?? s.steps);
const warmup = Number(values.warmup ?? s.warmup);
const image = values.image ? Number(values.image) : s.image;
const workers = Number(values.workers);
const prefetch = Number(values.prefetch);
const labels = 3129;
const SRC = { width: 640, height: 480 };
const { width: W, height: H } = pixelbertSize(SRC.width, SRC.height, image, s.patch);
const gh = H / s.patch;
const gw = W / s.patch;
const n = gh * gw;
const g2 = s.posGrid * s.posGrid;
const pp = 3 * s.patch * s.patch;

const log = (msg: string) => process.stderr.write(`${msg}\n`);
const mib = (bytes: number) => Math.round(bytes / 2 ** 20);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
/** The wasm backend's heap (it only grows): the high-water mark of everything allocated in wasm. */
const wasmHeap = () => (tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } }).wasm?.HEAPU8.length ?? 0;

const choice = await selectBackend({ force: values.backend, log: () => {} });
const model = new ViltModel(
  { hidden: s.hidden, heads: s.heads, layers: s.layers, mlpRatio: 4, patch: s.patch, posGrid: s.posGrid, maxTextLen: s.text, vocab: 30522, tokenTypes: 2, tasks: { mlm: false, itm: false, vqaLabels: labels, nlvr2: false, irtr: false }, mae: null },
  1,
);
const params = model.params();
const names = Object.keys(params);
const byVarName = new Map(names.map((k) => [params[k]!.name, k]));
const nParams = names.reduce((a, k) => a + params[k]!.size, 0);
const opt = new Optimizer({ kind: 'adamw', lr: 1e-5, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, totalSteps: 1000, warmup: 0 });

/** One update; returns [forward+backward, optimizer] seconds (each ends on a read, so the work is done). */
function step(text: TextBatch, img: ImageBatch, targets: Float32Array): [number, number] {
  const t0 = performance.now();
  const x = input(text, img, g2);
  const b = img.b;
  const { value, grads } = tf.variableGrads(
    () =>
      tf.tidy(() => {
        const f = model.forward(x, { dropout: 0 });
        return tf.losses.sigmoidCrossEntropy(tf.tensor2d(targets, [b, labels]), model.vqa!.forward(f.cls)).mul(labels) as tf.Scalar;
      }),
    names.map((k) => params[k]!),
  );
  value.dataSync();
  value.dispose();
  tf.dispose([x.textIds, x.textMask, x.patches, x.patchMask, x.posInterp]);
  const t1 = performance.now();
  const named = Object.fromEntries(Object.entries(grads).map(([k, v]) => [byVarName.get(k)!, v]));
  opt.apply(params, named);
  tf.dispose(Object.values(named));
  params[names[0]!]!.dataSync();
  return [(t1 - t0) / 1000, (performance.now() - t1) / 1000];
}

// --- 1. model alone on pre-made tensors ------------------------------------------------------------------------
log(`${values.shape}: ${(nParams / 1e6).toFixed(1)}M parameters, batch ${B}, ${H}×${W} px = ${gh}×${gw} patches, ${s.text + 1 + n} tokens, ${choice.name}`);
const rng = Rng.from(3, 'bench');
const w1 = interpWeights(s.posGrid, gh, gw);
const interp = new Float32Array(B * n * g2);
for (let b = 0; b < B; b++) interp.set(w1, b * n * g2);
const text: TextBatch = { t: s.text, ids: Int32Array.from({ length: B * s.text }, () => 1000 + rng.int(29000)), mask: new Float32Array(B * s.text).fill(1) };
const img: ImageBatch = { b: B, n, patches: Float32Array.from({ length: B * n * pp }, () => rng.normal()), mask: new Float32Array(B * n).fill(1), interp };
const target = new Float32Array(B * labels);
for (let b = 0; b < B; b++) target[b * labels] = 1;
for (let i = 0; i < warmup; i++) step(text, img, target);
const modelTimes: [number, number][] = [];
for (let i = 0; i < steps; i++) modelTimes.push(step(text, img, target));
const fwdBwd = mean(modelTimes.map((t) => t[0]));
const optS = mean(modelTimes.map((t) => t[1]));
const stepS = fwdBwd + optS;
log(`model: ${stepS.toFixed(3)} s/step (forward+backward ${fwdBwd.toFixed(3)}, AdamW ${optS.toFixed(3)}), wasm heap ${mib(wasmHeap())} MiB`);

// --- dataset: COCO-like JPEGs through the real Arrow writer ------------------------------------------------------
const root = tempDir('vlkit-vilt-bench-');
const nImages = Math.max(32, Math.ceil((B * (2 * (warmup + steps) + 2)) / 2) + 4); // two VQA questions per image
await buildSynthetic(root, nImages, 2, 2);
const trainDir = path.join(root, 'raw', 'train2014');
for (const f of readdirSync(trainDir)) {
  const jpeg = await sharp({ create: { ...SRC, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } } })
    .blur(0.8)
    .jpeg({ quality: 90 })
    .toBuffer();
  writeFileSync(path.join(trainDir, f), jpeg);
}
const arrow = path.join(root, 'arrow-photo');
mkdirSync(arrow);
await writeArrowDataset({ dataset: 'vqav2', root: path.join(root, 'raw'), out: arrow });
const pool = transformPool(workers);
const data = await ViltData.open(
  {
    root: arrow,
    datasets: ['vqa'],
    split: 'train',
    batchSize: B,
    maxTextLen: s.text,
    spec: { kind: 'pixelbert', size: image, patch: s.patch, train: true, randaug: true, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
    posGrid: s.posGrid,
    needs: { mlm: false, wholeWord: false, mlmProb: 0.15, itm: false, maeRatio: 0, vqaLabels: labels, irtrNegatives: 0 },
    workers,
    prefetch,
    seed: 1,
  },
  pool,
);

// --- 2. loader alone ---------------------------------------------------------------------------------------------
let t0 = performance.now();
let built = 0;
for await (const batch of data.batches(0, 0, (i) => Rng.from(1, 'data', 0, i))) {
  if (batch.image.n !== n) throw new Error(`loader made ${batch.image.n} patch slots, the model phase used ${n}`);
  if (++built >= warmup + steps) break;
}
const loaderBatchS = (performance.now() - t0) / 1000 / built;
log(`loader alone: ${loaderBatchS.toFixed(3)} s per batch of ${B}`);

// --- 3. the loader feeding the steps -----------------------------------------------------------------------------
const waits: number[] = [];
const walls: number[] = [];
let i = 0;
t0 = performance.now();
for await (const batch of data.batches(1, 0, (k) => Rng.from(1, 'data', 1, k))) {
  step(batch.text, batch.image, batch.vqaTargets!);
  const t = performance.now();
  if (i >= warmup) {
    waits.push(batch.waitMs);
    walls.push(t - t0);
  }
  t0 = t;
  if (++i >= warmup + steps) break;
}
await data.close();
await pool.close(); // not destroy(): see transformPool
const loopS = mean(walls) / 1000;
log(`train loop: ${loopS.toFixed(3)} s/step, data_wait ${mean(waits).toFixed(0)} ms/step (max ${Math.max(...waits).toFixed(0)})`);
const rssMib = process.resourceUsage().maxRSS / 1024;
const heapMib = mib(wasmHeap());
model.dispose();
opt.dispose();

// --- PyTorch -----------------------------------------------------------------------------------------------------
const torch = [1, 2].map((threads) => {
  const args = { hidden: s.hidden, heads: s.heads, layers: s.layers, patch: s.patch, 'pos-grid': s.posGrid, height: H, width: W, labels, batch: B, text: s.text, steps, warmup, threads };
  const py = spawnSync('/usr/bin/python3', [path.join(REPO_ROOT, 'bench/vilt_train.py'), ...Object.entries(args).flatMap(([k, v]) => [`--${k}`, String(v)])], { encoding: 'utf8' });
  if (py.status !== 0) return { threads, error: py.stderr.trim().split('\n').pop() };
  const r = JSON.parse(py.stdout.trim().split('\n').pop()!) as Record<string, unknown> & { examples_per_s: number };
  log(`pytorch ${threads} thread(s): ${(r.step_s as number).toFixed(3)} s/step, BLAS ${(r.blas_library as string[]).join(' ')}`);
  return r;
});

const ours = B / stepS;
console.log(
  JSON.stringify({
    shape: values.shape,
    backend: choice.name,
    batch: B,
    image: [H, W],
    tokens: s.text + 1 + n,
    params: nParams,
    steps: { warmup, timed: steps },
    vlkit: { examples_per_s: ours, step_s: stepS, fwd_bwd_s: fwdBwd, optimizer_s: optS, peak_rss_mib: rssMib, wasm_heap_mib: heapMib },
    loader: { workers, prefetch, batch_s: loaderBatchS, images_per_s: B / loaderBatchS, share_of_model_step: loaderBatchS / stepS },
    train_loop: { step_s: loopS, examples_per_s: B / loopS, data_wait_ms_mean: mean(waits), data_wait_ms_max: Math.max(...waits), data_wait_share: mean(waits) / 1000 / loopS },
    pytorch: torch,
    ratio_vs_pytorch_1_thread: 'examples_per_s' in torch[0]! ? ours / torch[0]!.examples_per_s : null,
    ratio_vs_pytorch_2_threads: 'examples_per_s' in torch[1]! ? ours / torch[1]!.examples_per_s : null,
  }),
);
