/**
 * Write a state dict as a zip-format PyTorch checkpoint that `torch.load` (1.6+) returns as an OrderedDict of
 * tensors. The pickle is what torch.save itself emits at protocol 2: OrderedDict() then SETITEMS of
 * name → _rebuild_tensor_v2((persistent storage id), 0, size, stride, False, OrderedDict()); each tensor gets its
 * own storage `archive/data/<i>`, STORED and 64-byte aligned like torch's writer. Written to a temp file, then
 * renamed into place.
 */
import { writeFileAtomicWith } from '../../common/atomic.js';
import { PickleWriter } from './pickle.js';
import { bytesOf, checkTensor, contiguousStrides, numel, type DType, type Tensor } from './tensor.js';
import { ZipWriter } from './zip.js';

const STORAGE_CLASS: Record<DType, string> = {
  float32: 'FloatStorage',
  float64: 'DoubleStorage',
  float16: 'HalfStorage',
  bfloat16: 'BFloat16Storage',
  int64: 'LongStorage',
  int32: 'IntStorage',
  int16: 'ShortStorage',
  int8: 'CharStorage',
  uint8: 'ByteStorage',
  bool: 'BoolStorage',
};

/** Folder name inside the zip; torch ≥ 2 always uses "archive", and readers take whatever the first entry has. */
const PREFIX = 'archive';

export function pthPickle(tensors: readonly [string, Tensor][]): Uint8Array {
  const w = new PickleWriter().proto2().global('collections', 'OrderedDict').tuple(0).reduce();
  if (tensors.length) w.mark();
  tensors.forEach(([name, t], i) => {
    w.str(name).global('torch._utils', '_rebuild_tensor_v2').mark();
    w.mark().str('storage').global('torch', STORAGE_CLASS[t.dtype]).str(String(i)).str('cpu').int(numel(t.shape)).tuple(5).binpersid();
    w.int(0).intTuple(t.shape).intTuple(contiguousStrides(t.shape)).bool(false);
    w.global('collections', 'OrderedDict').tuple(0).reduce();
    w.tuple(6).reduce();
  });
  if (tensors.length) w.setitems();
  return w.stop();
}

/** Save `tensors` (insertion order kept) as a torch-loadable .pth; atomic (temp + rename). */
export async function savePth(file: string, tensors: Map<string, Tensor> | Record<string, Tensor>): Promise<void> {
  const entries = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  for (const [name, t] of entries) checkTensor(t, `${file}: tensor '${name}'`);
  await writeFileAtomicWith(file, (fd) => {
    const zip = new ZipWriter(fd, file);
    zip.add(`${PREFIX}/data.pkl`, [pthPickle(entries)]);
    entries.forEach(([, t], i) => zip.add(`${PREFIX}/data/${i}`, [bytesOf(t.data)]));
    zip.add(`${PREFIX}/version`, [new TextEncoder().encode('3\n')]);
    zip.add(`${PREFIX}/byteorder`, [new TextEncoder().encode('little')]);
    zip.finish();
  });
}
