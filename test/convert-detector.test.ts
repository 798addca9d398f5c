/**
 * `vlkit convert-detector` on a tiny randomly initialised network with the bottom-up-attention layer types
 * (features/convert/tiny_net.py writes its .prototxt and a real .caffemodel): the exported ONNX model, run by
 * onnxruntime-node, must match a PyTorch forward of the same weights with Caffe semantics
 * (features/convert/reference_forward.py), on two aspect ratios and with given boxes.
 *
 * Needs Debian python3-torch and python3-onnx: required when CI=true, otherwise the tests skip with the reason.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import ort from 'onnxruntime-node';
import { REPO, runCli, tempDir } from './helpers.js';

const PYTHON = process.env.VLKIT_PYTHON ?? '/usr/bin/python3';
const CONVERT = path.join(REPO, 'features/convert');

function pythonMissing(): string | undefined {
  const r = spawnSync(PYTHON, ['-c', 'import torch, onnx, numpy'], { encoding: 'utf8' });
  if (r.error) return `${PYTHON}: ${r.error.message}`;
  if (r.status !== 0) return `${PYTHON} cannot import torch/onnx/numpy: ${r.stderr.trim().split('\n').pop()}`;
  return undefined;
}

function python(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, ['-B', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`python ${args[0]} exited ${code}:\n${err}`))));
  });
}

function readF32(file: string): Float32Array {
  const b = readFileSync(file);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
}

/** Deterministic pixel-like values (mean-subtracted BGR, roughly ±60) from a 32-bit LCG. */
function image(h: number, w: number, seed: number): Float32Array {
  const out = new Float32Array(3 * h * w);
  let s = seed >>> 0;
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32 - 0.5) * 120;
  }
  return out;
}

const OUTPUTS = ['rois', 'cls_prob', 'attr_prob', 'pool5_flat'] as const;
type Outputs = Record<(typeof OUTPUTS)[number], { dims: number[]; data: Float32Array }>;

interface Case {
  h: number;
  w: number;
  img: Float32Array;
  rois?: Float32Array;
}

/** Two aspect ratios through the RPN, and given boxes on a third image. */
const CASES: Record<string, Case> = {
  wide: { h: 160, w: 224, img: image(160, 224, 1) },
  tall: { h: 240, w: 128, img: image(240, 128, 2) },
  // Corners at 8, 24, 40 px fall on .5 after the 1/16 scale, where Caffe's round() goes up (torch.round would go to
  // even); a box smaller than one feature cell; the whole image; an ordinary box.
  given: { h: 160, w: 224, img: image(160, 224, 3), rois: Float32Array.of(0, 8, 24, 40, 56, 0, 3, 4, 5, 6, 0, 0, 0, 223, 159, 0, 30.3, 20.7, 150.2, 120.9) },
};

interface Fixture {
  dir: string;
  summary: Record<string, unknown>;
  roisSummary: Record<string, unknown>;
  reference: Record<string, Outputs>;
}

/** The PyTorch reference outputs of every case, from one Python process (importing torch takes seconds). */
async function referenceOutputs(dir: string): Promise<Record<string, Outputs>> {
  const jobs = Object.entries(CASES).map(([name, c]) => {
    writeFileSync(path.join(dir, `${name}.f32`), c.img);
    if (c.rois) writeFileSync(path.join(dir, `${name}-rois.f32`), c.rois);
    return { image: path.join(dir, `${name}.f32`), shape: `1,3,${c.h},${c.w}`, im_info: `${c.h},${c.w},1.0`, rois_in: c.rois ? path.join(dir, `${name}-rois.f32`) : null, out: path.join(dir, `ref-${name}`) };
  });
  writeFileSync(path.join(dir, 'jobs.json'), JSON.stringify(jobs));
  await python([path.join(CONVERT, 'reference_forward.py'), '--caffemodel', path.join(dir, 'tiny.caffemodel'), '--prototxt', path.join(dir, 'tiny.prototxt'), '--jobs', path.join(dir, 'jobs.json')]);
  const out: Record<string, Outputs> = {};
  for (const name of Object.keys(CASES)) {
    const shapes = JSON.parse(readFileSync(path.join(dir, `ref-${name}`, 'shapes.json'), 'utf8')) as Record<string, number[]>;
    out[name] = Object.fromEntries(OUTPUTS.map((k) => [k, { dims: shapes[k]!, data: readF32(path.join(dir, `ref-${name}`, `${k}.f32`)) }])) as Outputs;
  }
  return out;
}

