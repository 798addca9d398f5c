/**
 * VQA test-dev/test-std submission for EvalAI: a JSON array `[{"question_id": int, "answer": str}]` covering every
 * question of the test2015 question file, named `vqa_OpenEnded_mscoco_test2015_<name>_results.json`.
 */
import { readJson } from '../io.js';
import { readVqaQuestionIds } from '../vqa/load.js';
import { checkText, entriesOf, matchIds, Problems, resolveOut, type Submission } from './problems.js';

export function vqaSubmissionName(name: string): string {
  return `vqa_OpenEnded_mscoco_test2015_${name}_results.json`;
}

/** Build from predictions ([{question_id, answer}] or {question_id: answer}) and the required question ids. */
export function buildVqaSubmission(predictions: unknown, questionIds: string[], out: string): Submission {
  const problems = new Problems();
  const fromObject = !Array.isArray(predictions);
  const entries = entriesOf(predictions, 'question_id', 'answer', problems);
  const key = (id: unknown): string | null => {
    if (typeof id === 'number' && Number.isInteger(id)) return String(id);
    return fromObject && typeof id === 'string' && /^\d+$/.test(id) ? String(Number(id)) : null;
  };
  const got = matchIds(entries, questionIds, key, 'an integer question_id', problems);
  const records: { question_id: number; answer: string }[] = [];
  for (const id of questionIds) {
    const answer = got.get(id);
    if (got.has(id) && checkText(answer, id, 'answer', problems)) records.push({ question_id: Number(id), answer });
  }
  return { files: [{ path: out, content: JSON.stringify(records) }], problems, count: records.length };
}

export function buildVqaSubmissionFiles(opts: { predictions: string; questions: string; out: string; name: string }): Submission {
  return buildVqaSubmission(readJson(opts.predictions), readVqaQuestionIds(opts.questions), resolveOut(opts.out, vqaSubmissionName(opts.name)));
}
