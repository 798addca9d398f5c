/**
 * Data path of the patch trainers: ViLT's dataset mixes over the Arrow files `vlkit arrow` writes, one example per
 * (image, caption/question) as ViLT's `index_mapper`, and micro-batches assembled ahead of the training step.
 *
 * Image decoding runs in a piscina pool (transform-worker.ts) that reads the bytes from the Arrow file itself, so
 * the training thread only posts tasks; `data.prefetch` micro-batches are kept in flight, so the workers decode
 * batch i+1… while the model trains on batch i. Every random draw (augmentation seeds, MLM masks, ITM labels and
 * false images, `max_image_len` patch subsets, MAE masks, retrieval negatives) comes from the engine's
 * per-micro-batch generator: results do not depend on worker timing, and a resumed run sees the same batches.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Piscina } from 'piscina';
import { InputError, UsageError } from '../../common/errors.js';
import { BertTokenizer, CLS_ID, MASK_ID, PAD_ID, SEP_ID } from '../../data/tokenizer/index.js';
import { epochPermutation, Rng, type BatchSource } from '../engine/index.js';
import { ArrowRowFile } from './arrow-reader.js';
import { interpWeights } from './model.js';
import type { ImagePatches, TransformSpec } from './transforms.js';
import type { TransformTask } from './transform-worker.js';

export type Split = 'train' | 'val' | 'test';

export type TransformPool = Piscina<TransformTask, ImagePatches>;

/**
 * Images posted to one worker at a time. Piscina queues tasks on the main thread and hands a worker its next task
 * only when the main thread handles the previous reply — which it cannot do during a training step (synchronous
 * wasm/JS). With one task per worker, each worker decoded one image per step and idled; batches were then decoded
 * while the step waited (bench/vilt-train: 25% of the tiny loop's wall time). Tasks posted ahead queue in the
 * worker itself, which keeps decoding through the step (the transform is async: sharp runs on libuv's pool).
 */
const TASKS_PER_WORKER = 16;

/**
 * The decoding workers; one pool serves a run's training and validation data. End it with `close()`, not
 * `destroy()`: piscina 5.3's destroy() rejects in-flight tasks, but replies already queued on a worker's port are
 * still delivered and emitted as an 'error' event ("Unexpected message from Worker") that kills the process — what
 * a run that stops mid-epoch with prefetched batches hits.
 */
export function transformPool(workers: number): TransformPool {
  return new Piscina<TransformTask, ImagePatches>({
    filename: new URL('./transform-worker.js', import.meta.url).href,
    minThreads: workers,
    maxThreads: workers,
    concurrentTasksPerWorker: TASKS_PER_WORKER,
  });
}

/** ViLT's datamodules: dataset name → file-name patterns (`*` = shard number) per split. */
export const DATASET_FILES: Record<string, Record<Split, string[]>> = {
  coco: { train: ['coco_caption_karpathy_train', 'coco_caption_karpathy_restval'], val: ['coco_caption_karpathy_val'], test: ['coco_caption_karpathy_test'] },
  f30k: { train: ['f30k_caption_karpathy_train'], val: ['f30k_caption_karpathy_val'], test: ['f30k_caption_karpathy_test'] },
  vg: { train: ['vg'], val: [], test: [] },
  sbu: { train: ['sbu_*'], val: [], test: [] },
  gcc: { train: ['conceptual_caption_train_*'], val: ['conceptual_caption_val_*'], test: [] },
  vqa: { train: ['vqav2_train', 'vqav2_trainable_val'], val: ['vqav2_rest_val'], test: ['vqav2_test'] },
  vgqa: { train: ['vgqa_train'], val: [], test: [] },
  nlvr2: { train: ['nlvr2_train'], val: ['nlvr2_dev'], test: ['nlvr2_test1'] },
};

export type Kind = 'caption' | 'vqa' | 'nlvr2';
const KIND: Record<string, Kind> = { coco: 'caption', f30k: 'caption', vg: 'caption', sbu: 'caption', gcc: 'caption', vqa: 'vqa', vgqa: 'vqa', nlvr2: 'nlvr2' };

