import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { validateCollection } from '../pipeline/validate/run.js';
import { BAD_IMAGES, GOOD_IMAGES, runCli, tempDir } from './helpers.js';
import { brokenFiles } from './validate-broken.js';

interface Line {
  path: string;
  ok: boolean;
  error?: string;
  message?: string;
  format: string | null;
  width: number | null;
  height: number | null;
  channels: number | null;
  bytes: number;
  sha256: string;
}

const readLines = (file: string): Line[] =>
  readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Line);
const byName = (lines: Line[]): Map<string, Line> => new Map(lines.map((l) => [path.basename(l.path), l]));

const OK_KEYS = ['path', 'ok', 'format', 'width', 'height', 'channels', 'bytes', 'sha256'];
const BAD_KEYS = ['path', 'ok', 'error', 'message', 'format', 'width', 'height', 'channels', 'bytes', 'sha256'];

test('validate: every error class from real broken files, keys exactly as specified', async () => {
  const dir = tempDir();
  const imgs = path.join(dir, 'imgs');
  mkdirSync(imgs);
  for (const f of readdirSync(BAD_IMAGES)) copyFileSync(path.join(BAD_IMAGES, f), path.join(imgs, f));
  const broken = await brokenFiles();
  for (const b of broken) writeFileSync(path.join(imgs, b.name), b.bytes);
  copyFileSync(path.join(GOOD_IMAGES, 'chelsea.jpg'), path.join(imgs, 'chelsea.jpg'));
  const report = path.join(dir, 'report.jsonl');

  const r = await runCli(['validate', imgs, '--report', report, '--json', '--max-pixels', '100000000']);
  assert.equal(r.code, 1, r.stderr + r.stdout);
  const lines = readLines(report);
  const got = byName(lines);
  const expected: Record<string, string> = {
    'empty.jpg': 'empty',
    'header_only.jpg': 'truncated',
    'html_error_page.jpg': 'not-an-image',
    'truncated.jpg': 'truncated',
    ...Object.fromEntries(broken.map((b) => [b.name, b.error])),
  };
  for (const [name, error] of Object.entries(expected)) {
    const l = got.get(name);
    assert.ok(l, `${name} missing from the report`);
    assert.equal(l.error, `${error}`, `${name}: ${l.message}`);
    assert.equal(l.ok, false);
    assert.deepEqual(Object.keys(l), BAD_KEYS, name);
    assert.equal(typeof l.message, 'string');
  }
  assert.equal(got.get('chelsea.jpg')!.ok, true);
  assert.deepEqual(Object.keys(got.get('chelsea.jpg')!), OK_KEYS);
  // What is known about a bad file is reported; what is not is null.
  assert.deepEqual([got.get('bomb.png')!.width, got.get('bomb.png')!.height], [20000, 20000]);
  assert.match(got.get('bomb.png')!.message!, /100000000/);
  assert.deepEqual([got.get('jpeg_cut_50.jpg')!.format, got.get('jpeg_cut_50.jpg')!.width], ['jpeg', 640]);
  assert.deepEqual([got.get('html_error_page.jpg')!.format, got.get('html_error_page.jpg')!.width], [null, null]);
  assert.equal(got.get('bmp_as.jpg')!.format, 'bmp');
  assert.match(got.get('png_crc.png')!.message!, /CRC mismatch in IDAT/);
  // Report order is input order: the sorted directory walk.
  assert.deepEqual(lines.map((l) => path.basename(l.path)), readdirSync(imgs).sort());

  const summary = JSON.parse(r.stdout) as { total: number; bad: number; classes: Record<string, number> };
  assert.equal(summary.total, lines.length);
  assert.equal(summary.bad, lines.length - 1);
  assert.deepEqual(summary.classes, {
    ok: 1,
    empty: 1,
    'not-an-image': 2,
    truncated: 10,
    corrupt: 2,
    'too-large': 1,
    unsupported: 1,
    timeout: 0,
  });
});

