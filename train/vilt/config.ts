/**
 * The ViLT/VLC run configuration (configs/vilt/*.yaml) read into typed settings. Keys follow ViLT's config.py
 * where one exists (`per_gpu_batchsize`, `batch_size`, `load_path`, `whole_word_masking`, `mae_weight`,
 * `draw_false_text`, `max_text_len`, `image_size`, `patch_size`, `hidden_size`, …).
 *
 * Batch: ViLT accumulates `batch_size / per_gpu_batchsize` micro-batches per update; here that becomes the
 * engine's `train.batch_size` (= per_gpu_batchsize) and `train.accumulate`, written back into the resolved config.
 */
import type { ConfigTree } from '../../common/config.js';
import { UsageError } from '../../common/errors.js';
import { configReader, int1, resolveBatchTree } from '../config-reader.js';
import type { TransformSpec } from './transforms.js';

export const TASKS = ['mlm_itm', 'mlm_itm_mae', 'vqa', 'nlvr2', 'irtr'] as const;
export type Task = (typeof TASKS)[number];

export interface ViltSettings {
  task: Task;
  loadPath: string;
  root: string;
  datasets: string[];
  imageSize: number;
  patch: number;
  transform: 'pixelbert' | 'mae';
  randaug: boolean;
  mean: [number, number, number];
  std: [number, number, number];
  workers: number;
  prefetch: number;
  evalMax: number;
  evalBatch: number;
  maxTextLen: number;
  hidden: number;
  heads: number;
  layers: number;
  mlpRatio: number;
  vocab: number;
  dropRate: number;
  /** Std of the normal weight initialisation (ViLT: 0.02). */
  initStd: number;
  wholeWord: boolean;
  mlmProb: number;
  mlmWeight: number;
  itmWeight: number;
  maeWeight: number;
  /** ViLT's word-patch alignment (train/vilt/wpa.ts) on the ITM pass; 0 = off, ViLT pre-trains with 0.1. */
  wpaWeight: number;
  maeRatio: number;
  maeDecoder: { hidden: number; layers: number; heads: number };
  drawFalseText: number;
  /** ViLT's `lr_mult`: the VQA/NLVR2 classifier heads train at lr × this (ViLT's `head_names`). */
  lrMult: number;
  /** ViLT's `max_image_len`: patches kept per image (a random subset past it); -1 = all. */
  maxImageLen: number;
}

const { get, num, str, triple } = configReader('vilt');

/** Engine defaults under the file's values, then the batch mapping; returns the tree the run will record. */
export function resolveTree(config: ConfigTree): ConfigTree {
  return resolveBatchTree(config, 'vilt');
}

export function settingsFrom(tree: ConfigTree): ViltSettings {
  const task = str(tree, 'task') as Task;
  if (!TASKS.includes(task)) throw new UsageError(`config 'task' must be one of ${TASKS.join(', ')} (got '${task}')`);
  const datasets = get(tree, 'data.datasets');
  if (!Array.isArray(datasets) || datasets.length === 0 || datasets.some((d) => typeof d !== 'string')) throw new UsageError("config 'data.datasets' must be a list of dataset names");
  const transform = str(tree, 'data.transform');
  const m = /^(pixelbert|mae)(_randaug)?$/.exec(transform);
  if (!m) throw new UsageError(`config 'data.transform' must be pixelbert, pixelbert_randaug, mae or mae_randaug (got '${transform}')`);
  const root = str(tree, 'data.root');
  if (root === '') throw new UsageError('data.root=ARROW_DIR is required (the folder `vlkit arrow` wrote)');
  return {
    task,
    loadPath: str(tree, 'load_path'),
    root,
    datasets: datasets as string[],
    imageSize: num(tree, 'data.image_size', int1),
    patch: num(tree, 'model.patch_size', int1),
    transform: m[1] as 'pixelbert' | 'mae',
    randaug: m[2] !== undefined,
    mean: triple(tree, 'data.image_mean'),
    std: triple(tree, 'data.image_std'),
    workers: num(tree, 'data.num_workers', int1),
    prefetch: num(tree, 'data.prefetch', int1),
    evalMax: num(tree, 'data.eval_max', (v) => Number.isInteger(v) && v >= 0),
    evalBatch: num(tree, 'data.eval_batch_size', int1),
    maxTextLen: num(tree, 'model.max_text_len', (v) => Number.isInteger(v) && v >= 3),
    hidden: num(tree, 'model.hidden_size', int1),
    heads: num(tree, 'model.num_heads', int1),
    layers: num(tree, 'model.num_layers', int1),
    mlpRatio: num(tree, 'model.mlp_ratio', int1),
    vocab: num(tree, 'model.vocab_size', int1),
    dropRate: num(tree, 'model.drop_rate', (v) => v >= 0 && v < 1),
    initStd: num(tree, 'model.init_std', (v) => v > 0),
    wholeWord: get(tree, 'whole_word_masking') === true,
    mlmProb: num(tree, 'mlm_prob', (v) => v > 0 && v < 1),
    mlmWeight: num(tree, 'mlm_weight', (v) => v >= 0),
    itmWeight: num(tree, 'itm_weight', (v) => v >= 0),
    maeWeight: num(tree, 'mae_weight', (v) => v >= 0),
    wpaWeight: num(tree, 'wpa_weight', (v) => v >= 0),
    maeRatio: num(tree, 'mae_mask_ratio', (v) => v > 0 && v < 1),
    maeDecoder: {
      hidden: num(tree, 'model.mae_decoder.hidden_size', int1),
      layers: num(tree, 'model.mae_decoder.num_layers', int1),
      heads: num(tree, 'model.mae_decoder.num_heads', int1),
    },
    drawFalseText: num(tree, 'draw_false_text', (v) => Number.isInteger(v) && v >= 0),
    lrMult: num(tree, 'lr_mult', (v) => v > 0),
    maxImageLen: num(tree, 'max_image_len', (v) => Number.isInteger(v) && (v >= 1 || v === -1)),
  };
}

/** ViLT's fine-tuning heads (vilt_utils.set_schedule's `head_names`): the parameters `lr_mult` applies to. */
const HEAD_PREFIXES = ['vqa_classifier.', 'nlvr2_classifier.'];

/** Per-parameter lr scale for the engine's optimizer: `lr_mult` on the heads, none when it is 1. */
export function headLrScale(names: string[], lrMult: number): Record<string, number> | undefined {
  if (lrMult === 1) return undefined;
  return Object.fromEntries(names.filter((n) => HEAD_PREFIXES.some((h) => n.startsWith(h))).map((n) => [n, lrMult]));
}

export function transformSpec(s: ViltSettings, train: boolean): TransformSpec {
  return { kind: s.transform, size: s.imageSize, patch: s.patch, train, randaug: s.randaug, mean: s.mean, std: s.std };
}
