/**
 * `trainer: vilt` — the ViLT/VLC-style patch trainer behind `vlkit train` / `vlkit predict`.
 *
 *   vlkit train --config configs/vilt/<task>.yaml --serialization-dir OUT data.root=ARROW_DIR [key=value ...]
 *   vlkit predict --serialization-dir OUT [--submission FILE] [--checkpoint BEST|LAST|DIR] [key=value ...]
 *
 * predict: vqa → the VQA test submission JSON (eval/submit's writer), nlvr2 → the NLVR2 predictions CSV, irtr →
 * recall@1/5/10 on the test split (JSON on stdout), pretraining tasks → their metrics on the test/val split.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { ConfigTree } from '../../common/config.js';
import { InputError, UsageError } from '../../common/errors.js';
import { Logger } from '../../common/progress.js';
import { buildNlvr2Submission, buildVqaSubmission, vqaSubmissionName, writeSubmission } from '../../eval/submit/index.js';
import { loadCheckpoint, selectBackend, SerializationDir, train, trainConfigFrom } from '../engine/index.js';
import type { Params, TorchTensor } from '../nn/index.js';
import { readStateDict, toFloat32 } from '../weights/index.js';
import type { PredictRunOptions, Trainer, TrainRunOptions } from '../trainers.js';
import { headLrScale, resolveTree, settingsFrom, transformSpec, type ViltSettings } from './config.js';
import { datasetFiles, transformPool, ViltData, type Split, type TransformPool } from './data.js';
import { interpWeights, ViltModel } from './model.js';
import { input, retrieval, ViltTask } from './task.js';

function labelCount(s: ViltSettings): number {
  if (s.task !== 'vqa') return 0;
  const file = path.join(s.root, 'ans2label.json');
  if (!existsSync(file)) throw new InputError(file, 'missing: the VQA label vocabulary `vlkit arrow vqav2` writes next to the Arrow files');
  return Object.keys(JSON.parse(readFileSync(file, 'utf8')) as object).length;
}

export function buildModel(s: ViltSettings, seed: number): ViltModel {
  const pretrain = s.task === 'mlm_itm' || s.task === 'mlm_itm_mae';
  if (s.imageSize % s.patch !== 0) throw new UsageError(`data.image_size ${s.imageSize} is not a multiple of model.patch_size ${s.patch}`);
  return new ViltModel(
    {
      hidden: s.hidden,
      heads: s.heads,
      layers: s.layers,
      mlpRatio: s.mlpRatio,
      patch: s.patch,
      posGrid: s.imageSize / s.patch,
      maxTextLen: s.maxTextLen,
      initStd: s.initStd,
      vocab: s.vocab,
      tokenTypes: s.task === 'nlvr2' ? 3 : 2,
      tasks: { mlm: pretrain, itm: pretrain, vqaLabels: labelCount(s), nlvr2: s.task === 'nlvr2', irtr: s.task === 'irtr' },
      mae: s.task === 'mlm_itm_mae' && s.maeWeight > 0 ? s.maeDecoder : null,
    },
    seed,
  );
}

/** The weights `load_path` names, in PyTorch layout: a `.ckpt`/`.pth`/`.bin`, a vlkit checkpoint or run directory. */
export async function readWeights(loadPath: string, model: { p: Params }): Promise<Map<string, TorchTensor>> {
  let dir: string | null = null;
  if (statSync(loadPath, { throwIfNoEntry: false })?.isDirectory()) {
    dir = loadPath;
    if (!existsSync(path.join(dir, 'model.safetensors'))) {
      const run = new SerializationDir(loadPath);
      const step = (await run.readPointer('BEST')) ?? (await run.readPointer('LAST'));
      if (step === null) throw new InputError(loadPath, 'is neither a checkpoint directory (model.safetensors) nor a run directory (BEST/LAST)');
      dir = run.checkpointDir(step);
    }
  }
  const out = new Map<string, TorchTensor>();
  if (dir) {
    // vlkit checkpoints hold Linear weights [in, out]; bring them to PyTorch's [out, in] like a .ckpt.
    const ck = await loadCheckpoint(dir);
    for (const [name, t] of Object.entries(ck.weights)) {
      let data = t.data as Float32Array;
      let shape = t.shape;
      if (model.p.transposed.has(name) && shape.length === 2) {
        const [r, c] = shape as [number, number];
        const tr = new Float32Array(r * c);
        for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) tr[j * r + i] = data[i * c + j]!;
        data = tr;
        shape = [c, r];
      }
      out.set(name, { shape, data });
    }
    return out;
  }
  if (!existsSync(loadPath)) throw new InputError(loadPath, 'load_path does not exist');
  for (const [name, t] of readStateDict(loadPath)) {
    const f = toFloat32(t);
    if (f.data instanceof Float32Array) out.set(name, { shape: f.shape, data: f.data });
  }
  return out;
}

