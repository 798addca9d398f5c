/**
 * The training loop every vlkit trainer runs (LXMERT-style and ViLT-style alike): a model exposes its variables
 * by name and a loss; a batch source yields micro-batches in a seeded order; this file does the rest — gradient
 * accumulation, clipping, the optimizer and its schedule, logging, validation, checkpoints, BEST/LAST, and exact
 * resume.
 *
 * Determinism: every random draw is derived from (seed, position) rather than from a stream that runs across the
 * whole job: micro-batch i of epoch e gets `Rng.from(seed, 'data', e, i)`, the model's dropout/masking in update s
 * gets `Rng.from(seed, 'model', s, micro)`, and the epoch order is `epochPermutation(seed, e, n)`. A checkpoint
 * therefore needs only (step, epoch, index) besides weights and optimizer moments, prefetching data loaders cannot
 * skew it, and a resumed run reproduces the uninterrupted one bit for bit.
 */
import * as tf from '@tensorflow/tfjs';
import { getPath, type ConfigTree } from '../../common/config.js';
import { UsageError } from '../../common/errors.js';
import { loadCheckpoint, saveCheckpoint, type CheckpointState, type TensorData } from './checkpoint.js';
import { clipByGlobalNorm, Optimizer, OPTIMIZER_KINDS, type OptimizerConfig, type OptimizerKind } from './optimizer.js';
import { Rng } from './rng.js';
import { SerializationDir } from './serialization.js';

// ---------------------------------------------------------------------------------------------------------------
// Interfaces the trainers implement

export interface StepContext {
  /** Updates applied before this one. */
  step: number;
  epoch: number;
  /** Micro-batch index within the accumulation group (0 … accumulate-1). */
  micro: number;
  /** Seeded generator for this micro-batch's model-side randomness (dropout, masking done in the model). */
  rng: Rng;
}

export interface TrainableModel<B> {
  /** Trainable variables by PyTorch-style dotted name (the names decide weight-decay exemption and checkpoint keys). */
  params(): Record<string, tf.Variable>;
  /** Mean loss over one micro-batch, plus optional scalar metrics to log (averaged over the log window). */
  loss(batch: B, ctx: StepContext): { loss: tf.Scalar; metrics?: Record<string, tf.Scalar> };
  /** Validation metrics (plain numbers); the loop calls it every eval interval. */
  evaluate?(at: { step: number; epoch: number }): Promise<Record<string, number>> | Record<string, number>;
}

export interface BatchSource<B> {
  /** Micro-batches in one epoch (incomplete trailing batches are the source's business: drop or pad them). */
  batchesPerEpoch: number;
  /**
   * Micro-batches of `epoch` from index `start` on, in the epoch's seeded order (see epochPermutation);
   * `rngFor(i)` is micro-batch i's generator for data-side randomness (masking, negatives, augmentation).
   */
  batches(epoch: number, start: number, rngFor: (index: number) => Rng): Iterable<B> | AsyncIterable<B>;
  /** Examples in a micro-batch, for examples/s (default: train.batch_size). */
  size?(batch: B): number;
}

// ---------------------------------------------------------------------------------------------------------------
// Configuration (`train.*`)

export interface TrainConfig {
  backend: string;
  seed: number;
  epochs: number;
  /** Micro-batch size; the effective batch is batch_size × accumulate. */
  batchSize: number;
  accumulate: number;
  optimizer: OptimizerKind;
  lr: number;
  warmup: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
  maxGradNorm: number;
  /** Stop after this many updates (0 = run all epochs). The schedule still spans all epochs. */
  maxSteps: number;
  logEvery: number;
  /** Validate every N updates; 0 = at the end of each epoch. The last update (end or max_steps) is always validated. */
  evalEvery: number;
  /** Checkpoint every N updates; 0 = at the end of each epoch. A final checkpoint is always written. */
  checkpointEvery: number;
  /** Keep the newest N checkpoints (plus LAST and BEST); 0 = keep all. */
  keepCheckpoints: number;
  /** Validation metric that selects BEST ('' = no BEST). */
  bestMetric: string;
  bestMode: 'max' | 'min';
}

