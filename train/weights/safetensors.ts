/**
 * safetensors: u64 little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]},
 * "__metadata__": {str: str}}, then the packed little-endian tensor bytes (offsets relative to the end of the header).
 */
import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { writeFileAtomicWith } from '../../common/atomic.js';
import { bytesOf, checkTensor, DTYPES, numel, toFloat32, type DType, type Tensor } from './tensor.js';

const CODES: Record<DType, string> = {
  float64: 'F64',
  float32: 'F32',
  float16: 'F16',
  bfloat16: 'BF16',
  int64: 'I64',
  int32: 'I32',
  int16: 'I16',
  int8: 'I8',
  uint8: 'U8',
  bool: 'BOOL',
};
const FROM_CODE = new Map(Object.entries(CODES).map(([k, v]) => [v, k as DType]));

export interface SafetensorsFile {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

export function readSafetensors(file: string, opts: { halfToFloat32?: boolean } = {}): SafetensorsFile {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const lenBuf = new Uint8Array(8);
    if (readSync(fd, lenBuf, 0, 8, 0) !== 8) throw new Error(`${file}: too short for a safetensors header`);
    const headerLen = Number(new DataView(lenBuf.buffer).getBigUint64(0, true));
    if (headerLen > size - 8 || headerLen > 100 * 1024 * 1024) throw new Error(`${file}: bad safetensors header length ${headerLen}`);
    const headerBytes = new Uint8Array(headerLen);
    readSync(fd, headerBytes, 0, headerLen, 8);
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(new TextDecoder().decode(headerBytes)) as Record<string, unknown>;
    } catch (err) {
      throw new Error(`${file}: safetensors header is not JSON: ${(err as Error).message}`);
    }
    const dataStart = 8 + headerLen;
    const tensors = new Map<string, Tensor>();
    let metadata: Record<string, string> = {};
    for (const [name, raw] of Object.entries(header)) {
      if (name === '__metadata__') {
        metadata = raw as Record<string, string>;
        continue;
      }
      const info = raw as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
      const dtype = FROM_CODE.get(String(info.dtype));
      if (!dtype) throw new Error(`${file}: tensor '${name}' has unsupported dtype ${String(info.dtype)}`);
      const shape = info.shape ?? [];
      const [begin, end] = info.data_offsets ?? [NaN, NaN];
      const n = numel(shape);
      if (!(end - begin === n * DTYPES[dtype].bytes && begin >= 0 && dataStart + end <= size)) {
        throw new Error(`${file}: tensor '${name}' offsets [${begin}, ${end}] do not fit its shape [${shape.join(', ')}] or the file`);
      }
      const bytes = new Uint8Array(end - begin);
      if (bytes.length) readSync(fd, bytes, 0, bytes.length, dataStart + begin);
      const t: Tensor = { dtype, shape, data: DTYPES[dtype].make(bytes.buffer, 0, n) };
      tensors.set(name, opts.halfToFloat32 ? toFloat32(t) : t);
    }
    return { tensors, metadata };
  } finally {
    closeSync(fd);
  }
}

/** Write tensors (insertion order) as safetensors, header padded with spaces to 8 bytes; atomic. */
export async function saveSafetensors(file: string, tensors: Map<string, Tensor> | Record<string, Tensor>, metadata?: Record<string, string>): Promise<void> {
  const entries = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of entries) {
    checkTensor(t, `${file}: tensor '${name}'`);
    header[name] = { dtype: CODES[t.dtype], shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  await writeFileAtomicWith(file, (fd) => {
    for (const part of [len, headerBytes, ...entries.map(([, t]) => bytesOf(t.data))]) {
      let done = 0;
      while (done < part.length) done += writeSync(fd, part, done, part.length - done);
    }
  });
}