/** Arrow files of `datasets` for `split` in `root`, in ViLT's order; a dataset named but absent is an error. */
export function datasetFiles(root: string, datasets: string[], split: Split): string[] {
  if (!existsSync(root)) throw new UsageError(`data.root ${root} does not exist`);
  const present = readdirSync(root).filter((f) => f.endsWith('.arrow'));
  const out: string[] = [];
  for (const d of datasets) {
    const pats = DATASET_FILES[d];
    if (!pats) throw new UsageError(`unknown dataset '${d}' in data.datasets (one of ${Object.keys(DATASET_FILES).join(', ')})`);
    for (const p of pats[split]) {
      const re = new RegExp(`^${p.replace(/\*/g, '\\d+')}\\.arrow$`);
      const hits = present.filter((f) => re.test(f)).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
      // ViLT's trainable_val is empty-but-present for small val sets; shards may be any number ≥ 1.
      if (hits.length === 0 && !p.endsWith('trainable_val')) throw new InputError(root, `dataset '${d}' needs ${p}.arrow for the ${split} split (write it with \`vlkit arrow\`)`);
      out.push(...hits.map((f) => path.join(root, f)));
    }
  }
  return out;
}

export interface Example {
  file: number;
  row: number;
  /** Caption / question / sentence index within the row. */
  j: number;
}

export interface ImageBatch {
  b: number;
  /**
   * Patch slots per image: each image's kept patches in raster order, then padding (mask 0) up to the most any image
   * of the batch keeps. Positions travel with the patches through `interp`, so the order carries no meaning.
   */
  n: number;
  patches: Float32Array;
  mask: Float32Array;
  interp: Float32Array;
}

export interface TextBatch {
  t: number;
  ids: Int32Array;
  mask: Float32Array;
}

export interface ViltBatch {
  size: number;
  examples: Example[];
  text: TextBatch;
  image: ImageBatch;
  /** NLVR2's second image. */
  image2?: ImageBatch;
  mlm?: { ids: Int32Array; rows: Int32Array; labels: Int32Array };
  itm?: { image: ImageBatch; labels: Int32Array };
  /** MAE: 1 where a patch is hidden from the encoder and reconstructed. */
  maeMask?: Float32Array;
  vqaTargets?: Float32Array;
  nlvr2Labels?: Int32Array;
  /** Retrieval: k negative captions per example (captions of other images drawn from the whole split), [B·k] texts. */
  irtrNeg?: { k: number; text: TextBatch };
  /** Milliseconds the training loop waited for this batch (data-loader stall). */
  waitMs: number;
}

export interface DataOptions {
  root: string;
  datasets: string[];
  split: Split;
  batchSize: number;
  maxTextLen: number;
  spec: TransformSpec;
  posGrid: number;
  /**
   * ViLT's `max_image_len`: an image with more patches keeps a uniform random subset of this many (drawn without
   * replacement, per batch); -1 or absent = all patches (ViLT's fine-tuning setting).
   */
  maxImageLen?: number;
  /** What the objectives need from a batch. */
  needs: { mlm: boolean; wholeWord: boolean; mlmProb: number; itm: boolean; maeRatio: number; vqaLabels: number; irtrNegatives: number };
  workers: number;
  prefetch: number;
  seed: number;
}

export class ViltData implements BatchSource<ViltBatch> {
  readonly kind: Kind;
  batchesPerEpoch: number;
  private constructor(
    readonly opts: DataOptions,
    readonly files: ArrowRowFile[],
    readonly examples: Example[],
    private readonly pool: TransformPool,
    private readonly tok: BertTokenizer,
    kind: Kind,
  ) {
    this.kind = kind;
    this.batchesPerEpoch = Math.floor(examples.length / opts.batchSize);
  }

