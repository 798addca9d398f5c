/**
 * VCR leaderboard CSV (format of rowanz/r2c's leaderboard instructions): header
 * `annot_id,answer_0..answer_3,rationale_conditioned_on_a{i}_{j}` (i = answer, j = rationale, 0..3), one row per
 * example of test.jsonl with the probabilities of the 4 answers and of the 4 rationales given each answer. The
 * server takes the argmax over answers, then over rationales conditioned on the right answer.
 */
import { InputError } from '../../common/errors.js';
import { describe, expectObject, readJson, readJsonLines } from '../io.js';
import { entriesOf, matchIds, Problems, resolveOut, type Submission } from './problems.js';

export const VCR_COLUMNS = [
  'annot_id',
  ...[0, 1, 2, 3].map((i) => `answer_${i}`),
  ...[0, 1, 2, 3].flatMap((i) => [0, 1, 2, 3].map((j) => `rationale_conditioned_on_a${i}_${j}`)),
];

export interface VcrPrediction {
  /** P(answer i), 4 numbers. */
  answer_probs: number[];
  /** rationale_probs[i][j] = P(rationale j | answer i), 4×4 numbers. */
  rationale_probs: number[][];
}

function flatten(v: unknown): number[] | null {
  const p = v as Partial<VcrPrediction> | null;
  if (!p || typeof p !== 'object' || !Array.isArray(p.answer_probs) || !Array.isArray(p.rationale_probs)) return null;
  if (p.answer_probs.length !== 4 || p.rationale_probs.length !== 4) return null;
  if (!p.rationale_probs.every((r) => Array.isArray(r) && r.length === 4)) return null;
  return [...p.answer_probs, ...p.rationale_probs.flat()] as number[];
}

export function buildVcrSubmission(predictions: unknown, annotIds: string[], out: string): Submission {
  const problems = new Problems();
  // Records carry their probabilities beside annot_id: keep the whole record as the value.
  const entries = entriesOf(predictions, 'annot_id', null, problems);
  const got = matchIds(entries, annotIds, (id) => (typeof id === 'string' ? id : null), 'a string annot_id', problems);
  const rows = [VCR_COLUMNS.join(',')];
  for (const id of annotIds) {
    if (!got.has(id)) continue;
    const nums = flatten(got.get(id));
    if (nums === null) {
      problems.add('predictions without 4 answer_probs and 4x4 rationale_probs', id);
      continue;
    }
    if (!nums.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      problems.add('predictions with NaN, infinite or non-numeric probabilities', id);
      continue;
    }
    rows.push([id, ...nums.map(String)].join(','));
  }
  return { files: [{ path: out, content: rows.join('\n') + '\n' }], problems, count: rows.length - 1 };
}

export function readVcrAnnotIds(file: string): string[] {
  return readJsonLines(file).map(({ value, line }) => {
    const id = expectObject(value, file, 'a VCR example', line).annot_id;
    if (typeof id !== 'string') throw new InputError(file, `"annot_id" must be a string, got ${describe(id)}`, line);
    return id;
  });
}

export function buildVcrSubmissionFiles(opts: { predictions: string; questions: string; out: string }): Submission {
  return buildVcrSubmission(readJson(opts.predictions), readVcrAnnotIds(opts.questions), resolveOut(opts.out, 'vcr_test_submission.csv'));
}
