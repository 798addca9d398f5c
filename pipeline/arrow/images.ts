/**
 * Which images a dataset may use: paths from annotations must stay inside --root, images the validate report marks
 * bad are dropped (--valid-report), and absent images stop the run (default) or are dropped (--skip-missing). The
 * decisions happen while the dataset is planned, before anything is written, so a missing image never leaves a
 * half-made dataset behind; the counts feed the run summary.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../../common/errors.js';
import { readJsonLines } from '../../common/jsonl.js';

export interface DropCounts {
  /** Rows dropped. */
  rows: number;
  /** Distinct image files behind those rows (a NLVR2 row has two). */
  images: number;
}

/**
 * Read a `vlkit validate` report (JSON lines `{"path", "ok", "error"?, ...}`) and return the absolute paths it marks
 * bad. Relative paths are taken relative to the current directory, as validate received them.
 */
export async function readBadImages(reportFile: string): Promise<Set<string>> {
  const bad = new Set<string>();
  for await (const { value, line } of readJsonLines(reportFile)) {
    const r = value as { path?: unknown; ok?: unknown };
    if (typeof r !== 'object' || r === null || typeof r.path !== 'string' || typeof r.ok !== 'boolean') {
      throw new InputError(reportFile, 'not a validate report line: needs "path" (string) and "ok" (boolean)', line);
    }
    if (!r.ok) bad.add(path.resolve(r.path));
  }
  return bad;
}

export interface ImageGateOptions {
  skipMissing: boolean;
  /** Absolute paths the validate report marks bad. */
  bad?: Set<string>;
}

export class ImageGate {
  readonly missing: DropCounts = { rows: 0, images: 0 };
  readonly invalid: DropCounts = { rows: 0, images: 0 };
  readonly root: string;

  constructor(
    root: string,
    private readonly opts: ImageGateOptions,
  ) {
    this.root = path.resolve(root);
  }

  /** Resolve a path written in an annotation file; one that leaves --root is refused. */
  inRoot(relPath: string, file: string, record: string | number): string {
    const abs = path.resolve(this.root, relPath);
    const rel = path.relative(this.root, abs);
    if (relPath.includes('\0') || rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) {
      throw new InputError(file, `image path ${JSON.stringify(relPath)} escapes --root ${this.root}`, record);
    }
    return abs;
  }

  /** An annotated image that is not there: an error naming it, or one more dropped row with --skip-missing. */
  reportMissing(images: string[], file: string, record: string | number): false {
    if (!this.opts.skipMissing) {
      throw new InputError(file, `image not found: ${images.join(', ')} (--skip-missing drops such rows)`, record);
    }
    this.missing.rows++;
    this.missing.images += images.length;
    return false;
  }

  /** Whether a row whose images are `images` (absolute paths) is written. */
  admit(images: string[], file: string, record: string | number): boolean {
    const bad = this.opts.bad ? images.filter((p) => this.opts.bad!.has(p)) : [];
    if (bad.length > 0) {
      this.invalid.rows++;
      this.invalid.images += bad.length;
      return false;
    }
    const absent = images.filter((p) => !isFile(p));
    return absent.length === 0 || this.reportMissing(absent, file, record);
  }
}

export function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}