/** Defaults for the `train` section; trainers merge their own values over these. */
export const TRAIN_DEFAULTS: ConfigTree = {
  train: {
    backend: 'auto',
    seed: 9595,
    epochs: 4,
    batch_size: 32,
    accumulate: 1,
    optimizer: 'adamw',
    lr: 1e-4,
    warmup: 0.1,
    weight_decay: 0.01,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-6,
    max_grad_norm: 1.0,
    max_steps: 0,
    log_every: 10,
    eval_every: 0,
    checkpoint_every: 0,
    keep_checkpoints: 0,
    best_metric: '',
    best_mode: 'max',
  },
};

function num(tree: ConfigTree, key: string, check: (v: number) => boolean, what: string): number {
  const v = getPath(tree, `train.${key}`);
  if (typeof v !== 'number' || !check(v)) throw new UsageError(`config 'train.${key}' must be ${what} (got ${JSON.stringify(v)})`);
  return v;
}

function str(tree: ConfigTree, key: string, allowed?: readonly string[]): string {
  const v = getPath(tree, `train.${key}`);
  if (typeof v !== 'string' || (allowed && !allowed.includes(v))) {
    throw new UsageError(`config 'train.${key}' must be ${allowed ? `one of ${allowed.join(', ')}` : 'a string'} (got ${JSON.stringify(v)})`);
  }
  return v;
}

