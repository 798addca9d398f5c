/**
 * The ViLT loader's random parts on the synthetic shapes set, against values recomputed by hand from the images:
 * `max_image_len` patch subsets (counts, which patches, their position weights), ITM false images drawn from the whole
 * split (exactly half positives, never the example's own image) and retrieval negatives from other images.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Rng } from '../train/engine/index.js';
import { transformPool, ViltData, type DataOptions, type ImageBatch } from '../train/vilt/data.js';
import { interpWeights } from '../train/vilt/model.js';
import { pixelbertSize } from '../train/vilt/transforms.js';
import { tempDir } from './helpers.js';
import { buildSynthetic, type SynthDataset } from './vilt-synthetic.js';

const pool = transformPool(2);
let ds: SynthDataset;
const P = 16;
const PP = 3 * P * P;

before(async () => {
  ds = await buildSynthetic(path.join(tempDir('vlkit-vilt-batches-'), 'data'), 40, 4, 4, 3);
});
after(() => pool.close());

function open(over: Omit<Partial<DataOptions>, 'needs'> & { needs?: Partial<DataOptions['needs']> } = {}): Promise<ViltData> {
  const { needs, ...rest } = over;
  return ViltData.open(
    {
      root: ds.arrow,
      datasets: ['coco'],
      split: 'train',
      batchSize: 8,
      maxTextLen: 16,
      spec: { kind: 'pixelbert', size: 64, patch: P, train: false, randaug: false, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
      posGrid: 4,
      needs: { mlm: false, wholeWord: false, mlmProb: 0.15, itm: false, maeRatio: 0, vqaLabels: 0, irtrNegatives: 0, ...needs },
      workers: 2,
      prefetch: 2,
      seed: 0,
      ...rest,
    },
    pool,
  );
}

/** Patch `k` of image slot `i`. */
const patchOf = (img: ImageBatch, i: number, k: number) => img.patches.subarray((i * img.n + k) * PP, (i * img.n + k + 1) * PP);
const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((v, j) => v === b[j]);

test('vilt max_image_len: images over the limit keep a sorted random subset of that many patches, positions travel with them', async () => {
  const all = await open();
  const cut = await open({ maxImageLen: 18 });
  try {
    // One caption per image: examples 0, 2, 4, … are rows 0, 1, 2, …
    const exs = [0, 1, 2, 3, 4, 5, 6, 7].map((row) => ({ file: 0, row, j: 0 }));
    const grids = exs.map((e) => pixelbertSize(ds.train[e.row]!.width, ds.train[e.row]!.height, 64, P));
    const counts = grids.map((g) => (g.width / P) * (g.height / P));
    // The three synthetic sizes: 64×64 → 4×4, 80×64 → 5×4, 64×96 → 4×6 patches; this batch has all three.
    assert.deepEqual([...new Set(counts)].sort(), [16, 20, 24]);
    const full = (await all.build(exs, null, Rng.from(1, 'x'))).image;
    const a = (await cut.build(exs, null, Rng.from(1, 'x'))).image;
    const b = (await cut.build(exs, null, Rng.from(2, 'x'))).image;
    const again = (await cut.build(exs, null, Rng.from(1, 'x'))).image;
    assert.equal(full.n, 24); // all patches: the largest image's 24
    assert.equal(a.n, 18);
    assert.ok(same(a.patches, again.patches) && same(a.interp, again.interp), 'same generator, same subset');
    let differs = false;
    exs.forEach((_, i) => {
      const gw = grids[i]!.width / P;
      const gh = grids[i]!.height / P;
      const w = interpWeights(4, gh, gw);
      const kept = [...a.mask.subarray(i * 18, (i + 1) * 18)].filter((m) => m === 1).length;
      assert.equal(kept, Math.min(counts[i]!, 18), `image ${i}: ${counts[i]} patches`);
      // Which source patch each kept slot holds: the one of the full batch with the same pixels; its position
      // weights must be that patch's row of the interpolation matrix, and the slots must be in raster order.
      const src: number[] = [];
      for (let k = 0; k < kept; k++) {
        const s = [...Array(counts[i]).keys()].filter((p) => same(patchOf(full, i, p), patchOf(a, i, k)));
        assert.ok(s.length >= 1, `image ${i} slot ${k} holds one of its patches`);
        // Flat background patches repeat; the position row tells them apart.
        const p = s.find((q) => same(a.interp.subarray((i * 18 + k) * 16, (i * 18 + k + 1) * 16), w.subarray(q * 16, (q + 1) * 16)));
        assert.ok(p !== undefined, `image ${i} slot ${k}: position weights of its patch`);
        src.push(p);
      }
      assert.deepEqual(src, [...src].sort((x, y) => x - y));
      assert.equal(new Set(src).size, kept);
      if (counts[i]! <= 18) assert.deepEqual(src, [...Array(counts[i]).keys()]);
      const bKept = [...Array(18).keys()].filter((k) => b.mask[i * 18 + k] === 1);
      if (counts[i]! > 18 && bKept.some((k) => !same(patchOf(a, i, k), patchOf(b, i, k)))) differs = true;
    });
    assert.ok(differs, 'another generator draws other subsets');
  } finally {
    await all.close();
    await cut.close();
  }
});

