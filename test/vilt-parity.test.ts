/**
 * Parity with PyTorch: a small ViLT-shaped model written in PyTorch (test/py/vilt_ref.py, Debian python3-torch) is
 * saved as a Lightning-like `.ckpt` ({'state_dict': …}), loaded into vlkit's ViltModel by parameter name
 * (`load_path`'s loader), and run on the same text and pixels — one full 64×96 image and one 64×64 image padded on
 * the right, so the per-image position interpolation and the patch mask are exercised. Every output must agree to
 * 1e-4 (max abs diff).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { Logger } from '../common/progress.js';
import { selectBackend } from '../train/engine/index.js';
import { input } from '../train/vilt/task.js';
import { loadWeights } from '../train/vilt/index.js';
import { interpWeights, ViltModel } from '../train/vilt/model.js';
import { REPO, tempDir } from './helpers.js';

const PYTHON = '/usr/bin/python3';
const [D, P, G, T, B, H, W] = [32, 16, 4, 8, 2, 64, 96];

interface Ref {
  ids: number[];
  text_mask: number[];
  img: number[];
  features: number[];
  cls: number[];
  itm: number[];
  vqa: number[];
}

function reference(dir: string): Ref | string {
  const run = spawnSync(PYTHON, [path.join(REPO, 'test/py/vilt_ref.py'), dir], { encoding: 'utf8', timeout: 120_000 });
  if (run.error || run.status !== 0) {
    const why = run.error ? String(run.error) : run.stderr.trim().split('\n').pop();
    if (process.env.CI === 'true') throw new Error(`python3-torch is required in CI (apt-get install python3-torch): ${why}`);
    if (run.error || /No module named 'torch'/.test(run.stderr)) return `needs ${PYTHON} with Debian python3-torch (${why})`;
    throw new Error(`test/py/vilt_ref.py failed: ${run.stderr}`);
  }
  return JSON.parse(readFileSync(path.join(dir, 'ref.json'), 'utf8')) as Ref;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

test('vilt parity: a PyTorch ViLT-shaped .ckpt loads by name and gives the same outputs (≤ 1e-4)', async (t) => {
  const dir = tempDir('vlkit-vilt-ref-');
  const ref = reference(dir);
  if (typeof ref === 'string') return t.skip(ref);
  await selectBackend({ force: 'wasm', log: () => {} });
  const model = new ViltModel(
    {
      hidden: D,
      heads: 2,
      layers: 2,
      mlpRatio: 4,
      patch: P,
      posGrid: G,
      maxTextLen: T,
      vocab: 30522,
      tokenTypes: 2,
      tasks: { mlm: false, itm: true, vqaLabels: 5, nlvr2: false, irtr: false },
      mae: null,
    },
    1,
  );
  await loadWeights(path.join(dir, 'ref.ckpt'), model, new Logger('none'));

  // Unfold the reference pixels into channel-major patches as the data loader does; image 1 is 4×4 patches of 4×6.
  const gh = H / P;
  const gw = W / P;
  const n = gh * gw;
  const pp = 3 * P * P;
  const patches = new Float32Array(B * n * pp);
  const mask = new Float32Array(B * n);
  const interp = new Float32Array(B * n * G * G);
  for (let b = 0; b < B; b++) {
    const vw = b === 0 ? gw : 4;
    const w = interpWeights(G, gh, vw);
    for (let y = 0; y < gh; y++) {
      for (let x = 0; x < gw; x++) {
        const slot = b * n + y * gw + x;
        for (let c = 0; c < 3; c++) {
          for (let py = 0; py < P; py++) {
            for (let px = 0; px < P; px++) {
              patches[slot * pp + c * P * P + py * P + px] = ref.img[((b * 3 + c) * H + y * P + py) * W + x * P + px]!;
            }
          }
        }
        if (x < vw) {
          mask[slot] = 1;
          interp.set(w.subarray((y * vw + x) * G * G, (y * vw + x + 1) * G * G), slot * G * G);
        }
      }
    }
  }
  const text = { t: T, ids: Int32Array.from(ref.ids), mask: Float32Array.from(ref.text_mask) };
  const got = tf.tidy(() => {
    const f = model.forward(input(text, { b: B, n, patches, mask, interp }, G * G), { dropout: 0 });
    return {
      features: tf.concat([f.textFeats, f.imageFeats], 1).dataSync().slice(),
      cls: f.cls.dataSync().slice(),
      itm: model.itm!.forward(f.cls).dataSync().slice(),
      vqa: model.vqa!.forward(f.cls).dataSync().slice(),
    };
  });
  model.dispose();
  for (const k of ['features', 'cls', 'itm', 'vqa'] as const) {
    const d = maxDiff(got[k], ref[k]);
    t.diagnostic(`${k}: max abs diff ${d.toExponential(2)}`);
    assert.ok(d <= 1e-4, `${k}: max abs diff ${d}`);
  }
  // The outputs are not trivially small: a wrong weight would show.
  assert.ok(Math.max(...ref.vqa.map(Math.abs)) > 0.05);
});
