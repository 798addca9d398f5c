/**
 * ImageNet-style transforms of `trainer: vit_classify` (MAE/VLC's `build_transform` through timm), run in the
 * data-loading workers:
 *
 * - training: RandomResizedCrop to `size`² (area 0.08–1, log-uniform aspect 3/4–4/3, ten tries then torchvision's
 *   centre-crop fallback), bicubic; horizontal flip with probability 0.5; optional RandAugment (the ViLT op set of
 *   train/vilt/transforms.ts, 2 ops at magnitude 9 — not timm's `rand-m9-mstd0.5-inc1`); normalise; random erasing
 *   with probability `reprob` (timm's 'pixel' mode, one box of 2–33% of the area, aspect 0.3–3.3, N(0,1) fill).
 * - evaluation: shorter side to ⌊size / 0.875⌋ (timm's crop_pct), bicubic, centre crop `size`², normalise.
 *
 * The output is the patch layout of the patch trainers (vilt/transforms.ts `toPatches`). Every random choice comes
 * from the `seed` the batch's Rng draws for the image.
 */
import sharp from 'sharp';
import { mulberry32 } from '../engine/rng.js';
import { randAugment, toPatches, type ImagePatches } from '../vilt/transforms.js';

export interface ClassifySpec {
  size: number;
  patch: number;
  train: boolean;
  randaug: boolean;
  /** Random-erasing probability (training only). */
  reprob: number;
  mean: [number, number, number];
  std: [number, number, number];
}

/** timm's default crop_pct: evaluation resizes the shorter side to size / 0.875, then centre-crops. */
const CROP_PCT = 0.875;

/** torchvision RandomResizedCrop.get_params with scale (0.08, 1), ratio (3/4, 4/3). */
export function randomResizedCrop(w: number, h: number, rand: () => number): { left: number; top: number; width: number; height: number } {
  const area = w * h;
  const logLo = Math.log(3 / 4);
  const logHi = Math.log(4 / 3);
  for (let t = 0; t < 10; t++) {
    const target = area * (0.08 + (1 - 0.08) * rand());
    const ratio = Math.exp(logLo + (logHi - logLo) * rand());
    const cw = Math.round(Math.sqrt(target * ratio));
    const ch = Math.round(Math.sqrt(target / ratio));
    if (cw > 0 && ch > 0 && cw <= w && ch <= h) {
      return { left: Math.floor(rand() * (w - cw + 1)), top: Math.floor(rand() * (h - ch + 1)), width: cw, height: ch };
    }
  }
  // Fallback: the largest centred crop whose aspect lies within the ratio range.
  let cw = w;
  let ch = h;
  if (w / h < 3 / 4) ch = Math.round(w / (3 / 4));
  else if (w / h > 4 / 3) cw = Math.round(h * (4 / 3));
  return { left: Math.floor((w - cw) / 2), top: Math.floor((h - ch) / 2), width: cw, height: ch };
}

/** timm RandomErasing (mode 'pixel', count 1) on normalised patches; returns whether a box was erased. */
export function randomErase(img: ImagePatches, patch: number, rand: () => number): boolean {
  const H = img.gridH * patch;
  const W = img.gridW * patch;
  const normal = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  for (let t = 0; t < 10; t++) {
    const target = H * W * (0.02 + (1 / 3 - 0.02) * rand());
    const aspect = Math.exp(Math.log(0.3) + (Math.log(1 / 0.3) - Math.log(0.3)) * rand());
    const h = Math.round(Math.sqrt(target * aspect));
    const w = Math.round(Math.sqrt(target / aspect));
    if (w < W && h < H) {
      const top = Math.floor(rand() * (H - h + 1));
      const left = Math.floor(rand() * (W - w + 1));
      const pp = patch * patch;
      for (let c = 0; c < 3; c++) {
        for (let y = top; y < top + h; y++) {
          for (let x = left; x < left + w; x++) {
            const slot = (Math.floor(y / patch) * img.gridW + Math.floor(x / patch)) * 3 * pp;
            img.patches[slot + c * pp + (y % patch) * patch + (x % patch)] = normal();
          }
        }
      }
      return true;
    }
  }
  return false;
}

export async function classifyTransform(bytes: Uint8Array, spec: ClassifySpec, seed: number): Promise<ImagePatches> {
  if (spec.size % spec.patch !== 0) throw new Error(`image size ${spec.size} is not a multiple of the patch size ${spec.patch}`);
  const rand = mulberry32(seed);
  const meta = await sharp(bytes).autoOrient().metadata();
  const w0 = meta.autoOrient?.width ?? meta.width!;
  const h0 = meta.autoOrient?.height ?? meta.height!;
  let pipe = sharp(bytes, { failOn: 'error' }).autoOrient().removeAlpha().toColourspace('srgb');
  if (spec.train) {
    pipe = pipe.extract(randomResizedCrop(w0, h0, rand)).resize(spec.size, spec.size, { fit: 'fill', kernel: 'cubic' });
    if (rand() < 0.5) pipe = pipe.flop();
  } else {
    const short = Math.floor(spec.size / CROP_PCT);
    const scale = short / Math.min(w0, h0);
    const rw = Math.max(spec.size, w0 <= h0 ? short : Math.floor(w0 * scale));
    const rh = Math.max(spec.size, h0 < w0 ? short : Math.floor(h0 * scale));
    // extract() after resize() crops the resized image (sharp's post-resize extraction).
    pipe = pipe
      .resize(rw, rh, { fit: 'fill', kernel: 'cubic' })
      .extract({ left: Math.round((rw - spec.size) / 2), top: Math.round((rh - spec.size) / 2), width: spec.size, height: spec.size });
  }
  const raw = await pipe.raw().toBuffer();
  const img = { data: new Uint8ClampedArray(raw.buffer, raw.byteOffset, raw.length), w: spec.size, h: spec.size };
  if (spec.train && spec.randaug) randAugment(img, rand);
  const out = toPatches(img, spec);
  if (spec.train && spec.reprob > 0 && rand() < spec.reprob) randomErase(out, spec.patch, rand);
  return out;
}
