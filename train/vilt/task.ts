/**
 * Objectives and evaluation of the patch trainers on top of ViltModel:
 *  - mlm_itm (ViLT): MLM on masked text with the true image + ITM on the unmasked text with the true or a swapped
 *    image (two forward passes, as ViLT's compute_mlm / compute_itm).
 *  - mlm_itm_mae (VLC): as above, and in the MLM pass the encoder also loses `mae_mask_ratio` of the patches
 *    (attention-masked, so they influence nothing); the MAE decoder reconstructs them; loss += mae_weight · MAE.
 *  - vqa: classifier on the pooled output, BCE on the soft scores × number of labels (ViLT's compute_vqa).
 *  - nlvr2: ViLT's 'pair' input: one pass per image (modality type 1 and 2), pooled outputs concatenated.
 *  - irtr: rank_output on the pooled output; 1 positive + `draw_false_text` negative captions (of other images,
 *    drawn from the whole split), cross-entropy with the positive first (ViLT's compute_irtr).
 */
import * as tf from '@tensorflow/tfjs';
import type { StepContext, TrainableModel } from '../engine/index.js';
import { retrievalRecall, type RetrievalMetrics } from '../../eval/retrieval.js';
import type { Mode } from '../nn/index.js';
import type { ImageBatch, TextBatch, ViltBatch, ViltData } from './data.js';
import type { ViltInput, ViltModel } from './model.js';
import type { Task } from './config.js';
import { wpaLoss } from './wpa.js';

export function input(text: TextBatch, img: ImageBatch, g2: number, imageTokenType = 1, hidden?: Float32Array): ViltInput {
  const b = text.ids.length / text.t;
  const pp = img.patches.length / (img.b * img.n);
  let mask = img.mask;
  if (hidden) mask = mask.map((v, i) => v * (1 - hidden[i]!));
  return {
    textIds: tf.tensor2d(text.ids, [b, text.t], 'int32'),
    textMask: tf.tensor2d(text.mask, [b, text.t]),
    patches: tf.tensor3d(img.patches, [img.b, img.n, pp]),
    patchMask: tf.tensor2d(mask, [img.b, img.n]),
    posInterp: tf.tensor2d(img.interp, [img.b * img.n, g2]),
    imageTokenType,
  };
}

/** Repeat each image k times (retrieval negatives share their positive's image). */
function repeatImages(img: ImageBatch, k: number): ImageBatch {
  const { b, n } = img;
  const pp = img.patches.length / (b * n);
  const g2 = img.interp.length / (b * n);
  const out: ImageBatch = { b: b * k, n, patches: new Float32Array(b * k * n * pp), mask: new Float32Array(b * k * n), interp: new Float32Array(b * k * n * g2) };
  for (let i = 0; i < b; i++) {
    for (let r = 0; r < k; r++) {
      const d = i * k + r;
      out.patches.set(img.patches.subarray(i * n * pp, (i + 1) * n * pp), d * n * pp);
      out.mask.set(img.mask.subarray(i * n, (i + 1) * n), d * n);
      out.interp.set(img.interp.subarray(i * n * g2, (i + 1) * n * g2), d * n * g2);
    }
  }
  return out;
}

function concatText(a: TextBatch, b: TextBatch): TextBatch {
  const ids = new Int32Array(a.ids.length + b.ids.length);
  ids.set(a.ids);
  ids.set(b.ids, a.ids.length);
  const mask = new Float32Array(a.mask.length + b.mask.length);
  mask.set(a.mask);
  mask.set(b.mask, a.mask.length);
  return { t: a.t, ids, mask };
}

function concatImages(a: ImageBatch, b: ImageBatch): ImageBatch {
  if (a.n !== b.n) throw new Error('concatImages: different patch grids');
  const cat = (x: Float32Array, y: Float32Array) => {
    const o = new Float32Array(x.length + y.length);
    o.set(x);
    o.set(y, x.length);
    return o;
  };
  return { b: a.b + b.b, n: a.n, patches: cat(a.patches, b.patches), mask: cat(a.mask, b.mask), interp: cat(a.interp, b.interp) };
}

export interface TaskWeights {
  mlm: number;
  itm: number;
  mae: number;
  /** Word-patch alignment on the ITM pass (0 = off). */
  wpa: number;
}

