/** `vlkit extract`: bottom-up region features with an ONNX detector, written as LXMERT's TSV (see features/README.md). */
import { Option, type Command } from 'commander';
import { applyOverride, loadConfig, mergeConfig, requireNumber, writeResolvedConfig, type ConfigTree } from '../../common/config.js';
import { EXIT_OK, EXIT_PROBLEMS, UsageError } from '../../common/errors.js';
import { Logger, resolveLogFormat } from '../../common/progress.js';
import type { DetectorNames } from '../../features/contract.js';
import { defaultWorkers, extractFeatures, type ExtractOptions } from '../../features/extract.js';
import { parseShard, type IdFrom } from '../../features/inputs.js';
import { EXECUTION_PROVIDERS, type ExecutionProvider } from '../../features/session.js';
import { action, intFlag, numberFlag, splitOverrides, subcommand, withRunOptions } from '../cli.js';
import type { Register } from './index.js';
import { runSharded, shardCount, shardingRequested, type ShardFlags } from '../../pipeline/shards/index.js';
import { planExtract } from '../../pipeline/shards/extract.js';
import { withShardOptions } from './shard-options.js';

const DEFAULTS: ConfigTree = {
  model: null,
  images: [],
  out: null,
  min_boxes: 10,
  max_boxes: 100,
  conf_thresh: 0.2,
  ep: 'auto',
  batch: 1,
  workers: null,
  prefetch: null,
  shard: null,
  id_from: 'name',
  boxes_from: null,
  names: { image: 'image', im_info: 'im_info', rois_in: 'rois_in', rois: 'rois', cls_prob: 'cls_prob', attr_prob: 'attr_prob', pool5_flat: 'pool5_flat' },
};

interface Flags extends ShardFlags {
  model?: string;
  images?: string[];
  out?: string;
  boxes?: number;
  minBoxes?: number;
  maxBoxes?: number;
  confThresh?: number;
  ep?: string;
  batch?: number;
  workers?: number;
  prefetch?: number;
  shard?: string;
  idFrom?: string;
  boxesFrom?: string;
  imageInput?: string;
  imInfoInput?: string;
  roisInput?: string;
  roisOutput?: string;
  clsProbOutput?: string;
  attrProbOutput?: string;
  featuresOutput?: string;
  logFormat?: string;
  config?: string;
}

function str(tree: ConfigTree, key: string): string {
  const v = tree[key];
  if (typeof v !== 'string' || v === '') throw new UsageError(`--${key.replace(/_/g, '-')} is required (or '${key}' in --config)`);
  return v;
}

