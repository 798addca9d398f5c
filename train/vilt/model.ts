/**
 * ViLT/VLC-style single-stream transformer over text tokens and image patches, with ViLT's PyTorch state-dict names
 * so published `.ckpt` files map by name:
 *
 *   text_embeddings.*            BERT embeddings (word, position, token_type, LayerNorm eps 1e-12)
 *   token_type_embeddings.weight modality type: 0 text, 1 image (2 = NLVR2's second image)
 *   transformer.patch_embed.proj.{weight [D,3,P,P], bias}, transformer.cls_token, transformer.pos_embed [1,1+g²,D]
 *   transformer.blocks.i.*       pre-norm ViT blocks (train/nn/vit.ts), transformer.norm
 *   pooler.dense                 tanh(dense(first token))
 *   mlm_score.*, itm_score.fc, vqa_classifier.{0,1,3}, nlvr2_classifier.{0,1,3}, rank_output   heads
 *   mae: decoder_embed, mask_token, decoder_pos_embed, decoder_blocks.i, decoder_norm, decoder_pred (MAE's names)
 *
 * The patch embedding (train/nn/vit.ts PatchEmbed) is one product over the patches the loader already cut out. The
 * image position embeddings are
 * interpolated to each image's patch grid as ViLT does (bilinear, align_corners=True), expressed as a constant
 * interpolation matrix times `pos_embed`, so the gradient reaches `pos_embed` through a plain matMul.
 */
import * as tf from '@tensorflow/tfjs';
import { additiveMask, BertEmbeddings, dropout, gelu, LayerNorm, Linear, Params, Pooler, type Mode } from '../nn/index.js';
import { PatchEmbed, VitBlock } from '../nn/vit.js';

export interface ViltSizes {
  hidden: number;
  heads: number;
  layers: number;
  mlpRatio: number;
  patch: number;
  /** Side of the square grid `pos_embed` is defined on (ViLT: 384/32 = 12). */
  posGrid: number;
  maxTextLen: number;
  /**
   * Std of the normal initialisation (ViLT's 0.02, tuned for width 768). A narrow model needs more: at width 64 each
   * projection scales activations by 0.02·√64 ≈ 0.16, so the text–image interaction ITM learns starts near zero.
   */
  initStd?: number;
  vocab: number;
  /** Rows of token_type_embeddings: 2, or 3 for NLVR2 pairs. */
  tokenTypes: number;
  tasks: { mlm: boolean; itm: boolean; vqaLabels: number; nlvr2: boolean; irtr: boolean };
  mae: { hidden: number; layers: number; heads: number } | null;
}

/** One model input: text [B, T] and patches [B, N, 3P²] padded to the batch's largest grid. */
export interface ViltInput {
  textIds: tf.Tensor2D;
  textMask: tf.Tensor2D;
  patches: tf.Tensor3D;
  /** 1 for a real patch, 0 for padding (and, for MAE, masked-out patches the encoder must not see). */
  patchMask: tf.Tensor2D;
  /** [B·N, g²] interpolation weights of pos_embed for each patch slot (zero rows for padding). */
  posInterp: tf.Tensor2D;
  imageTokenType: number;
}

export interface ViltOutput {
  textFeats: tf.Tensor3D;
  imageFeats: tf.Tensor3D;
  cls: tf.Tensor2D;
}

/** align_corners=True bilinear weights from a g×g grid to an h×w grid: [h·w, g²]. */
export function interpWeights(g: number, h: number, w: number): Float32Array {
  const out = new Float32Array(h * w * g * g);
  const axis = (n: number, i: number): [number, number, number] => {
    const s = n > 1 ? (i * (g - 1)) / (n - 1) : 0;
    const i0 = Math.min(Math.floor(s), g - 1);
    const i1 = Math.min(i0 + 1, g - 1);
    return [i0, i1, s - i0];
  };
  for (let y = 0; y < h; y++) {
    const [y0, y1, fy] = axis(h, y);
    for (let x = 0; x < w; x++) {
      const [x0, x1, fx] = axis(w, x);
      const row = (y * w + x) * g * g;
      out[row + y0 * g + x0]! += (1 - fy) * (1 - fx);
      out[row + y0 * g + x1]! += (1 - fy) * fx;
      out[row + y1 * g + x0]! += fy * (1 - fx);
      out[row + y1 * g + x1]! += fy * fx;
    }
  }
  return out;
}

