/**
 * What the wasm kernel overrides buy (train/engine/wasm-kernels.ts):
 *  1. GFLOP/s of Dense-shaped products — forward x·W, and the two backward products xᵀ·dy (dW) and dy·Wᵀ (dx) —
 *     on cpu, wasm with the stock BatchMatMul, and wasm with the override.
 *  2. Conv2D gradients: stock Conv2DBackpropInput vs the im2col override; Conv2DBackpropFilter has no stock wasm
 *     kernel, so its 'wasm-stock' column is the fill running on the stock BatchMatMul.
 *  3. One training step (forward, backward, AdamW) of a tiny 2-layer transformer, cpu vs wasm stock vs wasm +
 *     overrides ('wasm-stock' keeps the UnsortedSegmentSum fill: without it the embedding gradient cannot run).
 * Prints ratios and peak RSS.   Run: node dist/bench/train-matmul.js [--quick]
 */
import * as tf from '@tensorflow/tfjs';
import { dense, Optimizer, registerWasmKernels, Rng, selectBackend } from '../train/engine/index.js';

const quick = process.argv.includes('--quick');
const rng = Rng.from(1, 'bench');
const randn = (shape: number[], scale = 1) => tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal() * scale), shape);

/** Mean ms per call over at least `minMs`; cpu (minMs 0) gets one call and no warm-up — it is that slow. */
function time(fn: () => void, minMs: number): number {
  if (minMs > 0) fn();
  const t0 = performance.now();
  let n = 0;
  do {
    fn();
    n++;
  } while (performance.now() - t0 < minMs);
  return (performance.now() - t0) / n;
}

type Mode = 'cpu' | 'wasm-stock' | 'wasm-override';
async function use(mode: Mode): Promise<void> {
  if (mode === 'cpu') {
    await tf.setBackend('cpu');
    return;
  }
  await tf.setBackend('wasm');
  const on = mode === 'wasm-override';
  registerWasmKernels({ batchMatMul: on, conv2DBackpropInput: on });
}

await selectBackend({ force: 'wasm' });
const MODES: Mode[] = ['cpu', 'wasm-stock', 'wasm-override'];

// --- 1. Dense-shaped products -----------------------------------------------------------------------------------
const rows = quick ? 128 : 256; // B·T
const [din, dout] = [768, 3072];
const products = [
  { name: `x·W        [${rows},${din}]·[${din},${dout}]`, a: [rows, din], b: [din, dout], ta: false, tb: false },
  { name: `xᵀ·dy (dW) [${rows},${din}]ᵀ·[${rows},${dout}]`, a: [rows, din], b: [rows, dout], ta: true, tb: false },
  { name: `dy·Wᵀ (dx) [${rows},${dout}]·[${din},${dout}]ᵀ`, a: [rows, dout], b: [din, dout], ta: false, tb: true },
];
console.log('\n1. Dense-shaped products, GFLOP/s');
console.log(`${'product'.padEnd(40)} ${MODES.map((m) => m.padStart(14)).join('')}   override/stock  override/cpu`);
for (const p of products) {
  const flops = 2 * rows * din * dout;
  const g: Record<string, number> = {};
  for (const mode of MODES) {
    await use(mode);
    const a = randn(p.a);
    const b = randn(p.b);
    const ms = time(() => tf.matMul(a, b, p.ta, p.tb).dispose(), mode === 'cpu' ? 0 : 500);
    g[mode] = flops / ms / 1e6;
    tf.dispose([a, b]);
  }
  console.log(
    `${p.name.padEnd(40)} ${MODES.map((m) => g[m]!.toFixed(2).padStart(14)).join('')}   ${(g['wasm-override']! / g['wasm-stock']!).toFixed(1).padStart(13)}x ${(g['wasm-override']! / g.cpu!).toFixed(0).padStart(12)}x`,
  );
}

// --- 2. Conv gradients ------------------------------------------------------------------------------------------
const convX = [quick ? 2 : 4, 16, 16, 32];
const convW = [3, 3, 32, 64];
console.log(`\n2. conv2d 3×3 'same' gradients, x=[${convX}] w=[${convW}], ms per call`);
const convMs: Record<string, { dx: number; dw: number }> = {};
for (const mode of MODES) {
  await use(mode);
  const x = randn(convX) as tf.Tensor4D;
  const w = randn(convW, 0.1) as tf.Tensor4D;
  const dy = randn([convX[0]!, 16, 16, 64]) as tf.Tensor4D;
  const minMs = mode === 'cpu' ? 0 : 500;
  convMs[mode] = {
    dx: time(() => tf.conv2dTranspose(dy, w, x.shape, 1, 'same').dispose(), minMs),
    dw: time(() => (tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape: convW }) as tf.Tensor).dispose(), minMs),
  };
  tf.dispose([x, w, dy]);
}
for (const k of ['dx', 'dw'] as const) {
  console.log(`  ${k === 'dx' ? 'Conv2DBackpropInput ' : 'Conv2DBackpropFilter'}  ${MODES.map((m) => `${m} ${convMs[m]![k].toFixed(1)} ms`).join('   ')}`);
}

