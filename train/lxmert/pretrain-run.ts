/** `model.task: pretrain` under `trainer: lxmert`: LXMERT pretraining (pretrain.ts) run by the shared engine. */
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { ConfigTree } from '../../common/config.js';
import { InputError, UsageError } from '../../common/errors.js';
import { Logger } from '../../common/progress.js';
import { BertTokenizer } from '../../data/tokenizer/index.js';
import { loadCheckpoint, Rng, selectBackend, SerializationDir, train, trainConfigFrom, type StepContext, type TrainableModel } from '../engine/index.js';
import type { TrainRunOptions } from '../trainers.js';
import { evalBatchSize, resolveTree, sizes, str } from './config.js';
import { AnswerVocab, openFeatures, ShuffledSource, type BadRecords } from './data.js';
import { objective, PretrainBatcher, pretrainOptions, PretrainModel, readPretrainExamples, type PretrainBatch, type PretrainExample } from './pretrain.js';
import { loadBert, savePthFrom } from './weights.js';

const SUBSET_IMAGES = { tiny: 512, fast: 4096 } as const;
const TIED = { 'cls.predictions.decoder.weight': 'bert.embeddings.word_embeddings.weight' };

export async function trainPretrain(config: ConfigTree, opts: TrainRunOptions): Promise<number> {
  const tree = resolveTree(config);
  const log = new Logger(opts.logFormat);
  const cfg = trainConfigFrom(tree);
  await selectBackend({ force: cfg.backend, log: (l) => log.info(l) });
  if (str(tree, 'model.load_lxmert') || str(tree, 'model.load')) throw new UsageError('model.load_lxmert / model.load are for fine-tuning; continue a pretraining run with --resume');
  const s = sizes(tree);
  const po = pretrainOptions(tree);
  const ansFile = str(tree, 'data.ans2label');
  const answers = ansFile ? new AnswerVocab(ansFile) : null;
  if (!answers) po.tasks.delete('qa');
  const featuresPath = str(tree, 'data.features');
  if (!featuresPath) throw new UsageError("config 'data.features' is required");
  const store = await openFeatures(featuresPath, str(tree, 'data.feature_cache') || path.join(opts.serializationDir, 'features.store'), opts.subset ? SUBSET_IMAGES[opts.subset] : undefined, (m) => log.info(m));
  if (store.dim !== s.featDim) throw new InputError(featuresPath, `features have ${store.dim} values per box; the config says model.feat_dim=${s.featDim}`);
  const bad: BadRecords | null = opts.skipBad ? { count: 0, samples: [] } : null;
  const load = (file: string): PretrainExample[] =>
    readPretrainExamples(file, answers?.index ?? null, bad).filter((ex) => {
      if (store.has(ex.imgId)) return true;
      if (opts.subset) return false;
      const msg = `image ${JSON.stringify(ex.imgId)} is not in the features ${featuresPath}`;
      if (!bad) throw new InputError(file, msg, ex.uid);
      bad.count++;
      if (bad.samples.length < 5) bad.samples.push(InputError.format(file, msg, ex.uid));
      return false;
    });
  const trainFile = str(tree, 'data.train');
  if (!trainFile) throw new UsageError("config 'data.train' is required");
  const trainSet = load(trainFile);
  const validFile = str(tree, 'data.valid');
  const validSet = validFile ? load(validFile) : [];
  if (trainSet.length < cfg.batchSize) throw new InputError(trainFile, `${trainSet.length} usable sentences, fewer than one batch of ${cfg.batchSize}`);
  const model = new PretrainModel(s, po, answers?.labels.length ?? 1, cfg.seed);
  // LXMERT without --fromScratch: BERT-base weights where the names match; the rest keeps its initialisation.
  const bertFile = str(tree, 'model.load_bert');
  if (bertFile && !opts.resume) {
    const r = loadBert(model.params, bertFile, 'bert');
    log.info(`BERT weights from ${bertFile}: ${r.loaded} tensors loaded, ${r.missing.length} left at their initialisation, ${r.unexpected.length} file entries unused`, {
      loaded: r.loaded,
      initialised: r.missing.length,
      unused: r.unexpected.length,
    });
  }
  const tokenizer = BertTokenizer.uncased();
  const batcherFor = (set: PretrainExample[]) => new PretrainBatcher({ tokenizer, store, seqLen: s.seqLen, maxBoxes: s.maxBoxes, opts: po, vocab: s.vocab }, set);
  log.info(`lxmert pretrain (${[...po.tasks].join(', ')}): ${trainSet.length} training sentences, ${validSet.length} validation sentences`);
  let validBatches: PretrainBatch[] | null = null;
  const ebs = evalBatchSize(tree);
  const trainable: TrainableModel<PretrainBatch> = {
    params: () => model.params.vars,
    loss(b: PretrainBatch, ctx: StepContext) {
      const r = model.losses(b, { dropout: s.dropout, rng: ctx.rng });
      const metrics = r.losses as Record<string, tf.Scalar>;
      // Every task's loss is logged; the QA loss joins the objective only from pretrain.qa_from_epoch on.
      return { loss: objective(r.losses, po, ctx.epoch), metrics };
    },
    ...(validSet.length > 0
      ? {
          evaluate: () => {
            // Fixed masks and negatives (seeded by position), so validations are comparable across epochs.
            const vb = batcherFor(validSet);
            validBatches ??= Array.from({ length: Math.ceil(validSet.length / ebs) }, (_, i) => vb.make(validSet.slice(i * ebs, (i + 1) * ebs), Rng.from(cfg.seed, 'valid', i)));
            return model.evaluate(validBatches);
          },
        }
      : {}),
  };
  const trainBatcher = batcherFor(trainSet);
  const result = await train({
    model: trainable,
    data: new ShuffledSource(trainSet, (exs: PretrainExample[], rng) => trainBatcher.make(exs, rng), cfg.batchSize, cfg.seed),
    config: cfg,
    dir: opts.serializationDir,
    resume: opts.resume,
    configTree: tree,
    log: (m, f) => log.info(m, f ?? {}),
  });
  if ((tree.export as ConfigTree | undefined)?.pth === true) {
    const sd = new SerializationDir(opts.serializationDir);
    await savePthFrom(model, path.join(opts.serializationDir, 'LAST.pth'), TIED);
    const best = await sd.readPointer('BEST');
    if (best !== null) {
      const w = (await loadCheckpoint(sd.checkpointDir(best))).weights;
      for (const [n, v] of Object.entries(model.params.vars)) tf.tidy(() => v.assign(tf.tensor(w[n]!.data, w[n]!.shape, 'float32')));
      await savePthFrom(model, path.join(opts.serializationDir, 'BEST.pth'), TIED);
    }
    log.info(`exported ${best !== null ? 'BEST.pth and ' : ''}LAST.pth (LXMERT pretraining names; fine-tune with model.load_lxmert=…)`);
  }
  log.info('pretraining done', { step: result.step, best: result.best, valid: result.valid });
  if (bad && bad.count > 0) {
    log.warn(`skipped ${bad.count} bad record(s)`, { skipped: bad.count, examples: bad.samples });
    return 1;
  }
  return 0;
}
