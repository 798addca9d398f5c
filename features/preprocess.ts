/**
 * Image → detector input, as py-faster-rcnn's `_get_image_blob` does it (TEST.SCALES = (600,), MAX_SIZE = 1000):
 * BGR float32, pixel means subtracted BEFORE resizing, then `cv2.resize(im, None, fx=scale, fy=scale,
 * interpolation=cv2.INTER_LINEAR)`. Because the resize runs on float32 data, OpenCV uses its floating-point
 * bilinear path (no 11-bit fixed-point weights as for uint8), which is reproduced here exactly:
 *   - output size: cvRound(src * scale), i.e. round half to even;
 *   - source coordinate of output pixel d: fx = float((d + 0.5) / scale - 0.5), sx = floor(fx), fx -= sx;
 *   - columns: sx < 0 → (sx = 0, fx = 0); sx >= W-1 → (sx = W-1, fx = 0);
 *   - rows: the two source rows are clamped into [0, H-1] but the weights are kept (so an edge value becomes
 *     v*(1-fy) + v*fy in float32, which is what OpenCV computes);
 *   - horizontal pass then vertical pass, each `a*w0 + b*w1` rounded to float32 after every operation.
 * Measured against Debian's cv2 4.6 (test/fixtures/features/cv2-resize.json): identical float32 values. Builds of
 * OpenCV that fuse multiply-add (FMA) can differ by 1 ulp.
 */
import sharp from 'sharp';

export const PIXEL_MEANS_BGR = [102.9801, 115.9465, 122.7717] as const;
export const TARGET_SIZE = 600;
export const MAX_SIZE = 1000;

const f32 = Math.fround;

/** numpy.round / cvRound: round half to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export interface ResizePlan {
  scale: number;
  outH: number;
  outW: number;
}

/** The scale and resized size of an h×w image (short side 600, long side at most 1000). */
export function planResize(h: number, w: number, target = TARGET_SIZE, maxSize = MAX_SIZE): ResizePlan {
  const sizeMin = Math.min(h, w);
  const sizeMax = Math.max(h, w);
  let scale = target / sizeMin;
  if (roundHalfEven(scale * sizeMax) > maxSize) scale = maxSize / sizeMax;
  return { scale, outH: roundHalfEven(h * scale), outW: roundHalfEven(w * scale) };
}

/** Interpolation taps of one axis: source index and weight of the lower tap. */
function taps(srcLen: number, dstLen: number, scale: number, clampWeights: boolean): { idx: Int32Array; w0: Float32Array; w1: Float32Array } {
  const inv = 1 / scale;
  const idx = new Int32Array(dstLen);
  const w0 = new Float32Array(dstLen);
  const w1 = new Float32Array(dstLen);
  for (let d = 0; d < dstLen; d++) {
    let fx = f32((d + 0.5) * inv - 0.5);
    let sx = Math.floor(fx);
    fx = f32(fx - sx);
    if (clampWeights) {
      if (sx < 0) {
        fx = 0;
        sx = 0;
      }
      if (sx >= srcLen - 1) {
        fx = 0;
        sx = srcLen - 1;
      }
    }
    idx[d] = sx;
    w0[d] = f32(1 - fx);
    w1[d] = fx;
  }
  return { idx, w0, w1 };
}

/**
 * cv2.resize(src, None, fx=scale, fy=scale, INTER_LINEAR) of one float32 plane (h×w), into `out` (outH×outW).
 */
export function resizePlane(src: Float32Array, h: number, w: number, plan: ResizePlan, out: Float32Array = new Float32Array(plan.outH * plan.outW)): Float32Array {
  const { outH, outW, scale } = plan;
  const tx = taps(w, outW, scale, true);
  const ty = taps(h, outH, scale, false);
  // Horizontal pass over every source row (cheap compared with keeping a two-row cache in JS).
  const hbuf = new Float32Array(h * outW);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    const o = y * outW;
    for (let d = 0; d < outW; d++) {
      const sx = tx.idx[d]!;
      const a1 = tx.w1[d]!;
      // With a zero upper weight OpenCV multiplies the single tap by 1 (exact), and never reads past the edge.
      hbuf[o + d] = a1 === 0 && sx === w - 1 ? src[row + sx]! : f32(f32(src[row + sx]! * tx.w0[d]!) + f32(src[row + sx + 1]! * a1));
    }
  }
  for (let d = 0; d < outH; d++) {
    const sy = ty.idx[d]!;
    const r0 = Math.min(Math.max(sy, 0), h - 1) * outW;
    const r1 = Math.min(Math.max(sy + 1, 0), h - 1) * outW;
    const b0 = ty.w0[d]!;
    const b1 = ty.w1[d]!;
    const o = d * outW;
    for (let x = 0; x < outW; x++) out[o + x] = f32(f32(hbuf[r0 + x]! * b0) + f32(hbuf[r1 + x]! * b1));
  }
  return out;
}

export interface DecodedImage {
  /** Interleaved RGB, 8 bits. */
  rgb: Uint8Array;
  /** Size after EXIF orientation: what cv2.imread returns and what the TSV records as img_h/img_w. */
  height: number;
  width: number;
}

/**
 * Decode to 8-bit RGB with EXIF orientation applied, like cv2.imread(path, IMREAD_COLOR): grey is replicated,
 * alpha dropped (not composited), CMYK converted to sRGB. Truncated files throw instead of being grey-filled.
 */
export async function decodeImage(input: string | Buffer): Promise<DecodedImage> {
  const { data, info } = await sharp(input, { failOn: 'truncated', ignoreIcc: true })
    .autoOrient()
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, expected 3`);
  return { rgb: new Uint8Array(data.buffer, data.byteOffset, data.length), height: info.height, width: info.width };
}

export interface PreparedImage {
  /** CHW float32, channels B, G, R, means subtracted, resized. */
  tensor: Float32Array;
  height: number;
  width: number;
  plan: ResizePlan;
}

/** RGB bytes → the detector's `image` tensor. */
export function prepareTensor(img: DecodedImage, target = TARGET_SIZE, maxSize = MAX_SIZE): PreparedImage {
  const { rgb, height: h, width: w } = img;
  const plan = planResize(h, w, target, maxSize);
  if (plan.outH < 1 || plan.outW < 1) throw new Error(`a ${w}x${h} image resizes to ${plan.outW}x${plan.outH} pixels: too thin for the detector`);
  const plane = new Float32Array(h * w);
  const tensor = new Float32Array(3 * plan.outH * plan.outW);
  const planeSize = plan.outH * plan.outW;
  for (let c = 0; c < 3; c++) {
    // BGR channel c is RGB channel 2-c; the mean is subtracted in float64 and stored as float32, like numpy's
    // in-place `im_orig -= PIXEL_MEANS` on a float32 array.
    const src = 2 - c;
    const mean = PIXEL_MEANS_BGR[c]!;
    for (let i = 0; i < h * w; i++) plane[i] = rgb[i * 3 + src]! - mean;
    resizePlane(plane, h, w, plan, tensor.subarray(c * planeSize, (c + 1) * planeSize));
  }
  return { tensor, height: h, width: w, plan };
}
