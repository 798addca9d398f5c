/**
 * ViLT's word-patch alignment (WPA): an optimal-transport distance between the text tokens and the image patches of
 * the ITM pass, pulled down for matching pairs and pushed up for swapped ones.
 *
 *  - cost C[i, j] = 1 − cos(text_i, patch_j) on the encoder outputs, without [CLS]/[SEP] and the image [CLS];
 *  - plan T by IPOT (Xie et al., "A Fast Proximal Point Method for Computing Exact Wasserstein Distance", 2019) with
 *    uniform marginals over the real tokens and patches, ViLT's beta 0.5, 50 outer iterations, k = 1 inner Sinkhorn
 *    step; T is a constant of the step (ViLT runs IPOT under no_grad): only the cost carries gradient;
 *  - distance = trace(C·Tᵀ) = Σ C⊙T per pair; loss = (Σ matched − Σ swapped distances) / pairs.
 *
 * Everything is batched over the micro-batch with 0/1 validity masks ([B, M] text, [B, N] patches) instead of
 * per-example loops, so padded tokens and patches get no mass in the plan.
 */
import * as tf from '@tensorflow/tfjs';

export interface IpotOptions {
  /** Proximal step: the kernel is exp(−C/beta). */
  beta: number;
  iterations: number;
  /** Sinkhorn steps per proximal iteration. */
  k: number;
}

/** ViLT's constants (compute_itm_wpa). */
export const VILT_IPOT: IpotOptions = { beta: 0.5, iterations: 50, k: 1 };

/** Stands in for "infinite" in the denominators of padded entries (their mass is zero anyway). */
const PAD_GUARD = 1e4;

/**
 * 1 − cosine similarity of every text/image pair: [B, M, D], [B, N, D] → [B, M, N]. Norms are floored at 1e-5 like
 * F.normalize; flooring the squared norm (not the norm) keeps the gradient of an all-zero row finite.
 */
export function cosineCost(x: tf.Tensor3D, y: tf.Tensor3D): tf.Tensor3D {
  return tf.tidy(() => {
    const unit = (v: tf.Tensor3D) => v.mul(v.square().sum(-1, true).maximum(1e-10).rsqrt());
    return tf.scalar(1).sub(tf.matMul(unit(x), unit(y), false, true)) as tf.Tensor3D;
  });
}

/**
 * IPOT transport plan [B, M, N] for `cost` between the valid rows (`xValid` [B, M]) and columns (`yValid` [B, N]).
 * It has no gradient: the whole iteration is one custom-gradient node whose gradient is zero, so the backward pass
 * neither differentiates through the 50 iterations nor lets anything flow through the plan.
 * An example without a valid row or column gets an all-zero plan.
 */
export function ipotPlan(cost: tf.Tensor3D, xValid: tf.Tensor2D, yValid: tf.Tensor2D, opt: IpotOptions = VILT_IPOT): tf.Tensor3D {
  if (!(opt.beta > 0) || !Number.isInteger(opt.iterations) || opt.iterations < 1 || !Number.isInteger(opt.k) || opt.k < 1) {
    throw new Error(`IPOT needs beta > 0 and integer iterations, k ≥ 1 (got ${JSON.stringify(opt)})`);
  }
  const plan = tf.customGrad((...args) => {
    const c = args[0] as tf.Tensor3D;
    return { value: ipotIterate(c, xValid, yValid, opt), gradFunc: () => tf.zerosLike(c) };
  });
  return plan(cost) as tf.Tensor3D;
}

