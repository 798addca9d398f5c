/**
 * LXMERT's cross-modality model (Tan & Bansal 2019) on the shared train/nn layers.
 *
 * Encoder ("LXRT"): BERT embeddings for the sentence; a visual feature encoder
 * (LayerNorm(fc(region feature)) + LayerNorm(fc(box)))/2; `l_layers` BERT layers over language, `r_layers` over
 * objects, then `x_layers` cross-modality layers. A cross-modality layer has ONE cross-attention module that both
 * directions use (language queries objects, objects query language, same weights), then a self-attention and a
 * feed-forward block per modality. The pooled output is BERT's pooler over the language [CLS].
 *
 * Heads: VQA/GQA answer classifier (hidden → 2·hidden, GELU, LayerNorm 1e-12 → answers) and NLVR2 (the two images'
 * pooled outputs concatenated, [2·hidden] → 2·hidden, GELU, LayerNorm → 2).
 *
 * Parameter names are those of LXMERT's fine-tuned PyTorch models (`lxrt_encoder.model.bert.…`, `logit_fc.N.…`),
 * so a fine-tuned BEST.pth loads by name; weights.ts maps pretrained `model_LXRT.pth` (`bert.…`) and BERT-base files
 * onto them.
 */
import * as tf from '@tensorflow/tfjs';
import {
  additiveMask,
  AttentionBlock,
  BertEmbeddings,
  BertLayer,
  FeedForward,
  gelu,
  LayerNorm,
  Linear,
  Params,
  Pooler,
  dropout,
  type BertSizes,
  type Mode,
} from '../nn/index.js';

export const ENCODER_PREFIX = 'lxrt_encoder.model.bert';

export interface LxmertSizes extends BertSizes {
  vocab: number;
  maxPositions: number;
  typeVocab: number;
  lLayers: number;
  rLayers: number;
  xLayers: number;
  /** Region feature size (2048 for bottom-up features). */
  featDim: number;
  /** Box coordinates per region (4: x1 y1 x2 y2 normalised by the image size). */
  posDim: number;
}

export type LxmertTask = 'vqa' | 'gqa' | 'nlvr2';

/** One forward batch. NLVR2: 2·B rows (image 0 and image 1 of each example, the sentence repeated). */
export interface LxmertInputs {
  /** [B, T] int32 token ids, attention mask (1/0, float32) and segment ids. */
  ids: tf.Tensor2D;
  mask: tf.Tensor2D;
  types: tf.Tensor2D;
  /** [B, O, featDim] region features, [B, O, posDim] normalised boxes, [B, O] 1/0 mask of real (not padded) boxes. */
  feats: tf.Tensor3D;
  boxes: tf.Tensor3D;
  visMask: tf.Tensor2D;
}

/**
 * The same input as plain typed arrays, as the fine-tuning and pre-training batchers build it (tensors are made inside
 * the model's gradient scope): `rows` examples (NLVR2: examples × 2 images) of `seqLen` tokens and `boxes` boxes.
 */
export interface LxmertArrays {
  rows: number;
  seqLen: number;
  boxes: number;
  featDim: number;
  ids: Int32Array;
  mask: Float32Array;
  types: Int32Array;
  feats: Float32Array;
  /** [rows, boxes, 4] normalised boxes. */
  pos: Float32Array;
  visMask: Float32Array;
}

export function lxmertInputs(b: LxmertArrays): LxmertInputs {
  const { rows, seqLen: T, boxes: O, featDim: D } = b;
  return {
    ids: tf.tensor2d(b.ids, [rows, T], 'int32'),
    mask: tf.tensor2d(b.mask, [rows, T]),
    types: tf.tensor2d(b.types, [rows, T], 'int32'),
    feats: tf.tensor3d(b.feats, [rows, O, D]),
    boxes: tf.tensor3d(b.pos, [rows, O, 4]),
    visMask: tf.tensor2d(b.visMask, [rows, O]),
  };
}

