import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import pl from 'nodejs-polars';
import { InputError } from '../common/errors.js';
import { writeArrowDataset } from '../pipeline/arrow/index.js';
import { CAPTION_SCHEMA, freshDir, photo, put, readArrow, sha256 } from './arrow-fixtures.js';

interface KarpathyImage {
  filepath?: string;
  filename: string;
  split: string;
  raws: string[];
  photo?: string;
}

function karpathyJson(images: KarpathyImage[]): string {
  return JSON.stringify({
    images: images.map((im, i) => ({
      ...(im.filepath ? { filepath: im.filepath } : {}),
      sentids: im.raws.map((_, k) => i * 10 + k),
      filename: im.filename,
      imgid: i,
      split: im.split,
      sentences: im.raws.map((raw, k) => ({ tokens: raw.toLowerCase().split(' '), raw, imgid: i, sentid: i * 10 + k })),
      cocoid: 1000 + i,
    })),
    dataset: 'coco',
  });
}

const COCO_IMAGES: KarpathyImage[] = [
  { filepath: 'val2014', filename: 'COCO_val2014_000000000042.jpg', split: 'test', raws: ['A cat lying down.', 'An orange cat, resting.'], photo: 'chelsea.jpg' },
  { filepath: 'train2014', filename: 'COCO_train2014_000000000007.jpg', split: 'train', raws: ['An astronaut in a suit.'], photo: 'astronaut.jpg' },
  { filepath: 'val2014', filename: 'COCO_val2014_000000000043.jpg', split: 'restval', raws: ['Coins on a table.'], photo: 'coins_cmyk.jpg' },
  { filepath: 'train2014', filename: 'COCO_train2014_000000000008.jpg', split: 'train', raws: ['A rocket  launch ', 'Smoke\tand "fire"'], photo: 'rocket.jpg' },
  { filepath: 'val2014', filename: 'COCO_val2014_000000000044.jpg', split: 'val', raws: ['A rotated cat'], photo: 'chelsea_exif_rot90.jpg' },
];

/** COCO layout: karpathy/dataset_coco.json, train2014/, val2014/ (plus an image without annotation, ignored). */
function cocoFixture(root: string, images = COCO_IMAGES): Map<string, Buffer> {
  put(root, 'karpathy/dataset_coco.json', karpathyJson(images));
  const bytes = new Map<string, Buffer>();
  for (const im of images) if (im.photo) bytes.set(im.filename, put(root, `${im.filepath}/${im.filename}`, photo(im.photo)));
  put(root, 'train2014/COCO_train2014_000000000099.jpg', photo('palette.png'));
  return bytes;
}

test('arrow coco: ViLT file names and schema, original bytes, raw captions, annotation order, several batches', async () => {
  const root = freshDir();
  const out = freshDir();
  const bytes = cocoFixture(root);
  const result = await writeArrowDataset({ dataset: 'coco', root, out, batchBytes: 40_000 });
  assert.deepEqual(
    result.files.map((f) => [f.name, f.rows]),
    [
      ['coco_caption_karpathy_train.arrow', 2],
      ['coco_caption_karpathy_restval.arrow', 1],
      ['coco_caption_karpathy_val.arrow', 1],
      ['coco_caption_karpathy_test.arrow', 1],
    ],
  );
  const expect = (split: string) =>
    COCO_IMAGES.filter((im) => im.split === split).map((im) => ({ image: bytes.get(im.filename), caption: im.raws, image_id: im.filename, split }));
  for (const split of ['train', 'restval', 'val', 'test']) {
    const file = readArrow(path.join(out, `coco_caption_karpathy_${split}.arrow`));
    assert.deepEqual(file.schema, CAPTION_SCHEMA);
    assert.deepEqual(file.rows, expect(split));
  }
  // 61 kB + 113 kB of images with a 40 kB batch limit: one batch per row.
  assert.equal(readArrow(path.join(out, 'coco_caption_karpathy_train.arrow')).batches, 2);
  assert.deepEqual(readdirSync(out).sort(), [
    'arrow-coco.config.yaml',
    'coco_caption_karpathy_restval.arrow',
    'coco_caption_karpathy_test.arrow',
    'coco_caption_karpathy_train.arrow',
    'coco_caption_karpathy_val.arrow',
  ]);
  assert.match(readFileSync(path.join(out, 'arrow-coco.config.yaml'), 'utf8'), /arrow:\n {2}dataset: coco\n/);
});

