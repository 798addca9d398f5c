/**
 * `writeArrowDataset`: turn a dataset on disk into ViLT's Arrow files. Library entry point of `vlkit arrow`, also
 * used by `vlkit demo` (and meant for a job queue: one call = one dataset, all-or-nothing).
 *
 * 1. Plan: the adapter reads the annotations (streamed), groups them per image, resolves and checks every image
 *    path (escapes refused, missing → error or dropped, marked bad by the validate report → dropped). Nothing is
 *    written if anything is wrong with the input.
 * 2. Write: for each pass, images are read a few ahead of the writer and appended row by row to streaming Arrow
 *    writers under temporary names; memory holds at most one record batch per open file plus the read-ahead.
 * 3. Commit: only when every file is complete are they renamed to their final names, with the side files and the
 *    resolved configuration. A failure or a kill at any earlier moment leaves only temporary files (swept by the
 *    next run), never a final name on a partial file.
 */
import { promises as fsp, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { commitTmp, sweepStaleTmp, tmpPathFor } from '../../common/atomic.js';
import { writeResolvedConfig, type ConfigTree } from '../../common/config.js';
import { InputError, UsageError } from '../../common/errors.js';
import { Logger, Progress, type LogFormat } from '../../common/progress.js';
import { cc3m, sbu } from './datasets/web-captions.js';
import { coco, f30k } from './datasets/karpathy.js';
import { nlvr2 } from './datasets/nlvr2.js';
import { vg } from './datasets/vg.js';
import { vqav2 } from './datasets/vqav2.js';
import { ImageGate, readBadImages, type DropCounts } from './images.js';
import type { Adapter, DatasetPlan, PlannedRow } from './plan.js';
import { ArrowFileWriter } from './writer.js';

export const DATASETS: Record<string, Adapter> = { coco, f30k, vg, cc3m, sbu, vqav2, nlvr2 };
export type DatasetName = 'coco' | 'f30k' | 'vg' | 'cc3m' | 'sbu' | 'vqav2' | 'nlvr2';
export const DATASET_NAMES = Object.keys(DATASETS) as DatasetName[];

/** Defaults of the `arrow:` config section (sizes in rows and bytes). */
export const ARROW_DEFAULTS = {
  shard_size: 100_000,
  batch_bytes: 32 * 1024 * 1024,
  read_ahead: 8,
};

export interface ArrowDatasetOptions {
  dataset: DatasetName;
  root: string;
  out: string;
  /** Rows per CC3M/SBU shard file. */
  shardSize?: number;
  /** `vlkit validate` report: images it marks bad are dropped. */
  validReport?: string;
  /** Drop rows whose image is absent instead of stopping. */
  skipMissing?: boolean;
  /** VG root (annotations/question_answers.json, annotations/image_data.json, images/VG_100K*); vqav2 only. */
  vgQa?: string;
  /** Flush a record batch at about this many bytes. */
  batchBytes?: number;
  /** Images read ahead of the writer. */
  readAhead?: number;
  /** Progress and log lines on stderr; the library default is silence. */
  logFormat?: LogFormat;
  /** Resolved configuration written as `arrow-<dataset>.config.yaml` next to the outputs (default: these options). */
  config?: ConfigTree;
  /**
   * Write only the planned rows [start, end), counted across passes (one shard of `--shards`, pipeline/shards):
   * every output file is still written, with the rows of the range that belong to it (possibly none).
   */
  rows?: { start: number; end: number };
}

export interface ArrowFileInfo {
  name: string;
  path: string;
  rows: number;
  bytes: number;
}

export interface ArrowDatasetResult {
  dataset: DatasetName;
  out: string;
  files: ArrowFileInfo[];
  /** Side files (VQAv2 vocabulary) and the resolved configuration. */
  sideFiles: string[];
  dropped: { missing: DropCounts; invalid: DropCounts };
}

/** Read each row's images, up to `depth` rows ahead of the consumer, in row order. */
async function* withImages(rows: PlannedRow[], depth: number): AsyncGenerator<{ row: PlannedRow; bytes: Buffer[] }> {
  const load = (row: PlannedRow) => {
    const p = Promise.all(
      row.images.map((file) =>
        fsp.readFile(file).catch((err: NodeJS.ErrnoException) => {
          throw new InputError(file, `cannot read image (${err.code ?? err.message})`);
        }),
      ),
    );
    p.catch(() => {}); // awaited below in order; this only keeps an early rejection from counting as unhandled
    return p;
  };
  const queue: Promise<Buffer[]>[] = [];
  let next = 0;
  while (next < rows.length && queue.length < depth) queue.push(load(rows[next++]!));
  for (const row of rows) {
    const bytes = await queue.shift()!;
    if (next < rows.length) queue.push(load(rows[next++]!));
    yield { row, bytes };
  }
}

export async function writeArrowDataset(opts: ArrowDatasetOptions): Promise<ArrowDatasetResult> {
  const adapter = DATASETS[opts.dataset];
  if (!adapter) throw new UsageError(`unknown dataset '${opts.dataset}' (one of ${DATASET_NAMES.join(', ')})`);
  const shardSize = opts.shardSize ?? ARROW_DEFAULTS.shard_size;
  const batchBytes = opts.batchBytes ?? ARROW_DEFAULTS.batch_bytes;
  const readAhead = opts.readAhead ?? ARROW_DEFAULTS.read_ahead;
  if (!Number.isInteger(shardSize) || shardSize < 1) throw new UsageError(`shard size must be a positive integer (got ${shardSize})`);
  if (!(batchBytes >= 1)) throw new UsageError(`arrow.batch_bytes must be positive (got ${batchBytes})`);
  if (!Number.isInteger(readAhead) || readAhead < 1) throw new UsageError(`arrow.read_ahead must be a positive integer (got ${readAhead})`);
  if (opts.vgQa !== undefined && opts.dataset !== 'vqav2') throw new UsageError('--vg-qa only applies to vqav2');
  for (const [flag, dir] of [['--root', opts.root], ['--vg-qa', opts.vgQa]] as const) {
    if (dir === undefined) continue;
    let isDir = false;
    try {
      isDir = statSync(dir).isDirectory();
    } catch {
      // reported below
    }
    if (!isDir) throw new UsageError(`${flag} ${dir} is not a directory`);
  }

  const format = opts.logFormat ?? 'none';
  const log = new Logger(format);
  const out = path.resolve(opts.out);
  await fsp.mkdir(out, { recursive: true });
  const stale = await sweepStaleTmp(out);
  if (stale.length > 0) log.info(`removed ${stale.length} temporary files left by an interrupted run`, { removed: stale });

  const bad = opts.validReport ? await readBadImages(opts.validReport) : undefined;
  const gate = new ImageGate(opts.root, { skipMissing: opts.skipMissing ?? false, bad });
  const plan = await planDataset(opts, gate, log);
  if (gate.invalid.rows > 0) {
    log.warn(`dropped ${gate.invalid.rows} rows: ${gate.invalid.images} images marked bad in ${opts.validReport}`, { dropped_invalid: gate.invalid });
  }
  if (gate.missing.rows > 0) log.warn(`dropped ${gate.missing.rows} rows: ${gate.missing.images} images missing (--skip-missing)`, { dropped_missing: gate.missing });

  const total = plan.passes.reduce((n, p) => n + p.rows.length, 0);
  const range = { start: opts.rows?.start ?? 0, end: Math.min(opts.rows?.end ?? total, total) };
  const progress = new Progress({ format, unit: 'rows', task: `arrow ${opts.dataset}`, total: Math.max(0, range.end - range.start) });
  let passStart = 0; // index of the pass's first row across passes
  const writers: ArrowFileWriter[] = [];
  const sideTmps: [string, string][] = [];
  try {
    for (const pass of plan.passes) {
      const passWriters = pass.outputs.map((o) => new ArrowFileWriter(path.join(out, o.name), o.columns, { batchBytes }));
      writers.push(...passWriters);
      const route = pass.route ?? (() => [0]);
      // This pass's part of the row range (all of it unless `rows` is given).
      const lo = Math.min(Math.max(range.start - passStart, 0), pass.rows.length);
      const hi = Math.max(Math.min(range.end - passStart, pass.rows.length), lo);
      passStart += pass.rows.length;
      // Finish each file right after its last row, so finished shards hold no half-filled batch in memory.
      const lastRow = new Array<number>(passWriters.length).fill(-1);
      for (let i = lo; i < hi; i++) for (const k of route(i)) lastRow[k] = i;
      lastRow.forEach((last, k) => last < 0 && passWriters[k]!.finish());
      let i = lo;
      for await (const { row, bytes } of withImages(lo === 0 && hi === pass.rows.length ? pass.rows : pass.rows.slice(lo, hi), readAhead)) {
        const values = [...bytes, ...row.values];
        for (const k of route(i)) {
          passWriters[k]!.append(values);
          if (lastRow[k] === i) passWriters[k]!.finish();
        }
        i++;
        progress.tick();
      }
    }
    for (const side of plan.sideFiles ?? []) {
      const final = path.join(out, side.name);
      const tmp = tmpPathFor(final);
      sideTmps.push([tmp, final]);
      writeFileSync(tmp, side.content);
    }
  } catch (err) {
    progress.stop();
    for (const w of writers) w.abort();
    await Promise.all(sideTmps.map(([tmp]) => fsp.rm(tmp, { force: true })));
    throw err;
  }
  progress.stop();

  for (const w of writers) await commitTmp(w.tmpPath, w.finalPath);
  for (const [tmp, final] of sideTmps) await commitTmp(tmp, final);
  const configFile = path.join(out, `arrow-${opts.dataset}.config.yaml`);
  await writeResolvedConfig(configFile, opts.config ?? { arrow: optionsAsConfig(opts, { shardSize, batchBytes, readAhead }) });

  const files = writers.map((w) => ({ name: path.basename(w.finalPath), path: w.finalPath, rows: w.rows, bytes: statSync(w.finalPath).size }));
  for (const f of files) log.info(`wrote ${f.path}: ${f.rows} rows, ${f.bytes} bytes`, { file: f.path, rows: f.rows, bytes: f.bytes });
  return {
    dataset: opts.dataset,
    out,
    files,
    sideFiles: [...sideTmps.map(([, final]) => final), configFile],
    dropped: { missing: { ...gate.missing }, invalid: { ...gate.invalid } },
  };
}

/** Read the annotations and plan every output's rows, writing nothing (also how pipeline/shards counts rows). */
export async function planDataset(opts: ArrowDatasetOptions, gate: ImageGate, log: Logger): Promise<DatasetPlan> {
  const adapter = DATASETS[opts.dataset];
  if (!adapter) throw new UsageError(`unknown dataset '${opts.dataset}' (one of ${DATASET_NAMES.join(', ')})`);
  return adapter({ root: gate.root, gate, log, shardSize: opts.shardSize ?? ARROW_DEFAULTS.shard_size, vgQa: opts.vgQa ? path.resolve(opts.vgQa) : undefined });
}

/** The `arrow:` config section equivalent to a set of options. */
export function optionsAsConfig(
  opts: ArrowDatasetOptions,
  sizes: { shardSize: number; batchBytes: number; readAhead: number },
): ConfigTree {
  return {
    dataset: opts.dataset,
    root: path.resolve(opts.root),
    out: path.resolve(opts.out),
    shard_size: sizes.shardSize,
    valid_report: opts.validReport ? path.resolve(opts.validReport) : null,
    skip_missing: opts.skipMissing ?? false,
    vg_qa: opts.vgQa ? path.resolve(opts.vgQa) : null,
    batch_bytes: sizes.batchBytes,
    read_ahead: sizes.readAhead,
  };
}
