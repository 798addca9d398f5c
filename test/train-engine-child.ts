/**
 * Runs the tiny training job in its own process so the engine test can kill it with SIGKILL and resume it.
 * argv[2]: JSON {dir, resume, over (train.* overrides), slowMs (sleep per step, to give the killer a window)}.
 * Prints one JSON line with the result on stdout.
 */
import * as tf from '@tensorflow/tfjs';
import { selectBackend, train, trainConfigFrom, type BatchSource } from '../train/engine/index.js';
import { makeExamples, TinyModel, TinySource, tinyConfig, type Batch } from './train-fixture-model.js';

const args = JSON.parse(process.argv[2]!) as { dir: string; resume: boolean; over: Record<string, unknown>; slowMs?: number };
const tree = tinyConfig(args.over);
const cfg = trainConfigFrom(tree);
await selectBackend({ force: cfg.backend, log: () => {} });
const model = new TinyModel(cfg.seed, makeExamples(48, 99));
const source = new TinySource(makeExamples(96, 7), cfg.batchSize, cfg.seed);
// With slowMs, an async source that sleeps before each micro-batch, so the parent's kill lands anywhere in the run.
const data: BatchSource<Batch> = args.slowMs
  ? {
      batchesPerEpoch: source.batchesPerEpoch,
      async *batches(epoch, start, rngFor) {
        for (const b of source.batches(epoch, start, rngFor)) {
          await new Promise((r) => setTimeout(r, args.slowMs));
          yield b;
        }
      },
    }
  : source;
const result = await train({ model, data, config: cfg, dir: args.dir, resume: args.resume, configTree: tree });
process.stdout.write(JSON.stringify({ ...result, backend: tf.getBackend() }) + '\n');