/**
 * A position table [1, 1+g², C] for another grid (fine-tuning at another image size, as VLC does): the cls row
 * is kept, the grid is resampled bilinearly (align_corners=True, ViLT's per-image interpolation; MAE/VLC use
 * bicubic here, so imported fine-tuning starts differ slightly from theirs).
 */
export function resizePosEmbed(t: TorchTensor, rows: number, where: string, log: Logger): TorchTensor {
  const [, n, c] = t.shape as [number, number, number];
  const g0 = Math.round(Math.sqrt(n - 1));
  const g1 = Math.round(Math.sqrt(rows - 1));
  if (g0 * g0 !== n - 1 || g1 * g1 !== rows - 1) throw new InputError(where, `position table of ${n} rows cannot be resized to ${rows}`);
  const w = interpWeights(g0, g1, g1);
  const data = new Float32Array(rows * c);
  data.set(t.data.subarray(0, c));
  for (let r = 0; r < g1 * g1; r++) {
    for (let k = 0; k < g0 * g0; k++) {
      const a = w[r * g0 * g0 + k]!;
      if (a === 0) continue;
      for (let d = 0; d < c; d++) data[(1 + r) * c + d]! += a * t.data[(1 + k) * c + d]!;
    }
  }
  log.info(`position embeddings resized from a ${g0}×${g0} to a ${g1}×${g1} grid`);
  return { shape: [1, rows, c], data };
}

/**
 * Copy weights into the model by name (ViLT loads with strict=False: heads the checkpoint lacks keep their init).
 * As ViLT does on fine-tuning: NLVR2's third modality type starts as a copy of the image type, and rank_output
 * starts from itm_score.fc's "match" row.
 */
