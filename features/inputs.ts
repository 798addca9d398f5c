/**
 * The image list of an extraction: every input file with its img_id, duplicate ids refused, then this shard's
 * slice. Shards are contiguous slices of the full listing (directories walked in sorted order, list files in
 * their order): shard i of N holds items [floor(i*n/N), floor((i+1)*n/N)), so concatenating the shard outputs in
 * shard order (`vlkit features merge`) gives the bytes of an unsharded run.
 */
import path from 'node:path';
import { UsageError } from '../common/errors.js';
import { IMAGE_EXTENSIONS, listInputs } from '../common/inputs.js';
import { checkImgId } from './tsv.js';

export type IdFrom = 'name' | 'relpath';

export interface ImageItem {
  path: string;
  rel: string;
  id: string;
}

export interface Shard {
  index: number;
  count: number;
}

/** Parse `i/N` (0 <= i < N). */
export function parseShard(spec: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(spec);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index >= count) throw new UsageError(`--shard must be i/N with 0 <= i < N (got '${spec}')`);
  return { index, count };
}

/** img_id of a file: its name without the last extension, or its relative path without it ('/'-separated). */
export function imgIdOf(rel: string, from: IdFrom): string {
  const parsed = path.parse(rel);
  if (from === 'name') return parsed.name;
  return path.join(parsed.dir, parsed.name).split(path.sep).join('/');
}

export async function listImages(args: string[], idFrom: IdFrom): Promise<ImageItem[]> {
  const items: ImageItem[] = [];
  const firstPath = new Map<string, string>();
  for await (const f of listInputs(args, { extensions: IMAGE_EXTENSIONS })) {
    const id = imgIdOf(f.rel, idFrom);
    try {
      checkImgId(id);
    } catch (err) {
      throw new UsageError(`${f.path}: ${(err as Error).message}`);
    }
    const prev = firstPath.get(id);
    if (prev !== undefined) {
      throw new UsageError(
        `img_id '${id}' would be written for both ${prev} and ${f.path}` + (idFrom === 'name' ? ' (use --id-from relpath to keep folder names in the ids)' : ''),
      );
    }
    firstPath.set(id, f.path);
    items.push({ path: f.path, rel: f.rel, id });
  }
  return items;
}

export function shardSlice<T>(items: T[], shard: Shard | undefined): T[] {
  if (!shard) return items;
  const n = items.length;
  return items.slice(Math.floor((shard.index * n) / shard.count), Math.floor(((shard.index + 1) * n) / shard.count));
}
