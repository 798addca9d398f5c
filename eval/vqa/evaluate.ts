/**
 * VQA v2 accuracy exactly as GT-Vision-Lab/VQA `vqaEval.py` computes it (current version a013f00, or the 2017
 * version a4f1afd behind `version: '2017'`), plus LXMERT's soft-label scoring for its minival.json.
 *
 * Per question: for each of the 10 ground-truth answers, min(1, matches among the OTHER answers / 3), averaged.
 * "Other" follows the script literally: it drops every answer entry equal (as a whole dict: answer, answer_id,
 * answer_confidence…) to the one left out, which is exactly one entry when answer_ids are distinct, as in the
 * real annotations. Aggregates are round(100 · Σacc / n, 2) with the sums taken in annotation order (the same
 * floating-point operations as the script), rounding the exact binary value with ties away from zero (Python 2's
 * round, which is what toFixed does for non-negative numbers).
 */
import { cleanWhitespace, processDigitArticle, processPunctuation } from './normalize.js';

/** 'current': the repository HEAD; '2017': before "Fixed processing answers bug" (see README). */
export type VqaVersion = 'current' | '2017';

export interface VqaGroundTruth {
  questionId: string;
  questionType: string;
  answerType: string;
  /** The ground-truth answer strings as written in the annotation file (usually 10). */
  answers: string[];
  /**
   * Entry identity apart from the answer text (answer_id, confidence…), or null when every entry differs anyway.
   * Only used for the script's dict-equality leave-one-out.
   */
  entryKeys: string[] | null;
}

export interface VqaMetrics {
  overall: number;
  perAnswerType: Record<string, number>;
  perQuestionType: Record<string, number>;
}

export interface ScoredQuestion {
  questionId: string;
  questionType: string;
  answerType: string;
  /** Accuracy in [0, 1] before any rounding. */
  accuracy: number;
}

/** Accuracy of one result against one question's ground truth, in [0, 1]. */
export function scoreVqaAnswer(gt: Pick<VqaGroundTruth, 'answers' | 'entryKeys'>, result: string, version: VqaVersion = 'current'): number {
  let answers: string[];
  let res: string;
  if (version === 'current') {
    answers = gt.answers.map(cleanWhitespace);
    res = cleanWhitespace(result);
    // Unanimous annotators: no further processing at all, the match is exact and case-sensitive.
    if (!allEqual(answers)) {
      answers = answers.map((a) => processDigitArticle(processPunctuation(a)));
      res = processDigitArticle(processPunctuation(res));
    }
  } else {
    // 2017: the result is always fully processed; the ground truth only gets punctuation processing, and only
    // when the annotators disagree (and no whitespace clean-up at all).
    res = processDigitArticle(processPunctuation(cleanWhitespace(result)));
    answers = allEqual(gt.answers) ? gt.answers : gt.answers.map(processPunctuation);
  }
  let matches = 0;
  for (const a of answers) if (a === res) matches++;
  let sum = 0;
  for (let i = 0; i < answers.length; i++) {
    let others = matches;
    if (answers[i] === res) others -= gt.entryKeys ? equalEntries(answers, gt.entryKeys, i) : 1;
    sum += Math.min(1, others / 3);
  }
  return sum / answers.length;
}

function allEqual(xs: string[]): boolean {
  for (let i = 1; i < xs.length; i++) if (xs[i] !== xs[0]) return false;
  return true;
}

/** How many entries (including i itself) equal entry i as whole dicts. */
function equalEntries(answers: string[], keys: string[], i: number): number {
  let n = 0;
  for (let j = 0; j < answers.length; j++) if (answers[j] === answers[i] && keys[j] === keys[i]) n++;
  return n;
}

/** Score every annotated question; `results` must hold an answer for each (checked by the caller). */
export function scoreVqa(gts: VqaGroundTruth[], results: Map<string, string>, version: VqaVersion = 'current'): ScoredQuestion[] {
  return gts.map((gt) => ({
    questionId: gt.questionId,
    questionType: gt.questionType,
    answerType: gt.answerType,
    accuracy: scoreVqaAnswer(gt, results.get(gt.questionId)!, version),
  }));
}

/** Python 2 `round(x, 2)` for x ≥ 0: nearest on the exact binary value, ties away from zero. */
export function round2(x: number): number {
  return Number(x.toFixed(2));
}

function percent(values: number[]): number {
  let sum = 0;
  for (const v of values) sum += v;
  return round2((100 * sum) / values.length);
}

/** overall / perAnswerType / perQuestionType in percent, keys in first-seen order as the script's dicts. */
export function aggregateVqa(scored: ScoredQuestion[]): VqaMetrics {
  const byAnswer = new Map<string, number[]>();
  const byQuestion = new Map<string, number[]>();
  for (const q of scored) {
    push(byAnswer, q.answerType, q.accuracy);
    push(byQuestion, q.questionType, q.accuracy);
  }
  return {
    overall: percent(scored.map((q) => q.accuracy)),
    perAnswerType: Object.fromEntries([...byAnswer].map(([k, v]) => [k, percent(v)])),
    perQuestionType: Object.fromEntries([...byQuestion].map(([k, v]) => [k, percent(v)])),
  };
}

function push(m: Map<string, number[]>, k: string, v: number): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

/** One question of LXMERT's minival.json: a soft label {answer: score} precomputed by LXMERT's preprocessing. */
export interface LxmertGroundTruth {
  questionId: string;
  questionType: string;
  answerType: string;
  label: Record<string, number>;
}

/**
 * LXMERT's own VQA scoring: the score of a prediction is `label[answer]` (0 when absent), exact string match with no
 * normalisation — its predictions come from its answer vocabulary, already normalised like the labels.
 */
export function scoreLxmert(gts: LxmertGroundTruth[], results: Map<string, string>): ScoredQuestion[] {
  return gts.map((gt) => {
    const answer = results.get(gt.questionId)!;
    const score = Object.prototype.hasOwnProperty.call(gt.label, answer) ? gt.label[answer]! : 0;
    return { questionId: gt.questionId, questionType: gt.questionType, answerType: gt.answerType, accuracy: score };
  });
}
