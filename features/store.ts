/**
 * Feature store: the TSV's rows as raw float32/int32 arrays in one flat file plus a small index, read by
 * positioned reads (fs.readSync at an offset).
 *
 * Why this and not Arrow IPC: Node has no mmap, so "memory-mapped" has to come from the OS page cache. With
 * positioned reads every loader process shares the kernel's one cached copy of data.bin and holds only the rows it
 * is using; opening a store reads only the index (milliseconds for a million images). An Arrow IPC file would have
 * to be read into each process's heap (apache-arrow reads from a Buffer), i.e. one private copy per worker, which is
 * exactly what made LXMERT's 4 loader workers need 207 GB. The row layout is fixed-size arrays, so Arrow's
 * columnar metadata would buy nothing here.
 *
 * Layout of a store directory:
 *   meta.json  {"format": "vlkit-feature-store", "version": 1, "rows", "dim", "source"}
 *   ids.txt    img_id of row i on line i
 *   index.bin  float64 [rows × 4]: byte offset in data.bin, num_boxes, img_h, img_w
 *   data.bin   per row, little-endian: boxes f32[N×4], features f32[N×D], objects_conf f32[N], attrs_conf f32[N],
 *              objects_id i32[N], attrs_id i32[N]
 */
import { closeSync, createWriteStream, fsyncSync, openSync, promises as fsp, readFileSync, readSync, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import { fsyncDir, tmpPathFor } from '../common/atomic.js';
import { InputError } from '../common/errors.js';
import { readFeatureTsv, type FeatureRow } from './tsv.js';

export const STORE_FORMAT = 'vlkit-feature-store';

interface StoreMeta {
  format: string;
  version: number;
  rows: number;
  dim: number;
  source: string;
}

function rowBytes(n: number, dim: number): number {
  return 4 * n * (4 + dim + 4);
}

async function write(ws: WriteStream, data: ArrayBufferView): Promise<void> {
  if (!ws.write(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))) await once(ws, 'drain');
}