class Classifier {
  readonly l0: Linear;
  readonly ln: LayerNorm;
  readonly l3: Linear;
  /** ViLT's Sequential(Linear(in, 2D), LayerNorm(2D), GELU, Linear(2D, out)); torch.nn.LayerNorm eps 1e-5. */
  constructor(p: Params, name: string, inDim: number, hidden2: number, out: number) {
    this.l0 = new Linear(p, `${name}.0`, inDim, hidden2);
    this.ln = new LayerNorm(p, `${name}.1`, hidden2, 1e-5);
    this.l3 = new Linear(p, `${name}.3`, hidden2, out);
  }
  forward(x: tf.Tensor): tf.Tensor2D {
    return this.l3.forward(gelu(this.ln.forward(this.l0.forward(x)))) as tf.Tensor2D;
  }
}

export class ViltModel {
  readonly p: Params;
  readonly text: BertEmbeddings;
  readonly tokenType: tf.Variable;
  readonly embed: PatchEmbed;
  readonly blocks: VitBlock[];
  readonly norm: LayerNorm;
  readonly pooler: Pooler;
  readonly mlm?: { dense: Linear; ln: LayerNorm; decoder: Linear; bias: tf.Variable };
  readonly itm?: Linear;
  readonly vqa?: Classifier;
  readonly nlvr2?: Classifier;
  readonly rank?: Linear;
  readonly mae?: { embed: Linear; maskToken: tf.Variable; pos: tf.Variable; blocks: VitBlock[]; norm: LayerNorm; pred: Linear };

  constructor(
    readonly s: ViltSizes,
    seed: number,
  ) {
    const p = (this.p = new Params(seed, s.initStd));
    const D = s.hidden;
    const pp = 3 * s.patch * s.patch;
    const g2 = s.posGrid * s.posGrid;
    this.text = new BertEmbeddings(p, 'text_embeddings', { vocab: s.vocab, hidden: D, maxPositions: s.maxTextLen, typeVocab: 2 });
    this.tokenType = p.normal('token_type_embeddings.weight', [s.tokenTypes, D]);
    this.embed = new PatchEmbed(p, 'transformer', D, s.patch, s.posGrid);
    this.blocks = Array.from({ length: s.layers }, (_, i) => new VitBlock(p, `transformer.blocks.${i}`, D, s.heads, D * s.mlpRatio));
    this.norm = new LayerNorm(p, 'transformer.norm', D, 1e-6);
    this.pooler = new Pooler(p, 'pooler', D);
    if (s.tasks.mlm) {
      this.mlm = {
        dense: new Linear(p, 'mlm_score.transform.dense', D, D),
        ln: new LayerNorm(p, 'mlm_score.transform.LayerNorm', D),
        decoder: new Linear(p, 'mlm_score.decoder', D, s.vocab, { bias: false }),
        bias: p.constant('mlm_score.bias', [s.vocab], 0),
      };
    }
    if (s.tasks.itm) this.itm = new Linear(p, 'itm_score.fc', D, 2);
    if (s.tasks.vqaLabels > 0) this.vqa = new Classifier(p, 'vqa_classifier', D, 2 * D, s.tasks.vqaLabels);
    if (s.tasks.nlvr2) this.nlvr2 = new Classifier(p, 'nlvr2_classifier', 2 * D, 2 * D, 2);
    if (s.tasks.irtr) this.rank = new Linear(p, 'rank_output', D, 1);
    if (s.mae) {
      const m = s.mae;
      this.mae = {
        embed: new Linear(p, 'decoder_embed', D, m.hidden),
        maskToken: p.normal('mask_token', [1, 1, m.hidden]),
        pos: p.normal('decoder_pos_embed', [1, 1 + g2, m.hidden]),
        blocks: Array.from({ length: m.layers }, (_, i) => new VitBlock(p, `decoder_blocks.${i}`, m.hidden, m.heads, 4 * m.hidden)),
        norm: new LayerNorm(p, 'decoder_norm', m.hidden, 1e-6),
        pred: new Linear(p, 'decoder_pred', m.hidden, pp),
      };
    }
  }

