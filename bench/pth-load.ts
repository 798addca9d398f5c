/**
 * Loading a ~530 MB BERT-base-shaped float32 state dict: vlkit's TypeScript reader vs `torch.load` (Debian
 * python3-torch 1.13), each in its own child process so peak RSS is the loader's alone (base RSS = process before
 * loading: Node alone, or Python with torch imported).
 *
 *   npx tsc -p tsconfig.json && node dist/bench/pth-load.js [--runs 3]
 *
 * Prints "skipped" when /usr/bin/python3 cannot import torch (it generates the checkpoint).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readStateDict } from '../train/weights/index.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../..');
const PY = '/usr/bin/python3';
const SCRIPT = path.join(REPO, 'bench/pth_load.py');

interface Result {
  seconds: number;
  peakRss: number;
  baseRss: number;
  tensors: number;
  bytes: number;
}

function child(file: string): void {
  const baseRss = process.resourceUsage().maxRSS * 1024;
  const start = performance.now();
  const sd = readStateDict(file);
  const seconds = (performance.now() - start) / 1000;
  let bytes = 0;
  for (const t of sd.values()) bytes += t.data.byteLength;
  process.stdout.write(JSON.stringify({ seconds, peakRss: process.resourceUsage().maxRSS * 1024, baseRss, tensors: sd.size, bytes }) + '\n');
}

function run(cmd: string, args: string[]): Result {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Result;
}

const mb = (b: number): string => `${(b / 2 ** 20).toFixed(0)} MiB`;

function main(): void {
  const args = process.argv.slice(2);
  if (args[0] === '--child') return child(args[1]!);
  const runs = Number(args[args.indexOf('--runs') + 1] || 3) || 3;
  const probe = spawnSync(PY, ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    console.log(`pth-load: skipped (${PY} cannot import torch: install Debian python3-torch)`);
    return;
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vlkit-bench-pth-'));
  try {
    const file = path.join(dir, 'bert-base.pth');
    const make = spawnSync(PY, [SCRIPT, 'make', file], { encoding: 'utf8' });
    if (make.status !== 0) throw new Error(`generating the checkpoint failed: ${make.stderr}`);
    console.log(`checkpoint: ${mb(statSync(file).size)} (${file})`);
    const best = (xs: Result[]): Result => xs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
    const ts: Result[] = [];
    const py: Result[] = [];
    for (let i = 0; i < runs; i++) {
      ts.push(run(process.execPath, [fileURLToPath(import.meta.url), '--child', file]));
      py.push(run(PY, [SCRIPT, 'load', file]));
    }
    const a = best(ts);
    const b = best(py);
    if (a.tensors !== b.tensors || a.bytes !== b.bytes) throw new Error(`loaders disagree: ${JSON.stringify({ a, b })}`);
    console.log(`tensors: ${a.tensors}, ${mb(a.bytes)} of data; best of ${runs} runs each`);
    console.log(`vlkit readStateDict: ${a.seconds.toFixed(3)} s, peak RSS ${mb(a.peakRss)} (base ${mb(a.baseRss)}, +${mb(a.peakRss - a.baseRss)})`);
    console.log(`torch.load (1.13):   ${b.seconds.toFixed(3)} s, peak RSS ${mb(b.peakRss)} (base ${mb(b.baseRss)}, +${mb(b.peakRss - b.baseRss)})`);
    console.log(`ratio vlkit/torch: time ${(a.seconds / b.seconds).toFixed(2)}x, added RSS ${((a.peakRss - a.baseRss) / (b.peakRss - b.baseRss)).toFixed(2)}x`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
