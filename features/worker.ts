/**
 * Piscina worker: decode one image and build its detector input. The bilinear resize is plain JS and costs more
 * than the JPEG decode, so it runs here, off the thread that feeds ONNX Runtime. The tensor's buffer is
 * transferred back, not copied.
 */
import { move, transferableSymbol, valueSymbol } from 'piscina';
import sharp from 'sharp';
import { decodeImage, prepareTensor } from './preprocess.js';

// One libvips thread per worker: the pool itself provides the parallelism.
sharp.concurrency(1);

export interface PrepareTask {
  path: string;
}

export interface PreparedResult {
  tensor: Float32Array;
  height: number;
  width: number;
  outH: number;
  outW: number;
  scale: number;
}

export default async function prepare(task: PrepareTask): Promise<unknown> {
  const prepared = prepareTensor(await decodeImage(task.path));
  const value: PreparedResult = {
    tensor: prepared.tensor,
    height: prepared.height,
    width: prepared.width,
    outH: prepared.plan.outH,
    outW: prepared.plan.outW,
    scale: prepared.plan.scale,
  };
  return move({
    get [transferableSymbol]() {
      return [value.tensor.buffer];
    },
    get [valueSymbol]() {
      return value;
    },
  });
}
