/**
 * `validateCollection`: validate every image named by directories / list files into a JSON-lines report. The CLI
 * (`vlkit validate`), `vlkit demo` and the distributed queue call this; per-file classification is classify.ts.
 *
 * Streaming and bounded: inputs are pulled from listInputs one at a time, at most `workers × 4` files are in
 * flight, and results are written as they complete. Report order is INPUT order (deterministic: the same
 * collection always gives the same report bytes, whatever the thread timing): results that finish early wait in a
 * reorder window of `inFlight × 8` lines; a slow file (bounded by the timeout) holds later lines back, and dispatch
 * pauses while the window is full, so memory stays bounded.
 *
 * Resume: files already in the report (and repeated inputs) are skipped; the rest are appended in input order.
 */
import { availableParallelism } from 'node:os';
import { createReadStream, existsSync, promises as fsp } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { Piscina } from 'piscina';
import { InputError, UsageError } from '../../common/errors.js';
import { IMAGE_EXTENSIONS, listInputs } from '../../common/inputs.js';
import { Logger, Progress, type LogFormat } from '../../common/progress.js';
import { PIL_MAX_PIXELS, type ImageFacts } from './classify.js';
import { readReport, ReportWriter, serializeLine, type ReportLine } from './report.js';
import { SNIFF_BYTES, sniff } from './sniff.js';
import { SummaryBuilder, type ValidateSummary } from './summary.js';
import type { TaskResult, ValidateTask } from './worker.js';

export interface ValidateOptions {
  /** Directories (walked, image extensions only) and list files (one path per line, taken as given). */
  inputs: string[];
  /** The JSON-lines report to write (or continue, with `resume`). */
  report: string;
  /** Worker threads; 0 or undefined: one per core. */
  workers?: number;
  /** Pixel limit per image (width × height); default PIL's 178956970. */
  maxPixels?: number;
  /** Per-image deadline (read + hash + decode), ms. */
  timeoutMs?: number;
  /** Files larger than this are not read into memory (hashed as a stream, reported `too-large`). */
  maxFileBytes?: number;
  /** Write a normalised copy of each good image under `dir` (same relative path). */
  fix?: { dir: string; jpegQuality?: number };
  /** Continue an existing report (skip files already in it). Without it an existing report is refused... */
  resume?: boolean;
  /** ...unless `overwrite` says to start it over. */
  overwrite?: boolean;
  /** Progress/log lines on stderr. */
  logFormat?: LogFormat;
}

export const VALIDATE_DEFAULTS = {
  workers: 0,
  max_pixels: PIL_MAX_PIXELS,
  timeout_ms: 30_000,
  max_file_bytes: 1024 * 1024 * 1024,
  jpeg_quality: 95,
};

/** Tasks per worker: decodes run on libuv threads, so one worker thread keeps several in flight while it reads and hashes. */
const TASKS_PER_WORKER = 4;
/** How long past its own deadline a worker may stay silent before the main thread terminates it. */
const BACKSTOP_GRACE_MS = 5_000;

/** Facts for a file whose worker never answered: computed here, from a stream (the file may be huge). */
async function factsWithoutWorker(file: string, message: string): Promise<ImageFacts> {
  const h = createHash('sha256');
  let bytes = 0;
  let head = Buffer.alloc(0);
  for await (const chunk of createReadStream(file)) {
    const c = chunk as Buffer;
    if (head.length < SNIFF_BYTES) head = Buffer.concat([head, c.subarray(0, SNIFF_BYTES - head.length)]);
    h.update(c);
    bytes += c.length;
  }
  return { ok: false, error: 'timeout', message, format: sniff(head).format, width: null, height: null, channels: null, bytes, sha256: h.digest('hex') };
}

/** An existing report is only continued (`resume`) or replaced (`overwrite`) when asked: never clobbered silently. */
export function assertReportUsable(opts: Pick<ValidateOptions, 'report' | 'resume' | 'overwrite'>): void {
  if (!opts.resume && !opts.overwrite && existsSync(opts.report)) {
    throw new UsageError(`report ${opts.report} already exists: pass --resume to continue it or --overwrite to start over`);
  }
}

