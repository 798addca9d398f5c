/**
 * The wasm kernels registered by train/engine against the cpu backend (values and gradients, random inputs and
 * edge cases), the dense() helper against a hand-derived gradient, and tensor leaks across training steps.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { clipByGlobalNorm, dense, Optimizer, registeredWasmKernels, Rng, selectBackend } from '../train/engine/index.js';

const lines: string[] = [];
const choice = await selectBackend({ force: 'wasm', log: (l) => lines.push(l) });
const rng = Rng.from(7, 'kernel-tests');

function randn(n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal();
  return a;
}

/** Max abs difference within rtol of the reference's largest magnitude (sums of products round differently). */
function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, rtol = 1e-4): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let scale = 0;
  let diff = 0;
  for (let i = 0; i < expected.length; i++) {
    scale = Math.max(scale, Math.abs(expected[i]!));
    diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
  }
  assert.ok(Number.isFinite(diff) && diff <= rtol * Math.max(scale, 1e-12), `${what}: max |diff| ${diff} > ${rtol} × ${scale}`);
}

/** Run `fn` on cpu, then on wasm; return both results as plain arrays. */
async function onBoth(fn: () => tf.Tensor[]): Promise<{ cpu: Float32Array[]; wasm: Float32Array[] }> {
  const run = async (backend: string) => {
    await tf.setBackend(backend);
    const outs = fn();
    const vals = outs.map((t) => Float32Array.from(t.dataSync()));
    tf.dispose(outs);
    return vals;
  };
  const cpu = await run('cpu');
  const wasm = await run('wasm');
  return { cpu, wasm };
}

async function compareOnBoth(fn: () => tf.Tensor[], what: string): Promise<void> {
  const { cpu, wasm } = await onBoth(fn);
  cpu.forEach((c, i) => assertClose(wasm[i]!, c, `${what} output ${i}`));
}

test('backend: wasm forced, one log line naming it and the registered kernels', () => {
  assert.equal(choice.name, 'wasm');
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /^backend: wasm — forced; registered wasm kernels: .*UnsortedSegmentSum.*Conv2DBackpropFilter.*BatchMatMul/);
  for (const k of ['UnsortedSegmentSum', 'Conv2DBackpropFilter', 'Conv2DBackpropInput', 'DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput', 'BatchMatMul']) {
    assert.ok(registeredWasmKernels().includes(k), k);
    assert.ok(tf.getKernel(k, 'wasm'), `${k} registered on wasm`);
  }
});

test('backend: forcing an unavailable backend is a usage error naming the package', async () => {
  await assert.rejects(selectBackend({ force: 'node-gpu', log: () => {} }), /--backend node-gpu is not available: @tensorflow\/tfjs-node-gpu not installed/);
  await assert.rejects(selectBackend({ force: 'webgl', log: () => {} }), /--backend must be one of auto, node-gpu, node, wasm, cpu/);
  await tf.setBackend('wasm');
});

test('UnsortedSegmentSum: duplicate and out-of-range ids, float and int, against cpu and by hand', async () => {
  const x = randn(7 * 3 * 2);
  const ids = [0, 2, 2, -1, 4, 0, 5]; // 2 and 0 repeat; -1 and 5 (= numSegments) are dropped as in TensorFlow
  const { cpu, wasm } = await onBoth(() => [tf.unsortedSegmentSum(tf.tensor(x, [7, 3, 2]), tf.tensor1d(ids, 'int32'), 5)]);
  assertClose(wasm[0]!, cpu[0]!, 'float segment sum');
  // By hand: segment 2 = rows 1 + 2; segment 3 = nothing.
  for (let j = 0; j < 6; j++) {
    assert.ok(Math.abs(wasm[0]![2 * 6 + j]! - (x[6 + j]! + x[12 + j]!)) < 1e-6);
    assert.equal(wasm[0]![3 * 6 + j], 0);
  }
  const xi = Int32Array.from([1, 2, 3, 4, 5, 6, 7]);
  const ints = await onBoth(() => [tf.unsortedSegmentSum(tf.tensor1d(xi, 'int32'), tf.tensor1d(ids, 'int32'), 5).cast('float32')]);
  assert.deepEqual([...ints.wasm[0]!], [7, 0, 5, 0, 5]);
  assert.deepEqual([...ints.wasm[0]!], [...ints.cpu[0]!]);
});

