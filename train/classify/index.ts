/**
 * `trainer: vit_classify` — ImageNet-style fine-tuning of the ViLT/VLC visual backbone alone (the role of VLC's
 * imagenet_classification/main_finetune.py, which is MAE's): layer-wise lr decay, Mixup/CutMix, label smoothing,
 * drop path, random erasing, AdamW with a warm-up + half-cycle cosine schedule, top-1/top-5 on the val split.
 *
 *   vlkit train --config configs/vilt/finetune_imagenet.yaml --serialization-dir OUT data.root=IMAGENET [load_path=VLC.ckpt]
 *   vlkit predict --serialization-dir OUT [--submission preds.jsonl] [data.root=...]
 *
 * `load_path` takes a ViLT/VLC `.ckpt`, a vlkit ViLT run or checkpoint directory (backbone `transformer.*` names;
 * text embeddings and heads are not used), an MAE-style state dict (`blocks.*`, `patch_embed.*` …, mapped under
 * `transformer.`), or a vit_classify run. The classifier head stays at its initialisation unless the source has a
 * head of the same shape. predict prints top-1/top-5 on the val split (JSON on stdout) and writes one JSON line per
 * image: its name, true class, and the five best classes with their softmax probabilities.
 */
import path from 'node:path';
import type { ConfigTree } from '../../common/config.js';
import { writeFileAtomic } from '../../common/atomic.js';
import { InputError, UsageError } from '../../common/errors.js';
import { Logger } from '../../common/progress.js';
import { selectBackend, SerializationDir, train, trainConfigFrom } from '../engine/index.js';
import type { TorchTensor } from '../nn/index.js';
import type { PredictRunOptions, Trainer, TrainRunOptions } from '../trainers.js';
import { readWeights, resizePosEmbed } from '../vilt/index.js';
import { classifySpec, resolveTree, settingsFrom, type ClassifySettings } from './config.js';
import { classifyPool, classNames, ClassifyData, hasSplit, openSplit, type ClassifyPool, type Split } from './data.js';
import { layerDecayScales, noDecayNames, VitClassifier } from './model.js';
import { ClassifyTask, evaluateClassifier } from './task.js';

export function buildClassifier(s: ClassifySettings, classes: number, seed: number): VitClassifier {
  return new VitClassifier(
    { hidden: s.hidden, heads: s.heads, layers: s.layers, mlpRatio: s.mlpRatio, patch: s.patch, grid: s.imageSize / s.patch, classes, dropPath: s.dropPath, globalPool: s.globalPool },
    seed,
  );
}

/** MAE-style names (no `transformer.` prefix) → the ViLT/VLC backbone names this model uses. */
function mapMaeNames(sd: Map<string, TorchTensor>): Map<string, TorchTensor> {
  const keys = [...sd.keys()];
  if (keys.some((k) => k.startsWith('transformer.')) || !keys.some((k) => k.startsWith('blocks.'))) return sd;
  return new Map([...sd].map(([k, v]) => [/^(patch_embed\.|blocks\.|norm\.|cls_token$|pos_embed$)/.test(k) ? `transformer.${k}` : k, v]));
}

/**
 * Copy weights into the classifier by name. `strict` (prediction): every parameter must be present. Otherwise a
 * head of another shape (another class count) is skipped, as MAE's fine-tuning drops it; other names the model lacks
 * (ViLT's text side, pooler, task heads, MAE decoder) are counted as unused.
 */
export async function loadClassifierWeights(loadPath: string, model: VitClassifier, log: Logger, strict = false): Promise<void> {
  const sd = mapMaeNames(await readWeights(loadPath, model));
  const params = model.params();
  const pos = sd.get('transformer.pos_embed');
  const rows = params['transformer.pos_embed']!.shape[1]!;
  if (pos && pos.shape[1] !== rows) sd.set('transformer.pos_embed', resizePosEmbed(pos, rows, loadPath, log));
  for (const name of ['head.weight', 'head.bias']) {
    const t = sd.get(name);
    if (t && !strict && t.data.length !== params[name]!.size) {
      log.info(`load_path ${loadPath}: '${name}' has shape [${t.shape}] (another class count); left at its initial values`);
      sd.delete(name);
    }
  }
  const missing = Object.keys(params).filter((n) => !sd.has(n));
  if (strict && missing.length) throw new InputError(loadPath, `lacks parameters of this classifier: ${missing.slice(0, 5).join(', ')}`);
  let loaded = 0;
  for (const name of Object.keys(params)) {
    const t = sd.get(name);
    if (!t) continue;
    model.p.fromTorch(name, t, loadPath);
    loaded++;
  }
  const unused = [...sd.keys()].filter((n) => !(n in params));
  log.info(`load_path ${loadPath}: ${loaded} tensors loaded, ${missing.length} left at their initial values, ${unused.length} not used`, {
    missing: missing.slice(0, 20),
    unused: unused.slice(0, 20),
  });
}

