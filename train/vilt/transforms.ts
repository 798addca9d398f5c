/**
 * Image transforms of the patch trainers, run inside the data-loading workers (transform-worker.ts):
 * decode (sharp) → resize → optional RandAugment → normalise → cut into patches.
 *
 * - `pixelbert` (ViLT): shorter side to `size`, longer side at most ⌊1333/800·size⌋, both then rounded down to
 *   multiples of the patch size (ViLT rounds to 32 = its patch), bicubic; normalised with mean = std = 0.5
 *   (ViLT's `inception_normalize`). Images of a batch differ in size; the batch pads them and masks the padding.
 * - `mae` (VLC): square `size`×`size`; training takes a random resized crop (area 0.8–1, 0.9–1 with RandAugment,
 *   aspect 3/4–4/3, as VLC's `mae_transform*`), evaluation resizes to the square; ImageNet mean/std.
 * - RandAugment (the `*_randaug` tasks): 2 ops at magnitude 9 of 30 from ViLT's list minus Invert and Cutout (ViLT
 *   drops them: colour words in the text, small objects); there is no flip at all, because text refers to left/right.
 *   Ops: Identity, AutoContrast, Equalize, Rotate ±30°·m, Solarize, Color, Posterize, Contrast, Brightness, Sharpness,
 *   ShearX/Y ±0.3·m, TranslateX/Y ±0.45·m of the side. Applied after the resize (cheaper; same op family).
 *
 * Every random choice comes from the `seed` the caller draws from the engine's per-micro-batch generator, so a
 * batch's pixels do not depend on which worker ran it or when.
 */
import sharp from 'sharp';
import { mulberry32 } from '../engine/rng.js';

export interface TransformSpec {
  kind: 'pixelbert' | 'mae';
  size: number;
  patch: number;
  /** Training-time randomness (random resized crop for `mae`, RandAugment when `randaug`). */
  train: boolean;
  randaug: boolean;
  mean: [number, number, number];
  std: [number, number, number];
}

export interface ImagePatches {
  /** [gridH·gridW, 3·P·P] row-major; inside a patch channel-major (c, y, x) like a PyTorch conv weight [D, 3, P, P]. */
  patches: Float32Array;
  gridH: number;
  gridW: number;
}

/** ViLT's MinMaxResize target for a w×h image, rounded down to patch multiples (at least one patch). */
export function pixelbertSize(w: number, h: number, size: number, patch: number): { width: number; height: number } {
  const maxSize = Math.floor((1333 / 800) * size);
  let scale = size / Math.min(w, h);
  let nw = w * scale;
  let nh = h * scale;
  if (Math.max(nw, nh) > maxSize) {
    scale = maxSize / Math.max(nw, nh);
    nw *= scale;
    nh *= scale;
  }
  const snap = (v: number) => Math.max(patch, Math.floor(Math.floor(v + 0.5) / patch) * patch);
  return { width: snap(nw), height: snap(nh) };
}

type Rgb = { data: Uint8ClampedArray; w: number; h: number };

function mapPixels(img: Rgb, f: (v: number, c: number) => number): void {
  const d = img.data;
  for (let i = 0; i < d.length; i++) d[i] = f(d[i]!, i % 3);
}

function blend(img: Rgb, other: Float32Array | Uint8ClampedArray, factor: number): void {
  const d = img.data;
  for (let i = 0; i < d.length; i++) d[i] = other[i]! + factor * (d[i]! - other[i]!);
}

