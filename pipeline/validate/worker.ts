/**
 * Piscina worker: one task = one file. Reads it, hashes it, classifies it (classify.ts) under a per-image deadline,
 * and writes the `--fix` copy of a good image.
 *
 * Why a worker pool when sharp is already asynchronous: isolation. Hashing and header parsing run here, off the
 * main thread that streams inputs and writes the report; a decode that runs past its deadline is answered
 * `timeout` from here (sharp decodes on libuv threads, so this thread's timer still fires) and libvips is told to
 * kill it; and if this thread itself ever stops answering, the main thread's AbortSignal makes piscina terminate
 * it (run.ts) — one bad file never stalls or crashes the run.
 */
import { closeSync, createReadStream, fstatSync, openSync, readSync } from 'node:fs';
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { classifyInto, initialFacts, type ImageFacts } from './classify.js';
import { writeFixed, type FixOptions } from './fix.js';
import { SNIFF_BYTES, sniff } from './sniff.js';

// Decoded pixels are never reused: libvips' operation cache would only hold memory. Parallelism comes from the
// number of files in flight, not from threads inside one decode.
sharp.cache(false);
sharp.concurrency(1);

export interface ValidateTask {
  path: string;
  /** Relative path, for the `--fix` copy. */
  rel: string;
  maxPixels: number;
  timeoutMs: number;
  /** Files bigger than this are not read into memory: hashed as a stream and reported `too-large`. */
  maxFileBytes: number;
  fix?: FixOptions;
}

export interface TaskResult {
  facts?: ImageFacts;
  /** The file cannot be read at all (missing, a directory, a FIFO, no permission): an input error, not a class. */
  inputError?: string;
  /** The image is good but its `--fix` copy could not be written. */
  fixError?: string;
}

async function hashStream(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Huge files: never in memory. Not an image signature → not-an-image; an image signature → too-large. */
async function classifyHuge(fd: number, path: string, size: number, maxFileBytes: number): Promise<ImageFacts> {
  const head = Buffer.alloc(SNIFF_BYTES);
  const bytesRead = readSync(fd, head, 0, SNIFF_BYTES, 0);
  const { format } = sniff(head.subarray(0, bytesRead));
  const base = { ok: false, format, width: null, height: null, channels: null, bytes: size, sha256: await hashStream(path) };
  return format === null
    ? { ...base, error: 'not-an-image', message: `no image signature (a ${size}-byte file)` }
    : { ...base, error: 'too-large', message: `file is ${size} bytes, over the limit of ${maxFileBytes} bytes read into memory` };
}

export default async function validateTask(task: ValidateTask): Promise<TaskResult> {
  const started = Date.now();
  // Synchronous reads: they block only this worker thread (never the main one), and on cached files they are
  // several times faster than FileHandle.readFile's chunked round trips through the libuv pool.
  let fd: number;
  try {
    fd = openSync(task.path, 'r');
  } catch (err) {
    return { inputError: `cannot open (${(err as NodeJS.ErrnoException).code ?? String(err)})` };
  }
  let bytes: Buffer;
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { inputError: 'not a regular file' };
    if (st.size > task.maxFileBytes) return { facts: await classifyHuge(fd, task.path, st.size, task.maxFileBytes) };
    bytes = Buffer.allocUnsafe(st.size);
    let off = 0;
    while (off < st.size) {
      const n = readSync(fd, bytes, off, st.size - off, off);
      if (n === 0) break; // the file shrank while we read it: validate what is there
      off += n;
    }
    bytes = bytes.subarray(0, off);
  } finally {
    closeSync(fd);
  }

  const facts = initialFacts(bytes);
  const remaining = Math.max(0, task.timeoutMs - (Date.now() - started));
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => (timer = setTimeout(resolve, remaining, 'timeout')));
  const outcome = await Promise.race([
    classifyInto(facts, bytes, { maxPixels: task.maxPixels, nativeTimeoutSeconds: Math.ceil(task.timeoutMs / 1000) }).then(() => 'done' as const),
    deadline,
  ]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    // The abandoned decode keeps mutating `facts`; report a snapshot of what was known at the deadline.
    return { facts: { ...facts, ok: false, error: 'timeout', message: `no result within ${task.timeoutMs} ms` } };
  }
  if (!facts.ok || !task.fix) return { facts };
  try {
    await writeFixed(bytes, task.rel, task.fix);
    return { facts };
  } catch (err) {
    return { facts, fixError: err instanceof Error ? err.message : String(err) };
  }
}
