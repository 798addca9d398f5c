/**
 * Throughput of `vlkit validate` against the plain sequential PIL full-decode loop (bench/validate_pil.py, Debian
 * python3-pil) over the same files: a few thousand copies of the fixture photos in mixed formats (JPEG incl. CMYK
 * and EXIF-rotated, grey/RGBA/palette PNG, 16-bit TIFF).
 *
 *   node dist/bench/validate.js [copies=3000] [workers=<cores>]
 *
 * Prints images/s for both, the ratio, and the peak RSS of each (vlkit: the CLI process, worker threads included).
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const GOOD = path.join(REPO, 'test/fixtures/images/good');
const CLI = path.join(REPO, 'dist/bin/vlkit.js');
const copies = Number(process.argv[2] ?? 3000);
const workers = Number(process.argv[3] ?? os.availableParallelism());

const dir = mkdtempSync(path.join(os.tmpdir(), 'vlkit-bench-validate-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const imgs = path.join(dir, 'imgs');
const sources = readdirSync(GOOD).sort();
const listed: string[] = [];
for (let i = 0; i < copies; i++) {
  const sub = path.join(imgs, String(Math.floor(i / 1000)).padStart(3, '0'));
  if (i % 1000 === 0) mkdirSync(sub, { recursive: true });
  const src = sources[i % sources.length]!;
  const dst = path.join(sub, `${String(i).padStart(5, '0')}_${src}`);
  copyFileSync(path.join(GOOD, src), dst);
  listed.push(dst);
}
// PIL reads the same files in the same (sorted) order vlkit walks them.
writeFileSync(path.join(dir, 'list.txt'), listed.sort().join('\n') + '\n');

/** Run a command under GNU time for its peak RSS (children of the process included for vlkit's threads). */
function timed(cmd: string, args: string[]): Promise<{ seconds: number; peakMb: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn('/usr/bin/time', ['-f', '%M', cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('close', () => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const kb = Number(stderr.trim().split('\n').at(-1));
      resolve({ seconds, peakMb: kb / 1024, stdout });
    });
  });
}

if (spawnSync('/usr/bin/time', ['-f', '%M', 'true']).status !== 0) throw new Error('bench needs GNU time (/usr/bin/time, Debian package "time")');

// The copies were just written, so both runs read them from the page cache.
const pil = await timed('/usr/bin/python3', [path.join(REPO, 'bench/validate_pil.py'), path.join(dir, 'list.txt')]);
const pilStats = JSON.parse(pil.stdout) as { seconds: number; ok: number; bad: number };
const report = path.join(dir, 'report.jsonl');
const vl = await timed(process.execPath, [CLI, 'validate', imgs, '--report', report, '--workers', String(workers), '--json', '--log-format', 'none']);
const vlStats = JSON.parse(vl.stdout) as { total: number; ok: number; bad: number };

// Wall time of the whole command for both (process start, imports and pool start-up included).
const pilRate = copies / pil.seconds;
const vlRate = vlStats.total / vl.seconds;
console.log(`files: ${copies} copies of ${sources.length} fixture images (${sources.join(', ')}); ${os.availableParallelism()} cores`);
console.log(`PIL sequential Image.open().load(): ${pilRate.toFixed(1)} images/s  (${pil.seconds.toFixed(2)} s, ok ${pilStats.ok}, bad ${pilStats.bad}, peak RSS ${pil.peakMb.toFixed(0)} MB; decode loop alone ${(copies / pilStats.seconds).toFixed(1)} images/s)`);
console.log(`vlkit validate --workers ${workers}:       ${vlRate.toFixed(1)} images/s  (${vl.seconds.toFixed(2)} s, ok ${vlStats.ok}, bad ${vlStats.bad}, peak RSS ${vl.peakMb.toFixed(0)} MB)`);
console.log(`ratio vlkit / PIL: ${(vlRate / pilRate).toFixed(2)}x`);
