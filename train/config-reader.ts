/**
 * Typed reads of a trainer family's resolved configuration tree, shared by the patch trainers (vilt, vit_classify):
 * every missing or malformed key is a UsageError naming the family and the dotted key, so a typo in a yaml file or
 * an override stops the run before any data is read.
 */
import { getPath, mergeConfig, type ConfigTree } from '../common/config.js';
import { UsageError } from '../common/errors.js';
import { TRAIN_DEFAULTS } from './engine/index.js';

export const int1 = (v: number): boolean => Number.isInteger(v) && v >= 1;
export const nonneg = (v: number): boolean => Number.isFinite(v) && v >= 0;

export interface ConfigReader {
  get(tree: ConfigTree, key: string): unknown;
  num(tree: ConfigTree, key: string, ok?: (v: number) => boolean): number;
  str(tree: ConfigTree, key: string): string;
  bool(tree: ConfigTree, key: string): boolean;
  /** Three numbers (per-channel mean/std). */
  triple(tree: ConfigTree, key: string): [number, number, number];
}

export function configReader(family: string): ConfigReader {
  const get = (tree: ConfigTree, key: string): unknown => {
    const v = getPath(tree, key);
    if (v === undefined) throw new UsageError(`the ${family} configuration lacks '${key}'`);
    return v;
  };
  return {
    get,
    num(tree, key, ok = Number.isFinite) {
      const v = get(tree, key);
      if (typeof v !== 'number' || !ok(v)) throw new UsageError(`config '${key}' has an invalid value ${JSON.stringify(v)}`);
      return v;
    },
    str(tree, key) {
      const v = get(tree, key);
      if (typeof v !== 'string') throw new UsageError(`config '${key}' must be a string (got ${JSON.stringify(v)})`);
      return v;
    },
    bool(tree, key) {
      const v = get(tree, key);
      if (typeof v !== 'boolean') throw new UsageError(`config '${key}' must be true or false (got ${JSON.stringify(v)})`);
      return v;
    },
    triple(tree, key) {
      const v = get(tree, key);
      if (!Array.isArray(v) || v.length !== 3 || v.some((x) => typeof x !== 'number')) throw new UsageError(`config '${key}' must be three numbers`);
      return v as [number, number, number];
    },
  };
}

/**
 * Engine defaults under the file's values, then ViLT's batch mapping: `batch_size / per_gpu_batchsize`
 * micro-batches per update become the engine's `train.batch_size` (= per_gpu_batchsize) and `train.accumulate`,
 * written back so config.yaml records what ran.
 */
export function resolveBatchTree(config: ConfigTree, family: string): ConfigTree {
  const { num } = configReader(family);
  const tree = mergeConfig(structuredClone(TRAIN_DEFAULTS), config);
  const per = num(tree, 'per_gpu_batchsize', int1);
  const total = num(tree, 'batch_size', int1);
  if (total % per !== 0) throw new UsageError(`batch_size ${total} must be a multiple of per_gpu_batchsize ${per}`);
  const train = tree.train as ConfigTree;
  train.batch_size = per;
  train.accumulate = total / per;
  return tree;
}
