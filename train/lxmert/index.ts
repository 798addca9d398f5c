/**
 * `trainer: lxmert` — LXMERT-style fine-tuning (VQA, GQA, NLVR2) on region features, run by the shared engine.
 * `train` validates every epoch with LXMERT's label scoring through eval/ (VQA/GQA: the soft score of the predicted
 * answer; NLVR2: accuracy), keeps BEST, and exports BEST.pth / LAST.pth; `predict` loads BEST (or LAST, or a
 * checkpoint directory) and writes the task's submission through eval/submit.
 */
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { type ConfigTree } from '../../common/config.js';
import { InputError, UsageError } from '../../common/errors.js';
import { Logger } from '../../common/progress.js';
import { BertTokenizer } from '../../data/tokenizer/index.js';
import { buildGqaSubmission, buildNlvr2Submission, buildVqaSubmission, writeSubmission, type Submission } from '../../eval/submit/index.js';
import { aggregateVqa, scoreLxmert } from '../../eval/vqa/index.js';
import { loadCheckpoint, selectBackend, SerializationDir, train, trainConfigFrom, type StepContext, type TrainableModel } from '../engine/index.js';
import { EVAL } from '../nn/index.js';
import type { PredictRunOptions, Trainer, TrainRunOptions } from '../trainers.js';
import { evalBatchSize, resolveTree, sizes, str, task as taskOf } from './config.js';
import { AnswerVocab, Batcher, openFeatures, readExamples, ShuffledSource, withFeatures, type BadRecords, type Batch, type Example } from './data.js';
import { crossEntropyLoss, ENCODER_PREFIX, LxmertModel, lxmertInputs, softScoreLoss, type LxmertTask } from './model.js';
import { loadBert, loadPth, savePthFrom } from './weights.js';

const SUBSET_IMAGES = { tiny: 512, fast: 4096 } as const;

/** Index of the highest logit per example, for batches of `examples`. */
function predictAll(model: LxmertModel, batcher: Batcher, examples: Example[], batchSize: number): Int32Array {
  const out = new Int32Array(examples.length);
  for (let i = 0; i < examples.length; i += batchSize) {
    const b = batcher.make(examples.slice(i, i + batchSize));
    const arg = tf.tidy(() => model.logits(lxmertInputs(b), EVAL).argMax(1));
    out.set(arg.dataSync() as Int32Array, i);
    arg.dispose();
  }
  return out;
}

/** LXMERT's evaluation: VQA/GQA the label score of the predicted answer (percent), NLVR2 accuracy (percent). */
function score(task: LxmertTask, examples: Example[], predicted: Int32Array, answers: AnswerVocab | null): Record<string, number> {
  if (task === 'nlvr2') {
    let correct = 0;
    examples.forEach((e, i) => (correct += e.label!.has(predicted[i]!) ? 1 : 0));
    return { accuracy: (100 * correct) / examples.length };
  }
  const results = new Map(examples.map((e, i) => [e.id, answers!.labels[predicted[i]!]!]));
  const gts = examples.map((e) => ({ questionId: e.id, questionType: '', answerType: '', label: e.labelDict! }));
  return { accuracy: aggregateVqa(scoreLxmert(gts, results)).overall };
}

interface Setup {
  tree: ConfigTree;
  task: LxmertTask;
  model: LxmertModel;
  batcher: Batcher;
  answers: AnswerVocab | null;
  log: Logger;
  bad: BadRecords | null;
  examples: (key: 'data.train' | 'data.valid' | 'data.test', subset: boolean) => Example[];
}

