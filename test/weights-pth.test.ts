import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import {
  floatToBfloat16,
  floatToHalf,
  halfToFloat,
  loadTorch,
  PyObject,
  readSafetensors,
  readStateDict,
  savePth,
  saveSafetensors,
  stripPrefix,
  type Tensor,
} from '../train/weights/index.js';
import { bytesOf } from '../train/weights/tensor.js';
import { ZipReader } from '../train/weights/zip.js';
import { REPO, tempDir } from './helpers.js';

const PYTHON = '/usr/bin/python3';

/** What the TypeScript side writes for torch.load to check; every value hand-picked. */
function tsTensors(): Map<string, Tensor> {
  const big = new Float32Array(64 * 33);
  for (let i = 0; i < big.length; i++) big[i] = Math.sin(i) * 100;
  return new Map<string, Tensor>([
    ['w', { dtype: 'float32', shape: [2, 3], data: Float32Array.of(0.5, -1, 3.25, 1e-8, -0, 1e30) }],
    ['h', { dtype: 'float16', shape: [4], data: Uint16Array.from([1.5, -2, 65504, 0.0001], floatToHalf) }],
    ['bf', { dtype: 'bfloat16', shape: [3], data: Uint16Array.from([1, -3.5, 0.15625], floatToBfloat16) }],
    ['ids', { dtype: 'int64', shape: [3], data: BigInt64Array.of(-(2n ** 62n), 5n, 2n ** 53n + 1n) }],
    ['i32', { dtype: 'int32', shape: [2, 1], data: Int32Array.of(-7, 2147483647) }],
    ['u8', { dtype: 'uint8', shape: [2], data: Uint8Array.of(0, 255) }],
    ['mask', { dtype: 'bool', shape: [3], data: Uint8Array.of(1, 0, 1) }],
    ['scalar', { dtype: 'float32', shape: [], data: Float32Array.of(7.5) }],
    ['empty', { dtype: 'float32', shape: [0, 4], data: new Float32Array(0) }],
    ['big.weight', { dtype: 'float32', shape: [64, 33], data: big }],
  ]);
}

function b64(t: Tensor): string {
  return Buffer.from(bytesOf(t.data)).toString('base64');
}

interface PyResult {
  torch: string;
  ts_checks: { file: string; values: Record<string, unknown>; metadata?: Record<string, string> }[];
  errors: string[];
}

/**
 * One Python process for the whole file (importing torch costs seconds): it checks the TS-written files and writes
 * the reference checkpoints. Resolves to a skip reason when python3-torch is absent outside CI.
 */
const reference = (async (): Promise<{ dir: string; py: PyResult } | string> => {
  const dir = tempDir('vlkit-pth-');
  const tensors = tsTensors();
  await savePth(path.join(dir, 'ts.pth'), tensors);
  await saveSafetensors(path.join(dir, 'ts.safetensors'), tensors, { source: 'vlkit' });
  const expect = [...tensors].map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape, data: b64(t) }));
  writeFileSync(path.join(dir, 'ts-expect.json'), JSON.stringify(expect));
  const run = spawnSync(PYTHON, [path.join(REPO, 'test/py/torch_ref.py'), dir], { encoding: 'utf8', timeout: 120_000 });
  if (run.error || run.status !== 0) {
    const why = run.error ? String(run.error) : run.stderr.trim().split('\n').pop();
    if (process.env.CI === 'true') throw new Error(`python3-torch is required in CI (apt-get install python3-torch): ${why}`);
    if (run.error || /No module named 'torch'/.test(run.stderr)) return `needs ${PYTHON} with Debian python3-torch (${why})`;
    throw new Error(`test/py/torch_ref.py failed: ${run.stderr}`);
  }
  return { dir, py: JSON.parse(run.stdout) as PyResult };
})();

async function withTorch(t: { skip: (msg: string) => void }): Promise<{ dir: string; py: PyResult } | undefined> {
  const ref = await reference;
  if (typeof ref === 'string') {
    t.skip(ref);
    return undefined;
  }
  return ref;
}

interface Manifest {
  tensors: Record<string, { dtype: string; shape: number[]; data: string; float32?: string }>;
  lightning: { epoch: number; global_step: number; big: number; huge: string; exp_avg: string };
}

function manifest(dir: string): Manifest {
  return JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Manifest;
}

