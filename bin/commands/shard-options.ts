/** The sharding flags shared by `vlkit validate`, `vlkit arrow <dataset>` and `vlkit extract` (pipeline/shards/index.ts runs them). */
import { Option, type Command } from 'commander';
import { intFlag } from '../cli.js';

/** The sharding flags of validate/arrow/extract (the queue ones hidden: `vlkit queue push` passes them). */
export function withShardOptions(cmd: Command): Command {
  return cmd
    .option('--shards <n>', 'split the run into N contiguous shards, run them here one after another and merge (resumable per shard)', intFlag('--shards', 1, 1_000_000))
    .option('--shard-index <i>', 'run only shard I of --num-shards N (Kubernetes $JOB_COMPLETION_INDEX, SLURM $SLURM_ARRAY_TASK_ID); then `vlkit merge --run-dir DIR`', intFlag('--shard-index', 0))
    .option('--num-shards <n>', 'number of shards of the plan, with --shard-index', intFlag('--num-shards', 1, 1_000_000))
    .option('--run-dir <dir>', 'shard plan, shard outputs and done markers (default: <output>.shards; must be on a filesystem every worker shares)')
    .addOption(new Option('--queue <url>', 'enqueue the shards on BullMQ/Redis instead of running them (what `vlkit queue push` does)').hideHelp())
    .addOption(new Option('--attempts <n>', 'queue: attempts per shard').argParser(intFlag('--attempts', 1, 1000)).hideHelp())
    .addOption(new Option('--backoff-ms <ms>', 'queue: first retry delay, doubling').argParser(intFlag('--backoff-ms', 0)).hideHelp());
}
