/**
 * What a dataset adapter hands the writer: the rows of each output file with their image paths and their other
 * column values, decided entirely from the (small) annotations. Image bytes are only read later, row by row, while
 * the files are written.
 */
import { InputError } from '../../common/errors.js';
import type { Logger } from '../../common/progress.js';
import type { ImageGate } from './images.js';
import type { Column } from './writer.js';

export interface PlannedRow {
  /** Absolute paths of the row's images; their bytes become the first columns, in this order. */
  images: string[];
  /** The remaining column values, in column order. */
  values: unknown[];
}

export interface OutputFile {
  /** File name inside --out, e.g. `coco_caption_karpathy_train.arrow`. */
  name: string;
  columns: Column[];
}

/**
 * One pass over `rows` feeding one or more files: `route(i)` lists the outputs row i goes to (default: output 0).
 * VQAv2 val feeds vqav2_val, and trainable_val or rest_val, from one read of each image; CC3M rows go to shard i/N.
 */
export interface Pass {
  outputs: OutputFile[];
  rows: PlannedRow[];
  route?: (i: number) => number[];
}

export interface DatasetPlan {
  passes: Pass[];
  /** Small side files written with the dataset (VQAv2's ans2label.json / label2ans.json). */
  sideFiles?: { name: string; content: string }[];
}

export interface AdapterContext {
  root: string;
  gate: ImageGate;
  log: Logger;
  /** Rows per CC3M/SBU shard. */
  shardSize: number;
  /** VG root for `vqav2 --vg-qa`. */
  vgQa?: string;
}

export type Adapter = (ctx: AdapterContext) => Promise<DatasetPlan>;

/** Record label for error messages: `record 17` or `record 17 (question_id 42)`. */
export function recordLabel(index: number, id?: string | number): string {
  return id === undefined ? String(index) : `${index} (${id})`;
}

/** Field `name` of an annotation record, checked by `check`, or an InputError naming the file and record. */
export function field<T>(rec: unknown, name: string, check: (v: unknown) => v is T, what: string, file: string, record: string | number): T {
  const v = typeof rec === 'object' && rec !== null ? (rec as Record<string, unknown>)[name] : undefined;
  if (!check(v)) throw new InputError(file, `"${name}" must be ${what} (got ${JSON.stringify(v)?.slice(0, 80)})`, record);
  return v;
}

export const isString = (v: unknown): v is string => typeof v === 'string';
export const isInt = (v: unknown): v is number => Number.isSafeInteger(v);
export const isArray = (v: unknown): v is unknown[] => Array.isArray(v);
