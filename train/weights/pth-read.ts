/**
 * Read PyTorch checkpoints (`torch.save` output: .pth/.pt/.bin/.ckpt) without Python.
 *
 * Zip format (torch ≥ 1.6): `<prefix>/data.pkl` is a pickle whose tensors are `torch._utils._rebuild_tensor_v2(
 * storage, offset, size, stride, ...)` calls, each storage a persistent id ('storage', torch.FloatStorage, key,
 * location, numel) whose bytes are the entry `<prefix>/data/<key>`. Legacy format (torch < 1.6, e.g. LXMERT's
 * model_LXRT.pth): back-to-back pickles (magic, protocol, sys info, the object, the storage key list) followed by
 * each storage as an int64 element count and its raw bytes. Both are little-endian on every platform torch ran on
 * for these models; a `byteorder` record saying otherwise is refused.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { PickleError, PyObject, unpickle, type PyCallable } from './pickle.js';
import { DTYPES, gatherStrided, isContiguous, numel, toFloat32, type DType, type StoredTensor, type TensorData } from './tensor.js';
import { ZipReader } from './zip.js';

/** A tensor found in a checkpoint; `data` is filled once all storages are read. */
export class PthTensor implements StoredTensor {
  data: TensorData = new Float32Array(0);
  constructor(
    public dtype: DType,
    public shape: number[],
    public strides: number[],
    public storageOffset: number,
  ) {}
}

/** A tensor kind we do not decode (quantized, sparse, nested…), kept so a state dict using it fails loudly. */
export class UnsupportedTensor {
  constructor(readonly kind: string) {}
}

export interface LoadOptions {
  /** Widen float16/bfloat16 tensors to float32. */
  halfToFloat32?: boolean;
  /**
   * CRC-check tensor storages too (data.pkl always is). Off by default like torch's own reader, which builds miniz
   * without CRC checks: over 500 MB it costs ~0.1 s on an idle core, seconds on a busy one.
   */
  verifyCrc?: boolean;
}

const STORAGE_DTYPES: Record<string, DType> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
  UntypedStorage: 'uint8',
};

interface StorageRef {
  key: string;
  dtype: DType;
  numel: number;
  /** Legacy storage views: (root key, element offset, size). */
  view?: { offset: number; size: number };
}

interface PendingTensor {
  tensor: PthTensor;
  storage: StorageRef;
}

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

/**
 * Load a whole checkpoint: the unpickled object graph (Maps for dicts, arrays for lists/tuples, PyObject stand-ins
 * for other Python objects) with every tensor decoded as a PthTensor.
 */
export function loadTorch(path: string, opts: LoadOptions = {}): unknown {
  const head = readHead(path, 512);
  if (head[0] === 0x50 && head[1] === 0x4b) return loadZip(path, opts);
  if (head[0] === 0x80 && head[1] === 0x02 && head[2] === 0x8a) return loadLegacy(path, opts);
  if (head.length >= 262 && new TextDecoder().decode(head.subarray(257, 262)) === 'ustar') {
    throw new Error(`${path}: tar-based PyTorch checkpoint (torch ≤ 0.3) is not supported; re-save it with a newer torch: torch.save(torch.load(p), p2)`);
  }
  throw new Error(`${path}: not a PyTorch checkpoint (neither a zip archive nor a legacy pickle stream)`);
}

function readHead(path: string, n: number): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const b = new Uint8Array(n);
    return b.subarray(0, readSync(fd, b, 0, n, 0));
  } finally {
    closeSync(fd);
  }
}

function loadZip(path: string, opts: LoadOptions): unknown {
  const zip = new ZipReader(path);
  try {
    const first = zip.names[0];
    const slash = first?.indexOf('/') ?? -1;
    if (!first || slash < 0) throw new Error(`${path}: zip archive has no top-level folder; not a torch.save checkpoint`);
    const prefix = first.slice(0, slash);
    if (!zip.has(`${prefix}/data.pkl`)) throw new Error(`${path}: ${prefix}/data.pkl missing; not a torch.save checkpoint`);
    if (zip.has(`${prefix}/byteorder`)) {
      const order = new TextDecoder().decode(zip.read(`${prefix}/byteorder`)).trim();
      if (order !== 'little') throw new Error(`${path}: byteorder '${order}' is not supported (only little-endian)`);
    }
    const pending: PendingTensor[] = [];
    const source = `${path}:${prefix}/data.pkl`;
    const { value } = unpickle(zip.read(`${prefix}/data.pkl`), {
      source,
      findClass: torchClasses(pending),
      persistentLoad: (pid) => storageFromPid(pid, source, false),
    });
    fillTensors(pending, path, opts, (ref) => {
      const bytes = zip.read(`${prefix}/data/${ref.key}`, opts.verifyCrc ?? false);
      return { bytes, numel: bytes.length / DTYPES[ref.dtype].bytes };
    });
    return value;
  } finally {
    zip.close();
  }
}

