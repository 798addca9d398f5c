import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Field, FixedSizeList, Float32, Table, tableToIPC, vectorFromArray } from 'apache-arrow';
import { InputError } from '../common/errors.js';
import { parseNpy } from '../eval/npy.js';
import { evaluateRetrievalFiles, retrievalRecall } from '../eval/retrieval.js';
import { runCli, tempDir } from './helpers.js';

/** A .npy file as numpy writes it (v1 header padded to a multiple of 64 bytes, or v2/v3 with a u32 length). */
function npyBytes(dtype: '<f4' | '<f8' | '<i8' | '>f4', shape: number[], values: number[], opts: { version?: 1 | 2 | 3; fortran?: boolean } = {}): Buffer {
  const version = opts.version ?? 1;
  const dict = `{'descr': '${dtype}', 'fortran_order': ${opts.fortran ? 'True' : 'False'}, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const pre = version === 1 ? 10 : 12;
  let header = dict + ' '.repeat(64 - ((pre + dict.length + 1) % 64)) + '\n';
  if (header.length + pre > 64 * 1000) header = dict + '\n';
  const head = Buffer.alloc(pre);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]).copy(head);
  if (version === 1) head.writeUInt16LE(header.length, 8);
  else head.writeUInt32LE(header.length, 8);
  const size = dtype.endsWith('8') ? 8 : 4;
  const data = Buffer.alloc(values.length * size);
  values.forEach((v, i) => {
    if (dtype === '<f4') data.writeFloatLE(v, i * 4);
    else if (dtype === '>f4') data.writeFloatBE(v, i * 4);
    else if (dtype === '<f8') data.writeDoubleLE(v, i * 8);
    else data.writeBigInt64LE(BigInt(v), i * 8);
  });
  return Buffer.concat([head, Buffer.from(header, 'latin1'), data]);
}

// 3 images × 6 texts, texts 2j and 2j+1 describe image j. Hand-checked:
//  TR: image 0's best text is t0 (its own) → hit@1; image 1's best is t0 (image 0's), t2 is in its top 5; image 2
//  ties t0..t3 at 0.5 (lower index first), its own t4 comes 5th → tr = 1/3 @1, 1 @5 and @10.
//  IR: only t0's best image is its own → ir@1 = 1/6; with 3 images every text finds its image in the top 5.
const SCORES = [
  [0.9, 0.1, 0.8, 0.2, 0.3, 0.4],
  [0.7, 0.6, 0.5, 0.1, 0.2, 0.3],
  [0.5, 0.5, 0.5, 0.5, 0.1, 0.0],
];

test('retrieval: hand-checked recall on a 3×6 matrix (ViLT counting, ties to the lower index)', () => {
  const m = retrievalRecall({ rows: 3, cols: 6, data: Float64Array.from(SCORES.flat()), integer: false }, { imageIds: [0, 1, 2], textImageIds: [0, 0, 1, 1, 2, 2] });
  assert.deepEqual(m, { ir_r1: 1 / 6, ir_r5: 1, ir_r10: 1, tr_r1: 1 / 3, tr_r5: 1, tr_r10: 1, numImages: 3, numTexts: 6 });
});

test('retrieval: matches a brute-force full sort on a random 40×200 matrix, from .npy and Arrow', () => {
  let seed = 42;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const rows = 40;
  const cols = 200;
  const data = Array.from({ length: rows * cols }, () => Math.fround(Math.round(rnd() * 50) / 50)); // many ties
  const tiids = Array.from({ length: cols }, (_, j) => Math.floor(j / 5));
  const recall = (q: number, n: number, score: (q: number, c: number) => number, hit: (q: number, c: number) => boolean, k: number) => {
    let hits = 0;
    for (let a = 0; a < q; a++) {
      const order = Array.from({ length: n }, (_, c) => c).sort((x, y) => score(a, y) - score(a, x) || x - y);
      if (order.slice(0, k).some((c) => hit(a, c))) hits++;
    }
    return hits / q;
  };
  const tr = (k: number) => recall(rows, cols, (i, j) => data[i * cols + j]!, (i, j) => tiids[j] === i, k);
  const ir = (k: number) => recall(cols, rows, (j, i) => data[i * cols + j]!, (j, i) => tiids[j] === i, k);
  const expected = { ir_r1: ir(1), ir_r5: ir(5), ir_r10: ir(10), tr_r1: tr(1), tr_r5: tr(5), tr_r10: tr(10), numImages: rows, numTexts: cols };
  const dir = tempDir();
  const npy = path.join(dir, 's.npy');
  writeFileSync(npy, npyBytes('<f4', [rows, cols], data));
  const gt = path.join(dir, 'gt.json');
  writeFileSync(gt, JSON.stringify({ captions_per_image: 5 }));
  assert.deepEqual(evaluateRetrievalFiles(npy, gt), expected);
  // Arrow: one fixed-size-list<float32>[200] row per image.
  const type = new FixedSizeList(cols, new Field('item', new Float32()));
  const vec = vectorFromArray(Array.from({ length: rows }, (_, i) => data.slice(i * cols, (i + 1) * cols)), type);
  const arrow = path.join(dir, 's.arrow');
  writeFileSync(arrow, tableToIPC(new Table({ scores: vec }), 'file'));
  assert.deepEqual(evaluateRetrievalFiles(arrow, gt), expected);
  // Explicit id lists and the transposed layout give the same numbers.
  const gt2 = path.join(dir, 'gt2.json');
  writeFileSync(gt2, JSON.stringify({ image_ids: Array.from({ length: rows }, (_, i) => `img${i}`), text_image_ids: tiids.map((i) => `img${i}`) }));
  const t = Array.from({ length: cols * rows }, (_, k) => data[(k % rows) * cols + Math.floor(k / rows)]!);
  const npyT = path.join(dir, 't.npy');
  writeFileSync(npyT, npyBytes('<f8', [cols, rows], t, { version: 2 }));
  assert.deepEqual(evaluateRetrievalFiles(npyT, gt2, 'texts'), expected);
});

test('npy: v1/v2/v3 headers, f4/f8/i8; Fortran order, big-endian and truncation are refused', () => {
  assert.deepEqual(Array.from(parseNpy(npyBytes('<f8', [2], [1.5, -2]), 'a.npy').data), [1.5, -2]);
  assert.deepEqual(parseNpy(npyBytes('<i8', [1, 2], [3, -4], { version: 3 }), 'a.npy').shape, [1, 2]);
  assert.throws(() => parseNpy(npyBytes('<f4', [2, 2], [1, 2, 3, 4], { fortran: true }), 'f.npy'), /f\.npy: .*Fortran order/);
  assert.throws(() => parseNpy(npyBytes('>f4', [1], [1]), 'b.npy'), (e: unknown) => e instanceof InputError && /dtype '>f4'/.test(e.message));
  assert.throws(() => parseNpy(npyBytes('<f8', [4], [1, 2, 3, 4]).subarray(0, 80), 't.npy'), /truncated/);
  assert.throws(() => parseNpy(Buffer.from('hello world!'), 'x.npy'), /not a \.npy file/);
});

test('retrieval: CLI --json, and a gt/matrix size mismatch is an input error naming the file', async () => {
  const dir = tempDir();
  const s = path.join(dir, 's.json');
  writeFileSync(s, JSON.stringify(SCORES));
  const gt = path.join(dir, 'gt.json');
  writeFileSync(gt, JSON.stringify({ captions_per_image: 2 }));
  const r = await runCli(['eval', 'retrieval', '--scores', s, '--gt', gt, '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout) as { tr_r1: number }).tr_r1, 1 / 3);
  writeFileSync(gt, JSON.stringify({ captions_per_image: 5 }));
  const bad = await runCli(['eval', 'retrieval', '--scores', s, '--gt', gt]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /gt\.json: captions_per_image 5 × 3 images ≠ 6 texts/);
});
