/**
 * LXMERT pretraining on the same encoder: masked language modelling, masked object prediction (feature regression,
 * detected object / attribute label classification), image–text matching and image QA, as LXMERT's code
 * (src/pretrain/lxmert_pretrain.py, src/lxrt/modeling.py LXRTPretraining) computes them.
 *
 * Data: LXMERT's pretraining json (`mscoco_train.json`, `vgnococo.json`, …):
 * `[{img_id, sentf: {source: [sentence…]}, labelf?: {source: [{answer: score}…]}}]` — every sentence is one example;
 * a sentence of a source that has `labelf` is a question whose label is the answer dict at the same index.
 * Per example (data-side randomness from the engine's per-batch Rng, so --resume replays it):
 * - ITM: with probability 0.5 the SENTENCE is swapped for one of another image (label 0, "not matched"); the image
 *   stays. A mismatched pair keeps its masked-LM and object losses (LXMERT computes them on every pair, as BERT does
 *   under NSP); only its QA target is dropped.
 * - MLM: `word_mask_rate` (0.15) of the word pieces are chosen; 80% become [MASK], 10% a random token, 10% stay;
 *   cross entropy on those.
 * - Objects: `obj_mask_rate` (0.15) of the real boxes are chosen; 80% get a zero feature, 10% the feature of a random
 *   box of a random image of the training set, 10% keep theirs. Feature regression (smooth L1, mean over the
 *   dimension) is on the chosen boxes only; the object and attribute label cross entropies are on EVERY real box,
 *   weighted by the detector's confidence — LXMERT's code passes the confidences, not the mask, as their weights
 *   (airsplay/lxmert issue #41). Each is summed, divided by all boxes of the batch and × `visual_loss_normalizer`
 *   (1/0.15 = 6.67).
 * - QA: a matched question with a label: cross entropy on one answer drawn with probability ∝ its score in the
 *   label dict; answers are normalised as LXMERT's AnswerTable does ("the man" → "man", "two" → "2", …) and those
 *   outside ans2label dropped. The QA loss counts from epoch `qa_from_epoch` on, × `qa_weight`: LXMERT's released
 *   code uses it from the start with weight 1 (0, 1); its paper trains without it for 10 of 20 epochs and doubles it
 *   after (10, 2). The other losses have weight 1.
 * Heads and names follow LXMERT's LXRTPretraining state dict (`bert.…`, `cls.predictions.…` with the decoder tied to
 * the word embeddings, `cls.seq_relationship`, `obj_predict_head.…`, `answer_head.logit_fc.…`), so the exported
 * LAST.pth/BEST.pth is what `model.load_lxmert=` of the fine-tuning configs reads.
 */
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { getPath, type ConfigTree } from '../../common/config.js';
import { InputError, UsageError } from '../../common/errors.js';
import { MASK_ID, type BertTokenizer } from '../../data/tokenizer/index.js';
import type { FeatureStore } from '../../features/index.js';
import { Rng } from '../engine/index.js';
import { EVAL, gelu, LayerNorm, Linear, Params, type Mode } from '../nn/index.js';
import { normalizeBox, type BadRecords } from './data.js';
import { LogitFc, LxrtEncoder, lxmertInputs, type LxmertArrays, type LxmertSizes } from './model.js';

export const PRETRAIN_TASKS = ['lm', 'itm', 'obj', 'attr', 'feat', 'qa'] as const;
export type PretrainTask = (typeof PRETRAIN_TASKS)[number];

export interface PretrainOptions {
  tasks: Set<PretrainTask>;
  numObjects: number;
  numAttrs: number;
  wordMaskRate: number;
  objMaskRate: number;
  visualLossNormalizer: number;
  qaFromEpoch: number;
  qaWeight: number;
}

