/**
 * Batch-level Mixup / CutMix with label smoothing, as timm's `Mixup(mode='batch')` that MAE/VLC fine-tuning uses:
 *
 * - With probability `prob` the batch is mixed; if both alphas are > 0, CutMix is chosen with probability
 *   `switchProb`, else Mixup (only one alpha > 0: that one). λ ~ Beta(α, α) of the chosen method.
 * - Each example i is paired with example B−1−i (the batch flipped).
 * - Mixup: x_i ← λ·x_i + (1−λ)·x_{B−1−i}.
 * - CutMix: a box of (⌊H·√(1−λ)⌋, ⌊W·√(1−λ)⌋) centred at a uniform pixel, clipped to the image, is pasted from
 *   x_{B−1−i}; λ is then corrected to 1 − box area / image area (timm's correct_lam).
 * - Targets: smoothed one-hot (off = s/C, on = 1 − s + s/C), mixed as λ·y_i + (1−λ)·y_{B−1−i}. Without mixing the
 *   targets are the smoothed one-hots (= timm's LabelSmoothingCrossEntropy through a soft-target cross-entropy).
 *
 * Images here are the loader's patch arrays ([B, g², 3·P·P], channel-major inside a patch), so the pixel box is
 * mapped to patch slots; every draw comes from the micro-batch's Rng, so a batch mixes the same way on resume.
 */
import type { Rng } from '../engine/index.js';

export interface MixupSpec {
  mixupAlpha: number;
  cutmixAlpha: number;
  /** Probability of mixing a batch at all. */
  prob: number;
  /** Probability of CutMix when both alphas are > 0. */
  switchProb: number;
  smoothing: number;
  classes: number;
}

export interface Mixed {
  /** [B, classes] soft targets. */
  targets: Float32Array;
  /** The λ applied (1 = not mixed). */
  lam: number;
  method: 'none' | 'mixup' | 'cutmix';
  /** CutMix box in pixels [y0, y1) × [x0, x1). */
  box?: [number, number, number, number];
}

/** Gamma(a, 1) by Marsaglia–Tsang (a < 1 boosted by U^(1/a)). */
function gamma(rng: Rng, a: number): number {
  if (a < 1) return gamma(rng, a + 1) * Math.pow(1 - rng.float(), 1 / a);
  const d = a - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = rng.normal();
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = 1 - rng.float();
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}

export function sampleBeta(rng: Rng, a: number, b: number): number {
  const x = gamma(rng, a);
  const y = gamma(rng, b);
  return x / (x + y);
}

/** Smoothed one-hot targets [B, C]. */
export function smoothTargets(labels: ArrayLike<number>, classes: number, smoothing: number): Float32Array {
  const off = smoothing / classes;
  const on = 1 - smoothing + off;
  const out = new Float32Array(labels.length * classes).fill(off);
  for (let i = 0; i < labels.length; i++) out[i * classes + labels[i]!] = on;
  return out;
}

/** timm's rand_bbox: centre uniform over the pixels, sides ⌊side·√(1−λ)⌋, clipped. Returns [y0, y1, x0, x1]. */
export function cutmixBox(h: number, w: number, lam: number, rng: Rng): [number, number, number, number] {
  const r = Math.sqrt(1 - lam);
  const ch = Math.floor(h * r);
  const cw = Math.floor(w * r);
  const cy = rng.int(h);
  const cx = rng.int(w);
  const clip = (v: number, hi: number) => Math.min(Math.max(v, 0), hi);
  return [clip(cy - (ch >> 1), h), clip(cy + (ch >> 1), h), clip(cx - (cw >> 1), w), clip(cx + (cw >> 1), w)];
}

/**
 * Mix a batch in place. `patches` is [B, grid², 3·P·P]; `labels` the B class ids. Returns the soft targets.
 * A batch of odd size pairs its middle example with itself (it stays unmixed), as flipping does in timm.
 */
export function mixBatch(patches: Float32Array, labels: ArrayLike<number>, grid: number, patch: number, spec: MixupSpec, rng: Rng): Mixed {
  const b = labels.length;
  const y = smoothTargets(labels, spec.classes, spec.smoothing);
  const enabled = spec.mixupAlpha > 0 || spec.cutmixAlpha > 0;
  if (!enabled || !(rng.float() < spec.prob)) return { targets: y, lam: 1, method: 'none' };
  const cutmix = spec.mixupAlpha > 0 && spec.cutmixAlpha > 0 ? rng.float() < spec.switchProb : spec.cutmixAlpha > 0;
  let lam = sampleBeta(rng, cutmix ? spec.cutmixAlpha : spec.mixupAlpha, cutmix ? spec.cutmixAlpha : spec.mixupAlpha);
  const per = patches.length / b;
  const src = patches.slice();
  let box: Mixed['box'];
  if (cutmix) {
    const side = grid * patch;
    box = cutmixBox(side, side, lam, rng);
    const [y0, y1, x0, x1] = box;
    lam = 1 - ((y1 - y0) * (x1 - x0)) / (side * side);
    const pp = patch * patch;
    for (let i = 0; i < b; i++) {
      const a = i * per;
      const o = (b - 1 - i) * per;
      for (let py = y0; py < y1; py++) {
        for (let px = x0; px < x1; px++) {
          const slot = (Math.floor(py / patch) * grid + Math.floor(px / patch)) * 3 * pp + (py % patch) * patch + (px % patch);
          for (let c = 0; c < 3; c++) patches[a + slot + c * pp] = src[o + slot + c * pp]!;
        }
      }
    }
  } else {
    for (let i = 0; i < b; i++) {
      const a = i * per;
      const o = (b - 1 - i) * per;
      for (let k = 0; k < per; k++) patches[a + k] = lam * src[a + k]! + (1 - lam) * src[o + k]!;
    }
  }
  const C = spec.classes;
  const targets = new Float32Array(b * C);
  for (let i = 0; i < b; i++) {
    for (let c = 0; c < C; c++) targets[i * C + c] = lam * y[i * C + c]! + (1 - lam) * y[(b - 1 - i) * C + c]!;
  }
  return { targets, lam, method: cutmix ? 'cutmix' : 'mixup', ...(box ? { box } : {}) };
}
