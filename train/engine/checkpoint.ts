/**
 * Checkpoints: one directory per saved step, written under a temp name and renamed into place, so a kill at any
 * moment leaves either no `checkpoint_<step>/` or a complete one.
 *
 *   checkpoint_<step>/model.safetensors      trainable weights by parameter name (float32/int32, exact bytes)
 *   checkpoint_<step>/optimizer.safetensors  Adam moments as `m.<name>` / `v.<name>`
 *   checkpoint_<step>/state.json             step, epoch, position in the epoch, seed, best-so-far, optimizer step
 *
 * safetensors (u64 LE header length, JSON header of {name: {dtype, shape, data_offsets}}, raw little-endian data)
 * is readable from Python with `safetensors.torch.load_file` or a few lines of numpy.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { fsyncDir, tmpPathFor } from '../../common/atomic.js';
import { InputError } from '../../common/errors.js';

export type TensorData = { dtype: 'float32' | 'int32'; shape: number[]; data: Float32Array | Int32Array };

const ST_DTYPE = { float32: 'F32', int32: 'I32' } as const;

export function encodeSafetensors(tensors: Record<string, TensorData>, metadata: Record<string, string> = {}): Buffer {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let off = 0;
  for (const n of names) {
    const t = tensors[n]!;
    const expected = t.shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== expected) throw new Error(`tensor '${n}': ${t.data.length} values for shape [${t.shape}]`);
    header[n] = { dtype: ST_DTYPE[t.dtype], shape: t.shape, data_offsets: [off, off + t.data.byteLength] };
    off += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data starts 8-byte aligned (as the reference writer does).
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const head = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + head.length + off);
  out.writeBigUInt64LE(BigInt(head.length), 0);
  head.copy(out, 8);
  let pos = 8 + head.length;
  for (const n of names) {
    const d = tensors[n]!.data;
    Buffer.from(d.buffer, d.byteOffset, d.byteLength).copy(out, pos);
    pos += d.byteLength;
  }
  return out;
}

export function decodeSafetensors(buf: Buffer, file: string): { tensors: Record<string, TensorData>; metadata: Record<string, string> } {
  if (buf.length < 8) throw new InputError(file, 'not a safetensors file (shorter than 8 bytes)');
  const n = Number(buf.readBigUInt64LE(0));
  if (8 + n > buf.length) throw new InputError(file, `safetensors header length ${n} exceeds the file size`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  } catch (err) {
    throw new InputError(file, `safetensors header is not JSON (${(err as Error).message})`);
  }
  const base = 8 + n;
  const tensors: Record<string, TensorData> = {};
  let metadata: Record<string, string> = {};
  for (const [name, e] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = e as Record<string, string>;
      continue;
    }
    const { dtype, shape, data_offsets: [a, b] } = e as { dtype: string; shape: number[]; data_offsets: [number, number] };
    if (base + b > buf.length || a > b) throw new InputError(file, `tensor '${name}' data offsets [${a}, ${b}] are outside the file`);
    // Copy out so the typed array is aligned and independent of the file buffer.
    const bytes = new Uint8Array(buf.subarray(base + a, base + b));
    if (dtype === 'F32') tensors[name] = { dtype: 'float32', shape, data: new Float32Array(bytes.buffer) };
    else if (dtype === 'I32') tensors[name] = { dtype: 'int32', shape, data: new Int32Array(bytes.buffer) };
    else throw new InputError(file, `tensor '${name}' has dtype ${dtype}; vlkit checkpoints hold F32/I32 only`);
  }
  return { tensors, metadata };
}

export interface CheckpointState {
  /** Optimizer updates applied. */
  step: number;
  /** Epoch of the next micro-batch and its index in that epoch's order. */
  epoch: number;
  index: number;
  seed: number;
  optimizer: { kind: string; step: number };
  best: { metric: string; value: number; step: number } | null;
  /** Validation metrics at this step, if it was evaluated. */
  metrics?: Record<string, number>;
  savedAt: string;
}

export interface Checkpoint {
  dir: string;
  weights: Record<string, TensorData>;
  optimizer: Record<string, TensorData>;
  state: CheckpointState;
}

export const checkpointName = (step: number) => `checkpoint_${step}`;

async function writeDurable(file: string, data: Uint8Array | string): Promise<void> {
  const h = await fsp.open(file, 'w');
  try {
    await h.writeFile(data);
    await h.sync();
  } finally {
    await h.close();
  }
}

/** Write `checkpoint_<step>/` atomically (temp directory, fsync, rename). Returns its path. */
export async function saveCheckpoint(outDir: string, ck: Omit<Checkpoint, 'dir'>): Promise<string> {
  const final = path.join(outDir, checkpointName(ck.state.step));
  const tmp = tmpPathFor(final);
  await fsp.mkdir(tmp, { recursive: true });
  try {
    await writeDurable(path.join(tmp, 'model.safetensors'), encodeSafetensors(ck.weights, { format: 'vlkit', step: String(ck.state.step) }));
    await writeDurable(path.join(tmp, 'optimizer.safetensors'), encodeSafetensors(ck.optimizer));
    await writeDurable(path.join(tmp, 'state.json'), JSON.stringify(ck.state, null, 2) + '\n');
    await fsyncDir(tmp);
    // A checkpoint of this step may exist from a run killed before it moved LAST: same step, same content — replace.
    const old = `${final}.old-${randomBytes(4).toString('hex')}`;
    const had = await fsp.rename(final, old).then(() => true, () => false);
    await fsp.rename(tmp, final);
    await fsyncDir(outDir);
    if (had) await fsp.rm(old, { recursive: true, force: true });
  } catch (err) {
    await fsp.rm(tmp, { recursive: true, force: true });
    throw err;
  }
  return final;
}

export async function loadCheckpoint(dir: string): Promise<Checkpoint> {
  const read = async (name: string) => {
    const file = path.join(dir, name);
    try {
      return await fsp.readFile(file);
    } catch (err) {
      throw new InputError(file, `cannot read checkpoint file (${(err as NodeJS.ErrnoException).code ?? err})`);
    }
  };
  const weights = decodeSafetensors(await read('model.safetensors'), path.join(dir, 'model.safetensors')).tensors;
  const optimizer = decodeSafetensors(await read('optimizer.safetensors'), path.join(dir, 'optimizer.safetensors')).tensors;
  let state: CheckpointState;
  try {
    state = JSON.parse((await read('state.json')).toString('utf8'));
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(path.join(dir, 'state.json'), `not valid JSON (${(err as Error).message})`);
  }
  return { dir, weights, optimizer, state };
}
