/**
 * Data of `trainer: vit_classify`: labelled images from either
 *  - an image folder in torchvision's ImageFolder layout, `ROOT/<split>/<class>/**` (class names sorted, files
 *    sorted, the extensions ImageFolder accepts, case-insensitive), or
 *  - an Arrow IPC file `ROOT/<split>.arrow` with a binary column `image` and a column `label` (a class name, or an
 *    integer class id); class names are then the sorted distinct labels.
 * Class indices always come from the train split (the val split when there is none), so the val split may lack
 * classes but must not add any.
 *
 * Micro-batches are decoded in a piscina pool (transform-worker.ts) with `data.prefetch` batches in flight, in the
 * engine's seeded epoch order; each image's augmentation seed and the batch's Mixup/CutMix draws come from the
 * engine's per-micro-batch Rng, so a resumed run sees the same batches. Incomplete trailing training batches are
 * dropped (MAE's drop_last); evaluation covers every image.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { Piscina } from 'piscina';
import { InputError, UsageError } from '../../common/errors.js';
import { epochPermutation, type BatchSource, type Rng } from '../engine/index.js';
import { ArrowRowFile } from '../vilt/arrow-reader.js';
import type { ImagePatches } from '../vilt/transforms.js';
import { mixBatch, smoothTargets, type MixupSpec } from './mixup.js';
import type { ClassifyTask } from './transform-worker.js';
import type { ClassifySpec } from './transforms.js';

export type Split = 'train' | 'val';
export type ClassifyPool = Piscina<ClassifyTask, ImagePatches>;

export function classifyPool(workers: number): ClassifyPool {
  return new Piscina<ClassifyTask, ImagePatches>({
    filename: new URL('./transform-worker.js', import.meta.url).href,
    minThreads: workers,
    maxThreads: workers,
  });
}

export interface ImageRef {
  file: string;
  range?: { position: number; length: number };
  label: number;
  /** How predictions name the image: its path relative to ROOT, or `<split>.arrow#<row>`. */
  name: string;
}

/** torchvision's IMG_EXTENSIONS. */
const IMAGE_EXT = /\.(jpe?g|png|ppm|bmp|pgm|tiff?|webp)$/i;

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else if (IMAGE_EXT.test(e.name)) out.push(p);
  }
  return out;
}

const sorted = (names: Iterable<string>) => [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

function layout(root: string, split: Split): 'folder' | 'arrow' | null {
  if (statSync(path.join(root, split), { throwIfNoEntry: false })?.isDirectory()) return 'folder';
  if (existsSync(path.join(root, `${split}.arrow`))) return 'arrow';
  return null;
}

export function hasSplit(root: string, split: Split): boolean {
  return layout(root, split) !== null;
}

async function arrowLabels(file: string): Promise<unknown[]> {
  const f = await ArrowRowFile.open(file);
  try {
    return Array.from({ length: f.rows }, (_, r) => f.value('label', r));
  } finally {
    await f.close();
  }
}

/** The class names of the dataset at `root` (index = class id), read from its train split, else its val split. */
export async function classNames(root: string): Promise<string[]> {
  if (!existsSync(root)) throw new UsageError(`data.root ${root} does not exist`);
  const split: Split | undefined = (['train', 'val'] as const).find((s) => hasSplit(root, s));
  if (!split) throw new InputError(root, 'has neither train/ or val/ class folders nor train.arrow or val.arrow');
  if (layout(root, split) === 'folder') {
    const dir = path.join(root, split);
    const names = sorted(readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name));
    if (names.length === 0) throw new InputError(dir, 'has no class folders');
    return names;
  }
  const file = path.join(root, `${split}.arrow`);
  const labels = await arrowLabels(file);
  if (labels.every((l) => typeof l === 'number' || typeof l === 'bigint')) {
    const max = labels.reduce<number>((m, l) => Math.max(m, Number(l)), -1);
    return Array.from({ length: max + 1 }, (_, i) => String(i));
  }
  return sorted(new Set(labels.map(String)));
}

