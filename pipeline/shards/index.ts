/**
 * The stages under the shard contract, and the sharded form of a stage command: `--shards N` (local: every shard
 * in turn on this machine's worker pool, then the merge), `--shard-index I --num-shards N` (one shard, for
 * Kubernetes Indexed Jobs / SLURM arrays; `vlkit merge --run-dir DIR` afterwards) and `--shards N --queue URL`
 * (`vlkit queue push`: one BullMQ job per shard).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../../common/errors.js';
import { pushRun } from '../queue/push.js';
import { loadPlan, markerPath, mergeRun as mergeWith, runShard as runWith, savePlan, type Plan, type Stage, type StageAdapter } from './contract.js';
import { arrowAdapter } from './arrow.js';
import { extractAdapter } from './extract.js';
import { validateAdapter } from './validate.js';

export const ADAPTERS: Record<Stage, StageAdapter> = { validate: validateAdapter, arrow: arrowAdapter, extract: extractAdapter };

export const runShard = (runDir: string, index: number) => runWith(ADAPTERS, runDir, index);
export const mergeRun = (runDir: string) => mergeWith(ADAPTERS, runDir);

export interface ShardFlags {
  shards?: number;
  shardIndex?: number;
  numShards?: number;
  runDir?: string;
  queue?: string;
  attempts?: number;
  backoffMs?: number;
}

export function shardingRequested(flags: ShardFlags): boolean {
  return flags.shards !== undefined || flags.shardIndex !== undefined || flags.numShards !== undefined || flags.queue !== undefined;
}

/** Number of shards the flags ask for (after checking they make sense together). */
export function shardCount(flags: ShardFlags): number {
  if (flags.shardIndex !== undefined || flags.numShards !== undefined) {
    if (flags.shards !== undefined || flags.queue !== undefined) throw new UsageError('--shard-index/--num-shards run one shard: not with --shards or --queue');
    if (flags.shardIndex === undefined || flags.numShards === undefined) throw new UsageError('--shard-index I and --num-shards N go together');
    if (flags.shardIndex >= flags.numShards) throw new UsageError(`--shard-index ${flags.shardIndex} must be below --num-shards ${flags.numShards}`);
    return flags.numShards;
  }
  if (flags.shards === undefined) throw new UsageError('--queue needs --shards N');
  return flags.shards;
}

/**
 * Run a planned stage the way the flags say. Prints (stdout) the merged stage summary for `--shards`, the done
 * marker for `--shard-index`, the run id for `--queue`. Returns the exit code.
 */
export async function runSharded(plan: Plan, finalOutput: string, flags: ShardFlags, printSummary: (summary: unknown) => void): Promise<number> {
  const runDir = path.resolve(flags.runDir ?? `${finalOutput}.shards`);
  await savePlan(runDir, plan);
  if (flags.queue !== undefined) {
    const pushed = await pushRun(flags.queue, plan, runDir, { attempts: flags.attempts, backoffMs: flags.backoffMs });
    process.stdout.write(JSON.stringify({ run: plan.run, stage: plan.stage, shards: plan.num_shards, run_dir: runDir, pushed: pushed.added, jobs: pushed.jobs }) + '\n');
    if (!pushed.added) process.stderr.write(`run ${plan.run} is already queued (${pushed.jobs} jobs): nothing pushed\n`);
    return 0;
  }
  if (flags.shardIndex !== undefined) {
    const marker = await runShard(runDir, flags.shardIndex);
    process.stdout.write(JSON.stringify({ ...marker, run_dir: runDir }) + '\n');
    return 0;
  }
  // Local: shards with a done marker (an earlier, interrupted run) are not redone; the merge checks their hashes.
  const plan2 = await loadPlan(runDir);
  for (let i = 0; i < plan2.num_shards; i++) if (!existsSync(markerPath(runDir, i))) await runShard(runDir, i);
  const merged = await mergeRun(runDir);
  printSummary(merged.summary);
  return merged.exitCode;
}
