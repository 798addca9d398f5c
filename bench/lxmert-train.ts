/**
 * LXMERT-style training speed: examples/s and peak RSS of full training steps (`--mode train`: forward, soft-score
 * BCE, backward, global-norm clip, BertAdam — what `vlkit train` runs per update) or of gradients only (`--mode grad`:
 * forward + backward, no optimizer state — the part of a step that fits the wasm heap at the full shape, whose
 * weights + gradients + two Adam moments, ~3.4 GB, do not) for the tiny shape (configs/lxmert/vqa_tiny.yaml) or the
 * full lxr955 shape (configs/lxmert/vqa.yaml: 9/5/5 layers, hidden 768, 3129 answers), next to the same model in
 * PyTorch CPU (bench/lxmert_train.py) at the same batch, 20 tokens and 36 boxes, with `--threads` threads (default 1:
 * the wasm backend runs on one) and the BLAS library it loaded printed.
 *   node dist/bench/lxmert-train.js --shape tiny|full [--mode train|grad] [--batch 32] [--steps 5] [--backend wasm] [--threads 1] [--profile]
 * One shape per process, so each peak RSS is its own. `--profile` times one more step kernel by kernel (tf.profile)
 * and prints where it goes, split into work on vocabulary-sized tensors (the 30522-word embedding's gradient and
 * update) and the rest.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { clipByGlobalNorm, Optimizer, Rng, selectBackend } from '../train/engine/index.js';
import { LxmertModel, softScoreLoss, type LxmertSizes } from '../train/lxmert/model.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { values } = parseArgs({ options: { shape: { type: 'string', default: 'tiny' }, batch: { type: 'string', default: '32' }, steps: { type: 'string', default: '5' }, backend: { type: 'string', default: 'wasm' }, threads: { type: 'string', default: '1' }, mode: { type: 'string', default: 'train' }, profile: { type: 'boolean', default: false } } });
const SHAPES: Record<string, LxmertSizes & { answers: number }> = {
  tiny: { hidden: 128, heads: 4, intermediate: 256, lLayers: 2, rLayers: 1, xLayers: 1, vocab: 30522, maxPositions: 512, typeVocab: 2, featDim: 2048, posDim: 4, answers: 3129 },
  full: { hidden: 768, heads: 12, intermediate: 3072, lLayers: 9, rLayers: 5, xLayers: 5, vocab: 30522, maxPositions: 512, typeVocab: 2, featDim: 2048, posDim: 4, answers: 3129 },
};
const s = SHAPES[values.shape!];
if (!s) throw new Error(`--shape must be ${Object.keys(SHAPES).join(' or ')}`);
const mode = values.mode!;
if (mode !== 'train' && mode !== 'grad') throw new Error('--mode must be train or grad');
const B = Number(values.batch);
const steps = Number(values.steps);
const T = 20;
const O = 36;

const choice = await selectBackend({ force: values.backend, log: () => {} });
const model = new LxmertModel('vqa', s, s.answers, 1);
const rng = Rng.from(3, 'bench');
const names = Object.keys(model.params.vars);
const inputs = () => ({
  ids: tf.tensor2d(Int32Array.from({ length: B * T }, () => rng.int(30522)), [B, T], 'int32'),
  mask: tf.ones([B, T]) as tf.Tensor2D,
  types: tf.zeros([B, T], 'int32') as tf.Tensor2D,
  feats: tf.tensor3d(Float32Array.from({ length: B * O * s.featDim }, () => rng.normal()), [B, O, s.featDim]),
  boxes: tf.tensor3d(Float32Array.from({ length: B * O * 4 }, () => rng.float()), [B, O, 4]),
  visMask: tf.ones([B, O]) as tf.Tensor2D,
});
const target = tf.oneHot(tf.zeros([B], 'int32'), s.answers).toFloat() as tf.Tensor2D;
const opt = mode === 'grad' ? null : new Optimizer({ kind: 'bertadam', lr: 1e-5, beta1: 0.9, beta2: 0.999, eps: 1e-6, weightDecay: 0.01, totalSteps: steps + 1, warmup: 0 });
const inp = inputs();
const params = names.reduce((a, n) => a + model.params.vars[n]!.size, 0);

function step(): void {
  const varList = names.map((n) => model.params.vars[n]!);
  const { value, grads } = tf.variableGrads(() => softScoreLoss(model.logits(inp, { dropout: 0.1, rng: Rng.from(1, 'drop') }), target), varList);
  value.dataSync();
  value.dispose();
  if (!opt) {
    // Gradients only: wait for them (dataSync of one) and drop them, as a step would after the update.
    const all = Object.values(grads);
    all[0]?.dataSync();
    all.forEach((g) => g.dispose());
    return;
  }
  const byName: Record<string, tf.Tensor> = {};
  for (const n of names) {
    const g = grads[model.params.vars[n]!.name];
    if (g) byName[n] = g;
  }
  const { grads: clipped, norm } = clipByGlobalNorm(byName, 5);
  norm.dataSync();
  norm.dispose();
  Object.values(byName).forEach((g) => g.dispose());
  opt.apply(model.params.vars, clipped);
  Object.values(clipped).forEach((g) => g.dispose());
}

const py = spawnSync('/usr/bin/python3', [path.join(REPO_ROOT, 'bench/lxmert_train.py'), ...[s.hidden, s.heads, s.intermediate, s.lLayers, s.rLayers, s.xLayers, s.featDim, s.answers, B, T, O, steps, Number(values.threads)].map(String), mode], { encoding: 'utf8' });
if (py.status !== 0) throw new Error(`PyTorch baseline failed: ${py.stderr}`);
interface Figures {
  examples_per_s: number;
  ms_per_step: number;
  peak_rss_mib: number;
}
const torch = JSON.parse(py.stdout.trim().split('\n').pop()!) as Figures & { threads: number; omp_wait_policy: string; blas_build: string; blas_loaded: string[] };
let ours: Figures | null = null;
let failure = '';
try {
  step();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) step();
  const dt = (performance.now() - t0) / 1000;
  ours = { examples_per_s: (B * steps) / dt, ms_per_step: (1000 * dt) / steps, peak_rss_mib: process.resourceUsage().maxRSS / 1024 };
} catch (err) {
  // The wasm heap stops at ~4 GiB: lxr955's weights, gradients and two Adam moments alone are ~3.4 GB.
  failure = (err as Error).message.split('\n')[0]!;
}
const f = (x: number) => x.toFixed(1);
console.log(`lxmert ${values.shape} (${(params / 1e6).toFixed(1)}M params), ${mode === 'train' ? 'full training steps' : 'forward + backward only (no optimizer state)'}, batch ${B}, ${T} tokens, ${O} boxes, ${steps} timed steps`);
if (ours) console.log(`  vlkit ${choice.name}: ${f(ours.examples_per_s)} examples/s (${f(ours.ms_per_step)} ms/step), peak RSS ${f(ours.peak_rss_mib)} MiB`);
else console.log(`  vlkit ${choice.name}: FAILED (${failure}); peak RSS ${f(process.resourceUsage().maxRSS / 1024)} MiB`);
console.log(`  PyTorch ${torch.threads} thread(s), OMP_WAIT_POLICY=${torch.omp_wait_policy}: ${f(torch.examples_per_s)} examples/s (${f(torch.ms_per_step)} ms/step), peak RSS ${f(torch.peak_rss_mib)} MiB`);
console.log(`  PyTorch BLAS: build ${torch.blas_build}; loaded ${torch.blas_loaded.join(', ') || 'none'}`);
if (ours) console.log(`  speed ratio vlkit/PyTorch: ${(ours.examples_per_s / torch.examples_per_s).toFixed(2)}x`);
if (ours && values.profile) {
  // Kernel time of one step; "vocab" = a kernel with an input or output of vocabulary rows (30522 × hidden).
  const vocabElems = 30522 * s.hidden;
  const prof = await tf.profile(() => step());
  const byKernel = new Map<string, { ms: number; n: number; vocabMs: number }>();
  let total = 0;
  let vocab = 0;
  for (const k of prof.kernels) {
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    const big = [...k.inputShapes, ...k.outputShapes].some((sh) => (sh ?? []).reduce((a, b) => a * b, 1) >= vocabElems);
    const e = byKernel.get(k.name) ?? { ms: 0, n: 0, vocabMs: 0 };
    e.ms += ms;
    e.n++;
    if (big) e.vocabMs += ms;
    byKernel.set(k.name, e);
    total += ms;
    if (big) vocab += ms;
  }
  console.log(`  profile of one step: ${f(total)} ms in kernels, ${f(vocab)} ms (${((100 * vocab) / total).toFixed(0)}%) on vocabulary-sized tensors`);
  for (const [name, e] of [...byKernel].sort((a, b) => b[1].ms - a[1].ms).slice(0, 10)) {
    console.log(`    ${name.padEnd(22)} ${f(e.ms).padStart(8)} ms in ${e.n} calls; ${f(e.vocabMs)} ms on vocabulary-sized tensors`);
  }
}
process.exitCode = ours ? 0 : 1;