/** Inverse-mapped affine warp (bilinear), grey fill as PIL's default 128. */
function affine(img: Rgb, m: [number, number, number, number, number, number]): void {
  const { w, h, data: src } = img;
  const out = new Uint8ClampedArray(src.length);
  const cx = w / 2;
  const cy = h / 2;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const dx = x - cx;
      const dy = y - cy;
      const sx = m[0] * dx + m[1] * dy + m[2] + cx;
      const sy = m[3] * dx + m[4] * dy + m[5] + cy;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      for (let c = 0; c < 3; c++) {
        const at = (xx: number, yy: number) => (xx < 0 || yy < 0 || xx >= w || yy >= h ? 128 : src[(yy * w + xx) * 3 + c]!);
        const v = (1 - fy) * ((1 - fx) * at(x0, y0) + fx * at(x0 + 1, y0)) + fy * ((1 - fx) * at(x0, y0 + 1) + fx * at(x0 + 1, y0 + 1));
        out[(y * w + x) * 3 + c] = v;
      }
    }
  }
  img.data.set(out);
}

function grey(img: Rgb): Float32Array {
  const d = img.data;
  const g = new Float32Array(d.length);
  for (let i = 0; i < d.length; i += 3) {
    const l = 0.299 * d[i]! + 0.587 * d[i + 1]! + 0.114 * d[i + 2]!;
    g[i] = g[i + 1] = g[i + 2] = l;
  }
  return g;
}

/** RandAugment ops: (image, v in [0, 1] = magnitude/30, sign ±1). */
const OPS: Record<string, (img: Rgb, v: number, sign: number) => void> = {
  Identity: () => {},
  AutoContrast: (img) => {
    for (let c = 0; c < 3; c++) {
      let lo = 255;
      let hi = 0;
      for (let i = c; i < img.data.length; i += 3) {
        lo = Math.min(lo, img.data[i]!);
        hi = Math.max(hi, img.data[i]!);
      }
      if (hi > lo) for (let i = c; i < img.data.length; i += 3) img.data[i] = ((img.data[i]! - lo) * 255) / (hi - lo);
    }
  },
  Equalize: (img) => {
    const n = img.w * img.h;
    for (let c = 0; c < 3; c++) {
      const hist = new Float64Array(256);
      for (let i = c; i < img.data.length; i += 3) hist[img.data[i]!]!++;
      const lut = new Float64Array(256);
      let acc = 0;
      for (let v = 0; v < 256; v++) {
        acc += hist[v]!;
        lut[v] = (acc / n) * 255;
      }
      for (let i = c; i < img.data.length; i += 3) img.data[i] = lut[img.data[i]!]!;
    }
  },
  Rotate: (img, v, s) => {
    const a = ((s * v * 30) / 180) * Math.PI;
    affine(img, [Math.cos(a), -Math.sin(a), 0, Math.sin(a), Math.cos(a), 0]);
  },
  Solarize: (img, v) => {
    const t = 256 - v * 256;
    mapPixels(img, (p) => (p >= t ? 255 - p : p));
  },
  Color: (img, v, s) => blend(img, grey(img), 1 + s * v * 0.9),
  Posterize: (img, v) => {
    const bits = Math.round(8 - v * 4);
    const mask = (0xff << (8 - bits)) & 0xff;
    mapPixels(img, (p) => p & mask);
  },
  Contrast: (img, v, s) => {
    const g = grey(img);
    let mean = 0;
    for (let i = 0; i < g.length; i += 3) mean += g[i]!;
    blend(img, new Float32Array(g.length).fill(mean / (g.length / 3)), 1 + s * v * 0.9);
  },
  Brightness: (img, v, s) => blend(img, new Float32Array(img.data.length), 1 + s * v * 0.9),
  Sharpness: (img, v, s) => {
    const { w, h, data } = img;
    const smooth = new Float32Array(data);
    for (let y = 1; y < h - 1; y++) {
      for (let x = 1; x < w - 1; x++) {
        for (let c = 0; c < 3; c++) {
          let sum = 4 * data[(y * w + x) * 3 + c]!;
          for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) sum += data[((y + dy) * w + x + dx) * 3 + c]!;
          smooth[(y * w + x) * 3 + c] = sum / 13;
        }
      }
    }
    blend(img, smooth, 1 + s * v * 0.9);
  },
  ShearX: (img, v, s) => affine(img, [1, s * v * 0.3, 0, 0, 1, 0]),
  ShearY: (img, v, s) => affine(img, [1, 0, 0, s * v * 0.3, 1, 0]),
  TranslateX: (img, v, s) => affine(img, [1, 0, s * v * 0.45 * img.w, 0, 1, 0]),
  TranslateY: (img, v, s) => affine(img, [1, 0, 0, 0, 1, s * v * 0.45 * img.h]),
};
export const RANDAUG_OPS = Object.keys(OPS);
const RANDAUG_N = 2;
const RANDAUG_M = 9;