test('UnsortedSegmentSum as the embedding gradient: repeated token ids accumulate', async () => {
  const table = randn(6 * 4);
  const r = randn(5 * 4);
  const idx = [1, 3, 1, 1, 5];
  const { cpu, wasm } = await onBoth(() => {
    const g = tf.grad((e: tf.Tensor) => tf.gather(e, tf.tensor1d(idx, 'int32')).mul(tf.tensor(r, [5, 4])).sum());
    return [g(tf.tensor(table, [6, 4]))];
  });
  assertClose(wasm[0]!, cpu[0]!, 'embedding grad');
  for (let j = 0; j < 4; j++) assert.ok(Math.abs(wasm[0]![4 + j]! - (r[j]! + r[8 + j]! + r[12 + j]!)) < 1e-5, 'row 1 sums its 3 uses');
});

// tfjs-core has no working gradient for batch-broadcast products (cpu included: it throws a shape error), so those
// shapes are compared on values only; models use dense() for them, whose gradient is checked below.
test('BatchMatMul override: all transpose combinations × batched, unbatched and broadcast shapes, values and gradients', async () => {
  const cases: Array<{ a: number[]; b: number[]; label: string; grads: boolean }> = [
    { a: [5, 7], b: [7, 4], label: '2-D', grads: true },
    { a: [3, 5, 7], b: [3, 7, 4], label: 'batched × batched', grads: true },
    { a: [2, 3, 5, 7], b: [7, 4], label: 'batched × unbatched (folded into rows)', grads: false },
    { a: [5, 7], b: [3, 7, 4], label: 'unbatched × batched', grads: false },
    { a: [1, 5, 7], b: [3, 7, 4], label: 'broadcast batch', grads: false },
    // Big enough per item (48·40·48 multiply-adds) for the one-XNNPACK-call-per-item path.
    { a: [3, 48, 40], b: [3, 40, 48], label: 'batched × batched, per-item XNNPACK', grads: true },
    { a: [1, 48, 40], b: [3, 40, 48], label: 'broadcast batch, per-item XNNPACK', grads: false },
  ];
  for (const c of cases) {
    for (const ta of [false, true]) {
      for (const tb of [false, true]) {
        const swap = (s: number[], t: boolean) => (t ? [...s.slice(0, -2), s[s.length - 1]!, s[s.length - 2]!] : s);
        const aShape = swap(c.a, ta);
        const bShape = swap(c.b, tb);
        const av = randn(aShape.reduce((x, y) => x * y, 1));
        const bv = randn(bShape.reduce((x, y) => x * y, 1));
        const what = `${c.label} transposeA=${ta} transposeB=${tb}`;
        await compareOnBoth(() => {
          const a = tf.tensor(av, aShape);
          const b = tf.tensor(bv, bShape);
          const y = tf.matMul(a, b, ta, tb);
          if (!c.grads) return [y];
          const w = tf.tensor(randnFixed(y.size), y.shape);
          const [ga, gb] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.matMul(p, q, ta, tb).mul(w).sum())([a, b]);
          return [y, ga!, gb!];
        }, what);
      }
    }
  }
});

/** Deterministic weights for the loss (identical on both backends). */
function randnFixed(n: number): Float32Array {
  const r = Rng.from(11, n);
  return Float32Array.from({ length: n }, () => r.normal());
}