test('validate: good fixtures — oriented size, stored channels, sha256 of the bytes', async () => {
  const dir = tempDir();
  const report = path.join(dir, 'r.jsonl');
  const summary = await validateCollection({ inputs: [GOOD_IMAGES], report, workers: 2 });
  assert.equal(summary.bad, 0);
  const got = byName(readLines(report));
  const expected: Record<string, [string, number, number, number]> = {
    'astronaut.jpg': ['jpeg', 512, 512, 3],
    'camera_gray.png': ['png', 512, 512, 1],
    'chelsea.jpg': ['jpeg', 451, 300, 3],
    'chelsea_exif_rot90.jpg': ['jpeg', 300, 451, 3], // stored 451x300, EXIF orientation 6
    'chessboard_u16.tif': ['tiff', 200, 200, 1],
    'coins_cmyk.jpg': ['jpeg', 384, 303, 4],
    'logo_rgba.png': ['png', 500, 500, 4],
    'palette.png': ['png', 10, 10, 3],
    'rocket.jpg': ['jpeg', 640, 427, 3],
  };
  assert.deepEqual([...got.keys()].sort(), Object.keys(expected).sort());
  for (const [name, [format, width, height, channels]] of Object.entries(expected)) {
    const l = got.get(name)!;
    const bytes = readFileSync(path.join(GOOD_IMAGES, name));
    assert.deepEqual({ ok: l.ok, format: l.format, width: l.width, height: l.height, channels: l.channels }, { ok: true, format, width, height, channels }, name);
    assert.equal(l.bytes, bytes.length);
    assert.equal(l.sha256, createHash('sha256').update(bytes).digest('hex'));
    assert.equal(l.path, path.join(GOOD_IMAGES, name));
  }
});

