/**
 * Numeric matrices and vectors for the score-based evaluators (retrieval, VOC07, ImageNet, VCR), from whichever
 * file a user has: .npy, Arrow IPC (.arrow/.feather/.ipc: one list or fixed-size-list column, one row per table
 * row), JSON (array of arrays, or a flat array for a vector) or text (.csv/.tsv/.txt: one row per line, values
 * separated by commas or whitespace).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DataType, tableFromIPC } from 'apache-arrow';
import { InputError, messageOf } from '../common/errors.js';
import { describe, readJson } from './io.js';
import { readNpy } from './npy.js';

export interface Matrix {
  rows: number;
  cols: number;
  data: Float64Array; // row-major
  /** Whether every value came from an integer type (npy/Arrow ints) or is integral (text/JSON). */
  integer: boolean;
}

function fromRows(rows: number[][], file: string, integer: boolean): Matrix {
  const cols = rows[0]?.length ?? 0;
  const data = new Float64Array(rows.length * cols);
  rows.forEach((r, i) => {
    if (r.length !== cols) throw new InputError(file, `row has ${r.length} values, expected ${cols} like the first row`, i + 1);
    data.set(r, i * cols);
  });
  return { rows: rows.length, cols, data, integer };
}

function readArrow(file: string): Matrix {
  let table;
  try {
    table = tableFromIPC(readFileSync(file));
  } catch (err) {
    throw new InputError(file, `not a readable Arrow IPC file: ${messageOf(err)}`);
  }
  const field = table.schema.fields.find((f) => DataType.isList(f.type) || DataType.isFixedSizeList(f.type));
  if (!field) throw new InputError(file, 'Arrow table has no list or fixed-size-list column to read rows from');
  const col = table.getChild(field.name)!;
  const rows: number[][] = [];
  let integer = true;
  for (let i = 0; i < col.length; i++) {
    const v = col.get(i);
    if (v === null) throw new InputError(file, `column "${field.name}" is null`, `row ${i}`);
    const row = Array.from(v as Iterable<number | bigint>, Number);
    if (integer && row.some((x) => !Number.isInteger(x))) integer = false;
    rows.push(row);
  }
  return fromRows(rows, file, integer);
}

function readText(file: string): Matrix {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError(file, `cannot read: ${messageOf(err)}`);
  }
  const rows: number[][] = [];
  let integer = true;
  text.split('\n').forEach((line, i) => {
    const t = line.trim();
    if (t === '') return;
    const row = t.split(/[\s,]+/).map((s) => {
      const x = Number(s);
      if (s === '' || Number.isNaN(x)) throw new InputError(file, `not a number: ${JSON.stringify(s)}`, i + 1);
      return x;
    });
    if (integer && row.some((x) => !Number.isInteger(x))) integer = false;
    rows.push(row);
  });
  const m = fromRows(rows, file, integer);
  return m;
}

function readJsonMatrix(file: string): Matrix {
  const v = readJson(file);
  if (!Array.isArray(v)) throw new InputError(file, `expected a JSON array (of rows or of numbers), got ${describe(v)}`);
  const rows = v.map((r, i) => {
    const row = Array.isArray(r) ? r : [r];
    return row.map((x, j) => {
      if (typeof x !== 'number') throw new InputError(file, `value ${j} is ${describe(x)}, expected a number`, `[${i}]`);
      return x;
    });
  });
  return fromRows(rows, file, rows.every((r) => r.every(Number.isInteger)));
}

/** Read a matrix (a vector reads as N×1, from npy shape (N,) or a flat JSON array or one value per line). */
export function readMatrix(file: string): Matrix {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.npy') {
    const a = readNpy(file);
    if (a.shape.length > 2) throw new InputError(file, `expected a 1-D or 2-D array, got shape (${a.shape.join(', ')})`);
    const rows = a.shape[0] ?? 1;
    const cols = a.shape.length === 2 ? a.shape[1]! : 1;
    return { rows, cols, data: a.data, integer: !a.dtype.includes('f') };
  }
  if (ext === '.arrow' || ext === '.feather' || ext === '.ipc') return readArrow(file);
  if (ext === '.json') return readJsonMatrix(file);
  return readText(file);
}

/** Read a vector: an N×1 or 1×N matrix. */
export function readVector(file: string): Float64Array {
  const m = readMatrix(file);
  if (m.cols !== 1 && m.rows !== 1) throw new InputError(file, `expected a vector, got a ${m.rows}×${m.cols} matrix`);
  return m.data;
}

export function row(m: Matrix, i: number): Float64Array {
  return m.data.subarray(i * m.cols, (i + 1) * m.cols);
}
