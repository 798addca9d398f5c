/**
 * ViLT's word-patch alignment (train/vilt/wpa.ts): the batched IPOT plan and distance against an independent float64
 * numpy reference that solves each example's unpadded sub-problem (test/py/wpa_ref.py), hand-checked cases (identical
 * and permuted sets), the plan carrying no gradient, no leaked tensors, and `wpa_weight` in a real tiny pre-training
 * run through the CLI logging a finite `wpa_loss`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../train/engine/index.js';
import { mulberry32 } from '../train/engine/rng.js';
import { cosineCost, ipotPlan, otDistance, VILT_IPOT, wpaLoss, wpaTextValid } from '../train/vilt/wpa.js';
import { REPO, runCli, tempDir } from './helpers.js';
import { buildSynthetic } from './vilt-synthetic.js';
import { loadConfig } from '../common/config.js';
import { resolveTree, settingsFrom } from '../train/vilt/config.js';

const PYTHON = '/usr/bin/python3';

before(async () => {
  await selectBackend({ force: 'wasm', log: () => {} });
});

function gaussian(rand: () => number, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand()));
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

interface Ref {
  cost: number[];
  plan: number[];
  distance: number[];
}

function reference(input: object): Ref | string {
  const run = spawnSync(PYTHON, [path.join(REPO, 'test/py/wpa_ref.py')], { input: JSON.stringify(input), encoding: 'utf8', timeout: 60_000 });
  if (run.error || run.status !== 0) {
    const why = run.error ? String(run.error) : run.stderr.trim().split('\n').pop();
    if (process.env.CI === 'true') throw new Error(`python3-numpy is required in CI (apt-get install python3-numpy): ${why}`);
    if (run.error || /No module named 'numpy'/.test(run.stderr)) return `needs ${PYTHON} with Debian python3-numpy (${why})`;
    throw new Error(`test/py/wpa_ref.py failed: ${run.stderr}`);
  }
  return JSON.parse(run.stdout) as Ref;
}

test('wpa: batched IPOT plan and distance equal a float64 numpy IPOT on each unpadded example (≤ 1e-5)', (t) => {
  const [B, M, N, D] = [5, 7, 11, 16];
  const rand = mulberry32(3);
  const text = gaussian(rand, B * M * D);
  const image = gaussian(rand, B * N * D);
  // Padding patterns: full, right-padded text and grid, holes (MAE-like hidden patches), one token, no text at all.
  const textLen = [7, 5, 3, 1, 0];
  const textValid = Float32Array.from({ length: B * M }, (_, i) => (i % M < textLen[Math.floor(i / M)]! ? 1 : 0));
  const imageValid = Float32Array.from({ length: B * N }, (_, i) => {
    const [e, j] = [Math.floor(i / N), i % N];
    return e === 1 ? (j < 6 ? 1 : 0) : e === 2 ? (j % 3 === 1 ? 0 : 1) : 1;
  });
  const ref = reference({ B, M, N, D, ...VILT_IPOT, text: [...text], image: [...image], text_valid: [...textValid], image_valid: [...imageValid] });
  if (typeof ref === 'string') return t.skip(ref);
  const got = tf.tidy(() => {
    const x = tf.tensor3d(text, [B, M, D]);
    const y = tf.tensor3d(image, [B, N, D]);
    const { distance, plan } = otDistance(x, y, tf.tensor2d(textValid, [B, M]), tf.tensor2d(imageValid, [B, N]));
    return { cost: cosineCost(x, y).dataSync().slice(), plan: plan.dataSync().slice(), distance: distance.dataSync().slice() };
  });
  assert.ok(maxDiff(got.cost, ref.cost) <= 1e-5, `cost differs by ${maxDiff(got.cost, ref.cost)}`);
  assert.ok(maxDiff(got.plan, ref.plan) <= 1e-5, `plan differs by ${maxDiff(got.plan, ref.plan)}`);
  assert.ok(maxDiff(got.distance, ref.distance) <= 1e-5, `distance differs by ${maxDiff(got.distance, ref.distance)}`);
  // The reference really transports: example 1 has 5 tokens × 6 patches, each row sums to 1/5, each column to 1/6.
  const rows = Array.from({ length: 5 }, (_, i) => ref.plan.slice((M + i) * N, (M + i) * N + 6).reduce((a, v) => a + v, 0));
  for (const r of rows) assert.ok(Math.abs(r - 1 / 5) < 1e-3, `row mass ${r}`);
  assert.equal(got.distance[4], 0, 'no text tokens: no transport, distance 0');
  assert.ok(got.plan.slice(4 * M * N).every((v) => v === 0));
});

test('wpa: identical sets transport along the diagonal (distance ≈ 0); permuted features are matched back', () => {
  const [n, D] = [6, 32];
  const rand = mulberry32(9);
  const feats = gaussian(rand, n * D);
  const perm = [3, 0, 5, 1, 4, 2];
  const permuted = new Float32Array(n * D);
  perm.forEach((p, j) => permuted.set(feats.subarray(p * D, (p + 1) * D), j * D)); // patch j = token perm[j]
  const ones = tf.ones([2, n]) as tf.Tensor2D;
  const x = tf.tensor3d([...feats, ...feats], [2, n, D]);
  const y = tf.tensor3d([...feats, ...permuted], [2, n, D]);
  const { distance, plan } = otDistance(x, y, ones, ones);
  const p = plan.arraySync();
  const d = distance.dataSync();
  // Uniform plan for comparison: the mean cost of random 32-d directions is ≈ 1.
  const uniform = cosineCost(x, y).mean([1, 2]).dataSync();
  for (const e of [0, 1]) {
    assert.ok(d[e]! < 0.02, `distance ${d[e]} should be near its minimum 0 (uniform plan: ${uniform[e]})`);
    for (let i = 0; i < n; i++) {
      const row = p[e]![i]!;
      const j = row.indexOf(Math.max(...row));
      assert.equal(j, e === 0 ? i : perm.indexOf(i), `token ${i} of example ${e} goes to patch ${j}`);
      assert.ok(Math.abs(row[j]! - 1 / n) < 0.01, `mass ${row[j]} ≈ 1/${n}`);
    }
  }
  tf.dispose([ones, x, y, distance, plan]);
});

test('wpa: the gradient reaches the features through the cost only (the plan is a constant), no tensors leak', () => {
  const [B, M, N, D] = [3, 5, 8, 12];
  const rand = mulberry32(21);
  const x = tf.tensor3d(gaussian(rand, B * M * D), [B, M, D]);
  const y = tf.tensor3d(gaussian(rand, B * N * D), [B, N, D]);
  const xv = tf.tensor2d(Float32Array.from({ length: B * M }, (_, i) => (i % M < 4 - Math.floor(i / M) ? 1 : 0)), [B, M]);
  const yv = tf.ones([B, N]) as tf.Tensor2D;
  const before = tf.memory().numTensors;
  const planGrad = tf.grad((a: tf.Tensor) => ipotPlan(cosineCost(a as tf.Tensor3D, y), xv, yv).sum())(x);
  assert.ok(planGrad.dataSync().every((v) => v === 0), 'IPOT carries no gradient');
  const [gx, gy] = tf.grads((a: tf.Tensor, b: tf.Tensor) => otDistance(a as tf.Tensor3D, b as tf.Tensor3D, xv, yv).distance.sum())([x, y]);
  // Same gradient as Σ C(x, y) ⊙ T with T a constant tensor holding the plan's values.
  const fixed = tf.tensor3d(tf.tidy(() => otDistance(x, y, xv, yv).plan.arraySync()));
  const [ex, ey] = tf.grads((a: tf.Tensor, b: tf.Tensor) => cosineCost(a as tf.Tensor3D, b as tf.Tensor3D).mul(fixed).sum())([x, y]);
  assert.ok(maxDiff(gx!.dataSync(), ex!.dataSync()) < 1e-7 && maxDiff(gy!.dataSync(), ey!.dataSync()) < 1e-7);
  const g = gx!.arraySync() as number[][][];
  assert.ok(g[0]![0]!.some((v) => v !== 0), 'a valid token gets gradient');
  assert.ok(g[0]![4]!.every((v) => v === 0) && g[2]![2]!.every((v) => v === 0), 'padded tokens get none');
  tf.dispose([planGrad, gx!, gy!, fixed, ex!, ey!]);
  const mid = tf.memory().numTensors;
  // The training-step shape: wpaLoss under variableGrads, repeated.
  const tf3 = tf.variable(tf.tensor3d(gaussian(rand, B * 6 * D), [B, 6, D]));
  const img = tf.tensor3d(gaussian(rand, B * (1 + N) * D), [B, 1 + N, D]);
  const textMask = Float32Array.from({ length: B * 6 }, (_, i) => (i % 6 < 6 - Math.floor(i / 6) ? 1 : 0));
  const start = tf.memory().numTensors;
  for (let r = 0; r < 3; r++) {
    const { value, grads } = tf.variableGrads(() => wpaLoss(tf3, img, textMask, new Float32Array(B * N).fill(1), Int32Array.from([1, 0, 1])), [tf3]);
    assert.ok(Number.isFinite(value.dataSync()[0]!));
    tf.dispose([value, ...Object.values(grads)]);
    assert.equal(tf.memory().numTensors, start, `round ${r} leaked tensors`);
  }
  tf.dispose([tf3, img]);
  assert.equal(mid, before);
  tf.dispose([x, y, xv, yv]);
});

test('wpa: text validity drops [CLS] and the last real token ([SEP]); the loss signs matched vs swapped pairs', () => {
  const mask = Float32Array.from([1, 1, 1, 1, 0, 0, /* */ 1, 1, 1, 1, 1, 1]);
  assert.deepEqual([...wpaTextValid(mask, 6)], [0, 1, 1, 0, 0, 0, /* */ 0, 1, 1, 1, 1, 0]);
  // Same text and images: a pair labelled swapped contributes −distance, matched +distance, over B pairs.
  const rand = mulberry32(5);
  const text = tf.tensor3d(gaussian(rand, 2 * 6 * 8), [2, 6, 8]);
  const image = tf.tensor3d(gaussian(rand, 2 * 5 * 8), [2, 5, 8]);
  const pm = new Float32Array(2 * 4).fill(1);
  const d = tf.tidy(() => otDistance(text, image.slice([0, 1, 0], [2, 4, 8]), tf.tensor2d(wpaTextValid(mask, 6), [2, 6]), tf.tensor2d(pm, [2, 4])).distance.dataSync());
  const loss = wpaLoss(text, image, mask, pm, Int32Array.from([1, 0]));
  assert.ok(Math.abs(loss.dataSync()[0]! - (d[0]! - d[1]!) / 2) < 1e-6);
  tf.dispose([text, image, loss]);
});

