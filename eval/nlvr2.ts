/**
 * NLVR2 accuracy and consistency as lil-lab/nlvr `nlvr2/eval/metrics.py` computes them:
 *  - accuracy: gold rows whose prediction equals the label case-insensitively, over all gold rows;
 *  - consistency: rows are grouped by identifier with its third dash-separated field blanked
 *    ("dev-850-0-1" → "dev-850--1": the same sentence paired with different images); a group counts when every
 *    row in it is right; fraction of groups.
 * Predictions are the headerless `identifier,True|False` CSV LXMERT writes; a repeated identifier keeps its last
 * prediction and predictions for identifiers not in the gold file are ignored, as in the script.
 */
import { InputError } from '../common/errors.js';
import { describe, examples, expectObject, readCsvRows, readJson, readJsonLines } from './io.js';
import { readFileSync } from 'node:fs';

export interface Nlvr2Example {
  identifier: string;
  /** "True" / "False" as in the official files (compared case-insensitively). */
  label: string;
}

export interface Nlvr2Metrics {
  accuracy: number;
  consistency: number;
  numExamples: number;
  numSentences: number;
}

/** The consistency group of an identifier: its third field blanked. */
export function sentenceKey(identifier: string): string | null {
  const parts = identifier.split('-');
  if (parts.length < 3) return null;
  parts[2] = '';
  return parts.join('-');
}

/** Score predictions against gold; every gold identifier must have a prediction. */
export function evaluateNlvr2(gold: Nlvr2Example[], predictions: Map<string, string>): Nlvr2Metrics {
  let correct = 0;
  const groups = new Map<string, boolean>();
  for (const ex of gold) {
    const key = sentenceKey(ex.identifier)!;
    if (!groups.has(key)) groups.set(key, true);
    if (predictions.get(ex.identifier)!.toLowerCase() === ex.label.toLowerCase()) correct++;
    else groups.set(key, false);
  }
  let consistent = 0;
  for (const ok of groups.values()) if (ok) consistent++;
  return { accuracy: correct / gold.length, consistency: consistent / groups.size, numExamples: gold.length, numSentences: groups.size };
}

/**
 * The gold file: official JSON lines ({"identifier", "label": "True"|"False", ...}), or a JSON array of the same
 * objects (LXMERT's converted files, where `label` may be 1/0).
 */
export function readNlvr2Gold(file: string): Nlvr2Example[] {
  const text = readJsonArrayOrLines(file);
  return text.map(({ value, record }) => {
    const obj = expectObject(value, file, 'an NLVR2 example', record);
    const identifier = obj.identifier;
    if (typeof identifier !== 'string') throw new InputError(file, `"identifier" must be a string, got ${describe(identifier)}`, record);
    if (sentenceKey(identifier) === null) throw new InputError(file, `identifier "${identifier}" does not look like split-####-#-#`, record);
    let label = obj.label;
    if (label === 1 || label === 0) label = label === 1 ? 'True' : 'False';
    if (typeof label !== 'string') throw new InputError(file, `"label" must be "True" or "False", got ${describe(label)}`, record);
    return { identifier, label };
  });
}

function readJsonArrayOrLines(file: string): { value: unknown; record: number | string }[] {
  let head = '';
  try {
    head = readFileSync(file, 'utf8').trimStart().slice(0, 1);
  } catch {
    // readJsonLines reports the unreadable file
  }
  if (head === '[') {
    const all = readJson(file) as unknown[];
    return all.map((value, i) => ({ value, record: `[${i}]` }));
  }
  return readJsonLines(file).map((l) => ({ value: l.value, record: l.line }));
}

/** Predictions CSV: `identifier,prediction` per line, no header. */
export function readNlvr2Predictions(file: string): { predictions: Map<string, string>; unusual: string[] } {
  const predictions = new Map<string, string>();
  const unusual: string[] = [];
  for (const { fields, line } of readCsvRows(file)) {
    if (fields.length < 2) throw new InputError(file, `expected "identifier,True|False", got ${JSON.stringify(fields.join(','))}`, line);
    // The script strips each line before splitting: leading space of the id, trailing space of the last field.
    const identifier = fields[0]!.trimStart();
    const prediction = fields.length === 2 ? fields[1]!.trimEnd() : fields[1]!;
    const lower = prediction.toLowerCase();
    if (lower !== 'true' && lower !== 'false') unusual.push(`${identifier}=${JSON.stringify(prediction)}`);
    predictions.set(identifier, prediction);
  }
  return { predictions, unusual };
}

export interface Nlvr2Report extends Nlvr2Metrics {
  warnings: string[];
}

export function evaluateNlvr2Files(goldFile: string, predictionsFile: string): Nlvr2Report {
  const gold = readNlvr2Gold(goldFile);
  if (gold.length === 0) throw new InputError(goldFile, 'no examples');
  const { predictions, unusual } = readNlvr2Predictions(predictionsFile);
  const missing = gold.filter((g) => !predictions.has(g.identifier)).map((g) => g.identifier);
  if (missing.length > 0) {
    throw new InputError(predictionsFile, `${missing.length} of ${gold.length} gold examples have no prediction (e.g. ${examples(missing)})`);
  }
  const warnings: string[] = [];
  if (unusual.length > 0) warnings.push(`${unusual.length} predictions are neither True nor False and count as wrong (e.g. ${examples(unusual)})`);
  return { ...evaluateNlvr2(gold, predictions), warnings };
}
