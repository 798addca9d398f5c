import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { BAD_IMAGES, CLI, GOOD_IMAGES, runCli, tempDir } from './helpers.js';

/** A collection of `n` files cycling through the good fixtures, with the bad fixtures mixed in. */
function collection(dir: string, n: number): string {
  const imgs = path.join(dir, 'imgs');
  mkdirSync(imgs, { recursive: true });
  const sources = [...readdirSync(GOOD_IMAGES).map((f) => path.join(GOOD_IMAGES, f)), ...readdirSync(BAD_IMAGES).map((f) => path.join(BAD_IMAGES, f))];
  for (let i = 0; i < n; i++) {
    const src = sources[i % sources.length]!;
    copyFileSync(src, path.join(imgs, `${String(i).padStart(4, '0')}_${path.basename(src)}`));
  }
  return imgs;
}

const lineCount = (file: string): number => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').length - 1 : 0);

test('validate --resume: killed with SIGKILL mid-run, resumed, gives the uninterrupted report byte for byte', async () => {
  const dir = tempDir();
  const n = 260;
  const imgs = collection(dir, n);
  const reference = path.join(dir, 'reference.jsonl');
  const ref = await runCli(['validate', imgs, '--report', reference, '--workers', '2', '--log-format', 'none']);
  assert.equal(ref.code, 1, ref.stderr);
  assert.equal(lineCount(reference), n);

  const report = path.join(dir, 'killed.jsonl');
  const child = spawn(process.execPath, [CLI, 'validate', imgs, '--report', report, '--workers', '2', '--log-format', 'none'], { stdio: 'ignore' });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  while (lineCount(report) < 10) await new Promise((r) => setTimeout(r, 5));
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL');
  const before = lineCount(report);
  assert.ok(before >= 10 && before < n, `killed mid-run (${before} of ${n} lines)`);
  // A write cut short by the kill leaves a fragment without its newline: resume must drop it, not keep it.
  appendFileSync(report, '{"path":"/half/writ');

  const resumed = await runCli(['validate', imgs, '--report', report, '--resume', '--workers', '2', '--json', '--log-format', 'json']);
  assert.equal(resumed.code, 1, resumed.stderr);
  assert.equal(readFileSync(report, 'utf8'), readFileSync(reference, 'utf8'));
  const summary = JSON.parse(resumed.stdout) as { total: number; resumed: number };
  assert.equal(summary.total, n);
  assert.ok(summary.resumed >= before, `${summary.resumed} lines carried over`);
  assert.match(resumed.stderr, /"msg":"resuming: \d+ file\(s\) already in/);

  // Resuming a complete report validates nothing more and changes nothing.
  const again = await runCli(['validate', imgs, '--report', report, '--resume', '--json', '--log-format', 'none']);
  assert.equal(again.code, 1);
  assert.equal((JSON.parse(again.stdout) as { resumed: number }).resumed, n);
  assert.equal(readFileSync(report, 'utf8'), readFileSync(reference, 'utf8'));
});