async function setup(config: ConfigTree, dir: string, logFormat: TrainRunOptions['logFormat'], skipBad: boolean, subset: TrainRunOptions['subset']): Promise<Setup> {
  const tree = resolveTree(config);
  const log = new Logger(logFormat);
  const cfg = trainConfigFrom(tree);
  await selectBackend({ force: cfg.backend, log: (l) => log.info(l) });
  const task = taskOf(tree);
  if (task === 'pretrain') throw new UsageError('a pretraining run has no predict; fine-tune from its LAST.pth/BEST.pth with model.load_lxmert=…');
  const s = sizes(tree);
  const answers = task === 'nlvr2' ? null : new AnswerVocab(need(tree, 'data.ans2label'));
  const featuresPath = need(tree, 'data.features');
  const cache = str(tree, 'data.feature_cache') || path.join(dir, 'features.store');
  const store = await openFeatures(featuresPath, cache, subset ? SUBSET_IMAGES[subset] : undefined, (m) => log.info(m));
  if (store.dim !== s.featDim) throw new InputError(featuresPath, `features have ${store.dim} values per box; the config says model.feat_dim=${s.featDim}`);
  const model = new LxmertModel(task, s, answers?.labels.length ?? 2, cfg.seed);
  const bad: BadRecords | null = skipBad ? { count: 0, samples: [] } : null;
  const batcher = new Batcher({ tokenizer: BertTokenizer.uncased(), store, task, seqLen: s.seqLen, maxBoxes: s.maxBoxes, numAnswers: model.outputs });
  const examples = (key: 'data.train' | 'data.valid' | 'data.test', sub: boolean) => {
    const file = need(tree, key);
    return withFeatures(readExamples(file, task, answers, bad), store, file, featuresPath, sub, bad);
  };
  return { tree, task, model, batcher, answers, log, bad, examples };
}

function need(tree: ConfigTree, key: string): string {
  const v = str(tree, key);
  if (v === '') throw new UsageError(`config '${key}' is required (pass ${key}=FILE)`);
  return v;
}

function reportBad(s: Setup): number {
  if (!s.bad || s.bad.count === 0) return 0;
  s.log.warn(`skipped ${s.bad.count} bad record(s)`, { skipped: s.bad.count, examples: s.bad.samples });
  return s.bad.count;
}

async function trainLxmert(config: ConfigTree, opts: TrainRunOptions): Promise<number> {
  if (taskOf(resolveTree(config)) === 'pretrain') return (await import('./pretrain-run.js')).trainPretrain(config, opts);
  const s = await setup(config, opts.serializationDir, opts.logFormat, opts.skipBad, opts.subset);
  const cfg = trainConfigFrom(s.tree);
  const { model, batcher, task, answers, tree, log } = s;
  const loadBertFile = str(tree, 'model.load_bert');
  const loadLxmert = str(tree, 'model.load_lxmert');
  const loadFine = str(tree, 'model.load');
  if (!opts.resume) {
    if (loadBertFile) log.info(`BERT weights from ${loadBertFile}`, { ...summary(loadBert(model.params, loadBertFile, ENCODER_PREFIX)) });
    if (loadLxmert) log.info(`encoder weights from ${loadLxmert}`, { ...summary(loadPth(model, loadLxmert, 'encoder')) });
    if (loadFine) log.info(`model weights from ${loadFine}`, { ...summary(loadPth(model, loadFine, 'all')) });
  }
  const trainSet = s.examples('data.train', opts.subset !== undefined);
  const validFile = str(tree, 'data.valid');
  const validSet = validFile ? s.examples('data.valid', opts.subset !== undefined) : [];
  if (trainSet.length < cfg.batchSize) throw new InputError(need(tree, 'data.train'), `${trainSet.length} usable examples, fewer than one batch of ${cfg.batchSize}`);
  if (validSet.some((e) => e.label === null)) throw new InputError(validFile, 'validation examples need labels');
  log.info(`lxmert ${task}: ${trainSet.length} training examples, ${validSet.length} validation examples, ${Object.keys(model.params.vars).length} tensors`);
  const dropout = sizes(tree).dropout;
  const ebs = evalBatchSize(tree);
  const trainable: TrainableModel<Batch> = {
    params: () => model.params.vars,
    loss(b: Batch, ctx: StepContext) {
      const logits = model.logits(lxmertInputs(b), { dropout, rng: ctx.rng });
      const loss =
        task === 'nlvr2'
          ? crossEntropyLoss(logits, tf.tensor1d(b.targets as Int32Array, 'int32'))
          : softScoreLoss(logits, tf.tensor2d(b.targets as Float32Array, [b.examples.length, model.outputs]));
      return { loss };
    },
    ...(validSet.length > 0 ? { evaluate: () => score(task, validSet, predictAll(model, batcher, validSet, ebs), answers) } : {}),
  };
  const result = await train({
    model: trainable,
    data: new ShuffledSource(trainSet, (exs: Example[]) => batcher.make(exs), cfg.batchSize, cfg.seed),
    config: cfg,
    dir: opts.serializationDir,
    resume: opts.resume,
    configTree: tree,
    log: (m, f) => log.info(m, f ?? {}),
  });
  if (tree.export && (tree.export as ConfigTree).pth === true) {
    const sd = new SerializationDir(opts.serializationDir);
    await savePthFrom(model, path.join(opts.serializationDir, 'LAST.pth'));
    const best = await sd.readPointer('BEST');
    if (best !== null) {
      restore(model, (await loadCheckpoint(sd.checkpointDir(best))).weights);
      await savePthFrom(model, path.join(opts.serializationDir, 'BEST.pth'));
    }
    log.info(`exported ${best !== null ? 'BEST.pth and ' : ''}LAST.pth (PyTorch state dicts, LXMERT names)`);
  }
  log.info('training done', { step: result.step, best: result.best, valid: result.valid });
  return reportBad(s) > 0 ? 1 : 0;
}