function assertMatchesManifest(file: string, m: Manifest): void {
  const sd = readStateDict(file);
  assert.deepEqual([...sd.keys()], Object.keys(m.tensors), 'keys in saved order');
  for (const [name, want] of Object.entries(m.tensors)) {
    const t = sd.get(name)!;
    assert.equal(t.dtype, want.dtype, name);
    assert.deepEqual(t.shape, want.shape, name);
    assert.equal(b64(t), want.data, `${name}: every value, in row-major order`);
  }
  const wide = readStateDict(file, { halfToFloat32: true });
  for (const [name, want] of Object.entries(m.tensors)) {
    if (!want.float32) continue;
    assert.equal(wide.get(name)!.dtype, 'float32');
    assert.equal(b64(wide.get(name)!), want.float32, `${name} widened like torch's .float()`);
  }
}

test('weights: pure-TS round trip of every dtype through .pth and safetensors', async () => {
  const dir = tempDir();
  const tensors = tsTensors();
  await savePth(path.join(dir, 'a.pth'), tensors);
  const back = readStateDict(path.join(dir, 'a.pth'));
  assert.deepEqual([...back.keys()], [...tensors.keys()]);
  for (const [name, t] of tensors) {
    const b = back.get(name)!;
    assert.equal(b.dtype, t.dtype, name);
    assert.deepEqual(b.shape, t.shape, name);
    assert.deepEqual(b.data, t.data, name);
  }
  assert.deepEqual([...back.get('ids')!.data], [-(2n ** 62n), 5n, 2n ** 53n + 1n]);
  // torch's layout: STORED entries under one folder, storage data on 64-byte boundaries.
  const zip = new ZipReader(path.join(dir, 'a.pth'));
  try {
    assert.deepEqual(zip.names.slice(0, 2), ['archive/data.pkl', 'archive/data/0']);
    const fd = readFileSync(path.join(dir, 'a.pth'));
    for (const e of zip.entries.values()) {
      assert.equal(e.method, 0);
      const start = e.localHeaderOffset + 30 + fd.readUInt16LE(e.localHeaderOffset + 26) + fd.readUInt16LE(e.localHeaderOffset + 28);
      assert.equal(start % 64, 0, `${e.name} data aligned`);
    }
  } finally {
    zip.close();
  }

  await saveSafetensors(path.join(dir, 'a.safetensors'), tensors, { note: 'x' });
  const st = readSafetensors(path.join(dir, 'a.safetensors'));
  assert.deepEqual(st.metadata, { note: 'x' });
  for (const [name, t] of tensors) assert.deepEqual(st.tensors.get(name), t, name);
  const wide = readSafetensors(path.join(dir, 'a.safetensors'), { halfToFloat32: true }).tensors;
  assert.deepEqual([...wide.get('h')!.data], [1.5, -2, 65504, halfToFloat(floatToHalf(0.0001))]);
  assert.deepEqual([...wide.get('bf')!.data], [1, -3.5, 0.15625]);
});

test('weights: half/bfloat16 conversions round to nearest even', () => {
  assert.equal(floatToHalf(1 + 2 ** -11), 0x3c00, 'tie goes to even');
  assert.equal(floatToHalf(1 + 3 * 2 ** -11), 0x3c02);
  assert.equal(floatToHalf(65520), 0x7c00, 'overflow to inf');
  assert.equal(floatToHalf(2 ** -24), 0x0001, 'smallest subnormal');
  assert.equal(floatToHalf(-0), 0x8000);
  assert.equal(halfToFloat(0x7bff), 65504);
  assert.ok(Number.isNaN(halfToFloat(0x7e00)));
  assert.equal(floatToBfloat16(1 + 2 ** -8), 0x3f80, 'tie to even');
  assert.equal(floatToBfloat16(1 + 3 * 2 ** -8), 0x3f82);
});

