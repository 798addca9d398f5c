/**
 * `vlkit queue push|work|status|retry|merge`: validate/arrow/extract shards as BullMQ jobs on Redis (pipeline/queue/).
 * `push` hands its arguments to the stage command itself (with `--queue`), so a queued run is planned by exactly
 * the option handling of `vlkit validate` / `vlkit arrow <dataset>` / `vlkit extract`.
 */
import { Command } from 'commander';
import { UsageError } from '../../common/errors.js';
import { Logger, resolveLogFormat } from '../../common/progress.js';
import { STAGES, type Stage } from '../../pipeline/shards/contract.js';
import { mergeRun } from '../../pipeline/shards/index.js';
import { findRun, readRuns, retryFailed, withQueue } from '../../pipeline/queue/status.js';
import { work } from '../../pipeline/queue/worker.js';
import { action, intFlag, subcommand, withRunOptions } from '../cli.js';
import { registerArrow } from './arrow.js';
import { registerExtract } from './extract.js';
import type { Register } from './index.js';
import { registerValidate } from './validate.js';

const URL_HELP = 'Redis URL redis://[user:password@]host:port/db or rediss:// (TLS); the password is never printed';

function requireQueue(flags: { queue?: string }): string {
  if (!flags.queue) throw new UsageError('--queue <url> is required');
  return flags.queue;
}

export const registerQueue: Register = (program: Command) => {
  const queue = program
    .command('queue')
    .description('run validate/arrow/extract shards as BullMQ jobs on Redis: push, work, status, retry, merge')
    .enablePositionalOptions()
    .addHelpText('after', '\nExample:\n  $ vlkit queue push validate /shared/images --report /shared/out/report.jsonl --shards 64 --queue redis://redis:6379/0\n  $ vlkit queue work --queue redis://redis:6379/0\n  $ vlkit queue status --queue redis://redis:6379/0 --json\n');

  const push = subcommand(
    queue,
    'push',
    "enqueue a stage's shards (its own arguments and flags, plus --shards N --queue URL [--attempts N] [--backoff-ms MS])",
    'vlkit queue push validate /shared/images --report /shared/out/report.jsonl --shards 64 --queue redis://redis:6379/0 --attempts 3',
  )
    .argument('<stage>', `${STAGES.join(', ')} (arrow: then the dataset, e.g. 'arrow coco')`)
    .argument('[args...]', "the stage's arguments and flags")
    .passThroughOptions()
    .allowUnknownOption()
    .helpOption(false)
    .action(async (stage: string, args: string[]) => {
      // --help is not an option here (everything after push goes to the stage), so it is looked for by hand.
      if (stage === '--help' || stage === '-h') {
        push.outputHelp();
        return;
      }
      if (!(STAGES as readonly string[]).includes(stage)) {
        process.stderr.write(`vlkit queue push: error: stage must be ${STAGES.join(' or ')} (got '${stage}')\n`);
        process.exit(2);
      }
      if (!args.some((a) => a === '--queue' || a.startsWith('--queue='))) {
        process.stderr.write('vlkit queue push: error: --queue <url> is required\n');
        process.exit(2);
      }
      // The stage command plans the run and, seeing --queue, pushes it instead of running it (and exits).
      const inner = new Command('vlkit').exitOverride();
      ({ validate: registerValidate, arrow: registerArrow, extract: registerExtract })[stage as Stage](inner);
      await inner.parseAsync([stage, ...args], { from: 'user' });
    });

  withRunOptions(
    subcommand(queue, 'work', 'take shard and merge jobs from the queue until SIGTERM (one per machine or GPU)', 'vlkit queue work --queue redis://redis:6379/0 --concurrency 1 --lock-ms 30000')
      .option('--queue <url>', URL_HELP)
      .option('--concurrency <k>', 'shards run at once by this process (default 1; each uses the stage worker pool)', intFlag('--concurrency', 1, 64), 1)
      .option('--lock-ms <ms>', 'job lock, renewed every half of it; a dead worker’s shard is re-run after about this long (default 30000)', intFlag('--lock-ms', 100), 30_000)
      .option('--stall-ms <ms>', 'how often to look for stalled jobs (default: --lock-ms)', intFlag('--stall-ms', 100))
      .option('--max-stalled <n>', 'a job found stalled more than n times fails (default 3)', intFlag('--max-stalled', 0), 3),
  ).action(
    action('queue work', async (flags: { queue?: string; concurrency: number; lockMs: number; stallMs?: number; maxStalled: number; logFormat?: string }) =>
      work({
        url: requireQueue(flags),
        concurrency: flags.concurrency,
        lockMs: flags.lockMs,
        stallMs: flags.stallMs,
        maxStalled: flags.maxStalled,
        logger: new Logger(resolveLogFormat(flags.logFormat)),
      }),
    ),
  );

  subcommand(queue, 'status', 'shards waiting/active/done/failed per run, with failure reasons', 'vlkit queue status --queue redis://redis:6379/0 --json')
    .option('--queue <url>', URL_HELP)
    .option('--run <id>', 'only this run')
    .option('--json', 'one JSON object per run and line: {"run","stage","shards","waiting","active","done","failed","merged","failures"}')
    .action(
      action('queue status', async (flags: { queue?: string; run?: string; json?: boolean }) => {
        const runs = await withQueue(requireQueue(flags), async (q) => (flags.run ? [await findRun(q, flags.run)] : await readRuns(q)));
        for (const { status: s } of runs) {
          if (flags.json) {
            process.stdout.write(JSON.stringify(s) + '\n');
            continue;
          }
          process.stdout.write(`${s.run}  ${s.stage}  ${s.shards} shards: ${s.waiting} waiting, ${s.active} active, ${s.done} done, ${s.failed} failed, ${s.merged ? 'merged' : 'not merged'}\n`);
          for (const f of s.failures) process.stdout.write(`  shard ${f.shard}: ${f.reason}\n`);
        }
        return 0;
      }),
    );

  subcommand(queue, 'retry', "re-queue a run's failed shards (and its merge, if that failed)", 'vlkit queue retry --queue redis://redis:6379/0 --run 3f2a9c0d1e2b4a5c')
    .option('--queue <url>', URL_HELP)
    .option('--run <id>', 'the run (required)')
    .action(
      action('queue retry', async (flags: { queue?: string; run?: string }) => {
        if (!flags.run) throw new UsageError('--run <id> is required');
        const run = flags.run;
        const n = await withQueue(requireQueue(flags), async (q) => {
          await findRun(q, run);
          return retryFailed(q, run);
        });
        process.stdout.write(JSON.stringify({ run, retried: n }) + '\n');
        return 0;
      }),
    );

  subcommand(queue, 'merge', 'merge a run by hand, here (normally its flow parent job does it when the last shard completes)', 'vlkit queue merge --queue redis://redis:6379/0 --run 3f2a9c0d1e2b4a5c')
    .option('--queue <url>', URL_HELP)
    .option('--run <id>', 'the run (default: the latest pushed)')
    .action(
      action('queue merge', async (flags: { queue?: string; run?: string }) => {
        const info = await withQueue(requireQueue(flags), (q) => findRun(q, flags.run));
        const merged = await mergeRun(info.runDir);
        process.stdout.write(JSON.stringify({ run: merged.run, stage: merged.stage, rows: merged.rows, outputs: merged.outputs, summary: merged.summary }) + '\n');
        return merged.exitCode;
      }),
    );
};
