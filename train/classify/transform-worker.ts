/**
 * Piscina worker of the classifier's data loader: reads one image's bytes — a whole file of an image-folder
 * dataset, or a byte range of an Arrow file (kept open per worker) — and runs the ImageNet-style transform
 * (transforms.ts) off the training thread.
 */
import { openSync, readFileSync, readSync } from 'node:fs';
import type { ImagePatches } from '../vilt/transforms.js';
import { classifyTransform, type ClassifySpec } from './transforms.js';

export interface ClassifyTask {
  file: string;
  /** Byte range inside `file` (Arrow datasets); absent: the whole file is the image. */
  range?: { position: number; length: number };
  spec: ClassifySpec;
  seed: number;
}

const arrowFds = new Map<string, number>();

function read(task: ClassifyTask): Buffer {
  if (!task.range) return readFileSync(task.file);
  const { position, length } = task.range;
  let fd = arrowFds.get(task.file);
  if (fd === undefined) arrowFds.set(task.file, (fd = openSync(task.file, 'r')));
  const bytes = Buffer.alloc(length);
  const got = readSync(fd, bytes, 0, length, position);
  if (got !== length) throw new Error(`${task.file}: image at byte ${position} truncated (${got} of ${length} bytes)`);
  return bytes;
}

export default function run(task: ClassifyTask): Promise<ImagePatches> {
  const where = task.range ? `${task.file} (image at byte ${task.range.position})` : task.file;
  return Promise.resolve()
    .then(() => classifyTransform(read(task), task.spec, task.seed))
    .catch((err: Error) => {
      throw new Error(`${where} cannot be decoded (${err.message})`);
    });
}