  static async open(opts: DataOptions, pool?: TransformPool): Promise<ViltData> {
    const kinds = new Set(opts.datasets.map((d) => KIND[d]));
    if (kinds.size !== 1) throw new UsageError(`data.datasets mixes kinds of data (${[...kinds].join(', ')}): ${opts.datasets.join(', ')}`);
    const kind = [...kinds][0]!;
    const paths = datasetFiles(opts.root, opts.datasets, opts.split);
    const files: ArrowRowFile[] = [];
    const examples: Example[] = [];
    const textCol = kind === 'caption' ? 'caption' : 'questions';
    for (const p of paths) {
      const f = await ArrowRowFile.open(p);
      const fi = files.push(f) - 1;
      for (let row = 0; row < f.rows; row++) {
        const texts = f.value(textCol, row);
        if (!Array.isArray(texts)) throw new InputError(p, `column '${textCol}' must be a list of strings`, `row ${row}`);
        for (let j = 0; j < texts.length; j++) examples.push({ file: fi, row, j });
      }
    }
    if (examples.length === 0) throw new InputError(opts.root, `no examples for the ${opts.split} split of ${opts.datasets.join(', ')}`);
    const first = examples[0]!;
    if ((opts.needs.itm || opts.needs.irtrNegatives > 0) && examples.every((e) => e.file === first.file && e.row === first.row)) {
      throw new InputError(opts.root, `the ${opts.split} split has a single image: ITM and retrieval need false images/captions from other images`);
    }
    return new ViltData(opts, files, examples, pool ?? transformPool(opts.workers), BertTokenizer.uncased(), kind);
  }

  /** Close the Arrow files; the pool belongs to whoever made it (see transformPool). */
  async close(): Promise<void> {
    for (const f of this.files) await f.close();
  }

  text(ex: Example): string {
    const f = this.files[ex.file]!;
    return (f.value(this.kind === 'caption' ? 'caption' : 'questions', ex.row) as string[])[ex.j]!;
  }

  value(ex: Example, column: string): unknown {
    return this.files[ex.file]!.value(column, ex.row);
  }

  private async images(exs: Example[], column: string, rng: Rng | null): Promise<ImagePatches[]> {
    return Promise.all(
      exs.map((ex) => {
        const f = this.files[ex.file]!;
        const { position, length } = f.range(column, ex.row);
        return this.pool.run({ file: f.file, position, length, spec: this.opts.spec, seed: rng ? rng.u32() : ex.row });
      }),
    );
  }

  /**
   * The patches each image keeps, in raster order: all of them, or — past `maxImageLen` — a uniform random subset of
   * that many (ViLT's visual_embed samples valid patches without replacement; it pads shorter images instead).
   */
  private keptPatches(im: ImagePatches, rng: Rng): number[] {
    const all = Array.from({ length: im.gridH * im.gridW }, (_, k) => k);
    const max = this.opts.maxImageLen ?? -1;
    if (max < 0 || all.length <= max) return all;
    for (let k = 0; k < max; k++) {
      const r = k + rng.int(all.length - k);
      [all[k], all[r]] = [all[r]!, all[k]!];
    }
    return all.slice(0, max).sort((a, b) => a - b);
  }

  /** One padded batch of images; each image's kept patches come first with their own position weights. */
  private imageBatch(imgs: ImagePatches[], rng: Rng): ImageBatch {
    const kept = imgs.map((im) => this.keptPatches(im, rng));
    const n = Math.max(...kept.map((k) => k.length));
    const pp = 3 * this.opts.spec.patch ** 2;
    const g2 = this.opts.posGrid ** 2;
    const b = imgs.length;
    const patches = new Float32Array(b * n * pp);
    const mask = new Float32Array(b * n);
    const interp = new Float32Array(b * n * g2);
    imgs.forEach((im, i) => {
      const w = interpWeights(this.opts.posGrid, im.gridH, im.gridW);
      kept[i]!.forEach((src, k) => {
        const slot = i * n + k;
        patches.set(im.patches.subarray(src * pp, (src + 1) * pp), slot * pp);
        mask[slot] = 1;
        interp.set(w.subarray(src * g2, (src + 1) * g2), slot * g2);
      });
    });
    return { b, n, patches, mask, interp };
  }

  /** Images of `exs` without augmentation, as one padded batch (retrieval evaluation). */
  async evalImages(exs: Example[]): Promise<ImageBatch> {
    const e = exs[0]!;
    return this.imageBatch(await this.images(exs, this.kind === 'nlvr2' ? 'image_0' : 'image', null), Rng.from(this.opts.seed, 'eval-image', e.file, e.row));
  }

