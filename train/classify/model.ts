/**
 * The ViT image classifier of `trainer: vit_classify` — MAE/VLC's `models_vit.VisionTransformer` — with the ViLT/VLC
 * backbone's parameter names, so a ViLT/VLC `.ckpt` or a vlkit ViLT run loads into it by name:
 *
 *   transformer.patch_embed.proj.{weight [D,3,P,P], bias}, transformer.cls_token, transformer.pos_embed [1,1+g²,D]
 *   transformer.blocks.i.*   pre-norm ViT blocks (train/nn/vit.ts) with drop path rising linearly 0 → drop_path
 *   transformer.norm         final LayerNorm (class-token pooling only, as MAE)
 *   fc_norm                  LayerNorm after global average pooling of the patch tokens (MAE's default pooling)
 *   head                     Linear(D, classes), weights N(0, 2e-5) as MAE's fine-tuning re-initialises it
 *
 * Patches come cut by the loader ([B, N, 3·P·P], channel-major like the conv weight): the patch embedding is the
 * stride-P convolution written as one matMul, as in the ViLT model. The grid is fixed (square `image_size`), so the
 * position table is added as is.
 */
import * as tf from '@tensorflow/tfjs';
import { LayerNorm, Linear, Params, type Mode } from '../nn/index.js';
import { PatchEmbed, VitBlock } from '../nn/vit.js';

export interface ClassifierSizes {
  hidden: number;
  heads: number;
  layers: number;
  mlpRatio: number;
  patch: number;
  /** Patches per side (image_size / patch). */
  grid: number;
  classes: number;
  /** Stochastic depth of the last block; block i gets dropPath · i / (layers − 1) (timm's linspace). */
  dropPath: number;
  /** true: mean of the patch tokens → fc_norm (MAE's default); false: transformer.norm → class token. */
  globalPool: boolean;
}

/** Std of MAE's fine-tuning head initialisation (trunc_normal_(head.weight, std=2e-5)). */
const HEAD_STD = 2e-5;

export class VitClassifier {
  readonly p: Params;
  readonly embed: PatchEmbed;
  readonly blocks: VitBlock[];
  readonly norm: LayerNorm;
  readonly head: Linear;

  constructor(
    readonly s: ClassifierSizes,
    seed: number,
  ) {
    const p = (this.p = new Params(seed));
    const D = s.hidden;
    this.embed = new PatchEmbed(p, 'transformer', D, s.patch, s.grid);
    this.blocks = Array.from({ length: s.layers }, (_, i) => {
      const blk = new VitBlock(p, `transformer.blocks.${i}`, D, s.heads, D * s.mlpRatio);
      blk.dropPath = s.layers > 1 ? (s.dropPath * i) / (s.layers - 1) : 0;
      return blk;
    });
    this.norm = new LayerNorm(p, s.globalPool ? 'fc_norm' : 'transformer.norm', D, 1e-6);
    this.head = new Linear(p, 'head', D, s.classes);
    tf.tidy(() => this.head.weight.assign(this.head.weight.mul(HEAD_STD / p.initStd)));
  }

  params(): Record<string, tf.Variable> {
    return this.p.vars;
  }

  /** patches [B, g², 3P²] → logits [B, classes]. */
  forward(patches: tf.Tensor3D, mode: Mode): tf.Tensor2D {
    return tf.tidy(() => {
      const [b, n] = patches.shape;
      const D = this.s.hidden;
      if (n !== this.s.grid ** 2) throw new Error(`expected ${this.s.grid ** 2} patches per image, got ${n}`);
      let h = this.embed.forward(patches, this.embed.posEmbed.slice([0, 1, 0], [1, n, D]));
      for (const blk of this.blocks) h = blk.forward(h, null, mode);
      const pooled = this.s.globalPool ? this.norm.forward(h.slice([0, 1, 0], [b, n, D]).mean(1)) : this.norm.forward(h).slice([0, 0, 0], [b, 1, D]).reshape([b, D]);
      return this.head.forward(pooled) as tf.Tensor2D;
    });
  }

  dispose(): void {
    this.p.dispose();
  }
}

/**
 * Layer-wise lr decay (BEiT/MAE `param_groups_lrd`): the patch embedding, cls_token and pos_embed are layer 0,
 * block i is layer i+1, everything after the blocks (norms, head) is layer L+1; a parameter's lr is multiplied by
 * decay^(L+1 − layer).
 */
export function layerDecayScales(names: string[], layers: number, decay: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of names) {
    let layer = layers + 1;
    const blk = /^transformer\.blocks\.(\d+)\./.exec(n);
    if (blk) layer = Number(blk[1]) + 1;
    else if (/^transformer\.(cls_token|pos_embed|patch_embed\.)/.test(n)) layer = 0;
    out[n] = decay ** (layers + 1 - layer);
  }
  return out;
}

/** MAE's weight-decay exemptions beyond bias/norm names: every 1-D parameter, pos_embed and cls_token. */
export function noDecayNames(params: Record<string, tf.Variable>): Set<string> {
  return new Set(Object.entries(params).filter(([n, v]) => v.rank === 1 || /(^|\.)(pos_embed|cls_token)$/.test(n)).map(([n]) => n));
}
