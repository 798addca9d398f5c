/**
 * Basic BERT building blocks over tfjs: Linear, LayerNorm, GELU, dropout. Each layer registers its parameters in a
 * shared `Params` under its PyTorch name and exposes `forward`; call `forward` inside a gradient scope (or tf.tidy).
 */
import * as tf from '@tensorflow/tfjs';
import { dense, type Rng } from '../engine/index.js';
import type { Params } from './params.js';

/** How a forward pass runs: dropout only when `rng` is given (training). */
export interface Mode {
  /** Dropout probability (BERT's hidden_dropout_prob / attention_probs_dropout_prob, both 0.1 in BERT and LXMERT). */
  dropout: number;
  /** Seeded source of dropout masks; absent at evaluation. */
  rng?: Rng;
}

export const EVAL: Mode = { dropout: 0 };

/** Inverted dropout with a mask seeded from the step's Rng (so a resumed run draws the same masks). */
export function dropout(x: tf.Tensor, mode: Mode): tf.Tensor {
  if (!mode.rng || mode.dropout <= 0) return x;
  return tf.dropout(x, mode.dropout, undefined, mode.rng.u32());
}

/** BERT's exact GELU: x · Φ(x) = 0.5 x (1 + erf(x / √2)) (not the tanh approximation). */
export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => x.mul(tf.erf(x.mul(Math.SQRT1_2)).add(1)).mul(0.5));
}

export class Linear {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | null;

  constructor(p: Params, name: string, inDim: number, outDim: number, opts: { bias?: boolean } = {}) {
    this.weight = p.linearWeight(`${name}.weight`, inDim, outDim);
    this.bias = opts.bias === false ? null : p.constant(`${name}.bias`, [outDim], 0);
  }

  forward(x: tf.Tensor): tf.Tensor {
    return dense(x, this.weight as tf.Tensor2D, (this.bias ?? undefined) as tf.Tensor1D | undefined);
  }
}

export class LayerNorm {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;

  /** eps 1e-12 as BERT's (and LXMERT's) BertLayerNorm; ViLT/timm use 1e-6 or 1e-5 and pass it here. */
  constructor(p: Params, name: string, dim: number, readonly eps = 1e-12) {
    this.weight = p.constant(`${name}.weight`, [dim], 1);
    this.bias = p.constant(`${name}.bias`, [dim], 0);
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const axis = x.rank - 1;
      const mean = x.mean(axis, true);
      const centred = x.sub(mean);
      // Biased variance, as torch.nn.LayerNorm and BertLayerNorm compute it.
      const variance = centred.square().mean(axis, true);
      return centred.mul(variance.add(this.eps).rsqrt()).mul(this.weight).add(this.bias);
    });
  }
}

export class Embedding {
  readonly weight: tf.Variable;

  constructor(p: Params, name: string, count: number, dim: number) {
    this.weight = p.normal(`${name}.weight`, [count, dim]);
  }

  /** ids [...] (int32) → [..., dim]. */
  forward(ids: tf.Tensor): tf.Tensor {
    return tf.tidy(() => tf.gather(this.weight, ids.flatten()).reshape([...ids.shape, this.weight.shape[1]!]));
  }
}
