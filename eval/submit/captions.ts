/**
 * COCO caption results for the evaluation server: `[{"image_id": int, "caption": str}]` for every image of the
 * given image-info/annotation file, named `captions_<split>_<name>_results.json`, plus a zip holding it (the
 * server takes a zip).
 */
import path from 'node:path';
import { zipSync, strToU8 } from 'fflate';
import { InputError } from '../../common/errors.js';
import { describe, expectArray, expectObject, readJson } from '../io.js';
import { checkText, entriesOf, matchIds, Problems, resolveOut, type Submission } from './problems.js';

export function captionsSubmissionName(split: string, name: string): string {
  return `captions_${split}_${name}_results.json`;
}

export function buildCaptionsSubmission(predictions: unknown, imageIds: string[], out: string): Submission {
  const problems = new Problems();
  const fromObject = !Array.isArray(predictions);
  const entries = entriesOf(predictions, 'image_id', 'caption', problems);
  const key = (id: unknown): string | null => {
    if (typeof id === 'number' && Number.isInteger(id)) return String(id);
    return fromObject && typeof id === 'string' && /^\d+$/.test(id) ? String(Number(id)) : null;
  };
  const got = matchIds(entries, imageIds, key, 'an integer image_id', problems);
  const records: { image_id: number; caption: string }[] = [];
  for (const id of imageIds) {
    const c = got.get(id);
    if (got.has(id) && checkText(c, id, 'caption', problems)) records.push({ image_id: Number(id), caption: c });
  }
  const json = JSON.stringify(records);
  const zipPath = out.replace(/\.json$/i, '') + '.zip';
  const zip = zipSync({ [path.basename(out)]: strToU8(json) }, { level: 9 });
  return { files: [{ path: out, content: json }, { path: zipPath, content: zip }], problems, count: records.length };
}

/** Image ids of a COCO image-info or caption annotation file ({"images": [{"id": int, ...}]}). */
export function readCocoImageIds(file: string): string[] {
  const images = expectArray(expectObject(readJson(file), file, 'a COCO image-info file').images, file, '"images"');
  return images.map((im, i) => {
    const id = expectObject(im, file, 'an image', `images[${i}]`).id;
    if (typeof id !== 'number' || !Number.isInteger(id)) throw new InputError(file, `"id" must be an integer, got ${describe(id)}`, `images[${i}]`);
    return String(id);
  });
}

export function buildCaptionsSubmissionFiles(opts: { predictions: string; questions: string; out: string; name: string; split: string }): Submission {
  const out = resolveOut(opts.out, captionsSubmissionName(opts.split, opts.name));
  return buildCaptionsSubmission(readJson(opts.predictions), readCocoImageIds(opts.questions), out);
}
