/**
 * Conceptual Captions (CC3M) and SBU in the layout ViLT's write_conceptual_caption.py / write_sbu.py read: an
 * annotation list of `[url or path, caption]` pairs whose last path part names the image, and the images one folder
 * deep under `images_<split>/`. One row per annotated image (caption = [that caption], image_id = file name, split
 * from the folder name), in annotation order, sharded into files of --shard-size rows like ViLT.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { InputError } from '../../../common/errors.js';
import { streamJsonArray } from '../json-stream.js';
import type { Adapter, AdapterContext, Pass, PlannedRow } from '../plan.js';
import { CAPTION_COLUMNS } from './karpathy.js';

/** name → absolute path of every file `images_<split>/<folder>/<name>` (names must be unique, as ViLT keys by name). */
async function listImages(dir: string): Promise<Map<string, string>> {
  const byName = new Map<string, string>();
  let folders;
  try {
    folders = await fsp.readdir(dir, { withFileTypes: true });
  } catch (err) {
    throw new InputError(dir, `cannot list the image folder (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
  const sorted = (names: string[]) => names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const folder of sorted(folders.filter((f) => f.isDirectory()).map((f) => f.name))) {
    const entries = await fsp.readdir(path.join(dir, folder), { withFileTypes: true });
    for (const name of sorted(entries.filter((e) => e.isFile() || e.isSymbolicLink()).map((e) => e.name))) {
      const p = path.join(dir, folder, name);
      const other = byName.get(name);
      if (other) throw new InputError(p, `same file name as ${other}: ViLT keys images by name, so the caption would be ambiguous`);
      byName.set(name, p);
    }
  }
  return byName;
}

/** The rows of one split, in annotation order; an image listed twice keeps its first place and its last caption. */
async function planSplit(ctx: AdapterContext, annotation: string, split: string): Promise<PlannedRow[]> {
  const file = path.join(ctx.root, annotation);
  const captions = new Map<string, { caption: string; record: string }>();
  for await (const { value, index } of streamJsonArray(file)) {
    const record = String(index);
    if (!Array.isArray(value) || typeof value[0] !== 'string' || typeof value[1] !== 'string') {
      throw new InputError(file, `expected ["url or path", "caption"] (got ${JSON.stringify(value)?.slice(0, 80)})`, record);
    }
    const name = value[0].split('/').pop()!;
    captions.set(name, { caption: value[1], record });
  }
  const images = await listImages(path.join(ctx.root, `images_${split}`));
  const rows: PlannedRow[] = [];
  for (const [name, { caption, record }] of captions) {
    const image = images.get(name);
    const keep = image ? ctx.gate.admit([image], file, record) : ctx.gate.reportMissing([path.join(ctx.root, `images_${split}/*/${name}`)], file, record);
    if (keep) rows.push({ images: [image!], values: [[caption], name, split] });
  }
  const unannotated = images.size - [...captions.keys()].filter((n) => images.has(n)).length;
  if (unannotated > 0) ctx.log.info(`${unannotated} files in images_${split}/ have no caption and are not written (as in ViLT)`);
  return rows;
}

/** Shard i gets rows [i·N, (i+1)·N); at least one file, so an empty split still has its file. */
function sharded(rows: PlannedRow[], shardSize: number, name: (k: number) => string): Pass {
  const shards = Math.max(1, Math.ceil(rows.length / shardSize));
  return {
    outputs: Array.from({ length: shards }, (_, k) => ({ name: name(k), columns: CAPTION_COLUMNS })),
    rows,
    route: (i) => [Math.floor(i / shardSize)],
  };
}

export const cc3m: Adapter = async (ctx) => {
  const passes: Pass[] = [];
  for (const split of ['val', 'train']) {
    const rows = await planSplit(ctx, `${split}_annot.json`, split);
    passes.push(sharded(rows, ctx.shardSize, (k) => `conceptual_caption_${split}_${k}.arrow`));
  }
  return { passes };
};

export const sbu: Adapter = async (ctx) => {
  const rows = await planSplit(ctx, 'annot.json', 'train');
  return { passes: [sharded(rows, ctx.shardSize, (k) => `sbu_${k}.arrow`)] };
};
