/**
 * Benchmark: `vlkit arrow coco` peak memory at 1k vs 10k rows (target ≤ 1.2x: memory must stay flat as the dataset
 * grows) and throughput in rows/s. Each size runs in its own child process so `maxRSS` is that run's own peak.
 *
 *   npm run build && node dist/bench/arrow.js [small=1000] [large=10000] [batch MiB, default: arrow.batch_bytes]
 *
 * The dataset is COCO-style (Karpathy json + train2014/), its images symlinks to the fixture photos in turn
 * (31 kB–180 kB, ~74 kB mean), so the 10k-row file is ~0.7 GB.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ARROW_DEFAULTS, writeArrowDataset } from '../pipeline/arrow/index.js';

const HERE = fileURLToPath(import.meta.url);
const PHOTOS = path.resolve(path.dirname(HERE), '../../test/fixtures/images/good');

function makeCoco(root: string, rows: number): void {
  const photos = readdirSync(PHOTOS).sort();
  mkdirSync(path.join(root, 'train2014'), { recursive: true });
  mkdirSync(path.join(root, 'karpathy'), { recursive: true });
  const images = [];
  for (let i = 0; i < rows; i++) {
    const filename = `COCO_train2014_${String(i).padStart(12, '0')}.jpg`;
    symlinkSync(path.join(PHOTOS, photos[i % photos.length]!), path.join(root, 'train2014', filename));
    images.push({ filepath: 'train2014', filename, split: 'train', sentences: [{ raw: `A photo, number ${i}.` }, { raw: 'Another caption.' }] });
  }
  writeFileSync(path.join(root, 'karpathy/dataset_coco.json'), JSON.stringify({ images }));
}

interface ChildResult {
  rows: number;
  seconds: number;
  maxRssMiB: number;
  bytes: number;
}

async function child(root: string, out: string, batchBytes: number): Promise<void> {
  const t0 = process.hrtime.bigint();
  const r = await writeArrowDataset({ dataset: 'coco', root, out, batchBytes });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const result: ChildResult = {
    rows: r.files.reduce((n, f) => n + f.rows, 0),
    seconds,
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
    bytes: r.files.reduce((n, f) => n + f.bytes, 0),
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

function run(rows: number, work: string, batchBytes: number): ChildResult {
  const root = path.join(work, `coco-${rows}`);
  const out = path.join(work, `out-${rows}`);
  makeCoco(root, rows);
  const stdout = execFileSync(process.execPath, [HERE, '--child', root, out, String(batchBytes)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  rmSync(out, { recursive: true, force: true });
  return JSON.parse(stdout) as ChildResult;
}

if (process.argv[2] === '--child') {
  await child(process.argv[3]!, process.argv[4]!, Number(process.argv[5]));
} else {
  const small = Number(process.argv[2] ?? 1000);
  const large = Number(process.argv[3] ?? 10000);
  const batchBytes = process.argv[4] ? Number(process.argv[4]) * 2 ** 20 : ARROW_DEFAULTS.batch_bytes;
  const work = mkdtempSync(path.join(os.tmpdir(), 'vlkit-bench-arrow-'));
  try {
    const a = run(small, work, batchBytes);
    const b = run(large, work, batchBytes);
    const line = (r: ChildResult) =>
      `${String(r.rows).padStart(7)} rows  ${(r.bytes / 2 ** 20).toFixed(0).padStart(6)} MiB written  ${r.seconds.toFixed(2).padStart(7)} s  ${(r.rows / r.seconds).toFixed(0).padStart(6)} rows/s  peak RSS ${r.maxRssMiB.toFixed(0)} MiB`;
    console.log(`vlkit arrow coco (record batches of ${batchBytes / 2 ** 20} MiB, read-ahead ${ARROW_DEFAULTS.read_ahead}), each size in its own process`);
    console.log(line(a));
    console.log(line(b));
    const ratio = b.maxRssMiB / a.maxRssMiB;
    console.log(`peak RSS ratio ${large}/${small} rows: ${ratio.toFixed(2)}x (target <= 1.2x) ${ratio <= 1.2 ? 'PASS' : 'FAIL'}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
