/**
 * VQAv2 (ViLT's write_vqa.py; see docs in data/vqa-answers.ts and shared/notes/vilt-arrow.md): one row per image with
 * its questions, and for train/val the labels and soft scores of the annotators' answers against the vocabulary of
 * frequent multiple-choice answers. `vqav2_val` is also split into `trainable_val` (all but the last 1000 rows) and
 * `rest_val` (the last 1000) in the same pass. Rows follow each image's first question in the question file.
 *
 * `--vg-qa DIR` adds `vgqa_train.arrow` the way VLC builds it: Visual Genome QA pairs on images that are also COCO
 * train/val images of VQAv2, answers normalised and kept only when they are in the VQAv2 vocabulary, score 1.0.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { InputError } from '../../../common/errors.js';
import { AnswerVocabulary, AnswerVocabularyBuilder, normalizeAnswer } from '../../../data/vqa-answers.js';
import { streamJsonArray } from '../json-stream.js';
import { field, isArray, isInt, isString, recordLabel, type Adapter, type AdapterContext, type Pass, type PlannedRow } from '../plan.js';
import { listOf, type Column } from '../writer.js';
import { findVgImage } from './vg.js';

const ROOT_FILES = {
  train: { questions: 'v2_OpenEnded_mscoco_train2014_questions.json', images: 'train2014' },
  val: { questions: 'v2_OpenEnded_mscoco_val2014_questions.json', images: 'val2014' },
  test: { questions: 'v2_OpenEnded_mscoco_test2015_questions.json', images: 'test2015' },
  'test-dev': { questions: 'v2_OpenEnded_mscoco_test-dev2015_questions.json', images: 'test2015' },
} as const;
type Split = keyof typeof ROOT_FILES;
const SPLITS = Object.keys(ROOT_FILES) as Split[];
/** The splits with answers, in the order the vocabulary counts them. */
const ANNOTATIONS = { train: 'v2_mscoco_train2014_annotations.json', val: 'v2_mscoco_val2014_annotations.json' } as const;
type AnnotatedSplit = keyof typeof ANNOTATIONS;
const ANNOTATED = Object.keys(ANNOTATIONS) as AnnotatedSplit[];
const isAnnotated = (s: Split): s is AnnotatedSplit => s in ANNOTATIONS;

/** How many of the last val rows form `rest_val`. */
export const REST_VAL_ROWS = 1000;

function vqaColumns(answerType: 'annotated' | 'test'): Column[] {
  // ViLT gives test rows one empty list per column; pyarrow infers list<null> for a column of nothing but [].
  const test = answerType === 'test';
  return [
    { name: 'image', type: 'binary' },
    { name: 'questions', type: listOf('string') },
    { name: 'answers', type: test ? listOf('null') : listOf(listOf('string')) },
    { name: 'answer_labels', type: test ? listOf('null') : listOf(listOf('int64')) },
    { name: 'answer_scores', type: test ? listOf('null') : listOf(listOf('double')) },
    { name: 'image_id', type: 'int64' },
    { name: 'question_id', type: listOf('int64') },
    { name: 'split', type: 'string' },
  ];
}

interface Question {
  text: string;
  labels?: number[];
  scores?: number[];
}

/** image_id → question_id → question, both in order of first appearance (later duplicates replace the text). */
type QuestionIndex = Map<number, Map<number, Question>>;

async function readQuestions(file: string): Promise<QuestionIndex> {
  const byImage: QuestionIndex = new Map();
  for await (const { value, index } of streamJsonArray(file, 'questions')) {
    const record = String(index);
    const imageId = field(value, 'image_id', isInt, 'an integer', file, record);
    const qid = field(value, 'question_id', isInt, 'an integer', file, record);
    const text = field(value, 'question', isString, 'a string', file, record);
    let qs = byImage.get(imageId);
    if (!qs) byImage.set(imageId, (qs = new Map()));
    qs.set(qid, { text });
  }
  return byImage;
}

