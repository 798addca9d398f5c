/**
 * Piscina worker of the patch trainers' data loader: decodes and transforms one image (transforms.ts) off the
 * training thread (the patch array is structured-cloned back: one memcpy, small next to the decode).
 */
import { transformImage, type ImagePatches, type TransformSpec } from './transforms.js';

export interface TransformTask {
  bytes: Uint8Array;
  spec: TransformSpec;
  seed: number;
}

export default function run(task: TransformTask): Promise<ImagePatches> {
  return transformImage(task.bytes, task.spec, task.seed);
}
