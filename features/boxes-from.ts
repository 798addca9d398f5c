/**
 * `--boxes-from boxes.json`: user-given boxes per image, `{"<img_id>": [[x1, y1, x2, y2], ...], ...}` in original
 * pixels. They are fed to the model's `rois_in` input (scaled to the resized image) and every given box is kept,
 * in the given order, without NMS or thresholds.
 */
import { readFileSync } from 'node:fs';
import { InputError } from '../common/errors.js';

export type GivenBoxes = Map<string, Float32Array>;

export function readBoxesFile(file: string): GivenBoxes {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new InputError(file, `cannot read boxes JSON (${(err as Error).message})`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new InputError(file, 'expected an object {img_id: [[x1, y1, x2, y2], ...]}');
  const out: GivenBoxes = new Map();
  for (const [id, list] of Object.entries(doc)) {
    if (!Array.isArray(list) || list.length === 0) throw new InputError(file, 'expected a non-empty list of [x1, y1, x2, y2]', id);
    const arr = new Float32Array(list.length * 4);
    list.forEach((b: unknown, i) => {
      if (!Array.isArray(b) || b.length !== 4 || !b.every((v) => typeof v === 'number' && Number.isFinite(v))) {
        throw new InputError(file, `box ${i} is not [x1, y1, x2, y2] numbers`, id);
      }
      arr.set(b as number[], i * 4);
    });
    out.set(id, arr);
  }
  return out;
}
