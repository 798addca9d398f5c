import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { DEFAULT_NAMES } from '../features/contract.js';
import { extractFeatures, type ExtractOptions } from '../features/extract.js';
import { mergeTsvs } from '../features/merge.js';
import { decodeImage, planResize, prepareTensor } from '../features/preprocess.js';
import { UsageError } from '../common/errors.js';
import { BAD_IMAGES, CLI, GOOD_IMAGES, runCli, tempDir } from './helpers.js';
import { writeDetector, type DetectorSpec } from './onnx-models.js';

const PY = '/usr/bin/python3';
const hasPy = (mods: string) => existsSync(PY) && spawnSync(PY, ['-c', `import ${mods}`]).status === 0;

/** 12 proposals in resized pixels, 4 classes + background, 3 attributes + none. */
const R = 12;
const SPEC: DetectorSpec = {
  rois: Array.from({ length: R }, (_, i) => [(i % 4) * 120, Math.floor(i / 4) * 150, (i % 4) * 120 + 100, Math.floor(i / 4) * 150 + 140]),
  clsProb: Array.from({ length: R }, (_, i) => {
    const r = [0.1, 0.05, 0.05, 0.05, 0.05];
    r[1 + (i % 4)] = 0.7 - 0.02 * i;
    r[0] = 1 - r.slice(1).reduce((a, b) => a + b, 0);
    return r;
  }),
  attrProb: Array.from({ length: R }, (_, i) => [0.4, 0.3 - 0.01 * i, 0.2, 0.1 + 0.01 * i]),
};

/** Independent reader: split rows and fields, base64 → Buffer → little-endian numbers. */
interface Row {
  id: string;
  h: number;
  w: number;
  n: number;
  objectsId: number[];
  objectsConf: number[];
  attrsId: number[];
  attrsConf: number[];
  boxes: number[];
  features: number[][];
}
function readTsv(file: string): Row[] {
  const text = readFileSync(file, 'utf8');
  assert.ok(text === '' || text.endsWith('\r\n'), 'rows end in \\r\\n');
  return text
    .split('\r\n')
    .filter((l) => l !== '')
    .map((line) => {
      const f = line.split('\t');
      assert.equal(f.length, 10);
      const n = Number(f[7]);
      const f32 = (s: string) => {
        const b = Buffer.from(s, 'base64');
        return Array.from({ length: b.length / 4 }, (_, i) => b.readFloatLE(i * 4));
      };
      const i64 = (s: string) => {
        const b = Buffer.from(s, 'base64');
        return Array.from({ length: b.length / 8 }, (_, i) => Number(b.readBigInt64LE(i * 8)));
      };
      const feats = f32(f[9]!);
      const d = n > 0 ? feats.length / n : 0;
      return {
        id: f[0]!,
        h: Number(f[1]),
        w: Number(f[2]),
        n,
        objectsId: i64(f[3]!),
        objectsConf: f32(f[4]!),
        attrsId: i64(f[5]!),
        attrsConf: f32(f[6]!),
        boxes: f32(f[8]!),
        features: Array.from({ length: n }, (_, i) => feats.slice(i * d, (i + 1) * d)),
      };
    });
}

const dir = tempDir('vlkit-extract-');

/** In-process extraction (the CLI path is covered above; this avoids a process start per run). */
function extract(opts: Partial<ExtractOptions> & { model: string; images: string[]; out: string }) {
  return extractFeatures({
    select: { confThresh: 0.2, minBoxes: 5, maxBoxes: 5 },
    ep: 'cpu',
    batch: 1,
    workers: 1,
    idFrom: 'name',
    names: DEFAULT_NAMES,
    logFormat: 'none',
    ...opts,
  });
}
const model = writeDetector(path.join(dir, 'det.onnx'), SPEC);

