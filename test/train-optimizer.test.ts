/**
 * Optimiser semantics against hand-computed values: AdamW (HF, bias-corrected, decay after the step), LXMERT's
 * BertAdam (no bias correction, decay folded into the update), the warm-up/decay schedule, weight-decay exemptions,
 * clipping, and state round trips.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { clipByGlobalNorm, isNoDecay, lrFactor, Optimizer, selectBackend, type OptimizerKind } from '../train/engine/index.js';

await selectBackend({ force: 'cpu', log: () => {} });

const GRADS = [
  { 'fc.weight': [0.1, -0.2], 'fc.bias': [0.3] },
  { 'fc.weight': [-0.05, 0.4], 'fc.bias': [0.1] },
  { 'fc.weight': [0.2, 0.0], 'fc.bias': [-0.3] },
];

/** Float64 reference written from the formulas in optimizer.ts's header (HF AdamW / LXMERT BertAdam). */
function reference(kind: OptimizerKind, lr: number, wd: number, total: number, warmup: number) {
  const [b1, b2, eps] = [0.9, 0.999, 1e-6];
  const p: Record<string, number[]> = { 'fc.weight': [1, -2], 'fc.bias': [0.5] };
  const m: Record<string, number[]> = { 'fc.weight': [0, 0], 'fc.bias': [0] };
  const v: Record<string, number[]> = { 'fc.weight': [0, 0], 'fc.bias': [0] };
  const history: Array<Record<string, number[]>> = [];
  GRADS.forEach((g, s) => {
    const t = s + 1;
    const lrT = lr * lrFactor(s, total, warmup);
    for (const name of Object.keys(p)) {
      const decay = name.endsWith('bias') ? 0 : wd;
      p[name] = p[name]!.map((x, i) => {
        const gi = g[name as keyof typeof g][i]!;
        m[name]![i] = b1 * m[name]![i]! + (1 - b1) * gi;
        v[name]![i] = b2 * v[name]![i]! + (1 - b2) * gi * gi;
        const u = m[name]![i]! / (Math.sqrt(v[name]![i]!) + eps);
        if (kind === 'adamw') {
          const stepSize = (lrT * Math.sqrt(1 - b2 ** t)) / (1 - b1 ** t);
          return (x - stepSize * u) * (1 - lrT * decay);
        }
        return x - lrT * (u + decay * x);
      });
    }
    history.push(structuredClone(p));
  });
  return history;
}

function runOptimizer(kind: OptimizerKind, lr: number, wd: number, total: number, warmup: number) {
  const params: Record<string, tf.Variable> = {
    'fc.weight': tf.variable(tf.tensor1d([1, -2])),
    'fc.bias': tf.variable(tf.tensor1d([0.5])),
  };
  const opt = new Optimizer({ kind, lr, beta1: 0.9, beta2: 0.999, eps: 1e-6, weightDecay: wd, totalSteps: total, warmup });
  const history: Array<Record<string, number[]>> = [];
  const lrs: number[] = [];
  for (const g of GRADS) {
    const grads = { 'fc.weight': tf.tensor1d(g['fc.weight']), 'fc.bias': tf.tensor1d(g['fc.bias']) };
    lrs.push(opt.apply(params, grads));
    tf.dispose(Object.values(grads));
    history.push(Object.fromEntries(Object.entries(params).map(([n, p]) => [n, [...p.dataSync()]])));
  }
  return { history, lrs, opt, params };
}

function close(a: number[], b: number[], tol: number, what: string) {
  a.forEach((x, i) => assert.ok(Math.abs(x - b[i]!) <= tol * Math.max(1, Math.abs(b[i]!)), `${what}[${i}]: ${x} vs ${b[i]}`));
}

test('AdamW: first step by hand, then three steps against the float64 reference', () => {
  const { history, lrs } = runOptimizer('adamw', 0.1, 0.01, 10, 0);
  // Step 1, w[0]: g=0.1 → m=0.01, √v=0.00316228; step size 0.1·√0.001/0.1 = 0.0316228;
  // m/(√v+ε) = 3.161278 → 1 − 0.0999684 = 0.9000316; decay × (1 − 0.1·0.01) → 0.8991316.
  assert.ok(Math.abs(history[0]!['fc.weight']![0]! - 0.8991316) < 1e-6, `${history[0]!['fc.weight']![0]}`);
  // The bias is not decayed: 0.5 − 0.0316228·(0.03/(0.00948683+1e-6)) = 0.4000105.
  assert.ok(Math.abs(history[0]!['fc.bias']![0]! - 0.4000105) < 1e-6, `${history[0]!['fc.bias']![0]}`);
  close(lrs, [0.1, 0.09, 0.08], 1e-12, 'lr'); // linear decay from step 0 over 10 steps, no warm-up
  const ref = reference('adamw', 0.1, 0.01, 10, 0);
  history.forEach((h, s) => Object.keys(h).forEach((n) => close(h[n]!, ref[s]![n]!, 1e-6, `step ${s + 1} ${n}`)));
});

