/**
 * LXMERT's task data: the question/statement json files, the answer vocabulary, and region features read by random
 * access from a vlkit feature store (a TSV is streamed once into a store first: see `openFeatures`), batched into
 * the model's typed arrays.
 *
 * Formats (LXMERT's data/*.json): VQA `[{question_id: int, img_id, sent, label: {answer: score}}]`, GQA the same
 * with string question_id, NLVR2 `[{identifier, img0, img1, label: 0|1, sent}]`; ans2label.json `{answer: index}`.
 * Boxes are normalised by the image size (x by width, y by height, clipped to [0, 1]); each image keeps its first
 * `max_boxes` regions and shorter rows are padded with masked-out boxes. Sentences are BERT-uncased WordPiece,
 * [CLS] … [SEP], `max_seq_length` (20) tokens.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../../common/errors.js';
import { BertTokenizer } from '../../data/tokenizer/index.js';
import { convertTsvToStore, openFeatureStore, type FeatureStore } from '../../features/index.js';
import { epochPermutation, type BatchSource, type Rng } from '../engine/index.js';
import type { LxmertArrays, LxmertTask } from './model.js';

/** One example: a question (VQA/GQA) or a statement about two images (NLVR2). */
export interface Example {
  /** question_id (as a string; VQA's are integers in the file) or NLVR2 identifier. */
  id: string;
  /** The file's own question_id value, written back as-is into submissions. */
  rawId: number | string;
  imgIds: string[];
  sent: string;
  /** VQA/GQA: answer index → soft score. NLVR2: {0|1: 1}. Absent for test files. */
  label: Map<number, number> | null;
  /** VQA/GQA: the label dict as written, for LXMERT's scoring. */
  labelDict: Record<string, number> | null;
}

export interface BadRecords {
  count: number;
  /** The first few messages, for the report. */
  samples: string[];
}

export class AnswerVocab {
  readonly labels: string[];
  readonly index: Map<string, number>;

  constructor(file: string) {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new InputError(file, `cannot read the answer vocabulary: ${(err as Error).message}`);
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new InputError(file, 'ans2label must be a JSON object {answer: index}');
    this.index = new Map();
    const labels: string[] = [];
    for (const [ans, i] of Object.entries(raw)) {
      if (!Number.isInteger(i) || (i as number) < 0) throw new InputError(file, `index of answer ${JSON.stringify(ans)} is not an integer ≥ 0`);
      if (labels[i as number] !== undefined) throw new InputError(file, `answers ${JSON.stringify(labels[i as number])} and ${JSON.stringify(ans)} share index ${i}`);
      labels[i as number] = ans;
      this.index.set(ans, i as number);
    }
    for (let i = 0; i < labels.length; i++) if (labels[i] === undefined) throw new InputError(file, `no answer has index ${i} (indices must be 0 … n-1)`);
    if (labels.length === 0) throw new InputError(file, 'the answer vocabulary is empty');
    this.labels = labels;
  }
}

