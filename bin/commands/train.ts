/**
 * `vlkit train` and `vlkit predict`: load a run configuration (YAML + `key.path=value` overrides), pick the trainer
 * family it names (`trainer: lxmert|vilt`, see train/trainers.ts) and run it. `predict` reads the configuration a
 * training run saved in its serialization directory, so it needs only the directory and the test data.
 */
import path from 'node:path';
import { Command } from 'commander';
import { loadConfig, readConfigFile, type ConfigTree } from '../../common/config.js';
import { InputError, UsageError } from '../../common/errors.js';
import { resolveLogFormat } from '../../common/progress.js';
import { explainOutOfMemory } from '../../train/engine/backend.js';
import { TRAINERS, type Trainer } from '../../train/trainers.js';
import { action, splitOverrides, subcommand, withRunOptions } from '../cli.js';
import type { Register } from './index.js';

async function trainerFor(config: ConfigTree, source: string): Promise<Trainer> {
  const family = config.trainer;
  const known = Object.keys(TRAINERS).join(', ');
  if (typeof family !== 'string') throw new InputError(source, `the configuration has no 'trainer' key (one of: ${known})`);
  const load = TRAINERS[family];
  if (!load) throw new InputError(source, `unknown trainer '${family}' (one of: ${known})`);
  return load();
}

interface TrainFlags {
  config?: string;
  serializationDir?: string;
  resume?: boolean;
  backend?: string;
  tiny?: boolean;
  fast?: boolean;
  skipBad?: boolean;
  logFormat?: string;
}

interface PredictFlags {
  serializationDir?: string;
  checkpoint: string;
  submission?: string;
  skipBad?: boolean;
  logFormat?: string;
}

export const registerTrain: Register = (program: Command) => {
  withRunOptions(
    subcommand(
      program,
      'train',
      'train a model from a run configuration (configs/lxmert/*.yaml, configs/vilt/*.yaml)',
      'vlkit train --config configs/lxmert/vqa_tiny.yaml --serialization-dir runs/vqa data.train=train.json data.valid=minival.json data.features=feats.tsv data.ans2label=ans2label.json train.epochs=4',
    )
      .argument('[overrides...]', '`key.path=value` configuration overrides')
      .option('--serialization-dir <dir>', 'run directory: config.yaml, log.jsonl, TensorBoard events, checkpoints, BEST, LAST (required)')
      .option('--resume', 'continue the run in --serialization-dir from its LAST checkpoint, bit for bit')
      .option('--backend <name>', 'force a TensorFlow.js backend: node-gpu, node, wasm, cpu (config train.backend)')
      .option('--tiny', 'train on the first 512 images only (as LXMERT --tiny)')
      .option('--fast', 'train on the first 4096 images only (as LXMERT --fast)')
      .option('--skip-bad', 'count and report bad records instead of stopping at the first'),
  ).action(
    action('train', async (args: string[], flags: TrainFlags): Promise<number> => {
      const { positional, overrides } = splitOverrides(args);
      if (positional.length > 0) throw new UsageError(`unexpected argument '${positional[0]}' (overrides look like key.path=value)`);
      if (!flags.config) throw new UsageError('--config <file> is required');
      if (!flags.serializationDir) throw new UsageError('--serialization-dir <dir> is required');
      if (flags.tiny && flags.fast) throw new UsageError('--tiny and --fast contradict each other');
      const config = loadConfig({ file: flags.config, overrides });
      if (flags.backend !== undefined) {
        const t = config.train;
        if (typeof t !== 'object' || t === null || Array.isArray(t)) throw new InputError(flags.config, "--backend needs a 'train' section");
        t.backend = flags.backend;
      }
      const trainer = await trainerFor(config, flags.config);
      return trainer
        .train(config, {
          serializationDir: flags.serializationDir,
          resume: flags.resume ?? false,
          subset: flags.tiny ? 'tiny' : flags.fast ? 'fast' : undefined,
          skipBad: flags.skipBad ?? false,
          logFormat: resolveLogFormat(flags.logFormat),
        })
        .catch((err: unknown) => {
          throw explainOutOfMemory(err);
        });
    }),
  );

  subcommand(
    program,
    'predict',
    'predict with a trained run and write the submission file for its task',
    'vlkit predict --serialization-dir runs/vqa data.test=test.json --submission runs/vqa/test_predict.json',
  )
    .argument('[overrides...]', '`key.path=value` overrides of the run\'s saved configuration (e.g. data.test=...)')
    .requiredOption('--serialization-dir <dir>', 'a directory `vlkit train` wrote')
    .option('--checkpoint <which>', 'BEST, LAST, or a checkpoint directory', 'BEST')
    .option('--submission <file>', 'write the task\'s submission file here')
    .option('--skip-bad', 'count and report bad records instead of stopping at the first')
    .option('--log-format <format>', 'progress on stderr: auto, bar, json, none', 'auto')
    .action(
      action('predict', async (args: string[], flags: PredictFlags): Promise<number> => {
        const { positional, overrides } = splitOverrides(args);
        if (positional.length > 0) throw new UsageError(`unexpected argument '${positional[0]}' (overrides look like key.path=value)`);
        const saved = path.join(flags.serializationDir!, 'config.yaml');
        const config = loadConfig({ defaults: readConfigFile(saved), overrides });
        const trainer = await trainerFor(config, saved);
        return trainer
          .predict(config, {
            serializationDir: flags.serializationDir!,
            checkpoint: flags.checkpoint,
            submission: flags.submission,
            skipBad: flags.skipBad ?? false,
            logFormat: resolveLogFormat(flags.logFormat),
          })
          .catch((err: unknown) => {
            throw explainOutOfMemory(err);
          });
      }),
    );
};