export class ViltTask implements TrainableModel<ViltBatch> {
  /** Validation data (null: the datasets have no val split). */
  valid: ViltData | null = null;
  evalMax = 0;
  evalBatch = 16;

  constructor(
    readonly task: Task,
    readonly model: ViltModel,
    readonly weights: TaskWeights,
    readonly dropRate: number,
  ) {}

  private get g2(): number {
    return this.model.s.posGrid ** 2;
  }

  params(): Record<string, tf.Variable> {
    return this.model.params();
  }

  /** Losses and metrics of one batch; `mode` without rng = evaluation. */
  losses(batch: ViltBatch, mode: Mode): Record<string, tf.Scalar> {
    const m = this.model;
    const out: Record<string, tf.Scalar> = {};
    if (this.task === 'mlm_itm' || this.task === 'mlm_itm_mae') {
      const mae = batch.maeMask && this.weights.mae > 0;
      // The masked pass only when an objective in it has weight (ViLT computes only the losses it is given).
      if (this.weights.mlm > 0 || mae) {
        const mlm = batch.mlm!;
        const x = input({ ...batch.text, ids: mlm.ids }, batch.image, this.g2, 1, batch.maeMask);
        const f = m.forward(x, mode);
        const logits = m.mlmLogits(f.textFeats, tf.tensor1d(mlm.rows, 'int32'));
        const labels = tf.tensor1d(mlm.labels, 'int32');
        out.mlm_loss = tf.losses.softmaxCrossEntropy(tf.oneHot(labels, m.s.vocab), logits) as tf.Scalar;
        out.mlm_acc = logits.argMax(-1).equal(labels).toFloat().mean() as tf.Scalar;
        if (mae) {
          const masked = tf.tensor2d(batch.maeMask!, [batch.size, batch.image.n]);
          out.mae_loss = m.maeLoss(f.imageFeats, x, masked, x.patchMask.add(masked) as tf.Tensor2D, mode);
        }
      }
      const itm = batch.itm!;
      const g = m.forward(input(batch.text, itm.image, this.g2), mode);
      const itmLogits = m.itm!.forward(g.cls) as tf.Tensor2D;
      const itmLabels = tf.tensor1d(itm.labels, 'int32');
      out.itm_loss = tf.losses.softmaxCrossEntropy(tf.oneHot(itmLabels, 2), itmLogits) as tf.Scalar;
      out.itm_acc = itmLogits.argMax(-1).equal(itmLabels).toFloat().mean() as tf.Scalar;
      if (this.weights.wpa > 0) out.wpa_loss = wpaLoss(g.textFeats, g.imageFeats, batch.text.mask, itm.image.mask, itm.labels);
      let loss = out.itm_loss.mul(this.weights.itm);
      if (out.mlm_loss) loss = loss.add(out.mlm_loss.mul(this.weights.mlm));
      if (out.mae_loss) loss = loss.add(out.mae_loss.mul(this.weights.mae));
      if (out.wpa_loss) loss = loss.add(out.wpa_loss.mul(this.weights.wpa));
      out.loss = loss as tf.Scalar;
    } else if (this.task === 'vqa') {
      const f = m.forward(input(batch.text, batch.image, this.g2), mode);
      const logits = m.vqa!.forward(f.cls);
      const L = logits.shape[1];
      const targets = tf.tensor2d(batch.vqaTargets!, [batch.size, L]);
      out.vqa_loss = tf.losses.sigmoidCrossEntropy(targets, logits).mul(L) as tf.Scalar;
      out.vqa_score = targets.mul(tf.oneHot(logits.argMax(-1), L)).sum(1).mean() as tf.Scalar;
      out.loss = out.vqa_loss;
    } else if (this.task === 'nlvr2') {
      const a = m.forward(input(batch.text, batch.image, this.g2, 1), mode);
      const b = m.forward(input(batch.text, batch.image2!, this.g2, 2), mode);
      const logits = m.nlvr2!.forward(tf.concat([a.cls, b.cls], 1));
      const labels = tf.tensor1d(batch.nlvr2Labels!, 'int32');
      out.nlvr2_loss = tf.losses.softmaxCrossEntropy(tf.oneHot(labels, 2), logits) as tf.Scalar;
      out.nlvr2_acc = logits.argMax(-1).equal(labels).toFloat().mean() as tf.Scalar;
      out.loss = out.nlvr2_loss;
    } else {
      const neg = batch.irtrNeg!;
      const k = neg.k;
      const text = concatText(batch.text, neg.text);
      const images = concatImages(batch.image, repeatImages(batch.image, k));
      const f = m.forward(input(text, images, this.g2), mode);
      const scores = m.rank!.forward(f.cls).reshape([-1]);
      const b = batch.size;
      const logits = tf.concat([scores.slice([0], [b]).reshape([b, 1]), scores.slice([b], [b * k]).reshape([b, k])], 1);
      out.irtr_loss = tf.losses.softmaxCrossEntropy(tf.oneHot(tf.zeros([b], 'int32'), k + 1), logits) as tf.Scalar;
      out.loss = out.irtr_loss;
    }
    return out;
  }

