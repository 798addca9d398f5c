/** GQA submission: `[{"questionId": str, "prediction": str}]` covering every question of the given questions file. */
import { expectObject, readJson } from '../io.js';
import { checkText, entriesOf, matchIds, Problems, resolveOut, type Submission } from './problems.js';

export function buildGqaSubmission(predictions: unknown, questionIds: string[], out: string): Submission {
  const problems = new Problems();
  const entries = entriesOf(predictions, 'questionId', 'prediction', problems);
  const got = matchIds(entries, questionIds, (id) => (typeof id === 'string' ? id : null), 'a string questionId', problems);
  const records: { questionId: string; prediction: string }[] = [];
  for (const id of questionIds) {
    const p = got.get(id);
    if (got.has(id) && checkText(p, id, 'prediction', problems)) records.push({ questionId: id, prediction: p });
  }
  return { files: [{ path: out, content: JSON.stringify(records) }], problems, count: records.length };
}

export function buildGqaSubmissionFiles(opts: { predictions: string; questions: string; out: string }): Submission {
  const questions = expectObject(readJson(opts.questions), opts.questions, 'GQA questions ({questionId: question})');
  return buildGqaSubmission(readJson(opts.predictions), Object.keys(questions), resolveOut(opts.out, 'submission_predictions.json'));
}