/** LXMERT's VisualFeatEncoder. */
class VisualFeatEncoder {
  readonly visnFc: Linear;
  readonly visnNorm: LayerNorm;
  readonly boxFc: Linear;
  readonly boxNorm: LayerNorm;

  constructor(p: Params, name: string, s: LxmertSizes) {
    this.visnFc = new Linear(p, `${name}.visn_fc`, s.featDim, s.hidden);
    this.visnNorm = new LayerNorm(p, `${name}.visn_layer_norm`, s.hidden);
    this.boxFc = new Linear(p, `${name}.box_fc`, s.posDim, s.hidden);
    this.boxNorm = new LayerNorm(p, `${name}.box_layer_norm`, s.hidden);
  }

  forward(feats: tf.Tensor3D, boxes: tf.Tensor3D, mode: Mode): tf.Tensor3D {
    return tf.tidy(() => {
      const x = this.visnNorm.forward(this.visnFc.forward(feats));
      const y = this.boxNorm.forward(this.boxFc.forward(boxes));
      return dropout(x.add(y).mul(0.5), mode) as tf.Tensor3D;
    });
  }
}

/** LXMERT's LXRTXLayer: shared cross attention both ways, then per-modality self attention and feed-forward. */
class CrossLayer {
  readonly cross: AttentionBlock;
  readonly langSelf: AttentionBlock;
  readonly visnSelf: AttentionBlock;
  readonly langFfn: FeedForward;
  readonly visnFfn: FeedForward;

  constructor(p: Params, name: string, s: LxmertSizes) {
    this.cross = new AttentionBlock(p, `${name}.visual_attention.att`, `${name}.visual_attention.output`, s.hidden, s.heads);
    this.langSelf = new AttentionBlock(p, `${name}.lang_self_att.self`, `${name}.lang_self_att.output`, s.hidden, s.heads);
    this.visnSelf = new AttentionBlock(p, `${name}.visn_self_att.self`, `${name}.visn_self_att.output`, s.hidden, s.heads);
    this.langFfn = new FeedForward(p, `${name}.lang_inter`, `${name}.lang_output`, s);
    this.visnFfn = new FeedForward(p, `${name}.visn_inter`, `${name}.visn_output`, s);
  }

  forward(lang: tf.Tensor3D, langMask: tf.Tensor4D, visn: tf.Tensor3D, visnMask: tf.Tensor4D, mode: Mode): [tf.Tensor3D, tf.Tensor3D] {
    return tf.tidy(() => {
      const l1 = this.cross.forward(lang, visn, visnMask, mode);
      const v1 = this.cross.forward(visn, lang, langMask, mode);
      const l2 = this.langSelf.forward(l1, l1, langMask, mode);
      const v2 = this.visnSelf.forward(v1, v1, visnMask, mode);
      return [this.langFfn.forward(l2, mode), this.visnFfn.forward(v2, mode)];
    });
  }
}

export class LxrtEncoder {
  readonly embeddings: BertEmbeddings;
  readonly visnFc: VisualFeatEncoder;
  readonly layers: BertLayer[] = [];
  readonly rLayers: BertLayer[] = [];
  readonly xLayers: CrossLayer[] = [];
  readonly pooler: Pooler;

  constructor(p: Params, name: string, readonly sizes: LxmertSizes) {
    const s = sizes;
    this.embeddings = new BertEmbeddings(p, `${name}.embeddings`, { vocab: s.vocab, hidden: s.hidden, maxPositions: s.maxPositions, typeVocab: s.typeVocab });
    this.visnFc = new VisualFeatEncoder(p, `${name}.encoder.visn_fc`, s);
    for (let i = 0; i < s.lLayers; i++) this.layers.push(new BertLayer(p, `${name}.encoder.layer.${i}`, s));
    for (let i = 0; i < s.rLayers; i++) this.rLayers.push(new BertLayer(p, `${name}.encoder.r_layers.${i}`, s));
    for (let i = 0; i < s.xLayers; i++) this.xLayers.push(new CrossLayer(p, `${name}.encoder.x_layers.${i}`, s));
    this.pooler = new Pooler(p, `${name}.pooler`, s.hidden);
  }