test('Conv2DBackpropFilter/Input: strides, same/valid/numeric/explicit padding, non-square filter, patch embedding', async () => {
  type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];
  const cases: Array<{ x: number[]; w: number[]; s: number; pad: Pad }> = [
    { x: [2, 9, 9, 3], w: [3, 3, 3, 4], s: 1, pad: 'same' },
    { x: [2, 9, 8, 3], w: [3, 3, 3, 4], s: 2, pad: 'valid' },
    { x: [1, 8, 8, 2], w: [3, 3, 2, 3], s: 2, pad: 1 },
    { x: [2, 9, 9, 3], w: [3, 2, 3, 3], s: 2, pad: [[0, 0], [1, 0], [0, 2], [0, 0]] }, // non-square, asymmetric
    { x: [2, 8, 8, 3], w: [4, 4, 3, 5], s: 4, pad: 'valid' }, // ViT/ViLT patch embedding: stride = kernel
  ];
  for (const c of cases) {
    const xv = randn(c.x.reduce((a, b) => a * b, 1));
    const wv = randn(c.w.reduce((a, b) => a * b, 1));
    await compareOnBoth(() => {
      const x = tf.tensor4d(xv, c.x as [number, number, number, number]);
      const w = tf.tensor4d(wv, c.w as [number, number, number, number]);
      const y = tf.conv2d(x, w, c.s, c.pad);
      const r = tf.tensor(randnFixed(y.size), y.shape);
      const [gx, gw] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.conv2d(p as tf.Tensor4D, q as tf.Tensor4D, c.s, c.pad).mul(r).sum())([x, w]);
      return [y, gx!, gw!];
    }, `conv2d x=[${c.x}] w=[${c.w}] stride ${c.s} pad ${c.pad}`);
  }
});

test('DepthwiseConv2dNativeBackpropFilter/Input: channel multiplier, stride, padding', async () => {
  const cases: Array<{ x: number[]; w: number[]; s: number; pad: 'same' | 'valid' }> = [
    { x: [2, 7, 7, 3], w: [3, 3, 3, 2], s: 1, pad: 'same' },
    { x: [1, 8, 9, 4], w: [3, 3, 4, 1], s: 2, pad: 'valid' },
  ];
  for (const c of cases) {
    const xv = randn(c.x.reduce((a, b) => a * b, 1));
    const wv = randn(c.w.reduce((a, b) => a * b, 1));
    await compareOnBoth(() => {
      const x = tf.tensor4d(xv, c.x as [number, number, number, number]);
      const w = tf.tensor4d(wv, c.w as [number, number, number, number]);
      const y = tf.depthwiseConv2d(x, w, c.s, c.pad);
      const r = tf.tensor(randnFixed(y.size), y.shape);
      const [gx, gw] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.depthwiseConv2d(p as tf.Tensor4D, q as tf.Tensor4D, c.s, c.pad).mul(r).sum())([x, w]);
      return [y, gx!, gw!];
    }, `depthwise x=[${c.x}] w=[${c.w}] stride ${c.s} pad ${c.pad}`);
  }
});

