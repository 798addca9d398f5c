/**
 * `vlkit validate <dir|list.txt>... --report report.jsonl`: fully decode every image, classify the bad ones, write
 * one JSON line per file, print a summary. Exit 1 when any file is bad. Implementation: pipeline/validate/run.ts.
 */
import { Command } from 'commander';
import { loadConfig, requireNumber, writeResolvedConfig } from '../../common/config.js';
import { EXIT_OK, EXIT_PROBLEMS, UsageError } from '../../common/errors.js';
import { resolveLogFormat } from '../../common/progress.js';
import { formatSummary, type ValidateSummary } from '../../pipeline/validate/summary.js';
import { assertReportUsable, VALIDATE_DEFAULTS, validateCollection, type ValidateOptions } from '../../pipeline/validate/run.js';
import { action, intFlag, splitOverrides, subcommand, withRunOptions } from '../cli.js';
import type { Register } from './index.js';
import { runSharded, shardCount, shardingRequested, type ShardFlags } from '../../pipeline/shards/index.js';
import { planValidate } from '../../pipeline/shards/validate.js';
import { withShardOptions } from './shard-options.js';

interface ValidateFlags extends ShardFlags {
  report?: string;
  workers?: number;
  fix?: string;
  resume?: boolean;
  overwrite?: boolean;
  maxPixels?: number;
  timeoutMs?: number;
  json?: boolean;
  logFormat?: string;
  config?: string;
}

export const registerValidate: Register = (program: Command) => {
  withShardOptions(withRunOptions(
    subcommand(
      program,
      'validate',
      'fully decode every image, classify broken ones, write a JSON-lines report and a summary',
      'vlkit validate data/coco/train2014 data/extra.txt --report out/valid.jsonl --workers 4 --fix out/fixed validate.timeout_ms=10000',
    )
      .argument('<inputs...>', 'image directories (walked, image extensions) and list files (one path per line); `validate.key=value` overrides')
      .option('--report <file>', 'JSON-lines report, one line per file (required)')
      .option('--workers <n>', 'worker threads (default: one per core; config validate.workers)', intFlag('--workers', 1, 256))
      .option('--fix <dir>', 'write an upright 8-bit sRGB JPEG (PNG with alpha) copy of each good image under DIR, same relative path')
      .option('--resume', 'continue an existing report: skip files already in it, append the rest')
      .option('--overwrite', 'start an existing report over (without --resume or this, an existing report is refused)')
      .option('--max-pixels <n>', `pixel limit per image, from the header (default ${VALIDATE_DEFAULTS.max_pixels}, PIL's)`, intFlag('--max-pixels', 1))
      .option('--timeout-ms <ms>', `per-image deadline (default ${VALIDATE_DEFAULTS.timeout_ms})`, intFlag('--timeout-ms', 1))
      .option('--json', 'print the summary as one JSON object instead of a table'),
  )).action(
    action('validate', async (args: string[], flags: ValidateFlags): Promise<number> => {
      const { positional, overrides } = splitOverrides(args);
      if (!flags.report) throw new UsageError('--report <file> is required');
      if (flags.resume && flags.overwrite) throw new UsageError('--resume and --overwrite contradict each other');
      if (positional.length === 0) throw new UsageError('name at least one image directory or list file');
      const config = loadConfig({ defaults: { validate: { ...VALIDATE_DEFAULTS } }, file: flags.config, overrides });
      // Explicit flags win over the config file and overrides; the resolved config records what was used.
      const v = config.validate as Record<string, number>;
      if (flags.workers !== undefined) v.workers = flags.workers;
      if (flags.maxPixels !== undefined) v.max_pixels = flags.maxPixels;
      if (flags.timeoutMs !== undefined) v.timeout_ms = flags.timeoutMs;
      const num = (k: string): number => requireNumber(config, `validate.${k}`);
      const opts: ValidateOptions = {
        inputs: positional,
        report: flags.report,
        workers: num('workers'),
        maxPixels: num('max_pixels'),
        timeoutMs: num('timeout_ms'),
        maxFileBytes: num('max_file_bytes'),
        fix: flags.fix ? { dir: flags.fix, jpegQuality: num('jpeg_quality') } : undefined,
        resume: flags.resume,
        overwrite: flags.overwrite,
        logFormat: resolveLogFormat(flags.logFormat),
      };
      assertReportUsable(opts);
      await writeResolvedConfig(`${flags.report}.config.yaml`, config);
      // --shards / --shard-index / --queue: the same options, run under the shard contract (pipeline/shards).
      if (shardingRequested(flags)) {
        const print = (s: unknown) => process.stdout.write(flags.json ? JSON.stringify(s) + '\n' : formatSummary(s as ValidateSummary));
        return runSharded(await planValidate(opts, shardCount(flags)), opts.report, flags, print);
      }
      const summary = await validateCollection(opts);
      process.stdout.write(flags.json ? JSON.stringify(summary) + '\n' : formatSummary(summary));
      return summary.bad > 0 ? EXIT_PROBLEMS : EXIT_OK;
    }),
  );
};