  params(): Record<string, tf.Variable> {
    return this.p.vars;
  }

  /** pos [1, 1+g², C] → [B, N, C] for the batch's patch slots. */
  private patchPositions(pos: tf.Tensor, posInterp: tf.Tensor2D, b: number, n: number): tf.Tensor3D {
    const c = pos.shape[2]!;
    const grid = pos.slice([0, 1, 0], [1, -1, c]).reshape([-1, c]) as tf.Tensor2D;
    return tf.matMul(posInterp, grid).reshape([b, n, c]) as tf.Tensor3D;
  }

  forward(x: ViltInput, mode: Mode): ViltOutput {
    return tf.tidy(() => {
      const [b, n] = x.patchMask.shape;
      const D = this.s.hidden;
      const T = x.textIds.shape[1];
      const text = this.text.forward(x.textIds, tf.zerosLike(x.textIds), mode).add(this.tokenType.slice([0, 0], [1, D]));
      let image: tf.Tensor = this.embed.forward(x.patches, this.patchPositions(this.embed.posEmbed, x.posInterp, b, n));
      image = dropout(image, mode).add(this.tokenType.slice([x.imageTokenType, 0], [1, D]));
      const mask = tf.concat([x.textMask, tf.ones([b, 1]), x.patchMask], 1) as tf.Tensor2D;
      let h = tf.concat([text, image], 1) as tf.Tensor3D;
      const add = additiveMask(mask);
      for (const blk of this.blocks) h = blk.forward(h, add, mode);
      h = this.norm.forward(h) as tf.Tensor3D;
      return {
        textFeats: h.slice([0, 0, 0], [b, T, D]) as tf.Tensor3D,
        imageFeats: h.slice([0, T, 0], [b, 1 + n, D]) as tf.Tensor3D,
        cls: this.pooler.forward(h),
      };
    });
  }

  /** MLM logits for the gathered token rows [M] of textFeats flattened. */
  mlmLogits(textFeats: tf.Tensor3D, rows: tf.Tensor1D): tf.Tensor2D {
    const m = this.mlm!;
    return tf.tidy(() => {
      const h = tf.gather(textFeats.reshape([-1, this.s.hidden]), rows);
      const t = m.ln.forward(gelu(m.dense.forward(h)));
      return m.decoder.forward(t).add(m.bias) as tf.Tensor2D;
    });
  }

  /**
   * MAE reconstruction loss: decoder over the image tokens with masked patches replaced by mask_token, mean squared
   * error against per-patch normalised pixels (norm_pix_loss) averaged over the masked patches only.
   */
  maeLoss(imageFeats: tf.Tensor3D, x: ViltInput, masked: tf.Tensor2D, valid: tf.Tensor2D, mode: Mode): tf.Scalar {
    const m = this.mae!;
    return tf.tidy(() => {
      const [b, n] = masked.shape;
      const e = m.embed.forward(imageFeats);
      const c = e.shape[2]!;
      const cls = e.slice([0, 0, 0], [b, 1, c]);
      const keep = masked.mul(-1).add(1).expandDims(2);
      const patches = e.slice([0, 1, 0], [b, n, c]).mul(keep).add(m.maskToken.mul(masked.expandDims(2)));
      const pos = this.patchPositions(m.pos, x.posInterp, b, n);
      let h = tf.concat([cls.add(m.pos.slice([0, 0, 0], [1, 1, c])), patches.add(pos)], 1) as tf.Tensor3D;
      const add = additiveMask(tf.concat([tf.ones([b, 1]), valid], 1) as tf.Tensor2D);
      for (const blk of m.blocks) h = blk.forward(h, add, mode);
      const pred = m.pred.forward(m.norm.forward(h.slice([0, 1, 0], [b, n, c])));
      const target = x.patches;
      const mean = target.mean(-1, true);
      const variance = target.sub(mean).square().mean(-1, true);
      const norm = target.sub(mean).div(variance.add(1e-6).sqrt());
      const perPatch = pred.sub(norm).square().mean(-1);
      return perPatch.mul(masked).sum().div(masked.sum().maximum(1)) as tf.Scalar;
    });
  }

  dispose(): void {
    this.p.dispose();
  }
}
