/**
 * `vlkit queue` on this machine: the same validate workload (copies of the fixture photos) as one process
 * (`vlkit validate`, the baseline), and through a local redis-server with 1, 2 and 4 `vlkit queue work` processes;
 * then the queue's overhead per shard, from runs of empty shards through the queue vs `--shards` locally (both
 * pay the stage's per-shard start — a worker pool — so their difference is what the queue adds).
 *
 *   node dist/bench/queue.js [images=360] [shards=24]
 *
 * Prints wall time, shards/s, images/s, the ratio to the single process, the queue's overhead share of the wall
 * time, and peak RSS (VmHWM) of the largest worker process.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { QUEUE_NAME, redisOptions } from '../pipeline/queue/connection.js';
import { findRun } from '../pipeline/queue/status.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const GOOD = path.join(REPO, 'test/fixtures/images/good');
const CLI = path.join(REPO, 'dist/bin/vlkit.js');
const images = Number(process.argv[2] ?? 360);
const shards = Number(process.argv[3] ?? 24);

const dir = mkdtempSync(path.join(os.tmpdir(), 'vlkit-bench-queue-'));
const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const imgs = path.join(dir, 'imgs');
mkdirSync(imgs);
const sources = readdirSync(GOOD).sort();
for (let i = 0; i < images; i++) copyFileSync(path.join(GOOD, sources[i % sources.length]!), path.join(imgs, `${String(i).padStart(6, '0')}${path.extname(sources[i % sources.length]!)}`));
const empty = path.join(dir, 'empty.txt');
writeFileSync(empty, '');

function cli(args: string[]): string {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  if (r.status !== 0 && r.status !== 1) throw new Error(`vlkit ${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
  return r.stdout;
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

const port = await freePort();
const url = `redis://127.0.0.1:${port}/0`;
const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
children.push(redis);
for (let i = 0; spawnSync('redis-cli', ['-p', String(port), 'ping']).stdout?.toString().trim() !== 'PONG'; i++) {
  if (i > 50) throw new Error('redis-server did not start');
  await new Promise((r) => setTimeout(r, 100));
}

const queue = new Queue(QUEUE_NAME, { connection: redisOptions(url) });
const hwm = (pid: number): number => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

/** Push a run, start `n` workers, wait until merged; returns wall seconds (push to merged) and peak worker RSS. */
async function viaQueue(inputs: string, report: string, n: number): Promise<{ wall: number; rssMb: number }> {
  const t0 = performance.now();
  const run = JSON.parse(cli(['queue', 'push', 'validate', inputs, '--report', report, '--workers', '1', '--shards', String(shards), '--queue', url])).run as string;
  const workers = Array.from({ length: n }, () => spawn(process.execPath, [CLI, 'queue', 'work', '--queue', url, '--log-format', 'none'], { stdio: 'ignore' }));
  children.push(...workers);
  // Polled in-process over one connection: a `vlkit queue status` process per poll would eat a core here.
  for (;;) {
    const s = (await findRun(queue, run)).status;
    if (s.merged) break;
    if (s.failed > 0) throw new Error(`run ${run}: ${JSON.stringify(s.failures)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const wall = (performance.now() - t0) / 1000;
  const rssMb = Math.max(...workers.map((w) => hwm(w.pid!)));
  await Promise.all(workers.map((w) => new Promise((r) => (w.on('exit', r), w.kill('SIGTERM')))));
  return { wall, rssMb };
}

function timed(args: string[]): number {
  const t0 = performance.now();
  cli(args);
  return (performance.now() - t0) / 1000;
}

const single = timed(['validate', imgs, '--report', path.join(dir, 'single.jsonl'), '--workers', '1', '--log-format', 'none']);
const singleReport = readFileSync(path.join(dir, 'single.jsonl'));
console.log(`workload: ${images} images, ${shards} shards, ${os.availableParallelism()} cores; validate --workers 1 per process`);
console.log(`single process (vlkit validate):  ${single.toFixed(2)} s  ${(images / single).toFixed(1)} images/s  (baseline)`);
const localWall = timed(['validate', imgs, '--report', path.join(dir, 'local.jsonl'), '--workers', '1', '--shards', String(shards), '--log-format', 'none']);
console.log(`local --shards ${shards}:           ${localWall.toFixed(2)} s  ${(shards / localWall).toFixed(2)} shards/s  ratio ${(single / localWall).toFixed(2)}x`);

// Queue overhead per shard: empty shards through the queue (1 worker) minus the same empty shards locally.
const emptyLocal = timed(['validate', empty, '--report', path.join(dir, 'empty-local.jsonl'), '--workers', '1', '--shards', String(shards), '--log-format', 'none']);
const emptyQueue = await viaQueue(empty, path.join(dir, 'empty-queue.jsonl'), 1);
const overhead = Math.max(0, emptyQueue.wall - emptyLocal) / shards;
console.log(`empty shards: queue ${(emptyQueue.wall / shards * 1000).toFixed(0)} ms/shard, local ${(emptyLocal / shards * 1000).toFixed(0)} ms/shard -> queue overhead ${(overhead * 1000).toFixed(0)} ms/shard`);

for (const n of [1, 2, 4]) {
  const report = path.join(dir, `queue-${n}.jsonl`);
  const r = await viaQueue(imgs, report, n);
  const same = readFileSync(report).equals(singleReport);
  // Overhead share: the queue's per-shard cost, spread over the workers, as a share of the wall time.
  const share = (overhead * shards) / n / r.wall;
  console.log(
    `queue, ${n} worker process(es):  ${r.wall.toFixed(2)} s  ${(shards / r.wall).toFixed(2)} shards/s  ${(images / r.wall).toFixed(1)} images/s  ratio ${(single / r.wall).toFixed(2)}x  ` +
      `queue overhead ${(share * 100).toFixed(1)}% of wall  peak worker RSS ${r.rssMb.toFixed(0)} MB  report ${same ? '== single' : 'DIFFERS'}`,
  );
}
await queue.close();
process.exit(0);