const fixture = (async (): Promise<Fixture | string> => {
  const missing = pythonMissing();
  if (missing) {
    if (process.env.CI === 'true') throw new Error(`the converter tests need python3-torch and python3-onnx in CI: ${missing}`);
    return `python3-torch/python3-onnx not available (${missing})`;
  }
  const dir = tempDir('vlkit-convert-');
  await python([path.join(CONVERT, 'tiny_net.py'), '--out', dir, '--pth']);
  const conv = async (extra: string[], out: string) => {
    const r = await runCli(['convert-detector', '--prototxt', path.join(dir, 'tiny.prototxt'), '--out', path.join(dir, out), ...extra]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  };
  const [summary, roisSummary, reference] = await Promise.all([
    conv(['--caffemodel', path.join(dir, 'tiny.caffemodel')], 'tiny.onnx'),
    conv(['--caffemodel', path.join(dir, 'tiny.caffemodel'), '--rois-in'], 'tiny-rois.onnx'),
    referenceOutputs(dir),
  ]);
  return { dir, summary, roisSummary, reference };
})();

async function setup(t: { skip: (msg: string) => void }): Promise<Fixture | undefined> {
  const f = await fixture;
  if (typeof f === 'string') {
    t.skip(f);
    return undefined;
  }
  return f;
}

/** max |a - b| / max(1, |b|): absolute for probabilities, relative for pixel coordinates and large features. */
function maxErr(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!)));
  return m;
}

function compare(got: ort.InferenceSession.ReturnType, ref: Outputs, what: string) {
  for (const k of OUTPUTS) {
    const g = got[k]!;
    assert.deepEqual(g.dims, ref[k].dims, `${what}: ${k} shape`);
    const err = maxErr(g.data as Float32Array, ref[k].data);
    assert.ok(err <= 1e-4, `${what}: ${k} differs from the PyTorch reference by ${err}`);
  }
}

function feeds(img: Float32Array, h: number, w: number, rois?: Float32Array) {
  const f: Record<string, ort.Tensor> = {
    image: new ort.Tensor('float32', img, [1, 3, h, w]),
    im_info: new ort.Tensor('float32', Float32Array.of(h, w, 1), [1, 3]),
  };
  if (rois) f.rois_in = new ort.Tensor('float32', rois, [rois.length / 5, 5]);
  return f;
}

test('convert-detector: verifies the weights against the prototxt and reports the model', async (t) => {
  const f = await setup(t);
  if (!f) return;
  const s = f.summary;
  assert.deepEqual(s.inputs, ['image', 'im_info']);
  assert.deepEqual(s.outputs, ['rois', 'cls_prob', 'attr_prob', 'pool5_flat']);
  assert.equal(s.classes, 11);
  assert.equal(s.attributes, 5);
  assert.equal(s.feature_dim, 40);
  // 23 convolutions (conv1; 4 in each of res2a, res3a, res4a, res5a; 3 in the identity block res4b1; 3 RPN),
  // a BatchNorm + Scale pair after each except the RPN's (biased) ones, cls_score, fc_attr, attr_score and the class
  // Embed. bbox_pred only feeds box regression, which generate_tsv.py does not use and the contract omits.
  assert.equal(s.weight_layers, 23 + 2 * 20 + 3 + 1);
  assert.deepEqual(s.unused_weight_layers, ['bbox_pred']);
  assert.deepEqual(s.proposal, { feat_stride: 16, scales: [4, 8, 16, 32], pre_nms_top_n: 6000, post_nms_top_n: 300, nms_thresh: 0.7, min_size: 16 });
  assert.deepEqual(f.roisSummary.inputs, ['image', 'im_info', 'rois_in']);
});

test('convert-detector: ONNX outputs match the PyTorch reference on two aspect ratios', async (t) => {
  const f = await setup(t);
  if (!f) return;
  const session = await ort.InferenceSession.create(path.join(f.dir, 'tiny.onnx'));
  assert.deepEqual(session.inputNames, ['image', 'im_info']);
  assert.deepEqual(session.outputNames, [...OUTPUTS]);
  for (const name of ['wide', 'tall']) {
    const { h, w, img } = CASES[name]!;
    const got = await session.run(feeds(img, h, w));
    compare(got, f.reference[name]!, name);
    const rois = got.rois!.data as Float32Array;
    const R = got.rois!.dims[0]!;
    // Enough proposals survive min-size + NMS for the comparison to mean something; at most post_nms_top_n.
    assert.ok(R > 100 && R <= 300, `${name}: ${R} rois`);
    for (let r = 0; r < R; r++) {
      const [b, x1, y1, x2, y2] = rois.subarray(r * 5, r * 5 + 5);
      assert.equal(b, 0);
      assert.ok(x1! >= 0 && x1! <= x2! && x2! <= w - 1 && y1! >= 0 && y1! <= y2! && y2! <= h - 1, `${name}: roi ${r} outside the image`);
      // RPN_MIN_SIZE 16 at scale 1: width and height (inclusive pixels) at least 16.
      assert.ok(x2! - x1! + 1 >= 16 - 1e-3 && y2! - y1! + 1 >= 16 - 1e-3, `${name}: roi ${r} smaller than 16 px`);
    }
    const cls = got.cls_prob!.data as Float32Array;
    for (let r = 0; r < R; r++) {
      let sum = 0;
      for (let c = 0; c < 11; c++) sum += cls[r * 11 + c]!;
      assert.ok(Math.abs(sum - 1) < 1e-5);
    }
  }
  await session.release();
});

