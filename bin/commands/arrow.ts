/**
 * `vlkit arrow <dataset> --root DIR --out DIR`: write ViLT's Arrow datasets (implementation: pipeline/arrow/), and
 * `vlkit arrow inspect FILE` to look inside one.
 */
import path from 'node:path';
import { Command } from 'commander';
import { getPath, loadConfig, requireNumber, type ConfigTree } from '../../common/config.js';
import { UsageError } from '../../common/errors.js';
import { resolveLogFormat } from '../../common/progress.js';
import { formatInspection, inspectArrowFile } from '../../pipeline/arrow/inspect.js';
import { ARROW_DEFAULTS, DATASET_NAMES, writeArrowDataset, type ArrowDatasetOptions, type DatasetName } from '../../pipeline/arrow/index.js';
import { action, intFlag, splitOverrides, subcommand, withRunOptions } from '../cli.js';
import type { Register } from './index.js';
import { runSharded, shardCount, shardingRequested, type ShardFlags } from '../../pipeline/shards/index.js';
import { planArrow } from '../../pipeline/shards/arrow.js';
import { withShardOptions } from './shard-options.js';

const ABOUT: Record<DatasetName, [string, string]> = {
  coco: ['COCO Karpathy captions → coco_caption_karpathy_{train,restval,val,test}.arrow', 'vlkit arrow coco --root data/coco --out arrow/'],
  f30k: ['Flickr30k Karpathy captions → f30k_caption_karpathy_{train,val,test}.arrow', 'vlkit arrow f30k --root data/f30k --out arrow/'],
  vg: ['Visual Genome region descriptions → vg.arrow', 'vlkit arrow vg --root data/vg --out arrow/ --valid-report vg-valid.jsonl'],
  cc3m: ['Conceptual Captions → conceptual_caption_{train,val}_{k}.arrow', 'vlkit arrow cc3m --root data/cc3m --out arrow/ --skip-missing --shard-size 100000'],
  sbu: ['SBU captions → sbu_{k}.arrow', 'vlkit arrow sbu --root data/sbu --out arrow/ --skip-missing'],
  vqav2: [
    'VQAv2 → vqav2_{train,val,trainable_val,rest_val,test,test-dev}.arrow + ans2label.json/label2ans.json',
    'vlkit arrow vqav2 --root data/vqav2 --out arrow/ --vg-qa data/vg',
  ],
  nlvr2: ['NLVR2 → nlvr2_{train,dev,test1,balanced_*,unbalanced_*}.arrow', 'vlkit arrow nlvr2 --root data/nlvr2 --out arrow/'],
};

interface ArrowFlags extends ShardFlags {
  root?: string;
  out?: string;
  shardSize?: number;
  validReport?: string;
  skipMissing?: boolean;
  vgQa?: string;
  logFormat?: string;
  config?: string;
}

function resolveConfig(dataset: DatasetName, args: string[], flags: ArrowFlags): ConfigTree {
  const { positional, overrides } = splitOverrides(args);
  if (positional.length > 0) throw new UsageError(`unexpected argument '${positional[0]}' (config overrides look like arrow.batch_bytes=1000000)`);
  const defaults: ConfigTree = {
    arrow: { dataset, root: null, out: null, ...ARROW_DEFAULTS, valid_report: null, skip_missing: false, vg_qa: null },
  };
  const config = loadConfig({ defaults, file: flags.config, overrides });
  // Explicit flags win over the config file and overrides; the resolved config records what was used.
  const a = config.arrow as ConfigTree;
  a.dataset = dataset;
  if (flags.root !== undefined) a.root = flags.root;
  if (flags.out !== undefined) a.out = flags.out;
  if (flags.shardSize !== undefined) a.shard_size = flags.shardSize;
  if (flags.validReport !== undefined) a.valid_report = flags.validReport;
  if (flags.skipMissing) a.skip_missing = true;
  if (flags.vgQa !== undefined) a.vg_qa = flags.vgQa;
  return config;
}

