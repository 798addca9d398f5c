/**
 * Reading VQA files: the official question/annotation files, result files ([{question_id, answer}] as the server
 * takes them, or a {question_id: answer} object), and LXMERT's minival.json. Every structural problem is an
 * InputError naming the file and record.
 */
import { InputError } from '../../common/errors.js';
import { describe, expectArray, expectObject, readJson } from '../io.js';
import type { LxmertGroundTruth, VqaGroundTruth } from './evaluate.js';

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v);
}

function str(obj: Record<string, unknown>, key: string, file: string, record: string): string {
  const v = obj[key];
  if (typeof v !== 'string') throw new InputError(file, `"${key}" must be a string, got ${describe(v)}`, record);
  return v;
}

function questionId(obj: Record<string, unknown>, file: string, record: string): string {
  const v = obj.question_id;
  if (!isInt(v)) throw new InputError(file, `"question_id" must be an integer, got ${describe(v)}`, record);
  return String(v);
}

/** Stable identity of an object apart from one key: sorted-key JSON. */
function keyWithout(obj: Record<string, unknown>, omit: string): string {
  return JSON.stringify(Object.keys(obj).filter((k) => k !== omit).sort().map((k) => [k, obj[k]]));
}

/** The `annotations` array of an official annotation file (v2_mscoco_val2014_annotations.json). */
export function readVqaAnnotations(file: string): VqaGroundTruth[] {
  const root = expectObject(readJson(file), file, 'a VQA annotation file');
  const anns = expectArray(root.annotations, file, '"annotations"');
  const seen = new Set<string>();
  return anns.map((a, i) => {
    const record = `annotations[${i}]`;
    const ann = expectObject(a, file, 'an annotation', record);
    const qid = questionId(ann, file, record);
    // The script indexes annotations by id: a repeated id would be scored twice with the last entry, surely a mistake.
    if (seen.has(qid)) throw new InputError(file, `question_id ${qid} is annotated twice`, record);
    seen.add(qid);
    const entries = expectArray(ann.answers, file, `"answers" of ${record}`);
    if (entries.length === 0) throw new InputError(file, '"answers" is empty', record);
    const answers: string[] = [];
    const ids = new Set<unknown>();
    entries.forEach((e, j) => {
      const entry = expectObject(e, file, 'an answer entry', `${record}.answers[${j}]`);
      answers.push(str(entry, 'answer', file, `${record}.answers[${j}]`));
      ids.add(entry.answer_id);
    });
    // Distinct answer_ids (the real files) make every entry unique; only otherwise compare whole entries.
    let entryKeys: string[] | null = null;
    if (ids.size !== entries.length || ids.has(undefined)) {
      const keys = entries.map((e) => keyWithout(e as Record<string, unknown>, 'answer'));
      if (new Set(keys).size !== keys.length) entryKeys = keys;
    }
    return {
      questionId: qid,
      questionType: str(ann, 'question_type', file, record),
      answerType: str(ann, 'answer_type', file, record),
      answers,
      entryKeys,
    };
  });
}

/** Question ids of an official question file ({"questions": [{question_id, image_id, question}]}). */
export function readVqaQuestionIds(file: string): string[] {
  const root = expectObject(readJson(file), file, 'a VQA question file');
  const qs = expectArray(root.questions, file, '"questions"');
  return qs.map((q, i) => questionId(expectObject(q, file, 'a question', `questions[${i}]`), file, `questions[${i}]`));
}

export interface VqaResults {
  answers: Map<string, string>;
  /** Ids given more than once (the last answer counts, as in the official loader). */
  duplicates: string[];
}

/** A result file: [{question_id: int, answer: str}] or {"<question_id>": answer}. */
export function readVqaResults(file: string): VqaResults {
  const root = readJson(file);
  const answers = new Map<string, string>();
  const duplicates: string[] = [];
  const put = (qid: string, answer: unknown, record: string) => {
    if (typeof answer !== 'string') throw new InputError(file, `the answer to question ${qid} must be a string, got ${describe(answer)}`, record);
    if (answers.has(qid)) duplicates.push(qid);
    answers.set(qid, answer);
  };
  if (Array.isArray(root)) {
    root.forEach((r, i) => {
      const rec = expectObject(r, file, 'a result', `[${i}]`);
      put(questionId(rec, file, `[${i}]`), rec.answer, `[${i}]`);
    });
  } else {
    const obj = expectObject(root, file, 'results ([{question_id, answer}] or {question_id: answer})');
    for (const [k, v] of Object.entries(obj)) put(k, v, k);
  }
  return { answers, duplicates };
}

/** LXMERT's minival.json / nominival.json: [{question_id, sent, label: {answer: score}, answer_type, question_type}]. */
export function readLxmertGroundTruth(file: string): LxmertGroundTruth[] {
  const items = expectArray(readJson(file), file, 'LXMERT VQA data');
  const seen = new Set<string>();
  return items.map((x, i) => {
    const record = `[${i}]`;
    const item = expectObject(x, file, 'an LXMERT question', record);
    const qid = questionId(item, file, record);
    if (seen.has(qid)) throw new InputError(file, `question_id ${qid} appears twice`, record);
    seen.add(qid);
    const label = expectObject(item.label, file, '"label"', record);
    for (const [answer, score] of Object.entries(label)) {
      if (typeof score !== 'number' || !Number.isFinite(score)) {
        throw new InputError(file, `label score of "${answer}" must be a finite number, got ${describe(score)}`, record);
      }
    }
    return {
      questionId: qid,
      questionType: str(item, 'question_type', file, record),
      answerType: str(item, 'answer_type', file, record),
      label: label as Record<string, number>,
    };
  });
}
