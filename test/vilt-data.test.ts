/**
 * The ViLT data path's parts against hand-checked values: ViLT's MinMaxResize sizes, patch layout and
 * normalisation of a known image, RandAugment determinism, the position-interpolation weights, the dataset-mix
 * file patterns, and clear errors for files that are not Arrow IPC files.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { InputError } from '../common/errors.js';
import { ArrowRowFile } from '../train/vilt/arrow-reader.js';
import { datasetFiles } from '../train/vilt/data.js';
import { interpWeights } from '../train/vilt/model.js';
import { pixelbertSize, transformImage, type TransformSpec } from '../train/vilt/transforms.js';
import { tempDir } from './helpers.js';

test('vilt transforms: ViLT MinMaxResize sizes, rounded down to patch multiples', () => {
  // 640×480 at 384: shorter side → 384 (scale 0.8) → 512×384, both multiples of 32.
  assert.deepEqual(pixelbertSize(640, 480, 384, 32), { width: 512, height: 384 });
  // 2000×400: 1920×384 exceeds ⌊1333/800·384⌋ = 639 → 639×127.8 → 639×128 → 608×128.
  assert.deepEqual(pixelbertSize(2000, 400, 384, 32), { width: 608, height: 128 });
  // Portrait, small patch: 300×500 at 64 → 64×106.7, over ⌊1333/800·64⌋ = 106 → 63.6×106 → 64×106 → 64×96.
  assert.deepEqual(pixelbertSize(300, 500, 64, 16), { width: 64, height: 96 });
});

test('vilt transforms: patches are channel-major per patch, normalised with the given mean/std', async () => {
  // 32×32 PNG: left half pure red, right half pure blue; `mae` evaluation resizes to 32×32 (no change) → 2×2 patches.
  const raw = Buffer.alloc(32 * 32 * 3);
  for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) raw.set(x < 16 ? [255, 0, 0] : [0, 0, 255], (y * 32 + x) * 3);
  const png = await sharp(raw, { raw: { width: 32, height: 32, channels: 3 } }).png().toBuffer();
  const spec: TransformSpec = { kind: 'mae', size: 32, patch: 16, train: false, randaug: false, mean: [0.5, 0.5, 0.5], std: [0.25, 0.5, 0.5] };
  const out = await transformImage(png, spec, 0);
  assert.deepEqual([out.gridH, out.gridW], [2, 2]);
  const P2 = 256;
  const px = (patch: number, k: number) => [0, 1, 2].map((c) => Math.round(out.patches[patch * 3 * P2 + c * P2 + k]! * 1000) / 1000);
  // Patches in row-major grid order: red, blue / red, blue. Red = ((1-.5)/.25, (0-.5)/.5, (0-.5)/.5) = (2, -1, -1).
  for (const k of [0, 17, 255]) {
    assert.deepEqual(px(0, k), [2, -1, -1]);
    assert.deepEqual(px(1, k), [-2, -1, 1]);
    assert.deepEqual(px(2, k), [2, -1, -1]);
    assert.deepEqual(px(3, k), [-2, -1, 1]);
  }
});

test('vilt transforms: RandAugment and random crops depend only on the seed', async () => {
  const img = await sharp({ create: { width: 80, height: 64, channels: 3, background: { r: 200, g: 40, b: 90 } } })
    .composite([{ input: Buffer.from('<svg width="80" height="64"><circle cx="30" cy="30" r="18" fill="#20b040"/></svg>') }])
    .jpeg()
    .toBuffer();
  const spec: TransformSpec = { kind: 'mae', size: 64, patch: 16, train: true, randaug: true, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
  const a = await transformImage(img, spec, 1234);
  const b = await transformImage(img, spec, 1234);
  assert.deepEqual([a.gridH, a.gridW], [4, 4]);
  assert.ok(Buffer.from(a.patches.buffer).equals(Buffer.from(b.patches.buffer)));
  const differs = await Promise.all([1, 2, 3, 4].map(async (s) => !Buffer.from((await transformImage(img, spec, s)).patches.buffer).equals(Buffer.from(a.patches.buffer))));
  assert.ok(differs.every(Boolean));
});

test('vilt model: position interpolation weights are bilinear with align_corners=True', () => {
  // 2×2 grid → 1×3: rows sit at y=0 (align_corners, single row), columns at x = 0, 0.5, 1.
  const w = interpWeights(2, 1, 3);
  assert.deepEqual(Array.from(w), [1, 0, 0, 0, 0.5, 0.5, 0, 0, 0, 1, 0, 0]);
  // Same grid: identity.
  assert.deepEqual(Array.from(interpWeights(2, 2, 2)), [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
});

test('vilt data: dataset mixes by ViLT file names, shards in numeric order, clear errors', () => {
  const dir = tempDir('vlkit-vilt-data-');
  for (const f of ['coco_caption_karpathy_train', 'coco_caption_karpathy_restval', 'sbu_10', 'sbu_2', 'conceptual_caption_train_0', 'vg']) {
    writeFileSync(path.join(dir, `${f}.arrow`), '');
  }
  assert.deepEqual(
    datasetFiles(dir, ['coco', 'sbu', 'vg', 'gcc'], 'train').map((f) => path.basename(f)),
    ['coco_caption_karpathy_train.arrow', 'coco_caption_karpathy_restval.arrow', 'sbu_2.arrow', 'sbu_10.arrow', 'vg.arrow', 'conceptual_caption_train_0.arrow'],
  );
  assert.throws(() => datasetFiles(dir, ['f30k'], 'train'), (e: unknown) => e instanceof InputError && /f30k_caption_karpathy_train\.arrow/.test(e.message));
  assert.throws(() => datasetFiles(dir, ['imagenet'], 'train'), /unknown dataset 'imagenet'/);
});

test('vilt reader: a file that is not Arrow IPC file format is an input error naming it', async () => {
  const dir = tempDir('vlkit-vilt-data-');
  mkdirSync(dir, { recursive: true });
  const bad = path.join(dir, 'coco_caption_karpathy_train.arrow');
  writeFileSync(bad, 'this is not an arrow file at all');
  await assert.rejects(ArrowRowFile.open(bad), (e: unknown) => e instanceof InputError && e.message.includes(bad) && /ARROW1/.test(e.message));
  await assert.rejects(ArrowRowFile.open(path.join(dir, 'missing.arrow')), (e: unknown) => e instanceof InputError && /ENOENT/.test(e.message));
});