  /** A random example of the whole split whose image is not `ex`'s (ViLT's get_false_image / get_false_text). */
  private otherImage(ex: Example, rng: Rng): Example {
    for (;;) {
      const o = this.examples[rng.int(this.examples.length)]!;
      if (o.file !== ex.file || o.row !== ex.row) return o;
    }
  }

  encodeTexts(texts: string[]): TextBatch {
    return this.encode(texts).batch;
  }

  private encode(texts: string[]): { batch: TextBatch; wordIds: (number | null)[][] } {
    const t = this.opts.maxTextLen;
    const ids = new Int32Array(texts.length * t);
    const mask = new Float32Array(texts.length * t);
    const wordIds: (number | null)[][] = [];
    texts.forEach((s, i) => {
      const e = this.tok.encode(s, t);
      ids.set(e.ids, i * t);
      mask.set(e.attentionMask, i * t);
      wordIds.push(e.wordIds);
    });
    return { batch: { t, ids, mask }, wordIds };
  }

  /** BERT masking: 15% of tokens (or of whole words), 80% [MASK], 10% random, 10% kept; at least one per batch. */
  private mask(text: TextBatch, wordIds: (number | null)[][], rng: Rng): NonNullable<ViltBatch['mlm']> {
    const { t } = text;
    const ids = text.ids.slice();
    const rows: number[] = [];
    const labels: number[] = [];
    const { mlmProb, wholeWord } = this.opts.needs;
    const vocab = this.tok.vocab.length;
    const special = (id: number) => id === PAD_ID || id === CLS_ID || id === SEP_ID;
    for (let i = 0; i < wordIds.length; i++) {
      const chosenWords = new Map<number, boolean>();
      for (let k = 0; k < t; k++) {
        const id = text.ids[i * t + k]!;
        if (special(id)) continue;
        let pick: boolean;
        const w = wordIds[i]![k];
        if (wholeWord && w !== null && w !== undefined) {
          if (!chosenWords.has(w)) chosenWords.set(w, rng.float() < mlmProb);
          pick = chosenWords.get(w)!;
        } else {
          pick = rng.float() < mlmProb;
        }
        if (!pick) continue;
        rows.push(i * t + k);
        labels.push(id);
        const r = rng.float();
        ids[i * t + k] = r < 0.8 ? MASK_ID : r < 0.9 ? rng.int(vocab) : id;
      }
    }
    if (rows.length === 0) {
      // A batch without any masked token would give an empty loss; mask the first word of the first caption.
      rows.push(1);
      labels.push(text.ids[1]!);
      ids[1] = MASK_ID;
    }
    return { ids, rows: Int32Array.from(rows), labels: Int32Array.from(labels) };
  }