export function trainConfigFrom(tree: ConfigTree): TrainConfig {
  const int0 = (v: number) => Number.isInteger(v) && v >= 0;
  const int1 = (v: number) => Number.isInteger(v) && v >= 1;
  const nonneg = (v: number) => Number.isFinite(v) && v >= 0;
  const unit = (v: number) => v >= 0 && v < 1;
  return {
    backend: str(tree, 'backend'),
    seed: num(tree, 'seed', (v) => Number.isInteger(v) && v >= 0 && v < 2 ** 32, 'an integer in [0, 2^32)'),
    epochs: num(tree, 'epochs', int1, 'an integer ≥ 1'),
    batchSize: num(tree, 'batch_size', int1, 'an integer ≥ 1'),
    accumulate: num(tree, 'accumulate', int1, 'an integer ≥ 1'),
    optimizer: str(tree, 'optimizer', OPTIMIZER_KINDS) as OptimizerKind,
    lr: num(tree, 'lr', (v) => Number.isFinite(v) && v > 0, 'a positive number'),
    warmup: num(tree, 'warmup', unit, 'a fraction in [0, 1)'),
    weightDecay: num(tree, 'weight_decay', nonneg, 'a number ≥ 0'),
    beta1: num(tree, 'beta1', unit, 'in [0, 1)'),
    beta2: num(tree, 'beta2', unit, 'in [0, 1)'),
    eps: num(tree, 'eps', nonneg, 'a number ≥ 0'),
    maxGradNorm: num(tree, 'max_grad_norm', Number.isFinite, 'a number (≤ 0 disables clipping)'),
    maxSteps: num(tree, 'max_steps', int0, 'an integer ≥ 0'),
    logEvery: num(tree, 'log_every', int1, 'an integer ≥ 1'),
    evalEvery: num(tree, 'eval_every', int0, 'an integer ≥ 0'),
    checkpointEvery: num(tree, 'checkpoint_every', int0, 'an integer ≥ 0'),
    keepCheckpoints: num(tree, 'keep_checkpoints', int0, 'an integer ≥ 0'),
    bestMetric: str(tree, 'best_metric'),
    bestMode: str(tree, 'best_mode', ['max', 'min']) as 'max' | 'min',
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The loop

export interface TrainOptions<B> {
  model: TrainableModel<B>;
  data: BatchSource<B>;
  config: TrainConfig;
  /** Serialization directory. */
  dir: string;
  /** Continue from LAST (a directory without a checkpoint yet starts from step 0). */
  resume?: boolean;
  /** Resolved configuration to back up as config.yaml. */
  configTree?: ConfigTree;
  /** Progress lines (stderr in the CLI). */
  log?: (msg: string, fields?: Record<string, unknown>) => void;
  /** Optimizer settings beyond `train.*` (a trainer's schedule, layer-wise lr scales, more no-decay names). */
  optimizer?: Pick<OptimizerConfig, 'schedule' | 'minLr' | 'lrScale' | 'noDecay'>;
}

export interface TrainResult {
  step: number;
  epoch: number;
  best: CheckpointState['best'];
  /** Validation metrics of the last evaluation, if any. */
  valid: Record<string, number> | null;
  /** Mean training loss over the last log window. */
  loss: number;
}

type Named = Record<string, tf.Tensor>;

function disposeAll(t: Named): void {
  for (const v of Object.values(t)) v.dispose();
}

export async function train<B>(opts: TrainOptions<B>): Promise<TrainResult> {
  const { model, data, config: cfg } = opts;
  const log = opts.log ?? (() => {});
  const sd = new SerializationDir(opts.dir);
  await sd.open({ resume: opts.resume ?? false, config: opts.configTree });

  const params = model.params();
  const names = Object.keys(params).sort();
  const varList = names.map((n) => params[n]!);
  const nameOfVar = new Map(names.map((n) => [params[n]!.name, n]));
  const k = cfg.accumulate;
  const stepsPerEpoch = Math.floor(data.batchesPerEpoch / k);
  if (stepsPerEpoch < 1) throw new UsageError(`an epoch has ${data.batchesPerEpoch} micro-batches, fewer than train.accumulate=${k}`);
  const totalSteps = cfg.epochs * stepsPerEpoch;
  const stopAt = cfg.maxSteps > 0 ? Math.min(cfg.maxSteps, totalSteps) : totalSteps;
  const opt = new Optimizer({ kind: cfg.optimizer, lr: cfg.lr, beta1: cfg.beta1, beta2: cfg.beta2, eps: cfg.eps, weightDecay: cfg.weightDecay, totalSteps, warmup: cfg.warmup, ...opts.optimizer });

  // --- resume -------------------------------------------------------------------------------------------------
  let step = 0;
  let epoch = 0;
  let index = 0; // next micro-batch of `epoch`
  let best: CheckpointState['best'] = null;
  let lastCheckpoint = -1;
  if (opts.resume) {
    const last = await sd.readPointer('LAST');
    if (last !== null) {
      const ck = await loadCheckpoint(sd.checkpointDir(last));
      if (ck.state.seed !== cfg.seed) throw new UsageError(`cannot resume: the checkpoint was trained with train.seed=${ck.state.seed}, the config says ${cfg.seed}`);
      restoreWeights(params, ck.weights, ck.dir);
      opt.setState(
        {
          kind: ck.state.optimizer.kind as OptimizerKind,
          step: ck.state.optimizer.step,
          m: slots(ck.optimizer, 'm.'),
          v: slots(ck.optimizer, 'v.'),
        },
        params,
      );
      ({ step, epoch, index, best } = ck.state);
      lastCheckpoint = step;
      // A kill between saving a better checkpoint and moving BEST: the checkpoint's own record wins.
      if (best && (await sd.readPointer('BEST')) !== best.step) await sd.writePointer('BEST', best.step);
      log(`resumed from ${ck.dir} (step ${step}, epoch ${epoch}, batch ${index})`);
    } else {
      log('resume: no checkpoint yet, starting from step 0');
    }
    await sd.truncateTo(step);
  }

  const tb = sd.eventWriter();
  let valid: Record<string, number> | null = null;
  // Averages over the log window; `secs` counts training time only (not validation or checkpoint writes).
  const window = { loss: 0, n: 0, examples: 0, secs: 0, metrics: {} as Record<string, number> };
  let lastLoss = NaN;

  const checkpoint = async (metrics?: Record<string, number>) => {
    const state: CheckpointState = {
      step,
      epoch,
      index,
      seed: cfg.seed,
      optimizer: { kind: cfg.optimizer, step: opt.step },
      best,
      ...(metrics ? { metrics } : {}),
      savedAt: new Date().toISOString(),
    };
    const os = opt.getState();
    const optTensors: Record<string, TensorData> = {};
    for (const n of Object.keys(os.m)) {
      optTensors[`m.${n}`] = { dtype: 'float32', shape: params[n]!.shape, data: os.m[n]! };
      optTensors[`v.${n}`] = { dtype: 'float32', shape: params[n]!.shape, data: os.v[n]! };
    }
    tb.sync();
    await saveCheckpoint(sd.dir, { weights: readWeights(params), optimizer: optTensors, state });
    await sd.writePointer('LAST', step);
    lastCheckpoint = step;
  };

  // `atEpoch`: the epoch the evaluated weights finished training in (the position may already point at the next).
  const validate = async (atEpoch: number) => {
    if (!model.evaluate) return;
    valid = await model.evaluate({ step, epoch: atEpoch });
    sd.appendLog({ step, epoch: atEpoch, valid });
    tb.scalars(step, Object.fromEntries(Object.entries(valid).map(([m, v]) => [`valid/${m}`, v])));
    tb.flush();
    log(`step ${step} validation`, valid);
    const v = cfg.bestMetric ? valid[cfg.bestMetric] : undefined;
    if (v === undefined) return;
    if (best === null || (cfg.bestMode === 'max' ? v > best.value : v < best.value)) {
      best = { metric: cfg.bestMetric, value: v, step };
      await checkpoint(valid);
      await sd.writePointer('BEST', step);
    }
  };

  // --- steps --------------------------------------------------------------------------------------------------
  while (step < stopAt) {
    if (index + k > stepsPerEpoch * k) {
      // Only reachable when resuming with another train.accumulate: the rest of that epoch is skipped.
      epoch++;
      index = 0;
      continue;
    }
    const rngFor = (e: number) => (i: number) => Rng.from(cfg.seed, 'data', e, i);
    const source = data.batches(epoch, index, rngFor(epoch));
    const it = (Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : (source as Iterable<B>)[Symbol.iterator]()) as
      | AsyncIterator<B>
      | Iterator<B>;
    while (step < stopAt && index + k <= stepsPerEpoch * k) {
      // One update = k micro-batches; their gradients are summed and divided by k (= the gradient of a k× batch).
      const t0 = performance.now();
      let acc: Named | null = null;
      let lossSum = 0;
      for (let micro = 0; micro < k; micro++) {
        const r = await it.next();
        if (r.done) throw new Error(`batch source ended at micro-batch ${index + micro} of epoch ${epoch}; it promised ${data.batchesPerEpoch}`);
        const ctx: StepContext = { step, epoch, micro, rng: Rng.from(cfg.seed, 'model', step, micro) };
        let metrics: Record<string, tf.Scalar> = {};
        const { value, grads } = tf.variableGrads(() => {
          const out = model.loss(r.value, ctx);
          metrics = out.metrics ?? {};
          for (const m of Object.values(metrics)) tf.keep(m);
          return out.loss;
        }, varList);
        lossSum += value.dataSync()[0]!;
        value.dispose();
        for (const [m, t] of Object.entries(metrics)) {
          window.metrics[m] = (window.metrics[m] ?? 0) + t.dataSync()[0]! / k;
          t.dispose();
        }
        window.examples += data.size ? data.size(r.value) : cfg.batchSize;
        const named: Named = {};
        for (const [tfName, g] of Object.entries(grads)) named[nameOfVar.get(tfName)!] = g;
        if (acc === null) acc = named;
        else {
          for (const [n, g] of Object.entries(named)) {
            const prev = acc[n];
            acc[n] = prev ? prev.add(g) : g.clone();
            prev?.dispose();
            g.dispose();
          }
        }
      }
      const summed = acc!;
      const mean: Named = k > 1 ? tf.tidy(() => Object.fromEntries(Object.entries(summed).map(([n, g]) => [n, g.div(tf.scalar(k))]))) : summed;
      if (k > 1) disposeAll(summed);
      const { grads, norm } = clipByGlobalNorm(mean, cfg.maxGradNorm);
      disposeAll(mean);
      const lr = opt.apply(params, grads);
      disposeAll(grads);
      const gradNorm = norm.dataSync()[0]!;
      norm.dispose();

      window.secs += (performance.now() - t0) / 1000;
      step++;
      index += k;
      window.loss += lossSum / k;
      window.n++;
      const epochDone = index + k > stepsPerEpoch * k;

      if (step % cfg.logEvery === 0 || step === stopAt) {
        const metrics = Object.fromEntries(Object.entries(window.metrics).map(([m, v]) => [m, v / window.n]));
        lastLoss = window.loss / window.n;
        const rec = { step, epoch, loss: lastLoss, ...metrics, lr, grad_norm: gradNorm, examples_per_s: window.examples / window.secs };
        sd.appendLog(rec);
        tb.scalars(step, Object.fromEntries(Object.entries(rec).filter(([n]) => n !== 'step' && n !== 'epoch').map(([n, v]) => [`train/${n}`, v as number])));
        tb.flush();
        log(`step ${step}/${totalSteps}`, rec);
        Object.assign(window, { loss: 0, n: 0, examples: 0, secs: 0, metrics: {} });
      }
      // Position of the next micro-batch, normalised so a checkpoint at an epoch's end points into the next one.
      const endedEpoch = epoch;
      if (epochDone) {
        epoch++;
        index = 0;
      }
      // The last update is always validated too (a run stopped by train.max_steps or ending off an eval_every
      // multiple), so BEST and log.jsonl cover the final weights. Its checkpoint follows, so a resume of a finished
      // run finds step === stopAt, runs no step and adds no second record.
      const evalNow = (cfg.evalEvery > 0 ? step % cfg.evalEvery === 0 : epochDone) || step === stopAt;
      if (evalNow) await validate(endedEpoch);
      const ckNow = cfg.checkpointEvery > 0 ? step % cfg.checkpointEvery === 0 : epochDone;
      if ((ckNow || step === stopAt) && lastCheckpoint !== step) await checkpoint(evalNow && valid ? valid : undefined);
      if (ckNow) await sd.prune(cfg.keepCheckpoints);
      if (epochDone) {
        log(`epoch ${endedEpoch} done`);
        break;
      }
    }
    await it.return?.();
  }
  tb.close();
  opt.dispose();
  return { step, epoch, best, valid, loss: lastLoss };
}

function readWeights(params: Record<string, tf.Variable>): Record<string, TensorData> {
  const out: Record<string, TensorData> = {};
  for (const [n, p] of Object.entries(params)) {
    if (p.dtype !== 'float32' && p.dtype !== 'int32') throw new Error(`parameter '${n}' has dtype ${p.dtype}; checkpoints hold float32/int32`);
    out[n] = { dtype: p.dtype, shape: p.shape, data: p.dataSync() as Float32Array | Int32Array };
  }
  return out;
}

function restoreWeights(params: Record<string, tf.Variable>, weights: Record<string, TensorData>, dir: string): void {
  const missing = Object.keys(params).filter((n) => !(n in weights));
  if (missing.length) throw new UsageError(`checkpoint ${dir} lacks parameters: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}`);
  for (const [n, p] of Object.entries(params)) {
    const w = weights[n]!;
    if (w.shape.join(',') !== p.shape.join(',')) throw new UsageError(`checkpoint ${dir}: '${n}' has shape [${w.shape}], the model expects [${p.shape}]`);
    const t = tf.tensor(w.data, w.shape, w.dtype);
    p.assign(t);
    t.dispose();
  }
}

function slots(t: Record<string, TensorData>, prefix: string): Record<string, Float32Array> {
  return Object.fromEntries(
    Object.entries(t)
      .filter(([n]) => n.startsWith(prefix))
      .map(([n, d]) => [n.slice(prefix.length), d.data as Float32Array]),
  );
}
