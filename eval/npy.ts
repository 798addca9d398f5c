/**
 * NumPy .npy reader (format versions 1.0, 2.0 and 3.0): little-endian float32/float64 and integer/bool dtypes in
 * C order. Anything else (big-endian, Fortran order, structured or object dtypes) is refused with a clear error
 * rather than misread.
 */
import { readFileSync } from 'node:fs';
import { InputError, messageOf } from '../common/errors.js';

export interface NpyArray {
  shape: number[];
  dtype: string;
  /** Values converted to float64 (exact for every supported dtype except 64-bit integers beyond 2^53). */
  data: Float64Array;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

type Reader = (view: DataView, offset: number) => number;
const DTYPES: Record<string, [number, Reader]> = {
  '<f4': [4, (v, o) => v.getFloat32(o, true)],
  '<f8': [8, (v, o) => v.getFloat64(o, true)],
  '<i1': [1, (v, o) => v.getInt8(o)],
  '|i1': [1, (v, o) => v.getInt8(o)],
  '<u1': [1, (v, o) => v.getUint8(o)],
  '|u1': [1, (v, o) => v.getUint8(o)],
  '|b1': [1, (v, o) => v.getUint8(o)],
  '<i2': [2, (v, o) => v.getInt16(o, true)],
  '<u2': [2, (v, o) => v.getUint16(o, true)],
  '<i4': [4, (v, o) => v.getInt32(o, true)],
  '<u4': [4, (v, o) => v.getUint32(o, true)],
  '<i8': [8, (v, o) => Number(v.getBigInt64(o, true))],
  '<u8': [8, (v, o) => Number(v.getBigUint64(o, true))],
};

export function parseNpy(buf: Uint8Array, file: string): NpyArray {
  if (buf.length < 10 || MAGIC.some((b, i) => buf[i] !== b)) throw new InputError(file, 'not a .npy file (missing \\x93NUMPY magic)');
  const major = buf[6]!;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let headerLen: number;
  let start: number;
  if (major === 1) (headerLen = view.getUint16(8, true)), (start = 10);
  else if (major === 2 || major === 3) (headerLen = view.getUint32(8, true)), (start = 12);
  else throw new InputError(file, `unsupported .npy format version ${major}.${buf[7]}`);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(buf.subarray(start, start + headerLen));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw new InputError(file, `malformed .npy header: ${header.trim()}`);
  if (fortran === 'True') throw new InputError(file, '.npy array is in Fortran order; save it C-ordered (np.ascontiguousarray)');
  const dt = DTYPES[descr];
  if (!dt) throw new InputError(file, `unsupported .npy dtype '${descr}' (supported: little-endian float32/float64, integers, bool)`);
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const [size, read] = dt;
  const dataStart = start + headerLen;
  if (buf.length - dataStart < count * size) throw new InputError(file, `.npy data truncated: expected ${count * size} bytes for shape (${shape.join(', ')}), found ${buf.length - dataStart}`);
  const data = new Float64Array(count);
  for (let i = 0; i < count; i++) data[i] = read(view, dataStart + i * size);
  return { shape, dtype: descr, data };
}

export function readNpy(file: string): NpyArray {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (err) {
    throw new InputError(file, `cannot read: ${messageOf(err)}`);
  }
  return parseNpy(buf, file);
}
