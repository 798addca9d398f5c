import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import YAML from 'yaml';
import { inspectArrowFile } from '../pipeline/arrow/inspect.js';
import { writeArrowDataset } from '../pipeline/arrow/index.js';
import { freshDir, photo, put, readArrow, sha256 } from './arrow-fixtures.js';
import { CLI, runCli } from './helpers.js';

/** A COCO-layout dataset of `n` train rows; every image is a symlink to one photo so the fixture stays small. */
function cocoRows(root: string, n: number, photoName = 'rocket.jpg'): Buffer {
  const bytes = put(root, 'photo.jpg', photo(photoName));
  const images = [];
  for (let i = 0; i < n; i++) {
    const filename = `COCO_train2014_${String(i).padStart(12, '0')}.jpg`;
    put(root, `train2014/.keep`, '');
    symlinkSync(path.join(root, 'photo.jpg'), path.join(root, 'train2014', filename));
    images.push({ filepath: 'train2014', filename, split: 'train', sentences: [{ raw: `caption ${i}` }] });
  }
  put(root, 'karpathy/dataset_coco.json', JSON.stringify({ images }));
  return bytes;
}

test('vlkit arrow coco: JSON summary on stdout, JSON progress on stderr, resolved config with flags and overrides', async () => {
  const root = freshDir();
  const out = freshDir();
  cocoRows(root, 3);
  const r = await runCli(['arrow', 'coco', '--root', root, '--out', out, '--log-format', 'json', 'arrow.batch_bytes=1000', 'arrow.read_ahead=2']);
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout);
  assert.equal(summary.dataset, 'coco');
  assert.deepEqual(summary.files.map((f: { name: string; rows: number }) => [f.name, f.rows]), [
    ['coco_caption_karpathy_train.arrow', 3],
    ['coco_caption_karpathy_restval.arrow', 0],
    ['coco_caption_karpathy_val.arrow', 0],
    ['coco_caption_karpathy_test.arrow', 0],
  ]);
  const events = r.stderr.trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(events.some((e) => e.event === 'done' && e.task === 'arrow coco' && e.done === 3));
  const config = YAML.parse(readFileSync(path.join(out, 'arrow-coco.config.yaml'), 'utf8'));
  assert.equal(config.arrow.batch_bytes, 1000);
  assert.equal(config.arrow.read_ahead, 2);
  assert.equal(config.arrow.root, root);
  assert.equal(config.arrow.shard_size, 100000);
  assert.equal(readArrow(path.join(out, 'coco_caption_karpathy_train.arrow')).batches, 3);
});

test('vlkit arrow inspect: schema, row count, rows with binary as length + sha256 prefix', async () => {
  const root = freshDir();
  const out = freshDir();
  const bytes = cocoRows(root, 4, 'chelsea.jpg');
  await writeArrowDataset({ dataset: 'coco', root, out, batchBytes: 50_000 });
  const file = path.join(out, 'coco_caption_karpathy_train.arrow');
  const r = await runCli(['arrow', 'inspect', file, '--rows', '2']);
  assert.equal(r.code, 0, r.stderr);
  const digest = sha256(bytes).slice(0, 12);
  assert.equal(
    r.stdout,
    [
      `${file}: Arrow IPC file, 4 rows in 2 record batches`,
      'schema:',
      '  image: binary',
      '  caption: list<item: string>',
      '  image_id: string',
      '  split: string',
      `row 0: {"image":"<${bytes.length} bytes sha256:${digest}>","caption":["caption 0"],"image_id":"COCO_train2014_000000000000.jpg","split":"train"}`,
      `row 1: {"image":"<${bytes.length} bytes sha256:${digest}>","caption":["caption 1"],"image_id":"COCO_train2014_000000000001.jpg","split":"train"}`,
      '',
    ].join('\n'),
  );
  assert.deepEqual(await inspectArrowFile(file, 0), {
    file,
    schema: [
      { name: 'image', type: 'binary' },
      { name: 'caption', type: 'list<item: string>' },
      { name: 'image_id', type: 'string' },
      { name: 'split', type: 'string' },
    ],
    rows: 4,
    batches: 2,
    sample: [],
  });
  const notArrow = await runCli(['arrow', 'inspect', path.join(out, 'arrow-coco.config.yaml'), '--json']);
  assert.equal(notArrow.code, 2);
  assert.match(notArrow.stderr, /arrow-coco\.config\.yaml: not an Arrow IPC file/);
});

test('vlkit arrow: usage and input errors exit 2 with the file named', async () => {
  const root = freshDir();
  cocoRows(root, 2);
  put(root, 'karpathy/dataset_coco.json', JSON.stringify({ images: [{ filepath: 'train2014', filename: 'nope.jpg', split: 'train', sentences: [] }] }));
  const out = freshDir();
  const missing = await runCli(['arrow', 'coco', '--root', root, '--out', out]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /dataset_coco\.json: record 0: image not found: .*train2014\/nope\.jpg \(--skip-missing drops such rows\)/);
  assert.deepEqual(readdirSync(out), []);
  const badKey = await runCli(['arrow', 'coco', '--root', root, '--out', out, 'arrow.batch_size=3']);
  assert.equal(badKey.code, 2);
  assert.match(badKey.stderr, /unknown config key 'arrow.batch_size'/);
});

test('vlkit arrow: a run killed mid-write leaves no final file; the next run sweeps its temp file and completes', async () => {
  const root = freshDir();
  const out = freshDir();
  const n = 800;
  const bytes = cocoRows(root, n);
  const child = spawn(process.execPath, [CLI, 'arrow', 'coco', '--root', root, '--out', out, '--log-format', 'none', 'arrow.batch_bytes=200000', 'arrow.read_ahead=1'], { stdio: 'ignore' });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  // Kill -9 as soon as the first temporary file exists (the writer is then mid-way through 90 MB).
  let sawTmp = false;
  for (let i = 0; i < 2000 && !sawTmp; i++) {
    sawTmp = readdirSync(out).some((f) => f.includes('.tmp-'));
    if (!sawTmp) await new Promise((r) => setTimeout(r, 5));
  }
  child.kill('SIGKILL');
  await exited;
  assert.ok(sawTmp, 'the run reached the writing stage');
  const left = readdirSync(out);
  assert.ok(left.length > 0 && left.every((f) => f.includes('.tmp-')), `only temporary files after the kill: ${left.join(', ')}`);

  const r = await runCli(['arrow', 'coco', '--root', root, '--out', out, '--log-format', 'json']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /removed \d+ temporary files left by an interrupted run/);
  assert.ok(!readdirSync(out).some((f) => f.includes('.tmp-')));
  const train = readArrow(path.join(out, 'coco_caption_karpathy_train.arrow'));
  assert.equal(train.rows.length, n);
  assert.deepEqual(train.rows[n - 1]!.image, bytes);
  assert.deepEqual(train.rows[n - 1]!.caption, [`caption ${n - 1}`]);
});