test('vilt ITM: half the batch keeps its image, the rest get a false image drawn from the whole split', async () => {
  const d = await open({ needs: { itm: true } });
  try {
    // Every training image decoded once (no augmentation): the false images must be among them, never the own one.
    const rows = ds.train.length;
    const own = await d.evalImages(Array.from({ length: rows }, (_, row) => ({ file: 0, row, j: 0 })));
    const which = (img: ImageBatch, i: number) =>
      [...Array(rows).keys()].filter((r) => [...Array(img.n).keys()].every((k) => img.mask[i * img.n + k] === 0 || same(patchOf(img, i, k), patchOf(own, r, k))));
    let outside = 0;
    for (let start = 0; start < 32; start += 8) {
      const exs = Array.from({ length: 8 }, (_, i) => ({ file: 0, row: start + i, j: 0 }));
      const batch = await d.build(exs, null, Rng.from(5, 'itm', start));
      const { labels, image } = batch.itm!;
      assert.equal(labels.reduce((s, v) => s + v, 0), 4);
      exs.forEach((e, i) => {
        const m = which(image, i);
        assert.equal(m.length, 1, `ITM image ${i} is exactly one training image`);
        if (labels[i] === 1) assert.equal(m[0], e.row);
        else {
          assert.notEqual(m[0], e.row);
          if (m[0]! < start || m[0]! >= start + 8) outside++;
        }
      });
      const again = await d.build(exs, null, Rng.from(5, 'itm', start));
      assert.deepEqual(again.itm!.labels, labels);
      assert.ok(same(again.itm!.image.patches, image.patches));
    }
    // 16 false images over 40 images: nearly all come from outside their batch of 8 (impossible before).
    assert.ok(outside >= 8, `${outside} of 16 false images from outside the batch`);
  } finally {
    await d.close();
  }
});

test('vilt retrieval negatives: draw_false_text captions of other images from the whole split, even for a batch of one', async () => {
  const d = await open({ needs: { irtrNegatives: 5 } });
  try {
    const ex = { file: 0, row: 3, j: 1 };
    const batch = await d.build([ex], null, Rng.from(9, 'irtr'));
    assert.equal(batch.irtrNeg!.k, 5);
    const t = batch.irtrNeg!.text.t;
    const ownIds = d.encodeTexts([0, 1].map((j) => d.text({ ...ex, j })));
    for (let c = 0; c < 5; c++) {
      const ids = batch.irtrNeg!.text.ids.subarray(c * t, (c + 1) * t);
      for (let j = 0; j < 2; j++) assert.ok(!same(new Float32Array(ids), new Float32Array(ownIds.ids.subarray(j * t, (j + 1) * t))), `negative ${c} is not a caption of row 3`);
    }
  } finally {
    await d.close();
  }
});