test('BertAdam: no bias correction, decay inside the update (LXMERT), against hand and reference values', () => {
  const { history } = runOptimizer('bertadam', 0.1, 0.01, 10, 0);
  // Step 1, w[0]: u = 3.161278 + 0.01·1 → 1 − 0.1·3.171278 = 0.6828722 (no bias correction: a much larger step).
  assert.ok(Math.abs(history[0]!['fc.weight']![0]! - 0.6828722) < 1e-6, `${history[0]!['fc.weight']![0]}`);
  const ref = reference('bertadam', 0.1, 0.01, 10, 0);
  history.forEach((h, s) => Object.keys(h).forEach((n) => close(h[n]!, ref[s]![n]!, 1e-6, `step ${s + 1} ${n}`)));
});

test('schedule: linear warm-up then linear decay to 0; the first update has lr 0 when warm-up is on', () => {
  // total 20, warm-up 0.1 → 2 warm-up steps.
  assert.deepEqual([0, 1, 2, 3, 11, 20, 25].map((s) => lrFactor(s, 20, 0.1)), [0, 0.5, 1, 17 / 18, 9 / 18, 0, 0]);
  assert.deepEqual([0, 5, 10].map((s) => lrFactor(s, 10, 0)), [1, 0.5, 0]);
  const { lrs, history } = runOptimizer('adamw', 0.1, 0.01, 10, 0.2);
  assert.deepEqual(lrs, [0, 0.05, 0.1]);
  assert.deepEqual(history[0], { 'fc.weight': [1, -2], 'fc.bias': [0.5] }, 'lr 0 leaves the weights as they were');
});

test('weight-decay exemptions follow BERT/ViLT parameter names', () => {
  for (const n of ['bert.encoder.layer.0.attention.output.LayerNorm.weight', 'x.LayerNorm.bias', 'blocks.3.norm1.weight', 'vit.norm.weight', 'ln_f.weight', 'fc.bias', 'transformer.ln1.weight']) {
    assert.ok(isNoDecay(n), n);
  }
  for (const n of ['fc.weight', 'bert.embeddings.word_embeddings.weight', 'blocks.3.attn.qkv.weight', 'normalizer.weight', 'pooler.dense.weight']) {
    assert.ok(!isNoDecay(n), n);
  }
});

test('clipByGlobalNorm: torch semantics (scale by max/(‖g‖+1e-6) only when above max)', () => {
  const g = { a: tf.tensor1d([3, 0]), b: tf.tensor1d([4]) }; // ‖g‖ = 5
  const c = clipByGlobalNorm(g, 1);
  assert.ok(Math.abs(c.norm.dataSync()[0]! - 5) < 1e-6);
  const s = 1 / (5 + 1e-6);
  close([...c.grads.a!.dataSync(), ...c.grads.b!.dataSync()], [3 * s, 0, 4 * s], 1e-6, 'clipped');
  const u = clipByGlobalNorm(g, 10);
  assert.deepEqual([...u.grads.a!.dataSync(), ...u.grads.b!.dataSync()], [3, 0, 4], 'below the max: unchanged');
  tf.dispose([...Object.values(g), ...Object.values(c.grads), ...Object.values(u.grads), c.norm, u.norm]);
});

test('optimizer state round trip: a restored optimizer continues exactly', () => {
  const a = runOptimizer('adamw', 0.1, 0.01, 10, 0.1);
  const state = a.opt.getState();
  assert.equal(state.step, 3);
  const params: Record<string, tf.Variable> = Object.fromEntries(Object.entries(a.params).map(([n, p]) => [n, tf.variable(p.clone())]));
  const b = new Optimizer(a.opt.cfg);
  b.setState(state, params);
  const g = { 'fc.weight': tf.tensor1d([0.3, -0.1]), 'fc.bias': tf.tensor1d([0.2]) };
  a.opt.apply(a.params, g);
  b.apply(params, g);
  for (const n of Object.keys(params)) assert.deepEqual([...params[n]!.dataSync()], [...a.params[n]!.dataSync()], n);
  assert.throws(() => new Optimizer({ ...a.opt.cfg, kind: 'bertadam' }).setState(state, params), /state is for 'adamw'/);
});
