/**
 * Piscina worker of the patch trainers' data loader: reads one image's bytes straight from its Arrow file (a
 * positioned read, so the training thread only posts the task) and decodes/transforms it (transforms.ts) off the
 * training thread. The patch array is structured-cloned back: one memcpy, small next to the decode.
 */
import { openSync, readSync } from 'node:fs';
import { transformImage, type ImagePatches, type TransformSpec } from './transforms.js';

export interface TransformTask {
  file: string;
  position: number;
  length: number;
  spec: TransformSpec;
  seed: number;
}

const fds = new Map<string, number>();

export default function run(task: TransformTask): Promise<ImagePatches> {
  let fd = fds.get(task.file);
  if (fd === undefined) fds.set(task.file, (fd = openSync(task.file, 'r')));
  const bytes = Buffer.alloc(task.length);
  const got = readSync(fd, bytes, 0, task.length, task.position);
  if (got !== task.length) throw new Error(`${task.file}: image at byte ${task.position} truncated (${got} of ${task.length} bytes)`);
  return transformImage(bytes, task.spec, task.seed).catch((err: Error) => {
    throw new Error(`${task.file}: image at byte ${task.position} cannot be decoded (${err.message})`);
  });
}
