/**
 * The pre-norm Vision Transformer block of timm's `VisionTransformer`, which ViLT and VLC use as their joint
 * encoder, with timm's parameter names: `norm1`, `attn.qkv` (one fused [D, 3D] projection), `attn.proj`, `norm2`,
 * `mlp.fc1`, `mlp.fc2`. x ← x + proj(attention(norm1(x))); x ← x + fc2(gelu(fc1(norm2(x)))).
 *
 * It is a separate class from BERT's `MultiHeadAttention` (attention.ts) because the parameters differ (fused qkv,
 * pre-norm, no output LayerNorm); the masking convention (`additiveMask`), Linear, LayerNorm, GELU and dropout are
 * the shared ones. LayerNorm eps is timm's/ViLT's 1e-6. timm's attention dropout is 0 in ViLT/VLC and is not applied.
 *
 * `dropPath` is timm's stochastic depth (DropPath): in training each residual branch is zeroed for a whole example
 * with that probability and scaled by 1/(1-p) otherwise. Masks are drawn from the step's Rng (mode.rng), so a
 * resumed run draws the same ones; at 0 (the default) or in evaluation the block is unchanged and draws nothing.
 */
import * as tf from '@tensorflow/tfjs';
import { dropout, gelu, LayerNorm, Linear, type Mode } from './layers.js';
import type { Params } from './params.js';

/**
 * timm's patch embedding with the image [CLS] token and the position table, under timm's names (`<name>.patch_embed.
 * proj`, `<name>.cls_token`, `<name>.pos_embed` [1, 1+g², D] for a g×g grid). Patches arrive already cut out
 * ([B, N, 3·P²], channel-major like the conv weight), so the embedding is one product: the numbers of a stride-P
 * convolution, without conv gradients. Where each patch sits on the grid is the caller's (ViLT interpolates the
 * table per image; a fixed-size classifier takes its rows as they are).
 */
export class PatchEmbed {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;
  readonly clsToken: tf.Variable;
  readonly posEmbed: tf.Variable;

  constructor(p: Params, name: string, readonly hidden: number, patch: number, grid: number) {
    this.weight = p.normal(`${name}.patch_embed.proj.weight`, [hidden, 3, patch, patch]);
    this.bias = p.constant(`${name}.patch_embed.proj.bias`, [hidden], 0);
    this.clsToken = p.normal(`${name}.cls_token`, [1, 1, hidden]);
    this.posEmbed = p.normal(`${name}.pos_embed`, [1, 1 + grid * grid, hidden]);
  }

  /** patches [B, N, 3P²] plus their position embeddings (broadcast to [B, N, D]) → [B, 1+N, D], [CLS] first. */
  forward(patches: tf.Tensor3D, positions: tf.Tensor): tf.Tensor3D {
    return tf.tidy(() => {
      const [b, n] = patches.shape;
      const D = this.hidden;
      const x = tf.matMul(patches.reshape([b * n, -1]) as tf.Tensor2D, this.weight.reshape([D, -1]) as tf.Tensor2D, false, true).add(this.bias).reshape([b, n, D]);
      const cls = this.clsToken.add(this.posEmbed.slice([0, 0, 0], [1, 1, D])).tile([b, 1, 1]);
      return tf.concat([cls, x.add(positions)], 1) as tf.Tensor3D;
    });
  }
}

export class VitBlock {
  readonly norm1: LayerNorm;
  readonly qkv: Linear;
  readonly proj: Linear;
  readonly norm2: LayerNorm;
  readonly fc1: Linear;
  readonly fc2: Linear;
  readonly headDim: number;
  /** Stochastic-depth rate of this block (timm's drop_path; a ViT sets it to rising values per depth). */
  dropPath = 0;

  constructor(p: Params, name: string, readonly hidden: number, readonly heads: number, mlpHidden: number, eps = 1e-6) {
    if (hidden % heads !== 0) throw new Error(`hidden size ${hidden} is not a multiple of the number of heads ${heads}`);
    this.headDim = hidden / heads;
    this.norm1 = new LayerNorm(p, `${name}.norm1`, hidden, eps);
    this.qkv = new Linear(p, `${name}.attn.qkv`, hidden, 3 * hidden);
    this.proj = new Linear(p, `${name}.attn.proj`, hidden, hidden);
    this.norm2 = new LayerNorm(p, `${name}.norm2`, hidden, eps);
    this.fc1 = new Linear(p, `${name}.mlp.fc1`, hidden, mlpHidden);
    this.fc2 = new Linear(p, `${name}.mlp.fc2`, mlpHidden, hidden);
  }

  /** x [B, T, D]; mask additive [B, 1, 1, T] (see additiveMask) or null → [B, T, D]. */
  forward(x: tf.Tensor3D, mask: tf.Tensor4D | null, mode: Mode): tf.Tensor3D {
    return tf.tidy(() => {
      const [b, t, d] = x.shape;
      // Split the fused projection first and move heads forward with rank-4 transposes: the wasm backend's rank-5
      // transpose (one [B,T,3,H,d] → [3,B,H,T,d] permute) is a slow generic loop. Keys go straight to [B,H,d,T].
      const [q, k, v] = tf.split(this.qkv.forward(this.norm1.forward(x)), 3, -1).map((y, i) =>
        y.reshape([b, t, this.heads, this.headDim]).transpose(i === 1 ? [0, 2, 3, 1] : [0, 2, 1, 3]),
      ) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
      let scores = tf.matMul(q, k).mul(1 / Math.sqrt(this.headDim));
      if (mask) scores = scores.add(mask);
      const ctx = tf.matMul(tf.softmax(scores, -1) as tf.Tensor4D, v).transpose([0, 2, 1, 3]).reshape([b, t, d]);
      const h = x.add(this.dropBranch(dropout(this.proj.forward(ctx), mode), mode));
      const m = this.fc2.forward(dropout(gelu(this.fc1.forward(this.norm2.forward(h))), mode));
      return h.add(this.dropBranch(dropout(m, mode), mode)) as tf.Tensor3D;
    });
  }

  /** Drop path on a residual branch [B, T, D]: per example, 0 with probability p, else ×1/(1-p). */
  private dropBranch(branch: tf.Tensor, mode: Mode): tf.Tensor {
    const p = this.dropPath;
    if (!mode.rng || p <= 0) return branch;
    const b = branch.shape[0]!;
    const keep = new Float32Array(b);
    for (let i = 0; i < b; i++) keep[i] = mode.rng.float() < p ? 0 : 1 / (1 - p);
    return branch.mul(tf.tensor3d(keep, [b, 1, 1]));
  }
}