export function pretrainOptions(tree: ConfigTree): PretrainOptions {
  const tasksRaw = getPath(tree, 'pretrain.tasks');
  if (typeof tasksRaw !== 'string') throw new UsageError(`config 'pretrain.tasks' must be a comma-separated list of ${PRETRAIN_TASKS.join(', ')}`);
  const tasks = new Set<PretrainTask>();
  for (const t of tasksRaw.split(',').map((x) => x.trim()).filter(Boolean)) {
    if (!(PRETRAIN_TASKS as readonly string[]).includes(t)) throw new UsageError(`unknown pretraining task '${t}' in pretrain.tasks (known: ${PRETRAIN_TASKS.join(', ')})`);
    tasks.add(t as PretrainTask);
  }
  if (tasks.size === 0) throw new UsageError("config 'pretrain.tasks' is empty");
  if (tasks.size === 1 && tasks.has('qa') && getPath(tree, 'pretrain.qa_from_epoch') !== 0) throw new UsageError("pretrain.tasks=qa alone needs pretrain.qa_from_epoch=0 (nothing to train before it)");
  const num = (k: string, ok: (v: number) => boolean) => {
    const v = getPath(tree, `pretrain.${k}`);
    if (typeof v !== 'number' || !ok(v)) throw new UsageError(`config 'pretrain.${k}' has an invalid value ${JSON.stringify(v)}`);
    return v;
  };
  return {
    tasks,
    numObjects: num('num_objects', (v) => Number.isInteger(v) && v > 0),
    numAttrs: num('num_attrs', (v) => Number.isInteger(v) && v > 0),
    wordMaskRate: num('word_mask_rate', (v) => v >= 0 && v < 1),
    objMaskRate: num('obj_mask_rate', (v) => v >= 0 && v < 1),
    visualLossNormalizer: num('visual_loss_normalizer', (v) => v > 0),
    qaFromEpoch: num('qa_from_epoch', (v) => Number.isInteger(v) && v >= 0),
    qaWeight: num('qa_weight', (v) => v >= 0),
  };
}

/**
 * The training objective of a step in `epoch`: the tasks' losses with weight 1, the QA loss left out before
 * `qa_from_epoch` and × `qa_weight` from then on.
 */
export function objective(losses: Partial<Record<PretrainTask, tf.Scalar>>, opts: PretrainOptions, epoch: number): tf.Scalar {
  return tf.tidy(() => {
    const terms: tf.Scalar[] = [];
    for (const [task, loss] of Object.entries(losses) as Array<[PretrainTask, tf.Scalar]>) {
      if (task !== 'qa') terms.push(loss);
      else if (epoch >= opts.qaFromEpoch && opts.qaWeight > 0) terms.push(opts.qaWeight === 1 ? loss : loss.mul(opts.qaWeight));
    }
    if (terms.length === 0) throw new Error(`no pretraining loss in this batch at epoch ${epoch} (tasks: ${Object.keys(losses).join(', ') || 'none'})`);
    return tf.addN(terms);
  });
}

// LXMERT's AnswerTable.convert_ans: the normal form of a raw answer before it is looked up in the answer table.
const ANSWER_FORMS: Record<string, string> = {
  'a man': 'man', 'the man': 'man', 'a woman': 'woman', 'the woman': 'woman', one: '1', two: '2', three: '3', four: '4',
  five: '5', six: '6', seven: '7', eight: '8', nine: '9', ten: '10', grey: 'gray',
};

export function normalizeAnswer(raw: string): string {
  if (raw === '') return '';
  let a = raw.toLowerCase();
  if (a.endsWith('.')) a = a.slice(0, -1).trim();
  for (const article of ['a ', 'an ', 'the ']) if (a.startsWith(article)) a = a.slice(article.length).trim();
  return ANSWER_FORMS[a] ?? a;
}

export interface PretrainExample {
  uid: string;
  imgId: string;
  sent: string;
  /** Answer indices of the question's label dict (empty: not a question, or no known answer) and their scores. */
  answers: number[];
  scores: number[];
}

