import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { checkDetectorContract } from '../features/contract.js';
import { repairTsv } from '../features/resume.js';
import { convertTsvToStore, openFeatureStore } from '../features/store.js';
import { encodeRow, readFeatureTsv, type FeatureRow } from '../features/tsv.js';
import { GOOD_IMAGES, runCli, tempDir } from './helpers.js';
import { writeDetector } from './onnx-models.js';

const dir = tempDir('vlkit-store-');

function row(i: number, n: number, dim: number): FeatureRow {
  const f = (len: number, k: number) => Float32Array.from({ length: len }, (_, j) => Math.fround(Math.sin(i * 131 + j * 7 + k) * 100));
  return {
    imgId: `img_${i}`,
    imgH: 100 + i,
    imgW: 200 + i,
    numBoxes: n,
    dim: n > 0 ? dim : 0,
    boxes: f(n * 4, 1),
    features: f(n * dim, 2),
    objectsId: Int32Array.from({ length: n }, (_, j) => (i * 37 + j) % 1600),
    objectsConf: f(n, 3),
    attrsId: Int32Array.from({ length: n }, (_, j) => (i + j) % 400),
    attrsConf: f(n, 4),
  };
}

const ROWS = Array.from({ length: 30 }, (_, i) => row(i, i === 7 ? 0 : 1 + (i % 5), 16));
const TSV = path.join(dir, 'f.tsv');
writeFileSync(TSV, ROWS.map(encodeRow).join(''));

function same(a: FeatureRow, b: FeatureRow): void {
  assert.equal(a.imgId, b.imgId);
  assert.deepEqual([a.imgH, a.imgW, a.numBoxes, a.dim], [b.imgH, b.imgW, b.numBoxes, b.dim]);
  for (const k of ['boxes', 'features', 'objectsId', 'objectsConf', 'attrsId', 'attrsConf'] as const) assert.deepEqual(Array.from(a[k]), Array.from(b[k]), `${a.imgId}.${k}`);
}

test('tsv: encodeRow bytes decode independently (base64 of little-endian int64/float32)', () => {
  const line = encodeRow(ROWS[3]!);
  assert.ok(line.endsWith('\r\n'));
  const f = line.slice(0, -2).split('\t');
  assert.deepEqual(f.slice(0, 3), ['img_3', '103', '203']);
  assert.equal(f[7], String(ROWS[3]!.numBoxes));
  const ids = Buffer.from(f[3]!, 'base64');
  assert.equal(ids.length, 8 * ROWS[3]!.numBoxes);
  assert.equal(ids.readBigInt64LE(8), BigInt(ROWS[3]!.objectsId[1]!));
  assert.equal(Buffer.from(f[9]!, 'base64').readFloatLE(4 * 17), ROWS[3]!.features[17]);
});

test('tsv: streaming reader with topk, and a bad row names file and line', async () => {
  const got: FeatureRow[] = [];
  for await (const r of readFeatureTsv(TSV, { topk: 5 })) got.push(r);
  assert.equal(got.length, 5);
  got.forEach((r, i) => same(r, ROWS[i]!));
  const bad = path.join(dir, 'bad.tsv');
  writeFileSync(bad, encodeRow(ROWS[0]!) + 'img_x\t1\t2\tAAAA\n');
  await assert.rejects(async () => {
    for await (const r of readFeatureTsv(bad)) void r;
  }, new RegExp(`${bad.replace(/[.]/g, '\\.')}:2: expected 10 tab-separated fields`));
});

