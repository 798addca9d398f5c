/**
 * The shard contract through the CLI: local `--shards N`, broker-less `--shard-index I --num-shards N` + `vlkit
 * merge`, for validate (real images, good and broken) and extract (a tiny ONNX detector), compared byte for byte
 * with a single-process run; merge refuses missing and tampered shards.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import { BAD_IMAGES, GOOD_IMAGES, runCli, tempDir } from './helpers.js';
import { readArrow } from './arrow-fixtures.js';
import { writeDetector } from './onnx-models.js';

const dir = tempDir('vlkit-shards-');
const imgs = path.join(dir, 'imgs');
for (const sub of ['a', 'b', 'c']) cpSync(GOOD_IMAGES, path.join(imgs, sub), { recursive: true });
cpSync(BAD_IMAGES, path.join(imgs, 'b', 'bad'), { recursive: true });

const tmpLeft = (d: string): string[] => readdirSync(d, { recursive: true }).map(String).filter((n) => /\.tmp-\d+-[0-9a-f]{8}$/.test(n));

test('validate --shards N and --shard-index + vlkit merge give the single-process report byte for byte', async () => {
  const single = path.join(dir, 'single.jsonl');
  const one = await runCli(['validate', imgs, '--report', single, '--workers', '1', '--json', '--log-format', 'none']);
  assert.equal(one.code, 1, one.stderr); // the broken images
  const lines = readFileSync(single, 'utf8').trim().split('\n');
  const nBad = readdirSync(BAD_IMAGES).length;
  assert.equal(lines.length, 27 + nBad);

  const sharded = path.join(dir, 'sharded.jsonl');
  const local = await runCli(['validate', imgs, '--report', sharded, '--workers', '1', '--shards', '4', '--json', '--log-format', 'none']);
  assert.equal(local.code, 1, local.stderr);
  assert.deepEqual(readFileSync(sharded), readFileSync(single));
  const [a, b] = [JSON.parse(one.stdout), JSON.parse(local.stdout)];
  assert.deepEqual({ ...b, report: null }, { ...a, report: null });
  const plan = JSON.parse(readFileSync(path.join(`${sharded}.shards`, 'plan.json'), 'utf8'));
  // Contiguous slices covering the listing: floor(i*n/N) bounds.
  const n = lines.length;
  assert.deepEqual(plan.slices, [0, 1, 2, 3].map((i) => [Math.floor((i * n) / 4), Math.floor(((i + 1) * n) / 4)]));

  // Broker-less: each index on its own (as Kubernetes / SLURM would), then the merge.
  const bi = path.join(dir, 'bi.jsonl');
  const runDir = `${bi}.shards`;
  for (const i of [2, 0, 1]) {
    const r = await runCli(['validate', imgs, '--report', bi, '--workers', '1', '--shard-index', String(i), '--num-shards', '3', '--log-format', 'none']);
    assert.equal(r.code, 0, r.stderr);
    const marker = JSON.parse(r.stdout);
    assert.equal(marker.shard, i);
    assert.equal(marker.run, JSON.parse(readFileSync(path.join(runDir, 'plan.json'), 'utf8')).run);
  }
  const merged = await runCli(['merge', '--run-dir', runDir]);
  assert.equal(merged.code, 1, merged.stderr);
  assert.deepEqual(readFileSync(bi), readFileSync(single));
  assert.deepEqual(tmpLeft(dir), []);

  // Merge refuses a missing or tampered shard, naming it.
  rmSync(path.join(runDir, 'shard-00001.done.json'));
  writeFileSync(path.join(runDir, 'shard-00002.jsonl'), readFileSync(path.join(runDir, 'shard-00002.jsonl'), 'utf8') + '\n');
  const refused = await runCli(['merge', '--run-dir', runDir]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /missing shard\(s\) 1; inconsistent shard\(s\) 2 \(shard-00002\.jsonl sha256 differs/);
  // A different plan in the same run dir is refused too.
  const other = await runCli(['validate', path.join(imgs, 'a'), '--report', bi, '--overwrite', '--shard-index', '0', '--num-shards', '3']);
  assert.equal(other.code, 2);
  assert.match(other.stderr, /holds run [0-9a-f]{16} .* not this run/);
});

test('extract --shards N and --shard-index + merge give the single-process TSV byte for byte', async () => {
  const R = 8;
  const model = writeDetector(path.join(dir, 'det.onnx'), {
    rois: Array.from({ length: R }, (_, i) => [(i % 4) * 100, Math.floor(i / 4) * 120, (i % 4) * 100 + 90, Math.floor(i / 4) * 120 + 110]),
    clsProb: Array.from({ length: R }, (_, i) => [0.2, 0.5 - 0.02 * i, 0.2, 0.1 + 0.02 * i]),
  });
  const ex = path.join(dir, 'ex');
  mkdirSync(ex);
  cpSync(GOOD_IMAGES, path.join(ex, 'imgs'), { recursive: true });
  const args = (out: string) => ['extract', '--model', model, '--images', path.join(ex, 'imgs'), '--out', out, '--ep', 'cpu', '--boxes', '4', '--workers', '1', '--log-format', 'none'];
  const single = path.join(ex, 'single.tsv');
  const one = await runCli(args(single));
  assert.equal(one.code, 0, one.stderr);
  assert.equal(readFileSync(single, 'utf8').split('\r\n').length - 1, 9);

  const sharded = path.join(ex, 'sharded.tsv');
  const local = await runCli([...args(sharded), '--shards', '3']);
  assert.equal(local.code, 0, local.stderr);
  assert.equal(JSON.parse(local.stdout).rows, 9);
  assert.deepEqual(readFileSync(sharded), readFileSync(single));

  const bi = path.join(ex, 'bi.tsv');
  for (const i of [1, 0]) assert.equal((await runCli([...args(bi), '--shard-index', String(i), '--num-shards', '2'])).code, 0);
  const merged = await runCli(['merge', '--run-dir', `${bi}.shards`]);
  assert.equal(merged.code, 0, merged.stderr);
  assert.deepEqual(readFileSync(bi), readFileSync(single));
  assert.deepEqual(tmpLeft(ex), []);

  const both = await runCli([...args(path.join(ex, 'x.tsv')), '--shards', '2', '--shard', '0/2']);
  assert.equal(both.code, 2);
});

test('arrow --shards N: every file (rows spanning passes and cc3m files, multi-row batches) equals a single-process run', async () => {
  const root = path.join(dir, 'cc3m');
  const files = ['astronaut.jpg', 'rocket.jpg', 'chelsea.jpg', 'coins_cmyk.jpg', 'palette.png', 'camera_gray.png', 'logo_rgba.png'];
  files.forEach((f, i) => cpSync(path.join(GOOD_IMAGES, f), path.join(root, `images_train/000${i % 2}/${i}.jpg`)));
  cpSync(path.join(GOOD_IMAGES, 'chelsea.jpg'), path.join(root, 'images_val/0000/v0.jpg'));
  writeFileSync(path.join(root, 'train_annot.json'), JSON.stringify([3, 0, 1, 6, 2, 4, 5].map((i) => [`http://x/${i}.jpg`, `caption ${i}`])));
  writeFileSync(path.join(root, 'val_annot.json'), JSON.stringify([['images_val/0000/v0.jpg', 'a val caption']]));
  const args = (out: string) => ['arrow', 'cc3m', '--root', root, '--out', out, '--shard-size', '3', '--log-format', 'none', 'arrow.batch_bytes=90000'];
  const single = path.join(dir, 'arrow-single');
  assert.equal((await runCli(args(single))).code, 0);
  const sharded = path.join(dir, 'arrow-sharded');
  const r = await runCli([...args(sharded), '--shards', '3']);
  assert.equal(r.code, 0, r.stderr);
  const names = readdirSync(single).filter((n) => n.endsWith('.arrow')).sort();
  assert.deepEqual(names, ['conceptual_caption_train_0.arrow', 'conceptual_caption_train_1.arrow', 'conceptual_caption_train_2.arrow', 'conceptual_caption_val_0.arrow']);
  // The val pass comes first in cc3m's plan.
  assert.deepEqual(JSON.parse(r.stdout).files.map((f: { name: string; rows: number }) => [f.name, f.rows]), [
    ['conceptual_caption_val_0.arrow', 1],
    ['conceptual_caption_train_0.arrow', 3],
    ['conceptual_caption_train_1.arrow', 3],
    ['conceptual_caption_train_2.arrow', 1],
  ]);
  for (const n of names) assert.deepEqual(readFileSync(path.join(sharded, n)), readFileSync(path.join(single, n)), n);
  // Batches are cut by bytes: train_0 (3 images) has more rows than batches, yet the same cut as one process.
  const t0 = readArrow(path.join(sharded, 'conceptual_caption_train_0.arrow'));
  assert.equal(t0.rows.length, 3);
  assert.ok(t0.batches > 1 && t0.batches < 3, `batches ${t0.batches}`);
  assert.deepEqual(readdirSync(sharded).filter((n) => n.endsWith('.arrow')).sort(), names);
  // The plan split 8 rows [0,2) [2,5) [5,8): shard 0 straddles the val/train passes, shard 1 train_0/train_1.
  const plan = JSON.parse(readFileSync(path.join(sharded, 'arrow-cc3m.shards', 'plan.json'), 'utf8'));
  assert.deepEqual(plan.slices, [[0, 2], [2, 5], [5, 8]]);
  assert.deepEqual(tmpLeft(dir), []);
});
