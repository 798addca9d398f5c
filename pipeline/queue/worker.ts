/**
 * `vlkit queue work`: a BullMQ worker that runs shard jobs (runShard) and merge jobs (mergeRun) of any run.
 *
 * The stages keep the event loop free — validate decodes on a piscina pool and libuv threads, extract runs ONNX
 * Runtime asynchronously on its own threads — so BullMQ's lock renewal (every lockMs/2) keeps running while a
 * shard is busy. A worker that dies (SIGKILL, lost machine) stops renewing; after lockMs another worker's stalled
 * check puts the job back and the shard is re-run from scratch, rewriting identical bytes (shards/contract.ts).
 * SIGTERM/SIGINT: stop taking jobs, finish the ones in hand, exit 0.
 */
import { Worker, type Job } from 'bullmq';
import { Logger } from '../../common/progress.js';
import { mergeRun, runShard } from '../shards/index.js';
import { checkReachable, QUEUE_NAME, redact, redisOptions } from './connection.js';
import type { ShardJobData } from './push.js';

export interface WorkOptions {
  url: string;
  concurrency: number;
  /** Job lock duration; renewed every lockMs/2 while the job runs. */
  lockMs: number;
  /** How often this worker looks for stalled jobs (default: lockMs). */
  stallMs?: number;
  /** A job found stalled more often than this fails (a shard that kills every worker it lands on). */
  maxStalled: number;
  logger: Logger;
}

export async function work(opts: WorkOptions): Promise<number> {
  await checkReachable(opts.url);
  const log = opts.logger;
  const worker = new Worker<ShardJobData>(
    QUEUE_NAME,
    async (job: Job<ShardJobData>) => {
      const d = job.data;
      const fields = { job: job.id, run: d.run, stage: d.stage, shard: job.name === 'merge' ? 'merge' : d.shard, attempt: job.attemptsMade + 1, pid: process.pid };
      log.info(`${job.id}: start`, { ...fields, status: 'start' });
      const t0 = performance.now();
      if (job.name === 'merge') {
        const merged = await mergeRun(d.runDir);
        log.info(`${job.id}: merged ${merged.rows} rows into ${merged.outputs.join(', ')}`, { ...fields, status: 'merged', rows: merged.rows });
        return { rows: merged.rows, outputs: merged.outputs, exit_code: merged.exitCode };
      }
      const marker = await runShard(d.runDir, d.shard!);
      log.info(`${job.id}: done, ${marker.rows} rows in ${((performance.now() - t0) / 1000).toFixed(2)} s`, { ...fields, status: 'done', rows: marker.rows });
      return marker;
    },
    {
      connection: redisOptions(opts.url),
      concurrency: opts.concurrency,
      lockDuration: opts.lockMs,
      stalledInterval: opts.stallMs ?? opts.lockMs,
      maxStalledCount: opts.maxStalled,
    },
  );
  worker.on('failed', (job, err) => {
    if (job) log.warn(`${job.id}: failed (attempt ${job.attemptsMade}): ${err.message}`, { job: job.id, status: 'failed', reason: err.message, pid: process.pid });
  });
  worker.on('error', (err) => log.warn(`queue ${redact(opts.url)}: ${err.message}`, { status: 'error' }));
  log.info(`worker ${process.pid} on ${redact(opts.url)}, concurrency ${opts.concurrency}`, { status: 'ready', pid: process.pid });

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info(`${signal}: finishing the job(s) in hand, then exiting`, { status: 'stopping', pid: process.pid });
      worker.close().then(resolve, resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  log.info(`worker ${process.pid} stopped`, { status: 'stopped', pid: process.pid });
  return 0;
}
