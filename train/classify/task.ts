/**
 * Loss and evaluation of `trainer: vit_classify`: soft-target cross-entropy on the (smoothed, mixed) targets —
 * timm's SoftTargetCrossEntropy, which with unmixed smoothed targets equals LabelSmoothingCrossEntropy — and
 * top-1/top-5 accuracy through eval/imagenet.ts plus the plain cross-entropy on the val split.
 */
import * as tf from '@tensorflow/tfjs';
import { imagenetAccuracy, type ImagenetMetrics } from '../../eval/imagenet.js';
import type { StepContext, TrainableModel } from '../engine/index.js';
import type { ClassifyBatch, ClassifyData } from './data.js';
import type { VitClassifier } from './model.js';

export function softTargetCrossEntropy(logits: tf.Tensor2D, targets: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => targets.mul(tf.logSoftmax(logits, -1)).sum(-1).neg().mean() as tf.Scalar);
}

function patchTensor(model: VitClassifier, b: ClassifyBatch): tf.Tensor3D {
  const n = model.s.grid ** 2;
  return tf.tensor3d(b.patches, [b.size, n, b.patches.length / (b.size * n)]);
}

export interface Evaluation extends ImagenetMetrics {
  loss: number;
  /** [N, classes] logits in dataset order. */
  logits: Float32Array;
}

/** Logits of every image of `data` (no augmentation) and their top-1/top-5 accuracy. */
export async function evaluateClassifier(model: VitClassifier, data: ClassifyData, batchSize: number): Promise<Evaluation> {
  const C = model.s.classes;
  const logits = new Float32Array(data.items.length * C);
  let lossSum = 0;
  let at = 0;
  for await (const b of data.ordered(batchSize)) {
    const [out, loss] = tf.tidy(() => {
      const o = model.forward(patchTensor(model, b), { dropout: 0 });
      return [o, softTargetCrossEntropy(o, tf.tensor2d(b.targets, [b.size, C]))] as const;
    });
    logits.set(out.dataSync(), at * C);
    lossSum += loss.dataSync()[0]! * b.size;
    out.dispose();
    loss.dispose();
    at += b.size;
  }
  const m = imagenetAccuracy({ rows: at, cols: C, data: Float64Array.from(logits), integer: false }, Int32Array.from(data.items, (it) => it.label), false);
  return { ...m, loss: lossSum / at, logits };
}

export class ClassifyTask implements TrainableModel<ClassifyBatch> {
  valid: ClassifyData | null = null;
  evalBatch = 32;

  constructor(readonly model: VitClassifier) {}

  params(): Record<string, tf.Variable> {
    return this.model.params();
  }

  loss(batch: ClassifyBatch, ctx: StepContext): { loss: tf.Scalar } {
    const logits = this.model.forward(patchTensor(this.model, batch), { dropout: 0, rng: ctx.rng });
    return { loss: softTargetCrossEntropy(logits, tf.tensor2d(batch.targets, [batch.size, this.model.s.classes])) };
  }

  async evaluate(): Promise<Record<string, number>> {
    if (!this.valid) return {};
    const e = await evaluateClassifier(this.model, this.valid, this.evalBatch);
    return { top1: e.top1, top5: e.top5, loss: e.loss, num_images: e.numImages };
  }
}