/** Read a task file; bad records throw an InputError naming file and record, or are counted when `bad` is given. */
export function readExamples(file: string, task: LxmertTask, answers: AnswerVocab | null, bad: BadRecords | null): Example[] {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new InputError(file, `not valid JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(raw)) throw new InputError(file, `expected a JSON array of ${task === 'nlvr2' ? 'statements' : 'questions'}`);
  const out: Example[] = [];
  raw.forEach((rec: unknown, i: number) => {
    try {
      out.push(parseRecord(rec, task, answers));
    } catch (err) {
      const idOf = typeof rec === 'object' && rec !== null ? ((rec as Record<string, unknown>).question_id ?? (rec as Record<string, unknown>).identifier) : undefined;
      const where = `${i}${idOf !== undefined ? ` (${JSON.stringify(idOf)})` : ''}`;
      if (!bad) throw new InputError(file, (err as Error).message, where);
      bad.count++;
      if (bad.samples.length < 5) bad.samples.push(InputError.format(file, (err as Error).message, where));
    }
  });
  return out;
}

function parseRecord(rec: unknown, task: LxmertTask, answers: AnswerVocab | null): Example {
  if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) throw new Error('not a JSON object');
  const r = rec as Record<string, unknown>;
  const str = (k: string): string => {
    if (typeof r[k] !== 'string' || r[k] === '') throw new Error(`"${k}" must be a non-empty string`);
    return r[k] as string;
  };
  const sent = str('sent');
  if (task === 'nlvr2') {
    const identifier = str('identifier');
    let label: Map<number, number> | null = null;
    if (r.label !== undefined) {
      if (r.label !== 0 && r.label !== 1) throw new Error(`"label" must be 0 or 1, got ${JSON.stringify(r.label)}`);
      label = new Map([[r.label, 1]]);
    }
    return { id: identifier, rawId: identifier, imgIds: [str('img0'), str('img1')], sent, label, labelDict: null };
  }
  const qid = r.question_id;
  if (task === 'vqa' ? !Number.isInteger(qid) : typeof qid !== 'string' || qid === '') {
    throw new Error(`"question_id" must be ${task === 'vqa' ? 'an integer' : 'a non-empty string'}, got ${JSON.stringify(qid)}`);
  }
  let label: Map<number, number> | null = null;
  let labelDict: Record<string, number> | null = null;
  if (r.label !== undefined) {
    if (typeof r.label !== 'object' || r.label === null || Array.isArray(r.label)) throw new Error('"label" must be an object {answer: score}');
    labelDict = r.label as Record<string, number>;
    label = new Map();
    for (const [ans, score] of Object.entries(labelDict)) {
      if (typeof score !== 'number' || !(score >= 0 && score <= 1)) throw new Error(`score of answer ${JSON.stringify(ans)} must be a number in [0, 1]`);
      if (answers) {
        const i = answers.index.get(ans);
        if (i === undefined) throw new Error(`answer ${JSON.stringify(ans)} is not in ans2label`);
        label.set(i, score);
      }
    }
  }
  return { id: String(qid), rawId: qid as number | string, imgIds: [str('img_id')], sent, label, labelDict };
}

/**
 * Open `features` (a store directory, or a TSV converted once into `cacheDir` and reused while the TSV is not
 * newer) keeping the first `topk` images (LXMERT's --tiny 512 / --fast 4096; undefined = all).
 */
export async function openFeatures(features: string, cacheDir: string, topk: number | undefined, log: (m: string) => void): Promise<FeatureStore> {
  if (!existsSync(features)) throw new InputError(features, 'feature file or store does not exist');
  if (statSync(features).isDirectory()) return openFeatureStore(features, { topk });
  const meta = path.join(cacheDir, 'meta.json');
  if (!existsSync(meta) || statSync(meta).mtimeMs < statSync(features).mtimeMs) {
    log(`converting ${features} into the feature store ${cacheDir} (once; rows are then read on demand)`);
    await convertTsvToStore(features, cacheDir);
  }
  return openFeatureStore(cacheDir, { topk });
}

/** Keep examples whose images are all in the store; a missing image is a bad record unless a subset was asked for. */
export function withFeatures(examples: Example[], store: FeatureStore, file: string, featuresName: string, subset: boolean, bad: BadRecords | null): Example[] {
  return examples.filter((ex) => {
    const missing = ex.imgIds.find((id) => !store.has(id));
    if (missing === undefined) return true;
    if (subset) return false;
    const msg = `image ${JSON.stringify(missing)} is not in the features ${featuresName}`;
    if (!bad) throw new InputError(file, msg, ex.id);
    bad.count++;
    if (bad.samples.length < 5) bad.samples.push(InputError.format(file, msg, ex.id));
    return false;
  });
}

/** A batch as plain typed arrays (tensors are made inside the model's gradient scope). Rows = examples × images. */
export interface Batch extends LxmertArrays {
  examples: Example[];
  /** VQA/GQA: [examples × answers] soft scores; NLVR2: [examples] 0/1. Null for unlabelled data. */
  targets: Float32Array | Int32Array | null;
}

export interface BatcherOptions {
  tokenizer: BertTokenizer;
  store: FeatureStore;
  task: LxmertTask;
  seqLen: number;
  maxBoxes: number;
  numAnswers: number;
}

export class Batcher {
  private readonly tokens = new Map<string, { ids: number[]; mask: number[]; types: number[] }>();

  constructor(readonly o: BatcherOptions) {}

  private encode(sent: string) {
    let e = this.tokens.get(sent);
    if (!e) {
      const enc = this.o.tokenizer.encode(sent, this.o.seqLen);
      e = { ids: enc.ids, mask: enc.attentionMask, types: enc.tokenTypeIds };
      this.tokens.set(sent, e);
    }
    return e;
  }

  make(examples: Example[]): Batch {
    const { seqLen: T, maxBoxes: O, store } = this.o;
    const D = store.dim;
    const rows = examples.length * examples[0]!.imgIds.length;
    const b: Batch = {
      examples,
      rows,
      seqLen: T,
      boxes: O,
      featDim: D,
      ids: new Int32Array(rows * T),
      mask: new Float32Array(rows * T),
      types: new Int32Array(rows * T),
      feats: new Float32Array(rows * O * D),
      pos: new Float32Array(rows * O * 4),
      visMask: new Float32Array(rows * O),
      targets: null,
    };
    let row = 0;
    for (const ex of examples) {
      const enc = this.encode(ex.sent);
      for (const imgId of ex.imgIds) {
        b.ids.set(enc.ids, row * T);
        b.mask.set(enc.mask, row * T);
        b.types.set(enc.types, row * T);
        const f = store.get(imgId);
        const n = Math.min(f.numBoxes, O);
        b.feats.set(f.features.subarray(0, n * D), row * O * D);
        for (let j = 0; j < n; j++) {
          const at = (row * O + j) * 4;
          normalizeBox(b.pos, at, f, j);
          b.visMask[row * O + j] = 1;
        }
        row++;
      }
    }
    if (examples.every((e) => e.label !== null)) {
      if (this.o.task === 'nlvr2') b.targets = Int32Array.from(examples, (e) => [...e.label!.keys()][0]!);
      else {
        const A = this.o.numAnswers;
        const t = new Float32Array(examples.length * A);
        examples.forEach((e, i) => e.label!.forEach((s, a) => (t[i * A + a] = s)));
        b.targets = t;
      }
    }
    return b;
  }
}

function clip01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

/** Box j of an image as LXMERT feeds it: x1, y1, x2, y2 divided by the image size, clipped to [0, 1], at `pos[at]`. */
export function normalizeBox(pos: Float32Array, at: number, f: { boxes: Float32Array; imgW: number; imgH: number }, j: number): void {
  pos[at] = clip01(f.boxes[j * 4]! / f.imgW);
  pos[at + 1] = clip01(f.boxes[j * 4 + 1]! / f.imgH);
  pos[at + 2] = clip01(f.boxes[j * 4 + 2]! / f.imgW);
  pos[at + 3] = clip01(f.boxes[j * 4 + 3]! / f.imgH);
}

/**
 * Training batches for every LXMERT task (fine-tuning and pretraining): each epoch a seeded permutation, the
 * incomplete last batch dropped (LXMERT's drop_last); `make` turns a batch's examples into tensors' inputs, with
 * the micro-batch's own generator for data-side randomness (masking).
 */
export class ShuffledSource<E, B> implements BatchSource<B> {
  readonly batchesPerEpoch: number;

  constructor(
    private readonly examples: E[],
    private readonly make: (examples: E[], rng: Rng) => B,
    private readonly batchSize: number,
    private readonly seed: number,
  ) {
    this.batchesPerEpoch = Math.floor(examples.length / batchSize);
  }

  *batches(epoch: number, start: number, rngFor: (i: number) => Rng): Iterable<B> {
    const order = epochPermutation(this.seed, epoch, this.examples.length);
    for (let i = start; i < this.batchesPerEpoch; i++) {
      const exs = Array.from({ length: this.batchSize }, (_, k) => this.examples[order[i * this.batchSize + k]!]!);
      yield this.make(exs, rngFor(i));
    }
  }
}