test('weights: clear errors for non-checkpoints, truncation and missing state dicts', async () => {
  const dir = tempDir();
  writeFileSync(path.join(dir, 'junk.pth'), 'hello world');
  assert.throws(() => loadTorch(path.join(dir, 'junk.pth')), /junk\.pth: not a PyTorch checkpoint/);
  const tar = Buffer.alloc(1024);
  tar.write('ustar', 257);
  writeFileSync(path.join(dir, 'old.tar'), tar);
  assert.throws(() => loadTorch(path.join(dir, 'old.tar')), /old\.tar: tar-based .* re-save/);
  await savePth(path.join(dir, 'ok.pth'), tsTensors());
  const whole = readFileSync(path.join(dir, 'ok.pth'));
  writeFileSync(path.join(dir, 'cut.pth'), whole.subarray(0, whole.length - 300));
  assert.throws(() => loadTorch(path.join(dir, 'cut.pth')), /cut\.pth: not a zip archive|cut\.pth: .*truncated|cut\.pth: bad/);
  const flipped = Buffer.from(whole);
  flipped[200] = flipped[200]! ^ 0xff; // inside data.pkl
  writeFileSync(path.join(dir, 'flip.pth'), flipped);
  assert.throws(() => loadTorch(path.join(dir, 'flip.pth')), /flip\.pth: zip entry 'archive\/data\.pkl' is corrupt/);
  // A flipped storage byte passes unless asked for (as in torch), and is caught with verifyCrc.
  const zip = new ZipReader(path.join(dir, 'ok.pth'));
  const e = zip.entries.get('archive/data/0')!;
  zip.close();
  const storageFlip = Buffer.from(whole);
  const at = e.localHeaderOffset + 30 + whole.readUInt16LE(e.localHeaderOffset + 26) + whole.readUInt16LE(e.localHeaderOffset + 28);
  storageFlip[at] = storageFlip[at]! ^ 0x01;
  writeFileSync(path.join(dir, 'flip0.pth'), storageFlip);
  assert.notEqual(readStateDict(path.join(dir, 'flip0.pth')).get('w')!.data[0], 0.5);
  assert.throws(() => readStateDict(path.join(dir, 'flip0.pth'), { verifyCrc: true }), /flip0\.pth: zip entry 'archive\/data\/0' is corrupt/);
  assert.throws(() => readStateDict(path.join(dir, 'ok.pth'), { key: 'model' }), /ok\.pth: key 'model' not found \(top-level keys: w, h, bf/);
  assert.throws(() => stripPrefix(new Map([['module.a', 1], ['a', 2]]), 'module.'), /two entries named 'a'/);
});

test('weights: torch 1.13 zip checkpoint: every dtype, strided, shared storage, 0-d, empty, Parameter', async (t) => {
  const ref = await withTorch(t);
  if (!ref) return;
  const m = manifest(ref.dir);
  assertMatchesManifest(path.join(ref.dir, 'ref.pth'), m);
  const sd = readStateDict(path.join(ref.dir, 'ref.pth'));
  // Layout as torch recorded it, hand-derived from the views in torch_ref.py.
  const layout = (k: string) => [sd.get(k)!.strides, sd.get(k)!.storageOffset];
  assert.deepEqual(layout('transposed'), [[1, 10], 0]);
  assert.deepEqual(layout('sliced'), [[20, 3], 12]);
  assert.deepEqual(layout('row_view'), [[1], 40]);
  assert.deepEqual(layout('expanded'), [[0, 1], 0]);
  assert.deepEqual([...sd.get('sliced')!.data], [12, 15, 18, 32, 35, 38, 52, 55, 58]);
  assert.deepEqual([...sd.get('expanded')!.data], [1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3]);
  assert.deepEqual([...sd.get('i64')!.data], [-(2n ** 62n), 2n ** 53n + 1n, -1n, 0n]);
  assert.deepEqual(sd.get('scalar')!.shape, []);
  assert.deepEqual([...sd.get('scalar')!.data], [2.5]);
  assert.deepEqual(sd.get('empty')!.shape, [0, 3]);
  assert.equal(sd.get('empty')!.data.length, 0);
  const bias = [...sd.get('linear.bias')!.data] as number[];
  assert.deepEqual([bias[0], bias[1], Number.isNaN(bias[2]), Object.is(bias[3], -0)], [Infinity, -Infinity, true, true]);
});

test('weights: legacy (pre-1.6) checkpoint reads the same as the zip one', async (t) => {
  const ref = await withTorch(t);
  if (!ref) return;
  assertMatchesManifest(path.join(ref.dir, 'ref-legacy.pth'), manifest(ref.dir));
});

test('weights: nested {model: sd}, DataParallel prefixes, Lightning .ckpt with optimizer and hyper_parameters', async (t) => {
  const ref = await withTorch(t);
  if (!ref) return;
  const m = manifest(ref.dir);
  const small = ['linear.weight', 'linear.bias', 'mask'];
  const nested = readStateDict(path.join(ref.dir, 'nested.pth'));
  assert.deepEqual([...nested.keys()], small);
  assert.equal(b64(nested.get('linear.weight')!), m.tensors['linear.weight']!.data);
  const dp = readStateDict(path.join(ref.dir, 'dataparallel.pth'));
  assert.deepEqual([...dp.keys()], small.map((k) => `module.${k}`));
  assert.deepEqual([...stripPrefix(dp, 'module.').keys()], small);

  const ckptPath = path.join(ref.dir, 'lightning.ckpt');
  const sd = readStateDict(ckptPath);
  assert.deepEqual([...sd.keys()], small);
  assert.equal(b64(sd.get('mask')!), m.tensors.mask!.data);
  const root = loadTorch(ckptPath) as Map<string, unknown>;
  assert.equal(root.get('epoch'), m.lightning.epoch);
  assert.equal(root.get('global_step'), m.lightning.global_step);
  const hp = root.get('hyper_parameters') as Map<string, unknown>;
  assert.equal(hp.get('big'), m.lightning.big, 'negative LONG1');
  assert.equal(hp.get('huge'), BigInt(m.lightning.huge));
  assert.deepEqual(hp.get('blob'), Uint8Array.of(0, 255, 0x61, 0x62));
  assert.equal(hp.get('text'), 'café');
  assert.equal(hp.get('none'), null);
  assert.deepEqual((hp.get('config') as Map<string, unknown>).get('betas'), [0.9, 0.98]);
  const ns = hp.get('ns') as PyObject;
  assert.ok(ns instanceof PyObject && ns.cls === 'argparse.Namespace');
  assert.deepEqual(ns.state, new Map<string, unknown>([['seed', 1], ['name', 'vilt']]));
  const opt = (root.get('optimizer_states') as Map<string, unknown>[])[0]!;
  const expAvg = ((opt.get('state') as Map<number, Map<string, unknown>>).get(0)!).get('exp_avg') as Tensor;
  assert.equal(b64(expAvg), m.lightning.exp_avg);
});

test('weights: torch.load reads what savePth wrote; Python parses our safetensors', async (t) => {
  const ref = await withTorch(t);
  if (!ref) return;
  assert.deepEqual(ref.py.errors, []);
  const pth = ref.py.ts_checks.find((c) => c.file === 'ts.pth')!.values;
  // torch's own decoding of the bits we wrote
  assert.deepEqual(pth.w, [[0.5, -1, 3.25], [Math.fround(1e-8), -0, Math.fround(1e30)]]);
  assert.deepEqual(pth.h, [1.5, -2, 65504, halfToFloat(floatToHalf(0.0001))]);
  assert.ok(Math.abs((pth.h as number[])[3]! - 0.0001) < 1e-7);
  assert.deepEqual(pth.bf, [1, -3.5, 0.15625]);
  assert.deepEqual(pth.ids, [-(2 ** 62), 5, 2 ** 53 + 1].map(Number));
  assert.deepEqual(pth.i32, [[-7], [2147483647]]);
  assert.deepEqual(pth.mask, [true, false, true]);
  assert.equal(pth.scalar, 7.5);
  assert.deepEqual(pth.empty, []);
  const st = ref.py.ts_checks.find((c) => c.file === 'ts.safetensors')!;
  assert.deepEqual(st.metadata, { source: 'vlkit' });
  assert.deepEqual(st.values.u8, [0, 255]);
});

test('weights: safetensors written by hand in Python', async (t) => {
  const ref = await withTorch(t);
  if (!ref) return;
  const m = manifest(ref.dir);
  const st = readSafetensors(path.join(ref.dir, 'ref.safetensors'));
  assert.deepEqual(st.metadata, { format: 'pt' });
  assert.deepEqual([...st.tensors.keys()], ['linear.weight', 'f16', 'bf16', 'i64', 'mask', 'scalar', 'empty', 'transposed']);
  for (const [name, tensor] of st.tensors) {
    assert.equal(tensor.dtype, m.tensors[name]!.dtype, name);
    assert.deepEqual(tensor.shape, m.tensors[name]!.shape, name);
    assert.equal(b64(tensor), m.tensors[name]!.data, name);
  }
});
