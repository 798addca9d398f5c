/**
 * VCR accuracies as VL-BERT's vcr/val.py computes them: Q→A = argmax of the answer logits equals answer_label,
 * QA→R = argmax of the rationale logits equals rationale_label, Q→AR = both right; fractions over all questions.
 *
 * Inputs (VL-BERT's val outputs): the VCR annotations as JSON lines (val.jsonl: `answer_label`,
 * `rationale_label` per line) and two N×4 logit matrices in the same order (`{name}_a_pred.npy`,
 * `{name}_r_pred.npy`; .json/.csv also read). argmax ties go to the first index, as numpy's.
 */
import { InputError } from '../common/errors.js';
import { describe, expectObject, readJsonLines } from './io.js';
import { readMatrix, type Matrix } from './matrix.js';

export interface VcrMetrics {
  'Q->A': number;
  'QA->R': number;
  'Q->AR': number;
  numQuestions: number;
}

function argmax(m: Matrix, i: number): number {
  let best = 0;
  for (let c = 1; c < m.cols; c++) if (m.data[i * m.cols + c]! > m.data[i * m.cols + best]!) best = c;
  return best;
}

export function vcrAccuracy(answerLogits: Matrix, rationaleLogits: Matrix, gts: { answer: number; rationale: number }[]): VcrMetrics {
  let a = 0;
  let r = 0;
  let ar = 0;
  gts.forEach((g, i) => {
    const okA = argmax(answerLogits, i) === g.answer;
    const okR = argmax(rationaleLogits, i) === g.rationale;
    if (okA) a++;
    if (okR) r++;
    if (okA && okR) ar++;
  });
  const n = gts.length;
  return { 'Q->A': a / n, 'QA->R': r / n, 'Q->AR': ar / n, numQuestions: n };
}

export function evaluateVcrFiles(annotationsFile: string, answerFile: string, rationaleFile: string): VcrMetrics {
  const gts = readJsonLines(annotationsFile).map(({ value, line }) => {
    const o = expectObject(value, annotationsFile, 'a VCR annotation', line);
    for (const k of ['answer_label', 'rationale_label']) {
      const v = o[k];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 3) throw new InputError(annotationsFile, `"${k}" must be 0..3, got ${describe(v)}`, line);
    }
    return { answer: o.answer_label as number, rationale: o.rationale_label as number };
  });
  if (gts.length === 0) throw new InputError(annotationsFile, 'no annotations');
  const check = (file: string) => {
    const m = readMatrix(file);
    if (m.rows !== gts.length || m.cols !== 4) throw new InputError(file, `expected ${gts.length}×4 logits (one row per line of ${annotationsFile}), got ${m.rows}×${m.cols}`);
    return m;
  };
  return vcrAccuracy(check(answerFile), check(rationaleFile), gts);
}
