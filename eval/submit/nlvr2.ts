/**
 * NLVR2 predictions CSV as LXMERT writes it: headerless `identifier,True|False` lines, one per example of the given
 * examples file (JSON lines with "identifier"), in that file's order.
 */
import { InputError } from '../../common/errors.js';
import { describe, expectObject, readCsvRows, readJson, readJsonLines } from '../io.js';
import { entriesOf, matchIds, Problems, resolveOut, type Submission } from './problems.js';

/** true/false, 1/0 and "True"/"False" in any case are accepted as predictions. */
function asBool(v: unknown): boolean | null {
  if (typeof v === 'boolean') return v;
  if (v === 1 || v === 0) return v === 1;
  if (typeof v === 'string' && /^(true|false)$/i.test(v)) return v.toLowerCase() === 'true';
  return null;
}

export function buildNlvr2Submission(predictions: unknown, identifiers: string[], out: string): Submission {
  const problems = new Problems();
  const entries = entriesOf(predictions, 'identifier', 'prediction', problems);
  const got = matchIds(entries, identifiers, (id) => (typeof id === 'string' ? id : null), 'a string identifier', problems);
  const lines: string[] = [];
  for (const id of identifiers) {
    if (!got.has(id)) continue;
    const b = asBool(got.get(id));
    if (b === null) problems.add('predictions that are not True/False', `${id}: ${JSON.stringify(got.get(id))}`);
    else lines.push(`${id},${b ? 'True' : 'False'}`);
  }
  return { files: [{ path: out, content: lines.map((l) => l + '\n').join('') }], problems, count: lines.length };
}

export function readNlvr2Identifiers(file: string): string[] {
  return readJsonLines(file).map(({ value, line }) => {
    const id = expectObject(value, file, 'an NLVR2 example', line).identifier;
    if (typeof id !== 'string') throw new InputError(file, `"identifier" must be a string, got ${describe(id)}`, line);
    return id;
  });
}

/** Predictions as JSON ([{identifier, prediction}] or {identifier: prediction}) or as an identifier,prediction CSV. */
export function buildNlvr2SubmissionFiles(opts: { predictions: string; questions: string; out: string }): Submission {
  const predictions = opts.predictions.toLowerCase().endsWith('.csv')
    ? readCsvRows(opts.predictions).map(({ fields }) => ({ identifier: fields[0], prediction: fields[1] }))
    : readJson(opts.predictions);
  return buildNlvr2Submission(predictions, readNlvr2Identifiers(opts.questions), resolveOut(opts.out, 'predictions.csv'));
}
