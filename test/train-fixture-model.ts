/**
 * A tiny model and synthetic task for the engine tests (not a test file itself): token ids → embedding → mean pool
 * → 2-layer MLP with dropout → 3 classes. An example of class c contains token c once among noise tokens, so the
 * task is learnable well above chance (1/3) in a few dozen steps. Data-side randomness (one noise token replaced
 * per example) draws from the loop's per-batch rng, model-side dropout from the step rng: both must replay exactly
 * on resume.
 */
import * as tf from '@tensorflow/tfjs';
import { mergeConfig, type ConfigTree } from '../common/config.js';
import { dense, epochPermutation, Rng, TRAIN_DEFAULTS, type BatchSource, type StepContext, type TrainableModel } from '../train/engine/index.js';

const VOCAB = 12;
const SEQ = 5;
const CLASSES = 3;

export interface Batch {
  ids: Int32Array;
  labels: Int32Array;
}

export function makeExamples(n: number, seed: number): Batch {
  const r = Rng.from(seed, 'examples');
  const ids = new Int32Array(n * SEQ);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = r.int(CLASSES);
    labels[i] = c;
    for (let j = 0; j < SEQ; j++) ids[i * SEQ + j] = CLASSES + r.int(VOCAB - CLASSES);
    ids[i * SEQ + r.int(SEQ)] = c;
  }
  return { ids, labels };
}

export class TinySource implements BatchSource<Batch> {
  readonly batchesPerEpoch: number;

  constructor(
    private readonly data: Batch,
    private readonly batchSize: number,
    private readonly seed: number,
    private readonly noise = true,
  ) {
    this.batchesPerEpoch = Math.floor(data.labels.length / batchSize);
  }

  *batches(epoch: number, start: number, rngFor: (i: number) => Rng): Iterable<Batch> {
    const order = epochPermutation(this.seed, epoch, this.data.labels.length);
    for (let b = start; b < this.batchesPerEpoch; b++) {
      const r = rngFor(b);
      const ids = new Int32Array(this.batchSize * SEQ);
      const labels = new Int32Array(this.batchSize);
      for (let k = 0; k < this.batchSize; k++) {
        const e = order[b * this.batchSize + k]!;
        labels[k] = this.data.labels[e]!;
        ids.set(this.data.ids.subarray(e * SEQ, (e + 1) * SEQ), k * SEQ);
        if (this.noise) {
          const j = r.int(SEQ);
          if (ids[k * SEQ + j]! >= CLASSES) ids[k * SEQ + j] = CLASSES + r.int(VOCAB - CLASSES);
        }
      }
      yield { ids, labels };
    }
  }
}

export class TinyModel implements TrainableModel<Batch> {
  private readonly p: Record<string, tf.Variable>;

  constructor(
    seed: number,
    private readonly valid: Batch,
    private readonly dropout = 0.1,
    hidden = 16,
    dim = 8,
  ) {
    const r = Rng.from(seed, 'init');
    const init = (shape: number[], scale: number) => tf.variable(tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => r.normal() * scale), shape));
    this.p = {
      'emb.weight': init([VOCAB, dim], 0.5),
      'fc1.weight': init([dim, hidden], 1 / Math.sqrt(dim)),
      'fc1.bias': tf.variable(tf.zeros([hidden])),
      'fc2.weight': init([hidden, CLASSES], 1 / Math.sqrt(hidden)),
      'fc2.bias': tf.variable(tf.zeros([CLASSES])),
      'ln.weight': tf.variable(tf.ones([hidden])),
    };
  }

  params(): Record<string, tf.Variable> {
    return this.p;
  }

  private logits(ids: Int32Array, n: number, dropoutSeed: number | null): tf.Tensor2D {
    const p = this.p;
    const e = tf.gather(p['emb.weight']!, tf.tensor1d(ids, 'int32')).reshape([n, SEQ, -1]).mean(1);
    let h = dense(e, p['fc1.weight'] as tf.Variable<tf.Rank.R2>, p['fc1.bias'] as tf.Variable<tf.Rank.R1>).relu().mul(p['ln.weight']!);
    if (dropoutSeed !== null && this.dropout > 0) h = tf.dropout(h, this.dropout, undefined, dropoutSeed);
    return dense(h, p['fc2.weight'] as tf.Variable<tf.Rank.R2>, p['fc2.bias'] as tf.Variable<tf.Rank.R1>) as tf.Tensor2D;
  }

  loss(batch: Batch, ctx: StepContext): { loss: tf.Scalar; metrics: Record<string, tf.Scalar> } {
    const n = batch.labels.length;
    const logits = this.logits(batch.ids, n, ctx.rng.u32());
    const labels = tf.tensor1d(batch.labels, 'int32');
    const loss = tf.losses.softmaxCrossEntropy(tf.oneHot(labels, CLASSES), logits) as tf.Scalar;
    const acc = logits.argMax(1).equal(labels).cast('float32').mean() as tf.Scalar;
    return { loss, metrics: { accuracy: acc } };
  }

  evaluate(): Record<string, number> {
    return tf.tidy(() => {
      const n = this.valid.labels.length;
      const logits = this.logits(this.valid.ids, n, null);
      const labels = tf.tensor1d(this.valid.labels, 'int32');
      const loss = tf.losses.softmaxCrossEntropy(tf.oneHot(labels, CLASSES), logits).dataSync()[0]!;
      const accuracy = logits.argMax(1).equal(labels).cast('float32').mean().dataSync()[0]!;
      return { accuracy, loss };
    });
  }

  dispose(): void {
    for (const v of Object.values(this.p)) v.dispose();
  }
}

/** The `train` section used by the tests: tiny sizes, overridable. */
export function tinyConfig(over: Record<string, unknown> = {}): ConfigTree {
  return mergeConfig(TRAIN_DEFAULTS, {
    train: {
      backend: 'wasm',
      seed: 1234,
      epochs: 3,
      batch_size: 8,
      lr: 0.05,
      warmup: 0.1,
      log_every: 1,
      eval_every: 4,
      checkpoint_every: 5,
      best_metric: 'accuracy',
      ...(over as ConfigTree),
    },
  });
}