function ipotIterate(c: tf.Tensor3D, xValid: tf.Tensor2D, yValid: tf.Tensor2D, opt: IpotOptions): tf.Tensor3D {
  return tf.tidy(() => {
    // Both sides empty when either is: uniform marginals 1/len would otherwise divide by zero.
    const live = xValid.sum(1).greater(0).logicalAnd(yValid.sum(1).greater(0)).toFloat().expandDims(1);
    const xv = xValid.mul(live);
    const yv = yValid.mul(live);
    const xLen = xv.sum(1, true).maximum(1);
    const yLen = yv.sum(1, true).maximum(1);
    const xGuard = tf.scalar(1).sub(xv).mul(PAD_GUARD);
    const yGuard = tf.scalar(1).sub(yv).mul(PAD_GUARD);
    const joint = xv.expandDims(2).mul(yv.expandDims(1));
    const kernel = c.div(-opt.beta).exp().mul(joint);
    let t: tf.Tensor = joint;
    let sigma: tf.Tensor = xv.div(xLen);
    for (let it = 0; it < opt.iterations; it++) {
      const next = tf.tidy(() => {
        const q = kernel.mul(t);
        let s = sigma;
        let delta!: tf.Tensor;
        for (let j = 0; j < opt.k; j++) {
          // delta_j = 1 / (N · Σ_i Q_ij σ_i), σ_i = 1 / (M · Σ_j Q_ij δ_j): both marginals uniform.
          delta = tf.scalar(1).div(tf.matMul(s.expandDims(1), q).squeeze([1]).mul(yLen).add(yGuard));
          s = tf.scalar(1).div(tf.matMul(q, delta.expandDims(2)).squeeze([2]).mul(xLen).add(xGuard));
        }
        return { t: s.expandDims(2).mul(q).mul(delta.expandDims(1)), sigma: s };
      });
      // Free each iterate as soon as the next exists (the enclosing tidy would only free them at the end).
      if (t !== joint) t.dispose();
      sigma.dispose();
      t = next.t;
      sigma = next.sigma;
    }
    return t.mul(joint) as tf.Tensor3D;
  });
}

/** Optimal-transport distance per example [B] (and its plan) between text [B, M, D] and image [B, N, D] features. */
export function otDistance(
  text: tf.Tensor3D,
  image: tf.Tensor3D,
  textValid: tf.Tensor2D,
  imageValid: tf.Tensor2D,
  opt: IpotOptions = VILT_IPOT,
): { distance: tf.Tensor1D; plan: tf.Tensor3D } {
  return tf.tidy(() => {
    const cost = cosineCost(text, image);
    const plan = ipotPlan(cost, textValid, imageValid, opt);
    return { distance: cost.mul(plan).sum([1, 2]) as tf.Tensor1D, plan };
  });
}

/** The text tokens WPA aligns: the attention mask [B·T] without [CLS] (first) and [SEP] (last real token) of each row. */
export function wpaTextValid(mask: Float32Array, t: number): Float32Array {
  const out = mask.slice();
  for (let r = 0; r * t < mask.length; r++) {
    out[r * t] = 0;
    let last = t - 1;
    while (last > 0 && mask[r * t + last] === 0) last--;
    out[r * t + last] = 0;
  }
  return out;
}

/**
 * ViLT's WPA loss for the ITM pass: `textFeats` [B, T, D] with its attention mask [B·T], `imageFeats` [B, 1+N, D]
 * (image [CLS] first) with the patch mask [B·N], and the ITM labels (1 matched, 0 swapped image).
 */
export function wpaLoss(
  textFeats: tf.Tensor3D,
  imageFeats: tf.Tensor3D,
  textMask: Float32Array,
  patchMask: Float32Array,
  labels: Int32Array,
  opt: IpotOptions = VILT_IPOT,
): tf.Scalar {
  return tf.tidy(() => {
    const [b, t] = textFeats.shape;
    const [, n1, d] = imageFeats.shape;
    const { distance } = otDistance(
      textFeats,
      imageFeats.slice([0, 1, 0], [b, n1 - 1, d]),
      tf.tensor2d(wpaTextValid(textMask, t), [b, t]),
      tf.tensor2d(patchMask, [b, n1 - 1]),
      opt,
    );
    const sign = tf.tensor1d(Float32Array.from(labels, (l) => (l === 1 ? 1 : -1)));
    return distance.mul(sign).sum().div(b) as tf.Scalar;
  });
}