test('arrow coco: a second reader (nodejs-polars) sees the same schema and values', async () => {
  const root = freshDir();
  const out = freshDir();
  const bytes = cocoFixture(root);
  await writeArrowDataset({ dataset: 'coco', root, out, batchBytes: 40_000 });
  const df = pl.readIPC(readFileSync(path.join(out, 'coco_caption_karpathy_train.arrow')));
  assert.equal(df.height, 2);
  assert.deepEqual(df.columns, ['image', 'caption', 'image_id', 'split']);
  assert.equal(String(df.getColumn('caption').dtype), 'DataType(List(DataType(String)))');
  assert.equal(String(df.getColumn('image_id').dtype), 'DataType(String)');
  assert.deepEqual(df.drop('image').toRecords(), [
    { caption: ['An astronaut in a suit.'], image_id: 'COCO_train2014_000000000007.jpg', split: 'train' },
    { caption: ['A rocket  launch ', 'Smoke\tand "fire"'], image_id: 'COCO_train2014_000000000008.jpg', split: 'train' },
  ]);
  // nodejs-polars cannot hand binary to JS directly; as a list of bytes it can.
  const images = df.select(pl.col('image').cast(pl.List(pl.UInt8))).toRecords() as unknown as { image: number[] }[];
  assert.deepEqual(Buffer.from(images[0]!.image), bytes.get('COCO_train2014_000000000007.jpg'));
  assert.deepEqual(Buffer.from(images[1]!.image), bytes.get('COCO_train2014_000000000008.jpg'));
});

test('arrow coco: two runs give byte-identical files', async () => {
  const root = freshDir();
  cocoFixture(root);
  const digests = [];
  for (const out of [freshDir(), freshDir()]) {
    const r = await writeArrowDataset({ dataset: 'coco', root, out, batchBytes: 100_000 });
    digests.push(r.files.map((f) => sha256(readFileSync(f.path))));
  }
  assert.equal(digests[0]!.length, 4);
  assert.deepEqual(digests[0], digests[1]);
});

test('arrow coco: a missing image stops the run naming it and writes nothing; --skip-missing drops and counts', async () => {
  const root = freshDir();
  const images = [...COCO_IMAGES, { filepath: 'train2014', filename: 'COCO_train2014_000000000009.jpg', split: 'train', raws: ['gone'] }];
  cocoFixture(root, images);
  const out = freshDir();
  await assert.rejects(writeArrowDataset({ dataset: 'coco', root, out }), (err: Error) => {
    assert.ok(err instanceof InputError);
    assert.match(err.message, /dataset_coco\.json: record 5: image not found: .*train2014\/COCO_train2014_000000000009\.jpg/);
    return true;
  });
  assert.deepEqual(readdirSync(out), [], 'no file, final or temporary, after a failed run');

  const r = await writeArrowDataset({ dataset: 'coco', root, out, skipMissing: true });
  assert.deepEqual(r.dropped.missing, { rows: 1, images: 1 });
  assert.equal(readArrow(path.join(out, 'coco_caption_karpathy_train.arrow')).rows.length, 2);
});

test('arrow coco: --valid-report drops the images validate marks bad and counts them', async () => {
  const root = freshDir();
  const out = freshDir();
  cocoFixture(root);
  const report = path.join(freshDir(), 'report.jsonl');
  const line = (rel: string, ok: boolean) => JSON.stringify({ path: path.join(root, rel), ok, ...(ok ? {} : { error: 'truncated' }), format: 'jpeg' });
  writeFileSync(report, [line('train2014/COCO_train2014_000000000008.jpg', false), line('train2014/COCO_train2014_000000000007.jpg', true), line('val2014/COCO_val2014_000000000042.jpg', false)].join('\n') + '\n');
  const r = await writeArrowDataset({ dataset: 'coco', root, out, validReport: report });
  assert.deepEqual(r.dropped.invalid, { rows: 2, images: 2 });
  assert.deepEqual(
    r.files.map((f) => f.rows),
    [1, 1, 1, 0],
  );
  assert.deepEqual(readArrow(path.join(out, 'coco_caption_karpathy_train.arrow')).rows.map((x) => x.image_id), ['COCO_train2014_000000000007.jpg']);
  // An empty split still has its file, with the full schema.
  assert.deepEqual(readArrow(path.join(out, 'coco_caption_karpathy_test.arrow')).schema, CAPTION_SCHEMA);
});