export async function validateCollection(opts: ValidateOptions): Promise<ValidateSummary> {
  const workers = opts.workers || availableParallelism();
  const timeoutMs = opts.timeoutMs ?? VALIDATE_DEFAULTS.timeout_ms;
  const logger = new Logger(opts.logFormat ?? 'none');
  const reportPath = path.resolve(opts.report);
  if (opts.inputs.length === 0) throw new UsageError('no inputs: name at least one directory or list file');
  // Check every input up front: a typo in the third argument should not surface after two folders were validated.
  for (const input of opts.inputs) if (!existsSync(input)) throw new InputError(input, 'no such file or directory');
  const summary = new SummaryBuilder();
  // Every path already reported (earlier run or earlier in this one): a file is reported exactly once.
  const seen = new Set<string>();

  let validBytes = 0;
  if (existsSync(reportPath)) {
    if (opts.resume) {
      validBytes = await readReport(reportPath, (line) => {
        seen.add(line.path);
        summary.add(line);
        summary.resumed++;
      });
      logger.info(`resuming: ${summary.resumed} file(s) already in ${opts.report}`, { resumed: summary.resumed });
    } else {
      assertReportUsable(opts);
    }
  }
  await fsp.mkdir(path.dirname(reportPath), { recursive: true });
  const writer = await ReportWriter.open(reportPath, validBytes);

  const pool = new Piscina<ValidateTask, TaskResult>({
    filename: new URL('./worker.js', import.meta.url).href,
    minThreads: workers,
    maxThreads: workers,
    concurrentTasksPerWorker: TASKS_PER_WORKER,
    // Piscina's default parks an idle worker in Atomics.wait, which freezes its event loop: a decode finishing on a
    // libuv thread could not deliver its result until the next task arrived (measured: 2.5x slower).
    atomics: 'disabled',
  });
  const maxInFlight = workers * TASKS_PER_WORKER;
  const window = maxInFlight * 8;
  const progress = new Progress({ format: opts.logFormat ?? 'none', unit: 'images', task: 'validate' });

  const done = new Map<number, ReportLine>(); // seq → result, waiting for its turn to be written
  let nextSeq = 0;
  let nextWrite = 0;
  let inFlight = 0;
  let stop: InputError | undefined;
  let stopSeq = Infinity;
  let writing: Promise<void> = Promise.resolve();
  let wake: (() => void) | undefined;

  const flush = (): void => {
    let text = '';
    while (nextWrite < stopSeq && done.has(nextWrite)) {
      const line = done.get(nextWrite)!;
      done.delete(nextWrite++);
      // Summarised in report order too, so duplicate groups list their paths in input order.
      summary.add(line);
      text += serializeLine(line.path, line);
    }
    if (text) writing = writing.then(() => writer.write(text));
  };

  const runTask = async (task: ValidateTask): Promise<TaskResult> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await pool.run(task, { signal: AbortSignal.timeout(timeoutMs + BACKSTOP_GRACE_MS) });
      } catch (err) {
        const e = err as Error;
        if (e.name === 'AbortError') {
          return { facts: await factsWithoutWorker(task.path, `worker unresponsive ${timeoutMs + BACKSTOP_GRACE_MS} ms: terminated`) };
        }
        // A task sharing a worker that was just terminated fails through no fault of its own: run it once more.
        if (attempt >= 2) throw err;
      }
    }
  };

  const dispatch = (seq: number, file: { path: string; rel: string }): void => {
    inFlight++;
    const task: ValidateTask = {
      path: file.path,
      rel: file.rel,
      maxPixels: opts.maxPixels ?? VALIDATE_DEFAULTS.max_pixels,
      timeoutMs,
      maxFileBytes: opts.maxFileBytes ?? VALIDATE_DEFAULTS.max_file_bytes,
      fix: opts.fix ? { dir: opts.fix.dir, jpegQuality: opts.fix.jpegQuality ?? VALIDATE_DEFAULTS.jpeg_quality } : undefined,
    };
    runTask(task)
      .then(
        (r) => {
          if (r.inputError !== undefined) {
            if (seq < stopSeq) {
              stop = new InputError(file.path, r.inputError);
              stopSeq = seq;
            }
            return;
          }
          if (r.fixError !== undefined) {
            summary.fixFailed++;
            logger.warn(`--fix: ${file.path}: ${r.fixError}`, { path: file.path });
          }
          done.set(seq, { path: file.path, ...r.facts! });
          progress.tick();
        },
        (err: unknown) => {
          const message = `worker failed: ${err instanceof Error ? err.message : String(err)}`;
          logger.warn(`${file.path}: ${message}`, { path: file.path });
          return factsWithoutWorker(file.path, message).then((f) => {
            done.set(seq, { path: file.path, ...f, error: 'corrupt' });
            progress.tick();
          });
        },
      )
      .catch((err: unknown) => {
        stop ??= new InputError(file.path, `cannot read (${err instanceof Error ? err.message : String(err)})`);
        stopSeq = Math.min(stopSeq, seq);
      })
      .finally(() => {
        inFlight--;
        flush();
        wake?.();
      });
  };

  const until = async (cond: () => boolean): Promise<void> => {
    while (!cond()) await new Promise<void>((r) => (wake = r));
  };

  try {
    for await (const file of listInputs(opts.inputs, { extensions: IMAGE_EXTENSIONS })) {
      if (stop) break;
      if (seen.has(file.path)) continue;
      seen.add(file.path);
      await until(() => inFlight < maxInFlight && nextSeq - nextWrite < window);
      if (stop) break;
      dispatch(nextSeq++, file);
    }
  } finally {
    await until(() => inFlight === 0);
    flush();
    await writing;
    await writer.close();
    progress.stop();
    await pool.destroy();
  }
  if (stop) throw stop;
  return summary.build(opts.report);
}
