/**
 * `vlkit queue status` / `retry` / `merge`: what the queue knows about each run, read from BullMQ's job lists.
 * A run is its merge (flow parent) job plus its shard jobs, grouped by `data.run`.
 */
import { Queue, type JobType } from 'bullmq';
import { UsageError } from '../../common/errors.js';
import { checkReachable, QUEUE_NAME, redisOptions } from './connection.js';
import type { ShardJobData } from './push.js';

export interface RunStatus {
  run: string;
  stage: string;
  shards: number;
  waiting: number;
  active: number;
  done: number;
  failed: number;
  merged: boolean;
  failures: { shard: number | 'merge'; reason: string }[];
}

interface RunInfo {
  status: RunStatus;
  runDir: string;
  pushedAt: number;
}

const LISTS: [JobType, 'waiting' | 'active' | 'done' | 'failed'][] = [
  ['wait', 'waiting'],
  ['prioritized', 'waiting'],
  ['delayed', 'waiting'],
  ['waiting-children', 'waiting'],
  ['active', 'active'],
  ['completed', 'done'],
  ['failed', 'failed'],
];

export async function withQueue<T>(url: string, fn: (q: Queue) => Promise<T>): Promise<T> {
  await checkReachable(url);
  const queue = new Queue(QUEUE_NAME, { connection: redisOptions(url) });
  try {
    return await fn(queue);
  } finally {
    await queue.close();
  }
}

/** Every run on the queue, oldest push first. */
export async function readRuns(queue: Queue): Promise<RunInfo[]> {
  const runs = new Map<string, RunInfo>();
  const get = (d: ShardJobData): RunInfo => {
    let r = runs.get(d.run);
    if (!r) {
      r = { status: { run: d.run, stage: d.stage, shards: 0, waiting: 0, active: 0, done: 0, failed: 0, merged: false, failures: [] }, runDir: d.runDir, pushedAt: 0 };
      runs.set(d.run, r);
    }
    return r;
  };
  for (const [type, bucket] of LISTS) {
    for (const job of await queue.getJobs([type], 0, -1, true)) {
      if (!job) continue;
      const d = job.data as ShardJobData;
      const r = get(d);
      if (job.name === 'merge') {
        r.status.shards = d.shards ?? 0;
        r.pushedAt = job.timestamp;
        if (bucket === 'done') r.status.merged = true;
        if (bucket === 'failed') r.status.failures.push({ shard: 'merge', reason: job.failedReason });
        continue;
      }
      r.status[bucket]++;
      if (bucket === 'failed') r.status.failures.push({ shard: d.shard!, reason: job.failedReason });
    }
  }
  for (const r of runs.values()) r.status.failures.sort((a, b) => (a.shard === 'merge' ? 1 : b.shard === 'merge' ? -1 : a.shard - b.shard));
  return [...runs.values()].sort((a, b) => a.pushedAt - b.pushedAt || (a.status.run < b.status.run ? -1 : 1));
}

/** The run named, or the latest pushed. */
export async function findRun(queue: Queue, run: string | undefined): Promise<RunInfo> {
  const runs = await readRuns(queue);
  if (runs.length === 0) throw new UsageError('the queue holds no runs');
  if (run === undefined) return runs[runs.length - 1]!;
  const found = runs.find((r) => r.status.run === run);
  if (!found) throw new UsageError(`no run ${run} on the queue (runs: ${runs.map((r) => r.status.run).join(', ')})`);
  return found;
}

/** Put a run's failed jobs (shards, or its merge) back in the wait list; returns how many. */
export async function retryFailed(queue: Queue, run: string): Promise<number> {
  let n = 0;
  for (const job of await queue.getJobs(['failed'], 0, -1, true)) {
    if (job && (job.data as ShardJobData).run === run) {
      await job.retry('failed');
      n++;
    }
  }
  return n;
}