function int(tree: ConfigTree, key: string, min: number): number {
  const v = tree[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new UsageError(`'${key}' must be an integer >= ${min} (got ${JSON.stringify(v)})`);
  return v;
}

export const registerExtract: Register = (program: Command) => {
  const cmd = subcommand(
    program,
    'extract',
    'bottom-up region features from an ONNX Faster R-CNN into an LXMERT TSV (resumable, shardable)',
    'vlkit extract --model butd_resnet101.onnx --images val2014/ --out val2014_obj36.tsv --boxes 36 --shard 0/4',
  )
    .argument('[overrides...]', 'config overrides key.path=value')
    .option('--model <file>', 'ONNX detector meeting the contract in features/README.md')
    .option('--images <dir|list>', 'image folder (walked, sorted) or list file; repeatable', (v: string, prev: string[] = []) => [...prev, v])
    .option('--out <file>', 'output TSV; an existing one is resumed')
    .option('--boxes <n>', 'exactly n boxes per image (sets --min-boxes and --max-boxes; LXMERT used 36)', intFlag('--boxes', 1))
    .option('--min-boxes <n>', 'at least n boxes (default 10)', intFlag('--min-boxes', 0))
    .option('--max-boxes <n>', 'at most n boxes (default 100)', intFlag('--max-boxes', 1))
    .option('--conf-thresh <p>', 'keep boxes whose best class score is >= p (default 0.2)', numberFlag('--conf-thresh'))
    .addOption(new Option('--ep <provider>', 'execution provider (default auto: cuda, then webgpu, then cpu)').choices([...EXECUTION_PROVIDERS]))
    .option('--batch <n>', 'images per session.run, for models with a dynamic batch dimension (default 1)', intFlag('--batch', 1, 256))
    .option('--workers <n>', `decode/resize worker threads (default ${defaultWorkers()})`, intFlag('--workers', 1, 256))
    .option('--prefetch <n>', 'images decoded ahead of inference (default 2 x workers + batch)', intFlag('--prefetch', 1))
    .option('--shard <i/N>', 'process only slice i (0-based) of N contiguous slices of the sorted image list')
    .addOption(new Option('--id-from <how>', 'img_id from the file name or the relative path, both without extension (default name)').choices(['name', 'relpath']))
    .option('--boxes-from <json>', 'extract features for given boxes {img_id: [[x1,y1,x2,y2],...]} (model needs a rois_in input)')
    .option('--image-input <name>', "name of the image input (default 'image')")
    .option('--im-info-input <name>', "name of the im_info input (default 'im_info')")
    .option('--rois-input <name>', "name of the optional rois input (default 'rois_in')")
    .option('--rois-output <name>', "name of the rois output (default 'rois')")
    .option('--cls-prob-output <name>', "name of the class probabilities output (default 'cls_prob')")
    .option('--attr-prob-output <name>', "name of the attribute probabilities output (default 'attr_prob')")
    .option('--features-output <name>', "name of the region features output (default 'pool5_flat')");
  withShardOptions(withRunOptions(cmd)).action(
    action('extract', async (args: string[], flags: Flags) => {
      const { positional, overrides } = splitOverrides(args);
      if (positional.length > 0) throw new UsageError(`unexpected argument '${positional[0]}' (images go in --images)`);
      const fromFlags: ConfigTree = {};
      const set = (key: string, v: string | number | string[] | undefined) => {
        if (v !== undefined) fromFlags[key] = v;
      };
      set('model', flags.model);
      set('images', flags.images);
      set('out', flags.out);
      set('min_boxes', flags.boxes ?? flags.minBoxes);
      set('max_boxes', flags.boxes ?? flags.maxBoxes);
      set('conf_thresh', flags.confThresh);
      set('ep', flags.ep);
      set('batch', flags.batch);
      set('workers', flags.workers);
      set('prefetch', flags.prefetch);
      set('shard', flags.shard);
      set('id_from', flags.idFrom);
      set('boxes_from', flags.boxesFrom);
      const names: ConfigTree = {};
      const nameFlags: [string, string | undefined][] = [
        ['image', flags.imageInput],
        ['im_info', flags.imInfoInput],
        ['rois_in', flags.roisInput],
        ['rois', flags.roisOutput],
        ['cls_prob', flags.clsProbOutput],
        ['attr_prob', flags.attrProbOutput],
        ['pool5_flat', flags.featuresOutput],
      ];
      for (const [k, v] of nameFlags) if (v !== undefined) names[k] = v;
      if (Object.keys(names).length > 0) fromFlags.names = names;
      if (flags.boxes !== undefined && (flags.minBoxes !== undefined || flags.maxBoxes !== undefined)) {
        throw new UsageError('--boxes sets both --min-boxes and --max-boxes: give either --boxes or those two');
      }

      let tree = mergeConfig(loadConfig({ defaults: DEFAULTS, file: flags.config }), fromFlags);
      for (const o of overrides) applyOverride(tree, o);
      tree = structuredClone(tree);

      const images = tree.images;
      if (!Array.isArray(images) || images.length === 0 || !images.every((v) => typeof v === 'string')) throw new UsageError('--images is required');
      const minBoxes = int(tree, 'min_boxes', 0);
      const maxBoxes = int(tree, 'max_boxes', 1);
      if (minBoxes > maxBoxes) throw new UsageError(`--min-boxes ${minBoxes} is larger than --max-boxes ${maxBoxes}`);
      const ep = tree.ep as string;
      if (!(EXECUTION_PROVIDERS as readonly string[]).includes(ep)) throw new UsageError(`ep must be one of ${EXECUTION_PROVIDERS.join(', ')} (got '${ep}')`);
      const idFrom = tree.id_from;
      if (idFrom !== 'name' && idFrom !== 'relpath') throw new UsageError(`id_from must be name or relpath (got '${String(idFrom)}')`);
      const n = tree.names as ConfigTree;
      const detectorNames: DetectorNames = {
        image: str(n, 'image'),
        imInfo: str(n, 'im_info'),
        roisIn: str(n, 'rois_in'),
        rois: str(n, 'rois'),
        clsProb: str(n, 'cls_prob'),
        attrProb: str(n, 'attr_prob'),
        features: str(n, 'pool5_flat'),
      };
      const out = str(tree, 'out');
      const logFormat = resolveLogFormat(flags.logFormat);
      const logger = new Logger(logFormat);
      const extractOptions: ExtractOptions = {
        model: str(tree, 'model'),
        images: images as string[],
        out,
        select: { confThresh: requireNumber(tree, 'conf_thresh'), minBoxes, maxBoxes },
        ep: ep as ExecutionProvider,
        batch: int(tree, 'batch', 1),
        workers: tree.workers === null ? defaultWorkers() : int(tree, 'workers', 1),
        prefetch: tree.prefetch === null ? undefined : int(tree, 'prefetch', 1),
        shard: tree.shard === null ? undefined : parseShard(String(tree.shard)),
        idFrom: idFrom as IdFrom,
        names: detectorNames,
        boxesFrom: typeof tree.boxes_from === 'string' ? tree.boxes_from : undefined,
        logFormat,
      };
      // --shards / --shard-index / --queue: the same options, run under the shard contract (pipeline/shards).
      if (shardingRequested(flags)) {
        await writeResolvedConfig(`${out}.config.yaml`, tree);
        const print = (s: unknown) => process.stdout.write(JSON.stringify(s) + '\n');
        return runSharded(await planExtract(extractOptions, shardCount(flags)), out, flags, print);
      }
      const summary = await extractFeatures(extractOptions, logger);
      await writeResolvedConfig(`${out}.config.yaml`, tree);
      const busy = summary.wallS > 0 ? summary.sessionBusyS / summary.wallS : 0;
      process.stdout.write(
        JSON.stringify({
          out,
          provider: summary.provider,
          images_listed: summary.listed,
          images_in_shard: summary.inShard,
          already_done: summary.alreadyDone,
          written: summary.written,
          failed: summary.failed.length,
          failures: summary.failed,
          wall_s: Number(summary.wallS.toFixed(3)),
          images_per_s: summary.wallS > 0 ? Number((summary.written / summary.wallS).toFixed(2)) : 0,
          session_busy_fraction: Number(busy.toFixed(3)),
        }) + '\n',
      );
      return summary.failed.length > 0 ? EXIT_PROBLEMS : EXIT_OK;
    }),
  );
};
