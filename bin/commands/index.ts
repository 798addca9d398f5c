/**
 * The subcommands of `vlkit`, in the order `vlkit --help` lists them. Each module registers one command (or a
 * command group) on the program.
 */
import type { Command } from 'commander';
import { registerEval } from './eval.js';
import { registerSubmit } from './submit.js';
import { registerExtract } from './extract.js';
import { registerFeatures } from './features.js';
import { registerValidate } from './validate.js';
import { registerArrow } from './arrow.js';
import { registerDemo } from './demo.js';
import { registerConvertDetector } from './convert-detector.js';
import { registerTrain } from './train.js';
import { registerQueue } from './queue.js';
import { registerMerge } from './merge.js';

export type Register = (program: Command) => void;

export const commands: Register[] = [registerDemo, registerValidate, registerArrow, registerExtract, registerFeatures, registerConvertDetector, registerQueue, registerMerge, registerTrain, registerEval, registerSubmit];
