/**
 * Visual Genome region descriptions (ViLT's write_vg.py): one row per image with every region's phrase as a caption
 * and the region boxes, → `vg.arrow`. Images are `images/VG_100K/<id>.jpg` or `images/VG_100K_2/<id>.jpg`; rows follow
 * the first appearance of each image id in region_descriptions.json.
 */
import path from 'node:path';
import { isFile } from '../images.js';
import { streamJsonArray } from '../json-stream.js';
import { field, isArray, isInt, isString, type Adapter, type PlannedRow } from '../plan.js';
import { listOf, type Column } from '../writer.js';

export const VG_COLUMNS: Column[] = [
  { name: 'image', type: 'binary' },
  { name: 'caption', type: listOf('string') },
  { name: 'width', type: listOf('int64') },
  { name: 'height', type: listOf('int64') },
  { name: 'x', type: listOf('int64') },
  { name: 'y', type: listOf('int64') },
  { name: 'image_id', type: 'string' },
];

/** The two folders VG ships its images in. */
export const VG_IMAGE_DIRS = ['images/VG_100K', 'images/VG_100K_2'];

/** Absolute path of VG image `id` under `root`, or undefined when neither folder has it. */
export function findVgImage(root: string, id: number): string | undefined {
  return VG_IMAGE_DIRS.map((d) => path.join(root, d, `${id}.jpg`)).find(isFile);
}

export const vg: Adapter = async (ctx) => {
  const file = path.join(ctx.root, 'annotations/region_descriptions.json');
  const byImage = new Map<number, { caption: string[]; width: number[]; height: number[]; x: number[]; y: number[]; record: string }>();
  for await (const { value, index } of streamJsonArray(file)) {
    const record = String(index);
    for (const region of field(value, 'regions', isArray, 'a list', file, record)) {
      const id = field(region, 'image_id', isInt, 'an integer', file, record);
      let e = byImage.get(id);
      if (!e) byImage.set(id, (e = { caption: [], width: [], height: [], x: [], y: [], record }));
      e.caption.push(field(region, 'phrase', isString, 'a string', file, record));
      for (const k of ['width', 'height', 'x', 'y'] as const) e[k].push(field(region, k, isInt, 'an integer', file, record));
    }
  }
  const rows: PlannedRow[] = [];
  for (const [id, e] of byImage) {
    const image = findVgImage(ctx.root, id);
    const keep = image
      ? ctx.gate.admit([image], file, e.record)
      : ctx.gate.reportMissing([path.join(ctx.root, `images/VG_100K{,_2}/${id}.jpg`)], file, e.record);
    if (keep) rows.push({ images: [image!], values: [e.caption, e.width, e.height, e.x, e.y, String(id)] });
  }
  return { passes: [{ outputs: [{ name: 'vg.arrow', columns: VG_COLUMNS }], rows }] };
};