test('arrow coco: annotation paths that escape --root and malformed records are refused with file and record', async () => {
  const root = freshDir();
  cocoFixture(root, [...COCO_IMAGES.slice(0, 2), { filepath: '../../etc', filename: 'passwd', split: 'train', raws: ['x'] }]);
  await assert.rejects(writeArrowDataset({ dataset: 'coco', root, out: freshDir() }), /dataset_coco\.json: record 2: image path "\.\.\/\.\.\/etc\/passwd" escapes --root/);

  const bad = freshDir();
  put(bad, 'karpathy/dataset_coco.json', '{"images": [{"filename": "a.jpg", "filepath": "train2014", "split": "train", "sentences": []}, {"filename": "b.jpg", oops}]}');
  await assert.rejects(writeArrowDataset({ dataset: 'coco', root: bad, out: freshDir() }), /dataset_coco\.json: record 1: invalid JSON/);

  put(bad, 'karpathy/dataset_coco.json', '{"images": [{"filename": "a.jpg", "filepath": "train2014", "split": "train", "sentences": [{"tokens": []}]}]}');
  await assert.rejects(writeArrowDataset({ dataset: 'coco', root: bad, out: freshDir() }), /dataset_coco\.json: record 0: "raw" must be a string/);
});

test('arrow f30k: flickr30k-images layout, three splits', async () => {
  const root = freshDir();
  const out = freshDir();
  put(
    root,
    'karpathy/dataset_flickr30k.json',
    karpathyJson([
      { filename: '1000092795.jpg', split: 'train', raws: ['Two young guys.'] },
      { filename: '10002456.jpg', split: 'test', raws: ['Several men.', 'Workers.'] },
      { filename: '1000268201.jpg', split: 'val', raws: ['A child.'] },
    ]),
  );
  const b = [put(root, 'flickr30k-images/1000092795.jpg', photo('astronaut.jpg')), put(root, 'flickr30k-images/10002456.jpg', photo('rocket.jpg')), put(root, 'flickr30k-images/1000268201.jpg', photo('chelsea.jpg'))];
  const r = await writeArrowDataset({ dataset: 'f30k', root, out });
  assert.deepEqual(r.files.map((f) => f.name), ['f30k_caption_karpathy_train.arrow', 'f30k_caption_karpathy_val.arrow', 'f30k_caption_karpathy_test.arrow']);
  assert.deepEqual(readArrow(path.join(out, 'f30k_caption_karpathy_test.arrow')).rows, [{ image: b[1], caption: ['Several men.', 'Workers.'], image_id: '10002456.jpg', split: 'test' }]);
  assert.deepEqual(readArrow(path.join(out, 'f30k_caption_karpathy_val.arrow')).rows, [{ image: b[2], caption: ['A child.'], image_id: '1000268201.jpg', split: 'val' }]);
});

