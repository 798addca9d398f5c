/**
 * `vlkit queue push`: one BullMQ flow per run — a parent `merge` job whose children are the shard jobs. BullMQ
 * moves the parent to the wait list when its last child completes, so the merge runs exactly then, on whichever
 * worker takes it. Job ids are `<run>:<stage>:<i>` (parent `<run>:<stage>:merge`): pushing the same run again
 * finds the parent and adds nothing.
 */
import { FlowProducer, Queue } from 'bullmq';
import type { Plan } from '../shards/contract.js';
import { checkReachable, QUEUE_NAME, redisOptions } from './connection.js';

export interface ShardJobData {
  run: string;
  stage: string;
  runDir: string;
  /** Shard index; absent on the merge job. */
  shard?: number;
  /** Number of shards (merge job). */
  shards?: number;
}

export const shardJobId = (run: string, stage: string, i: number): string => `${run}:${stage}:${i}`;
export const mergeJobId = (run: string, stage: string): string => `${run}:${stage}:merge`;

export async function pushRun(url: string, plan: Plan, runDir: string, opts: { attempts?: number; backoffMs?: number }): Promise<{ added: boolean; jobs: number }> {
  await checkReachable(url);
  const connection = redisOptions(url);
  const queue = new Queue(QUEUE_NAME, { connection });
  try {
    if (await queue.getJob(mergeJobId(plan.run, plan.stage))) return { added: false, jobs: plan.num_shards };
    const jobOpts = { attempts: opts.attempts ?? 3, backoff: { type: 'exponential' as const, delay: opts.backoffMs ?? 1000 } };
    const flow = new FlowProducer({ connection });
    try {
      await flow.add({
        name: 'merge',
        queueName: QUEUE_NAME,
        data: { run: plan.run, stage: plan.stage, runDir, shards: plan.num_shards } satisfies ShardJobData,
        opts: { jobId: mergeJobId(plan.run, plan.stage), ...jobOpts },
        children: plan.slices.map((_, i) => ({
          name: 'shard',
          queueName: QUEUE_NAME,
          data: { run: plan.run, stage: plan.stage, runDir, shard: i } satisfies ShardJobData,
          opts: { jobId: shardJobId(plan.run, plan.stage, i), ...jobOpts },
        })),
      });
    } finally {
      await flow.close();
    }
    return { added: true, jobs: plan.num_shards };
  } finally {
    await queue.close();
  }
}