test('extract: CLI writes LXMERT rows for good images, skips and reports corrupt ones, EXIF sizes, im_info', async () => {
  const out = path.join(dir, 'all.tsv');
  const r = await runCli(['extract', '--model', model, '--images', GOOD_IMAGES, '--images', BAD_IMAGES, '--out', out, '--ep', 'cpu', '--min-boxes', '3', '--max-boxes', '8', '--workers', '1', '--log-format', 'json']);
  assert.equal(r.code, 1, r.stderr); // problems found: the corrupt images
  const summary = JSON.parse(r.stdout);
  assert.equal(summary.written, 9);
  assert.equal(summary.failed, 4);
  assert.deepEqual(summary.failures.map((f: { path: string }) => path.basename(f.path)).sort(), ['empty.jpg', 'header_only.jpg', 'html_error_page.jpg', 'truncated.jpg']);
  assert.match(r.stderr, /execution provider: cpu/);
  assert.match(r.stderr, /skipped .*truncated\.jpg/);
  const rows = readTsv(out);
  assert.deepEqual(rows.map((x) => x.id), ['astronaut', 'camera_gray', 'chelsea', 'chelsea_exif_rot90', 'chessboard_u16', 'coins_cmyk', 'logo_rgba', 'palette', 'rocket']);
  const byId = new Map(rows.map((x) => [x.id, x]));
  assert.deepEqual([byId.get('chelsea')!.h, byId.get('chelsea')!.w], [300, 451]);
  assert.deepEqual([byId.get('chelsea_exif_rot90')!.h, byId.get('chelsea_exif_rot90')!.w], [451, 300]);
  for (const row of rows) {
    const plan = planResize(row.h, row.w);
    assert.ok(row.n >= 3 && row.n <= 8, `${row.id}: ${row.n} boxes`);
    assert.equal(row.objectsId.length, row.n);
    for (const feat of row.features) {
      assert.equal(feat.length, 10);
      assert.deepEqual(feat.slice(7), [plan.outH, plan.outW, Math.fround(plan.scale)], `${row.id} im_info`);
    }
    // Boxes are the proposals divided by the scale; feature columns 0..3 are the same proposal in resized pixels.
    row.features.forEach((feat, i) => {
      assert.deepEqual(row.boxes.slice(i * 4, i * 4 + 4), feat.slice(0, 4).map((v) => Math.fround(v / Math.fround(plan.scale))));
    });
  }
});

test('extract: preprocessing equals cv2.imread + float32 mean subtraction + cv2.resize (when Debian cv2 is installed)', { skip: !hasPy('cv2, numpy') && 'needs /usr/bin/python3 with cv2 and numpy' }, async () => {
  const names = ['chelsea.jpg', 'chelsea_exif_rot90.jpg', 'camera_gray.png', 'logo_rgba.png', 'rocket.jpg'];
  for (const name of names) {
    const p = prepareTensor(await decodeImage(path.join(GOOD_IMAGES, name)));
    writeFileSync(path.join(dir, `${name}.f32`), new Uint8Array(p.tensor.buffer));
  }
  const script = `
import sys, cv2, numpy as np
for name in sys.argv[2:]:
    im = cv2.imread(sys.argv[1] + '/' + name).astype(np.float32)
    im -= np.array([[[102.9801, 115.9465, 122.7717]]])
    s = 600.0 / min(im.shape[:2])
    if np.round(s * max(im.shape[:2])) > 1000: s = 1000.0 / max(im.shape[:2])
    r = cv2.resize(im, None, None, fx=s, fy=s, interpolation=cv2.INTER_LINEAR).transpose(2, 0, 1)
    mine = np.fromfile('${dir}/' + name + '.f32', dtype=np.float32)
    print(name, r.shape[1], r.shape[2], mine.size == r.size and float(np.abs(mine - r.ravel()).max()))
`;
  const res = spawnSync(PY, ['-c', script, GOOD_IMAGES, ...names], { encoding: 'utf8' });
  assert.equal(res.status, 0, res.stderr);
  for (const line of res.stdout.trim().split('\n')) {
    const [name, , , diff] = line.split(' ');
    assert.equal(diff, '0.0', `${name}: max |diff| vs cv2 = ${diff}`);
  }
});

