/**
 * The `trainer: vit_classify` run configuration (configs/vilt/finetune_imagenet*.yaml) read into typed settings.
 * Keys follow MAE/VLC's main_finetune.py arguments where one exists (`blr`, `layer_decay`, `warmup_epochs`,
 * `min_lr`, `smoothing`, `mixup`, `cutmix`, `mixup_prob`, `mixup_switch_prob`, `drop_path`, `global_pool`, `reprob`).
 *
 * Derived engine keys, written back into the resolved tree (so config.yaml records what ran):
 *   train.batch_size = per_gpu_batchsize, train.accumulate = batch_size / per_gpu_batchsize (VLC's accum_iter);
 *   train.lr = blr · batch_size / 256 (MAE's linear scaling rule; blr: 0 keeps train.lr as written);
 *   train.warmup = warmup_epochs / train.epochs.
 */
import type { ConfigTree } from '../../common/config.js';
import { UsageError } from '../../common/errors.js';
import { configReader, int1, nonneg, resolveBatchTree } from '../config-reader.js';
import type { MixupSpec } from './mixup.js';
import type { ClassifySpec } from './transforms.js';

export interface ClassifySettings {
  loadPath: string;
  root: string;
  imageSize: number;
  mean: [number, number, number];
  std: [number, number, number];
  randaug: boolean;
  reprob: number;
  workers: number;
  prefetch: number;
  evalBatch: number;
  hidden: number;
  heads: number;
  layers: number;
  mlpRatio: number;
  patch: number;
  /** 0 = the number of classes found in the data. */
  classes: number;
  dropPath: number;
  globalPool: boolean;
  layerDecay: number;
  minLr: number;
  mixup: Omit<MixupSpec, 'classes'>;
}

const { get, num, bool, triple } = configReader('vit_classify');
const prob = (v: number) => v >= 0 && v <= 1;

/** Engine defaults under the file's values, then the derived keys (see the header). */
export function resolveTree(config: ConfigTree): ConfigTree {
  const tree = resolveBatchTree(config, 'vit_classify');
  const train = tree.train as ConfigTree;
  const total = (train.batch_size as number) * (train.accumulate as number);
  const blr = num(tree, 'blr', nonneg);
  if (blr > 0) train.lr = (blr * total) / 256;
  const epochs = num(tree, 'train.epochs', int1);
  const warm = num(tree, 'warmup_epochs', nonneg);
  if (warm >= epochs) throw new UsageError(`warmup_epochs ${warm} must be fewer than train.epochs ${epochs}`);
  train.warmup = warm / epochs;
  return tree;
}

export function settingsFrom(tree: ConfigTree): ClassifySettings {
  const root = get(tree, 'data.root');
  if (typeof root !== 'string' || root === '') throw new UsageError('data.root=DIR is required (an image folder ROOT/train/<class>/… or Arrow files ROOT/train.arrow)');
  const loadPath = get(tree, 'load_path');
  if (typeof loadPath !== 'string') throw new UsageError("config 'load_path' must be a string");
  const s: ClassifySettings = {
    loadPath,
    root,
    imageSize: num(tree, 'data.image_size', int1),
    mean: triple(tree, 'data.image_mean'),
    std: triple(tree, 'data.image_std'),
    randaug: bool(tree, 'data.randaug'),
    reprob: num(tree, 'data.reprob', prob),
    workers: num(tree, 'data.num_workers', int1),
    prefetch: num(tree, 'data.prefetch', int1),
    evalBatch: num(tree, 'data.eval_batch_size', int1),
    hidden: num(tree, 'model.hidden_size', int1),
    heads: num(tree, 'model.num_heads', int1),
    layers: num(tree, 'model.num_layers', int1),
    mlpRatio: num(tree, 'model.mlp_ratio', int1),
    patch: num(tree, 'model.patch_size', int1),
    classes: num(tree, 'model.num_classes', (v) => Number.isInteger(v) && v >= 0),
    dropPath: num(tree, 'model.drop_path', (v) => v >= 0 && v < 1),
    globalPool: bool(tree, 'model.global_pool'),
    layerDecay: num(tree, 'layer_decay', (v) => v > 0 && v <= 1),
    minLr: num(tree, 'min_lr', nonneg),
    mixup: {
      mixupAlpha: num(tree, 'mixup', nonneg),
      cutmixAlpha: num(tree, 'cutmix', nonneg),
      prob: num(tree, 'mixup_prob', prob),
      switchProb: num(tree, 'mixup_switch_prob', prob),
      smoothing: num(tree, 'smoothing', (v) => v >= 0 && v < 1),
    },
  };
  if (s.imageSize % s.patch !== 0) throw new UsageError(`data.image_size ${s.imageSize} is not a multiple of model.patch_size ${s.patch}`);
  return s;
}

export function classifySpec(s: ClassifySettings, train: boolean): ClassifySpec {
  return { size: s.imageSize, patch: s.patch, train, randaug: s.randaug, reprob: s.reprob, mean: s.mean, std: s.std };
}