test('convert-detector --rois-in: given boxes replace the proposals, an empty rois_in keeps them', async (t) => {
  const f = await setup(t);
  if (!f) return;
  const session = await ort.InferenceSession.create(path.join(f.dir, 'tiny-rois.onnx'));
  assert.deepEqual(session.inputNames, ['image', 'im_info', 'rois_in']);
  const { h, w, img, rois: boxes } = CASES.given!;
  const given = await session.run(feeds(img, h, w, boxes));
  compare(given, f.reference.given!, 'given boxes');
  assert.deepEqual([...(given.rois!.data as Float32Array)], [...boxes!]);
  const plain = await ort.InferenceSession.create(path.join(f.dir, 'tiny.onnx'));
  const [empty, proposals] = await Promise.all([session.run(feeds(img, h, w, new Float32Array(0))), plain.run(feeds(img, h, w))]);
  for (const k of OUTPUTS) assert.deepEqual(empty[k]!.data, proposals[k]!.data, `${k} with an empty rois_in`);
  await Promise.all([session.release(), plain.release()]);
});

test('convert-detector --pth: a PyTorch-port state dict gives the same model as the caffemodel', async (t) => {
  const f = await setup(t);
  if (!f) return;
  const r = await runCli(['convert-detector', '--pth', path.join(f.dir, 'tiny.pth'), '--prototxt', path.join(f.dir, 'tiny.prototxt'), '--out', path.join(f.dir, 'tiny-pth.onnx')]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).parameters, f.summary.parameters);
  const [a, b] = await Promise.all([ort.InferenceSession.create(path.join(f.dir, 'tiny.onnx')), ort.InferenceSession.create(path.join(f.dir, 'tiny-pth.onnx'))]);
  const img = image(192, 160, 5);
  const [x, y] = await Promise.all([a.run(feeds(img, 192, 160)), b.run(feeds(img, 192, 160))]);
  for (const k of OUTPUTS) {
    assert.deepEqual(y[k]!.dims, x[k]!.dims);
    // tiny.pth stores Caffe's mean/var already divided by the BatchNorm scale factor: float rounding only.
    assert.ok(maxErr(y[k]!.data as Float32Array, x[k]!.data as Float32Array) <= 1e-4, k);
  }
  await Promise.all([a.release(), b.release()]);
});

test('convert-detector: a weight shape or layer name that disagrees with the prototxt is a clear error', async (t) => {
  const f = await setup(t);
  if (!f) return;
  const proto = readFileSync(path.join(f.dir, 'tiny.prototxt'), 'utf8');
  const cases: [string, string, RegExp][] = [
    ['shape', proto.replace('num_output: 16 kernel_size: 3 pad: 1', 'num_output: 17 kernel_size: 3 pad: 1'),
      /tiny\.caffemodel: layer "rpn_conv\/3x3" blob 0 has shape \[16, 32, 3, 3\], the prototxt implies \[17, 32, 3, 3\] \(.*bad-shape\.prototxt:\d+: layer "rpn_conv\/3x3"/],
    ['name', proto.replace('name: "fc_attr"', 'name: "fc_attribute"'),
      /tiny\.caffemodel: no weights for layer "fc_attribute"/],
  ];
  for (const [label, text, pattern] of cases) {
    assert.notEqual(text, proto, `${label}: the edit applied`);
    const file = path.join(f.dir, `bad-${label}.prototxt`);
    writeFileSync(file, text);
    const r = await runCli(['convert-detector', '--caffemodel', path.join(f.dir, 'tiny.caffemodel'), '--prototxt', file, '--out', path.join(f.dir, `bad-${label}.onnx`)]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, pattern);
  }
});

test('convert-detector: anchors are py-faster-rcnn\'s for the default 16px base, ratios 0.5/1/2, scales 8/16/32', async (t) => {
  const f = await setup(t);
  if (!f) return;
  const out = await python(['-c', `import sys; sys.path.insert(0, ${JSON.stringify(CONVERT)}); from anchors import generate_anchors; print(generate_anchors(16, [0.5, 1, 2], [8, 16, 32]).tolist())`]);
  // py-faster-rcnn's generate_anchors.py documents Shaoqing Ren's MATLAB anchors (1-based pixels), e.g. -83 -39 100 56;
  // its Python, which BUTD runs, gives the same boxes 0-based, one pixel less.
  assert.deepEqual(JSON.parse(out), [
    [-84, -40, 99, 55], [-176, -88, 191, 103], [-360, -184, 375, 199],
    [-56, -56, 71, 71], [-120, -120, 135, 135], [-248, -248, 263, 263],
    [-36, -80, 51, 95], [-80, -168, 95, 183], [-168, -344, 183, 359],
  ]);
});
