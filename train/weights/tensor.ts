/**
 * The tensor record every checkpoint reader/writer here exchanges: a dtype name, a shape, and the values as a typed
 * array in row-major (C-contiguous) order. float16 and bfloat16 have no typed array in Node 20, so they travel as
 * their raw 16-bit patterns in a Uint16Array; `toFloat32` widens them on request.
 */

export type DType = 'float64' | 'float32' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

export type TensorData = Float64Array | Float32Array | Uint16Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

export interface Tensor {
  dtype: DType;
  shape: number[];
  /** Contiguous row-major values, `numel(shape)` of them. bool is one byte (0/1) per element, as torch stores it. */
  data: TensorData;
}

/** A tensor as a checkpoint described it, before the strided copy: where it sat inside its storage. */
export interface StoredTensor extends Tensor {
  /** The strides (in elements) and storage offset the file recorded; `data` is already the contiguous copy. */
  strides: number[];
  storageOffset: number;
}

interface DTypeInfo {
  bytes: number;
  make: (buf: ArrayBuffer, byteOffset: number, length: number) => TensorData;
}

export const DTYPES: Record<DType, DTypeInfo> = {
  float64: { bytes: 8, make: (b, o, n) => new Float64Array(b, o, n) },
  float32: { bytes: 4, make: (b, o, n) => new Float32Array(b, o, n) },
  float16: { bytes: 2, make: (b, o, n) => new Uint16Array(b, o, n) },
  bfloat16: { bytes: 2, make: (b, o, n) => new Uint16Array(b, o, n) },
  int64: { bytes: 8, make: (b, o, n) => new BigInt64Array(b, o, n) },
  int32: { bytes: 4, make: (b, o, n) => new Int32Array(b, o, n) },
  int16: { bytes: 2, make: (b, o, n) => new Int16Array(b, o, n) },
  int8: { bytes: 1, make: (b, o, n) => new Int8Array(b, o, n) },
  uint8: { bytes: 1, make: (b, o, n) => new Uint8Array(b, o, n) },
  bool: { bytes: 1, make: (b, o, n) => new Uint8Array(b, o, n) },
};

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides of a contiguous tensor of this shape. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

/** True when walking `shape` with `strides` visits consecutive elements (size-1 dims may have any stride). */
export function isContiguous(shape: readonly number[], strides: readonly number[]): boolean {
  let expected = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] === 1) continue;
    if (strides[i] !== expected) return false;
    expected *= shape[i]!;
  }
  return true;
}

/** Bytes of a tensor's data as a Uint8Array view (no copy). */
export function bytesOf(data: TensorData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Gather a strided view of `storage` (a typed array over the whole storage) into a fresh contiguous array.
 * Odometer over all dims but the last, with an inner loop along the last dim: fast for the common transposed case.
 */
export function gatherStrided(dtype: DType, storage: TensorData, shape: readonly number[], strides: readonly number[], offset: number): TensorData {
  const n = numel(shape);
  const out = DTYPES[dtype].make(new ArrayBuffer(n * DTYPES[dtype].bytes), 0, n);
  if (n === 0) return out;
  if (shape.length === 0) {
    (out as Float64Array)[0] = (storage as Float64Array)[offset]!;
    return out;
  }
  const src = storage as Float64Array;
  const dst = out as Float64Array;
  const rank = shape.length;
  const inner = shape[rank - 1]!;
  const innerStride = strides[rank - 1]!;
  const index = new Array<number>(rank - 1).fill(0);
  let base = offset;
  let o = 0;
  for (;;) {
    for (let j = 0, p = base; j < inner; j++, p += innerStride) dst[o++] = src[p]!;
    let d = rank - 2;
    while (d >= 0) {
      index[d]!++;
      base += strides[d]!;
      if (index[d]! < shape[d]!) break;
      base -= strides[d]! * shape[d]!;
      index[d] = 0;
      d--;
    }
    if (d < 0) return out;
  }
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE half bits → float32 value (subnormals, inf and NaN included). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** float32 → IEEE half bits, round to nearest even (what torch's `.half()` does). */
export function floatToHalf(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rem = mant & ((1 << shift) - 1);
    let r = mant >>> shift;
    if (rem > half || (rem === half && r & 1)) r++;
    return sign | r;
  }
  let r = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && r & 1)) r++;
  return sign | r;
}

/** float32 → bfloat16 bits, round to nearest even; NaN stays NaN. */
export function floatToBfloat16(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  if ((x & 0x7fffffff) > 0x7f800000) return ((x >>> 16) | 0x40) & 0xffff;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Widen a float16/bfloat16 tensor to float32 (other dtypes are returned unchanged). */
export function toFloat32<T extends Tensor>(t: T): T {
  if (t.dtype !== 'float16' && t.dtype !== 'bfloat16') return t;
  const src = t.data as Uint16Array;
  const out = new Float32Array(src.length);
  if (t.dtype === 'bfloat16') {
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < src.length; i++) bits[i] = src[i]! << 16;
  } else {
    const table = halfTable();
    for (let i = 0; i < src.length; i++) out[i] = table[src[i]!]!;
  }
  return { ...t, dtype: 'float32', data: out };
}

let HALF_TABLE: Float32Array | undefined;
function halfTable(): Float32Array {
  if (!HALF_TABLE) {
    HALF_TABLE = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) HALF_TABLE[h] = halfToFloat(h);
  }
  return HALF_TABLE;
}

/** Check that a tensor's data matches its dtype and shape; `where` names it in the error. */
export function checkTensor(t: Tensor, where: string): void {
  if (!(t.dtype in DTYPES)) throw new Error(`${where}: unsupported dtype '${String(t.dtype)}'`);
  for (const d of t.shape) if (!Number.isInteger(d) || d < 0) throw new Error(`${where}: bad shape [${t.shape.join(', ')}]`);
  const n = numel(t.shape);
  const expected = DTYPES[t.dtype].make(new ArrayBuffer(0), 0, 0).constructor;
  if (t.data.constructor !== expected) throw new Error(`${where}: dtype ${t.dtype} needs ${expected.name}, got ${t.data.constructor.name}`);
  if (t.data.length !== n) throw new Error(`${where}: shape [${t.shape.join(', ')}] has ${n} elements, data has ${t.data.length}`);
}