test('validate: duplicates by content hash; all good → exit 0; list files as input', async () => {
  const dir = tempDir();
  const a = path.join(dir, 'a');
  mkdirSync(path.join(a, 'sub'), { recursive: true });
  copyFileSync(path.join(GOOD_IMAGES, 'rocket.jpg'), path.join(a, 'rocket.jpg'));
  copyFileSync(path.join(GOOD_IMAGES, 'rocket.jpg'), path.join(a, 'sub/rocket_copy.jpg'));
  copyFileSync(path.join(GOOD_IMAGES, 'rocket.jpg'), path.join(a, 'sub/rocket_copy2.jpg'));
  copyFileSync(path.join(GOOD_IMAGES, 'palette.png'), path.join(a, 'palette.png'));
  writeFileSync(path.join(dir, 'list.txt'), `# extra files\n${path.join(GOOD_IMAGES, 'chelsea.jpg')}\n\na/palette.png\n`);
  const report = path.join(dir, 'r.jsonl');
  const r = await runCli(['validate', a, path.join(dir, 'list.txt'), '--report', report, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout) as { total: number; duplicates: Array<{ sha256: string; paths: string[] }> };
  // a/palette.png is named twice (walk + list): reported once.
  assert.equal(s.total, 5);
  assert.deepEqual(s.duplicates, [
    {
      sha256: createHash('sha256').update(readFileSync(path.join(GOOD_IMAGES, 'rocket.jpg'))).digest('hex'),
      paths: [path.join(a, 'rocket.jpg'), path.join(a, 'sub/rocket_copy.jpg'), path.join(a, 'sub/rocket_copy2.jpg')],
    },
  ]);
  // The human table goes to stdout too, progress/log lines only to stderr.
  const table = await runCli(['validate', a, '--report', path.join(dir, 't.jsonl')]);
  assert.equal(table.code, 0);
  assert.match(table.stdout, /ok\s+4/);
  assert.match(table.stdout, /duplicates by content: 1 group\(s\), 3 files/);
});

test('validate: --fix writes upright 8-bit sRGB JPEG (PNG with alpha) at the same relative path', async () => {
  const dir = tempDir();
  const src = path.join(dir, 'src');
  mkdirSync(path.join(src, 'nested'), { recursive: true });
  for (const f of ['chelsea_exif_rot90.jpg', 'coins_cmyk.jpg', 'chessboard_u16.tif', 'logo_rgba.png', 'camera_gray.png']) {
    copyFileSync(path.join(GOOD_IMAGES, f), path.join(src, 'nested', f));
  }
  copyFileSync(path.join(BAD_IMAGES, 'truncated.jpg'), path.join(src, 'truncated.jpg'));
  const out = path.join(dir, 'fixed');
  const r = await runCli(['validate', src, '--report', path.join(dir, 'r.jsonl'), '--fix', out, '--log-format', 'none']);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(existsSync(path.join(out, 'truncated.jpg')), false, 'bad images get no fixed copy');
  const expect: Record<string, [string, number, number]> = {
    'chelsea_exif_rot90.jpg': ['jpeg', 300, 451],
    'coins_cmyk.jpg': ['jpeg', 384, 303],
    'chessboard_u16.tif': ['jpeg', 200, 200],
    'logo_rgba.png': ['png', 500, 500],
    'camera_gray.png': ['jpeg', 512, 512],
  };
  assert.deepEqual(readdirSync(path.join(out, 'nested')).sort(), Object.keys(expect).sort(), 'no temp files left behind');
  for (const [name, [format, width, height]] of Object.entries(expect)) {
    const m = await sharp(path.join(out, 'nested', name)).metadata();
    assert.deepEqual(
      { format: m.format, width: m.width, height: m.height, depth: m.depth, space: m.space, orientation: m.orientation },
      { format, width, height, depth: 'uchar', space: 'srgb', orientation: undefined },
      name,
    );
  }
  // The rotation really happened: the cat's pixels match the upright original, not the stored ones.
  const upright = await sharp(path.join(GOOD_IMAGES, 'chelsea_exif_rot90.jpg')).autoOrient().raw().toBuffer();
  const fixed = await sharp(path.join(out, 'nested', 'chelsea_exif_rot90.jpg')).raw().toBuffer();
  let diff = 0;
  for (let i = 0; i < upright.length; i++) diff += Math.abs(upright[i]! - fixed[i]!);
  assert.ok(diff / upright.length < 3, `mean abs difference ${diff / upright.length}`);
});

test('validate: a decode past --timeout-ms is reported as timeout and the run goes on', async () => {
  const dir = tempDir();
  const imgs = path.join(dir, 'imgs');
  mkdirSync(imgs);
  // 8000x8000 flat *interlaced* PNG: small on disk, but Adam7 cannot be streamed row by row, so libvips decodes all
  // 192 MB of pixels in seven passes (~1.5 s on an idle machine; a non-interlaced one can finish within 150 ms),
  // ten times the 150 ms allowed, while the 10x10 palette PNG next to it decodes in ~1 ms.
  await sharp({ create: { width: 8000, height: 8000, channels: 3, background: '#808080' } })
    .png({ compressionLevel: 1, progressive: true })
    .toFile(path.join(imgs, 'big.png'));
  copyFileSync(path.join(GOOD_IMAGES, 'palette.png'), path.join(imgs, 'small.png'));
  const report = path.join(dir, 'r.jsonl');
  const started = Date.now();
  const r = await runCli(['validate', imgs, '--report', report, '--timeout-ms', '150', '--workers', '1', '--json'], { timeoutMs: 30_000 });
  assert.equal(r.code, 1, r.stderr);
  assert.ok(Date.now() - started < 20_000);
  const got = byName(readLines(report));
  assert.equal(got.get('big.png')!.error, 'timeout');
  assert.match(got.get('big.png')!.message!, /no result within 150 ms/);
  assert.equal(got.get('big.png')!.sha256, createHash('sha256').update(readFileSync(path.join(imgs, 'big.png'))).digest('hex'));
  assert.equal(got.get('small.png')!.ok, true);
  // With a generous deadline the same image is fine: timeouts are about time, not content.
  const again = await runCli(['validate', imgs, '--report', report, '--overwrite', '--json', 'validate.timeout_ms=60000']);
  assert.equal(again.code, 0, again.stderr);
  assert.match(readFileSync(`${report}.config.yaml`, 'utf8'), /timeout_ms: 60000/);
});

test('validate: exit 2 on usage and input errors; JSON progress on stderr, results alone on stdout', async () => {
  const dir = tempDir();
  const report = path.join(dir, 'r.jsonl');
  const noReport = await runCli(['validate', GOOD_IMAGES]);
  assert.equal(noReport.code, 2);
  assert.match(noReport.stderr, /--report/);
  const missing = await runCli(['validate', path.join(dir, 'nope'), '--report', report]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /nope: no such file or directory/);
  const badKey = await runCli(['validate', GOOD_IMAGES, '--report', report, 'validate.timeout=3']);
  assert.equal(badKey.code, 2);
  assert.match(badKey.stderr, /unknown config key 'validate.timeout'/);

  const ok = await runCli(['validate', GOOD_IMAGES, '--report', report, '--json']);
  assert.equal(ok.code, 0, ok.stderr);
  const out = ok.stdout.trimEnd().split('\n');
  assert.equal(out.length, 1, 'stdout carries exactly the summary');
  assert.equal((JSON.parse(out[0]!) as { total: number }).total, 9);
  const events = ok.stderr.trimEnd().split('\n').map((l) => JSON.parse(l) as { event: string; done?: number });
  assert.deepEqual(events.at(-1), { ...events.at(-1), event: 'done', done: 9 });

  const exists = await runCli(['validate', GOOD_IMAGES, '--report', report]);
  assert.equal(exists.code, 2);
  assert.match(exists.stderr, /already exists: pass --resume .* or --overwrite/);

  // A list file naming a file that is not there: exit 2 naming it; the report keeps what came before.
  writeFileSync(path.join(dir, 'list.txt'), `${path.join(GOOD_IMAGES, 'chelsea.jpg')}\ngone.jpg\n`);
  const gone = await runCli(['validate', path.join(dir, 'list.txt'), '--report', path.join(dir, 'g.jsonl')]);
  assert.equal(gone.code, 2);
  assert.match(gone.stderr, /gone\.jpg: cannot open \(ENOENT\)/);
  assert.deepEqual(readLines(path.join(dir, 'g.jsonl')).map((l) => path.basename(l.path)), ['chelsea.jpg']);
});