function summary(r: ReturnType<typeof loadPth>) {
  return { loaded: r.loaded, missing: r.missing.length, unexpected: r.unexpected.length };
}

function restore(model: LxmertModel, weights: Record<string, { shape: number[]; data: Float32Array | Int32Array }>): void {
  for (const [n, v] of Object.entries(model.params.vars)) {
    const w = weights[n];
    if (!w || w.shape.join(',') !== v.shape.join(',')) throw new UsageError(`checkpoint lacks '${n}' or has another shape; was it trained with this configuration?`);
    tf.tidy(() => v.assign(tf.tensor(w.data, w.shape, 'float32')));
  }
}

async function predictLxmert(config: ConfigTree, opts: PredictRunOptions): Promise<number> {
  const s = await setup(config, opts.serializationDir, opts.logFormat, opts.skipBad, undefined);
  const { model, batcher, task, answers, tree, log } = s;
  const sd = new SerializationDir(opts.serializationDir);
  const dir = await sd.checkpointFor(opts.checkpoint, false);
  restore(model, (await loadCheckpoint(dir)).weights);
  log.info(`predicting with ${dir}`);
  const testFile = need(tree, 'data.test');
  const examples = s.examples('data.test', false);
  const predicted = predictAll(model, batcher, examples, evalBatchSize(tree));
  if (examples.length > 0 && examples.every((e) => e.label !== null)) log.info('accuracy on the labelled test file', score(task, examples, predicted, answers));
  const records = examples.map((e, i) =>
    task === 'nlvr2'
      ? { identifier: e.rawId, prediction: predicted[i] === 1 ? 'True' : 'False' }
      : task === 'vqa'
        ? { question_id: e.rawId, answer: answers!.labels[predicted[i]!]! }
        : { questionId: e.rawId, prediction: answers!.labels[predicted[i]!]! },
  );
  if (!opts.submission) {
    process.stdout.write(JSON.stringify(records) + '\n');
    return reportBad(s) > 0 ? 1 : 0;
  }
  const ids = examples.map((e) => e.id);
  const sub: Submission =
    task === 'nlvr2' ? buildNlvr2Submission(records, ids, opts.submission) : task === 'vqa' ? buildVqaSubmission(records, ids, opts.submission) : buildGqaSubmission(records, ids, opts.submission);
  const outcome = await writeSubmission(sub);
  if (!outcome.written) throw new InputError(testFile, `submission not written: ${JSON.stringify(outcome.problems)}`);
  log.info(`wrote ${sub.count} predictions to ${outcome.paths.join(', ')}`);
  return reportBad(s) > 0 ? 1 : 0;
}

export const lxmertTrainer: Trainer = { train: trainLxmert, predict: predictLxmert };
