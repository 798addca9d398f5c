/**
 * `vlkit eval vqa` as a library call: read the files, check that the results cover exactly the annotated
 * questions (as the official loader asserts), score, aggregate.
 */
import { InputError } from '../../common/errors.js';
import { examples } from '../io.js';
import { aggregateVqa, scoreLxmert, scoreVqa, type ScoredQuestion, type VqaMetrics, type VqaVersion } from './evaluate.js';
import { readLxmertGroundTruth, readVqaAnnotations, readVqaQuestionIds, readVqaResults } from './load.js';

export * from './evaluate.js';
export * from './load.js';
export * from './normalize.js';

export interface VqaFiles {
  /** Official annotation file (with `questions`), or LXMERT's minival.json via `lxmertGt`. */
  annotations?: string;
  questions?: string;
  lxmertGt?: string;
  results: string;
  version?: VqaVersion;
}

export interface VqaReport extends VqaMetrics {
  numQuestions: number;
  version: VqaVersion | 'lxmert';
  /** Things worth a line on stderr that do not change the numbers. */
  warnings: string[];
  perQuestion: ScoredQuestion[];
}

export function evaluateVqaFiles(files: VqaFiles): VqaReport {
  const warnings: string[] = [];
  const lxmert = files.lxmertGt !== undefined;
  let gts: { questionId: string }[];
  let gtFile: string;
  if (lxmert) {
    gtFile = files.lxmertGt!;
    gts = readLxmertGroundTruth(gtFile);
  } else {
    if (!files.annotations || !files.questions) throw new InputError(files.annotations ?? files.results, 'both --questions and --annotations are required (or --lxmert-gt)');
    gtFile = files.annotations;
    gts = readVqaAnnotations(gtFile);
    const known = new Set(readVqaQuestionIds(files.questions));
    const unknown = gts.filter((g) => !known.has(g.questionId)).map((g) => g.questionId);
    if (unknown.length > 0) {
      warnings.push(`${unknown.length} annotated question ids are not in ${files.questions} (e.g. ${examples(unknown)}): are the files from the same split?`);
    }
  }
  if (gts.length === 0) throw new InputError(gtFile, 'no questions to evaluate');
  const results = readVqaResults(files.results);
  if (results.duplicates.length > 0) {
    warnings.push(`${results.duplicates.length} question ids have more than one result; the last one counts (e.g. ${examples(results.duplicates)})`);
  }
  const gtIds = new Set(gts.map((g) => g.questionId));
  const missing = gts.map((g) => g.questionId).filter((id) => !results.answers.has(id));
  const extra = [...results.answers.keys()].filter((id) => !gtIds.has(id));
  if (missing.length > 0 || extra.length > 0) {
    const parts = [];
    if (missing.length > 0) parts.push(`${missing.length} annotated questions have no result (e.g. ${examples(missing)})`);
    if (extra.length > 0) parts.push(`${extra.length} results are for questions not in ${gtFile} (e.g. ${examples(extra)})`);
    throw new InputError(files.results, `results must cover exactly the annotated questions: ${parts.join('; ')}`);
  }
  const version = files.version ?? 'current';
  const perQuestion = lxmert
    ? scoreLxmert(gts as ReturnType<typeof readLxmertGroundTruth>, results.answers)
    : scoreVqa(gts as ReturnType<typeof readVqaAnnotations>, results.answers, version);
  return { ...aggregateVqa(perQuestion), numQuestions: perQuestion.length, version: lxmert ? 'lxmert' : version, warnings, perQuestion };
}
