/**
 * BERT encoder pieces with BERT's names: the feed-forward block (`intermediate.dense` → GELU → `output.dense` +
 * `output.LayerNorm`), the post-norm BertLayer, the embeddings (word + position + token type, LayerNorm, dropout)
 * and the pooler (first token → dense → tanh).
 */
import * as tf from '@tensorflow/tfjs';
import { AddNorm, AttentionBlock } from './attention.js';
import { dropout, Embedding, gelu, LayerNorm, Linear, type Mode } from './layers.js';
import type { Params } from './params.js';

export interface BertSizes {
  hidden: number;
  heads: number;
  intermediate: number;
}

/** BERT's BertIntermediate + BertOutput: LayerNorm(dropout(W2 · gelu(W1 · x)) + x). */
export class FeedForward {
  readonly inter: Linear;
  readonly output: AddNorm;

  /** `interName` / `outputName`: BERT `….intermediate` / `….output`; LXMERT cross layers `lang_inter` / `lang_output`. */
  constructor(p: Params, interName: string, outputName: string, s: BertSizes) {
    this.inter = new Linear(p, `${interName}.dense`, s.hidden, s.intermediate);
    this.output = new AddNorm(p, outputName, s.intermediate, s.hidden);
  }

  forward(x: tf.Tensor3D, mode: Mode): tf.Tensor3D {
    return tf.tidy(() => this.output.forward(gelu(this.inter.forward(x)), x, mode) as tf.Tensor3D);
  }
}

/** BERT's post-norm transformer layer: self attention (+ AddNorm), then the feed-forward block. */
export class BertLayer {
  readonly attention: AttentionBlock;
  readonly ffn: FeedForward;

  constructor(p: Params, name: string, s: BertSizes) {
    this.attention = new AttentionBlock(p, `${name}.attention.self`, `${name}.attention.output`, s.hidden, s.heads);
    this.ffn = new FeedForward(p, `${name}.intermediate`, `${name}.output`, s);
  }

  forward(x: tf.Tensor3D, mask: tf.Tensor4D | null, mode: Mode): tf.Tensor3D {
    return tf.tidy(() => this.ffn.forward(this.attention.forward(x, x, mask, mode), mode));
  }
}

export interface EmbeddingSizes {
  vocab: number;
  hidden: number;
  maxPositions: number;
  typeVocab: number;
}

/** word + position + token-type embeddings, LayerNorm (eps 1e-12), dropout; positions are 0 … T-1. */
export class BertEmbeddings {
  readonly word: Embedding;
  readonly position: Embedding;
  readonly tokenType: Embedding;
  readonly norm: LayerNorm;

  constructor(p: Params, name: string, s: EmbeddingSizes) {
    this.word = new Embedding(p, `${name}.word_embeddings`, s.vocab, s.hidden);
    this.position = new Embedding(p, `${name}.position_embeddings`, s.maxPositions, s.hidden);
    this.tokenType = new Embedding(p, `${name}.token_type_embeddings`, s.typeVocab, s.hidden);
    this.norm = new LayerNorm(p, `${name}.LayerNorm`, s.hidden);
  }

  /** ids, tokenTypes [B, T] int32 → [B, T, H]. */
  forward(ids: tf.Tensor2D, tokenTypes: tf.Tensor2D, mode: Mode): tf.Tensor3D {
    return tf.tidy(() => {
      const t = ids.shape[1];
      if (t > this.position.weight.shape[0]!) throw new Error(`sequence of ${t} tokens exceeds the ${this.position.weight.shape[0]} position embeddings`);
      const pos = this.position.forward(tf.range(0, t, 1, 'int32')).expandDims(0);
      const sum = this.word.forward(ids).add(pos).add(this.tokenType.forward(tokenTypes));
      return dropout(this.norm.forward(sum), mode) as tf.Tensor3D;
    });
  }
}

/** BERT's pooler: tanh(dense(hidden[:, 0])). */
export class Pooler {
  readonly dense: Linear;

  constructor(p: Params, name: string, hidden: number) {
    this.dense = new Linear(p, `${name}.dense`, hidden, hidden);
  }

  forward(x: tf.Tensor3D): tf.Tensor2D {
    return tf.tidy(() => this.dense.forward(x.slice([0, 0, 0], [-1, 1, -1]).squeeze([1])).tanh() as tf.Tensor2D);
  }
}