/** Read LXMERT pretraining json; malformed records throw naming the file and record, or are counted. */
export function readPretrainExamples(file: string, ans2label: Map<string, number> | null, bad: BadRecords | null): PretrainExample[] {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new InputError(file, `not valid JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(raw)) throw new InputError(file, 'expected a JSON array of {img_id, sentf, labelf}');
  const out: PretrainExample[] = [];
  raw.forEach((rec: unknown, i: number) => {
    try {
      if (typeof rec !== 'object' || rec === null) throw new Error('not a JSON object');
      const r = rec as { img_id?: unknown; sentf?: unknown; labelf?: unknown };
      if (typeof r.img_id !== 'string' || r.img_id === '') throw new Error('"img_id" must be a non-empty string');
      if (typeof r.sentf !== 'object' || r.sentf === null) throw new Error('"sentf" must be an object {source: [sentences]}');
      const labelf = (r.labelf ?? {}) as Record<string, unknown>;
      const items: PretrainExample[] = [];
      for (const [source, sents] of Object.entries(r.sentf as Record<string, unknown>)) {
        if (!Array.isArray(sents) || sents.some((s) => typeof s !== 'string')) throw new Error(`"sentf.${source}" must be a list of strings`);
        const labels = labelf[source];
        if (labels !== undefined && (!Array.isArray(labels) || labels.length !== sents.length)) throw new Error(`"labelf.${source}" must be a list as long as "sentf.${source}"`);
        sents.forEach((sent: string, k: number) => {
          const label = labels ? (labels as unknown[])[k] : undefined;
          // Normal form → score; a later raw answer with the same normal form replaces an earlier one, as in LXMERT.
          const byAnswer = new Map<number, number>();
          if (label !== undefined && ans2label) {
            if (typeof label !== 'object' || label === null) throw new Error(`"labelf.${source}[${k}]" must be an object {answer: score}`);
            for (const [ans, score] of Object.entries(label)) {
              if (typeof score !== 'number' || !(score >= 0)) throw new Error(`"labelf.${source}[${k}]": the score of ${JSON.stringify(ans)} must be a number ≥ 0`);
              const a = ans2label.get(normalizeAnswer(ans));
              if (a !== undefined) byAnswer.set(a, score);
            }
          }
          items.push({ uid: `${r.img_id}_${source}_${k}`, imgId: r.img_id as string, sent, answers: [...byAnswer.keys()], scores: [...byAnswer.values()] });
        });
      }
      out.push(...items);
    } catch (err) {
      if (!bad) throw new InputError(file, (err as Error).message, i);
      bad.count++;
      if (bad.samples.length < 5) bad.samples.push(InputError.format(file, (err as Error).message, i));
    }
  });
  return out;
}

/** The encoder input (`rows` = examples) plus the pre-training targets. */
export interface PretrainBatch extends LxmertArrays {
  /** Flattened [B·T] positions of masked tokens and their original ids. */
  lmPositions: Int32Array;
  lmLabels: Int32Array;
  /** Flattened [B·O] positions of all real boxes and their detected labels and confidences. */
  boxPositions: Int32Array;
  objLabels: Int32Array;
  objConf: Float32Array;
  attrLabels: Int32Array;
  attrConf: Float32Array;
  /** Flattened [B·O] positions of the masked boxes and their original features [M·D]. */
  featPositions: Int32Array;
  featTargets: Float32Array;
  matched: Int32Array;
  /** Examples with a QA target and the answer index. */
  qaRows: Int32Array;
  qaLabels: Int32Array;
}

export class PretrainBatcher {
  constructor(
    private readonly o: { tokenizer: BertTokenizer; store: FeatureStore; seqLen: number; maxBoxes: number; opts: PretrainOptions; vocab: number },
    private readonly all: PretrainExample[],
  ) {}

  make(examples: PretrainExample[], r: Rng): PretrainBatch {
    const { seqLen: T, maxBoxes: O, store, opts } = this.o;
    const D = store.dim;
    const B = examples.length;
    const b: PretrainBatch = {
      rows: B, seqLen: T, boxes: O, featDim: D,
      ids: new Int32Array(B * T), mask: new Float32Array(B * T), types: new Int32Array(B * T),
      feats: new Float32Array(B * O * D), pos: new Float32Array(B * O * 4), visMask: new Float32Array(B * O),
      lmPositions: new Int32Array(0), lmLabels: new Int32Array(0), boxPositions: new Int32Array(0), objLabels: new Int32Array(0),
      objConf: new Float32Array(0), attrLabels: new Int32Array(0), attrConf: new Float32Array(0), featPositions: new Int32Array(0), featTargets: new Float32Array(0),
      matched: new Int32Array(B), qaRows: new Int32Array(0), qaLabels: new Int32Array(0),
    };
    const lmPos: number[] = [], lmLab: number[] = [];
    const boxPos: number[] = [], objLab: number[] = [], objC: number[] = [], attrLab: number[] = [], attrC: number[] = [];
    const featPos: number[] = [];
    const featT: Float32Array[] = [];
    const qaRows: number[] = [], qaLab: number[] = [];
    const rows = examples.map((ex) => store.get(ex.imgId));
    examples.forEach((ex, i) => {
      // ITM: half of the examples get a sentence of another image.
      let sent = ex.sent;
      let matched = 1;
      if (opts.tasks.has('itm') && r.float() < 0.5 && this.all.length > 1) {
        let other = this.all[r.int(this.all.length)]!;
        for (let tries = 0; other.imgId === ex.imgId && tries < 10; tries++) other = this.all[r.int(this.all.length)]!;
        if (other.imgId !== ex.imgId) {
          sent = other.sent;
          matched = 0;
        }
      }
      b.matched[i] = matched;
      const enc = this.o.tokenizer.encode(sent, T);
      for (let t = 0; t < T; t++) {
        let id = enc.ids[t]!;
        const special = enc.attentionMask[t] === 0 || t === 0 || id === 102;
        if (opts.tasks.has('lm') && !special && r.float() < opts.wordMaskRate) {
          lmPos.push(i * T + t);
          lmLab.push(id);
          const p = r.float();
          if (p < 0.8) id = MASK_ID;
          else if (p < 0.9) id = r.int(this.o.vocab);
        }
        b.ids[i * T + t] = id;
        b.mask[i * T + t] = enc.attentionMask[t]!;
        b.types[i * T + t] = enc.tokenTypeIds[t]!;
      }
      const f = rows[i]!;
      const n = Math.min(f.numBoxes, O);
      for (let j = 0; j < n; j++) {
        const at = (i * O + j) * 4;
        normalizeBox(b.pos, at, f, j);
        b.visMask[i * O + j] = 1;
        boxPos.push(i * O + j);
        objLab.push(f.objectsId[j]!);
        objC.push(f.objectsConf[j]!);
        attrLab.push(f.attrsId[j]!);
        attrC.push(f.attrsConf[j]!);
        const orig = f.features.subarray(j * D, (j + 1) * D);
        let feat: Float32Array = orig;
        const visual = opts.tasks.has('obj') || opts.tasks.has('attr') || opts.tasks.has('feat');
        if (visual && r.float() < opts.objMaskRate) {
          featPos.push(i * O + j);
          featT.push(orig);
          const p = r.float();
          if (p < 0.8) feat = new Float32Array(D);
          else if (p < 0.9) {
            const other = store.get(this.all[r.int(this.all.length)]!.imgId);
            const k = r.int(Math.max(1, Math.min(other.numBoxes, O)));
            feat = other.numBoxes > 0 ? other.features.slice(k * D, (k + 1) * D) : new Float32Array(D);
          }
        }
        b.feats.set(feat, (i * O + j) * D);
      }
      if (opts.tasks.has('qa') && matched && ex.answers.length > 0) {
        qaRows.push(i);
        qaLab.push(ex.answers[drawByScore(ex.scores, r)]!);
      }
    });
    for (const l of objLab) if (l < 0 || l >= opts.numObjects) throw new Error(`object label ${l} outside pretrain.num_objects=${opts.numObjects}`);
    for (const l of attrLab) if (l < 0 || l >= opts.numAttrs) throw new Error(`attribute label ${l} outside pretrain.num_attrs=${opts.numAttrs}`);
    b.lmPositions = Int32Array.from(lmPos);
    b.lmLabels = Int32Array.from(lmLab);
    b.boxPositions = Int32Array.from(boxPos);
    b.objLabels = Int32Array.from(objLab);
    b.objConf = Float32Array.from(objC);
    b.attrLabels = Int32Array.from(attrLab);
    b.attrConf = Float32Array.from(attrC);
    b.featPositions = Int32Array.from(featPos);
    b.featTargets = new Float32Array(featT.length * D);
    featT.forEach((t, k) => b.featTargets.set(t, k * D));
    b.qaRows = Int32Array.from(qaRows);
    b.qaLabels = Int32Array.from(qaLab);
    return b;
  }
}

/** An index drawn with probability ∝ score (uniformly when every score is 0). */
function drawByScore(scores: number[], r: Rng): number {
  if (scores.length === 1) return 0;
  const total = scores.reduce((a, b) => a + b, 0);
  if (!(total > 0)) return r.int(scores.length);
  let u = r.float() * total;
  for (let i = 0; i < scores.length; i++) {
    u -= scores[i]!;
    if (u < 0) return i;
  }
  return scores.length - 1;
}

/** Head transform of BERT's prediction heads: dense → GELU → LayerNorm. */
class Transform {
  readonly dense: Linear;
  readonly norm: LayerNorm;

  constructor(p: Params, name: string, hidden: number) {
    this.dense = new Linear(p, `${name}.dense`, hidden, hidden);
    this.norm = new LayerNorm(p, `${name}.LayerNorm`, hidden);
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.norm.forward(gelu(this.dense.forward(x))));
  }
}

function crossEntropy(logits: tf.Tensor2D, labels: Int32Array, weights?: Float32Array): tf.Tensor1D {
  return tf.tidy(() => {
    const ce = tf.logSoftmax(logits).mul(tf.oneHot(tf.tensor1d(labels, 'int32'), logits.shape[1])).sum(1).neg() as tf.Tensor1D;
    return weights ? ce.mul(tf.tensor1d(weights)) : ce;
  });
}

export interface PretrainOutput {
  losses: Partial<Record<PretrainTask, tf.Scalar>>;
  itmPred: tf.Tensor1D;
  qaPred: tf.Tensor1D | null;
}

export class PretrainModel {
  readonly params: Params;
  readonly encoder: LxrtEncoder;
  private readonly lmTransform: Transform;
  private readonly lmBias: tf.Variable;
  private readonly itm: Linear;
  private readonly objTransform: Transform;
  private readonly objDecoder: Linear;
  private readonly attrDecoder: Linear;
  private readonly featDecoder: Linear;
  private readonly answerHead: LogitFc;

  constructor(readonly sizes: LxmertSizes, readonly opts: PretrainOptions, numAnswers: number, seed: number) {
    const p = (this.params = new Params(seed));
    const h = sizes.hidden;
    this.encoder = new LxrtEncoder(p, 'bert', sizes);
    this.lmTransform = new Transform(p, 'cls.predictions.transform', h);
    // The decoder weight is the word embedding matrix (tied, as in BERT); only its bias is a parameter of its own.
    this.lmBias = p.constant('cls.predictions.bias', [sizes.vocab], 0);
    this.itm = new Linear(p, 'cls.seq_relationship', h, 2);
    this.objTransform = new Transform(p, 'obj_predict_head.transform', h);
    this.objDecoder = new Linear(p, 'obj_predict_head.decoder_dict.obj', h, opts.numObjects);
    this.attrDecoder = new Linear(p, 'obj_predict_head.decoder_dict.attr', h, opts.numAttrs);
    this.featDecoder = new Linear(p, 'obj_predict_head.decoder_dict.feat', h, sizes.featDim);
    this.answerHead = new LogitFc(p, h, 2 * h, Math.max(1, numAnswers), 'answer_head.logit_fc');
  }

  /** Each task's loss (scalars) for one batch, plus ITM and QA predictions for evaluation. */
  losses(b: PretrainBatch, mode: Mode): PretrainOutput {
    return tf.tidy((): tf.TensorContainer => {
      const { tasks, visualLossNormalizer: vln } = this.opts;
      const h = this.sizes.hidden;
      const { lang, visn, pooled } = this.encoder.forward(lxmertInputs(b), mode);
      const out: Partial<Record<PretrainTask, tf.Scalar>> = {};
      if (tasks.has('lm') && b.lmPositions.length > 0) {
        const x = this.lmTransform.forward(tf.gather(lang.reshape([-1, h]), tf.tensor1d(b.lmPositions, 'int32'))) as tf.Tensor2D;
        const logits = tf.matMul(x, this.encoder.embeddings.word.weight, false, true).add(this.lmBias) as tf.Tensor2D;
        out.lm = crossEntropy(logits, b.lmLabels).mean() as tf.Scalar;
      }
      const itmLogits = this.itm.forward(pooled) as tf.Tensor2D;
      if (tasks.has('itm')) out.itm = crossEntropy(itmLogits, b.matched).mean() as tf.Scalar;
      const allBoxes = b.rows * b.boxes;
      // LXMERT: per-box losses × weight (confidence for labels, the mask for features), averaged over all boxes of
      // the batch, × the visual normaliser.
      const boxes = (positions: Int32Array) => this.objTransform.forward(tf.gather(visn.reshape([-1, h]), tf.tensor1d(positions, 'int32')));
      if (b.boxPositions.length > 0 && (tasks.has('obj') || tasks.has('attr'))) {
        const x = boxes(b.boxPositions);
        if (tasks.has('obj')) out.obj = crossEntropy(this.objDecoder.forward(x) as tf.Tensor2D, b.objLabels, b.objConf).sum().div(allBoxes).mul(vln) as tf.Scalar;
        if (tasks.has('attr')) out.attr = crossEntropy(this.attrDecoder.forward(x) as tf.Tensor2D, b.attrLabels, b.attrConf).sum().div(allBoxes).mul(vln) as tf.Scalar;
      }
      if (b.featPositions.length > 0 && tasks.has('feat')) {
        const diff = this.featDecoder.forward(boxes(b.featPositions)).sub(tf.tensor2d(b.featTargets, [b.featPositions.length, b.featDim])).abs();
        // smooth L1 (β = 1): 0.5·d² below 1, d − 0.5 above, written as 0.5·min(d,1)² + d − min(d,1) (no comparison
        // op on the gradient path); mean over the feature dimension per box.
        const c = tf.minimum(diff, 1);
        const sl1 = c.square().mul(0.5).add(diff.sub(c)).mean(1);
        out.feat = sl1.sum().div(allBoxes).mul(vln) as tf.Scalar;
      }
      let qaPred: tf.Tensor1D | null = null;
      if (tasks.has('qa') && b.qaRows.length > 0) {
        const qaLogits = this.answerHead.forward(tf.gather(pooled, tf.tensor1d(b.qaRows, 'int32')) as tf.Tensor2D);
        out.qa = crossEntropy(qaLogits, b.qaLabels).mean() as tf.Scalar;
        qaPred = qaLogits.argMax(1) as tf.Tensor1D;
      }
      return { losses: out, itmPred: itmLogits.argMax(1) as tf.Tensor1D, qaPred } as unknown as tf.TensorContainer;
    }) as unknown as PretrainOutput;
  }

  /**
   * Validation: mean total loss, ITM accuracy and QA accuracy (%) over fixed-seed batches. The total weighs every task
   * 1 whatever the epoch (LXMERT's validation loss), so validations before and after `qa_from_epoch` compare.
   */
  evaluate(batches: PretrainBatch[]): Record<string, number> {
    let loss = 0;
    let itmRight = 0, itmAll = 0, qaRight = 0, qaAll = 0;
    for (const b of batches) {
      const r = this.losses(b, EVAL);
      const total = tf.tidy(() => tf.addN(Object.values(r.losses) as tf.Scalar[]));
      loss += total.dataSync()[0]!;
      const itm = r.itmPred.dataSync();
      itm.forEach((p, i) => (itmRight += p === b.matched[i] ? 1 : 0));
      itmAll += itm.length;
      if (r.qaPred) {
        const qa = r.qaPred.dataSync();
        qa.forEach((p, i) => (qaRight += p === b.qaLabels[i] ? 1 : 0));
        qaAll += qa.length;
      }
      total.dispose();
      r.itmPred.dispose();
      r.qaPred?.dispose();
      Object.values(r.losses).forEach((t) => t!.dispose());
    }
    const out: Record<string, number> = { loss: loss / batches.length, itm_accuracy: (100 * itmRight) / Math.max(1, itmAll) };
    if (qaAll > 0) out.qa_accuracy = (100 * qaRight) / qaAll;
    return out;
  }
}
