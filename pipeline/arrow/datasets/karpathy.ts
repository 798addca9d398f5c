/**
 * COCO and Flickr30k captions with Karpathy's splits (ViLT's write_coco_karpathy.py / write_f30k_karpathy.py):
 * one row per image — the file bytes, the `raw` sentences, the file name as image_id, the Karpathy split — and one
 * file per split. Rows follow the annotation file's order (ViLT shuffles; a fixed order keeps runs identical).
 */
import path from 'node:path';
import { streamJsonArray } from '../json-stream.js';
import { field, isArray, isString, type Adapter, type AdapterContext, type DatasetPlan, type PlannedRow } from '../plan.js';
import { listOf, type Column } from '../writer.js';

export const CAPTION_COLUMNS: Column[] = [
  { name: 'image', type: 'binary' },
  { name: 'caption', type: listOf('string') },
  { name: 'image_id', type: 'string' },
  { name: 'split', type: 'string' },
];

interface KarpathyLayout {
  annotation: string;
  splits: string[];
  filePrefix: string;
  /** Image path relative to --root for an `images[]` record. */
  imagePath: (rec: unknown, file: string, record: string) => string;
}

async function karpathy(ctx: AdapterContext, layout: KarpathyLayout): Promise<DatasetPlan> {
  const file = path.join(ctx.root, layout.annotation);
  // ViLT keys everything by file name: a name listed twice gets both records' sentences and the later split.
  const byName = new Map<string, { captions: string[]; split: string; image: string; record: string }>();
  for await (const { value, index } of streamJsonArray(file, 'images')) {
    const record = String(index);
    const filename = field(value, 'filename', isString, 'a string', file, record);
    const split = field(value, 'split', isString, 'a string', file, record);
    const sentences = field(value, 'sentences', isArray, 'a list', file, record);
    const raws = sentences.map((s) => field(s, 'raw', isString, 'a string', file, record));
    const image = ctx.gate.inRoot(layout.imagePath(value, file, record), file, record);
    const seen = byName.get(filename);
    if (seen) {
      seen.captions.push(...raws);
      seen.split = split;
    } else {
      byName.set(filename, { captions: raws, split, image, record });
    }
  }
  const rows = new Map<string, PlannedRow[]>(layout.splits.map((s) => [s, []]));
  let otherSplit = 0;
  for (const [name, e] of byName) {
    const bucket = rows.get(e.split);
    if (!bucket) {
      otherSplit++;
      continue;
    }
    if (ctx.gate.admit([e.image], file, e.record)) bucket.push({ images: [e.image], values: [e.captions, name, e.split] });
  }
  if (otherSplit > 0) ctx.log.warn(`${otherSplit} images have a split other than ${layout.splits.join('/')} and are not written (as in ViLT)`);
  return {
    passes: layout.splits.map((s) => ({ outputs: [{ name: `${layout.filePrefix}_${s}.arrow`, columns: CAPTION_COLUMNS }], rows: rows.get(s)! })),
  };
}

export const coco: Adapter = (ctx) =>
  karpathy(ctx, {
    annotation: 'karpathy/dataset_coco.json',
    splits: ['train', 'restval', 'val', 'test'],
    filePrefix: 'coco_caption_karpathy',
    // `filepath` is train2014 or val2014, the folders ViLT reads.
    imagePath: (rec, file, record) =>
      path.join(field(rec, 'filepath', isString, 'a string', file, record), field(rec, 'filename', isString, 'a string', file, record)),
  });

export const f30k: Adapter = (ctx) =>
  karpathy(ctx, {
    annotation: 'karpathy/dataset_flickr30k.json',
    splits: ['train', 'val', 'test'],
    filePrefix: 'f30k_caption_karpathy',
    imagePath: (rec, file, record) => path.join('flickr30k-images', field(rec, 'filename', isString, 'a string', file, record)),
  });