test('Identity override: tf.clone shares the buffer (no heap copy), outlives the original and a Variable.assign, gradient dy', async () => {
  await tf.setBackend('wasm');
  assert.ok(registeredWasmKernels().includes('Identity'));
  const heap = () => (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.buffer.byteLength;
  const x = tf.tensor1d(randn(1 << 20)); // 4 MiB
  const want = Float32Array.from(x.dataSync());
  const heapBefore = heap();
  const clones = Array.from({ length: 300 }, () => tf.clone(x)); // 1.2 GiB if copied
  assert.equal(heap(), heapBefore, 'no heap growth for 300 clones of 4 MiB');
  x.dispose();
  assert.deepEqual(clones[299]!.dataSync(), want, 'a clone keeps the data after the original is disposed');
  tf.dispose(clones.slice(0, 299));
  const v = tf.variable(clones[299]!);
  const saved = tf.clone(v);
  v.assign(tf.zerosLike(v));
  assert.deepEqual(saved.dataSync(), want, 'a clone of a Variable keeps the old values after assign');
  assert.ok(v.dataSync().every((e) => e === 0));
  tf.dispose([v, saved, clones[299]!]);
  const { cpu, wasm } = await onBoth(() => {
    const a = tf.tensor2d([1, -2, 3, 4], [2, 2]);
    const g = tf.grad((t: tf.Tensor) => tf.clone(t).mul(tf.clone(t)).sum())(a);
    return [tf.clone(a), g];
  });
  assert.deepEqual(wasm, cpu);
  assert.deepEqual([...wasm[1]!], [2, -4, 6, 8]);
});

test('dense(): rank-3 input gradient equals the hand-derived one (xᵀ·dy, Σdy, dy·Wᵀ)', () => {
  const [B, T, I, O] = [2, 3, 4, 5];
  const xv = randn(B * T * I);
  const wv = randn(I * O);
  const bv = randn(O);
  const rv = randn(B * T * O);
  const x = tf.tensor(xv, [B, T, I]);
  const w = tf.tensor2d(wv, [I, O]);
  const b = tf.tensor1d(bv);
  const r = tf.tensor(rv, [B, T, O]);
  const y = dense(x, w, b);
  assert.deepEqual(y.shape, [B, T, O]);
  const [gx, gw, gb] = tf.grads((p: tf.Tensor, q: tf.Tensor, s: tf.Tensor) => dense(p, q as tf.Tensor2D, s as tf.Tensor1D).mul(r).sum())([x, w, b]);
  const rows = B * T;
  const ew = new Float64Array(I * O);
  const eb = new Float64Array(O);
  const ex = new Float64Array(rows * I);
  const ey = new Float64Array(rows * O);
  for (let n = 0; n < rows; n++) {
    for (let o = 0; o < O; o++) {
      eb[o]! += rv[n * O + o]!;
      let acc = bv[o]!;
      for (let i = 0; i < I; i++) {
        ew[i * O + o]! += xv[n * I + i]! * rv[n * O + o]!;
        ex[n * I + i]! += rv[n * O + o]! * wv[i * O + o]!;
        acc += xv[n * I + i]! * wv[i * O + o]!;
      }
      ey[n * O + o] = acc;
    }
  }
  assertClose(y.dataSync(), ey, 'dense forward');
  assertClose(gw!.dataSync(), ew, 'dW');
  assertClose(gb!.dataSync(), eb, 'db');
  assertClose(gx!.dataSync(), ex, 'dx');
  tf.dispose([x, w, b, r, y, gx!, gw!, gb!]);
});

test('no tensor leaks: numTensors is flat across training steps of an embedding + MLP model', () => {
  const emb = tf.variable(tf.tensor(randn(10 * 8), [10, 8]), true, 'leak.emb.weight');
  const w1 = tf.variable(tf.tensor2d(randn(8 * 16), [8, 16]).mul(0.3), true, 'leak.fc1.weight') as tf.Variable<tf.Rank.R2>;
  const b1 = tf.variable(tf.zeros([16]), true, 'leak.fc1.bias') as tf.Variable<tf.Rank.R1>;
  const w2 = tf.variable(tf.tensor2d(randn(16 * 3), [16, 3]).mul(0.3), true, 'leak.fc2.weight') as tf.Variable<tf.Rank.R2>;
  const params: Record<string, tf.Variable> = { 'emb.weight': emb, 'fc1.weight': w1, 'fc1.bias': b1, 'fc2.weight': w2 };
  const opt = new Optimizer({ kind: 'adamw', lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-6, weightDecay: 0.01, totalSteps: 10, warmup: 0.1 });
  const ids = tf.tensor2d([[1, 2, 3], [4, 5, 6]], [2, 3], 'int32');
  const labels = tf.oneHot(tf.tensor1d([0, 2], 'int32'), 3);
  const counts: number[] = [];
  for (let s = 0; s < 6; s++) {
    const { value, grads } = tf.variableGrads(() => {
      const h = tf.gather(emb, ids.reshape([-1])).reshape([2, 3, 8]).mean(1);
      const logits = dense(dense(h, w1, b1).relu(), w2);
      return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
    });
    value.dispose();
    const named = Object.fromEntries(Object.entries(grads).map(([k, g]) => [k.replace(/^leak\./, ''), g]));
    const clipped = clipByGlobalNorm(named, 1.0);
    tf.dispose(Object.values(grads));
    opt.apply(params, clipped.grads);
    tf.dispose([...Object.values(clipped.grads), clipped.norm]);
    counts.push(tf.memory().numTensors);
  }
  // Step 1 creates the Adam moments; from then on the count must not move.
  assert.deepEqual(counts.slice(1), Array(counts.length - 1).fill(counts[1]), `numTensors per step: ${counts}`);
  opt.dispose();
  tf.dispose([emb, w1, b1, w2, ids, labels]);
});