function optionalString(config: ConfigTree, key: string): string | undefined {
  const v = getPath(config, key);
  if (v === null || v === undefined || v === '') return undefined;
  if (typeof v !== 'string') throw new UsageError(`config '${key}' must be a path (got ${JSON.stringify(v)})`);
  return v;
}

function registerDataset(group: Command, dataset: DatasetName): void {
  const [summary, example] = ABOUT[dataset];
  const cmd = withShardOptions(withRunOptions(subcommand(group, dataset, summary, example)))
    .argument('[overrides...]', 'config overrides, e.g. arrow.batch_bytes=67108864 arrow.read_ahead=16')
    .option('--root <dir>', 'dataset folder in the layout ViLT reads (see README)')
    .option('--out <dir>', 'where the .arrow files go')
    .option('--shard-size <n>', `rows per file for cc3m/sbu (default ${ARROW_DEFAULTS.shard_size})`, intFlag('--shard-size', 1))
    .option('--valid-report <file>', 'a `vlkit validate` report: drop images it marks bad')
    .option('--skip-missing', 'drop rows whose image is absent (default: stop with an error naming it)');
  if (dataset === 'vqav2') cmd.option('--vg-qa <dir>', 'also write vgqa_train.arrow from this Visual Genome folder (VLC recipe)');
  cmd.action(
    action(`arrow ${dataset}`, async (args: string[], flags: ArrowFlags) => {
      const config = resolveConfig(dataset, args, flags);
      const root = optionalString(config, 'arrow.root');
      const out = optionalString(config, 'arrow.out');
      if (!root) throw new UsageError('--root <dir> is required');
      if (!out) throw new UsageError('--out <dir> is required');
      const arrowOptions: ArrowDatasetOptions = {
        dataset,
        root,
        out,
        shardSize: requireNumber(config, 'arrow.shard_size'),
        validReport: optionalString(config, 'arrow.valid_report'),
        skipMissing: getPath(config, 'arrow.skip_missing') === true,
        vgQa: optionalString(config, 'arrow.vg_qa'),
        batchBytes: requireNumber(config, 'arrow.batch_bytes'),
        readAhead: requireNumber(config, 'arrow.read_ahead'),
        logFormat: resolveLogFormat(flags.logFormat),
        config,
      };
      // --shards / --shard-index / --queue: the same options, run under the shard contract (pipeline/shards).
      if (shardingRequested(flags)) {
        const print = (s: unknown) => process.stdout.write(JSON.stringify(s, null, 2) + '\n');
        return runSharded(await planArrow(arrowOptions, shardCount(flags)), path.join(out, `arrow-${dataset}`), flags, print);
      }
      const result = await writeArrowDataset(arrowOptions);
      process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    }),
  );
}

export const registerArrow: Register = (program: Command) => {
  const group = program
    .command('arrow')
    .description("write ViLT's Arrow datasets (IPC file format, ViLT's file names and schemas) and inspect them")
    .addHelpText('after', '\nExample:\n  $ vlkit arrow coco --root data/coco --out arrow/\n  $ vlkit arrow inspect arrow/coco_caption_karpathy_val.arrow\n');
  for (const dataset of DATASET_NAMES) registerDataset(group, dataset);
  subcommand(group, 'inspect', 'print the schema, row count and first rows of an Arrow file', 'vlkit arrow inspect arrow/vqav2_val.arrow --rows 2')
    .argument('<file>', 'an .arrow file (IPC file format)')
    .option('--rows <n>', 'rows to show', intFlag('--rows', 0), 3)
    .option('--json', 'print one JSON object instead of text')
    .action(
      action('arrow inspect', async (file: string, flags: { rows: number; json?: boolean }) => {
        const x = await inspectArrowFile(file, flags.rows);
        process.stdout.write(flags.json ? JSON.stringify(x) + '\n' : formatInspection(x));
      }),
    );
};
