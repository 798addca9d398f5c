/**
 * Feature loading: an LXMERT-style Python loader over the TSV vs vlkit's feature store.
 *
 *   node dist/bench/feature-store.js [--images 10000] [--boxes 36] [--dim 2048] [--dir /tmp/vlkit-bench-store]
 *
 * Generates a TSV of random features (10k images × 36 boxes × 2048 floats ≈ 3.9 GB of base64 by default), converts
 * it to a store, then times: Python load_obj_tsv-style loading of the whole TSV (/usr/bin/python3 + numpy), vlkit
 * opening the store (random access ready), and vlkit reading every row of the store. Peak RSS for each. Files are
 * removed at the end. Everything is read from the page cache (files just written).
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { convertTsvToStore, openFeatureStore } from '../features/store.js';
import { encodeRow } from '../features/tsv.js';

const { values } = parseArgs({
  options: {
    images: { type: 'string', default: '10000' },
    boxes: { type: 'string', default: '36' },
    dim: { type: 'string', default: '2048' },
    dir: { type: 'string', default: '/tmp/vlkit-bench-store' },
    sweep: { type: 'string' },
  },
});

/** Child mode: open a store and read every row, in a fresh process so its peak RSS is the loader's alone. */
if (values.sweep) {
  let t = performance.now();
  const st = openFeatureStore(values.sweep);
  const openS = (performance.now() - t) / 1000;
  t = performance.now();
  let checksum = 0;
  for (let i = 0; i < st.size; i++) {
    const row = st.getAt(i);
    checksum += row.features[0]! + row.features[row.features.length - 1]!;
  }
  const sweepS = (performance.now() - t) / 1000;
  console.log(JSON.stringify({ rows: st.size, openS, sweepS, maxRssMb: process.resourceUsage().maxRSS / 1024, checksum }));
  process.exit(0);
}
const N = Number(values.images);
const B = Number(values.boxes);
const D = Number(values.dim);
const dir = values.dir!;
mkdirSync(dir, { recursive: true });
const tsv = path.join(dir, 'features.tsv');
const store = path.join(dir, 'store');

const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(0);
const secs = (t0: number) => (performance.now() - t0) / 1000;

let t0 = performance.now();
const fd = openSync(tsv, 'w');
const features = new Float32Array(B * D);
let seed = 1;
for (let i = 0; i < N; i++) {
  // Cheap pseudo-random floats: a few values change per row, enough to keep rows distinct.
  for (let k = 0; k < features.length; k += 97) features[k] = (seed = (seed * 16807) % 2147483647) / 2147483647;
  writeSync(
    fd,
    encodeRow({
      imgId: `COCO_train2014_${String(i).padStart(12, '0')}`,
      imgH: 480,
      imgW: 640,
      numBoxes: B,
      dim: D,
      boxes: new Float32Array(B * 4).fill(i % 640),
      features,
      objectsId: new Int32Array(B).fill(i % 1600),
      objectsConf: new Float32Array(B).fill(0.5),
      attrsId: new Int32Array(B).fill(i % 400),
      attrsConf: new Float32Array(B).fill(0.25),
    }),
  );
}
closeSync(fd);
console.log(`generated ${N} rows × ${B} boxes × ${D}: ${mb(statSync(tsv).size)} MiB TSV in ${secs(t0).toFixed(1)} s`);

t0 = performance.now();
await convertTsvToStore(tsv, store);
const convertS = secs(t0);
console.log(`vlkit features convert: ${convertS.toFixed(1)} s (one-time), store data.bin ${mb(statSync(path.join(store, 'data.bin')).size)} MiB`);

const py = spawnSync('/usr/bin/python3', [path.resolve('bench/lxmert_load.py'), tsv], { encoding: 'utf8', maxBuffer: 1 << 20 });
if (py.status !== 0) throw new Error(`python baseline failed: ${py.stderr}`);
const base = JSON.parse(py.stdout) as { seconds: number; rows: number; max_rss_mb: number };

const child = spawnSync(process.execPath, [new URL(import.meta.url).pathname, '--sweep', store], { encoding: 'utf8' });
if (child.status !== 0) throw new Error(`store sweep failed: ${child.stderr}`);
const mine = JSON.parse(child.stdout) as { rows: number; openS: number; sweepS: number; maxRssMb: number };
const openS = mine.openS;
const sweepS = mine.sweepS;

console.log('');
console.log('| loader | rows | seconds | vs Python | peak RSS MiB |');
console.log('| --- | ---: | ---: | ---: | ---: |');
console.log(`| Python csv.DictReader + base64 + numpy (LXMERT load_obj_tsv) | ${base.rows} | ${base.seconds.toFixed(2)} | 1x | ${base.max_rss_mb.toFixed(0)} |`);
console.log(`| vlkit openFeatureStore (index only, random access ready) | ${mine.rows} | ${openS.toFixed(3)} | ${(base.seconds / openS).toFixed(0)}x | - |`);
console.log(`| vlkit store: open + read every row (getAt) | ${mine.rows} | ${(openS + sweepS).toFixed(2)} | ${(base.seconds / (openS + sweepS)).toFixed(1)}x | ${mine.maxRssMb.toFixed(0)} |`);
rmSync(dir, { recursive: true, force: true });