  loss(batch: ViltBatch, ctx: StepContext): { loss: tf.Scalar; metrics?: Record<string, tf.Scalar> } {
    const { loss, ...named } = this.losses(batch, { dropout: this.dropRate, rng: ctx.rng });
    // The loop disposes the loss before reading metrics: a metric that is the loss itself needs its own tensor.
    const metrics = Object.fromEntries(Object.entries(named).map(([k, v]) => [k, v === loss ? v.clone() : v]));
    metrics.data_wait_ms = tf.scalar(batch.waitMs);
    return { loss: loss!, metrics };
  }

  async evaluate(): Promise<Record<string, number>> {
    if (!this.valid) return {};
    if (this.task === 'irtr') {
      const r = await retrieval(this.model, this.valid, this.evalMax || Infinity, this.evalBatch);
      return { ...r, r1_sum: r.ir_r1 + r.tr_r1 };
    }
    const sums: Record<string, number> = {};
    let n = 0;
    for await (const batch of this.valid.ordered(this.evalBatch, this.evalMax || Infinity)) {
      const vals = tf.tidy(() => {
        const l = this.losses(batch, { dropout: 0 });
        return Object.fromEntries(Object.entries(l).map(([k, v]) => [k, v.dataSync()[0]!]));
      });
      for (const [k, v] of Object.entries(vals)) sums[k] = (sums[k] ?? 0) + v * batch.size;
      n += batch.size;
    }
    return Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / n]));
  }
}

/**
 * Image–text retrieval over the first `maxImages` images of `data` and all their captions: every pair is scored by
 * rank_output (ViLT's evaluation scores every pair too), recall@1/5/10 by eval/retrieval.
 */
export async function retrieval(model: ViltModel, data: ViltData, maxImages: number, batch: number): Promise<RetrievalMetrics> {
  const rows: { file: number; row: number }[] = [];
  const seen = new Set<string>();
  for (const e of data.examples) {
    const key = `${e.file}:${e.row}`;
    if (seen.has(key)) continue;
    if (rows.length >= maxImages) break;
    seen.add(key);
    rows.push({ file: e.file, row: e.row });
  }
  const texts = data.examples.filter((e) => seen.has(`${e.file}:${e.row}`));
  const g2 = model.s.posGrid ** 2;
  // Images decoded once (no augmentation); pairs are formed from the cached patch arrays.
  const images: ImageBatch[] = [];
  for (const r of rows) images.push(await data.evalImages([{ ...r, j: 0 }]));
  const scores = new Float64Array(rows.length * texts.length);
  for (let i = 0; i < rows.length; i++) {
    const img = images[i]!;
    for (let j0 = 0; j0 < texts.length; j0 += batch) {
      const chunk = texts.slice(j0, j0 + batch);
      const enc = data.encodeTexts(chunk.map((e) => data.text(e)));
      const s = tf.tidy(() => {
        const f = model.forward(input(enc, repeatImages(img, chunk.length), g2), { dropout: 0 });
        return model.rank!.forward(f.cls).reshape([-1]).dataSync().slice();
      });
      for (let j = 0; j < chunk.length; j++) scores[i * texts.length + j0 + j] = s[j]!;
    }
  }
  const id = (e: { file: number; row: number }) => `${e.file}:${e.row}`;
  return retrievalRecall({ rows: rows.length, cols: texts.length, data: scores, integer: false }, { imageIds: rows.map(id), textImageIds: texts.map(id) });
}