test('wpa: `wpa_weight=0.1` in a tiny ViLT pre-training run logs a finite wpa_loss (off in the shipped configs)', async () => {
  for (const c of ['task_mlm_itm', 'task_mlm_itm_mae']) {
    const s = settingsFrom(resolveTree(loadConfig({ file: path.join(REPO, `configs/vilt/${c}.yaml`), overrides: ['data.root=ARROW'] })));
    assert.equal(s.wpaWeight, 0, `${c}: WPA is opt-in`);
  }
  const work = tempDir('vlkit-wpa-');
  const ds = await buildSynthetic(path.join(work, 'data'), 32, 8, 4);
  const dir = path.join(work, 'run');
  const args = ['train', '--config', 'configs/vilt/task_mlm_itm_tiny.yaml', '--serialization-dir', dir, '--backend', 'wasm', '--log-format', 'none'];
  const extra = [`data.root=${ds.arrow}`, 'data.datasets=[coco]', 'train.max_steps=4', 'train.log_every=1', 'data.eval_max=16', 'wpa_weight=0.1'];
  const r = await runCli([...args, ...extra], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr.slice(-3000));
  const log = readFileSync(path.join(dir, 'log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const steps = log.filter((l) => typeof l.itm_loss === 'number');
  assert.ok(steps.length >= 4, `${steps.length} records with itm_loss`);
  for (const l of steps) assert.ok(typeof l.wpa_loss === 'number' && Number.isFinite(l.wpa_loss) && l.wpa_loss !== 0, JSON.stringify(l));
  const valid = log.find((l) => l.valid)?.valid as Record<string, unknown> | undefined;
  assert.ok(valid && typeof valid.wpa_loss === 'number' && Number.isFinite(valid.wpa_loss), `validation record: ${JSON.stringify(valid)}`);
});