/** COCO file name → image id: the integer after the last `_` (ViLT reads only `*.jpg`). */
async function listCocoImages(dir: string): Promise<Map<number, string>> {
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch (err) {
    throw new InputError(dir, `cannot list the image folder (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
  const byId = new Map<number, string>();
  for (const name of names.sort()) {
    if (!name.endsWith('.jpg')) continue;
    const digits = name.slice(0, -4).split('_').pop()!;
    if (!/^[0-9]+$/.test(digits)) continue;
    const id = Number(digits);
    const other = byId.get(id);
    if (other) throw new InputError(path.join(dir, name), `same image id ${id} as ${other}`);
    byId.set(id, path.join(dir, name));
  }
  return byId;
}

/** The vocabulary from train then val multiple-choice answers, in file order. */
async function buildVocabulary(root: string): Promise<AnswerVocabulary> {
  const builder = new AnswerVocabularyBuilder();
  for (const split of ANNOTATED) {
    const file = path.join(root, ANNOTATIONS[split]);
    for await (const { value, index } of streamJsonArray(file, 'annotations')) {
      builder.add(field(value, 'multiple_choice_answer', isString, 'a string', file, String(index)));
    }
  }
  return builder.build();
}

/** Attach labels/scores to every question of `split`; returns the image ids the annotations cover. */
async function attachAnswers(root: string, split: AnnotatedSplit, questions: QuestionIndex, vocab: AnswerVocabulary): Promise<Set<number>> {
  const file = path.join(root, ANNOTATIONS[split]);
  const imageIds = new Set<number>();
  for await (const { value, index } of streamJsonArray(file, 'annotations')) {
    const record = String(index);
    const imageId = field(value, 'image_id', isInt, 'an integer', file, record);
    const qid = field(value, 'question_id', isInt, 'an integer', file, record);
    const answers = field(value, 'answers', isArray, 'a list', file, record).map((a) => field(a, 'answer', isString, 'a string', file, record));
    const q = questions.get(imageId)?.get(qid);
    if (!q) throw new InputError(file, `question ${qid} of image ${imageId} is not in ${ROOT_FILES[split].questions}`, recordLabel(index, `question_id ${qid}`));
    // ViLT keeps the first annotation of a question listed twice.
    if (!q.labels) Object.assign(q, vocab.labelsAndScores(answers));
    imageIds.add(imageId);
  }
  return imageIds;
}

function planRows(ctx: AdapterContext, split: Split, questions: QuestionIndex, images: Map<number, string>, vocab: AnswerVocabulary): PlannedRow[] {
  const file = path.join(ctx.root, ROOT_FILES[split].questions);
  const annotated = isAnnotated(split);
  const rows: PlannedRow[] = [];
  for (const [imageId, qs] of questions) {
    let kept = [...qs];
    if (annotated) {
      for (const [qid, q] of kept) {
        if (!q.labels) throw new InputError(file, `question ${qid} has no annotation in ${ANNOTATIONS[split as AnnotatedSplit]}`, `image_id ${imageId}`);
      }
      // Questions none of whose answers is in the vocabulary are dropped, then images left without questions.
      kept = kept.filter(([, q]) => q.labels!.length > 0);
      if (kept.length === 0) continue;
    }
    const image = images.get(imageId);
    const record = `image_id ${imageId}`;
    const keep = image ? ctx.gate.admit([image], file, record) : ctx.gate.reportMissing([path.join(ctx.root, ROOT_FILES[split].images, `*_${imageId}.jpg`)], file, record);
    if (!keep) continue;
    const texts = kept.map(([, q]) => q.text);
    const qids = kept.map(([qid]) => qid);
    const labels = annotated ? kept.map(([, q]) => q.labels!) : [];
    const answers = labels.map((ls) => ls.map((l) => vocab.label2ans[l]!));
    const scores = annotated ? kept.map(([, q]) => q.scores!) : [];
    rows.push({ images: [image!], values: [texts, answers, labels, scores, imageId, qids, split] });
  }
  return rows;
}

/** VLC's VG-QA rows: VG images that are COCO train/val images of VQAv2, answers in the VQAv2 vocabulary. */
async function planVgQa(ctx: AdapterContext, vgRoot: string, cocoIds: Set<number>, vocab: AnswerVocabulary): Promise<PlannedRow[]> {
  const imageData = path.join(vgRoot, 'annotations/image_data.json');
  const inCoco = new Set<number>();
  for await (const { value, index } of streamJsonArray(imageData)) {
    const record = String(index);
    const vgId = field(value, 'image_id', isInt, 'an integer', imageData, record);
    const cocoId = (value as { coco_id?: unknown }).coco_id;
    if (cocoId === null || cocoId === undefined) continue;
    if (!isInt(cocoId)) throw new InputError(imageData, `"coco_id" must be an integer or null (got ${JSON.stringify(cocoId)})`, record);
    if (cocoIds.has(cocoId)) inCoco.add(vgId);
  }
  const qaFile = path.join(vgRoot, 'annotations/question_answers.json');
  const byImage = new Map<number, { qids: number[]; questions: string[]; answers: string[]; record: string }>();
  for await (const { value, index } of streamJsonArray(qaFile)) {
    const record = String(index);
    for (const qa of field(value, 'qas', isArray, 'a list', qaFile, record)) {
      const vgId = field(qa, 'image_id', isInt, 'an integer', qaFile, record);
      const qid = field(qa, 'qa_id', isInt, 'an integer', qaFile, record);
      const question = field(qa, 'question', isString, 'a string', qaFile, record);
      const answer = normalizeAnswer(field(qa, 'answer', isString, 'a string', qaFile, record));
      if (!inCoco.has(vgId) || !vocab.ans2label.has(answer)) continue;
      let e = byImage.get(vgId);
      if (!e) byImage.set(vgId, (e = { qids: [], questions: [], answers: [], record }));
      e.qids.push(qid);
      e.questions.push(question);
      e.answers.push(answer);
    }
  }
  const rows: PlannedRow[] = [];
  for (const [vgId, e] of byImage) {
    const image = findVgImage(vgRoot, vgId);
    const keep = image ? ctx.gate.admit([image], qaFile, e.record) : ctx.gate.reportMissing([path.join(vgRoot, `images/VG_100K{,_2}/${vgId}.jpg`)], qaFile, e.record);
    if (!keep) continue;
    const answers = e.answers.map((a) => [a]);
    const labels = e.answers.map((a) => [vocab.ans2label.get(a)!]);
    const scores = e.answers.map(() => [1.0]);
    rows.push({ images: [image!], values: [e.questions, answers, labels, scores, vgId, e.qids, 'train'] });
  }
  return rows;
}

export const vqav2: Adapter = async (ctx) => {
  const questions = new Map<Split, QuestionIndex>();
  for (const split of SPLITS) questions.set(split, await readQuestions(path.join(ctx.root, ROOT_FILES[split].questions)));
  const vocab = await buildVocabulary(ctx.root);
  const cocoIds = new Set<number>();
  for (const split of ANNOTATED) for (const id of await attachAnswers(ctx.root, split, questions.get(split)!, vocab)) cocoIds.add(id);

  const listings = new Map<string, Map<number, string>>();
  const passes: Pass[] = [];
  for (const split of SPLITS) {
    const dir = ROOT_FILES[split].images;
    if (!listings.has(dir)) listings.set(dir, await listCocoImages(path.join(ctx.root, dir)));
    const rows = planRows(ctx, split, questions.get(split)!, listings.get(dir)!, vocab);
    questions.delete(split);
    const columns = vqaColumns(isAnnotated(split) ? 'annotated' : 'test');
    if (split === 'val') {
      const cut = rows.length - REST_VAL_ROWS;
      passes.push({
        outputs: ['vqav2_val.arrow', 'vqav2_trainable_val.arrow', 'vqav2_rest_val.arrow'].map((name) => ({ name, columns })),
        rows,
        route: (i) => [0, i < cut ? 1 : 2],
      });
    } else {
      passes.push({ outputs: [{ name: `vqav2_${split}.arrow`, columns }], rows });
    }
  }
  if (ctx.vgQa) {
    const rows = await planVgQa(ctx, ctx.vgQa, cocoIds, vocab);
    passes.push({ outputs: [{ name: 'vgqa_train.arrow', columns: vqaColumns('annotated') }], rows });
  }
  return {
    passes,
    sideFiles: [
      { name: 'ans2label.json', content: vocab.toAns2LabelJson() },
      { name: 'label2ans.json', content: vocab.toLabel2AnsJson() },
    ],
  };
};