export function randAugment(img: Rgb, rand: () => number): string[] {
  const used: string[] = [];
  for (let k = 0; k < RANDAUG_N; k++) {
    const name = RANDAUG_OPS[Math.floor(rand() * RANDAUG_OPS.length)]!;
    OPS[name]!(img, RANDAUG_M / 30, rand() < 0.5 ? -1 : 1);
    used.push(name);
  }
  return used;
}

/** Normalise and cut an RGB image (w, h multiples of P) into channel-major patches. */
export function toPatches(img: Rgb, spec: Pick<TransformSpec, 'patch' | 'mean' | 'std'>): ImagePatches {
  const P = spec.patch;
  const gridW = img.w / P;
  const gridH = img.h / P;
  const dim = 3 * P * P;
  const out = new Float32Array(gridH * gridW * dim);
  for (let gy = 0; gy < gridH; gy++) {
    for (let gx = 0; gx < gridW; gx++) {
      const base = (gy * gridW + gx) * dim;
      for (let c = 0; c < 3; c++) {
        const m = spec.mean[c]!;
        const s = spec.std[c]!;
        for (let y = 0; y < P; y++) {
          for (let x = 0; x < P; x++) {
            const v = img.data[((gy * P + y) * img.w + gx * P + x) * 3 + c]! / 255;
            out[base + c * P * P + y * P + x] = (v - m) / s;
          }
        }
      }
    }
  }
  return { patches: out, gridH, gridW };
}

export async function transformImage(bytes: Uint8Array, spec: TransformSpec, seed: number): Promise<ImagePatches> {
  const rand = mulberry32(seed);
  let pipe = sharp(bytes, { failOn: 'error' }).autoOrient().removeAlpha().toColourspace('srgb');
  const meta = await sharp(bytes).autoOrient().metadata();
  const w0 = meta.autoOrient?.width ?? meta.width!;
  const h0 = meta.autoOrient?.height ?? meta.height!;
  let width: number;
  let height: number;
  if (spec.kind === 'pixelbert') {
    ({ width, height } = pixelbertSize(w0, h0, spec.size, spec.patch));
  } else {
    width = height = Math.max(spec.patch, Math.floor(spec.size / spec.patch) * spec.patch);
    if (spec.train) {
      // torchvision RandomResizedCrop: area fraction and log-uniform aspect ratio; up to 10 tries, else the whole image.
      const lo = spec.randaug ? 0.9 : 0.8;
      for (let t = 0; t < 10; t++) {
        const area = w0 * h0 * (lo + (1 - lo) * rand());
        const ratio = Math.exp(Math.log(3 / 4) + (Math.log(4 / 3) - Math.log(3 / 4)) * rand());
        const cw = Math.round(Math.sqrt(area * ratio));
        const ch = Math.round(Math.sqrt(area / ratio));
        if (cw > 0 && ch > 0 && cw <= w0 && ch <= h0) {
          const left = Math.floor(rand() * (w0 - cw + 1));
          const top = Math.floor(rand() * (h0 - ch + 1));
          pipe = pipe.extract({ left, top, width: cw, height: ch });
          break;
        }
      }
    }
  }
  const raw = await pipe.resize(width, height, { fit: 'fill', kernel: 'cubic' }).raw().toBuffer();
  const img: Rgb = { data: new Uint8ClampedArray(raw.buffer, raw.byteOffset, raw.length), w: width, h: height };
  if (spec.train && spec.randaug) randAugment(img, rand);
  return toPatches(img, spec);
}
