/**
 * What every submission writer shares: collecting problems (grouped by kind, with counts and the first few
 * examples), resolving the output path, and writing atomically only when there are no problems or with `force`.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../../common/atomic.js';

export interface ProblemSummary {
  kind: string;
  count: number;
  examples: string[];
}

export class Problems {
  private readonly byKind = new Map<string, ProblemSummary>();
  constructor(private readonly maxExamples = 5) {}

  add(kind: string, example: string): void {
    let p = this.byKind.get(kind);
    if (!p) this.byKind.set(kind, (p = { kind, count: 0, examples: [] }));
    p.count++;
    if (p.examples.length < this.maxExamples) p.examples.push(example);
  }

  get ok(): boolean {
    return this.byKind.size === 0;
  }

  list(): ProblemSummary[] {
    return [...this.byKind.values()];
  }

  /** One line per kind: "3 missing predictions (e.g. 1, 2, 3)". */
  format(): string {
    return this.list()
      .map((p) => `${p.count} ${p.kind} (e.g. ${p.examples.join(', ')}${p.count > p.examples.length ? ', …' : ''})`)
      .join('\n');
  }
}

/** A built submission: the files to write (name → content) and what is wrong with it. */
export interface Submission {
  files: { path: string; content: string | Uint8Array }[];
  problems: Problems;
  /** Records written. */
  count: number;
}

export interface WriteOutcome {
  written: boolean;
  paths: string[];
  problems: ProblemSummary[];
}

/** Write every file of the submission atomically unless problems were found and `force` is off. */
export async function writeSubmission(sub: Submission, force = false): Promise<WriteOutcome> {
  const written = sub.problems.ok || force;
  if (written) for (const f of sub.files) await writeFileAtomic(f.path, f.content);
  return { written, paths: sub.files.map((f) => f.path), problems: sub.problems.list() };
}

/** `--out`: an existing directory or a path ending in a separator gets the leaderboard's file name inside it. */
export function resolveOut(out: string, defaultName: string): string {
  if (out.endsWith('/') || out.endsWith(path.sep)) return path.join(out, defaultName);
  try {
    if (statSync(out).isDirectory()) return path.join(out, defaultName);
  } catch {
    // does not exist yet: a file path
  }
  return out;
}

/** Render an id for an example list. */
export function show(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

/**
 * Normalise predictions given as an array of records or as an {id: value} object into [id, value, where] triples,
 * reporting non-object records. `idKey`/`valueKey` name the record fields; a null `valueKey` keeps the whole record.
 */
export function entriesOf(predictions: unknown, idKey: string, valueKey: string | null, problems: Problems): [unknown, unknown, string][] {
  if (Array.isArray(predictions)) {
    const out: [unknown, unknown, string][] = [];
    predictions.forEach((r, i) => {
      if (r === null || typeof r !== 'object' || Array.isArray(r)) problems.add('records that are not objects', `[${i}]`);
      else out.push([(r as Record<string, unknown>)[idKey], valueKey === null ? r : (r as Record<string, unknown>)[valueKey], `[${i}]`]);
    });
    return out;
  }
  if (predictions !== null && typeof predictions === 'object') {
    return Object.entries(predictions as Record<string, unknown>).map(([k, v]) => [k, v, k]);
  }
  problems.add('unreadable prediction files (expected an array or an object)', typeof predictions);
  return [];
}

/**
 * Match predictions to the required ids: each required id exactly once, no unknown ids. `key` maps a prediction's
 * id to the required id's string form or null when the id has the wrong type (reported by the caller's `typeName`).
 */
export function matchIds<T>(
  entries: [unknown, T, string][],
  required: string[],
  key: (id: unknown) => string | null,
  typeName: string,
  problems: Problems,
): Map<string, T> {
  const req = new Set(required);
  const got = new Map<string, T>();
  for (const [id, value, where] of entries) {
    const k = key(id);
    if (k === null) {
      problems.add(`ids of the wrong type (expected ${typeName})`, `${where}: ${show(id)}`);
      continue;
    }
    if (!req.has(k)) {
      problems.add('predictions for ids not in the question file', k);
      continue;
    }
    if (got.has(k)) problems.add('ids predicted more than once', k);
    got.set(k, value);
  }
  for (const id of required) if (!got.has(id)) problems.add('required ids without a prediction', id);
  return got;
}

/** A non-empty string answer, or a problem. */
export function checkText(v: unknown, id: string, what: string, problems: Problems): v is string {
  if (typeof v !== 'string') {
    problems.add(`non-string ${what}s`, `${id}: ${v === undefined ? 'missing' : JSON.stringify(v)}`);
    return false;
  }
  if (v.trim() === '') {
    problems.add(`empty ${what}s`, id);
    return false;
  }
  return true;
}
