/**
 * The trainer families behind `vlkit train` / `vlkit predict`. A run configuration names its family with the
 * top-level key `trainer` (`lxmert` for region-feature models, `vilt` for patch models, `vit_classify` for
 * ImageNet-style fine-tuning of the patch models' visual backbone); the CLI loads the
 * configuration, looks the family up here and hands over. Families are imported lazily so `vlkit validate` never
 * pays for loading TensorFlow.js.
 */
import type { ConfigTree } from '../common/config.js';
import type { LogFormat } from '../common/progress.js';

export interface TrainRunOptions {
  /** The serialization directory (config.yaml, log.jsonl, events, checkpoints, BEST/LAST). */
  serializationDir: string;
  /** Continue from LAST in the serialization directory. */
  resume: boolean;
  /** LXMERT's --tiny / --fast: train on the first 512 / 4096 images only. */
  subset?: 'tiny' | 'fast';
  /** Count and report bad records instead of stopping at the first. */
  skipBad: boolean;
  logFormat: LogFormat;
}

export interface PredictRunOptions {
  serializationDir: string;
  /** Which checkpoint to load: BEST (default), LAST, or a checkpoint directory. */
  checkpoint: string;
  /** Submission file to write (format decided by the task), if any. */
  submission?: string;
  skipBad: boolean;
  logFormat: LogFormat;
}

export interface Trainer {
  /** Train with the resolved configuration; returns the exit code. */
  train(config: ConfigTree, opts: TrainRunOptions): Promise<number>;
  /** Predict with a trained run (its config.yaml with the command line's overrides applied); returns the exit code. */
  predict(config: ConfigTree, opts: PredictRunOptions): Promise<number>;
}

/** Family name → loader. One line per family. */
export const TRAINERS: Record<string, () => Promise<Trainer>> = {
  lxmert: async () => (await import('./lxmert/index.js')).lxmertTrainer,
  vilt: async () => (await import('./vilt/index.js')).viltTrainer,
  vit_classify: async () => (await import('./classify/index.js')).vitClassifyTrainer,
};