test('arrow vg: region phrases and boxes per image, both image folders, images without regions skipped', async () => {
  const root = freshDir();
  const out = freshDir();
  const region = (image_id: number, phrase: string, x: number, y: number, width: number, height: number) => ({ region_id: image_id * 100 + x, width, height, image_id, phrase, y, x });
  put(
    root,
    'annotations/region_descriptions.json',
    JSON.stringify([
      { regions: [region(3, 'a rocket', 0, 0, 10, 20)], id: 3 },
      { regions: [], id: 2 },
      { regions: [region(1, 'a cat', 1, 2, 30, 40), region(1, 'whiskers', 5, 6, 7, 8)], id: 1 },
    ]),
  );
  const cat = put(root, 'images/VG_100K/1.jpg', photo('chelsea.jpg'));
  put(root, 'images/VG_100K/2.jpg', photo('astronaut.jpg'));
  const rocket = put(root, 'images/VG_100K_2/3.jpg', photo('rocket.jpg'));
  await writeArrowDataset({ dataset: 'vg', root, out });
  const vg = readArrow(path.join(out, 'vg.arrow'));
  assert.deepEqual(vg.schema, [
    'image: binary',
    'caption: list<item: string>',
    'width: list<item: int64>',
    'height: list<item: int64>',
    'x: list<item: int64>',
    'y: list<item: int64>',
    'image_id: string',
  ]);
  assert.deepEqual(vg.rows, [
    { image: rocket, caption: ['a rocket'], width: [10], height: [20], x: [0], y: [0], image_id: '3' },
    { image: cat, caption: ['a cat', 'whiskers'], width: [30, 7], height: [40, 8], x: [1, 5], y: [2, 6], image_id: '1' },
  ]);
});

test('arrow cc3m/sbu: caption/URL annotations, images one folder deep, shards of --shard-size rows', async () => {
  const root = freshDir();
  const out = freshDir();
  const names = ['0.jpg', '1.jpg', '2.jpg', '3.jpg', '4.jpg'];
  const files = ['astronaut.jpg', 'rocket.jpg', 'chelsea.jpg', 'coins_cmyk.jpg', 'palette.png'];
  const bytes = names.map((n, i) => put(root, `images_train/${i < 3 ? '0000' : '0001'}/${n}`, photo(files[i]!)));
  put(root, 'images_train/0001/unlisted.jpg', photo('palette.png'));
  // Annotation order (not file order) decides the rows; "5.jpg" was never downloaded.
  const order = [3, 0, 1, 5, 2, 4];
  put(root, 'train_annot.json', JSON.stringify(order.map((i) => [`http://example.com/img/${i}.jpg`, `caption ${i}`])));
  put(root, 'val_annot.json', JSON.stringify([['images_val/0000/v0.jpg', 'a val caption']]));
  const v0 = put(root, 'images_val/0000/v0.jpg', photo('chelsea.jpg'));

  await assert.rejects(writeArrowDataset({ dataset: 'cc3m', root, out, shardSize: 2 }), /train_annot\.json: record 3: image not found: .*images_train\/\*\/5\.jpg/);
  const r = await writeArrowDataset({ dataset: 'cc3m', root, out, shardSize: 2, skipMissing: true });
  assert.deepEqual(r.dropped.missing, { rows: 1, images: 1 });
  assert.deepEqual(
    r.files.map((f) => [f.name, f.rows]),
    [
      ['conceptual_caption_val_0.arrow', 1],
      ['conceptual_caption_train_0.arrow', 2],
      ['conceptual_caption_train_1.arrow', 2],
      ['conceptual_caption_train_2.arrow', 1],
    ],
  );
  const rows = [0, 1, 2].flatMap((k) => readArrow(path.join(out, `conceptual_caption_train_${k}.arrow`)).rows);
  assert.deepEqual(
    rows,
    [3, 0, 1, 2, 4].map((i) => ({ image: bytes[i], caption: [`caption ${i}`], image_id: `${i}.jpg`, split: 'train' })),
  );
  const val = readArrow(path.join(out, 'conceptual_caption_val_0.arrow'));
  assert.deepEqual(val.schema, CAPTION_SCHEMA);
  assert.deepEqual(val.rows, [{ image: v0, caption: ['a val caption'], image_id: 'v0.jpg', split: 'val' }]);

  // SBU: annot.json + images_train/, default shard size → one file.
  put(root, 'annot.json', JSON.stringify([['http://x/1.jpg', 'sbu one'], ['http://x/0.jpg', 'sbu zero']]));
  const sbuOut = freshDir();
  const s = await writeArrowDataset({ dataset: 'sbu', root, out: sbuOut });
  assert.deepEqual(s.files.map((f) => [f.name, f.rows]), [['sbu_0.arrow', 2]]);
  assert.deepEqual(readArrow(path.join(sbuOut, 'sbu_0.arrow')).rows.map((x) => [x.image_id, x.caption, x.split]), [
    ['1.jpg', ['sbu one'], 'train'],
    ['0.jpg', ['sbu zero'], 'train'],
  ]);
});

