/**
 * LXMERT-style training speed: examples/s and peak RSS of full training steps (forward, soft-score BCE, backward,
 * global-norm clip, BertAdam — what `vlkit train` runs per update) for the tiny shape (configs/lxmert/vqa_tiny.yaml)
 * or the full lxr955 shape (configs/lxmert/vqa.yaml: 9/5/5 layers, hidden 768, 3129 answers), next to the same
 * model in PyTorch CPU (bench/lxmert_train.py, OpenBLAS) at the same batch, 20 tokens and 36 boxes.
 *   node dist/bench/lxmert-train.js --shape tiny|full [--batch 32] [--steps 5] [--backend wasm] [--threads 2]
 * One shape per process, so each peak RSS is its own.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { clipByGlobalNorm, Optimizer, Rng, selectBackend } from '../train/engine/index.js';
import { LxmertModel, softScoreLoss, type LxmertSizes } from '../train/lxmert/model.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { values } = parseArgs({ options: { shape: { type: 'string', default: 'tiny' }, batch: { type: 'string', default: '32' }, steps: { type: 'string', default: '5' }, backend: { type: 'string', default: 'wasm' }, threads: { type: 'string', default: '2' } } });
const SHAPES: Record<string, LxmertSizes & { answers: number }> = {
  tiny: { hidden: 128, heads: 4, intermediate: 256, lLayers: 2, rLayers: 1, xLayers: 1, vocab: 30522, maxPositions: 512, typeVocab: 2, featDim: 2048, posDim: 4, answers: 3129 },
  full: { hidden: 768, heads: 12, intermediate: 3072, lLayers: 9, rLayers: 5, xLayers: 5, vocab: 30522, maxPositions: 512, typeVocab: 2, featDim: 2048, posDim: 4, answers: 3129 },
};
const s = SHAPES[values.shape!];
if (!s) throw new Error(`--shape must be ${Object.keys(SHAPES).join(' or ')}`);
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
const opt = new Optimizer({ kind: 'bertadam', lr: 1e-5, beta1: 0.9, beta2: 0.999, eps: 1e-6, weightDecay: 0.01, totalSteps: steps + 1, warmup: 0 });
const inp = inputs();
const params = names.reduce((a, n) => a + model.params.vars[n]!.size, 0);

function step(): void {
  const varList = names.map((n) => model.params.vars[n]!);
  const { value, grads } = tf.variableGrads(() => softScoreLoss(model.logits(inp, { dropout: 0.1, rng: Rng.from(1, 'drop') }), target), varList);
  value.dataSync();
  value.dispose();
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

const py = spawnSync('/usr/bin/python3', [path.join(REPO_ROOT, 'bench/lxmert_train.py'), ...[s.hidden, s.heads, s.intermediate, s.lLayers, s.rLayers, s.xLayers, s.featDim, s.answers, B, T, O, steps, Number(values.threads)].map(String)], { encoding: 'utf8' });
if (py.status !== 0) throw new Error(`PyTorch baseline failed: ${py.stderr}`);
interface Figures {
  examples_per_s: number;
  ms_per_step: number;
  peak_rss_mib: number;
}
const torch = JSON.parse(py.stdout.trim().split('\n').pop()!) as Figures;
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
console.log(`lxmert ${values.shape} (${(params / 1e6).toFixed(1)}M params), batch ${B}, ${T} tokens, ${O} boxes, ${steps} timed steps`);
if (ours) console.log(`  vlkit ${choice.name}: ${f(ours.examples_per_s)} examples/s (${f(ours.ms_per_step)} ms/step), peak RSS ${f(ours.peak_rss_mib)} MiB`);
else console.log(`  vlkit ${choice.name}: FAILED (${failure}); peak RSS ${f(process.resourceUsage().maxRSS / 1024)} MiB`);
console.log(`  PyTorch ${values.threads} thread(s): ${f(torch.examples_per_s)} examples/s (${f(torch.ms_per_step)} ms/step), peak RSS ${f(torch.peak_rss_mib)} MiB`);
if (ours) console.log(`  speed ratio vlkit/PyTorch: ${(ours.examples_per_s / torch.examples_per_s).toFixed(2)}x`);
process.exitCode = ours ? 0 : 1;
