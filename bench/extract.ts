/**
 * Extraction throughput: vlkit's pipeline (decode/resize in a worker pool, overlapped with inference) vs a
 * sequential decode → infer → select → write loop on the same model and images.
 *
 *   node dist/bench/extract.js [--images 40] [--layers 4] [--channels 32] [--workers 1]
 *
 * The model is built at bench time (test/onnx-models.ts) with a few full-resolution convolutions so that inference
 * costs about as much as decoding, as with a real detector on a GPU. Reports images/s, the fraction of wall time
 * the ONNX session is running (from session.run call to its result), and peak RSS.
 */
import { copyFileSync, mkdirSync, openSync, closeSync, writeSync, rmSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { DEFAULT_NAMES } from '../features/contract.js';
import { extractFeatures } from '../features/extract.js';
import { listImages } from '../features/inputs.js';
import { decodeImage, prepareTensor } from '../features/preprocess.js';
import { selectBoxes } from '../features/select.js';
import { encodeRow } from '../features/tsv.js';
import { GOOD_IMAGES } from '../test/helpers.js';
import { writeDetector } from '../test/onnx-models.js';

const { values } = parseArgs({
  options: {
    images: { type: 'string', default: '40' },
    layers: { type: 'string', default: '4' },
    channels: { type: 'string', default: '32' },
    workers: { type: 'string', default: '1' },
  },
});
const N = Number(values.images);
const dir = '/tmp/vlkit-bench-extract';
rmSync(dir, { recursive: true, force: true });
mkdirSync(path.join(dir, 'images'), { recursive: true });
const srcs = ['chelsea.jpg', 'rocket.jpg', 'astronaut.jpg', 'coins_cmyk.jpg'];
for (let i = 0; i < N; i++) copyFileSync(path.join(GOOD_IMAGES, srcs[i % srcs.length]!), path.join(dir, 'images', `img${String(i).padStart(4, '0')}.jpg`));
const R = 100;
const model = writeDetector(path.join(dir, 'bench.onnx'), {
  rois: Array.from({ length: R }, (_, i) => [(i % 10) * 60, Math.floor(i / 10) * 45, (i % 10) * 60 + 90, Math.floor(i / 10) * 45 + 80]),
  clsProb: Array.from({ length: R }, (_, i) => Array.from({ length: 101 }, (_, c) => (c === 1 + (i % 100) ? 0.5 : 0.5 / 100))),
  heavy: { layers: Number(values.layers), channels: Number(values.channels) },
});
const select = { confThresh: 0.2, minBoxes: 36, maxBoxes: 36 };

// Sequential baseline: one image at a time, decode and resize on the main thread, then infer, then write.
const session = await ort.InferenceSession.create(model, { executionProviders: ['cpu'], graphOptimizationLevel: 'all' });
const items = await listImages([path.join(dir, 'images')], 'name');
const seqOut = openSync(path.join(dir, 'seq.tsv'), 'w');
let busy = 0;
let t0 = performance.now();
for (const item of items) {
  const p = prepareTensor(await decodeImage(item.path));
  const feeds = {
    image: new ort.Tensor('float32', p.tensor, [1, 3, p.plan.outH, p.plan.outW]),
    im_info: new ort.Tensor('float32', Float32Array.from([p.plan.outH, p.plan.outW, p.plan.scale]), [1, 3]),
  };
  const s = performance.now();
  const out = await session.run(feeds);
  busy += performance.now() - s;
  const sel = selectBoxes(out.rois!.data as Float32Array, out.cls_prob!.data as Float32Array, undefined, p.plan.scale, select);
  const D = out.pool5_flat!.dims[1]!;
  const feats = new Float32Array(sel.keep.length * D);
  sel.keep.forEach((k, i) => feats.set((out.pool5_flat!.data as Float32Array).subarray(k * D, (k + 1) * D), i * D));
  writeSync(seqOut, encodeRow({ imgId: item.id, imgH: p.height, imgW: p.width, numBoxes: sel.keep.length, dim: D, features: feats, ...sel }));
}
closeSync(seqOut);
const seqWall = (performance.now() - t0) / 1000;
const seqBusy = busy / 1000;
await session.release();

t0 = performance.now();
const sum = await extractFeatures({
  model,
  images: [path.join(dir, 'images')],
  out: path.join(dir, 'pipe.tsv'),
  select,
  ep: 'cpu',
  batch: 1,
  workers: Number(values.workers),
  idFrom: 'name',
  names: DEFAULT_NAMES,
  logFormat: 'none',
});

console.log(`${N} images (COCO-like 300–640 px JPEGs → 600×~900 tensors), model: ${values.layers} convs × ${values.channels} ch + ${R} proposals, CPU EP, 2-core machine`);
console.log('| loop | images/s | session busy | wall s |');
console.log('| --- | ---: | ---: | ---: |');
console.log(`| sequential decode → infer → write | ${(N / seqWall).toFixed(2)} | ${((100 * seqBusy) / seqWall).toFixed(1)}% | ${seqWall.toFixed(1)} |`);
console.log(`| vlkit extract pipeline (${values.workers} decode worker) | ${(sum.written / sum.wallS).toFixed(2)} | ${((100 * sum.sessionBusyS) / sum.wallS).toFixed(1)}% | ${sum.wallS.toFixed(1)} |`);
console.log(`speed-up ${(sum.written / sum.wallS / (N / seqWall)).toFixed(2)}x; peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB (both loops, one process)`);
rmSync(dir, { recursive: true, force: true });