export async function loadWeights(loadPath: string, model: ViltModel, log: Logger): Promise<void> {
  const sd = await readWeights(loadPath, model);
  const tt = sd.get('token_type_embeddings.weight');
  const D = model.s.hidden;
  if (tt && tt.shape[0] === 2 && model.s.tokenTypes === 3) {
    const data = new Float32Array(3 * D);
    data.set(tt.data);
    data.set(tt.data.subarray(D, 2 * D), 2 * D);
    sd.set('token_type_embeddings.weight', { shape: [3, D], data });
  }
  const fc = sd.get('itm_score.fc.weight');
  if (model.rank && !sd.has('rank_output.weight') && fc) {
    sd.set('rank_output.weight', { shape: [1, D], data: fc.data.slice(D, 2 * D) });
    sd.set('rank_output.bias', { shape: [1], data: sd.get('itm_score.fc.bias')!.data.slice(1, 2) });
  }
  for (const name of ['transformer.pos_embed', 'decoder_pos_embed']) {
    const t = sd.get(name);
    const v = model.params()[name];
    if (t && v && t.shape[1] !== v.shape[1]) sd.set(name, resizePosEmbed(t, v.shape[1]!, loadPath, log));
  }
  const params = model.params();
  const missing = Object.keys(params).filter((n) => !sd.has(n));
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

function dataFor(s: ViltSettings, split: Split, batchSize: number, seed: number, train: boolean, pool: TransformPool): Promise<ViltData> {
  const pretrain = s.task === 'mlm_itm' || s.task === 'mlm_itm_mae';
  return ViltData.open({
    root: s.root,
    datasets: s.datasets,
    split,
    batchSize,
    maxTextLen: s.maxTextLen,
    spec: transformSpec(s, train),
    posGrid: s.imageSize / s.patch,
    maxImageLen: s.maxImageLen,
    needs: {
      mlm: pretrain,
      wholeWord: s.wholeWord,
      mlmProb: s.mlmProb,
      itm: pretrain,
      maeRatio: s.task === 'mlm_itm_mae' && s.maeWeight > 0 ? s.maeRatio : 0,
      vqaLabels: labelCount(s),
      irtrNegatives: s.task === 'irtr' && train ? s.drawFalseText : 0,
    },
    workers: s.workers,
    prefetch: s.prefetch,
    seed,
  }, pool);
}

function hasSplit(s: ViltSettings, split: Split): boolean {
  try {
    return datasetFiles(s.root, s.datasets, split).length > 0;
  } catch {
    return false;
  }
}

function taskFor(s: ViltSettings, model: ViltModel): ViltTask {
  const t = new ViltTask(s.task, model, { mlm: s.mlmWeight, itm: s.itmWeight, mae: s.maeWeight, wpa: s.wpaWeight }, s.dropRate);
  t.evalMax = s.evalMax;
  t.evalBatch = s.evalBatch;
  return t;
}

export const viltTrainer: Trainer = {
  async train(config: ConfigTree, opts: TrainRunOptions): Promise<number> {
    if (opts.subset) throw new UsageError(`--${opts.subset} is LXMERT's; for the vilt trainer use train.max_steps or a smaller data.datasets`);
    const tree = resolveTree(config);
    const s = settingsFrom(tree);
    const cfg = trainConfigFrom(tree);
    const log = new Logger(opts.logFormat);
    await selectBackend({ force: cfg.backend, log: (l) => log.info(l) });
    const model = buildModel(s, cfg.seed);
    if (s.loadPath) await loadWeights(s.loadPath, model, log);
    const pool = transformPool(s.workers);
    const data = await dataFor(s, 'train', cfg.batchSize, cfg.seed, true, pool);
    const task = taskFor(s, model);
    if (hasSplit(s, 'val')) task.valid = await dataFor(s, 'val', s.evalBatch, cfg.seed, false, pool);
    log.info(`vilt ${s.task}: ${data.examples.length} training examples, ${Object.keys(model.params()).length} tensors, ${data.batchesPerEpoch} micro-batches per epoch`);
    try {
      const lrScale = headLrScale(Object.keys(model.params()), s.lrMult);
      const result = await train({ model: task, data, config: cfg, dir: opts.serializationDir, resume: opts.resume, configTree: tree, log: (m, f) => log.info(m, f), optimizer: { lrScale } });
      process.stdout.write(JSON.stringify({ step: result.step, epoch: result.epoch, loss: result.loss, valid: result.valid, best: result.best }) + '\n');
    } finally {
      await data.close();
      await task.valid?.close();
      // close(), not destroy(): prefetched decodes may still be in flight, and piscina 5.3's destroy() drops their
      // tasks while replies already queued on the worker ports are still delivered and emitted as an 'error' event
      // ("Unexpected message from Worker"), which kills the process when a run stops mid-epoch.
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
    const model = buildModel(s, cfg.seed);
    await loadWeights(await new SerializationDir(opts.serializationDir).checkpointFor(opts.checkpoint, true), model, log);
    const split: Split = hasSplit(s, 'test') ? 'test' : 'val';
    const pool = transformPool(s.workers);
    const data = await dataFor(s, split, s.evalBatch, cfg.seed, false, pool);
    try {
      if (s.task === 'vqa' || s.task === 'nlvr2') {
        const preds: { id: string; label: number }[] = [];
        for await (const batch of data.ordered(s.evalBatch)) {
          const labels = tf.tidy(() => {
            const m = model;
            const g2 = m.s.posGrid ** 2;
            const ins = (img = batch.image, type = 1) => m.forward(input(batch.text, img, g2, type), { dropout: 0 }).cls;
            const logits = s.task === 'vqa' ? m.vqa!.forward(ins()) : m.nlvr2!.forward(tf.concat([ins(), ins(batch.image2!, 2)], 1));
            return Array.from(logits.argMax(-1).dataSync());
          });
          batch.examples.forEach((e, i) => {
            const id =
              s.task === 'vqa' ? String((data.value(e, 'question_id') as number[])[e.j]) : `${data.value(e, 'identifier') as string}-${e.j}`;
            preds.push({ id, label: labels[i]! });
          });
        }
        let sub;
        if (s.task === 'vqa') {
          const label2ans = JSON.parse(readFileSync(path.join(s.root, 'label2ans.json'), 'utf8')) as string[];
          const out = opts.submission ?? path.join(opts.serializationDir, vqaSubmissionName('vlkit'));
          sub = buildVqaSubmission(preds.map((p) => ({ question_id: Number(p.id), answer: label2ans[p.label]! })), preds.map((p) => p.id), out);
        } else {
          const out = opts.submission ?? path.join(opts.serializationDir, 'predictions.csv');
          sub = buildNlvr2Submission(preds.map((p) => ({ identifier: p.id, prediction: p.label === 1 })), preds.map((p) => p.id), out);
        }
        const res = await writeSubmission(sub);
        process.stdout.write(JSON.stringify({ split, count: sub.count, written: res.written, paths: res.paths, problems: res.problems }) + '\n');
        return res.written ? 0 : 1;
      }
      if (s.task === 'irtr') {
        const r = await retrieval(model, data, s.evalMax || Infinity, s.evalBatch);
        process.stdout.write(JSON.stringify({ split, ...r }) + '\n');
        return 0;
      }
      const task = taskFor(s, model);
      task.valid = data;
      process.stdout.write(JSON.stringify({ split, ...(await task.evaluate()) }) + '\n');
      return 0;
    } finally {
      await data.close();
      await pool.close();
      model.dispose();
    }
  },
};