test('extract: --ep auto falls back to cpu with one log line naming the providers that failed', async () => {
  const out = path.join(dir, 'auto.tsv');
  const list = path.join(dir, 'auto-list.txt');
  writeFileSync(list, 'palette.png\nchelsea.jpg\n');
  copyFileSync(path.join(GOOD_IMAGES, 'palette.png'), path.join(dir, 'palette.png'));
  copyFileSync(path.join(GOOD_IMAGES, 'chelsea.jpg'), path.join(dir, 'chelsea.jpg'));
  const r = await runCli(['extract', '--model', model, '--images', list, '--out', out, '--ep', 'auto', '--boxes', '4', '--log-format', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stderr.split('\n').filter((l) => l.includes('"execution provider'));
  assert.equal(lines.length, 1);
  const msg = JSON.parse(lines[0]!).msg as string;
  assert.match(msg, /^execution provider: (cpu|cuda|webgpu) \[auto\]/);
  if (msg.startsWith('execution provider: cpu')) assert.match(msg, /cuda unavailable: .*webgpu unavailable: /);
  assert.ok(readTsv(out).every((x) => x.n === 4));
});

function copies(n: number): string {
  const d = path.join(dir, `copies${n}`);
  mkdirSync(d, { recursive: true });
  const src = ['chelsea.jpg', 'rocket.jpg', 'astronaut.jpg'];
  for (let i = 0; i < n; i++) copyFileSync(path.join(GOOD_IMAGES, src[i % 3]!), path.join(d, `img${String(i).padStart(3, '0')}.jpg`));
  return d;
}

test('extract: kill -9 mid-run, then resume → every row once, all valid, identical to an uninterrupted run', async () => {
  const images = copies(12);
  const heavy = writeDetector(path.join(dir, 'heavy.onnx'), { ...SPEC, heavy: { layers: 3, channels: 8 } });
  const args = (out: string) => ['extract', '--model', heavy, '--images', images, '--out', out, '--ep', 'cpu', '--boxes', '6', '--workers', '1', '--log-format', 'none'];
  const ref = path.join(dir, 'ref.tsv');
  await extract({ model: heavy, images: [images], out: ref, select: { confThresh: 0.2, minBoxes: 6, maxBoxes: 6 } });
  const out = path.join(dir, 'killed.tsv');
  const child = spawn(process.execPath, [CLI, ...args(out)], { stdio: 'ignore' });
  // Kill once a few rows are on disk, while the run is in full flow.
  await new Promise<void>((resolve, reject) => {
    const t = setInterval(() => {
      if (existsSync(out) && statSync(out).size > 3 * 1000) {
        clearInterval(t);
        child.kill('SIGKILL');
        resolve();
      }
    }, 5);
    child.on('exit', () => {
      clearInterval(t);
      reject(new Error('the run finished before it could be killed'));
    });
  });
  await new Promise((r) => child.on('exit', r));
  const partial = readFileSync(out, 'utf8').split('\r\n').filter((l) => l !== '').length;
  assert.ok(partial < 12, `killed run wrote ${partial} rows`);
  const resumed = await runCli(args(out));
  assert.equal(resumed.code, 0, resumed.stderr);
  const s = JSON.parse(resumed.stdout);
  assert.equal(s.written + s.already_done, 12);
  assert.ok(s.already_done >= 1);
  const rows = readTsv(out);
  assert.deepEqual(new Set(rows.map((x) => x.id)).size, 12);
  assert.ok(readFileSync(out).equals(readFileSync(ref)), 'resumed output differs from the uninterrupted run');
});

test('extract: --shard i/N slices + features merge = unsharded run, byte for byte; duplicates refused', async () => {
  const images = copies(7);
  const whole = path.join(dir, 'whole.tsv');
  await extract({ model, images: [images], out: whole });
  const parts: string[] = [];
  for (let i = 0; i < 3; i++) {
    parts.push(path.join(dir, `part${i}.tsv`));
    await extract({ model, images: [images], out: parts[i]!, shard: { index: i, count: 3 } });
  }
  assert.deepEqual(parts.map((p) => readTsv(p).length), [2, 2, 3]); // floor(i*7/3) boundaries 0, 2, 4, 7
  const merged = path.join(dir, 'merged.tsv');
  assert.equal((await mergeTsvs(parts, merged, 'error')).rows, 7);
  assert.ok(readFileSync(merged).equals(readFileSync(whole)));
  const dup = await runCli(['features', 'merge', parts[0]!, parts[1]!, parts[0]!, '--out', path.join(dir, 'dup.tsv')]);
  assert.equal(dup.code, 2);
  assert.match(dup.stderr, /img_id 'img000' is already in .*part0\.tsv:1/);
  assert.ok(!existsSync(path.join(dir, 'dup.tsv')));
  const drop = await mergeTsvs([parts[0]!, parts[1]!, parts[0]!], path.join(dir, 'dup.tsv'), 'drop');
  assert.deepEqual([drop.rows, drop.dropped.length], [4, 2]);
  assert.equal(readTsv(path.join(dir, 'dup.tsv')).length, 4);
});

test('extract: duplicate img_ids in the input are refused; --id-from relpath keeps them apart', async () => {
  const root = path.join(dir, 'dups');
  for (const sub of ['a', 'b']) {
    mkdirSync(path.join(root, sub), { recursive: true });
    copyFileSync(path.join(GOOD_IMAGES, 'palette.png'), path.join(root, sub, 'x.png'));
  }
  const out = path.join(dir, 'dups.tsv');
  await assert.rejects(extract({ model, images: [root], out }), (e: Error) => e instanceof UsageError && /img_id 'x' would be written for both .*a\/x\.png and .*b\/x\.png.*--id-from relpath/.test(e.message));
  await extract({ model, images: [root], out, idFrom: 'relpath' });
  assert.deepEqual(readTsv(out).map((x) => x.id), ['a/x', 'b/x']);
});

test('extract: --batch on a dynamic-batch model gives the rows of batch 1', async () => {
  const images = copies(5); // chelsea, rocket, astronaut, chelsea, rocket: mixed sizes, zero-padded per batch
  const dyn = writeDetector(path.join(dir, 'dyn.onnx'), { ...SPEC, dynamicBatch: true });
  const one = path.join(dir, 'b1.tsv');
  const three = path.join(dir, 'b3.tsv');
  await extract({ model: dyn, images: [images], out: one });
  await extract({ model: dyn, images: [images], out: three, batch: 3 });
  const a = readTsv(one);
  const b = readTsv(three);
  assert.deepEqual(b.map((x) => x.id), a.map((x) => x.id));
  const noMeans = (r: Row) => ({ ...r, features: r.features.map((f) => [...f.slice(0, 4), ...f.slice(7)]) });
  // Everything but the channel means (which see the zero padding of a mixed-size batch) is identical.
  for (let i = 0; i < a.length; i++) assert.deepEqual(noMeans(b[i]!), noMeans(a[i]!));
  // Chelsea (600x902 resized) is the largest image of both batches, so it is not padded: its means agree too.
  assert.deepEqual(b[0]!.features, a[0]!.features);
  assert.deepEqual(b[3]!.features, a[3]!.features);
  await assert.rejects(extract({ model, images: [images], out: path.join(dir, 'bx.tsv'), batch: 2 }), /fixed batch size of 1/);
});

test('extract: --boxes-from feeds rois_in and keeps the given boxes; a model without rois_in is refused', async () => {
  const withRois = writeDetector(path.join(dir, 'roisin.onnx'), { ...SPEC, roisIn: true });
  const boxes = path.join(dir, 'boxes.json');
  writeFileSync(boxes, JSON.stringify({ chelsea: [[10, 20, 110, 220], [0.5, 1.5, 300.25, 299]], rocket: [[5, 5, 50, 60]] }));
  const list = path.join(dir, 'list.txt');
  writeFileSync(list, ['chelsea.jpg', 'rocket.jpg', 'palette.png'].map((f) => path.join(GOOD_IMAGES, f)).join('\n') + '\n');
  const out = path.join(dir, 'given.tsv');
  const s = await extract({ model: withRois, images: [list], out, boxesFrom: boxes });
  assert.deepEqual(s.failed.map((f) => f.error), [`no boxes for 'palette' in ${boxes}`]);
  const rows = readTsv(out);
  assert.deepEqual(rows.map((x) => [x.id, x.n]), [['chelsea', 2], ['rocket', 1]]);
  assert.deepEqual(rows[0]!.boxes, [10, 20, 110, 220, 0.5, 1.5, 300.25, 299]);
  const scale = planResize(300, 451).scale; // 2
  assert.deepEqual(rows[0]!.features[1]!.slice(0, 4), [0.5, 1.5, 300.25, 299].map((v) => Math.fround(v * scale)));
  assert.deepEqual(rows[0]!.objectsId, [0, 0]); // uniform class rows: the first class wins
  assert.deepEqual(rows[0]!.objectsConf, [Math.fround(0.2), Math.fround(0.2)]);
  // Without --boxes-from the same model uses its own proposals (an empty rois_in).
  const own = path.join(dir, 'own.tsv');
  await extract({ model: withRois, images: [list], out: own });
  assert.ok(readTsv(own).every((x) => x.n === 5));
  await assert.rejects(extract({ model, images: [list], out: path.join(dir, 'no.tsv'), boxesFrom: boxes }), /--boxes-from needs a model with a 'rois_in' input/);
});

test('extract: the TSV reads back with an LXMERT-style Python loader (csv.DictReader + base64 + numpy)', { skip: !hasPy('numpy') && 'needs /usr/bin/python3 with numpy' }, () => {
  const file = path.join(dir, 'all.tsv');
  const script = `
import sys, csv, base64, numpy as np
csv.field_size_limit(sys.maxsize)
F = ["img_id", "img_h", "img_w", "objects_id", "objects_conf", "attrs_id", "attrs_conf", "num_boxes", "boxes", "features"]
out = []
with open(sys.argv[1]) as f:
    for item in csv.DictReader(f, F, delimiter="\\t"):
        n = int(item["num_boxes"])
        boxes = np.frombuffer(base64.b64decode(item["boxes"]), dtype=np.float32).reshape((n, 4))
        feats = np.frombuffer(base64.b64decode(item["features"]), dtype=np.float32).reshape((n, -1))
        oid = np.frombuffer(base64.b64decode(item["objects_id"]), dtype=np.int64).reshape((n,))
        aconf = np.frombuffer(base64.b64decode(item["attrs_conf"]), dtype=np.float32).reshape((n,))
        out.append("%s %d %d %d %d %s %.6f" % (item["img_id"], int(item["img_h"]), int(item["img_w"]), n, feats.shape[1], ",".join(map(str, oid)), float(boxes.sum() + aconf.sum())))
print("\\n".join(out))
`;
  const res = spawnSync(PY, ['-c', script, file], { encoding: 'utf8' });
  assert.equal(res.status, 0, res.stderr);
  const rows = readTsv(file);
  const lines = res.stdout.trim().split('\n');
  assert.equal(lines.length, rows.length);
  rows.forEach((row, i) => {
    const [id, h, w, n, d, oid, sum] = lines[i]!.split(' ');
    assert.deepEqual([id, Number(h), Number(w), Number(n), Number(d), oid], [row.id, row.h, row.w, row.n, 10, row.objectsId.join(',')]);
    const mine = row.boxes.reduce((a, b) => a + b, 0) + row.attrsConf.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(Number(sum) - mine) < 1e-2 * Math.max(1, Math.abs(mine)), `${id}: ${sum} vs ${mine}`);
  });
});
