/**
 * Multi-head scaled dot-product attention with BERT's parameter names (`query`, `key`, `value`), usable as self
 * attention (context = hidden) or cross attention (context = the other modality, whose width may differ: LXMERT's
 * `ctx_dim`). The mask is additive, BERT style: 0 where a key may be attended, -10000 where not, shaped
 * [B, 1, 1, Tk] so it broadcasts over heads and queries (see `additiveMask`).
 */
import * as tf from '@tensorflow/tfjs';
import { dropout, LayerNorm, Linear, type Mode } from './layers.js';
import type { Params } from './params.js';

/** 1/0 key mask [B, Tk] → additive mask [B, 1, 1, Tk] ((1 - m) · -10000, as BERT's get_extended_attention_mask). */
export function additiveMask(mask: tf.Tensor2D): tf.Tensor4D {
  return tf.tidy(() => tf.scalar(1).sub(mask.toFloat()).mul(-10000).reshape([mask.shape[0], 1, 1, mask.shape[1]]) as tf.Tensor4D);
}

export class MultiHeadAttention {
  readonly query: Linear;
  readonly key: Linear;
  readonly value: Linear;
  readonly headDim: number;

  /** `name` is the module holding query/key/value (BERT: `….attention.self`, LXMERT cross: `….visual_attention.att`). */
  constructor(p: Params, name: string, readonly hidden: number, readonly heads: number, ctxDim = hidden) {
    if (hidden % heads !== 0) throw new Error(`hidden size ${hidden} is not a multiple of the number of heads ${heads}`);
    this.headDim = hidden / heads;
    this.query = new Linear(p, `${name}.query`, hidden, hidden);
    this.key = new Linear(p, `${name}.key`, ctxDim, hidden);
    this.value = new Linear(p, `${name}.value`, ctxDim, hidden);
  }

  private split(x: tf.Tensor): tf.Tensor4D {
    const [b, t] = x.shape as [number, number, number];
    return x.reshape([b, t, this.heads, this.headDim]).transpose([0, 2, 1, 3]) as tf.Tensor4D;
  }

  /** hidden [B, Tq, H], context [B, Tk, C], mask additive [B, 1, 1, Tk] or null → [B, Tq, H]. */
  forward(hidden: tf.Tensor3D, context: tf.Tensor3D, mask: tf.Tensor4D | null, mode: Mode): tf.Tensor3D {
    return tf.tidy(() => {
      const [b, tq] = hidden.shape;
      const q = this.split(this.query.forward(hidden));
      const k = this.split(this.key.forward(context));
      const v = this.split(this.value.forward(context));
      let scores = tf.matMul(q, k, false, true).mul(1 / Math.sqrt(this.headDim));
      if (mask) scores = scores.add(mask);
      const probs = dropout(tf.softmax(scores, -1), mode);
      return tf.matMul(probs as tf.Tensor4D, v).transpose([0, 2, 1, 3]).reshape([b, tq, this.hidden]) as tf.Tensor3D;
    });
  }
}

/** BERT's BertSelfOutput / LXMERT's BertAttOutput: LayerNorm(dropout(dense(x)) + residual). */
export class AddNorm {
  readonly dense: Linear;
  readonly norm: LayerNorm;

  constructor(p: Params, name: string, inDim: number, hidden: number, eps = 1e-12) {
    this.dense = new Linear(p, `${name}.dense`, inDim, hidden);
    this.norm = new LayerNorm(p, `${name}.LayerNorm`, hidden, eps);
  }

  forward(x: tf.Tensor, residual: tf.Tensor, mode: Mode): tf.Tensor {
    return tf.tidy(() => this.norm.forward(dropout(this.dense.forward(x), mode).add(residual)));
  }
}

/** Attention followed by AddNorm: BERT's BertAttention (`attention.self` + `attention.output`). */
export class AttentionBlock {
  readonly attn: MultiHeadAttention;
  readonly output: AddNorm;

  /** `selfName` / `outputName`: BERT `….attention.self` / `….attention.output`; LXMERT cross `….att` / `….output`. */
  constructor(p: Params, selfName: string, outputName: string, hidden: number, heads: number, ctxDim = hidden) {
    this.attn = new MultiHeadAttention(p, selfName, hidden, heads, ctxDim);
    this.output = new AddNorm(p, outputName, hidden, hidden);
  }

  forward(x: tf.Tensor3D, context: tf.Tensor3D, mask: tf.Tensor4D | null, mode: Mode): tf.Tensor3D {
    return tf.tidy(() => this.output.forward(this.attn.forward(x, context, mask, mode), x, mode) as tf.Tensor3D);
  }
}
