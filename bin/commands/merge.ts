/** `vlkit merge --run-dir DIR`: merge a sharded run (every shard's done marker present) into the stage's outputs. */
import type { Command } from 'commander';
import { UsageError } from '../../common/errors.js';
import { mergeRun } from '../../pipeline/shards/index.js';
import { action, subcommand } from '../cli.js';
import type { Register } from './index.js';

export const registerMerge: Register = (program: Command) => {
  subcommand(
    program,
    'merge',
    'merge the shards of a --shard-index run (Kubernetes Indexed Job, SLURM array) into the normal outputs',
    'vlkit merge --run-dir /shared/out/report.jsonl.shards',
  )
    .option('--run-dir <dir>', 'the run directory the shards wrote (default name: <output>.shards)')
    .action(
      action('merge', async (flags: { runDir?: string }) => {
        if (!flags.runDir) throw new UsageError('--run-dir <dir> is required');
        const merged = await mergeRun(flags.runDir);
        process.stdout.write(JSON.stringify({ run: merged.run, stage: merged.stage, rows: merged.rows, outputs: merged.outputs, summary: merged.summary }) + '\n');
        return merged.exitCode;
      }),
    );
};