function loadLegacy(path: string, opts: LoadOptions): unknown {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    // The pickles sit in front of the storage bytes and their length is only known once parsed: read a growing
    // head of the file until all five parse, then read each storage on its own.
    for (let want = Math.min(size, 1 << 24); ; want = Math.min(size, want * 4)) {
      const head = new Uint8Array(want);
      readSync(fd, head, 0, want, 0);
      try {
        return legacyFromHead(path, head, fd, size, opts);
      } catch (err) {
        if (!(err instanceof PickleError && /truncated|unterminated/.test(err.message)) || want === size) throw err;
      }
    }
  } finally {
    closeSync(fd);
  }
}

function legacyFromHead(path: string, head: Uint8Array, fd: number, fileSize: number, opts: LoadOptions): unknown {
  const source = `${path} (legacy format)`;
  let r = unpickle(head, { source }, 0);
  if (r.value !== LEGACY_MAGIC) throw new Error(`${path}: not a PyTorch checkpoint (bad legacy magic number)`);
  r = unpickle(head, { source }, r.end);
  if (r.value !== 1001) throw new Error(`${path}: unsupported legacy protocol version ${String(r.value)}`);
  r = unpickle(head, { source }, r.end);
  const sysInfo = r.value instanceof Map ? r.value : new Map();
  if (sysInfo.get('little_endian') === false) throw new Error(`${path}: big-endian legacy checkpoint is not supported`);
  const pending: PendingTensor[] = [];
  const elemSize = new Map<string, number>();
  const persistentLoad = (pid: unknown): StorageRef => {
    const ref = storageFromPid(pid, source, true);
    elemSize.set(ref.key, DTYPES[ref.dtype].bytes);
    return ref;
  };
  const main = unpickle(head, { source, findClass: torchClasses(pending), persistentLoad }, r.end);
  const keys = unpickle(head, { source }, main.end);
  if (!Array.isArray(keys.value)) throw new Error(`${source}: storage key list missing`);
  // Storage records follow in key-list order: int64 element count, then the bytes.
  const byKey = new Map<string, { offset: number; numel: number }>();
  let offset = keys.end;
  for (const key of keys.value as unknown[]) {
    const k = String(key);
    const countBuf = new Uint8Array(8);
    if (readSync(fd, countBuf, 0, 8, offset) !== 8) throw new Error(`${source}: truncated before storage '${k}'`);
    const count = Number(new DataView(countBuf.buffer).getBigInt64(0, true));
    const bytes = elemSize.get(k);
    if (bytes === undefined) throw new Error(`${source}: storage '${k}' is listed but never referenced; cannot size it`);
    byKey.set(k, { offset: offset + 8, numel: count });
    offset += 8 + count * bytes;
  }
  if (offset > fileSize) throw new Error(`${source}: truncated (storages need ${offset} bytes, file has ${fileSize})`);
  fillTensors(pending, path, opts, (ref) => {
    const where = byKey.get(ref.key);
    if (!where) throw new Error(`${source}: storage '${ref.key}' is missing from the storage list`);
    const n = where.numel * DTYPES[ref.dtype].bytes;
    const bytes = new Uint8Array(n);
    if (n && readSync(fd, bytes, 0, n, where.offset) !== n) throw new Error(`${source}: truncated storage '${ref.key}'`);
    return { bytes, numel: where.numel };
  });
  return main.value;
}

function storageFromPid(pid: unknown, source: string, legacy: boolean): StorageRef {
  if (!Array.isArray(pid) || pid[0] !== 'storage') throw new Error(`${source}: unsupported persistent id ${JSON.stringify(String(pid))}`);
  const [, type, key, , count, view] = pid as unknown[];
  const name = type instanceof Object && 'name' in type ? String((type as { name: unknown }).name) : String(type);
  const dtype = STORAGE_DTYPES[name];
  if (!dtype) throw new Error(`${source}: unsupported storage type torch.${name}`);
  const ref: StorageRef = { key: String(key), dtype, numel: Number(count) };
  if (legacy && Array.isArray(view)) {
    // Old storage views: (view key, offset into the root storage, view size); tensors index relative to the view.
    ref.view = { offset: Number(view[1]), size: Number(view[2]) };
  }
  return ref;
}

/** The torch functions data.pkl calls; every other global becomes an inspectable PyObject stand-in. */
function torchClasses(pending: PendingTensor[]): (module: string, name: string) => PyCallable | undefined {
  const rebuild: PyCallable = (args) => {
    const [storage, offset, size, stride] = args as [StorageRef, number, number[], number[]];
    const t = new PthTensor(storage.dtype, size.map(Number), stride.map(Number), Number(offset));
    pending.push({ tensor: t, storage });
    return t;
  };
  return (module, name) => {
    if (module === 'torch._utils' && (name === '_rebuild_tensor_v2' || name === '_rebuild_tensor')) return rebuild;
    // nn.Parameter and tensor subclasses wrap a plain tensor: keep the tensor.
    if (module === 'torch._utils' && (name === '_rebuild_parameter' || name === '_rebuild_parameter_with_state')) return (args) => args[0];
    if (module === 'torch._tensor' && name === '_rebuild_from_type_v2') return (args) => (args[0] as PyCallable)(args[2] as unknown[]);
    if (module === 'torch._utils' && name.startsWith('_rebuild_')) return () => new UnsupportedTensor(name);
    return undefined;
  };
}