  /** Build one micro-batch; `rng` null = evaluation (no augmentation, fixed masks from the example ids). */
  async build(exs: Example[], rng: Rng | null, maskRng: Rng): Promise<ViltBatch> {
    const o = this.opts;
    const b = exs.length;
    const texts = exs.map((e) => this.text(e));
    const { batch: text, wordIds } = this.encode(texts);
    const column = this.kind === 'nlvr2' ? 'image_0' : 'image';
    // ITM as ViLT's compute_itm: exactly ⌊B/2⌋ examples, picked by a random permutation, keep their image; the
    // others are paired with a false image drawn from the whole split (get_false_image), never their own.
    const itmLabels = new Int32Array(b);
    let falseExs: Example[] = [];
    if (o.needs.itm) {
      const perm = Int32Array.from({ length: b }, (_, i) => i);
      maskRng.shuffle(perm);
      for (let k = 0; k < b >> 1; k++) itmLabels[perm[k]!] = 1;
      falseExs = exs.flatMap((e, i) => (itmLabels[i] ? [] : [this.otherImage(e, maskRng)]));
    }
    const [imgs, imgs2, falseImgs] = await Promise.all([
      this.images(exs, column, rng),
      this.kind === 'nlvr2' ? this.images(exs, 'image_1', rng) : null,
      this.images(falseExs, 'image', rng),
    ]);
    const image = this.imageBatch(imgs, maskRng);
    const out: ViltBatch = { size: b, examples: exs, text, image, waitMs: 0 };
    if (imgs2) out.image2 = this.imageBatch(imgs2, maskRng);
    if (o.needs.mlm) out.mlm = this.mask(text, wordIds, maskRng);
    if (o.needs.itm) {
      let f = 0;
      const paired = imgs.map((im, i) => (itmLabels[i] ? im : falseImgs[f++]!));
      // A second patch sample, as ViLT's ITM pass embeds its images anew.
      out.itm = { image: this.imageBatch(paired, maskRng), labels: itmLabels };
    }
    if (o.needs.maeRatio > 0) {
      const m = new Float32Array(b * image.n);
      for (let i = 0; i < b; i++) {
        const valid: number[] = [];
        for (let s = 0; s < image.n; s++) if (image.mask[i * image.n + s]) valid.push(s);
        const hide = Math.round(valid.length * o.needs.maeRatio);
        for (let k = 0; k < hide; k++) {
          const r = k + maskRng.int(valid.length - k);
          [valid[k], valid[r]] = [valid[r]!, valid[k]!];
          m[i * image.n + valid[k]!] = 1;
        }
      }
      out.maeMask = m;
    }
    if (this.kind === 'vqa' && o.needs.vqaLabels > 0) {
      const L = o.needs.vqaLabels;
      const targets = new Float32Array(b * L);
      exs.forEach((e, i) => {
        const labels = (this.value(e, 'answer_labels') as number[][])[e.j] ?? [];
        const scores = (this.value(e, 'answer_scores') as number[][])[e.j] ?? [];
        labels.forEach((l, k) => {
          if (l >= L) throw new InputError(this.files[e.file]!.file, `answer label ${l} ≥ the ${L} labels of ans2label.json`, `row ${e.row}`);
          targets[i * L + l] = scores[k]!;
        });
      });
      out.vqaTargets = targets;
    }
    if (this.kind === 'nlvr2') {
      out.nlvr2Labels = Int32Array.from(exs.map((e) => ((this.value(e, 'answers') as string[])[e.j] === 'True' ? 1 : 0)));
    }
    if (o.needs.irtrNegatives > 0) {
      // ViLT's get_false_text: each negative is a caption of a random example of the whole split (here: of another image).
      const k = o.needs.irtrNegatives;
      const neg = exs.flatMap((e) => Array.from({ length: k }, () => this.text(this.otherImage(e, maskRng))));
      out.irtrNeg = { k, text: this.encode(neg).batch };
    }
    return out;
  }

  /** The engine's batch source: seeded epoch order, `prefetch` micro-batches in flight. */
  async *batches(epoch: number, start: number, rngFor: (index: number) => Rng): AsyncGenerator<ViltBatch> {
    const order = epochPermutation(this.opts.seed, epoch, this.examples.length);
    const bs = this.opts.batchSize;
    const make = (i: number) => {
      const rng = rngFor(i);
      const exs = Array.from(order.subarray(i * bs, (i + 1) * bs), (k) => this.examples[k]!);
      const p = this.build(exs, rng, rng);
      p.catch(() => {}); // awaited in order below
      return p;
    };
    const queue: Promise<ViltBatch>[] = [];
    let next = start;
    while (next < this.batchesPerEpoch && queue.length < this.opts.prefetch) queue.push(make(next++));
    while (queue.length > 0) {
      const t0 = performance.now();
      const batch = await queue.shift()!;
      batch.waitMs = performance.now() - t0;
      if (next < this.batchesPerEpoch) queue.push(make(next++));
      yield batch;
    }
  }

  size(batch: ViltBatch): number {
    return batch.size;
  }

  /** Examples in file order, in batches (evaluation and prediction), with fixed per-batch randomness. */
  async *ordered(bs: number, limit = Infinity): AsyncGenerator<ViltBatch> {
    const n = Math.min(limit, this.examples.length);
    for (let i = 0; i < n; i += bs) {
      yield this.build(this.examples.slice(i, Math.min(n, i + bs)), null, Rng.from(this.opts.seed, 'eval', i));
    }
  }
}