  forward(inp: LxmertInputs, mode: Mode): { lang: tf.Tensor3D; visn: tf.Tensor3D; pooled: tf.Tensor2D } {
    return tf.tidy(() => {
      const langMask = additiveMask(inp.mask);
      const visnMask = additiveMask(inp.visMask);
      let lang = this.embeddings.forward(inp.ids, inp.types, mode);
      let visn = this.visnFc.forward(inp.feats, inp.boxes, mode);
      for (const l of this.layers) lang = l.forward(lang, langMask, mode);
      for (const l of this.rLayers) visn = l.forward(visn, visnMask, mode);
      for (const l of this.xLayers) [lang, visn] = l.forward(lang, langMask, visn, visnMask, mode);
      return { lang, visn, pooled: this.pooler.forward(lang) };
    });
  }
}

/** LXMERT's logit_fc: Linear(in, 2h) · GeLU · LayerNorm(2h, 1e-12) · Linear(2h, out), PyTorch indices 0, 2, 3. */
export class LogitFc {
  readonly fc0: Linear;
  readonly norm: LayerNorm;
  readonly fc3: Linear;

  constructor(p: Params, inDim: number, hidden2: number, out: number, name = 'logit_fc') {
    this.fc0 = new Linear(p, `${name}.0`, inDim, hidden2);
    this.norm = new LayerNorm(p, `${name}.2`, hidden2);
    this.fc3 = new Linear(p, `${name}.3`, hidden2, out);
  }

  forward(x: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => this.fc3.forward(this.norm.forward(gelu(this.fc0.forward(x)))) as tf.Tensor2D);
  }
}

/** A fine-tuning model: encoder + task head. */
export class LxmertModel {
  readonly params: Params;
  readonly encoder: LxrtEncoder;
  readonly head: LogitFc;
  /** Number of outputs (answers for VQA/GQA, 2 for NLVR2). */
  readonly outputs: number;

  constructor(readonly task: LxmertTask, readonly sizes: LxmertSizes, numAnswers: number, seed: number) {
    this.params = new Params(seed);
    this.encoder = new LxrtEncoder(this.params, ENCODER_PREFIX, sizes);
    const h = sizes.hidden;
    this.outputs = task === 'nlvr2' ? 2 : numAnswers;
    if (this.outputs < 1) throw new Error('the answer vocabulary is empty');
    this.head = task === 'nlvr2' ? new LogitFc(this.params, 2 * h, 2 * h, 2) : new LogitFc(this.params, h, 2 * h, this.outputs);
  }

  /** Logits [B, outputs] (NLVR2: B = rows / 2). */
  logits(inp: LxmertInputs, mode: Mode): tf.Tensor2D {
    return tf.tidy(() => {
      const { pooled } = this.encoder.forward(inp, mode);
      const x = this.task === 'nlvr2' ? (pooled.reshape([-1, 2 * this.sizes.hidden]) as tf.Tensor2D) : pooled;
      return this.head.forward(x);
    });
  }
}

/**
 * LXMERT's VQA/GQA loss: BCEWithLogits averaged over batch × answers, times the number of answers — i.e. summed over
 * answers and averaged over the batch. `targets` are the soft scores [B, answers].
 */
export function softScoreLoss(logits: tf.Tensor2D, targets: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    // Stable BCE with logits: max(x, 0) - x·z + log(1 + exp(-|x|)).
    const bce = logits.relu().sub(logits.mul(targets)).add(logits.abs().neg().exp().log1p());
    return bce.mean().mul(logits.shape[1]) as tf.Scalar;
  });
}

/** NLVR2: cross entropy over {False, True}; `labels` [B] int32 0/1. */
export function crossEntropyLoss(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => tf.logSoftmax(logits).mul(tf.oneHot(labels, logits.shape[1])).sum(1).mean().neg() as tf.Scalar);
}
