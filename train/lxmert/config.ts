/**
 * The LXMERT-style run configuration: defaults (LXMERT's fine-tuning hyperparameters and lxr955 sizes) and typed
 * access to the `model.*` / `data.*` keys. `train.*` is the shared engine's (train/engine TRAIN_DEFAULTS).
 */
import { getPath, mergeConfig, type ConfigTree } from '../../common/config.js';
import { UsageError } from '../../common/errors.js';
import { TRAIN_DEFAULTS } from '../engine/index.js';
import type { LxmertSizes, LxmertTask } from './model.js';

export const LXMERT_DEFAULTS: ConfigTree = {
  model: {
    task: 'vqa',
    hidden: 768,
    heads: 12,
    intermediate: 3072,
    l_layers: 9,
    r_layers: 5,
    x_layers: 5,
    vocab: 30522,
    max_positions: 512,
    type_vocab: 2,
    feat_dim: 2048,
    pos_dim: 4,
    dropout: 0.1,
    max_seq_length: 20,
    max_boxes: 36,
    // BERT weights (bert-base-uncased pytorch_model.bin) by name; '' = from scratch (LXMERT's --fromScratch).
    load_bert: '',
    // Pretrained LXMERT (model_LXRT.pth) or BERT weights for the encoder; a fine-tuned model (BEST.pth) of the task.
    load_lxmert: '',
    load: '',
  },
  data: { train: '', valid: '', test: '', features: '', ans2label: '', feature_cache: '' },
  eval: { batch_size: 64 },
  // Pretraining (model.task: pretrain): tasks, label vocabularies of the detector, masking (LXMERT's --wordMaskRate,
  // --objMaskRate), LXMERT's visual loss weight, and when / how much the QA loss counts (see pretrain.ts).
  pretrain: { tasks: 'lm,itm,obj,attr,feat,qa', num_objects: 1600, num_attrs: 400, word_mask_rate: 0.15, obj_mask_rate: 0.15, visual_loss_normalizer: 6.67, qa_from_epoch: 0, qa_weight: 1 },
  // Write BEST.pth / LAST.pth (PyTorch state dicts, LXMERT names) into the serialization directory after training.
  export: { pth: true },
  // LXMERT's VQA fine-tuning: BertAdam, lr 5e-5, batch 32, 4 epochs, warm-up 0.1, global clip 5.0.
  train: { optimizer: 'bertadam', lr: 5e-5, batch_size: 32, epochs: 4, warmup: 0.1, max_grad_norm: 5.0, best_metric: 'accuracy', best_mode: 'max' },
};

export function resolveTree(config: ConfigTree): ConfigTree {
  return mergeConfig(mergeConfig(TRAIN_DEFAULTS, LXMERT_DEFAULTS), config);
}

function int(tree: ConfigTree, key: string, min: number): number {
  const v = getPath(tree, key);
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new UsageError(`config '${key}' must be an integer ≥ ${min} (got ${JSON.stringify(v)})`);
  return v;
}

export function str(tree: ConfigTree, key: string): string {
  const v = getPath(tree, key);
  if (typeof v !== 'string') throw new UsageError(`config '${key}' must be a string (got ${JSON.stringify(v)})`);
  return v;
}

export function task(tree: ConfigTree): LxmertTask | 'pretrain' {
  const t = str(tree, 'model.task');
  if (t !== 'vqa' && t !== 'gqa' && t !== 'nlvr2' && t !== 'pretrain') throw new UsageError(`config 'model.task' must be vqa, gqa, nlvr2 or pretrain (got '${t}')`);
  return t;
}

export function sizes(tree: ConfigTree): LxmertSizes & { dropout: number; seqLen: number; maxBoxes: number } {
  const dropout = getPath(tree, 'model.dropout');
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) throw new UsageError(`config 'model.dropout' must be in [0, 1) (got ${JSON.stringify(dropout)})`);
  return {
    hidden: int(tree, 'model.hidden', 1),
    heads: int(tree, 'model.heads', 1),
    intermediate: int(tree, 'model.intermediate', 1),
    lLayers: int(tree, 'model.l_layers', 0),
    rLayers: int(tree, 'model.r_layers', 0),
    xLayers: int(tree, 'model.x_layers', 0),
    vocab: int(tree, 'model.vocab', 1),
    maxPositions: int(tree, 'model.max_positions', 1),
    typeVocab: int(tree, 'model.type_vocab', 1),
    featDim: int(tree, 'model.feat_dim', 1),
    posDim: posDim(tree),
    dropout,
    seqLen: int(tree, 'model.max_seq_length', 3),
    maxBoxes: int(tree, 'model.max_boxes', 1),
  };
}

/** Boxes are x1 y1 x2 y2 (LXMERT's visual_pos_dim 4); the data path produces exactly four values. */
function posDim(tree: ConfigTree): number {
  if (getPath(tree, 'model.pos_dim') !== 4) throw new UsageError(`config 'model.pos_dim' must be 4 (x1 y1 x2 y2), got ${JSON.stringify(getPath(tree, 'model.pos_dim'))}`);
  return 4;
}

export function evalBatchSize(tree: ConfigTree): number {
  return int(tree, 'eval.batch_size', 1);
}