async function closeStream(ws: WriteStream): Promise<void> {
  ws.end();
  await once(ws, 'finish');
  const fd = openSync(ws.path as string, 'r');
  try {
    // fsync through a fresh descriptor: the data is on disk before the directory is renamed into place.
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export interface ConvertOptions {
  topk?: number;
}

/** TSV → store directory, written under a temporary name and renamed into place. */
export async function convertTsvToStore(tsv: string, outDir: string, opts: ConvertOptions = {}): Promise<{ rows: number; dim: number }> {
  const tmp = tmpPathFor(outDir.replace(/[/\\]+$/, ''));
  await fsp.mkdir(tmp, { recursive: true });
  try {
    const data = createWriteStream(path.join(tmp, 'data.bin'));
    const ids: string[] = [];
    const seen = new Map<string, number>();
    const index: number[] = [];
    let offset = 0;
    let dim = -1;
    let line = 0;
    for await (const row of readFeatureTsv(tsv, { topk: opts.topk })) {
      line++;
      const prev = seen.get(row.imgId);
      if (prev !== undefined) throw new InputError(tsv, `img_id '${row.imgId}' already on line ${prev} (run vlkit features merge --on-duplicate drop)`, line);
      seen.set(row.imgId, line);
      if (row.numBoxes > 0) {
        if (dim < 0) dim = row.dim;
        else if (row.dim !== dim) throw new InputError(tsv, `features have ${row.dim} values per box, earlier rows ${dim}`, line);
      }
      ids.push(row.imgId);
      index.push(offset, row.numBoxes, row.imgH, row.imgW);
      for (const part of [row.boxes, row.features, row.objectsConf, row.attrsConf, row.objectsId, row.attrsId]) await write(data, part);
      offset += rowBytes(row.numBoxes, row.dim);
    }
    await closeStream(data);
    const meta: StoreMeta = { format: STORE_FORMAT, version: 1, rows: ids.length, dim: Math.max(dim, 0), source: path.resolve(tsv) };
    await fsp.writeFile(path.join(tmp, 'index.bin'), new Uint8Array(Float64Array.from(index).buffer));
    await fsp.writeFile(path.join(tmp, 'ids.txt'), ids.map((id) => id + '\n').join(''));
    await fsp.writeFile(path.join(tmp, 'meta.json'), JSON.stringify(meta, null, 1) + '\n');
    await fsyncDir(tmp);
    // Replace an older store: move it aside first, since a directory cannot be renamed over a non-empty one.
    const old = tmpPathFor(outDir.replace(/[/\\]+$/, ''));
    const hadOld = await fsp.rename(outDir, old).then(
      () => true,
      () => false,
    );
    await fsp.rename(tmp, outDir);
    await fsyncDir(path.dirname(path.resolve(outDir)));
    if (hadOld) await fsp.rm(old, { recursive: true, force: true });
    return { rows: ids.length, dim: meta.dim };
  } catch (err) {
    await fsp.rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

export interface FeatureStore {
  /** Number of images. */
  readonly size: number;
  /** Feature size D. */
  readonly dim: number;
  /** img_ids in row order. */
  ids(): readonly string[];
  has(imgId: string): boolean;
  /** The row of an image; throws for an unknown id. */
  get(imgId: string): FeatureRow;
  /** Row i (0-based, file order). */
  getAt(i: number): FeatureRow;
  close(): void;
}

export interface OpenStoreOptions {
  /** Only the first `topk` rows (LXMERT's topk). */
  topk?: number;
}

/** Open a store written by `vlkit features convert`: reads the index only; rows are read on demand. */
export function openFeatureStore(dir: string, opts: OpenStoreOptions = {}): FeatureStore {
  let meta: StoreMeta;
  try {
    meta = JSON.parse(readFileSync(path.join(dir, 'meta.json'), 'utf8')) as StoreMeta;
  } catch (err) {
    throw new InputError(dir, `not a feature store (${(err as Error).message}); make one with vlkit features convert`);
  }
  if (meta.format !== STORE_FORMAT || meta.version !== 1) throw new InputError(dir, `unsupported store format ${meta.format} v${meta.version}`);
  const rows = opts.topk !== undefined && opts.topk >= 0 ? Math.min(opts.topk, meta.rows) : meta.rows;
  const idList = readFileSync(path.join(dir, 'ids.txt'), 'utf8').split('\n').slice(0, rows);
  const raw = readFileSync(path.join(dir, 'index.bin'));
  if (raw.length !== meta.rows * 32 || idList.length !== rows) throw new InputError(dir, 'index.bin / ids.txt do not match meta.json (store damaged)');
  const index = new Float64Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + rows * 32));
  const byId = new Map<string, number>();
  idList.forEach((id, i) => byId.set(id, i));
  const fd = openSync(path.join(dir, 'data.bin'), 'r');
  const dim = meta.dim;
  let closed = false;

  const getAt = (i: number): FeatureRow => {
    if (closed) throw new Error('feature store is closed');
    if (!Number.isInteger(i) || i < 0 || i >= rows) throw new RangeError(`row ${i} outside [0, ${rows})`);
    const offset = index[i * 4]!;
    const n = index[i * 4 + 1]!;
    const bytes = rowBytes(n, dim);
    const buf = new ArrayBuffer(bytes);
    const got = readSync(fd, new Uint8Array(buf), 0, bytes, offset);
    if (got !== bytes) throw new InputError(dir, `data.bin ends early at row ${i} (store damaged)`);
    let at = 0;
    const f32 = (len: number) => new Float32Array(buf, (at += 4 * len) - 4 * len, len);
    const i32 = (len: number) => new Int32Array(buf, (at += 4 * len) - 4 * len, len);
    const boxes = f32(n * 4);
    const features = f32(n * dim);
    const objectsConf = f32(n);
    const attrsConf = f32(n);
    const objectsId = i32(n);
    const attrsId = i32(n);
    return { imgId: idList[i]!, imgH: index[i * 4 + 2]!, imgW: index[i * 4 + 3]!, numBoxes: n, dim: n > 0 ? dim : 0, boxes, features, objectsId, objectsConf, attrsId, attrsConf };
  };

  return {
    size: rows,
    dim,
    ids: () => idList,
    has: (id) => byId.has(id),
    get(id) {
      const i = byId.get(id);
      if (i === undefined) throw new RangeError(`img_id '${id}' is not in ${dir}`);
      return getAt(i);
    },
    getAt,
    close() {
      if (!closed) closeSync(fd);
      closed = true;
    },
  };
}