test('arrow nlvr2: one row per image pair, train directories, all seven files, escapes refused', async () => {
  const root = freshDir();
  const out = freshDir();
  const line = (identifier: string, sentence: string, label: string, directory?: number | string) => JSON.stringify({ identifier, sentence, label, ...(directory !== undefined ? { directory } : {}), validation: {} });
  put(root, 'nlvr2/data/train.json', [line('train-10-0-0', 'Two dogs.', 'True', 7), line('train-11-1-0', 'A cat.', 'False', 3), line('train-10-0-1', 'No dogs.', 'False', 7)].join('\n') + '\n');
  const dev = line('dev-5-0-1', 'Left has more.', 'True');
  const test1 = line('test1-8-2-0', 'Both blue.', 'False');
  put(root, 'nlvr2/data/dev.json', dev + '\n');
  put(root, 'nlvr2/data/test1.json', test1 + '\n');
  put(root, 'nlvr2/data/balanced/balanced_dev.json', dev + '\n');
  put(root, 'nlvr2/data/balanced/balanced_test1.json', test1 + '\n');
  put(root, 'nlvr2/data/unbalanced/unbalanced_dev.json', '');
  put(root, 'nlvr2/data/unbalanced/unbalanced_test1.json', test1 + '\n');
  const pngs = ['palette.png', 'camera_gray.png', 'logo_rgba.png'];
  const img = (rel: string, i: number) => put(root, rel, photo(pngs[i % 3]!));
  const t10 = [img('images/train/7/train-10-0-img0.png', 0), img('images/train/7/train-10-0-img1.png', 1)];
  const t11 = [img('images/train/3/train-11-1-img0.png', 2), img('images/train/3/train-11-1-img1.png', 0)];
  const d5 = [img('dev/dev-5-0-img0.png', 1), img('dev/dev-5-0-img1.png', 2)];
  img('test1/test1-8-2-img0.png', 0);
  img('test1/test1-8-2-img1.png', 1);

  const r = await writeArrowDataset({ dataset: 'nlvr2', root, out });
  assert.deepEqual(
    r.files.map((f) => [f.name, f.rows]),
    [
      ['nlvr2_train.arrow', 2],
      ['nlvr2_dev.arrow', 1],
      ['nlvr2_test1.arrow', 1],
      ['nlvr2_balanced_dev.arrow', 1],
      ['nlvr2_balanced_test1.arrow', 1],
      ['nlvr2_unbalanced_dev.arrow', 0],
      ['nlvr2_unbalanced_test1.arrow', 1],
    ],
  );
  const train = readArrow(path.join(out, 'nlvr2_train.arrow'));
  assert.deepEqual(train.schema, ['image_0: binary', 'image_1: binary', 'questions: list<item: string>', 'answers: list<item: string>', 'identifier: string']);
  assert.deepEqual(train.rows, [
    { image_0: t10[0], image_1: t10[1], questions: ['Two dogs.', 'No dogs.'], answers: ['True', 'False'], identifier: 'train-10-0' },
    { image_0: t11[0], image_1: t11[1], questions: ['A cat.'], answers: ['False'], identifier: 'train-11-1' },
  ]);
  assert.deepEqual(readArrow(path.join(out, 'nlvr2_balanced_dev.arrow')).rows, [
    { image_0: d5[0], image_1: d5[1], questions: ['Left has more.'], answers: ['True'], identifier: 'dev-5-0' },
  ]);

  put(root, 'nlvr2/data/train.json', line('train-12-0-0', 'x', 'True', '../../../..') + '\n');
  await assert.rejects(writeArrowDataset({ dataset: 'nlvr2', root, out: freshDir() }), /train\.json:1: image path ".*" escapes --root/);
  put(root, 'nlvr2/data/train.json', line('train-10-0-0', 'x', 'True', 7) + '\n{"identifier": \n');
  await assert.rejects(writeArrowDataset({ dataset: 'nlvr2', root, out: freshDir() }), /train\.json:2: invalid JSON/);
});