// --- 3. Tiny transformer step -----------------------------------------------------------------------------------
const cfg = { vocab: 1000, d: 128, heads: 4, ff: 512, layers: 2, batch: quick ? 8 : 16, seq: 32 };
function makeParams(): Record<string, tf.Variable> {
  const p: Record<string, tf.Variable> = { 'emb.weight': tf.variable(randn([cfg.vocab, cfg.d], 0.02)), 'pos.weight': tf.variable(randn([cfg.seq, cfg.d], 0.02)) };
  for (let l = 0; l < cfg.layers; l++) {
    const s = (n: string) => `layer.${l}.${n}`;
    for (const n of ['q', 'k', 'v', 'o']) {
      p[s(`${n}.weight`)] = tf.variable(randn([cfg.d, cfg.d], 0.05));
      p[s(`${n}.bias`)] = tf.variable(tf.zeros([cfg.d]));
    }
    p[s('ff1.weight')] = tf.variable(randn([cfg.d, cfg.ff], 0.05));
    p[s('ff1.bias')] = tf.variable(tf.zeros([cfg.ff]));
    p[s('ff2.weight')] = tf.variable(randn([cfg.ff, cfg.d], 0.05));
    p[s('ff2.bias')] = tf.variable(tf.zeros([cfg.d]));
    for (const n of ['ln1', 'ln2']) {
      p[s(`${n}.weight`)] = tf.variable(tf.ones([cfg.d]));
      p[s(`${n}.bias`)] = tf.variable(tf.zeros([cfg.d]));
    }
  }
  p['head.weight'] = tf.variable(randn([cfg.d, cfg.vocab], 0.05));
  return p;
}

function layerNorm(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return x.sub(mean).div(variance.add(1e-12).sqrt()).mul(w).add(b);
}

function lossOf(p: Record<string, tf.Variable>, ids: tf.Tensor1D, targets: tf.Tensor2D): tf.Scalar {
  const { batch: B, seq: T, d, heads: H } = cfg;
  const dh = d / H;
  let h = tf.gather(p['emb.weight']!, ids).reshape([B, T, d]).add(p['pos.weight']!);
  for (let l = 0; l < cfg.layers; l++) {
    const w = (n: string) => p[`layer.${l}.${n}`]! as tf.Variable<tf.Rank.R2>;
    const v1 = (n: string) => p[`layer.${l}.${n}`]! as tf.Variable<tf.Rank.R1>;
    const heads = (t: tf.Tensor) => t.reshape([B, T, H, dh]).transpose([0, 2, 1, 3]);
    const q = heads(dense(h, w('q.weight'), v1('q.bias')));
    const k = heads(dense(h, w('k.weight'), v1('k.bias')));
    const v = heads(dense(h, w('v.weight'), v1('v.bias')));
    const att = tf.softmax(tf.matMul(q, k, false, true).div(Math.sqrt(dh)));
    const ctx = tf.matMul(att, v).transpose([0, 2, 1, 3]).reshape([B, T, d]);
    h = layerNorm(h.add(dense(ctx, w('o.weight'), v1('o.bias'))), v1('ln1.weight'), v1('ln1.bias'));
    const ff = dense(dense(h, w('ff1.weight'), v1('ff1.bias')).relu(), w('ff2.weight'), v1('ff2.bias'));
    h = layerNorm(h.add(ff), v1('ln2.weight'), v1('ln2.bias'));
  }
  const logits = dense(h, p['head.weight'] as tf.Variable<tf.Rank.R2>).reshape([B * T, cfg.vocab]);
  return tf.losses.softmaxCrossEntropy(targets, logits) as tf.Scalar;
}

console.log(`\n3. tiny transformer step (${cfg.layers} layers, d=${cfg.d}, ff=${cfg.ff}, batch ${cfg.batch}×${cfg.seq}, vocab ${cfg.vocab}), ms per step`);
const stepMs: Record<string, number> = {};
for (const mode of MODES) {
  await use(mode);
  const params = makeParams();
  const nParams = Object.values(params).reduce((a, v) => a + v.size, 0);
  const opt = new Optimizer({ kind: 'adamw', lr: 1e-4, beta1: 0.9, beta2: 0.999, eps: 1e-6, weightDecay: 0.01, totalSteps: 100, warmup: 0.1 });
  const ids = tf.tensor1d(Int32Array.from({ length: cfg.batch * cfg.seq }, () => rng.int(cfg.vocab)), 'int32');
  const targets = tf.oneHot(tf.tensor1d(Int32Array.from({ length: cfg.batch * cfg.seq }, () => rng.int(cfg.vocab)), 'int32'), cfg.vocab) as tf.Tensor2D;
  const names = Object.keys(params);
  const byTfName = new Map(names.map((n) => [params[n]!.name, n]));
  stepMs[mode] = time(() => {
    const { value, grads } = tf.variableGrads(() => lossOf(params, ids, targets));
    value.dataSync();
    value.dispose();
    const named = Object.fromEntries(Object.entries(grads).map(([k, g]) => [byTfName.get(k)!, g]));
    opt.apply(params, named);
    tf.dispose(Object.values(grads));
  }, mode === 'cpu' ? 0 : 3000);
  if (mode === 'cpu') console.log(`  (${(nParams / 1e3).toFixed(0)}k parameters)`);
  console.log(`  ${mode.padEnd(14)} ${stepMs[mode]!.toFixed(0).padStart(7)} ms`);
  opt.dispose();
  tf.dispose([...Object.values(params), ids, targets]);
}
console.log(`  wasm+override vs wasm stock: ${(stepMs['wasm-stock']! / stepMs['wasm-override']!).toFixed(2)}x faster; vs cpu: ${(stepMs.cpu! / stepMs['wasm-override']!).toFixed(1)}x faster`);
console.log(`\npeak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