/** The images of `split` with class ids from `classes`. */
export async function openSplit(root: string, split: Split, classes: string[]): Promise<ImageRef[]> {
  const index = new Map(classes.map((c, i) => [c, i]));
  const kind = layout(root, split);
  if (!kind) throw new InputError(root, `has no ${split} split (${split}/ class folders or ${split}.arrow)`);
  const out: ImageRef[] = [];
  if (kind === 'folder') {
    const dir = path.join(root, split);
    for (const e of readdirSync(dir, { withFileTypes: true }).filter((x) => x.isDirectory())) {
      const label = index.get(e.name);
      if (label === undefined) throw new InputError(path.join(dir, e.name), `class '${e.name}' is not one of the ${classes.length} training classes`);
      for (const file of walk(path.join(dir, e.name))) out.push({ file, label, name: path.relative(root, file) });
    }
    // Class order, then file order (ImageFolder's sample order).
    out.sort((a, b) => a.label - b.label || (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  } else {
    const file = path.join(root, `${split}.arrow`);
    const f = await ArrowRowFile.open(file);
    try {
      for (let row = 0; row < f.rows; row++) {
        const raw = f.value('label', row);
        const label = typeof raw === 'number' || typeof raw === 'bigint' ? Number(raw) : index.get(String(raw));
        if (label === undefined || !(label >= 0 && label < classes.length)) throw new InputError(file, `label ${JSON.stringify(String(raw))} is not a known class`, `row ${row}`);
        out.push({ file, range: f.range('image', row), label, name: `${split}.arrow#${row}` });
      }
    } finally {
      await f.close();
    }
  }
  if (out.length === 0) throw new InputError(path.join(root, split), 'has no images');
  return out;
}

export interface ClassifyBatch {
  size: number;
  items: ImageRef[];
  /** [B, grid², 3·P·P] */
  patches: Float32Array;
  labels: Int32Array;
  /** [B, classes] soft targets (smoothed, mixed). */
  targets: Float32Array;
}

export interface ClassifyDataOptions {
  batchSize: number;
  spec: ClassifySpec;
  classes: number;
  /** Mixup/CutMix/smoothing (training); null: plain one-hot targets. */
  mixup: Omit<MixupSpec, 'classes'> | null;
  prefetch: number;
  seed: number;
}

export class ClassifyData implements BatchSource<ClassifyBatch> {
  readonly batchesPerEpoch: number;
  readonly grid: number;
  /** Batches being decoded, so `settle` can wait for them before the pool goes away. */
  private readonly inflight = new Set<Promise<unknown>>();

  constructor(
    readonly items: ImageRef[],
    readonly opts: ClassifyDataOptions,
    private readonly pool: ClassifyPool,
  ) {
    this.batchesPerEpoch = Math.floor(items.length / opts.batchSize);
    this.grid = opts.spec.size / opts.spec.patch;
  }

  /** Decode `items` (seeds from `rng`, or fixed for evaluation) and mix them when training. */
  async build(items: ImageRef[], rng: Rng | null): Promise<ClassifyBatch> {
    const seeds = items.map((_, i) => (rng ? rng.u32() : i));
    const decoding = Promise.all(items.map((it, i) => this.pool.run({ file: it.file, ...(it.range ? { range: it.range } : {}), spec: this.opts.spec, seed: seeds[i]! })));
    this.inflight.add(decoding);
    const imgs = await decoding.finally(() => this.inflight.delete(decoding));
    const per = imgs[0]!.patches.length;
    const patches = new Float32Array(items.length * per);
    imgs.forEach((im, i) => patches.set(im.patches, i * per));
    const labels = Int32Array.from(items, (it) => it.label);
    const m = this.opts.mixup;
    const targets =
      m && rng ? mixBatch(patches, labels, this.grid, this.opts.spec.patch, { ...m, classes: this.opts.classes }, rng).targets : smoothTargets(labels, this.opts.classes, 0);
    return { size: items.length, items, patches, labels, targets };
  }

  async *batches(epoch: number, start: number, rngFor: (index: number) => Rng): AsyncGenerator<ClassifyBatch> {
    const order = epochPermutation(this.opts.seed, epoch, this.items.length);
    const bs = this.opts.batchSize;
    const make = (i: number) => {
      const p = this.build(Array.from(order.subarray(i * bs, (i + 1) * bs), (k) => this.items[k]!), rngFor(i));
      p.catch(() => {}); // awaited in order below
      return p;
    };
    const queue: Promise<ClassifyBatch>[] = [];
    let next = start;
    while (next < this.batchesPerEpoch && queue.length < this.opts.prefetch) queue.push(make(next++));
    try {
      while (queue.length > 0) {
        const batch = await queue.shift()!;
        if (next < this.batchesPerEpoch) queue.push(make(next++));
        yield batch;
      }
    } finally {
      // The loop stops early (max_steps, end of run): let prefetched decodes finish before the pool is closed.
      await Promise.allSettled(queue);
    }
  }

  /**
   * Wait until no decode of this source is in flight. Call before closing the pool: a run that stops with an
   * error leaves prefetched tasks behind, and piscina reports replies to tasks of a destroyed pool as a crash.
   */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.inflight]);
  }

  size(batch: ClassifyBatch): number {
    return batch.size;
  }

  /** Every image in dataset order, unaugmented (evaluation and prediction); one batch decoding ahead. */
  async *ordered(bs: number): AsyncGenerator<ClassifyBatch> {
    let pending: Promise<ClassifyBatch> | null = null;
    for (let i = 0; i < this.items.length || pending; i += bs) {
      const next: Promise<ClassifyBatch> | null = i < this.items.length ? this.build(this.items.slice(i, i + bs), null) : null;
      next?.catch(() => {});
      if (pending) yield await pending;
      pending = next;
    }
  }
}
