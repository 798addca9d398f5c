/**
 * Listing input files: walk directories (sorted, so runs are deterministic) or read list files (one path per line,
 * relative paths resolved against the list file's folder, `#` comments and blank lines ignored). Streaming: a
 * collection of millions of files is never held as one array.
 */
import { createReadStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { InputError } from './errors.js';

export interface InputFile {
  /** Absolute path. */
  path: string;
  /** Path relative to the directory or list file it came from (used to mirror layouts, e.g. `--fix OUT`). */
  rel: string;
}

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.gif', '.webp', '.tif', '.tiff', '.bmp', '.avif', '.heic'];

export interface ListOptions {
  /** Keep only these extensions (lowercase, with dot) when walking directories; list files are taken as given. */
  extensions?: string[];
}

/** Byte-wise order, independent of locale, so every machine walks a tree in the same order. */
function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

async function* walk(root: string, dir: string, opts: ListOptions): AsyncGenerator<InputFile> {
  const entries = await fsp.readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => byteOrder(a.name, b.name));
  for (const e of entries) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) {
      yield* walk(root, full, opts);
    } else if (e.isFile() || e.isSymbolicLink()) {
      const ext = path.extname(e.name).toLowerCase();
      if (opts.extensions && !opts.extensions.includes(ext)) continue;
      yield { path: full, rel: path.relative(root, full) };
    }
  }
}

async function* readList(listFile: string): AsyncGenerator<InputFile> {
  const base = path.dirname(path.resolve(listFile));
  const rl = readline.createInterface({ input: createReadStream(listFile), crlfDelay: Infinity });
  let lineNo = 0;
  for await (const raw of rl) {
    lineNo++;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.includes('\0')) throw new InputError(listFile, 'NUL byte in path', lineNo);
    const abs = path.resolve(base, line);
    yield { path: abs, rel: path.isAbsolute(line) ? path.basename(line) : path.normalize(line) };
  }
}

/** Every file named by `args` (directories walked, other files read as lists), in a deterministic order. */
export async function* listInputs(args: string[], opts: ListOptions = {}): AsyncGenerator<InputFile> {
  for (const arg of args) {
    let st;
    try {
      st = await fsp.stat(arg);
    } catch {
      throw new InputError(arg, 'no such file or directory');
    }
    if (st.isDirectory()) yield* walk(path.resolve(arg), path.resolve(arg), opts);
    else yield* readList(arg);
  }
}
