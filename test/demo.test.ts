import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { tableFromIPC } from 'apache-arrow';
import { REPO, runCli, tempDir } from './helpers.js';

const DEMO = path.join(REPO, 'data/demo/coco');

test('demo: validate + arrow on the bundled data; bad images dropped, rows carry the original bytes', async () => {
  const out = path.join(tempDir(), 'demo');
  const r = await runCli(['demo', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  // 12 bundled files, 3 broken (empty, HTML page, truncated JPEG).
  assert.match(r.stdout, /9 good, 3 bad of 12 files/);
  assert.match(r.stdout, /dropped 3 rows/);
  const lines = readFileSync(path.join(out, 'valid.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 12);
  const bad = Object.fromEntries(lines.filter((l) => !l.ok).map((l) => [path.basename(l.path), l.error]));
  assert.deepEqual(bad, { 'truncated.jpg': 'truncated', 'html_error_page.jpg': 'not-an-image', 'empty.jpg': 'empty' });

  const karpathy = JSON.parse(readFileSync(path.join(DEMO, 'karpathy/dataset_coco.json'), 'utf8')) as {
    images: { filepath: string; filename: string; split: string; sentences: { raw: string }[] }[];
  };
  const expectRows: Record<string, number> = { train: 5, restval: 1, val: 2, test: 1 };
  for (const [split, n] of Object.entries(expectRows)) {
    const table = tableFromIPC(readFileSync(path.join(out, 'arrow', `coco_caption_karpathy_${split}.arrow`)));
    assert.equal(table.numRows, n, split);
    for (let i = 0; i < table.numRows; i++) {
      const row = table.get(i)!.toJSON() as { image: Uint8Array; caption: { toArray(): string[] }; image_id: string; split: string };
      const src = karpathy.images.find((im) => im.filename === row.image_id)!;
      assert.ok(src, `row ${row.image_id} comes from the Karpathy json`);
      assert.equal(row.split, split);
      assert.deepEqual(Buffer.from(row.image), readFileSync(path.join(DEMO, src.filepath, src.filename)));
      assert.deepEqual([...row.caption.toArray()], src.sentences.map((s) => s.raw));
    }
  }
});

test('demo: refuses to replace a folder it did not make', async () => {
  const out = tempDir();
  writeFileSync(path.join(out, 'precious.txt'), 'keep me');
  const r = await runCli(['demo', '--out', out]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /was not made by vlkit demo/);
  assert.ok(existsSync(path.join(out, 'precious.txt')));
});
