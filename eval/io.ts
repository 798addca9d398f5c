/**
 * Reading evaluator inputs (JSON, JSON lines, CSV) with errors that name the file and the line or record, so a
 * user with a 200 MB prediction file is sent straight to the culprit instead of a bare SyntaxError.
 */
import { readFileSync } from 'node:fs';
import { parse as parseCsv } from 'csv-parse/sync';
import { InputError, messageOf } from '../common/errors.js';

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError(file, `cannot read: ${messageOf(err)}`);
  }
}

/** 1-based line of a character offset. */
function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** Parse a whole JSON file; a syntax error reports its line. */
export function readJson(file: string): unknown {
  const text = readText(file);
  try {
    return JSON.parse(text);
  } catch (err) {
    const pos = /position (\d+)/.exec(messageOf(err));
    const detail = `invalid JSON: ${messageOf(err)}`;
    throw pos ? new InputError(file, detail, lineAt(text, Number(pos[1]))) : new InputError(file, detail);
  }
}

/** Parse a JSON-lines file (one object per line; blank lines skipped). Returns the values with their line numbers. */
export function readJsonLines(file: string): { value: unknown; line: number }[] {
  const out: { value: unknown; line: number }[] = [];
  const lines = readText(file).split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trim();
    if (raw === '') continue;
    try {
      out.push({ value: JSON.parse(raw), line: i + 1 });
    } catch (err) {
      throw new InputError(file, `invalid JSON line: ${messageOf(err)}`, i + 1);
    }
  }
  return out;
}

/** Parse a headerless CSV file into rows of strings, each with its 1-based line number; blank lines skipped. */
export function readCsvRows(file: string): { fields: string[]; line: number }[] {
  const text = readText(file);
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parseCsv(text, { info: true, skip_empty_lines: true, relax_column_count: true }) as unknown as typeof records;
  } catch (err) {
    const line = (err as { lines?: number }).lines;
    throw new InputError(file, `invalid CSV: ${messageOf(err)}`, typeof line === 'number' ? line : undefined);
  }
  return records.map((r) => ({ fields: r.record, line: r.info.lines }));
}

/** Narrow a parsed JSON value to an array, naming the file and what was expected otherwise. */
export function expectArray(value: unknown, file: string, what: string): unknown[] {
  if (!Array.isArray(value)) throw new InputError(file, `expected ${what} (a JSON array), got ${describe(value)}`);
  return value;
}

/** Narrow a parsed JSON value to a plain object. */
export function expectObject(value: unknown, file: string, what: string, record?: number | string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InputError(file, `expected ${what} (a JSON object), got ${describe(value)}`, record);
  }
  return value as Record<string, unknown>;
}

/** A short description of a JSON value's type for error messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`;
  if (typeof value === 'number') return `the number ${value}`;
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** Up to `n` examples for an error message, with an ellipsis when there are more. */
export function examples(ids: Iterable<string>, n = 5): string {
  const list: string[] = [];
  let total = 0;
  for (const id of ids) {
    if (list.length < n) list.push(id);
    total++;
  }
  return list.join(', ') + (total > n ? ', …' : '');
}

/**
 * A JSON object file together with its top-level keys in FILE order. JS objects list integer-like keys ("201307251",
 * as GQA question ids are) first in numeric order, while the official Python scripts iterate in file order; sums of
 * floats taken in a different order can differ in the last bit, so evaluators that want Python's exact numbers
 * iterate over `keys`.
 */
export function readJsonObjectInOrder(file: string, what: string): { value: Record<string, unknown>; keys: string[] } {
  const value = expectObject(readJson(file), file, what);
  const text = readFileSync(file, 'utf8');
  const keys: string[] = [];
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      const start = i;
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 92 /* \ */) i++;
        else if (d === 34) break;
      }
      if (depth === 1 && expectKey) keys.push(JSON.parse(text.slice(start, i + 1)) as string);
      expectKey = false;
    } else if (c === 123 /* { */ || c === 91 /* [ */) {
      depth++;
      expectKey = depth === 1 && c === 123;
    } else if (c === 125 /* } */ || c === 93 /* ] */) {
      depth--;
    } else if (c === 44 /* , */ && depth === 1) {
      expectKey = true;
    }
  }
  // Repeated keys: JSON.parse keeps the last value; keep each key once, at its first position like a Python dict.
  return { value, keys: [...new Set(keys)] };
}