test('store: convert round-trips every array; random access by img_id; topk', async () => {
  const store = path.join(dir, 'store');
  const r = await runCli(['features', 'convert', TSV, '--out', store]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual({ rows: JSON.parse(r.stdout).rows, dim: JSON.parse(r.stdout).dim }, { rows: 30, dim: 16 });
  const s = openFeatureStore(store);
  assert.equal(s.size, 30);
  assert.deepEqual(s.ids(), ROWS.map((x) => x.imgId));
  for (const i of [29, 0, 7, 13]) same(s.get(`img_${i}`), ROWS[i]!);
  ROWS.forEach((x, i) => same(s.getAt(i), x));
  assert.throws(() => s.get('nope'), /not in/);
  s.close();
  const top = openFeatureStore(store, { topk: 4 });
  assert.equal(top.size, 4);
  assert.equal(top.has('img_4'), false);
  top.close();
  // Convert with --topk, and re-convert over an existing store.
  await convertTsvToStore(TSV, store, { topk: 3 });
  const small = openFeatureStore(store);
  assert.equal(small.size, 3);
  small.close();
});

test('store: duplicate img_ids are refused with the line', async () => {
  const dup = path.join(dir, 'dup.tsv');
  writeFileSync(dup, encodeRow(ROWS[0]!) + encodeRow(ROWS[1]!) + encodeRow(ROWS[0]!));
  await assert.rejects(convertTsvToStore(dup, path.join(dir, 'dupstore')), /dup\.tsv:3: img_id 'img_0' already on line 1/);
});

test('resume repair: a cut-off tail is truncated, a damaged middle row is removed', async () => {
  const f = path.join(dir, 'cut.tsv');
  const whole = ROWS.slice(0, 3).map(encodeRow).join('');
  writeFileSync(f, whole + encodeRow(ROWS[3]!).slice(0, 100));
  let rep = await repairTsv(f);
  assert.deepEqual([...rep.ids], ['img_0', 'img_1', 'img_2']);
  assert.equal(readFileSync(f, 'utf8'), whole);
  writeFileSync(f, encodeRow(ROWS[0]!) + 'garbage\r\n' + encodeRow(ROWS[1]!));
  rep = await repairTsv(f);
  assert.deepEqual([...rep.ids], ['img_0', 'img_1']);
  assert.match(rep.removed[0]!, /line 2: expected 10/);
  assert.equal(readFileSync(f, 'utf8'), encodeRow(ROWS[0]!) + encodeRow(ROWS[1]!));
  truncateSync(f, 0);
  appendFileSync(f, '\0\0\0');
  rep = await repairTsv(f);
  assert.equal(readFileSync(f).length, 0);
});

test('features show: draws labelled boxes over the EXIF-oriented image', async () => {
  const img = path.join(GOOD_IMAGES, 'chelsea_exif_rot90.jpg'); // 300 wide, 451 high once oriented
  const r: FeatureRow = { ...row(1, 2, 4), imgId: 'chelsea_exif_rot90', imgH: 451, imgW: 300, boxes: Float32Array.from([10, 10, 200, 300, 50, 60, 120, 140]), objectsId: Int32Array.from([1, 0]), attrsId: Int32Array.from([0, 1]) };
  const tsv = path.join(dir, 'show.tsv');
  writeFileSync(tsv, encodeRow(ROWS[0]!) + encodeRow(r));
  const vocab = path.join(dir, 'objects_vocab.txt');
  writeFileSync(vocab, 'cat,cats\ndog\n');
  const attr = path.join(dir, 'attributes_vocab.txt');
  writeFileSync(attr, 'white\nfurry\n');
  const out = path.join(dir, 'show.png');
  const res = await runCli(['features', 'show', tsv, '--image', img, '--out', out, '--vocab', vocab, '--attr-vocab', attr, '--top', '1']);
  assert.equal(res.code, 0, res.stderr);
  assert.equal(JSON.parse(res.stdout).boxes_drawn, 1);
  const drawn = await sharp(out).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([drawn.info.width, drawn.info.height], [300, 451]);
  const orig = await sharp(img).autoOrient().raw().toBuffer();
  let changed = 0;
  for (let i = 0; i < orig.length; i++) if (orig[i] !== drawn.data[i]) changed++;
  assert.ok(changed > 500, `only ${changed} bytes changed`);
  const missing = await runCli(['features', 'show', tsv, '--image', path.join(GOOD_IMAGES, 'rocket.jpg'), '--out', out]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /no row with img_id 'rocket'/);
});

test('checkDetectorContract: a conforming model passes, a misnamed one lists the problems', async () => {
  const spec = { rois: [[0, 0, 10, 10]], clsProb: [[0.5, 0.5]], attrProb: [[0.9, 0.1]] };
  const good = writeDetector(path.join(dir, 'ok.onnx'), spec);
  const rep = await checkDetectorContract(good);
  assert.deepEqual(rep.shapes, { rois: [1, 5], cls_prob: [1, 2], attr_prob: [1, 2], pool5_flat: [1, 10] });
  assert.equal(rep.io.hasAttributes, true);
  const bad = writeDetector(path.join(dir, 'bad.onnx'), { ...spec, names: { image: 'data', pool5_flat: 'feat' } });
  await assert.rejects(checkDetectorContract(bad), (e: Error) => /no input 'image'/.test(e.message) && /no output 'pool5_flat'/.test(e.message) && /unexpected input 'data'/.test(e.message));
  const notProb = writeDetector(path.join(dir, 'np.onnx'), { ...spec, clsProb: [[2, 3]] });
  await assert.rejects(checkDetectorContract(notProb), /sums to 5/);
});
