/**
 * Named trainable parameters for the BERT-style layers in train/nn.
 *
 * Names are PyTorch's dotted state-dict names (`bert.encoder.layer.0.attention.self.query.weight`), so published
 * checkpoints map by name and the engine's weight-decay rule (train/engine isNoDecay) sees the names it expects.
 *
 * Layout: a Linear weight is stored here as [in, out] — the orientation `dense` (x · W) multiplies without a
 * transpose — while PyTorch stores nn.Linear.weight as [out, in]. Every Linear weight is recorded in `transposed`;
 * `toTorch` / `fromTorch` swap those two axes at the import/export boundary and leave every other tensor
 * (embeddings, LayerNorm, biases) as it is.
 *
 * Initialisation is BERT's `init_bert_weights`: Linear and Embedding weights N(0, 0.02), biases 0, LayerNorm weight 1
 * and bias 0. The normals come from the engine's seeded Rng, so a seed gives the same model on every backend.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../engine/index.js';

export interface TorchTensor {
  shape: number[];
  data: Float32Array;
}

/** tfjs variable names must be unique per process: every Params gets its own number. */
let instances = 0;

export class Params {
  readonly vars: Record<string, tf.Variable> = {};
  /** Names of Linear weights, stored [in, out] here and [out, in] in PyTorch. */
  readonly transposed = new Set<string>();
  private readonly rng: Rng;
  private readonly instance = instances++;

  constructor(
    seed: number,
    readonly initStd = 0.02,
  ) {
    this.rng = Rng.from(seed, 'init');
  }

  private add(name: string, values: Float32Array, shape: number[]): tf.Variable {
    if (name in this.vars) throw new Error(`parameter '${name}' defined twice`);
    // In a scope so the upload tensor is released: a variable shares its initial tensor's data, and a leaked
    // initial tensor kept each parameter's first values alive after the first update (one more copy of the model).
    const v = tf.tidy(() => tf.variable(tf.tensor(values, shape, 'float32'), true, `${name}#${this.instance}`));
    this.vars[name] = v;
    return v;
  }

  normal(name: string, shape: number[]): tf.Variable {
    const n = shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(n);
    for (let i = 0; i < n; i++) values[i] = this.rng.normal() * this.initStd;
    return this.add(name, values, shape);
  }

  constant(name: string, shape: number[], value: number): tf.Variable {
    return this.add(name, new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(value), shape);
  }

  /** A Linear weight [in, out] (PyTorch [out, in]). */
  linearWeight(name: string, inDim: number, outDim: number): tf.Variable {
    this.transposed.add(name);
    return this.normal(name, [inDim, outDim]);
  }

  /** Parameter `name` in PyTorch layout. */
  toTorch(name: string): TorchTensor {
    const v = this.vars[name];
    if (!v) throw new Error(`no parameter '${name}'`);
    if (!this.transposed.has(name)) return { shape: [...v.shape], data: v.dataSync() as Float32Array };
    const t = tf.tidy(() => v.transpose());
    const out = { shape: [...t.shape], data: t.dataSync() as Float32Array };
    t.dispose();
    return out;
  }

  /** Assign a PyTorch-layout tensor to parameter `name`; `where` names the source in errors. */
  fromTorch(name: string, t: TorchTensor, where: string): void {
    const v = this.vars[name];
    if (!v) throw new Error(`no parameter '${name}'`);
    const want = this.transposed.has(name) ? [v.shape[1]!, v.shape[0]!] : v.shape;
    if (t.shape.join(',') !== want.join(',')) {
      throw new Error(`${where}: '${name}' has shape [${t.shape}], the model expects [${want}] (PyTorch layout)`);
    }
    tf.tidy(() => {
      const x = tf.tensor(t.data, t.shape, 'float32');
      v.assign(this.transposed.has(name) ? x.transpose() : x);
    });
  }

  dispose(): void {
    for (const v of Object.values(this.vars)) v.dispose();
  }
}