async function dataFor(s: ClassifySettings, split: Split, classes: string[], batchSize: number, seed: number, train: boolean, pool: ClassifyPool): Promise<ClassifyData> {
  const items = await openSplit(s.root, split, classes);
  return new ClassifyData(items, { batchSize, spec: classifySpec(s, train), classes: classes.length, mixup: train ? s.mixup : null, prefetch: s.prefetch, seed }, pool);
}

/** The class list of the data, checked against (or written into) model.num_classes. */
async function classesFor(tree: ConfigTree, s: ClassifySettings): Promise<string[]> {
  const names = await classNames(s.root);
  if (s.classes !== 0 && s.classes !== names.length) {
    throw new UsageError(`model.num_classes is ${s.classes} but ${s.root} has ${names.length} classes`);
  }
  (tree.model as ConfigTree).num_classes = names.length;
  return names;
}

export const vitClassifyTrainer: Trainer = {
  async train(config: ConfigTree, opts: TrainRunOptions): Promise<number> {
    if (opts.subset) throw new UsageError(`--${opts.subset} is LXMERT's; for vit_classify use train.max_steps`);
    const tree = resolveTree(config);
    const s0 = settingsFrom(tree);
    const classes = await classesFor(tree, s0);
    const s = settingsFrom(tree);
    const cfg = trainConfigFrom(tree);
    const log = new Logger(opts.logFormat);
    await selectBackend({ force: cfg.backend, log: (l) => log.info(l) });
    const model = buildClassifier(s, classes.length, cfg.seed);
    if (s.loadPath) await loadClassifierWeights(s.loadPath, model, log);
    const pool = classifyPool(s.workers);
    const task = new ClassifyTask(model);
    task.evalBatch = s.evalBatch;
    let data: ClassifyData | null = null;
    try {
      data = await dataFor(s, 'train', classes, cfg.batchSize, cfg.seed, true, pool);
      if (hasSplit(s.root, 'val')) task.valid = await dataFor(s, 'val', classes, s.evalBatch, cfg.seed, false, pool);
      const params = model.params();
      const lrScale = s.layerDecay < 1 ? layerDecayScales(Object.keys(params), s.layers, s.layerDecay) : undefined;
      log.info(`vit_classify: ${data.items.length} training images, ${classes.length} classes, ${Object.keys(params).length} tensors, ${data.batchesPerEpoch} micro-batches per epoch, lr ${cfg.lr}`);
      const result = await train({
        model: task,
        data,
        config: cfg,
        dir: opts.serializationDir,
        resume: opts.resume,
        configTree: tree,
        log: (m, f) => log.info(m, f),
        optimizer: { schedule: 'cosine', minLr: s.minLr, lrScale, noDecay: noDecayNames(params) },
      });
      process.stdout.write(JSON.stringify({ step: result.step, epoch: result.epoch, loss: result.loss, valid: result.valid, best: result.best }) + '\n');
    } finally {
      await data?.settle();
      await task.valid?.settle();
      await pool.close();
      model.dispose();
    }
    return 0;
  },

  async predict(config: ConfigTree, opts: PredictRunOptions): Promise<number> {
    const s = settingsFrom(config);
    const cfg = trainConfigFrom(config);
    const log = new Logger(opts.logFormat);
    await selectBackend({ force: cfg.backend, log: (l) => log.info(l) });
    const classes = await classNames(s.root);
    if (s.classes !== classes.length) throw new UsageError(`the run was trained on ${s.classes} classes, ${s.root} has ${classes.length}`);
    const model = buildClassifier(s, classes.length, cfg.seed);
    const pool = classifyPool(s.workers);
    try {
      await loadClassifierWeights(await new SerializationDir(opts.serializationDir).checkpointFor(opts.checkpoint, true), model, log, true);
      const data = await dataFor(s, 'val', classes, s.evalBatch, cfg.seed, false, pool);
      const e = await evaluateClassifier(model, data, s.evalBatch);
      const C = classes.length;
      const lines = data.items.map((it, i) => {
        const row = e.logits.subarray(i * C, (i + 1) * C);
        const max = Math.max(...row);
        const z = row.reduce((a, v) => a + Math.exp(v - max), 0);
        // Ranked by logit; ties rank the lower class id first, as eval/imagenet.ts does.
        const top = Array.from(row, (v, c) => ({ c, v })).sort((a, b) => b.v - a.v || a.c - b.c).slice(0, 5);
        return JSON.stringify({ image: it.name, label: classes[it.label], top5: top.map((t) => ({ class: classes[t.c], prob: Math.exp(t.v - max) / z })) });
      });
      const out = opts.submission ?? path.join(opts.serializationDir, 'predictions.jsonl');
      await writeFileAtomic(out, lines.join('\n') + '\n');
      process.stdout.write(JSON.stringify({ split: 'val', top1: e.top1, top5: e.top5, num_images: e.numImages, loss: e.loss, predictions: out }) + '\n');
      return 0;
    } finally {
      await pool.close();
      model.dispose();
    }
  },
};