function fillTensors(pending: PendingTensor[], path: string, opts: LoadOptions, readStorage: (ref: StorageRef) => { bytes: Uint8Array; numel: number }): void {
  const users = new Map<string, PendingTensor[]>();
  for (const p of pending) {
    const list = users.get(p.storage.key) ?? [];
    list.push(p);
    users.set(p.storage.key, list);
  }
  for (const [key, list] of users) {
    const ref = list[0]!.storage;
    const { bytes, numel: count } = readStorage(ref);
    const info = DTYPES[ref.dtype];
    if (!Number.isInteger(count) || bytes.length < count * info.bytes) throw new Error(`${path}: storage '${key}' has ${bytes.length} bytes, not a whole number of ${ref.dtype} elements`);
    const storage = info.make(bytes.buffer as ArrayBuffer, bytes.byteOffset, count);
    for (const { tensor: t, storage: s } of list) {
      const base = (s.view?.offset ?? 0) + t.storageOffset;
      const n = numel(t.shape);
      let last = base;
      for (let i = 0; i < t.shape.length; i++) last += (t.shape[i]! - 1) * t.strides[i]!;
      if (n > 0 && (base < 0 || last >= count || t.strides.some((x) => x < 0))) {
        throw new Error(`${path}: tensor [${t.shape.join(', ')}] at offset ${t.storageOffset} runs past storage '${key}' (${count} elements)`);
      }
      // Sole user of a contiguous run: share the storage buffer instead of copying (keeps peak memory at ~1x).
      t.data =
        list.length === 1 && isContiguous(t.shape, t.strides) && n > 0
          ? storage.subarray(base, base + n)
          : gatherStrided(ref.dtype, storage, t.shape, t.strides, base);
      if (opts.halfToFloat32) Object.assign(t, toFloat32(t));
    }
  }
}

const STATE_DICT_KEYS = ['state_dict', 'model_state_dict', 'model', 'module'];

/**
 * The state dict inside a loaded checkpoint: `key` (dot-separated path) if given, else the first of state_dict /
 * model_state_dict / model / module that holds tensors (Lightning .ckpt, {'model': sd}, …), else the top level.
 * Non-tensor entries are skipped; tensor kinds we cannot decode are an error naming the key.
 */
export function findStateDict(root: unknown, where: string, key?: string): Map<string, PthTensor> {
  let dict: unknown = root;
  if (key) {
    for (const part of key.split('.')) {
      dict = dict instanceof Map ? dict.get(part) : undefined;
      if (dict === undefined) throw new Error(`${where}: key '${key}' not found (top-level keys: ${describeKeys(root)})`);
    }
  } else {
    for (let depth = 0; depth < 3 && dict instanceof Map && !hasTensors(dict); depth++) {
      const next = STATE_DICT_KEYS.map((k) => (dict as Map<unknown, unknown>).get(k)).find((v) => v instanceof Map || v instanceof PyObject);
      if (next === undefined) break;
      dict = next instanceof PyObject ? next.items : next;
    }
  }
  if (dict instanceof PyObject) dict = dict.items;
  const out = new Map<string, PthTensor>();
  if (dict instanceof Map) {
    for (const [k, v] of dict) {
      if (v instanceof UnsupportedTensor) throw new Error(`${where}: '${String(k)}' is a ${v.kind} tensor, which is not supported`);
      if (v instanceof PthTensor) out.set(String(k), v);
    }
  }
  if (out.size === 0) throw new Error(`${where}: no state dict of tensors found (top-level keys: ${describeKeys(root)}); pass the key holding it`);
  return out;
}

function hasTensors(m: Map<unknown, unknown>): boolean {
  for (const v of m.values()) if (v instanceof PthTensor) return true;
  return false;
}

function describeKeys(v: unknown): string {
  if (!(v instanceof Map)) return `none, the top level is ${v instanceof PyObject ? v.cls : typeof v}`;
  const keys = [...v.keys()].map(String);
  return keys.length > 20 ? `${keys.slice(0, 20).join(', ')}, … (${keys.length})` : keys.join(', ');
}

/** Read a checkpoint's state dict (see findStateDict for where it is looked for). */
export function readStateDict(path: string, opts: LoadOptions & { key?: string } = {}): Map<string, PthTensor> {
  return findStateDict(loadTorch(path, opts), path, opts.key);
}

/** Drop `prefix` from every key that has it (e.g. 'module.' left by DataParallel in LXMERT checkpoints). */
export function stripPrefix<T>(dict: Map<string, T>, prefix: string): Map<string, T> {
  const out = new Map<string, T>();
  for (const [k, v] of dict) {
    const name = k.startsWith(prefix) ? k.slice(prefix.length) : k;
    if (out.has(name)) throw new Error(`stripping '${prefix}' makes two entries named '${name}'`);
    out.set(name, v);
  }
  return out;
}
